"""NumPy building blocks shared by the layers' forward kernels.

Imported only by ``forward`` methods and the runner, never by ``convcalc shape``.
Everything works on the trailing ``nd`` spatial axes of an array and returns
views where it can.
"""

from __future__ import annotations

import functools
import itertools
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from .cores import MOST_THREADS, cpu_count
from .shape import transpose_phases

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


def padded_rows(
    x: np.ndarray, axis: int, first: int, stop: int, pad_before: int, mode: str
) -> np.ndarray:
    """Rows ``first … stop - 1`` of ``x`` padded along ``axis`` in ``mode`` (reflect, replicate
    or circular: torch's F.pad; the pad before is ``pad_before``), gathered without padding
    the rest: a slab of a padded input, from the rows it takes."""
    size = x.shape[axis]
    rows = np.arange(first, stop) - pad_before  # in the input's own indices
    if mode == "reflect":
        period = 2 * (size - 1)
        rows = np.abs(rows) % period if period else np.zeros_like(rows)
        rows = np.where(rows >= size, period - rows, rows)
    elif mode == "replicate":
        rows = np.clip(rows, 0, size - 1)
    else:  # circular
        rows = rows % size
    return np.take(x, rows, axis=axis)


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


def item_parts(n: int, m: int, per_item_bytes: int, budget: int) -> list[tuple[slice, slice]]:
    """``(items, part)`` pieces of an (N, M, …) tensor, ``part`` a slice of its second axis
    (channels, or positions when flattened), whose temporaries (``per_item_bytes`` per item,
    spread evenly along that axis) fit ``budget``: whole items while one fits, else parts of
    one item at a time (a single element of that axis may still exceed the budget)."""
    if per_item_bytes <= budget or m <= 1:
        return [(part, slice(0, m)) for part in chunks(n, per_item_bytes, budget)]
    per = -(-per_item_bytes // m)
    return [(slice(i, i + 1), part) for i in range(n) for part in chunks(m, per, budget)]


# ------------------------------------------------------------------ scratch memory
#: temporaries up to this size are kept between calls for reuse (per thread and purpose)
SCRATCH_KEEP = 16 << 20

# thread id → purpose → kept buffer
_SCRATCH: dict[int, dict[str, np.ndarray]] = {}


def scratch(purpose: str, shape: Sequence[int], dtype: Any) -> np.ndarray:
    """An uninitialised C-contiguous array for a temporary, reused between calls.

    A fresh large array is fresh pages from the system, and on many machines touching them
    costs about as much as the arithmetic done in them; so each thread keeps one buffer per
    ``purpose`` (at most ``SCRATCH_KEEP`` bytes) and hands out a view of it, until
    :func:`release_scratch`. Two temporaries alive at once must have different purposes; no
    result may be a view of one."""
    import threading

    dtype = np.dtype(dtype)
    nbytes = _prod(shape) * dtype.itemsize
    if nbytes > SCRATCH_KEEP:
        return np.empty(tuple(shape), dtype=dtype)
    pool = _SCRATCH.setdefault(threading.get_ident(), {})
    buf = pool.get(purpose)
    if buf is None or buf.nbytes < nbytes:
        # the smaller one goes first (this name held it too): never both at once
        buf = None
        pool.pop(purpose, None)
        buf = pool[purpose] = np.empty(max(nbytes, 1), dtype=np.uint8)
    return buf[:nbytes].view(dtype).reshape(tuple(shape))


def release_scratch() -> None:
    """Drop every thread's kept temporaries."""
    _SCRATCH.clear()


class keeping:
    """``with keeping(limit):`` keeps temporaries of at most ``limit`` bytes (and never more
    than SCRATCH_KEEP) between calls, and drops them all on exit: a run's memory limit then
    bounds what it keeps, and nothing outlives it."""

    def __init__(self, limit: int) -> None:
        self.limit = max(0, int(limit))
        self.saved = SCRATCH_KEEP

    def __enter__(self) -> keeping:
        global SCRATCH_KEEP
        self.saved = SCRATCH_KEEP
        SCRATCH_KEEP = min(SCRATCH_KEEP, self.limit)
        return self

    def __exit__(self, *exc: object) -> None:
        global SCRATCH_KEEP
        SCRATCH_KEEP = self.saved
        release_scratch()


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
    channels_first: bool = False,
) -> tuple[np.ndarray, tuple[tuple[int, int], ...], tuple[int, ...]]:
    """Flatten the padded ``xp`` (N, C, *spatial) so that every kernel tap reads one contiguous
    run of a flat row: the polyphase split of a strided convolution.

    Returns ``(flat, taps, sizes)``: ``flat`` is (phases, N, C, F); tap ``t`` (in the kernel's
    C order) reads ``flat[p, :, :, shift : shift + L]`` with ``(p, shift) = taps[t]``, where
    output position (o0, o1, ...) sits at flat column ``o0·width + (o1, ...)`` flattened over the
    phase image's trailing sizes ``sizes[1:]`` (``width`` their product), ``L = out[0]·width``. Columns beyond ``out[1:]`` in each
    row are garbage to crop. With stride 1 there is one phase: the input copied into it, only
    the padding borders zeroed.

    ``pads`` (non-negative (before, after) pairs): zero padding still to apply, done while
    laying the input out (one copy instead of a padded copy and then the layout copy).
    ``channels_first``: ``flat`` is (phases, C, N, F) instead, so that one channel's rows of
    all the items lie back to back (one product can then cover every item).
    """
    if channels_first:
        xp = xp.swapaxes(0, 1)
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
    whole = _prod(sizes)
    flat_len = whole + tail
    stride1 = all(s == 1 for s in stride) and list(sizes) == padded
    flat = scratch("flat", (1 if stride1 else _prod(stride), n, c, flat_len), xp.dtype)

    def lay(part: slice) -> None:
        # the items (or channels) of ``part``: split between the threads on large inputs
        f = flat[:, part]
        src = xp[part]
        m = src.shape[0]
        if stride1:
            # the input copied into the middle, only the padding borders zeroed
            image = f[0, :, :, :whole].reshape((m, c) + tuple(sizes))
            inner = [slice(a, a + e) for (a, _), e in zip(pads, src.shape[2:])]
            for axis, ((a, b), e) in enumerate(zip(pads, src.shape[2:])):
                for edge in (slice(0, a), slice(a + e, a + e + b)):
                    if edge.stop > edge.start:
                        image[(slice(None),) * (2 + axis) + (edge,)] = 0
            image[(slice(None), slice(None), *inner)] = src
        else:
            # one strided copy per phase, straight from the input into its phase image
            f[...] = 0
            for phase, offsets in enumerate(itertools.product(*[range(s) for s in stride])):
                image = f[phase, :, :, :whole].reshape((m, c) + tuple(sizes))
                dst = [slice(None), slice(None)]
                at = [slice(None), slice(None)]
                for r, s, sz, (a, _), e in zip(offsets, stride, sizes, pads, src.shape[2:]):
                    # phase position q holds padded position q·s + r, input index q·s + r - a
                    lo = max(0, -(-(a - r) // s))
                    hi = max(lo, min(sz, -(-(a + e - r) // s)))
                    dst.append(slice(lo, hi))
                    at.append(slice(lo * s + r - a, lo * s + r - a + (hi - lo - 1) * s + 1, s))
                if all(d.stop > d.start for d in dst[2:]):
                    image[tuple(dst)] = src[tuple(at)]
        if tail and stride1:
            f[..., whole:] = 0

    split_run(lay, n, flat.shape[0] * c * flat_len)
    return flat, tap_phases(kernel, stride, dilation, sizes), tuple(sizes)


def tap_phases(
    kernel: Sequence[int], stride: Sequence[int], dilation: Sequence[int], sizes: Sequence[int]
) -> tuple[tuple[int, int], ...]:
    """Per kernel offset (in C order): the stride phase it falls in, and its shift in the flat
    phase image of ``sizes``: offset o·d lands in phase (o·d) mod s, (o·d) // s further on.
    (Remembered per geometry: a network repeats its layers' geometries, and a 7×7 kernel has
    49 taps to work out.)"""
    return _tap_phases(
        tuple(map(int, kernel)),
        tuple(map(int, stride)),
        tuple(map(int, dilation)),
        tuple(map(int, sizes)),
    )


@functools.lru_cache(maxsize=1024)
def _tap_phases(
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    sizes: tuple[int, ...],
) -> tuple[tuple[int, int], ...]:
    # per axis and offset: (phase index along the axis, flat shift)
    axes = [
        [((o * d) % s, ((o * d) // s) * _prod(sizes[a + 1 :])) for o in range(k)]
        for a, (k, s, d) in enumerate(zip(kernel, stride, dilation))
    ]
    taps = []
    for combo in itertools.product(*axes):
        phase = 0
        shift = 0
        for (p, sh), s in zip(combo, stride):
            phase = phase * s + p
            shift += sh
        taps.append((phase, shift))
    return tuple(taps)


class TapPlan:
    """Where one kernel tap's view of the zero-padded input lands in an output-grid array:
    ``dst[..., o] = x_padded[..., o·s + offset·d]`` over the trailing axes (output rows counted
    from ``first_row`` on the first), as ``copy`` (dst index, src index: one strided copy from
    the unpadded input) and ``zero`` (the dst indices that fall in the padding)."""

    def __init__(
        self,
        x_shape: Sequence[int],
        out: Sequence[int],
        offset: Sequence[int],
        stride: Sequence[int],
        dilation: Sequence[int],
        pads: PadPairs,
        first_row: int = 0,
    ) -> None:
        nd = len(offset)
        src: list[slice] = []
        keep: list[slice] = []
        for a, (o, s, d, (before, _)) in enumerate(zip(offset, stride, dilation, pads)):
            size = x_shape[len(x_shape) - nd + a]
            count = out[a]
            start = first_row if a == 0 else 0
            # output index j reads input index (start + j)·s + o·d - before, valid in [0, size)
            at = o * d - before + start * s
            lo = min(count, max(0, -(at // s)))
            hi = max(lo, min(count, (size - 1 - at) // s + 1))
            keep.append(slice(lo, hi))
            src.append(slice(at + lo * s, at + (hi - 1) * s + 1 if hi > lo else at + lo * s, s))
        self.zero: list[tuple[slice, ...]] = []
        for a, k in enumerate(keep):
            if k.start > 0 or k.stop < out[a]:
                before_axes = (slice(None),) * a
                after_axes = (slice(None),) * (nd - a - 1)
                self.zero.append(before_axes + (slice(0, k.start),) + after_axes)
                self.zero.append(before_axes + (slice(k.stop, out[a]),) + after_axes)
        self.copy = (tuple(keep), tuple(src)) if all(k.stop > k.start for k in keep) else None

    def fill_zeros(self, dst: np.ndarray) -> None:
        lead = (Ellipsis,)
        for index in self.zero:
            dst[lead + index] = 0

    def copy_into(self, dst: np.ndarray, x: np.ndarray) -> None:
        if self.copy is not None:
            keep, src = self.copy
            dst[(Ellipsis,) + keep] = x[(Ellipsis,) + src]


def gather_tap(
    dst: np.ndarray,
    x: np.ndarray,
    offset: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    pads: PadPairs,
    first_row: int = 0,
) -> None:
    """Write one kernel tap's view of the zero-padded ``x`` into ``dst``, cropped exactly to
    the output grid (see :class:`TapPlan`): the padding is never materialised, the part of
    ``dst`` that falls in it is zeroed, the rest is one strided copy from ``x``."""
    nd = len(offset)
    plan = TapPlan(x.shape, dst.shape[dst.ndim - nd :], offset, stride, dilation, pads, first_row)
    plan.fill_zeros(dst)
    plan.copy_into(dst, x)


#: the size of the column-matrix pieces a convolution works in (bytes), measured best
COLUMN_PIECE = 16 << 20


def _row_slices(rows: int, width: int, per_col_bytes: int, budget: int) -> list[slice]:
    """Output row ranges whose flat columns (``per_col_bytes`` each) fit ``budget``."""
    return list(chunks(rows, per_col_bytes * width, budget))


#: the most threads the kernels use (None: the machine's cores, at most two of our own)
THREADS: int | None = None


@functools.lru_cache(maxsize=1)
def _cpus() -> int:
    return cpu_count()


def _workers() -> int:
    """Threads for the parts BLAS does not parallelise (NumPy releases the GIL in ufuncs)."""
    return max(1, min(MOST_THREADS, THREADS or _cpus()))


class threads:
    """``with threads(n):`` runs the kernels on at most ``n`` threads, ours and BLAS's (as
    ``torch.set_num_threads`` does for torch); both are restored on exit. Without OpenBLAS
    thread control only our own threads are limited."""

    def __init__(self, n: int) -> None:
        self.n = max(1, int(n))
        self.saved: tuple[int | None, int | None] = (None, None)

    def __enter__(self) -> threads:
        global THREADS
        blas = _blas_threads()
        self.saved = (THREADS, int(blas[0]()) if blas else None)
        THREADS = self.n
        if blas:
            blas[1](self.n)
        return self

    def __exit__(self, *exc: object) -> None:
        global THREADS
        THREADS, before = self.saved
        blas = _blas_threads()
        if blas and before is not None:
            blas[1](before)


_POOL: Any = None
_PREFIX = "convcalc-worker"


def _map(fn: Any, items: Sequence[Any]) -> None:
    """Run ``fn`` over independent ``items`` (each writes its own part of the result), on the
    shared worker threads when there are several items and cores; deterministic either way."""
    global _POOL
    # a worker thread runs its own nested work serially (waiting on the pool from inside it
    # could leave no thread free to do the waited-for work)
    if len(items) < 2 or _workers() < 2 or threading.current_thread().name.startswith(_PREFIX):
        for item in items:
            fn(item)
        return
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor

        _POOL = ThreadPoolExecutor(max_workers=_workers(), thread_name_prefix=_PREFIX)
    # the caller's floating-point error handling holds on the workers too (NumPy keeps it
    # per thread)
    handling = np.geterr()

    def run(item: Any) -> None:
        with np.errstate(**handling):
            fn(item)

    for _ in _POOL.map(run, items):
        pass


#: element-wise work on at least this many elements is split between the cores (measured: on
#: smaller tensors a second thread costs more than it saves)
PARALLEL_MIN = 1 << 20


def split_run(fn: Any, total: int, unit: int = 1) -> None:
    """``fn(part)`` over slices covering ``range(total)``: one slice, or one per worker thread
    when the items (``unit`` elements each) add up to at least PARALLEL_MIN elements. For a
    few large NumPy calls per part (they release the GIL): many small calls on two threads
    mostly wait on each other."""
    workers = _workers() if total * unit >= PARALLEL_MIN and total > 1 else 1
    step = max(1, -(-total // workers))
    _map(fn, [slice(i, min(i + step, total)) for i in range(0, total, step)] or [slice(0, 0)])


_BLAS: Any = None  # the looked-up OpenBLAS entry points (a dict), or False when unavailable


def _openblas() -> dict[str, Any] | None:
    """The OpenBLAS library NumPy ships (numpy.libs / .dylibs / scipy_openblas), found once with
    ctypes: ``{"threads": (get, set), "gemm": {dtype: cblas_?gemm}, "core": name}`` (``gemm``
    may be empty, ``core`` None);
    ``None`` when there is no such library or symbol (another BLAS, another build): callers
    then use NumPy's own products and let BLAS thread as it likes."""
    global _BLAS
    if _BLAS is None:
        _BLAS = False
        try:
            _BLAS = _find_openblas() or False
        except Exception:  # pragma: no cover - any failure means: no direct BLAS
            _BLAS = False
    return _BLAS or None


def prepare() -> None:
    """The kernels' one-time set-up (finding NumPy's OpenBLAS: about a millisecond), for a
    runner to do before it times anything, so that the first layer is not charged for it."""
    _openblas()


def _find_openblas() -> dict[str, Any] | None:
    import ctypes
    import glob
    import os

    here = os.path.dirname(np.__file__)
    paths: list[str] = []
    for pattern in (
        "numpy.libs/*openblas*",
        "numpy/.dylibs/*openblas*",
        "scipy_openblas*/lib/*openblas*",
    ):
        paths += sorted(glob.glob(os.path.join(os.path.dirname(here), pattern)))
    for path in paths:
        lib = ctypes.CDLL(path)
        # (threads prefix, cblas prefix, suffix): NumPy 2's scipy-openblas, then older builds;
        # the "64_" builds take 64-bit integers
        for tprefix, cprefix, suffix in (
            ("scipy_openblas", "scipy_cblas", "64_"),
            ("scipy_openblas", "scipy_cblas", ""),
            ("openblas", "cblas", "64_"),
            ("openblas", "cblas", ""),
        ):
            get = getattr(lib, f"{tprefix}_get_num_threads{suffix}", None)
            put = getattr(lib, f"{tprefix}_set_num_threads{suffix}", None)
            if get is None or put is None:
                continue
            get.restype = ctypes.c_int
            get.argtypes = []
            put.restype = None
            put.argtypes = [ctypes.c_int]
            found: dict[str, Any] = {"threads": (get, put), "gemm": {}, "core": None}
            corename = getattr(lib, f"{tprefix}_get_corename{suffix}", None)
            if corename is not None:
                corename.restype = ctypes.c_char_p
                corename.argtypes = []
                found["core"] = (corename() or b"").decode("ascii", "replace") or None
            # the integer width the library was built with, from its own configuration string
            # (without it, no direct products: a wrong width would corrupt the call)
            config = getattr(lib, f"{tprefix}_get_config{suffix}", None)
            if config is None:
                return found
            config.restype = ctypes.c_char_p
            config.argtypes = []
            wide = b"USE64BITINT" in (config() or b"")
            index = ctypes.c_int64 if wide else ctypes.c_int
            for dtype, letter, scalar in (
                (np.float32, "s", ctypes.c_float),
                (np.float64, "d", ctypes.c_double),
            ):
                fn = getattr(lib, f"{cprefix}_{letter}gemm{suffix}", None)
                if fn is None:
                    continue
                enum, ptr = ctypes.c_int, ctypes.c_void_p
                fn.restype = None
                fn.argtypes = [enum, enum, enum, index, index, index, scalar, ptr, index]
                fn.argtypes += [ptr, index, scalar, ptr, index]
                if _gemm_works(fn, np.dtype(dtype)):
                    found["gemm"][np.dtype(dtype)] = fn
            return found
    return None


def _gemm_works(fn: Any, dtype: np.dtype) -> bool:
    """A found ``cblas_?gemm`` computes a small product, with β = 1, as ``np.matmul`` does."""
    a = np.arange(6, dtype=dtype).reshape(2, 3)
    b = np.arange(12, dtype=dtype).reshape(3, 4) - 5
    c = np.ones((2, 4), dtype=dtype)
    fn(101, 111, 111, 2, 4, 3, 1.0, a.ctypes.data, 3, b.ctypes.data, 4, 1.0, c.ctypes.data, 4)
    return bool(np.array_equal(c, a @ b + 1))


def blas_core() -> str | None:
    """The name of the kernels NumPy's OpenBLAS runs ("Haswell", "SkylakeX", …: its own choice
    for the CPU, or the one ``OPENBLAS_CORETYPE`` names), or ``None`` when that is not known
    (another BLAS)."""
    blas = _openblas()
    return None if blas is None else blas["core"]


def _blas_threads() -> Any:
    """NumPy's OpenBLAS thread-count functions ``(get, set)``, or ``None`` (see :func:`_openblas`)."""
    blas = _openblas()
    return None if blas is None else blas["threads"]


def _gemm(dtype: np.dtype) -> Any:
    """OpenBLAS's row-major ``cblas_?gemm`` for ``dtype``, or ``None``: it multiplies matrices
    given by pointer and leading dimension (a strided run of a flat image needs no copy) and
    accumulates (``beta = 1``), which ``np.matmul`` cannot."""
    if not USE_DIRECT_GEMM:
        return None
    blas = _openblas()
    return None if blas is None else blas["gemm"].get(np.dtype(dtype))


#: multiply through OpenBLAS's cblas_?gemm directly when it is found (off: NumPy's matmul only)
USE_DIRECT_GEMM = True


def _gemm_workers() -> int:
    """Python threads to run independent matrix products on, one BLAS thread each (1: run
    them one after the other, with BLAS's own threads)."""
    blas = _blas_threads()
    if blas is None:
        return 1
    return max(1, min(_workers(), int(blas[0]())))


def _map_gemm(fn: Any, items: Sequence[Any], small: bool = False) -> None:
    """Run ``fn`` (BLAS products on its own part of the result) over ``items`` on the worker
    threads with BLAS held to one thread each, for mid-size products often faster than one
    product on every core; BLAS's thread count is restored afterwards. Serial when there is
    one item or no thread control, BLAS threading as it likes, unless the products are
    ``small`` (BLAS then held to one thread too: splitting a small product between cores costs
    more than it saves). Deterministic: each item is computed the same way whatever thread
    runs it."""
    workers = _gemm_workers()
    serial = len(items) < 2 or workers < 2
    blas = _blas_threads()
    if blas is None or (serial and not small):
        for item in items:
            fn(item)
        return
    get, put = blas
    before = int(get())
    put(1)
    try:
        if serial:
            for item in items:
                fn(item)
        else:
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
    split: bool = True,
) -> np.ndarray:
    """Cross-correlation of the batched ``xp`` (N, C, *spatial), zero-padded by ``pads`` (if
    given; else already padded), with ``weight`` (C_out, C/groups, *kernel), as PyTorch's
    ConvNd computes it. ``split``: an input too large for ``budget`` is worked in slabs of
    output rows (:func:`_row_slabs`; off for the slabs themselves). The path depends on the
    shape (each measured faster where it is used):

    - pointwise: the input multiplied as it is (the bias written first, BLAS adding to it);
    - depthwise (C/g == 1): the taps of a block of planes gathered, then one batched product
      per plane (:func:`_depthwise_exact`, :func:`_depthwise_flat`);
    - standard convolution with few output positions (small images, deep layers): the column
      matrix channels-last, one product per item (:func:`_channels_last`);
    - standard convolution with wide input on a large image: one BLAS product per tap on the
      flat padded image, accumulated in place (:func:`_tap_products`);
    - grouped with wide groups: per tap one product batched over the groups, accumulated;
    - otherwise the column matrix, gathered per tap (already cropped to the output grid when
      rows are long: straight from the input, or from the stride phases' contiguous runs),
      and one product (per group) written straight into the output.

    Flat layouts come from :func:`_phases` (the zero padding applied in the same copy), where
    every tap is one contiguous run; their few padding columns are cropped at the end, with
    the bias. Chunked over the batch, then over output rows, to keep the temporaries under
    ``budget`` bytes; independent pieces run on the worker threads where that measured faster.
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
        # a single product (one item, one group) with a bias: through BLAS onto the bias
        gemm = _gemm(xp.dtype) if bias is not None and n == 1 and g == 1 else None
        if gemm is not None:
            assert bias_b is not None
            y[...] = bias_b
            _pointwise_onto(gemm, xp, weight, g, y)
            return y
        np.matmul(
            weight.reshape(g, cog, cig), xp.reshape(n, g, cig, -1), out=y.reshape(n, g, cog, -1)
        )
        if bias_b is not None:
            y += bias_b
        return y
    garbage = (slice(None), slice(None), slice(None)) + tuple(slice(0, o) for o in out[1:])
    y = np.empty((n, c_out, *out), dtype=xp.dtype)
    # long output rows: gather the taps already cropped to the output grid, straight from the
    # unpadded input (short rows copy better as whole flat runs, cropped at the end)
    # one thread, many output channels, stride 1: the flat layout's padding columns would
    # cost more product than the strided gather of the exact one costs (a 3×3 at 7×7 multiplies
    # 9 columns per 7; measured 6–20 % faster at 1 thread, no better at 2)
    wide = (
        _workers() == 1 and g == 1 and c_out >= EXACT_MIN_CHANNELS and all(s == 1 for s in stride)
    )
    exact = nd == 1 or out[-1] >= EXACT_MIN_WIDTH or wide
    offsets = list(itertools.product(*[range(k) for k in kernel]))
    if cig == 1 and g > 1:
        # a plane too large to gather whole within the budget: in slabs of output rows (per
        # output row of a plane: the gathered taps and the product, over a row as wide as
        # the stride phases' (at least the output's))
        wide_row = _prod([-(-p // st) for p, st in zip(padded[1:], stride[1:])])
        per_row = (taps_n + 1 + cog) * wide_row * item
        if split and out[0] > 1 and per_row * out[0] > budget:
            per_row *= _workers()  # each worker thread gathers its own plane
            _row_slabs(xp, weight, bias, stride, dilation, g, pads, out, y, budget, per_row)
            return y
        wd = weight.reshape(g, cog, taps_n)
        strided = any(st > 1 for st in stride)
        if SHIFTED_DEPTHWISE and not strided and out == list(xp.shape[2:]):
            _depthwise_shifted(xp, wd, kernel, dilation, pads, bias, y, budget)
        elif _strided_depthwise_exact(xp, out, taps_n) if strided and nd > 1 else exact:
            _depthwise_exact(xp, wd, offsets, stride, dilation, pads, bias, y, budget)
        elif nd == 2 and not strided and sum(pads[1]) == dilation[1] * (kernel[1] - 1):
            # output rows as wide as the input's: planes without padding columns, no crop
            src, f, taps, sizes, masks = _same_width(xp, kernel, dilation, pads)
            _depthwise_flat(src, f, taps, wd, out, sizes, bias, y, budget, masks)
        else:
            flat, taps, sizes = _phases(xp, kernel, stride, dilation, out, pads)
            src = flat.reshape(flat.shape[0], -1)
            _depthwise_flat(src, flat.shape[-1], taps, wd, out, sizes, bias, y, budget)
        return y
    # an input whose flat copy alone would take half the budget: in slabs of output rows
    if split and out[0] > 1 and n * c * _prod(padded) * item > budget // 2:
        _row_slabs(xp, weight, bias, stride, dilation, g, pads, out, y, budget)
        return y
    # few output positions: the column matrix in channels-last order (its copies run along
    # the channels, not along rows a few elements long) and one product per item (and group)
    if (
        (
            g == 1
            or (cig >= GROUPED_DIRECT_MIN and _prod(out) <= GROUPED_CHANNELS_LAST_MAX_POSITIONS)
        )
        and _prod(out) <= CHANNELS_LAST_MAX_POSITIONS
        and c >= CHANNELS_LAST_MIN_CHANNELS
        and (_prod(padded) * c + _prod(out) * c * taps_n) * item * min(n, _workers()) <= budget
    ):
        _channels_last(xp, weight, bias, stride, dilation, pads, out, y, g)
        return y
    # per-tap products: measured faster than the column matrix for wide standard convolution
    # on large images (long runs); small images and grouped products do better without them
    tap_gemm = g == 1 and cig >= TAP_GEMM_MIN and _prod(out) >= TAP_GEMM_MIN_LENGTH
    gemm = _gemm(xp.dtype) if tap_gemm else None
    direct = gemm is None and g > 1 and cig >= GROUPED_DIRECT_MIN
    # the column matrix (standard or narrow grouped convolution) in the output's own layout:
    # the product is then written straight into y, with the bias as one more column row of
    # ones (standard convolution)
    exact = exact and gemm is None and not direct
    # strided, the taps are read from the stride phases (contiguous runs, cropped while
    # copied), which copies faster than strided reads of the input
    from_input = exact and all(st == 1 for st in stride)
    # grouped, through BLAS on pointers when it is found: every tap's product accumulates in
    # place, over all the items at once (channels-first layout)
    ggemm = (
        _gemm(xp.dtype)
        if direct and (out[0] * _prod(padded[1:]) >= GROUPED_POINTER_MIN_LENGTH)
        else None
    )
    if not from_input:
        flat, taps, fsizes = _phases(
            xp,
            kernel,
            stride,
            dilation,
            out,
            pads,
            channels_first=gemm is not None or ggemm is not None,
        )
        fwidth = _prod(fsizes[1:])
    if direct:
        wtap = np.ascontiguousarray(
            np.moveaxis(weight.reshape(g, cog, cig, taps_n), 3, 0), dtype=xp.dtype
        )
        _grouped_products(flat, taps, wtap, out, fsizes, bias, y, budget, ggemm)
        return y
    sizes = tuple(out) if exact else fsizes
    width = _prod(sizes[1:])
    k_g = cig * taps_n
    if gemm is not None:
        # per tap (C_out, C), C-contiguous, in the input's dtype, for pointer products
        wtap = np.ascontiguousarray(
            np.moveaxis(weight.reshape(c_out, cig, taps_n), 2, 0), dtype=xp.dtype
        )
        per_col = c_out * item  # the accumulator only
    else:
        wg = weight.reshape(g, cog, k_g)
        per_col = (c * taps_n + 1 + c_out) * item  # the column matrix and the product
    ones = exact and g == 1 and bias is not None
    if ones:
        assert bias is not None
        wg = np.concatenate([wg, bias.reshape(1, c_out, 1).astype(wg.dtype, copy=False)], axis=2)
    per_item = per_col * out[0] * width
    # grouped: many small products, on which BLAS threads poorly; one BLAS thread per worker
    # thread is faster there (dense products measured no better, or worse, that way)
    workers = _gemm_workers() if g > 1 else 1
    # a column matrix much larger than the caches costs more to write than it saves in BLAS
    # calls: work in pieces of about COLUMN_PIECE bytes even when the budget allows more;
    # with several workers each has a piece in flight, and there are at least as many pieces
    # (several pieces of a dense convolution run on the worker threads too: the budget is
    # shared by as many as can be in flight)
    limit = min(budget // _gemm_workers(), max(COLUMN_PIECE, per_col * width))
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
        if gemm is not None:
            # one item (or a row range of one): just its run; several: a flat row each
            f = flat.shape[-1] if m > 1 else length
            acc = scratch("product", (c_out, m, f), xp.dtype)
            _tap_products(gemm, flat, wtap, taps, bs, base, length, acc)
            # (C_out, m, ...) → (m, C_out, ...): the crop below transposes as it copies
            prod = acc[:, :, :length].reshape((c_out, m, rows) + fsizes[1:]).swapaxes(0, 1)
        elif exact:
            positions = rows * _prod(out[1:])
            cols = scratch("columns", (m, c * taps_n + ones, positions), xp.dtype)
            laid = cols[:, : c * taps_n].reshape((m, c, taps_n, rows) + tuple(out[1:]))
            for t, offset in enumerate(offsets):
                if from_input:
                    gather_tap(laid[:, :, t], xp[bs], offset, stride, dilation, pads, rs.start)
                else:
                    phase, shift = taps[t]
                    first = rs.start * fwidth + shift
                    run = flat[phase, bs, :, first : first + rows * fwidth]
                    laid[:, :, t] = run.reshape((m, c, rows) + fsizes[1:])[garbage]
            if ones:
                cols[:, -1] = 1
            # the product lands in y itself: whole items, or one item's rows (each output
            # channel's rows are one run, the runs y's channel stride apart: a BLAS matrix)
            target = y[bs, :, rs]
            np.matmul(wg, cols.reshape(m, g, -1, positions), out=target.reshape(m, g, cog, -1))
            if bias_b is not None and not ones:
                target += bias_b
            return
        else:
            cols = scratch("columns", (m, c, taps_n, length), xp.dtype)
            for t, (phase, shift) in enumerate(taps):
                cols[:, :, t] = flat[phase, bs, :, base + shift : base + shift + length]
            prod = scratch("product", (m, g, cog, length), xp.dtype)
            np.matmul(wg, cols.reshape(m, g, k_g, length), out=prod)
        full = prod if gemm is not None else prod.reshape((m, c_out, rows) + sizes[1:])
        target = y[bs, :, rs]

        def crop(part: slice) -> None:
            # the output channels of ``part`` (shared by the threads on large outputs)
            src = full[:, part][garbage]
            if bias_b is not None:
                np.add(src, bias_b[part], out=target[:, part])
            else:
                target[:, part] = src

        split_run(crop, c_out, m * rows * width)

    _map_gemm(work, pieces)
    return y


#: standard convolutions with at most this many output positions (per item) and at least this
#: many input channels gather their column matrix channels-last (measured faster up to 16×16)
CHANNELS_LAST_MAX_POSITIONS = 256
CHANNELS_LAST_MIN_CHANNELS = 16
#: grouped ones (with wide groups) up to this many positions (measured faster at 7×7, slower
#: at 14×14 than the per-tap products over blocks of groups)
GROUPED_CHANNELS_LAST_MAX_POSITIONS = 64


def _channels_last(
    xp: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    stride: Sequence[int],
    dilation: Sequence[int],
    pads: PadPairs,
    out: Sequence[int],
    y: np.ndarray,
    groups: int = 1,
) -> None:
    """A convolution with few output positions: per item, the padded input is laid out
    channels-last, then each tap's strided window is copied into the columns
    ``(positions, C·taps)`` (each copy runs along the channels, however short the output
    rows), and one product per group, ``weight (C_out/g, C/g·taps) @ its columnsᵀ``, writes
    the item's output. The column order (channel, tap) is the weight's own, and a group's
    columns are one block of each row, so neither is copied for the product. Items are
    shared by the worker threads, one BLAS thread each."""
    n, c = xp.shape[:2]
    nd = len(out)
    c_out = weight.shape[0]
    kernel = weight.shape[2:]
    taps_n = _prod(kernel)
    spatial = xp.shape[2:]
    padded = tuple(size + a + b for size, (a, b) in zip(spatial, pads))
    positions = _prod(out)
    depth = c * taps_n
    g = groups
    wmat = weight.reshape(g, c_out // g, depth // g).astype(xp.dtype, copy=False)
    inner = tuple(slice(a, a + size) for size, (a, _) in zip(spatial, pads))
    windows = [
        tuple(
            slice(o * d, o * d + st * (size - 1) + 1, st)
            for o, d, st, size in zip(offset, dilation, stride, out)
        )
        for offset in itertools.product(*[range(k) for k in kernel])
    ]
    order = tuple(range(1, nd + 1)) + (0,)  # (C, *spatial) → (*spatial, C)

    def item(i: int) -> None:
        laid = scratch("channels-last", padded + (c,), xp.dtype)
        for d, (a, b) in enumerate(pads):  # the padding borders only
            lead = (slice(None),) * d
            laid[lead + (slice(0, a),)] = 0
            laid[lead + (slice(padded[d] - b, None),)] = 0
        laid[inner] = xp[i].transpose(order)
        cols = scratch("columns", (positions, depth), xp.dtype)
        grid = cols.reshape(tuple(out) + (c, taps_n))
        for t, window in enumerate(windows):
            grid[..., t] = laid[window]
        target = y[i].reshape(g, c_out // g, positions)
        np.matmul(wmat, cols.reshape(positions, g, depth // g).transpose(1, 2, 0), out=target)
        if bias is not None:
            target += bias.reshape(g, c_out // g, 1)

    _map_gemm(item, list(range(n)))


def _pointwise_onto(gemm: Any, x: np.ndarray, weight: np.ndarray, g: int, y: np.ndarray) -> None:
    """y += weight @ x for a pointwise convolution of one item and one group, by one
    ``cblas_?gemm`` with β = 1 onto ``y`` (which holds the bias): one pass over ``y`` fewer
    than adding the bias after the product."""
    c_out, c = weight.shape[:2]
    assert x.shape[0] == 1 and g == 1 and y.flags.c_contiguous
    xs = np.ascontiguousarray(x, dtype=y.dtype)
    ws = np.ascontiguousarray(weight, dtype=y.dtype)
    p = _prod(y.shape[2:])
    # row-major, no transposes: (C_out × C) @ (C × positions) + y
    gemm(
        101, 111, 111, c_out, p, c, 1.0, ws.ctypes.data, c, xs.ctypes.data, p, 1.0, y.ctypes.data, p
    )


#: grouped convolution multiplies straight on the flat runs (no column matrix) from this C/g on
GROUPED_DIRECT_MIN = 8

#: output rows at least this long are gathered into the column matrix already cropped
EXACT_MIN_WIDTH = 32
#: so are shorter ones, on one thread, for stride-1 convolutions with this many output channels
EXACT_MIN_CHANNELS = 256
#: strided depthwise convolution (2-d, 3-d) gathers its taps cropped from the input from this
#: output width on; narrower, from the stride phases' flat runs (measured 10-45 % faster on
#: one thread at every width, the more so the larger the kernel), unless see below
STRIDED_DEPTHWISE_EXACT_MIN_WIDTH = 1 << 30
#: ... or when its gathered taps are large enough to share between two threads
#: (DEPTHWISE_PARALLEL_MIN) and the kernel has at most this many taps: the exact gather is then
#: done by both threads, the phase layout by one (measured 10-30 % faster for a 3×3 at 2
#: threads from 8 MiB of taps; 5×5 kernels were faster from the phases even so)
STRIDED_DEPTHWISE_EXACT_MAX_TAPS = 9


def _strided_depthwise_exact(x: np.ndarray, out: Sequence[int], taps: int) -> bool:
    """Whether a strided depthwise convolution gathers its taps cropped from the input
    (:func:`_depthwise_exact`) rather than from the stride phases (:func:`_depthwise_flat`)."""
    if out[-1] >= STRIDED_DEPTHWISE_EXACT_MIN_WIDTH:
        return True
    gathered = _prod(x.shape[:2]) * (taps + 1) * _prod(out) * x.itemsize
    return (
        _workers() > 1
        and taps <= STRIDED_DEPTHWISE_EXACT_MAX_TAPS
        and gathered >= DEPTHWISE_PARALLEL_MIN
    )


#: from this C_in and this many output positions (flat, with the padding columns) on, standard
#: convolution is one BLAS product per tap, accumulated in place
TAP_GEMM_MIN = 16
TAP_GEMM_MIN_LENGTH = 1024


def _tap_products(
    gemm: Any,
    flat: np.ndarray,
    wtap: np.ndarray,
    taps: Sequence[tuple[int, int]],
    items: slice,
    base: int,
    length: int,
    prod: np.ndarray,
) -> None:
    """prod[:, i] = Σ_t wtap[t] @ run_t(item i), for the ``items`` of a standard convolution,
    by ``cblas_?gemm`` on pointers: ONE product per tap for all the items.

    ``flat`` is channels-first, (P, C, N, F) (see :func:`_phases`): a channel's rows of the
    items lie back to back, so one tap's runs for items a..b-1 are a single (C × span) matrix
    with leading dimension N·F, span = (b-1-a)·F + length (the columns between two items'
    runs are computed and never read). The first tap writes ``prod`` (C_out, m, F), the
    others add to it (β = 1): no column matrix, no temporary product. (For a single item,
    ``prod`` may be (C_out, 1, length).) ``wtap`` is (taps, C_out, C); all three
    C-contiguous, of one dtype."""
    phases, c, n, f = flat.shape
    _, c_out, cin = wtap.shape
    start, stop, _ = items.indices(n)
    m = stop - start
    assert cin == c and prod.shape[:2] == (c_out, m)
    assert prod.shape[2] == f or (m == 1 and prod.shape[2] >= length)
    assert flat.flags.c_contiguous and wtap.flags.c_contiguous and prod.flags.c_contiguous
    assert flat.dtype == wtap.dtype == prod.dtype
    if m == 0 or length == 0:
        return
    item = flat.itemsize
    span = (m - 1) * f + length
    fptr, wptr, pptr = flat.ctypes.data, wtap.ctypes.data, prod.ctypes.data
    for t, (phase, shift) in enumerate(taps):
        run = fptr + ((phase * c * n + start) * f + base + shift) * item
        weights = wptr + t * c_out * c * item
        beta = 0.0 if t == 0 else 1.0
        # row-major, no transposes: (C_out × C) @ (C × span) (+ prod), ld = N·F and m·F
        ldc = m * prod.shape[2]
        gemm(101, 111, 111, c_out, span, c, 1.0, weights, c, run, n * f, beta, pptr, ldc)


#: grouped convolutions (with wide groups) whose products are at least this long (output rows
#: × padded width) go through BLAS on pointers, one call per group and tap; shorter ones pay
#: more for the calls than they save
GROUPED_POINTER_MIN_LENGTH = 2048

#: bytes of accumulator and tap product a block of groups works on (measured best: about half
#: the L2 cache; larger blocks spill, smaller ones make shorter products)
GROUPED_BLOCK = 1 << 20


def _grouped_products(
    flat: np.ndarray,
    taps: Sequence[tuple[int, int]],
    wtap: np.ndarray,
    out: Sequence[int],
    sizes: tuple[int, ...],
    bias: np.ndarray | None,
    y: np.ndarray,
    budget: int,
    gemm: Any = None,
) -> None:
    """Grouped convolution with wide groups, straight on the flat runs (see :func:`_phases`),
    ``wtap`` (taps, g, C_out/g, C/g); the sum over the taps is then cropped into ``y`` with the
    bias. Two ways to sum the taps' products, (C_out/g × C/g) @ (C/g × L) per group:

    - ``gemm`` (``cblas_?gemm``, ``flat`` channels-first (P, C, N, F)): per group and tap one
      pointer product over all the items of the piece (as in :func:`_tap_products`), the taps
      after the first adding to the accumulator (β = 1): no tap product to add, no copy;
    - else (``flat`` (P, N, C, F)): per tap one ``np.matmul`` batched over a block of groups,
      into a second buffer that is then added.

    The work is cut into blocks of groups over whole images (rows only when one group's image
    is too large), about GROUPED_BLOCK bytes each: products as long as the image, a working
    set that stays in the cache. The blocks are shared by the worker threads, one BLAS thread
    each (there are at least as many blocks as workers)."""
    if gemm is not None:
        _, c, n, f = flat.shape
    else:
        _, n, c, f = flat.shape
    _, g, cog, cig = wtap.shape
    width = _prod(sizes[1:])
    item = flat.itemsize
    # one group's accumulator (and tap product), per output row
    per_row = (1 if gemm is not None else 2) * cog * width * item
    workers = _gemm_workers()
    limit = max(1, min(GROUPED_BLOCK, budget // workers))
    # whole images of a block of groups (and of several items when all groups fit), else
    # row ranges of one group
    rows_step = max(1, min(out[0], limit // per_row))
    step = max(1, min(g, limit // (per_row * rows_step))) if rows_step == out[0] else 1
    items = max(1, min(n, limit // (per_row * out[0] * g))) if step == g else 1
    row_ranges = [slice(r, min(r + rows_step, out[0])) for r in range(0, out[0], rows_step)]
    if -(-n // items) * len(row_ranges) * -(-g // step) < workers:
        # fewer blocks than workers: share the items out, or else the groups
        if n >= workers:
            items = -(-n // workers)
        else:
            step = -(-g // workers)
    pieces = [
        (slice(i, min(i + items, n)), rs, slice(g0, min(g0 + step, g)))
        for i in range(0, n, items)
        for rs in row_ranges
        for g0 in range(0, g, step)
    ]
    crop = (slice(None),) * 4 + tuple(slice(0, o) for o in out[1:])
    bias_g = None if bias is None else bias.reshape((g, cog) + (1,) * len(out))

    def pointer_products(bs: slice, gs: slice, rows: int, base: int) -> np.ndarray:
        # the accumulator (blk, C_out/g, m, F): a group's rows over the piece's items, each
        # item's run F apart as in ``flat`` (one item: just its run); returned as
        # (m, blk, C_out/g, rows, *sizes[1:])
        m = bs.stop - bs.start
        length = rows * width
        fa = f if m > 1 else length
        span = (m - 1) * f + length
        acc = scratch("product", (gs.stop - gs.start, cog, m, fa), flat.dtype)
        fptr, wptr, aptr = flat.ctypes.data, wtap.ctypes.data, acc.ctypes.data
        for j, gi in enumerate(range(gs.start, gs.stop)):
            target = aptr + j * cog * m * fa * item
            for t, (phase, shift) in enumerate(taps):
                run = fptr + (((phase * c + gi * cig) * n + bs.start) * f + base + shift) * item
                weights = wptr + (t * g + gi) * cog * cig * item
                beta = 0.0 if t == 0 else 1.0
                gemm(
                    101,
                    111,
                    111,
                    cog,
                    span,
                    cig,
                    1.0,
                    weights,
                    cig,
                    run,
                    n * f,
                    beta,
                    target,
                    m * fa,
                )
        laid = acc[..., :length].reshape(acc.shape[:3] + (rows,) + tuple(sizes[1:]))
        return np.moveaxis(laid, 2, 0)

    def work(piece: tuple[slice, slice, slice]) -> None:
        bs, rs, gs = piece
        m = bs.stop - bs.start
        blk = gs.stop - gs.start
        rows = rs.stop - rs.start
        length = rows * width
        base = rs.start * width
        if gemm is not None:
            laid = pointer_products(bs, gs, rows, base)
        else:
            prod = scratch("product", (m, blk, cog, length), flat.dtype)
            tmp = scratch("tap product", (m, blk, cog, length), flat.dtype)
            channels = slice(gs.start * cig, gs.stop * cig)
            for t, (phase, shift) in enumerate(taps):
                run = flat[phase, bs, channels, base + shift : base + shift + length]
                np.matmul(
                    wtap[t, gs], run.reshape(m, blk, cig, length), out=prod if t == 0 else tmp
                )
                if t:
                    prod += tmp
            laid = prod.reshape((m, blk, cog, rows) + tuple(sizes[1:]))
        full = laid[crop]
        target = y[bs, gs.start * cog : gs.stop * cog, rs].reshape(
            (m, blk, cog, rows) + tuple(out[1:])
        )
        if bias_g is not None:
            np.add(full, bias_g[gs], out=target)
        else:
            target[...] = full

    _map_gemm(work, pieces)


#: bytes of tap columns a depthwise block gathers (measured best, see _plane_blocks)
DEPTHWISE_BLOCK = 4 << 20
#: stride-1 depthwise convolution with the input's own output grid gathers by flat shifts
SHIFTED_DEPTHWISE = True
#: depthwise work on this many bytes of gathered taps in all is shared by two threads
DEPTHWISE_PARALLEL_MIN = 8 << 20


def _plane_weights(wd: np.ndarray, bias: np.ndarray | None, n: int, dtype: Any) -> np.ndarray:
    """A depthwise kernel's weights per plane (N·C, m, k): the taps, and the bias as one more
    tap (whose gathered column is all ones) when there is one."""
    g, m, _ = wd.shape
    wk = wd if bias is None else np.concatenate([wd, bias.reshape(g, m, 1)], axis=2)
    k = wk.shape[2]
    return np.broadcast_to(wk[None], (n, g, m, k)).reshape(n * g, m, k).astype(dtype, copy=False)


def _plane_blocks(planes: int, per_plane: int, budget: int) -> tuple[int, list[list[int]]]:
    """Blocks of consecutive planes for a depthwise kernel: ``(step, shares)``, ``shares`` the
    blocks' first planes, one list per worker thread. A block holds about DEPTHWISE_BLOCK
    bytes (these kernels are many NumPy calls, fewer on larger blocks: 4 MiB measured 10–25 %
    faster than 1 MiB); a second worker only from DEPTHWISE_PARALLEL_MIN bytes in all (two
    threads making small calls mostly wait on each other for the GIL), and then the blocks
    are evened out so that each worker has as many of the same size."""
    total = planes * per_plane
    workers = _workers() if total >= DEPTHWISE_PARALLEL_MIN and planes > 1 else 1
    step = max(1, min(DEPTHWISE_BLOCK, budget // workers) // max(per_plane, 1))
    blocks = -(-planes // step)
    blocks = -(-blocks // workers) * workers
    step = -(-planes // blocks)
    starts = list(range(0, planes, step))
    share = -(-len(starts) // workers)
    return step, [starts[i : i + share] for i in range(0, len(starts), share)]


def _depthwise_exact(
    x: np.ndarray,
    wd: np.ndarray,
    offsets: list[tuple[int, ...]],
    stride: Sequence[int],
    dilation: Sequence[int],
    pads: PadPairs,
    bias: np.ndarray | None,
    y: np.ndarray,
    budget: int,
) -> None:
    """Depthwise convolution (depth multiplier m = wd.shape[1]) for long output rows: a block
    of planes is gathered tap by tap already cropped to the output grid (one strided copy per
    tap, no padded copy), and one batched ``np.matmul`` (m × taps) @ (taps × positions) per
    plane writes the result straight into ``y``, the bias riding along as an all-ones tap.

    The blocks are cache-sized (DEPTHWISE_BLOCK bytes of gathered taps) and each worker thread
    gathers into one buffer, whose padding borders and row of ones are written once: per
    block there is then one copy per tap and one product."""
    n, c = x.shape[:2]
    g, m, taps_n = wd.shape
    out = y.shape[2:]
    positions = _prod(out)
    planes = n * c
    item = x.dtype.itemsize
    wflat = _plane_weights(wd, bias, n, x.dtype)
    k = wflat.shape[2]
    per_plane = k * positions * item  # the gathered taps
    step, shares = _plane_blocks(planes, per_plane, budget)
    src = x.reshape((planes,) + x.shape[2:])
    yv = y.reshape(planes, m, positions)
    plans = [TapPlan(x.shape, out, o, stride, dilation, pads) for o in offsets]

    def worker(firsts: list[int]) -> None:
        cols = scratch("columns", (k, step) + tuple(out), x.dtype)
        for t, plan in enumerate(plans):
            plan.fill_zeros(cols[t])
        if k > taps_n:
            cols[taps_n] = 1
        for p0 in firsts:
            p1 = min(p0 + step, planes)
            count = p1 - p0
            block = src[p0:p1]
            for t, plan in enumerate(plans):
                plan.copy_into(cols[t, :count], block)
            stacked = cols[:, :count].reshape(k, count, positions).transpose(1, 0, 2)
            np.matmul(wflat[p0:p1], stacked, out=yv[p0:p1])

    _map_gemm(worker, shares, small=True)


def _row_slabs(
    xp: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    stride: Sequence[int],
    dilation: Sequence[int],
    groups: int,
    pads: PadPairs,
    out: Sequence[int],
    y: np.ndarray,
    budget: int,
    per_row: int = 0,
) -> None:
    """A convolution whose whole input (or a depthwise plane's gathered taps) does not fit
    ``budget`` bytes of temporaries: computed in slabs of output rows, each slab from the
    input rows it reads (with the padding that falls inside it). A slab's copy of its input
    and its output, and ``per_row`` bytes per output row that its kernel needs at once (a
    depthwise gather: one plane per worker thread), fit the budget together; with
    ``per_row`` 0 (the kernel chunks its own work within what it is given) half the budget
    is left to the slab's kernel."""
    n, c = xp.shape[:2]
    height = xp.shape[2]
    (top, _), s = pads[0], stride[0]
    span = dilation[0] * (weight.shape[2] - 1) + 1
    item = xp.dtype.itemsize
    out_row = n * weight.shape[0] * _prod(out[1:]) * item
    # a padded input row; a slab's copy of its input holds s of them per output row, and the
    # kernel's reach
    padded_row = n * c * _prod([e + a + b for e, (a, b) in zip(xp.shape[3:], pads[1:])]) * item
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
        slab_pads = [(above, below)] + list(pads[1:])
        y[:, :, r0:r1] = conv(
            slab, weight, bias, stride, dilation, groups, inner, slab_pads, split=False
        )


def _depthwise_shifted(
    x: np.ndarray,
    wd: np.ndarray,
    kernel: Sequence[int],
    dilation: Sequence[int],
    pads: PadPairs,
    bias: np.ndarray | None,
    y: np.ndarray,
    budget: int,
) -> None:
    """Depthwise convolution (depth multiplier m = wd.shape[1]) of stride 1 whose output grid
    is the input's ('same' padding), in any number of dimensions: a tap then reads each plane
    at one fixed shift of the flat index, so a block of planes is gathered with ONE contiguous
    copy per tap straight from the input (no padded copy, no per-row copies). The positions
    whose input lies in the padding (read from a neighbouring row or plane) are then zeroed,
    all taps with the same offset along an axis in one write. One batched ``np.matmul``
    (m × taps) @ (taps × positions) per plane writes the result straight into ``y``, the bias
    riding along as an all-ones tap."""
    n, c = x.shape[:2]
    g, m, taps_n = wd.shape
    out = tuple(x.shape[2:])
    nd = len(out)
    positions = _prod(out)
    planes = n * c
    src = np.ascontiguousarray(x).reshape(-1)
    total = src.size
    wflat = _plane_weights(wd, bias, n, x.dtype)
    k = wflat.shape[2]
    per_plane = k * positions * x.dtype.itemsize
    step, shares = _plane_blocks(planes, per_plane, budget)
    yv = y.reshape(planes, m, positions)
    strides = [_prod(out[a + 1 :]) for a in range(nd)]
    # per axis and offset along it: where the tap reads (offset·dilation - padding before)
    reads = [
        [o * d - before for o in range(size)]
        for size, d, (before, _) in zip(kernel, dilation, pads)
    ]
    shifts = [sum(r * st for r, st in zip(rs, strides)) for rs in itertools.product(*reads)]
    # the taps' runs as one strided view: a step along kernel axis a moves dilation·stride
    item = x.dtype.itemsize
    tap_strides = tuple(d * st * item for d, st in zip(dilation, strides))
    reach = shifts[-1] - shifts[0]
    # the padding, in the taps' view (*kernel, planes, *out): per axis and offset, the output
    # indices j whose input j + read falls outside [0, size)
    edges = []
    for a, (size, rs) in enumerate(zip(out, reads)):
        for o, r in enumerate(rs):
            for lo, hi in ((0, min(size, max(0, -r))), (max(0, size - r), size)):
                if hi > lo:
                    lead = (slice(None),) * a + (o,) + (slice(None),) * (nd - a - 1)
                    rest = (slice(None),) * a + (slice(lo, hi),)
                    edges.append(lead + (slice(None),) + rest)

    def worker(firsts: list[int]) -> None:
        cols = scratch("columns", (k, step * positions), x.dtype)
        if k > taps_n:
            cols[taps_n] = 1
        for p0 in firsts:
            p1 = min(p0 + step, planes)
            count = p1 - p0
            length = count * positions
            first = p0 * positions + shifts[0]
            if first >= 0 and first + reach + length <= total:
                # every tap's run inside the input: all of them in one strided copy
                runs = np.lib.stride_tricks.as_strided(
                    src[first:], tuple(kernel) + (length,), tap_strides + (item,), writeable=False
                )
                cols[:taps_n, :length].reshape(tuple(kernel) + (length,))[...] = runs
            else:
                for t, shift in enumerate(shifts):
                    first = p0 * positions + shift
                    lo = max(0, -first)
                    hi = min(length, total - first)
                    if hi > lo:
                        cols[t, lo:hi] = src[first + lo : first + hi]
            # everything else of each run (outside the input, or read across a row's or a
            # plane's edge) is where the tap meets the padding
            view = cols[:taps_n, :length].reshape(tuple(kernel) + (count,) + out)
            for index in edges:
                view[index] = 0
            stacked = cols[:, :length].reshape(k, count, positions).transpose(1, 0, 2)
            np.matmul(wflat[p0:p1], stacked, out=yv[p0:p1])

    _map_gemm(worker, shares, small=True)


def _same_width(
    xp: np.ndarray, kernel: Sequence[int], dilation: Sequence[int], pads: PadPairs
) -> tuple[np.ndarray, int, tuple[tuple[int, int], ...], tuple[int, ...], list[tuple[int, int]]]:
    """The flat layout of a 2-d stride-1 convolution whose output rows are as wide as the
    input's (the horizontal padding equals the kernel's reach, as in 'same' padding): the
    planes back to back, zero rows above and below each, no padding columns, so that every tap
    reads one run per plane already in the output's layout (nothing to crop afterwards).

    Returns ``(src, f, taps, sizes, masks)`` as :func:`_depthwise_flat` takes them: ``src``
    (1, total), ``f`` the plane stride, ``taps`` (0, shift) per kernel offset, ``sizes`` (padded
    rows, width). A tap that reaches past a row's end reads the neighbouring row (or the zero
    margin around the planes) instead: ``masks`` gives per tap the columns ``[lo, hi)`` it
    really covers; its gathered run must be zeroed outside them."""
    n, c, height, width = xp.shape
    (top, bottom), (left, right) = pads
    rows = top + height + bottom
    f = rows * width
    planes = n * c
    src = scratch("flat", (1, left + planes * f + right), xp.dtype)
    src[0, :left] = 0
    src[0, left + planes * f :] = 0
    body = src[0, left : left + planes * f].reshape(planes, rows, width)
    body[:, :top] = 0
    body[:, top + height :] = 0
    body[:, top : top + height] = xp.reshape(planes, height, width)
    taps = []
    masks = []
    for ky, kx in itertools.product(range(kernel[0]), range(kernel[1])):
        reach = kx * dilation[1] - left  # the input column read by output column 0
        taps.append((0, left + ky * dilation[0] * width + reach))
        masks.append((max(0, -reach), min(width, width - reach)))
    return src, f, tuple(taps), (rows, width), masks


def _depthwise_flat(
    src: np.ndarray,
    f: int,
    taps: Sequence[tuple[int, int]],
    wd: np.ndarray,
    out: Sequence[int],
    sizes: tuple[int, ...],
    bias: np.ndarray | None,
    y: np.ndarray,
    budget: int,
    masks: Sequence[tuple[int, int]] | None = None,
) -> None:
    """Depthwise convolution (depth multiplier m = wd.shape[1]) on flat channel planes.

    y[n, c·m + j] = Σ_t wd[c, j, t] · x[n, c, tap t] (+ bias). ``src`` (phases, total) holds
    the planes back to back, ``f`` apart (from :func:`_phases` or :func:`_same_width`); tap t
    reads each plane's run at ``shift`` in ``phase``, ``(phase, shift) = taps[t]``. A block of
    consecutive planes is gathered tap by tap with ONE contiguous copy per tap, then one
    batched ``np.matmul`` (m × taps) @ (taps × L) per plane sums the taps: a few large calls
    per block instead of a multiply and an add per tap and plane. When the runs have no
    padding columns (``sizes[1:] == out[1:]``) the product lands in ``y`` itself, else it is
    cropped into it; ``masks`` (per tap, the columns ``[lo, hi)`` it covers) zero the rest of
    a gathered run. The blocks are shared out between the cores (each writes only its own
    planes of ``y``)."""
    g, m, taps_n = wd.shape
    n = y.shape[0]
    rest = tuple(out[1:])
    width = _prod(sizes[1:])
    length = out[0] * width
    item = src.itemsize
    planes = n * g
    direct = tuple(sizes[1:]) == rest
    # the bias rides along as one more tap, whose column is all ones: the product is then the
    # result, and the crop (if any) a plain copy
    wflat = _plane_weights(wd, bias, n, src.dtype)
    k = wflat.shape[2]
    per_plane = (k * f + (0 if direct else m * length)) * item  # tap columns and the product
    step, shares = _plane_blocks(planes, per_plane, budget)
    yv = y.reshape(planes, m, length) if direct else y.reshape(planes, m, *out)
    crop_index = (slice(None), slice(None), slice(None)) + tuple(slice(0, o) for o in rest)
    edges = [(t, lo, hi) for t, (lo, hi) in enumerate(masks or ()) if lo > 0 or hi < width]

    def worker(firsts: list[int]) -> None:
        cols = scratch("columns", (k, step, f), src.dtype)
        if k > taps_n:
            cols[taps_n] = 1
        prod = None if direct else scratch("product", (step, m, length), src.dtype)
        for p0 in firsts:
            p1 = min(p0 + step, planes)
            count = p1 - p0
            gathered = cols[:, :count].reshape(k, count * f)
            # plane p's run of tap t starts at p·f + shift; the last plane's stops at its length
            span = (count - 1) * f + length
            for t, (phase, shift) in enumerate(taps):
                first = p0 * f + shift
                gathered[t, :span] = src[phase, first : first + span]
            for t, lo, hi in edges:
                run = cols[t, :count, :length].reshape(count, out[0], width)
                run[:, :, :lo] = 0
                run[:, :, hi:] = 0
            stacked = cols[:, :count, :length].transpose(1, 0, 2)
            if prod is None:
                np.matmul(wflat[p0:p1], stacked, out=yv[p0:p1])
                continue
            out_block = prod[:count]
            np.matmul(wflat[p0:p1], stacked, out=out_block)
            yv[p0:p1] = out_block.reshape((count, m, out[0]) + tuple(sizes[1:]))[crop_index]

    _map_gemm(worker, shares, small=True)


def _transpose_slabs(
    x: np.ndarray,
    uncropped: Any,
    bias: np.ndarray | None,
    y: np.ndarray,
    stride: int,
    padding: int,
    span: int,
    budget: int,
    per_row: int,
) -> np.ndarray:
    """A transposed convolution too large for ``budget`` (``per_row`` bytes of temporaries
    per input row: its accumulator, its share of the output and of the padded input), in
    slabs of input rows: ``uncropped(rows, budget)`` is a slab's result left uncropped along
    the rows (``stride``, ``padding`` and the kernel's ``span`` along them), added into the
    output rows of ``y`` it reaches (neighbouring slabs overlap by the kernel's reach), which
    start from the bias."""
    y[...] = 0 if bias is None else bias.reshape((-1,) + (1,) * (y.ndim - 2))
    reach = -(-span // stride)  # the input rows one output row's worth of kernel covers
    # a third of the budget for a slab's rows; its kernel's column chunks get what is left
    # after them twice over (beside the chunks it holds its accumulator and input copy)
    rows = max(1, (budget // 3) // per_row - reach)
    inner = max(1, budget - 2 * (rows + reach) * per_row)
    for a in range(0, x.shape[2], rows):
        part = uncropped(x[:, :, a : a + rows], inner)
        # its row j is the uncropped output's row a·s + j, the output's row a·s + j - p
        first = a * stride - padding
        lo, hi = max(0, first), min(y.shape[2], first + part.shape[2])
        if hi > lo:
            y[:, :, lo:hi] += part[:, :, lo - first : hi - first]
    return y


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
    split: bool = True,
) -> np.ndarray:
    """PyTorch's ConvTransposeNd on the batched ``x`` (N, C_in, *spatial), ``weight``
    (C_in, C_out/groups, *kernel).

    One BLAS product per (item, group) scatters every input pixel to its kernel footprint,
    ``cols = Wᵀ x`` (N, C_out, ∏kernel, pixels); an overlap-add (col2im) sums the
    footprints into the uncropped output. The output is kept split into stride phases, each
    laid out flat per channel (as the forward convolution's input is): kernel offset o lands
    every input pixel in the same phase, at the same flat shift, so its add is ONE contiguous
    run per channel (the input is padded with zero columns to the phase width, so the runs'
    overflow adds zeros). A last strided copy per phase interleaves the phases into the
    output, crops ``padding`` (``output_padding`` extends the far side) and adds the bias.
    Chunked over the batch, then over input rows, under ``budget`` bytes; when the
    accumulator itself (about the output's size) would take half the budget, in slabs of
    input rows whose footprints are added into the output (:func:`_transpose_slabs`;
    ``split`` off for the slabs themselves).
    """
    nd = weight.ndim - 2
    n, c_in = x.shape[:2]
    cog = weight.shape[1]
    kernel = tuple(weight.shape[2:])
    g = groups
    cig = c_in // g
    c_out = cog * g
    inp = tuple(x.shape[2:])
    kk = _prod(kernel)
    full = [(i - 1) * s + d * (k - 1) + 1 for i, s, d, k in zip(inp, stride, dilation, kernel)]
    out = [f - 2 * p + op for f, p, op in zip(full, padding, output_padding)]
    sizes, tail = transpose_phases(inp, kernel, stride, dilation, padding, out)
    width = _prod(sizes[1:])
    plane = sizes[0] * width
    phases = _prod(stride)
    offsets = tap_phases(kernel, stride, dilation, sizes)
    item = x.dtype.itemsize
    # per input row: the accumulator's rows (s of them, every phase) and the padded input's
    acc_row = phases * n * c_out * width * item
    in_row = n * c_in * width * item
    if split and inp[0] > 1 and (acc_row + in_row) * sizes[0] > budget // 2:
        # the same convolution on a slab of rows, left uncropped along them
        along = ((0,) + tuple(padding[1:]), (0,) + tuple(output_padding[1:]))

        def uncropped(rows: np.ndarray, inner: int) -> np.ndarray:
            return conv_transpose(
                rows, weight, None, stride, *along, dilation, groups, inner, split=False
            )

        y = np.empty((n, c_out, *out), dtype=x.dtype)
        span = dilation[0] * (kernel[0] - 1) + 1
        per_row = 2 * acc_row + in_row
        return _transpose_slabs(x, uncropped, bias, y, stride[0], padding[0], span, budget, per_row)
    # the input, zero-padded on its trailing axes to the phase width
    if tuple(inp[1:]) != tuple(sizes[1:]):
        xw = np.zeros((n, c_in, inp[0], *sizes[1:]), dtype=x.dtype)
        xw[(slice(None),) * 3 + tuple(slice(0, i) for i in inp[1:])] = x
    else:
        xw = np.ascontiguousarray(x)
    xf = xw.reshape(n, g, cig, inp[0] * width)
    acc = np.zeros((phases, n, c_out, plane + tail), dtype=x.dtype)
    wt = weight.reshape(g, cig, cog * kk).transpose(0, 2, 1)  # (g, cog·∏k, cig), a view
    per_row = c_out * kk * width * x.dtype.itemsize
    for bs, rs in _row_chunks(n, inp[0], per_row, budget):
        m = len(range(*bs.indices(n)))
        rows = rs.stop - rs.start
        length = rows * width
        base = rs.start * width
        cols = scratch("columns", (m, g, cog * kk, length), x.dtype)
        np.matmul(wt, xf[bs, :, :, base : base + length], out=cols)
        footprints = cols.reshape(m, c_out, kk, length)
        for t, (phase, shift) in enumerate(offsets):
            acc[phase, bs, :, base + shift : base + shift + length] += footprints[:, :, t]
        del cols, footprints  # before the next chunk's: never two at once
    y = np.empty((n, c_out, *out), dtype=x.dtype)
    bias_b = None if bias is None else bias.reshape((c_out,) + (1,) * nd)
    for phase, residues in enumerate(itertools.product(*[range(s) for s in stride])):
        # output position o reads uncropped position o + p = q·s + r
        dst: list[slice] = [slice(None), slice(None)]
        src: list[slice] = [slice(None), slice(None)]
        for r, s, p, o in zip(residues, stride, padding, out):
            first = (r - p) % s
            count = len(range(first, o, s))
            q0 = (first + p - r) // s
            dst.append(slice(first, o, s))
            src.append(slice(q0, q0 + count))
        image = acc[phase, :, :, :plane].reshape((n, c_out) + tuple(sizes))
        if bias_b is not None:
            np.add(image[tuple(src)], bias_b, out=y[tuple(dst)])
        else:
            y[tuple(dst)] = image[tuple(src)]
    return y
