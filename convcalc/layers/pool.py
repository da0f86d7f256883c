"""Pooling: MaxPool1d/2d/3d, AvgPool1d/2d/3d, AdaptiveAvgPool1d/2d/3d, AdaptiveMaxPool1d/2d/3d.

No parameters and no MACs (torch.utils.flop_counter counts no pooling). Every
rule here was checked against torch 2.13 on CPU; PyTorch makes all of these
checks in forward, the ones that do not depend on the input are in ``check()``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

from ..errors import ShapeError
from ..shape import AXES, Shape, adaptive_bins, fmt_shape, pool_out, prod
from .base import (
    REQUIRED,
    Arg,
    BadValue,
    Converter,
    Layer,
    Repeated,
    converter_form,
    is_int,
    refuse_repeated,
    register,
    spatial_example,
    spatial_input,
    to_bool,
    to_float,
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
        if is_int(v):
            return (int(v),) * nd
        if isinstance(v, (list, tuple)) and len(v) in (1, nd) and all(is_int(i) for i in v):
            values = tuple(int(i) for i in v)
            return Repeated(values * nd) if len(values) == 1 else values
        raise BadValue(what)

    convert.form = form  # type: ignore[attr-defined]
    return convert


@converter_form("int")
def to_single_window(v: Any) -> tuple[int]:
    """LPPool1d's kernel_size: an integer (torch multiplies the result by it, and fails at
    forward on a tuple, but for norm_type ±inf, a max pooling: :meth:`LPPoolNd.check`)."""
    if is_int(v):
        return (int(v),)
    if isinstance(v, (list, tuple)) and len(v) == 1 and is_int(v[0]):
        return Repeated((int(v[0]),))
    raise BadValue("an integer (LPPool1d multiplies by it; torch fails on a tuple)")


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
        if is_int(v):
            return int(v)
        if (
            isinstance(v, (list, tuple))
            and len(v) == nd
            and all(is_int(i) or (nd > 1 and i is None) for i in v)
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


# ------------------------------------------------------------ NumPy kernels
# numpy is imported inside the functions: `convcalc shape` must not load it.
def _offset_span(n: int, o: int, s: int, p: int, j: int) -> tuple[int, int, slice]:
    """Output positions [lo, hi) whose window element at offset ``j`` (input index
    ``i = o·s − p + j``) falls inside the input, and the input slice they read."""
    lo = max(0, -((j - p) // s))  # ceil((p − j) / s)
    hi = min(o, (n - 1 + p - j) // s + 1)
    if hi <= lo:
        return lo, lo, slice(0, 0)
    start = lo * s - p + j
    return lo, hi, slice(start, start + (hi - lo - 1) * s + 1, s)


def _axis_reduce(
    x: Any, axis: int, o: int, k: int, s: int, p: int, d: int, is_max: bool, out: Any
) -> Any:
    """Max (padding = −inf) or sum (padding = 0) over the windows of one axis, into ``out``.

    One in-place ``np.maximum`` / ``np.add`` per kernel offset, over a strided view of ``x``
    and the range of outputs whose window element at that offset lies inside the input:
    padding is never materialised.
    """
    import numpy as np

    n = x.shape[axis]
    spans = [_offset_span(n, o, s, p, j * d) for j in range(k)]
    spans = [span for span in spans if span[1] > span[0]]
    before = (slice(None),) * axis
    # an offset that every output reaches initialises the output by a copy
    first = next((span for span in spans if span[0] == 0 and span[1] == o), None)
    if first is not None:
        np.copyto(out, x[before + (first[2],)])
    else:
        out.fill(-np.inf if is_max else 0)
    op = np.maximum if is_max else np.add
    for span in spans:
        if span is not first:
            target = out[before + (slice(span[0], span[1]),)]
            op(target, x[before + (span[2],)], out=target)
    return out


def _window_plan(spatial: Sequence[int], out_sizes: Sequence[int]) -> list[tuple[int, ...]]:
    """Shapes (without the leading dims) after each axis is pooled, outer axes first: the
    last axis, whose windows are read with a stride, then works on the smallest array."""
    shape = list(spatial)
    steps = []
    for i, o in enumerate(out_sizes):
        shape[i] = o
        steps.append(tuple(shape))
    return steps


def _window_temporaries(spatial: Sequence[int], out_sizes: Sequence[int]) -> int:
    """Peak elements per leading item of the separable pass: two live intermediates."""
    sizes = [prod(shape) for shape in _window_plan(spatial, out_sizes)[:-1]]
    return max([sizes[i] + (sizes[i - 1] if i else 0) for i in range(len(sizes))], default=0)


def _window_reduce(
    x: Any,
    out_sizes: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
    is_max: bool,
    budget: int,
) -> Any:
    """Max (−inf padding) or sum (zero padding) over every window of the trailing axes.

    Separable: a box's max (sum) is the max (sum) along one axis of the maxima (sums) along
    the others, so each axis is pooled in turn (k ufunc calls per axis instead of k^nd),
    chunked over the leading dims so the intermediates stay under ``budget`` bytes.
    """
    import numpy as np

    from ..numeric import chunks

    nd = len(kernel)
    spatial = tuple(x.shape[x.ndim - nd :])
    lead = tuple(x.shape[: x.ndim - nd])
    out = np.empty(lead + tuple(out_sizes), dtype=x.dtype)
    if out.size == 0:
        return out
    m = prod(lead)
    flat_x = x.reshape((m,) + spatial)
    flat_out = out.reshape((m,) + tuple(out_sizes))
    steps = _window_plan(spatial, out_sizes)
    per_item = _window_temporaries(spatial, out_sizes) * x.itemsize
    for part in chunks(m, per_item, budget):
        z = flat_x[part]
        count = z.shape[0]
        for i, shape in enumerate(steps):
            dest = flat_out[part] if i == nd - 1 else np.empty((count,) + shape, dtype=x.dtype)
            args = (kernel[i], stride[i], padding[i], dilation[i])
            z = _axis_reduce(z, i + 1, out_sizes[i], *args, is_max, dest)
    return out


def _adaptive_axis(x: Any, axis: int, o: int, is_max: bool) -> Any:
    """Adaptive max or mean over one axis with PyTorch's bins [⌊i·n/o⌋, ⌈(i+1)·n/o⌉).

    Bins of one length L start at irregular places: they are gathered (``np.take``) L
    times, once per offset, and combined; a loop over the few distinct bin lengths and
    their offsets, never over output positions.
    """
    import numpy as np

    n = x.shape[axis]
    if o == n:
        return x
    shape = x.shape[:axis] + (o,) + x.shape[axis + 1 :]
    if x.size == 0 or o == 0:
        return np.zeros(shape, dtype=x.dtype)
    op = np.maximum if is_max else np.add
    before = (slice(None),) * axis
    i = np.arange(o)
    starts = i * n // o
    ends = -(-(i + 1) * n // o)
    if not is_max and o <= 16:
        # few bins: the mean is a product with an (n, o) matrix of 1/length in each bin
        # (one BLAS call; cheaper than o gathers while o is small)
        rows = np.arange(n)[:, None]
        mean = ((rows >= starts) & (rows < ends)) / (ends - starts).astype(np.float64)
        mean = mean.astype(x.dtype)
        pre, post = prod(x.shape[:axis]), prod(x.shape[axis + 1 :])
        with np.errstate(invalid="ignore", over="ignore"):
            if post == 1:
                y = (x.reshape(pre, n) @ mean).reshape(shape)
            else:
                y = np.matmul(mean.T, x.reshape(pre, n, post)).reshape(shape)
        # an inf or NaN input would spread to every bin of its row through the zero
        # weights (0·inf = NaN): then, and only then, fall back to the gathers below
        if np.isfinite(y).all():
            return y
    if n % o == 0:  # equal, disjoint bins
        size = n // o
        if axis < x.ndim - 1:  # a reshape view, reduced over whole rows
            y = op.reduce(
                x.reshape(x.shape[:axis] + (o, size) + x.shape[axis + 1 :]), axis=axis + 1
            )
        else:  # the last axis: one ufunc per offset over a strided view
            y = x[before + (slice(0, None, size),)].copy()
            for j in range(1, size):
                op(y, x[before + (slice(j, None, size),)], out=y)
        if not is_max:
            y /= x.dtype.type(size)
        return y
    if o > n:
        # every bin holds 1 or 2 elements: its first and its last element, combined
        y = op(np.take(x, starts, axis=axis), np.take(x, ends - 1, axis=axis))
        if not is_max:
            y *= x.dtype.type(0.5)
        return y
    lengths = ends - starts
    y = np.empty(shape, dtype=x.dtype)
    for size in np.unique(lengths).tolist():
        where = np.flatnonzero(lengths == size)
        first = starts[where]
        acc = np.take(x, first, axis=axis)
        if size > 1:
            tmp = np.empty_like(acc)
            for j in range(1, size):
                np.take(x, first + j, axis=axis, out=tmp)
                op(acc, tmp, out=acc)
        if not is_max:
            acc /= x.dtype.type(size)
        y[before + (where,)] = acc
    return y


# ------------------------------------------------------- max and average pooling
RETURN_INDICES_NOTE = "return_indices=True returns (output, indices): in nn.Sequential the next layer receives a tuple"


def _spatial_origin(layer: Any, x: Shape, y: Shape, dim: int) -> str | None:
    """``H 26 → 13 by MaxPool2d(kernel_size=2)``: how a pooling layer set a spatial size."""
    first = len(y) - layer.nd
    if dim < first:
        return None
    return f"{AXES[layer.nd][dim - first]} {x[dim]} → {y[dim]} by {layer.call_string()}"


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
        y = _window_reduce(
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

    def workspace(self, x: Shape, y: Shape) -> int:
        nd = self.nd
        return prod(x[: len(x) - nd]) * _window_temporaries(x[len(x) - nd :], y[len(y) - nd :])

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
        return _spatial_origin(self, x, y, dim)


class MaxPoolNd(_Pool):
    @classmethod
    def example(cls):
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
    def example(cls):
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


class LPPoolNd(AvgPoolNd):
    """Power-average pooling as torch computes it: the average of xᵖ over each window (no
    padding, count_include_pad, torch's divisor for ceil_mode's partial windows), times the
    kernel's size, to the power 1/p; for p = ±inf, the window's largest (smallest) |x|."""

    @classmethod
    def example(cls):
        return (2, 2), {}, spatial_example(cls.nd)

    summary = "N-d power-average pooling: (Σ over the window of xᵖ)^(1/p), no padding; stride defaults to kernel_size"
    norm_type: float

    @classmethod
    def _args(cls, nd: int) -> tuple[Arg, ...]:
        return (
            Arg("norm_type", to_float),
            Arg("kernel_size", to_single_window if nd == 1 else to_window(nd)),
            Arg("stride", to_window(nd, optional=True), None),
            Arg("ceil_mode", to_bool, False),
        )

    def check(self) -> None:
        if self.norm_type == 0:
            raise ShapeError(
                "norm_type must not be 0: the result is taken to the power 1/norm_type",
                argument="norm_type",
                expected="a non-zero number",
                got=self.norm_type,
                hint="norm_type 1 sums the window, 2 takes its Euclidean norm",
            )
        refuse_repeated("kernel_size", self.kernel_size, self.nd, "torch unpacks it into sizes")
        if isinstance(self.kernel_size, Repeated) and not math.isinf(self.norm_type):
            k = self.kernel_size[0]
            raise ShapeError(
                f"kernel_size must be an integer, got {list(self.kernel_size)}: LPPool1d "
                "multiplies its result by kernel_size, which torch fails to do with a tuple",
                argument="kernel_size",
                expected="an integer",
                got=list(self.kernel_size),
                hint=f"write kernel_size={k}",
            )
        super().check()

    def _check_input(self, cdim: int, spatial: Shape) -> None:
        # p = ±inf is a max pooling in torch, without AvgPool3d's rule on small inputs
        if not math.isinf(self.norm_type):
            super()._check_input(cdim, spatial)

    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        import numpy as np

        from ..numeric import chunks

        p = x.dtype.type(self.norm_type)
        nd = self.nd
        spatial = tuple(x.shape[x.ndim - nd :])
        y_shape = self.out_shape(tuple(x.shape))
        if np.isinf(p):
            # torch's special case: the largest |x| of each window (p = -inf: the smallest)
            magnitude = np.abs(x)
            if p < 0:
                np.negative(magnitude, out=magnitude)
            y = _window_reduce(
                magnitude,
                y_shape[len(y_shape) - nd :],
                self.kernel_size,
                self.strides(),
                self.padding,
                self.dilations(),
                True,
                budget,
            )
            return np.negative(y, out=y) if p < 0 else y
        y = np.empty(y_shape, dtype=x.dtype)
        if y.size == 0:
            return y
        # every plane on its own (as (planes, 1, *spatial)), xᵖ a piece of planes at a time
        planes = x.reshape((-1, 1) + spatial)
        pooled = y.reshape((-1, 1) + tuple(y_shape[len(y_shape) - nd :]))
        per_plane = 2 * prod(spatial) * x.itemsize
        # torch's arithmetic as it is: a negative average with a fractional 1/p is nan
        with np.errstate(all="ignore"):
            for part in chunks(planes.shape[0], per_plane, budget):
                powered = np.power(planes[part], p)
                pooled[part] = super().forward(powered, w, max(budget - powered.nbytes, 1))
                del powered  # before the next piece's: never two at once
            y *= x.dtype.type(prod(self.kernel_size))
            np.power(y, 1.0 / p, out=y)
        return y

    def workspace(self, x: Shape, y: Shape) -> int:
        return super().workspace(x, y) + prod(x)  # xᵖ


# --------------------------------------------------------------- adaptive pooling
def _bin_lengths(n: int, o: int, period: int) -> list[int]:
    """Lengths of the first bins (at most 65,536) of an adaptive pooling with a huge output."""
    count = min(period, 1 << 16)
    return [-(-((i + 1) * n) // o) - (i * n) // o for i in range(count)]


class _AdaptivePool(Layer):
    """Shared by the adaptive pooling types; ``nd`` is set per registered class."""

    nd: ClassVar[int] = 2
    is_max: ClassVar[bool] = False
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

    # -- NumPy forward pass ------------------------------------------------
    def _global(self, x: Shape, y: Shape) -> bool:
        """AdaptiveAvgPool to all 1s: a plain mean over the last nd dims (any rank)."""
        return self.global_mean and all(o == 1 for o in y[len(y) - self.nd :])

    def _plan(self, x: Shape, y: Shape) -> list[tuple[int, int]]:
        """(axis, out size) per reduced axis, outer axes first: whole rows are gathered there,
        and the last axis (element-wise gathers, strided reads) then works on less data."""
        nd = self.nd
        axes = [
            (len(x) - nd + i, o) for i, o in enumerate(y[len(y) - nd :]) if o != x[len(x) - nd + i]
        ]
        return axes

    def _temporaries(self, x: Shape, y: Shape) -> int:
        """Peak elements of one unchunked pass: the intermediate result of each axis but the
        last, the previous one, and the gather buffers of one bin length (two of its size)."""
        shape = list(x)
        peak = 0
        previous = 0
        plan = self._plan(x, y)
        for step, (axis, o) in enumerate(plan):
            shape[axis] = o
            size = prod(shape)
            result = size if step < len(plan) - 1 else 0
            peak = max(peak, previous + result + 2 * size)
            previous = result
        return peak

    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        """Separable: the bins of a box are products of per-axis bins, so max and mean reduce
        one axis at a time (`_adaptive_axis`), chunked over the leading dims."""
        import numpy as np

        from ..numeric import chunks

        x_shape = tuple(x.shape)
        y_shape = self.out_shape(x_shape)
        nd = self.nd
        axes = tuple(range(x.ndim - nd, x.ndim))
        if self._global(x_shape, y_shape):
            if x.size == 0 or any(x_shape[a] == 0 for a in axes):
                return np.full(y_shape, np.nan, dtype=x.dtype)  # torch: the mean of nothing
            return x.mean(axis=axes, keepdims=True)
        plan = self._plan(x_shape, y_shape)
        lead = x_shape[: x.ndim - nd]
        m = prod(lead)
        flat = x.reshape((m,) + x_shape[x.ndim - nd :])
        out = np.empty((m,) + y_shape[len(y_shape) - nd :], dtype=x.dtype)
        per_item = self._temporaries(
            (1,) + x_shape[x.ndim - nd :], (1,) + y_shape[len(y_shape) - nd :]
        )
        for part in chunks(m, per_item * x.itemsize, budget) if m else []:
            z = flat[part]
            for axis, o in plan:
                z = _adaptive_axis(z, axis - x.ndim + nd + 1, o, self.is_max)
            out[part] = z
        return out.reshape(y_shape)

    def workspace(self, x: Shape, y: Shape) -> int:
        if self._global(x, y):
            return 0
        return self._temporaries(x, y)

    def notes(self, x: Shape, y: Shape) -> list[str]:
        notes = []
        for axis, n, o in zip(AXES[self.nd], x[len(x) - self.nd :], y[len(y) - self.nd :]):
            if o == 0:
                notes.append(f"{axis}: output size 0, the output is empty")
                continue
            if n % o == 0:
                continue
            # the bin lengths repeat with period o / gcd(n, o): one period tells min and max
            period = o // math.gcd(n, o)
            lengths = (
                [b - a for a, b in adaptive_bins(n, o)[:period]]
                if o <= 1 << 16
                else _bin_lengths(n, o, period)
            )
            lo, hi = min(lengths), max(lengths)
            size = f"{lo}" if lo == hi else f"{lo}–{hi}"
            text = f"{axis}: {n} → {o}"
            if o > n:
                text += " (out > in: input elements repeat)"
            notes.append(f"{text}, bins of {size} element{'s' if hi > 1 else ''}, overlapping")
        return notes

    def origin(self, x: Shape, y: Shape, dim: int) -> str | None:
        return _spatial_origin(self, x, y, dim)

    def sets_dim(self, x: Shape, y: Shape, dim: int) -> bool:
        first = len(y) - self.nd
        return dim >= first and self.sizes()[dim - first] is not None

    def resize_hint(self, x: Shape, y: Shape, dim: int, wanted: int, label: str) -> str | None:
        first = len(y) - self.nd
        if dim < first:
            return None
        sizes = list(self.sizes())
        sizes[dim - first] = wanted
        value = str(wanted) if self.nd == 1 else "(" + ", ".join(map(str, sizes)) + ")"
        return f"set output_size: {value} in {label}"


class AdaptiveAvgPoolNd(_AdaptivePool):
    is_max: ClassVar[bool] = False

    @classmethod
    def example(cls):
        return (1,), {}, spatial_example(cls.nd)

    summary = "N-d adaptive average pooling to output_size (None keeps a size); bin i = [⌊i·in/out⌋, ⌈(i+1)·in/out⌉)"

    @classmethod
    def _args(cls, nd: int) -> tuple[Arg, ...]:
        return (Arg("output_size", to_output_size(nd), REQUIRED),)


class AdaptiveMaxPoolNd(_AdaptivePool):
    is_max: ClassVar[bool] = True

    @classmethod
    def example(cls):
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
        return super().notes(x, y) + ([RETURN_INDICES_NOTE] if self.return_indices else [])


@register
class MaxPool1d(MaxPoolNd):
    nd = 1
    ARGS = MaxPoolNd._args(1)


@register
class AvgPool1d(AvgPoolNd):
    nd = 1
    ARGS = AvgPoolNd._args(1)


@register
class LPPool1d(LPPoolNd):
    nd = 1
    ARGS = LPPoolNd._args(1)
    padding = (0,)
    count_include_pad = True


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
class LPPool2d(LPPoolNd):
    nd = 2
    ARGS = LPPoolNd._args(2)
    padding = (0, 0)
    count_include_pad = True


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
class LPPool3d(LPPoolNd):
    nd = 3
    ARGS = LPPoolNd._args(3)
    padding = (0, 0, 0)
    count_include_pad = True


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
