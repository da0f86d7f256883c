"""NumPy building blocks shared by the layers' forward kernels.

Imported only by ``forward`` methods and the runner, never by ``convcalc shape``.
Everything works on the trailing ``nd`` spatial axes of an array and returns
views where it can.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

PadPairs = Sequence[tuple[int, int]]

_NP_MODES = {
    "zeros": "constant",
    "constant": "constant",
    "reflect": "reflect",
    "replicate": "edge",
    "circular": "wrap",
}


def pad(x: np.ndarray, pads: PadPairs, mode: str = "zeros", value: float = 0.0) -> np.ndarray:
    """Pad the trailing ``len(pads)`` axes with (before, after) pairs, in PyTorch's modes.

    ``mode``: zeros | constant | reflect | replicate | circular. Negative pairs crop.
    """
    if not any(b or a for b, a in pads):
        return x
    nd = len(pads)
    crop = [slice(None)] * x.ndim
    widths = [(0, 0)] * (x.ndim - nd)
    for axis, (before, after) in enumerate(pads, start=x.ndim - nd):
        crop[axis] = slice(max(-before, 0), x.shape[axis] - max(-after, 0))
        widths.append((max(before, 0), max(after, 0)))
    x = x[tuple(crop)]
    np_mode: Any = _NP_MODES[mode]
    if np_mode == "constant":
        return np.pad(x, widths, mode="constant", constant_values=value)
    return np.pad(x, widths, mode=np_mode)


def windows(
    x: np.ndarray,
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int] | None = None,
) -> np.ndarray:
    """A strided view of every window over the trailing ``len(kernel)`` axes.

    Shape: ``x.shape[:-nd] + out + kernel`` with ``out = (in - d(k-1) - 1) // s + 1``.
    """
    nd = len(kernel)
    dilation = dilation or (1,) * nd
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    axes = tuple(range(x.ndim - nd, x.ndim))
    view = np.lib.stride_tricks.sliding_window_view(x, span, axis=axes)
    index = (
        (Ellipsis,)
        + tuple(slice(None, None, s) for s in stride)
        + tuple(slice(None, None, d) for d in dilation)
    )
    return view[index]


def chunks(total: int, per_item_bytes: int, budget: int) -> Sequence[slice]:
    """Split ``range(total)`` into slices whose temporaries (``per_item_bytes`` each) fit ``budget``."""
    step = max(1, budget // max(per_item_bytes, 1))
    return [slice(i, min(i + step, total)) for i in range(0, total, step)]


# ------------------------------------------------------------------ convolution
def _prod(values: Sequence[int]) -> int:
    out = 1
    for v in values:
        out *= int(v)
    return out


def _row_chunks(n: int, rows: int, per_row_bytes: int, budget: int) -> list[tuple[slice, slice]]:
    """(batch slice, row slice) pairs covering ``n`` items of ``rows`` rows each, with at most
    ``budget`` bytes of temporaries per pair (whole items when one fits, else row ranges)."""
    per_item = per_row_bytes * rows
    if per_item <= budget or rows <= 1:
        return [(b, slice(0, rows)) for b in chunks(n, per_item, budget)]
    return [(slice(i, i + 1), r) for i in range(n) for r in chunks(rows, per_row_bytes, budget)]


def _phases(
    xp: np.ndarray,
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    out: Sequence[int],
    pads: PadPairs | None = None,
) -> tuple[np.ndarray, list[tuple[int, int]], tuple[int, ...]]:
    """Flatten the padded ``xp`` (N, C, *spatial) so that every kernel tap reads one contiguous
    run of a flat row: the polyphase split of a strided convolution.

    Returns ``(flat, taps, sizes)``: ``flat`` is (phases, N, C, F); tap ``t`` (in the kernel's
    C order) reads ``flat[p, :, :, shift : shift + L]`` with ``(p, shift) = taps[t]``, where
    output position (o0, o1, ...) sits at flat column ``o0·width + (o1, ...)`` flattened over the
    phase image's trailing sizes ``sizes[1:]`` (``width`` their product), ``L = out[0]·width``. Columns beyond ``out[1:]`` in each
    row are garbage to crop. With stride 1 there is one phase and no copy beyond a tail pad.

    ``pads`` (non-negative (before, after) pairs): zero padding still to apply, done while
    laying the input out (one copy instead of a padded copy and then the layout copy).
    """
    import itertools

    n, c = xp.shape[:2]
    nd = len(kernel)
    pads = list(pads) if pads is not None else [(0, 0)] * nd
    padded = [size + a + b for size, (a, b) in zip(xp.shape[2:], pads)]
    # each axis of size S splits into s phases of ceil(S / s) (zero-filled to fit)
    sizes = [-(-size // s) for size, s in zip(padded, stride)]
    # the phase image must also hold out + shift for every tap: grow it if needed
    need = [o + (d * (k - 1)) // s for o, k, s, d in zip(out, kernel, stride, dilation)]
    sizes = [max(a, b) for a, b in zip(sizes, need)]
    width = _prod(sizes[1:])
    length = out[0] * width
    shifts = [max((d * (k - 1)) // s, 0) for k, s, d in zip(kernel, stride, dilation)]
    tail = sum(sh * _prod(sizes[a + 1 :]) for a, sh in enumerate(shifts)) + length - _prod(sizes)
    tail = max(tail, 0)
    flat_len = _prod(sizes) + tail
    padding = any(a or b for a, b in pads)
    if all(s == 1 for s in stride) and list(sizes) == padded:
        flat = (np.zeros if padding else np.empty)((1, n, c, flat_len), dtype=xp.dtype)
        image = flat[0, :, :, : _prod(sizes)].reshape((n, c) + tuple(sizes))
        image[
            (slice(None), slice(None))
            + tuple(slice(a, a + e) for (a, _), e in zip(pads, xp.shape[2:]))
        ] = xp
        tail = 0  # already zero (or there is none to fill below: see the end)
        if not padding and flat_len > _prod(sizes):
            flat[..., _prod(sizes) :] = 0
    else:
        full = [sz * s for sz, s in zip(sizes, stride)]
        grid = np.zeros((n, c, *full), dtype=xp.dtype)
        # the input lands at its padding offset; whatever falls beyond the phase grid is unused
        keep = [min(e, f - a) for e, f, (a, _) in zip(xp.shape[2:], full, pads)]
        grid[
            (slice(None), slice(None)) + tuple(slice(a, a + k) for (a, _), k in zip(pads, keep))
        ] = xp[(slice(None), slice(None)) + tuple(slice(0, k) for k in keep)]
        # (n, c, sz0, s0, sz1, s1, ...) -> (s0, s1, ..., n, c, sz0, sz1, ...)
        split = grid.reshape((n, c) + tuple(v for pair in zip(sizes, stride) for v in pair))
        order = tuple(3 + 2 * a for a in range(nd)) + (0, 1) + tuple(2 + 2 * a for a in range(nd))
        phases = int(_prod(stride))
        flat = np.empty((phases, n, c, flat_len), dtype=xp.dtype)
        flat[..., : _prod(sizes)] = split.transpose(order).reshape(phases, n, c, -1)
    if tail:
        flat[..., _prod(sizes) :] = 0
    taps = []
    for offset in itertools.product(*[range(k) for k in kernel]):
        phase = 0
        shift = 0
        for a, (o, s, d) in enumerate(zip(offset, stride, dilation)):
            phase = phase * s + (o * d) % s
            shift += ((o * d) // s) * _prod(sizes[a + 1 :])
        taps.append((phase, shift))
    return flat, taps, tuple(sizes)


#: the size of the column-matrix pieces a convolution works in (bytes), measured best
COLUMN_PIECE = 8 << 20


def _row_slices(rows: int, width: int, per_col_bytes: int, budget: int) -> list[slice]:
    """Output row ranges whose flat columns (``per_col_bytes`` each) fit ``budget``."""
    return list(chunks(rows, per_col_bytes * width, budget))


def _workers() -> int:
    """Threads for the parts BLAS does not parallelise (NumPy releases the GIL in ufuncs)."""
    import os

    return max(1, min(2, os.cpu_count() or 1))


_POOL: Any = None


def _map(fn: Any, items: Sequence[Any]) -> None:
    """Run ``fn`` over independent ``items`` (each writes its own part of the result), on the
    shared worker threads when there are several items and cores; deterministic either way."""
    global _POOL
    if len(items) < 2 or _workers() < 2:
        for item in items:
            fn(item)
        return
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor

        _POOL = ThreadPoolExecutor(max_workers=_workers(), thread_name_prefix="convcalc")
    for _ in _POOL.map(fn, items):
        pass


_BLAS: Any = None  # (get, set) of the BLAS thread count once looked up; False when unavailable


def _blas_threads() -> Any:
    """NumPy's OpenBLAS thread-count functions ``(get, set)``, found with ctypes in the library
    NumPy ships (numpy.libs / .dylibs / scipy_openblas); ``None`` when there is no such library
    or symbol (another BLAS, another build): the callers then let BLAS thread as it likes."""
    global _BLAS
    if _BLAS is None:
        _BLAS = False
        try:
            import ctypes
            import glob
            import os

            here = os.path.dirname(np.__file__)
            paths = []
            for pattern in (
                "numpy.libs/*openblas*",
                "numpy/.dylibs/*openblas*",
                "scipy_openblas*/lib/*openblas*",
            ):
                paths += sorted(glob.glob(os.path.join(os.path.dirname(here), pattern)))
            for path in paths:
                lib = ctypes.CDLL(path)
                for prefix, suffix in (
                    ("scipy_openblas", "64_"),
                    ("scipy_openblas", ""),
                    ("openblas", "64_"),
                    ("openblas", ""),
                ):
                    get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                    put = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                    if get is not None and put is not None:
                        get.restype = ctypes.c_int
                        get.argtypes = []
                        put.restype = None
                        put.argtypes = [ctypes.c_int]
                        _BLAS = (get, put)
                        break
                if _BLAS:
                    break
        except Exception:  # pragma: no cover - any failure means: no thread control
            _BLAS = False
    return _BLAS or None


def _gemm_workers() -> int:
    """Python threads to run independent matrix products on, one BLAS thread each (1: run
    them one after the other, with BLAS's own threads)."""
    blas = _blas_threads()
    if blas is None:
        return 1
    return max(1, min(_workers(), int(blas[0]())))


def _map_gemm(fn: Any, items: Sequence[Any]) -> None:
    """Run ``fn`` (BLAS products on its own part of the result) over ``items`` on the worker
    threads with BLAS held to one thread each, for mid-size products often faster than one
    product on every core; BLAS's thread count is restored afterwards. Serial (BLAS threading
    as it likes) when there is one item or no thread control. Deterministic: each item is
    computed the same way whatever thread runs it."""
    workers = _gemm_workers()
    if len(items) < 2 or workers < 2:
        for item in items:
            fn(item)
        return
    blas = _blas_threads()
    if blas is None:
        _map(fn, items)
        return
    get, put = blas
    before = int(get())
    put(1)
    try:
        _map(fn, items)
    finally:
        put(before)


def conv(
    xp: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    stride: Sequence[int],
    dilation: Sequence[int],
    groups: int,
    budget: int,
    pads: PadPairs | None = None,
) -> np.ndarray:
    """Cross-correlation of the batched ``xp`` (N, C, *spatial), zero-padded by ``pads`` (if
    given; else already padded), with ``weight`` (C_out, C/groups, *kernel), as PyTorch's
    ConvNd computes it.

    The input is laid out flat per channel (split into stride phases when strided, see
    :func:`_phases`; the zero padding is applied in the same copy), so every kernel tap is one
    contiguous run. Standard convolution: the column matrix (N, C·∏k, L) is filled with one
    block copy per tap, then ONE ``np.matmul`` (one BLAS product per item) yields NC(spatial)
    order directly; a last copy crops the few padding columns and adds the bias. Grouped
    convolution: per tap, one batched matmul with the groups as the batch dimension straight
    on the flat runs (no column copy), accumulated. Pointwise convolution multiplies the input
    as it is. Depthwise (C/g == 1): a multiply-accumulate over kernel taps on the same flat
    runs, one cache-sized block of channel planes at a time, on both cores. Chunked over the
    batch, then over output rows, to keep the temporaries under ``budget`` bytes.
    """
    nd = weight.ndim - 2
    if pads is not None and (
        any(a < 0 or b < 0 for a, b in pads)
        or (all(k == 1 for k in weight.shape[2:]) and all(s == 1 for s in stride))
    ):
        xp = pad(xp, pads)
        pads = None
    pads = list(pads) if pads is not None else [(0, 0)] * nd
    n, c = xp.shape[:2]
    c_out, cig = weight.shape[:2]
    kernel = tuple(weight.shape[2:])
    span = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    padded = [size + a + b for size, (a, b) in zip(xp.shape[2:], pads)]
    out = [(size - sp) // s + 1 for size, sp, s in zip(padded, span, stride)]
    g = groups
    cog = c_out // g
    item = xp.dtype.itemsize
    taps_n = _prod(kernel)
    bias_b = None if bias is None else bias.reshape((c_out,) + (1,) * nd)
    if all(k == 1 for k in kernel) and all(s == 1 for s in stride):
        y = np.empty((n, c_out, *out), dtype=xp.dtype)
        np.matmul(
            weight.reshape(g, cog, cig), xp.reshape(n, g, cig, -1), out=y.reshape(n, g, cog, -1)
        )
        if bias_b is not None:
            y += bias_b
        return y
    flat, taps, sizes = _phases(xp, kernel, stride, dilation, out, pads)
    width = _prod(sizes[1:])
    garbage = (slice(None), slice(None), slice(None)) + tuple(slice(0, o) for o in out[1:])
    y = np.empty((n, c_out, *out), dtype=xp.dtype)
    if cig == 1 and g > 1:
        _depthwise_flat(flat, taps, weight.reshape(g, cog, taps_n), out, sizes, bias, y, budget)
        return y
    direct = g > 1 and cig >= GROUPED_DIRECT_MIN
    k_g = cig * taps_n
    if direct:
        # per tap (g, cog, cig), C-contiguous, for the groups-as-batch products
        wtap = np.ascontiguousarray(np.moveaxis(weight.reshape(g, cog, cig, taps_n), 3, 0))
        per_col = 2 * c_out * item  # the accumulator and one product
    else:
        wg = weight.reshape(g, cog, k_g)
        per_col = (c * taps_n + c_out) * item  # the column matrix and the product
    per_item = per_col * out[0] * width
    # grouped: many small products, on which BLAS threads poorly; one BLAS thread per worker
    # thread is faster there (dense products measured no better, or worse, that way)
    workers = _gemm_workers() if g > 1 else 1
    # a column matrix much larger than the caches costs more to write than it saves in BLAS
    # calls: work in pieces of about COLUMN_PIECE bytes even when the budget allows more;
    # with several workers each has a piece in flight, and there are at least as many pieces
    limit = min(budget // workers, max(COLUMN_PIECE, per_col * width))
    if workers > 1 and n * out[0] > 1:
        limit = min(limit, max(per_col * width, -(-per_item * n // workers)))
    limit = max(limit, 1)
    if per_item <= limit or out[0] <= 1:
        pieces = [(b, slice(0, out[0])) for b in chunks(n, per_item, limit)]
    else:
        pieces = [
            (slice(i, i + 1), r)
            for i in range(n)
            for r in _row_slices(out[0], width, per_col, limit)
        ]

    def work(part: tuple[slice, slice]) -> None:
        bs, rs = part
        m = len(range(*bs.indices(n)))
        rows = rs.stop - rs.start
        length = rows * width
        base = rs.start * width
        if direct:
            prod = np.empty((m, g, cog, length), dtype=xp.dtype)
            tmp = np.empty_like(prod)
            for t, (phase, shift) in enumerate(taps):
                run = flat[phase, bs, :, base + shift : base + shift + length].reshape(
                    m, g, cig, length
                )
                np.matmul(wtap[t], run, out=prod if t == 0 else tmp)
                if t:
                    prod += tmp
        else:
            cols = np.empty((m, c, taps_n, length), dtype=xp.dtype)
            for t, (phase, shift) in enumerate(taps):
                cols[:, :, t] = flat[phase, bs, :, base + shift : base + shift + length]
            prod = np.matmul(wg, cols.reshape(m, g, k_g, length))  # (m, g, cog, L)
        full = prod.reshape((m, c_out, rows) + sizes[1:])
        target = y[bs, :, rs]
        if bias_b is not None:
            np.add(full[garbage], bias_b, out=target)
        else:
            target[...] = full[garbage]

    _map_gemm(work, pieces)
    return y


#: grouped convolution multiplies straight on the flat runs (no column matrix) from this C/g on
GROUPED_DIRECT_MIN = 8

#: bytes of output a depthwise block works on (its accumulator and scratch stay in L2)
DEPTHWISE_BLOCK = 1 << 18


def _depthwise_flat(
    flat: np.ndarray,
    taps: list[tuple[int, int]],
    wd: np.ndarray,
    out: Sequence[int],
    sizes: tuple[int, ...],
    bias: np.ndarray | None,
    y: np.ndarray,
    budget: int,
) -> None:
    """Depthwise convolution (depth multiplier m = wd.shape[1]) on flat channel planes.

    y[n, c·m + j] = Σ_t wd[c, j, t] · x[n, c, tap t] (+ bias): per tap one multiply and one
    add over whole planes, over blocks of planes sized to stay in cache, the blocks shared
    out between the cores (each block writes only its own planes of ``y``)."""
    _, n, c, _ = flat.shape
    g, m, _ = wd.shape
    rest = tuple(out[1:])
    length = out[0] * _prod(sizes[1:])
    item = flat.dtype.itemsize
    planes = n * c
    workers = _workers()
    per_plane = 2 * m * length * item  # accumulator and scratch
    step = max(1, min(DEPTHWISE_BLOCK, budget // workers) // max(per_plane, 1))
    if workers > 1 and planes > 1:
        step = min(step, -(-planes // workers))  # at least one block per worker
    wflat = np.broadcast_to(wd[None], (n, g, m, wd.shape[2])).reshape(planes, m, -1)
    bflat = (
        None
        if bias is None
        else np.broadcast_to(bias.reshape(1, g, m), (n, g, m)).reshape(planes, m, 1)
    )
    src = flat.reshape(flat.shape[0], planes, -1)
    yv = y.reshape(planes, m, *out)
    crop_index = (slice(None), slice(None), slice(None)) + tuple(slice(0, o) for o in rest)

    starts = list(range(0, planes, step))
    share = -(-len(starts) // workers)

    def worker(first: int) -> None:
        # one accumulator and scratch per worker, reused block after block (a fresh large
        # buffer per block would be page-faulted in again every time)
        acc_all = np.empty((min(step, planes), m, length), dtype=flat.dtype)
        tmp_all = np.empty_like(acc_all)
        for p0 in starts[first : first + share]:
            block(p0, acc_all, tmp_all)

    def block(p0: int, acc_all: np.ndarray, tmp_all: np.ndarray) -> None:
        p1 = min(p0 + step, planes)
        acc = acc_all[: p1 - p0]
        tmp = tmp_all[: p1 - p0]
        for t, (phase, shift) in enumerate(taps):
            run = src[phase, p0:p1, None, shift : shift + length]
            wt = wflat[p0:p1, :, t, None]
            if t == 0:
                np.multiply(run, wt, out=acc)
            else:
                np.multiply(run, wt, out=tmp)
                acc += tmp
        crop = acc.reshape((p1 - p0, m, out[0]) + sizes[1:])[crop_index]
        if bflat is not None:
            np.add(crop, bflat[p0:p1].reshape((p1 - p0, m) + (1,) * len(out)), out=yv[p0:p1])
        else:
            yv[p0:p1] = crop

    _map(worker, list(range(0, len(starts), share)))


def conv_transpose(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    stride: Sequence[int],
    padding: Sequence[int],
    output_padding: Sequence[int],
    dilation: Sequence[int],
    groups: int,
    budget: int,
) -> np.ndarray:
    """PyTorch's ConvTransposeNd on the batched ``x`` (N, C_in, *spatial), ``weight``
    (C_in, C_out/groups, *kernel).

    One BLAS product per (item, group) scatters every input pixel to its kernel footprint,
    ``cols = Wᵀ x`` of shape (N, C_out, *kernel, *in); an overlap-add (col2im: one strided
    add per kernel offset) sums the footprints into the uncropped output, from which
    ``padding`` is cropped on both sides (``output_padding`` extends the far side).
    Chunked over the batch, then over input rows, under ``budget`` bytes.
    """
    import itertools

    nd = weight.ndim - 2
    n, c_in = x.shape[:2]
    cog = weight.shape[1]
    kernel = weight.shape[2:]
    g = groups
    cig = c_in // g
    c_out = cog * g
    inp = x.shape[2:]
    kk = _prod(kernel)
    full = [(i - 1) * s + d * (k - 1) + 1 for i, s, d, k in zip(inp, stride, dilation, kernel)]
    out = [f - 2 * p + op for f, p, op in zip(full, padding, output_padding)]
    size = [max(f, p + o) for f, p, o in zip(full, padding, out)]
    yf = np.zeros((n, c_out, *size), dtype=x.dtype)
    wt = weight.reshape(g, cig, cog * kk).transpose(0, 2, 1)  # (g, cog·∏k, cig), a view
    rest = _prod(inp[1:])
    per_row = c_out * kk * rest * x.dtype.itemsize
    for bs, rs in _row_chunks(n, inp[0], per_row, budget):
        part = x[bs, :, rs]
        m = part.shape[0]
        rows = rs.stop - rs.start
        sub = (rows,) + tuple(inp[1:])
        cols = np.matmul(wt, part.reshape(m, g, cig, rows * rest))  # (m, g, cog·∏k, pixels)
        cols = cols.reshape((m, c_out) + tuple(kernel) + sub)
        target = yf[bs]
        for offset in itertools.product(*[range(k) for k in kernel]):
            index: list[slice] = [slice(None), slice(None)]
            for a, (o, s, d, cnt) in enumerate(zip(offset, stride, dilation, sub)):
                b = o * d + (rs.start * s if a == 0 else 0)
                index.append(slice(b, b + (cnt - 1) * s + 1, s))
            target[tuple(index)] += cols[(slice(None), slice(None)) + offset]
    crop = (slice(None), slice(None)) + tuple(slice(p, p + o) for p, o in zip(padding, out))
    y = yf[crop]
    if y.shape != yf.shape:
        y = np.ascontiguousarray(y)
    if bias is not None:
        y += bias.reshape((c_out,) + (1,) * nd)
    return y
