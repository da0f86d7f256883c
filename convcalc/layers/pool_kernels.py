"""The NumPy kernels of pooling: window reductions (max, sum, power sum) over strided views,
and the adaptive bins. numpy is imported inside each function: `convcalc shape` never loads it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..shape import prod

if TYPE_CHECKING:
    from .base import Array


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
    x: Array, axis: int, o: int, k: int, s: int, p: int, d: int, is_max: bool, out: Array
) -> Array:
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


def window_temporaries(spatial: Sequence[int], out_sizes: Sequence[int]) -> int:
    """Peak elements per leading item of the separable pass: two live intermediates."""
    sizes = [prod(shape) for shape in _window_plan(spatial, out_sizes)[:-1]]
    return max([sizes[i] + (sizes[i - 1] if i else 0) for i in range(len(sizes))], default=0)


def window_reduce(
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

    from ..kernels import chunks

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
    per_item = window_temporaries(spatial, out_sizes) * x.itemsize
    for part in chunks(m, per_item, budget):
        z = flat_x[part]
        count = z.shape[0]
        for i, shape in enumerate(steps):
            dest = flat_out[part] if i == nd - 1 else np.empty((count,) + shape, dtype=x.dtype)
            args = (kernel[i], stride[i], padding[i], dilation[i])
            z = _axis_reduce(z, i + 1, out_sizes[i], *args, is_max, dest)
    return out


def adaptive_axis(
    x: Array, axis: int, o: int, is_max: bool, n: int | None = None, part: slice | None = None
) -> Array:
    """Adaptive max or mean over one axis with PyTorch's bins [⌊i·n/o⌋, ⌈(i+1)·n/o⌉).

    Bins of one length L start at irregular places: they are gathered (``np.take``) L
    times, once per offset, and combined; a loop over the few distinct bin lengths and
    their offsets, never over output positions. ``part``: only the bins i in that range,
    from ``x`` holding the input window they read, [⌊start·n/o⌋, ⌈stop·n/o⌉) of an axis of
    ``n``; each bin is then computed as it is with the whole axis, except that the mean of
    few bins is a product with a matrix only when ``part`` is None.
    """
    import numpy as np

    n = x.shape[axis] if n is None else n
    begin, end = (0, o) if part is None else (part.start, part.stop)
    lo = begin * n // o
    if o == n:
        return x
    shape = x.shape[:axis] + (end - begin,) + x.shape[axis + 1 :]
    if x.size == 0 or o == 0:
        return np.zeros(shape, dtype=x.dtype)
    op = np.maximum if is_max else np.add
    y: Array
    before = (slice(None),) * axis
    i = np.arange(begin, end)
    starts = i * n // o - lo
    ends = -(-(i + 1) * n // o) - lo
    if not is_max and o <= 16 and part is None:
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
    if o * o < n:
        # few long bins: each reduced whole, a loop over the bins rather than over the
        # offsets within one (a million-element axis into 7 bins: 142,858 steps, each a
        # gather, in every block of the output)
        y = np.empty(shape, dtype=x.dtype)
        for k, (s, e) in enumerate(zip(starts.tolist(), ends.tolist())):
            op.reduce(x[before + (slice(s, e),)], axis=axis, out=y[before + (k,)])
        if not is_max:
            y /= (ends - starts).astype(x.dtype).reshape((-1,) + (1,) * (x.ndim - axis - 1))
        return y
    if n % o == 0:  # equal, disjoint bins
        size = n // o
        if axis < x.ndim - 1:  # a reshape view, reduced over whole rows
            y = op.reduce(
                x.reshape(x.shape[:axis] + (end - begin, size) + x.shape[axis + 1 :]),
                axis=axis + 1,
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
