"""Pooling: MaxPool1d/2d/3d, AvgPool1d/2d/3d, and the adaptive pooling types
AdaptiveAvgPool1d/2d/3d and AdaptiveMaxPool1d/2d/3d, whose rules are in adaptive_pool.py
(LPPool1d/2d/3d, an average pooling of powers, are in lp_pool.py).

No parameters and no MACs (torch.utils.flop_counter counts no pooling). Every
rule here was checked against torch 2.13 on CPU; PyTorch makes all of these
checks in forward, the ones that do not depend on the input are in ``check()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from ..errors import ShapeError
from ..receptive import ReceptiveField, window
from ..shape import AXES, Shape, fmt_shape, pool_out, prod
from .adaptive_pool import AdaptiveAvgPoolNd, AdaptiveMaxPoolNd
from .arguments import (
    Arg,
    BadValue,
    Converter,
    Repeated,
    converter_form,
    is_int,
    to_bool,
    to_opt_int,
)
from .base import Example, Layer, register
from .checks import (
    RETURN_INDICES_NOTE,
    UNCOVERED,
    check_nonempty,
    show_values,
    spatial_example,
    spatial_input,
    spatial_origin,
)
from .pool_kernels import window_reduce, window_temporaries
from .steps import Step, ceiled, floored, signed


# ----------------------------------------------------------------- converters
def to_window(nd: int, optional: bool = False) -> Converter[Any]:
    """kernel_size, stride, padding, dilation: an int, or 1 or ``nd`` ints (PyTorch repeats a single one).

    With ``optional`` (stride), None and an empty list mean "the kernel size", as in PyTorch.
    """
    form = "int" if nd == 1 else f"int or ({', '.join(['int'] * nd)})"
    what = "an integer" if nd == 1 else f"an integer or a list of {nd} integers"
    if optional:
        form += " or None"
        what += " (or None for kernel_size)"

    @converter_form(form)
    def convert(v: Any) -> Any:
        if optional and (v is None or (isinstance(v, (list, tuple)) and len(v) == 0)):
            return None
        if is_int(v):
            return (int(v),) * nd
        if isinstance(v, (list, tuple)) and len(v) in (1, nd) and all(is_int(i) for i in v):
            values = tuple(int(i) for i in v)
            return Repeated(values * nd) if len(values) == 1 else values
        raise BadValue(what)

    return convert


@converter_form("int")
def to_single_window(v: Any) -> tuple[int, ...]:
    """LPPool1d's kernel_size: an integer (torch multiplies the result by it, and fails at
    forward on a tuple, but for norm_type ±inf, a max pooling: :meth:`LPPoolNd.check`)."""
    if is_int(v):
        return (int(v),)
    if isinstance(v, (list, tuple)) and len(v) == 1 and is_int(v[0]):
        return Repeated((int(v[0]),))
    raise BadValue("an integer (LPPool1d multiplies by it; torch fails on a tuple)")


def _check_sizes(
    name: str, values: tuple[int, ...], minimum: int, what: str, hint: str | None = None
) -> None:
    if any(v < minimum for v in values):
        raise ShapeError(
            f"{name} must be {what}, got {show_values(values)}",
            argument=name,
            expected=what,
            got=values if len(values) > 1 else values[0],
            hint=hint,
        )


class _Pool(Layer):
    """Shared by MaxPoolNd and AvgPoolNd; ``nd`` is set per registered class."""

    nd: ClassVar[int] = 2
    is_max: ClassVar[bool] = True

    kernel_size: tuple[int, ...]
    stride: tuple[int, ...] | None
    padding: tuple[int, ...]
    ceil_mode: bool

    def strides(self) -> tuple[int, ...]:
        return self.kernel_size if self.stride is None else self.stride

    def resolved_args(self, x: Shape | None = None) -> dict[str, Any]:
        """A stride left out is the kernel size (torch's module stores it so)."""
        return {**super().resolved_args(x), "stride": self.strides()}

    def dilations(self) -> tuple[int, ...]:
        return (1,) * self.nd

    def check(self) -> None:
        _check_sizes(
            "kernel_size",
            self.kernel_size,
            1,
            "positive",
            "a pooling window needs at least 1 element",
        )
        if self.stride is not None:
            _check_sizes("stride", self.stride, 1, "positive", "omit stride to use kernel_size")
        if self.is_max:
            _check_sizes(
                "dilation", self.dilations(), 1, "positive", "dilation 1 is a plain window"
            )
        _check_sizes(
            "padding",
            self.padding,
            0,
            "non-negative",
            "padding adds that many elements on each side",
        )
        for axis, k, p in zip(AXES[self.nd], self.kernel_size, self.padding):
            if p > k // 2:
                dilated = self.is_max and any(d > 1 for d in self.dilations())
                raise ShapeError(
                    f"padding must be at most half the kernel size: {axis} has padding {p} "
                    f"with kernel_size {k}"
                    + (
                        " (the limit uses the undilated kernel_size, even with dilation)"
                        if dilated
                        else ""
                    ),
                    argument="padding",
                    expected=f"at most {k // 2}",
                    got=p,
                    hint=f"use padding {k // 2} or less, or a kernel_size of at least {2 * p}",
                )

    def out_shape(self, x: Shape) -> Shape:
        cdim, spatial = self._spatial(x)
        axes = AXES[self.nd]
        window = list(zip(self.kernel_size, self.strides(), self.padding, self.dilations()))
        out = tuple(
            pool_out(n, k, s, p, d, self.ceil_mode) for n, (k, s, p, d) in zip(spatial, window)
        )
        for i, (axis, n, o, (k, s, p, d)) in enumerate(zip(axes, spatial, out, window)):
            if o < 1:
                span = d * (k - 1) + 1
                # the smallest input giving one window (the size only grows with the input,
                # and the window's own span always gives one): a bisection
                lo, need = n + 1, span
                while lo < need:
                    mid = (lo + need) // 2
                    if pool_out(mid, k, s, p, d, self.ceil_mode) >= 1:
                        need = mid
                    else:
                        lo = mid + 1
                raise ShapeError(
                    f"output size is too small: input {fmt_shape(spatial)} gives {fmt_shape(out)}; "
                    f"on {axis} the {'dilated ' if d > 1 else ''}window spans {span}, the padded input "
                    f"is {n} + 2·{p} = {n + 2 * p}",
                    argument="kernel_size",
                    expected=f"{axis} of at least {need}",
                    got=n,
                    dim=cdim + 1 + i,
                    hint="use a larger input, a smaller kernel_size, more padding or ceil_mode=True",
                )
        return x[: cdim + 1] + out

    def _spatial(self, x: Shape) -> tuple[int, Shape]:
        """Check the input's rank and sizes; return (channel dim, spatial sizes)."""
        cdim, spatial = spatial_input(x, self.nd)
        check_nonempty(x, cdim, cdim, self.nd)
        self._check_input(cdim, spatial)
        return cdim, spatial

    def receptive_field(self, x: Shape, y: Shape, field: ReceptiveField) -> ReceptiveField | None:
        return window(field, self.kernel_size, self.strides(), self.dilations(), self.padding)

    def _check_input(self, cdim: int, spatial: Shape) -> None:
        """Extra input rules (AvgPool3d)."""

    # -- NumPy forward pass ------------------------------------------------
    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        """Max (−inf padding) or sum (zero padding) of every window: separable, one axis at a
        time, one in-place ufunc per kernel offset and axis over strided views; no padded
        copy, and the per-axis intermediates are chunked over (N, C) to fit ``budget``.
        MaxPool with return_indices=True returns (values, indices) in torch; nn.Sequential
        would pass that tuple on, which convcalc reports as a note: here only the values."""
        y_shape = self.out_shape(tuple(x.shape))
        nd = self.nd
        y = window_reduce(
            x,
            y_shape[len(y_shape) - nd :],
            self.kernel_size,
            self.strides(),
            self.padding,
            self.dilations(),
            self.is_max,
            budget,
        )
        if not self.is_max:
            self._divide(y, tuple(x.shape[x.ndim - nd :]))
        return y

    def _divide(self, y: Any, spatial: Shape) -> None:
        """AvgPool: divide the window sums in place."""

    def window(self, x: Any, y: Shape) -> int:
        return prod(self.kernel_size)

    def workspace(self, x: Shape, y: Shape) -> int:
        nd = self.nd
        return prod(x[: len(x) - nd]) * window_temporaries(x[len(x) - nd :], y[len(y) - nd :])

    def notes(self, x: Shape, y: Shape) -> list[str]:
        spatial = x[len(x) - self.nd :]
        out = y[len(y) - self.nd :]
        notes = []
        for axis, n, o, k, s, p, d in zip(
            AXES[self.nd],
            spatial,
            out,
            self.kernel_size,
            self.strides(),
            self.padding,
            self.dilations(),
        ):
            span = d * (k - 1) + 1
            exact = (n + 2 * p - span) / s + 1
            floor = pool_out(n, k, s, p, d, False)
            last_end = (o - 1) * s - p + span  # one past the last window's last element
            lost = n - last_end
            if self.ceil_mode and o > floor:
                past = sum(1 for j in range(k) if (o - 1) * s - p + j * d >= n)
                notes.append(
                    f"{axis}: {exact:g} → {o} with ceil_mode, the last window is partial "
                    f"({past} of its {k} positions past the end of the input)"
                )
            elif lost > 0:
                text = f"{axis}: {exact:g} → {o}, last {lost} {UNCOVERED}"
                if self.ceil_mode:
                    text += " (ceil_mode adds no window: it would start in the right padding)"
                notes.append(text)
            elif self.ceil_mode and exact != int(exact):
                notes.append(
                    f"{axis}: {exact:g} → {o}, ceil_mode adds no window: it would start in the right padding"
                )
        return notes

    def origin(self, x: Shape, y: Shape, dim: int) -> str | None:
        return spatial_origin(self, x, y, dim)

    def explain(self, x: Shape) -> Iterator[Step]:
        cdim, spatial = self._spatial(x)
        window = zip(self.kernel_size, self.strides(), self.padding, self.dilations())
        for i, (axis, n, (k, s, p, d)) in enumerate(zip(AXES[self.nd], spatial, window)):
            o = pool_out(n, k, s, p, d, self.ceil_mode)
            if o < 1:
                self.out_shape(x)  # raises: the window does not fit
            if self.is_max:
                reach = "dilation·(kernel−1) − 1"
                terms = [("", n), ("+", 2 * p), ("−", d * (k - 1)), ("−", 1)]
            else:
                reach, terms = "kernel", [("", n), ("+", 2 * p), ("−", k)]
            numerator = n + 2 * p - d * (k - 1) - 1
            bracket = ("⌈", "⌉") if self.ceil_mode else ("⌊", "⌋")
            formula = f"{bracket[0]}({axis}_in + 2·padding − {reach}) / stride{bracket[1]} + 1"
            values = (f"{bracket[0]}({signed(terms)}) / {s}{bracket[1]} + 1",)
            dim = cdim + 1 + i
            if not self.ceil_mode:
                yield Step(f"{axis}_out", formula, values + floored(numerator, s, 1), o, dim=dim)
                continue
            up = -(-numerator // s) + 1
            yield Step(f"{axis}_out with ceil_mode", formula, values + ceiled(numerator, s, 1), up)
            start, limit = (up - 1) * s, f"{axis}_in + padding = {n + p}"
            kept = start < n + p
            where = f"< {limit}: kept" if kept else f"≥ {limit}, in the right padding: dropped"
            note = f"the last window starts at ({up} − 1)·{s} = {start}, {where}"
            yield Step(f"{axis}_out", "", () if kept else (f"{up} − 1",), o, dim=dim, note=note)


class MaxPoolNd(_Pool):
    @classmethod
    def example(cls) -> Example:
        return (3,), {"stride": 2, "padding": 1}, spatial_example(cls.nd)

    summary = "N-d max pooling: out = (in + 2p - d(k-1) - 1 (+ s-1 with ceil_mode)) // s + 1; stride defaults to kernel_size"
    dilation: tuple[int, ...]
    return_indices: bool

    @classmethod
    def _args(cls, nd: int) -> tuple[Arg, ...]:
        return (
            Arg("kernel_size", to_window(nd)),
            Arg("stride", to_window(nd, optional=True), None),
            Arg("padding", to_window(nd), 0),
            Arg("dilation", to_window(nd), 1),
            Arg("return_indices", to_bool, False),
            Arg("ceil_mode", to_bool, False),
        )

    def dilations(self) -> tuple[int, ...]:
        return self.dilation

    def notes(self, x: Shape, y: Shape) -> list[str]:
        return super().notes(x, y) + ([RETURN_INDICES_NOTE] if self.return_indices else [])


class AvgPoolNd(_Pool):
    @classmethod
    def example(cls) -> Example:
        return (2,), {}, spatial_example(cls.nd)

    summary = "N-d average pooling: out = (in + 2p - k (+ s-1 with ceil_mode)) // s + 1; stride defaults to kernel_size"
    is_max = False
    count_include_pad: bool
    divisor_override: int | None = None

    @classmethod
    def _args(cls, nd: int) -> tuple[Arg, ...]:
        args: tuple[Arg, ...] = (
            Arg("kernel_size", to_window(nd)),
            Arg("stride", to_window(nd, optional=True), None),
            Arg("padding", to_window(nd), 0),
            Arg("ceil_mode", to_bool, False),
            Arg("count_include_pad", to_bool, True),
        )
        if nd > 1:  # AvgPool1d has no divisor_override
            args += (Arg("divisor_override", to_opt_int, None),)
        return args

    def check(self) -> None:
        if self.divisor_override == 0:
            raise ShapeError(
                "divisor_override must not be zero",
                argument="divisor_override",
                expected="a non-zero integer or None",
                got=0,
                hint="omit divisor_override to divide by the window size",
            )
        super().check()

    def _divide(self, y: Any, spatial: Shape) -> None:
        """Divide by divisor_override, or by the window counted as torch does (avg_pool*d
        CPU kernels): per axis, with start = o·s − p, the window clipped to [start, in + p)
        with count_include_pad, to [0, in) without; the divisor is the product over axes."""
        import numpy as np

        if self.divisor_override is not None:
            y /= y.dtype.type(self.divisor_override)
            return
        nd = self.nd
        out = y.shape[y.ndim - nd :]
        divisor: Any = np.ones((1,) * nd, dtype=np.int64)
        strides = self.strides()
        for axis in range(nd):
            n, o, k, s, p = (
                spatial[axis],
                out[axis],
                self.kernel_size[axis],
                strides[axis],
                self.padding[axis],
            )
            start = np.arange(o, dtype=np.int64) * s - p
            if self.count_include_pad:
                count = np.minimum(start + k, n + p) - start
            else:
                count = np.minimum(start + k, n) - np.maximum(start, 0)
            divisor = divisor * count.reshape((1,) * axis + (o,) + (1,) * (nd - axis - 1))
        if divisor.size and (divisor == divisor.flat[0]).all():
            y /= y.dtype.type(divisor.flat[0])
        else:
            y /= divisor.astype(y.dtype)

    def workspace(self, x: Shape, y: Shape) -> int:
        # the separable pass's intermediates, plus the divisor array (one entry per output
        # position) when the windows differ
        return super().workspace(x, y) + prod(y[len(y) - self.nd :])

    def _spatial(self, x: Shape) -> tuple[int, Shape]:
        """Check the input's rank and sizes; return (channel dim, spatial sizes)."""
        cdim, spatial = spatial_input(x, self.nd)
        check_nonempty(x, cdim, cdim, self.nd)
        self._check_input(cdim, spatial)
        return cdim, spatial

    def _check_input(self, cdim: int, spatial: Shape) -> None:
        if self.nd != 3:
            return
        # avg_pool3d (only) wants the unpadded input to be at least the kernel on every axis
        for i, (axis, n, k) in enumerate(zip(AXES[3], spatial, self.kernel_size)):
            if n < k:
                raise ShapeError(
                    f"input smaller than kernel_size: {axis} is {n}, kernel_size {k} "
                    "(AvgPool3d requires this even with padding or ceil_mode)",
                    argument="kernel_size",
                    expected=f"{axis} of at least {k}",
                    got=n,
                    dim=cdim + 1 + i,
                    hint=f"use a larger input or kernel_size {n} or less on {axis}",
                )


@register
class MaxPool1d(MaxPoolNd):
    nd = 1
    ARGS = MaxPoolNd._args(1)


@register
class AvgPool1d(AvgPoolNd):
    nd = 1
    ARGS = AvgPoolNd._args(1)


@register
class AdaptiveAvgPool1d(AdaptiveAvgPoolNd):
    nd = 1
    ARGS = AdaptiveAvgPoolNd._args(1)
    empty_channels_ok = True
    global_mean = True


@register
class AdaptiveMaxPool1d(AdaptiveMaxPoolNd):
    nd = 1
    ARGS = AdaptiveMaxPoolNd._args(1)


@register
class MaxPool2d(MaxPoolNd):
    nd = 2
    ARGS = MaxPoolNd._args(2)


@register
class AvgPool2d(AvgPoolNd):
    nd = 2
    ARGS = AvgPoolNd._args(2)


@register
class AdaptiveAvgPool2d(AdaptiveAvgPoolNd):
    nd = 2
    ARGS = AdaptiveAvgPoolNd._args(2)
    empty_channels_ok = True
    global_mean = True


@register
class AdaptiveMaxPool2d(AdaptiveMaxPoolNd):
    nd = 2
    ARGS = AdaptiveMaxPoolNd._args(2)


@register
class MaxPool3d(MaxPoolNd):
    nd = 3
    ARGS = MaxPoolNd._args(3)


@register
class AvgPool3d(AvgPoolNd):
    nd = 3
    ARGS = AvgPoolNd._args(3)


@register
class AdaptiveAvgPool3d(AdaptiveAvgPoolNd):
    nd = 3
    ARGS = AdaptiveAvgPoolNd._args(3)
    empty_channels_ok = False
    global_mean = True


@register
class AdaptiveMaxPool3d(AdaptiveMaxPoolNd):
    nd = 3
    ARGS = AdaptiveMaxPoolNd._args(3)
