"""The convolution: the case worked out, its path chosen (:mod:`.choose`), the path run."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np

from . import depthwise
from .channels_last import channels_last
from .choose import Case, Path, choose
from .columns import Columns
from .grouped import grouped_products
from .memory import prod
from .padding import PadPairs, pad
from .phases import phases, same_width
from .pointwise import pointwise, pointwise_onto_bias
from .run import Run, current

#: a path: (run, case, input, weight, bias) → output
PathFn = Callable[[Run, Case, np.ndarray, np.ndarray, "np.ndarray | None"], np.ndarray]


def conv(
    xp: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    stride: Sequence[int],
    dilation: Sequence[int],
    groups: int,
    budget: int,
    pads: PadPairs | None = None,
    split: bool = True,
    run: Run | None = None,
    path: Path | None = None,
) -> np.ndarray:
    """Cross-correlation of the batched ``xp`` (N, C, *spatial), zero-padded by ``pads`` (if
    given; else already padded), with ``weight`` (C_out, C/groups, *kernel), as PyTorch's
    ConvNd computes it, with at most ``budget`` bytes of temporaries. ``split``: an input too
    large for ``budget`` is worked in slabs of output rows (off for the slabs themselves).
    ``run``: the run's state and settings (default: the current run). ``path``: the path to
    take instead of :func:`~convcalc.kernels.choose.choose`'s (it must apply to the case)."""
    run = run if run is not None else current()
    if pads is not None and all(a >= 0 and b >= 0 for a, b in pads):
        live = live_windows(xp.shape[2:], weight.shape[2:], stride, dilation, pads)
        if live is not None:
            return _live_only(xp, weight, bias, stride, dilation, groups, budget, pads, live, run)
    case, xp = make_case(run, xp, weight, bias, stride, dilation, groups, budget, pads, split)
    return PATHS[path or choose(case, run.config)](run, case, xp, weight, bias)


#: per spatial axis: (first live output, end of the live outputs, input start, input stop,
#: padding before, padding after) of a convolution's live part
Live = list[tuple[int, int, int, int, int, int]]


def live_windows(
    size: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    pads: PadPairs,
) -> Live | None:
    """The output positions whose windows reach the input (not only its zero padding), per
    axis, and the input and padding they read; None when that is every position. Every other
    position is the bias alone: a padding of 100,000 around one pixel makes 201×201 windows
    over a padded input of 200,001² of which 2×2 read the pixel."""
    live: Live = []
    for n, k, s, d, (a, b) in zip(size, kernel, stride, dilation, pads):
        span = d * (k - 1) + 1
        out = (n + a + b - span) // s + 1
        # window j covers padded [j·s, j·s + span), the input is padded [a, a + n)
        lo = min(out, max(0, -(-(a - span + 1) // s)))
        hi = max(lo, min(out, (a + n - 1) // s + 1))
        start, stop = lo * s, (hi - 1) * s + span  # the padded positions they read
        first, last = max(0, start - a), min(n, stop - a)
        live.append((lo, hi, first, max(first, last), max(0, a - start), max(0, stop - a - n)))
    full = all(lo == 0 and hi == (n + a + b - d * (k - 1) - 1) // s + 1
               for (lo, hi, *_), n, k, s, d, (a, b) in zip(live, size, kernel, stride, dilation, pads))  # fmt: skip
    return None if full else live


def _live_only(
    xp: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    stride: Sequence[int],
    dilation: Sequence[int],
    groups: int,
    budget: int,
    pads: PadPairs,
    live: Live,
    run: Run,
) -> np.ndarray:
    """The convolution whose windows mostly read padding (see :func:`live_windows`): the
    output filled with the bias, the live part computed from the input and padding it reads."""
    out = [(e + a + b - d * (k - 1) - 1) // s + 1
           for e, (a, b), k, d, s in zip(xp.shape[2:], pads, weight.shape[2:], dilation, stride)]  # fmt: skip
    y = np.empty((xp.shape[0], weight.shape[0], *out), dtype=xp.dtype)
    y[...] = 0 if bias is None else bias.reshape((-1,) + (1,) * len(out))
    if any(hi <= lo for lo, hi, *_ in live):
        return y
    crop = (slice(None), slice(None), *[slice(first, last) for _, _, first, last, _, _ in live])
    inner_pads = [(before, after) for *_, before, after in live]
    part = conv(xp[crop], weight, bias, stride, dilation, groups, budget, inner_pads, run=run)
    y[(slice(None), slice(None), *[slice(lo, hi) for lo, hi, *_ in live])] = part
    return y


def path_of(
    xp: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    stride: Sequence[int],
    dilation: Sequence[int],
    groups: int,
    budget: int,
    pads: PadPairs | None = None,
    run: Run | None = None,
) -> Path:
    """The path :func:`conv` takes with these arguments (in ``run``, default the current)."""
    run = run if run is not None else current()
    case, _ = make_case(run, xp, weight, bias, stride, dilation, groups, budget, pads)
    return choose(case, run.config)


def make_case(
    run: Run,
    xp: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    stride: Sequence[int],
    dilation: Sequence[int],
    groups: int,
    budget: int,
    pads: PadPairs | None = None,
    split: bool = True,
) -> tuple[Case, np.ndarray]:
    """The :class:`Case` of a convolution, and its input: padded here when the padding crops
    (negative) or the convolution is pointwise, else padded by the path while laying it out."""
    nd = weight.ndim - 2
    if pads is not None and any(a < 0 or b < 0 for a, b in pads):
        xp = pad(xp, pads)
        pads = None
    xp, pads, stride = _first_window_only(xp, weight.shape[2:], stride, dilation, pads)
    if prod(stride) >= run.config.sparse_stride_min:
        xp, pads, stride = _windows_only(xp, weight.shape[2:], stride, dilation, pads)
    pointwise = all(k == 1 for k in weight.shape[2:]) and all(s == 1 for s in stride)
    if pads is not None and pointwise:
        xp = pad(xp, pads)
        pads = None
    case = Case(
        tuple(xp.shape),
        tuple(weight.shape),
        groups,
        tuple(stride),
        tuple(dilation),
        tuple((a, b) for a, b in pads) if pads is not None else ((0, 0),) * nd,
        xp.itemsize,
        budget,
        split,
        bias is not None,
        run.gemm(xp.dtype) is not None,
    )
    return case, xp


def _first_window_only(
    xp: np.ndarray,
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    pads: PadPairs | None,
) -> tuple[np.ndarray, PadPairs | None, list[int]]:
    """Along an axis with one output position, only the first window is read, whatever the
    stride: the input cropped to that window (and its padding) at stride 1 gives the same
    output, where the stride's phases could be billions (a stride of 4,000 on 4,000 rows is
    16 million phases of a 1-MAC convolution)."""
    stride = [int(s) for s in stride]
    new_pads = [tuple(p) for p in pads] if pads is not None else [(0, 0)] * len(kernel)
    for i, (k, s, d) in enumerate(zip(kernel, stride, dilation)):
        n = xp.shape[2 + i]
        before, after = new_pads[i]
        reach = d * (k - 1) + 1
        if s == 1 or (n + before + after - reach) // s > 0:
            continue  # more than one output position along this axis
        keep = max(0, min(n, reach - before))
        first = min(before, reach)
        index = [slice(None)] * xp.ndim
        index[2 + i] = slice(0, keep)
        xp = np.ascontiguousarray(xp[tuple(index)])
        new_pads[i] = (first, reach - first - keep)
        stride[i] = 1
    if pads is None and all(p == (0, 0) for p in new_pads):
        return xp, None, stride
    return xp, [(a, b) for a, b in new_pads], stride


def _windows_only(
    xp: np.ndarray,
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    pads: PadPairs | None,
) -> tuple[np.ndarray, PadPairs | None, list[int]]:
    """Along an axis whose stride passes the window's span, the windows leave gaps no tap
    reads: the input is taken as the windows alone, back to back (the padding they read
    written as zeros), at a stride of the span. A 1×1 kernel at a stride of 1,000 on
    2,000×2,000 reads 4 pixels, where its stride phases would be a million."""
    stride = [int(s) for s in stride]
    new_pads = [tuple(p) for p in pads] if pads is not None else [(0, 0)] * len(kernel)
    for i, (k, s, d) in enumerate(zip(kernel, stride, dilation)):
        span = d * (k - 1) + 1
        if s <= span:
            continue
        n = xp.shape[2 + i]
        before, after = new_pads[i]
        out = (n + before + after - span) // s + 1
        at = (np.arange(out)[:, None] * s + np.arange(span)[None, :]).ravel() - before
        inside = (at >= 0) & (at < n)
        xp = np.take(xp, np.clip(at, 0, n - 1), axis=2 + i)
        if not inside.all():
            index: list[slice | np.ndarray] = [slice(None)] * xp.ndim
            index[2 + i] = ~inside
            xp[tuple(index)] = 0
        new_pads[i] = (0, 0)
        stride[i] = span
    if pads is None and all(p == (0, 0) for p in new_pads):
        return xp, None, stride
    return xp, [(a, b) for a, b in new_pads], stride


def _pointwise(
    run: Run, case: Case, x: np.ndarray, w: np.ndarray, b: np.ndarray | None
) -> np.ndarray:
    return pointwise(case, x, w, b)


def _pointwise_blas(
    run: Run, case: Case, x: np.ndarray, w: np.ndarray, b: np.ndarray | None
) -> np.ndarray:
    gemm = run.gemm(x.dtype)
    assert gemm is not None and b is not None
    return pointwise_onto_bias(gemm, case, x, w, b)


def _columns(path: Path) -> PathFn:
    def compute(
        run: Run, case: Case, x: np.ndarray, w: np.ndarray, b: np.ndarray | None
    ) -> np.ndarray:
        return Columns(run, case, path, x, w, b).compute()

    return compute


def _channels_last(
    run: Run, case: Case, x: np.ndarray, w: np.ndarray, b: np.ndarray | None
) -> np.ndarray:
    out = case.out
    y = np.empty((case.x_shape[0], w.shape[0], *out), dtype=x.dtype)
    channels_last(run, x, w, b, case.stride, case.dilation, case.pads, out, y, case.groups)
    return y


def _grouped(blas: bool) -> PathFn:
    """Grouped with wide groups; with ``blas``, through BLAS on pointers (every tap's product
    accumulates in place, over all the items at once: channels-first layout)."""

    def compute(
        run: Run, case: Case, x: np.ndarray, w: np.ndarray, b: np.ndarray | None
    ) -> np.ndarray:
        gemm = run.gemm(x.dtype) if blas else None
        g, (c_out, cig) = case.groups, w.shape[:2]
        out = case.out
        flat, taps, sizes = phases(
            run, x, case.kernel, case.stride, case.dilation, out, case.pads,
            channels_first=gemm is not None,
        )  # fmt: skip
        wt = np.moveaxis(w.reshape(g, c_out // g, cig, prod(case.kernel)), 3, 0)
        wtap = np.ascontiguousarray(wt, dtype=x.dtype)
        y = np.empty((case.x_shape[0], c_out, *out), dtype=x.dtype)
        grouped_products(run, flat, taps, wtap, out, sizes, b, y, case.budget, gemm)
        return y

    return compute


def _depthwise(path: Path) -> PathFn:
    """Depthwise (C/g == 1): the taps of a block of planes gathered, one batched product per
    plane; gathered cropped from the input, by flat shifts, or from flat phase images."""

    def compute(
        run: Run, case: Case, x: np.ndarray, w: np.ndarray, b: np.ndarray | None
    ) -> np.ndarray:
        g, out, kernel = case.groups, case.out, case.kernel
        stride, dilation, pads, budget = case.stride, case.dilation, case.pads, case.budget
        y = np.empty((case.x_shape[0], w.shape[0], *out), dtype=x.dtype)
        wd = w.reshape(g, w.shape[0] // g, prod(kernel))
        if path == "depthwise-shifted":
            depthwise.shifted(run, x, wd, kernel, dilation, pads, b, y, budget)
        elif path == "depthwise-exact":
            offsets = list(itertools.product(*[range(k) for k in kernel]))
            depthwise.exact(run, x, wd, offsets, stride, dilation, pads, b, y, budget)
        elif path == "depthwise-same-width":
            src, f, taps, sizes, masks = same_width(run, x, kernel, dilation, pads)
            depthwise.flat(run, src, f, taps, wd, out, sizes, b, y, budget, masks)
        else:
            flat, taps, sizes = phases(run, x, kernel, stride, dilation, out, pads)
            src = flat.reshape(flat.shape[0], -1)
            depthwise.flat(run, src, flat.shape[-1], taps, wd, out, sizes, b, y, budget)
        return y

    return compute


def _slabs(run: Run, case: Case, x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    y = np.empty((case.x_shape[0], w.shape[0], *case.out), dtype=x.dtype)
    row_slabs(run, case, x, w, b, y)
    return y


def _depthwise_slabs(
    run: Run, case: Case, x: np.ndarray, w: np.ndarray, b: np.ndarray | None
) -> np.ndarray:
    y = np.empty((case.x_shape[0], w.shape[0], *case.out), dtype=x.dtype)
    # each worker thread gathers its own plane
    row_slabs(run, case, x, w, b, y, case.depthwise_row_bytes() * run.config.workers)
    return y


def row_slabs(
    run: Run,
    case: Case,
    xp: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    y: np.ndarray,
    per_row: int = 0,
) -> None:
    """A convolution whose whole input (or a depthwise plane's gathered taps) does not fit
    its budget of temporaries: computed in slabs of output rows, each slab from the input rows
    it reads (with the padding that falls inside it). A slab's copy of its input and its
    output, and ``per_row`` bytes per output row that its kernel needs at once (a depthwise
    gather: one plane per worker thread), fit the budget together; with ``per_row`` 0 (the
    kernel chunks its own work within what it is given) half the budget is left to the
    slab's kernel."""
    n, c, height = case.x_shape[:3]
    pads, stride, out, budget = case.pads, case.stride, case.out, case.budget
    (top, _), s = pads[0], stride[0]
    span = case.dilation[0] * (case.kernel[0] - 1) + 1
    item = case.itemsize
    out_row = n * weight.shape[0] * prod(out[1:]) * item
    # a padded input row; a slab's copy of its input holds s of them per output row, and the
    # kernel's reach
    padded_row = n * c * prod(case.padded[1:]) * item
    in_row = padded_row * s
    room = budget if per_row else budget // 2
    rows = max(1, (room - span * (per_row + padded_row)) // (per_row + out_row + in_row))
    # what the slab's own kernel may use, its output and input copy set aside
    inner = max(1, budget - rows * (out_row + in_row) - span * padded_row)
    for r0 in range(0, out[0], rows):
        r1 = min(out[0], r0 + rows)
        # padded rows r0·s … (r1-1)·s + span - 1, i.e. input rows lo … hi - 1: those inside
        # the input, and the padding above and below them (all of it, near an edge)
        lo, hi = r0 * s - top, (r1 - 1) * s + span - top
        first = max(lo, 0)
        inside = max(0, min(hi, height) - first)
        above, below = max(0, min(hi, 0) - lo), max(0, hi - max(lo, height))
        slab = xp[:, :, first : first + inside]
        slab_pads = [(above, below), *pads[1:]]
        y[:, :, r0:r1] = conv(
            slab, weight, bias, stride, case.dilation, case.groups, inner, slab_pads,
            split=False, run=run,
        )  # fmt: skip


#: every path by name (see :data:`~convcalc.kernels.choose.Path`)
PATHS: dict[str, PathFn] = {
    "pointwise": _pointwise,
    "pointwise-blas": _pointwise_blas,
    "depthwise-slabs": _depthwise_slabs,
    "depthwise-shifted": _depthwise("depthwise-shifted"),
    "depthwise-exact": _depthwise("depthwise-exact"),
    "depthwise-same-width": _depthwise("depthwise-same-width"),
    "depthwise-phases": _depthwise("depthwise-phases"),
    "slabs": _slabs,
    "channels-last": _channels_last,
    "tap-gemm": _columns("tap-gemm"),
    "grouped": _grouped(blas=False),
    "grouped-blas": _grouped(blas=True),
    "columns-input": _columns("columns-input"),
    "columns-cropped": _columns("columns-cropped"),
    "columns-flat": _columns("columns-flat"),
}
