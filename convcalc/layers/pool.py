"""Pooling: MaxPool1d/2d/3d, AvgPool1d/2d/3d, AdaptiveAvgPool1d/2d/3d, AdaptiveMaxPool1d/2d/3d.

No parameters and no MACs (torch.utils.flop_counter counts no pooling). Every
rule here was checked against torch 2.13 on CPU; PyTorch makes all of these
checks in forward, the ones that do not depend on the input are in ``check()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from ..errors import ShapeError
from ..shape import AXES, Shape, adaptive_bins, fmt_shape, pool_out
from .base import (
    spatial_example,
    REQUIRED,
    Arg,
    BadValue,
    Converter,
    Layer,
    _is_int,
    make_nd,
    spatial_input,
    to_bool,
    to_opt_int,
)


# ----------------------------------------------------------------- converters
def to_window(nd: int, optional: bool = False) -> Converter:
    """kernel_size, stride, padding, dilation: an int, or 1 or ``nd`` ints (PyTorch repeats a single one).

    With ``optional`` (stride), None and an empty list mean "the kernel size", as in PyTorch.
    """
    form = "int" if nd == 1 else f"int or ({', '.join(['int'] * nd)})"
    what = "an integer" if nd == 1 else f"an integer or a list of {nd} integers"
    if optional:
        form += " or None"
        what += " (or None for kernel_size)"

    def convert(v: Any) -> Any:
        if optional and (v is None or (isinstance(v, (list, tuple)) and len(v) == 0)):
            return None
        if _is_int(v):
            return (int(v),) * nd
        if isinstance(v, (list, tuple)) and len(v) in (1, nd) and all(_is_int(i) for i in v):
            values = tuple(int(i) for i in v)
            return values * nd if len(values) == 1 else values
        raise BadValue(what)

    convert.form = form  # type: ignore[attr-defined]
    return convert


def to_output_size(nd: int) -> Converter:
    """output_size of adaptive pooling: an int, or ``nd`` entries (int, or None = keep that size for nd > 1).

    An int stays an int: PyTorch treats ``2`` and ``(2, 2)`` differently for low-rank inputs.
    """
    if nd == 1:
        form, what = "int", "an integer"
    else:
        form = f"int or ({', '.join(['int or None'] * nd)})"
        what = f"an integer or a list of {nd} integers or None (None keeps that size)"

    def convert(v: Any) -> Any:
        if _is_int(v):
            return int(v)
        if (
            isinstance(v, (list, tuple))
            and len(v) == nd
            and all(_is_int(i) or (nd > 1 and i is None) for i in v)
        ):
            return tuple(None if i is None else int(i) for i in v)
        raise BadValue(what)

    convert.form = form  # type: ignore[attr-defined]
    return convert


# -------------------------------------------------------------------- helpers
def _show(values: Sequence[Any]) -> str:
    return str(values[0]) if len(set(values)) == 1 else "(" + ", ".join(map(str, values)) + ")"


def _check_sizes(
    name: str, values: tuple[int, ...], minimum: int, what: str, hint: str | None = None
) -> None:
    if any(v < minimum for v in values):
        raise ShapeError(
            f"{name} must be {what}, got {_show(values)}",
            argument=name,
            expected=what,
            got=values if len(values) > 1 else values[0],
            hint=hint,
        )


def _check_nonempty(x: Shape, first: int, cdim: int, nd: int) -> None:
    """Sizes from ``x[first]`` on must be positive (PyTorch: only the batch size may be 0)."""
    for i in range(first, len(x)):
        if x[i] == 0:
            axis = "C" if i == cdim else AXES[nd][i - cdim - 1]
            raise ShapeError(
                f"expects non-zero sizes except the batch size, receives {fmt_shape(x)} with {axis} = 0",
                argument="input",
                expected="a size of at least 1",
                got=0,
                dim=i,
                hint="a layer before it produces an empty dimension",
            )


# ------------------------------------------------------- max and average pooling
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
        cdim, spatial = spatial_input(x, self.nd)
        _check_nonempty(x, cdim, cdim, self.nd)
        self._check_input(cdim, spatial)
        axes = AXES[self.nd]
        window = list(zip(self.kernel_size, self.strides(), self.padding, self.dilations()))
        out = tuple(
            pool_out(n, k, s, p, d, self.ceil_mode) for n, (k, s, p, d) in zip(spatial, window)
        )
        for i, (axis, n, o, (k, s, p, d)) in enumerate(zip(axes, spatial, out, window)):
            if o < 1:
                span = d * (k - 1) + 1
                need = next(
                    m
                    for m in range(n + 1, span + 1)
                    if pool_out(m, k, s, p, d, self.ceil_mode) >= 1
                )
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

    def _check_input(self, cdim: int, spatial: Shape) -> None:
        """Extra input rules (AvgPool3d)."""

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
                text = f"{axis}: {exact:g} → {o}, last {lost} not covered"
                if self.ceil_mode:
                    text += " (ceil_mode adds no window: it would start in the right padding)"
                notes.append(text)
            elif self.ceil_mode and exact != int(exact):
                notes.append(
                    f"{axis}: {exact:g} → {o}, ceil_mode adds no window: it would start in the right padding"
                )
        return notes

    def origin(self, x: Shape, y: Shape, dim: int) -> str | None:
        first = len(y) - self.nd
        if dim < first:
            return None
        return f"{AXES[self.nd][dim - first]} {x[dim]} → {y[dim]} by {self.call_string()}"


class MaxPoolNd(_Pool):
    @classmethod
    def example(cls):  # type: ignore[no-untyped-def]
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
        notes = super().notes(x, y)
        if self.return_indices:
            notes.append(
                "return_indices=True returns (output, indices): in nn.Sequential the next layer receives a tuple"
            )
        return notes


class AvgPoolNd(_Pool):
    @classmethod
    def example(cls):  # type: ignore[no-untyped-def]
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


# --------------------------------------------------------------- adaptive pooling
class _AdaptivePool(Layer):
    """Shared by the adaptive pooling types; ``nd`` is set per registered class."""

    nd: ClassVar[int] = 2
    #: AdaptiveAvgPool1d/2d accept a batched input with 0 channels; the others do not
    empty_channels_ok: ClassVar[bool] = False
    #: AdaptiveAvgPool computes an output of all 1s as a mean over the last nd dims: empty
    #: inputs are fine, and for 2d/3d any rank of at least nd works
    global_mean: ClassVar[bool] = False

    output_size: int | tuple[int | None, ...]

    def sizes(self) -> tuple[int | None, ...]:
        o = self.output_size
        return (o,) * self.nd if isinstance(o, int) else o

    def check(self) -> None:
        given = [o for o in self.sizes() if o is not None]
        if any(o < 0 for o in given):
            raise ShapeError(
                f"output_size must be non-negative, got {_show(self.sizes())}",
                argument="output_size",
                expected="non-negative sizes (or None to keep a size)",
                got=self.output_size,
                hint="give the output size you want per axis; None keeps that axis",
            )

    def _resolved(self, spatial: Shape) -> tuple[int, ...]:
        return tuple(n if o is None else o for o, n in zip(self.sizes(), spatial))

    def out_shape(self, x: Shape) -> Shape:
        nd = self.nd
        tuple_form = not isinstance(self.output_size, int)
        # the 1×1 fast path (mean over the last nd dims) takes any rank of at least nd
        # (nd + 1 when output_size is a tuple: torch's _list_with_default wants it)
        if self.global_mean and len(x) >= nd + (1 if tuple_form else 0):
            if all(o == 1 for o in self._resolved(x[len(x) - nd :])):
                if nd == 1:  # adaptive_avg_pool1d checks the rank first
                    spatial_input(x, nd)
                return x[: len(x) - nd] + (1,) * nd
        cdim, spatial = spatial_input(x, nd)
        first = cdim + 1 if (cdim == 0 or self.empty_channels_ok) else cdim
        _check_nonempty(x, first, cdim, nd)
        return x[: cdim + 1] + self._resolved(spatial)

    def notes(self, x: Shape, y: Shape) -> list[str]:
        notes = []
        for axis, n, o in zip(AXES[self.nd], x[len(x) - self.nd :], y[len(y) - self.nd :]):
            if o == 0:
                notes.append(f"{axis}: output size 0, the output is empty")
                continue
            if n % o == 0:
                continue
            lengths = [b - a for a, b in adaptive_bins(n, o)]
            lo, hi = min(lengths), max(lengths)
            size = f"{lo}" if lo == hi else f"{lo}–{hi}"
            text = f"{axis}: {n} → {o}"
            if o > n:
                text += " (out > in: input elements repeat)"
            notes.append(f"{text}, bins of {size} element{'s' if hi > 1 else ''}, overlapping")
        return notes

    def origin(self, x: Shape, y: Shape, dim: int) -> str | None:
        first = len(y) - self.nd
        if dim < first:
            return None
        return f"{AXES[self.nd][dim - first]} {x[dim]} → {y[dim]} by {self.call_string()}"

    def resize_hint(self, x: Shape, y: Shape, dim: int, wanted: int, label: str) -> str | None:
        first = len(y) - self.nd
        if dim < first:
            return None
        sizes = list(self.sizes())
        sizes[dim - first] = wanted
        value = str(wanted) if self.nd == 1 else "(" + ", ".join(map(str, sizes)) + ")"
        return f"set output_size: {value} in {label}"


class AdaptiveAvgPoolNd(_AdaptivePool):
    @classmethod
    def example(cls):  # type: ignore[no-untyped-def]
        return (1,), {}, spatial_example(cls.nd)

    summary = "N-d adaptive average pooling to output_size (None keeps a size); bin i = [⌊i·in/out⌋, ⌈(i+1)·in/out⌉)"

    @classmethod
    def _args(cls, nd: int) -> tuple[Arg, ...]:
        return (Arg("output_size", to_output_size(nd), REQUIRED),)


class AdaptiveMaxPoolNd(_AdaptivePool):
    @classmethod
    def example(cls):  # type: ignore[no-untyped-def]
        return ((4,) * cls.nd,), {}, spatial_example(cls.nd)

    summary = "N-d adaptive max pooling to output_size (None keeps a size); bin i = [⌊i·in/out⌋, ⌈(i+1)·in/out⌉)"
    return_indices: bool

    @classmethod
    def _args(cls, nd: int) -> tuple[Arg, ...]:
        return (
            Arg("output_size", to_output_size(nd), REQUIRED),
            Arg("return_indices", to_bool, False),
        )

    def notes(self, x: Shape, y: Shape) -> list[str]:
        notes = super().notes(x, y)
        if self.return_indices:
            notes.append(
                "return_indices=True returns (output, indices): in nn.Sequential the next layer receives a tuple"
            )
        return notes


for _nd in (1, 2, 3):
    make_nd(MaxPoolNd, "MaxPool{}d", dims=(_nd,), ARGS=MaxPoolNd._args(_nd))
    make_nd(AvgPoolNd, "AvgPool{}d", dims=(_nd,), ARGS=AvgPoolNd._args(_nd))
    make_nd(
        AdaptiveAvgPoolNd,
        "AdaptiveAvgPool{}d",
        dims=(_nd,),
        ARGS=AdaptiveAvgPoolNd._args(_nd),
        empty_channels_ok=_nd < 3,
        global_mean=True,
    )
    make_nd(AdaptiveMaxPoolNd, "AdaptiveMaxPool{}d", dims=(_nd,), ARGS=AdaptiveMaxPoolNd._args(_nd))
