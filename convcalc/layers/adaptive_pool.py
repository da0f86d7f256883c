"""Adaptive pooling: the rules of AdaptiveAvgPool1d/2d/3d and AdaptiveMaxPool1d/2d/3d, which
pool.py registers beside the other pooling types. Bin i of an axis covers
[⌊i·in/out⌋, ⌈(i+1)·in/out⌉); no parameters and no MACs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, ClassVar

from ..errors import ShapeError
from ..receptive import ReceptiveField, adaptive_map, make_global, remap
from ..shape import AXES, Shape, adaptive_bins, prod
from .arguments import (
    REQUIRED,
    Arg,
    BadValue,
    Converter,
    converter_form,
    is_int,
    to_bool,
)
from .base import Example, Layer
from .checks import (
    RETURN_INDICES_NOTE,
    check_nonempty,
    show_values,
    spatial_example,
    spatial_input,
    spatial_origin,
)
from .pool_kernels import adaptive_axis
from .steps import Step
from .tiles import tiles

#: bins an explanation lists before it skips to the last
SHOWN_BINS = 6


def to_output_size(nd: int) -> Converter[Any]:
    """output_size of adaptive pooling: an int, or ``nd`` entries (int, or None = keep that size for nd > 1).

    An int stays an int: PyTorch treats ``2`` and ``(2, 2)`` differently for low-rank inputs.
    """
    if nd == 1:
        form, what = "int", "an integer"
    else:
        form = f"int or ({', '.join(['int or None'] * nd)})"
        what = f"an integer or a list of {nd} integers or None (None keeps that size)"

    @converter_form(form)
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

    return convert


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
                f"output_size must be non-negative, got {show_values(self.sizes())}",
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
        check_nonempty(x, first, cdim, nd)
        return x[: cdim + 1] + self._resolved(spatial)

    def receptive_field(self, x: Shape, y: Shape, field: ReceptiveField) -> ReceptiveField | None:
        """Bin i spans [⌊i·in/out⌋, ⌈(i+1)·in/out⌉): the longest bin, a jump of in/out; an
        output of one bin along an axis makes it global."""
        nd = min(self.nd, len(field.size))
        pairs = list(zip(x[len(x) - nd :], y[len(y) - nd :]))
        out = remap(field, [None if o == 1 else adaptive_map(n, o) for n, o in pairs])
        whole = [len(field.size) - nd + i for i, (_, o) in enumerate(pairs) if o == 1]
        return out if out is None or not whole else make_global(out, whole)

    # -- NumPy forward pass ------------------------------------------------
    def _global(self, x: Shape, y: Shape) -> bool:
        """AdaptiveAvgPool to all 1s: a plain mean over the last nd dims (any rank)."""
        return self.global_mean and all(o == 1 for o in y[len(y) - self.nd :])

    def _plan(self, x: Shape, y: Shape) -> list[tuple[int, int]]:
        """(axis, out size) per resized axis: the axes that shrink before those that grow (a
        1×1,000,000 input pooled to 100×100 would otherwise be 100×1,000,000 in between),
        outer axes first within each: whole rows are gathered there, and the last axis
        (element-wise gathers, strided reads) then works on less data."""
        nd = self.nd
        axes = [
            (len(x) - nd + i, o) for i, o in enumerate(y[len(y) - nd :]) if o != x[len(x) - nd + i]
        ]
        return sorted(axes, key=lambda axis: axis[1] > x[axis[0]])

    def _temporaries(self, x: Shape, y: Shape, plan: list[tuple[int, int]] | None = None) -> int:
        """Peak elements of one unchunked pass: the intermediate result of each axis but the
        last, the previous one, and the gather buffers of one bin length (two of its size).
        ``plan``: the order of the axes (default: that of ``x`` to ``y``)."""
        shape = list(x)
        peak = 0
        previous = 0
        plan = self._plan(x, y) if plan is None else plan
        for step, (axis, _) in enumerate(plan):
            shape[axis] = y[axis]
            size = prod(shape)
            result = size if step < len(plan) - 1 else 0
            peak = max(peak, previous + result + 2 * size)
            previous = result
        return peak

    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        """Separable: the bins of a box are products of per-axis bins, so max and mean reduce
        one axis at a time (`adaptive_axis`). The output is computed a block at a time (whole
        items and channels while they fit, else ranges of the leading output axes), each
        from the input window its bins cover, so that the temporaries stay within
        ``budget``; each bin is computed by the same operations whatever block it is in."""
        import numpy as np

        x_shape = tuple(x.shape)
        y_shape = self.out_shape(x_shape)
        nd = self.nd
        axes = tuple(range(x.ndim - nd, x.ndim))
        if self._global(x_shape, y_shape):
            if x.size == 0 or any(x_shape[a] == 0 for a in axes):
                return np.full(y_shape, np.nan, dtype=x.dtype)  # torch: the mean of nothing
            return x.mean(axis=axes, keepdims=True)
        sizes: list[tuple[int, int]] = list(
            zip(x_shape[x.ndim - nd :], y_shape[len(y_shape) - nd :])
        )
        m = prod(x_shape[: x.ndim - nd])
        out = np.empty((m,) + tuple(o for _, o in sizes), dtype=x.dtype)
        if out.size == 0:
            return out.reshape(y_shape)
        flat = x.reshape((m,) + x_shape[x.ndim - nd :])
        # the plan in the flattened layout: axis 1 + j is spatial axis j
        plan = [(a - x.ndim + nd + 1, o) for a, o in self._plan(x_shape, y_shape)]
        itemsize: int = x.itemsize

        def cost(block: tuple[int, ...]) -> int:
            window = (block[0],) + tuple(
                min(n, -(-b * n // o) + 1) for b, (n, o) in zip(block[1:], sizes)
            )
            bins = 48 * sum(block[1:]) + 10 * sum(n * o for n, o in sizes if o <= 16)
            return self._temporaries(window, block, plan) * itemsize + bins

        single = cost(out.shape) <= budget
        for block in tiles(out.shape, cost, budget):
            window = (block[0],) + tuple(
                slice(b.start * n // o, -(-b.stop * n // o)) for b, (n, o) in zip(block[1:], sizes)
            )
            z = flat[window]
            for axis, o in plan:
                # in one block, few bins of a mean are one product with a matrix (see
                # adaptive_axis); in several, every bin is summed as torch sums it
                part = None if single else block[axis]
                z = adaptive_axis(z, axis, o, self.is_max, sizes[axis - 1][0], part)
            out[block] = z
        return out.reshape(y_shape)

    def window(self, x: Any, y: Shape) -> int:
        """The longest bin along each axis: ⌈in / out⌉ + 1."""
        axes = zip(x[len(x) - self.nd :], y[len(y) - self.nd :])
        return prod([-(-n // o) + 1 if o else 1 for n, o in axes])

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
        return spatial_origin(self, x, y, dim)

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

    def explain(self, x: Shape) -> Iterator[Step]:
        y = self.out_shape(x)
        first = len(y) - self.nd
        given = self.sizes()
        for i, (axis, n, o) in enumerate(zip(AXES[self.nd], x[len(x) - self.nd :], y[first:])):
            kept = given[i] is None
            yield Step(
                f"{axis}_out",
                f"{axis}_in (output_size None)" if kept else "output_size",
                (str(n),) if kept else (),
                o,
                dim=first + i,
            )
            if o == 0 or kept:
                continue
            shown = [*range(min(o, SHOWN_BINS)), *([o - 1] if o > SHOWN_BINS else [])]
            bins = [(j * n // o, -(-(j + 1) * n // o)) for j in shown]
            text = ", ".join(f"[{a}, {b})" for a, b in bins[:SHOWN_BINS])
            if o > SHOWN_BINS:
                text += f", …, [{bins[-1][0]}, {bins[-1][1]})"
            lengths = {b - a for a, b in bins}
            size = str(min(lengths)) if len(lengths) == 1 else f"{min(lengths)} to {max(lengths)}"
            yield Step(
                f"{axis} bin i",
                f"[⌊i·{axis}_in/{axis}_out⌋, ⌈(i+1)·{axis}_in/{axis}_out⌉)",
                (text,),
                f"{o} bin{'s' if o != 1 else ''} of {size} element{'s' if max(lengths) != 1 else ''}"
                + (" (shown)" if o > SHOWN_BINS else ""),
            )


class AdaptiveAvgPoolNd(_AdaptivePool):
    is_max: ClassVar[bool] = False

    @classmethod
    def example(cls) -> Example:
        return (1,), {}, spatial_example(cls.nd)

    summary = "N-d adaptive average pooling to output_size (None keeps a size); bin i = [⌊i·in/out⌋, ⌈(i+1)·in/out⌉)"

    @classmethod
    def _args(cls, nd: int) -> tuple[Arg, ...]:
        return (Arg("output_size", to_output_size(nd), REQUIRED),)


class AdaptiveMaxPoolNd(_AdaptivePool):
    is_max: ClassVar[bool] = True

    @classmethod
    def example(cls) -> Example:
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
