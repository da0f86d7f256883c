"""Depthwise convolution (C/g == 1): the taps of a block of planes gathered, then one batched
product per plane; three ways to gather (cropped from the input, by flat shifts, or from flat
phase images)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from .memory import prod
from .padding import PadPairs
from .phases import TapPlan
from .run import Run


def plane_weights(wd: np.ndarray, bias: np.ndarray | None, n: int, dtype: Any) -> np.ndarray:
    """A depthwise kernel's weights per plane (N·C, m, k): the taps, and the bias as one more
    tap (whose gathered column is all ones) when there is one."""
    g, m, _ = wd.shape
    wk = wd if bias is None else np.concatenate([wd, bias.reshape(g, m, 1)], axis=2)
    k = wk.shape[2]
    return np.broadcast_to(wk[None], (n, g, m, k)).reshape(n * g, m, k).astype(dtype, copy=False)


def plane_blocks(run: Run, planes: int, per_plane: int, budget: int) -> tuple[int, list[list[int]]]:
    """Blocks of consecutive planes for a depthwise kernel: ``(step, shares)``, ``shares`` the
    blocks' first planes, one list per worker thread. A block holds about ``depthwise_block``
    bytes (these kernels are many NumPy calls, fewer on larger blocks: 4 MiB measured 10–25 %
    faster than 1 MiB); a second worker only from ``depthwise_parallel_min`` bytes in all (two
    threads making small calls mostly wait on each other for the GIL), and then the blocks
    are evened out so that each worker has as many of the same size."""
    total = planes * per_plane
    config = run.config
    workers = config.workers if total >= config.depthwise_parallel_min and planes > 1 else 1
    step = max(1, min(config.depthwise_block, budget // workers) // max(per_plane, 1))
    blocks = -(-planes // step)
    blocks = -(-blocks // workers) * workers
    step = -(-planes // blocks)
    starts = list(range(0, planes, step))
    share = -(-len(starts) // workers)
    return step, [starts[i : i + share] for i in range(0, len(starts), share)]


def exact(
    run: Run,
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

    The blocks are cache-sized (``depthwise_block`` bytes of gathered taps) and each worker thread
    gathers into one buffer, whose padding borders and row of ones are written once: per
    block there is then one copy per tap and one product."""
    n, c = x.shape[:2]
    g, m, taps_n = wd.shape
    out = y.shape[2:]
    positions = prod(out)
    planes = n * c
    item = x.dtype.itemsize
    wflat = plane_weights(wd, bias, n, x.dtype)
    k = wflat.shape[2]
    per_plane = k * positions * item  # the gathered taps
    step, shares = plane_blocks(run, planes, per_plane, budget)
    src = x.reshape((planes,) + x.shape[2:])
    yv = y.reshape(planes, m, positions)
    plans = [TapPlan(x.shape, out, o, stride, dilation, pads) for o in offsets]

    def worker(firsts: list[int]) -> None:
        cols = run.scratch("columns", (k, step) + tuple(out), x.dtype)
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

    run.workers.map_gemm(worker, shares, small=True)


def shifted(
    run: Run,
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
    positions = prod(out)
    planes = n * c
    src = np.ascontiguousarray(x).reshape(-1)
    total = src.size
    wflat = plane_weights(wd, bias, n, x.dtype)
    k = wflat.shape[2]
    per_plane = k * positions * x.dtype.itemsize
    step, shares = plane_blocks(run, planes, per_plane, budget)
    yv = y.reshape(planes, m, positions)
    strides = [prod(out[a + 1 :]) for a in range(nd)]
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
    edges = _edges(out, reads)

    def worker(firsts: list[int]) -> None:
        cols = run.scratch("columns", (k, step * positions), x.dtype)
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

    run.workers.map_gemm(worker, shares, small=True)


def _edges(out: Sequence[int], reads: list[list[int]]) -> list[tuple[slice | int, ...]]:
    """The padding, in the taps' view (*kernel, planes, *out): per axis and offset along it
    (which reads ``reads[axis][offset]`` from the output index), the output indices j whose
    input j + read falls outside [0, size)."""
    nd = len(out)
    edges: list[tuple[slice | int, ...]] = []
    for a, (size, rs) in enumerate(zip(out, reads)):
        for o, r in enumerate(rs):
            for lo, hi in ((0, min(size, max(0, -r))), (max(0, size - r), size)):
                if hi > lo:
                    lead = (slice(None),) * a + (o,) + (slice(None),) * (nd - a - 1)
                    rest = (slice(None),) * a + (slice(lo, hi),)
                    edges.append(lead + (slice(None),) + rest)
    return edges


def flat(
    run: Run,
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
    the planes back to back, ``f`` apart (from :func:`~convcalc.kernels.phases.phases` or :func:`~convcalc.kernels.phases.same_width`); tap t
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
    width = prod(sizes[1:])
    length = out[0] * width
    item = src.itemsize
    planes = n * g
    direct = tuple(sizes[1:]) == rest
    # the bias rides along as one more tap, whose column is all ones: the product is then the
    # result, and the crop (if any) a plain copy
    wflat = plane_weights(wd, bias, n, src.dtype)
    k = wflat.shape[2]
    per_plane = (k * f + (0 if direct else m * length)) * item  # tap columns and the product
    step, shares = plane_blocks(run, planes, per_plane, budget)
    yv = y.reshape(planes, m, length) if direct else y.reshape(planes, m, *out)
    crop_index = (slice(None), slice(None), slice(None)) + tuple(slice(0, o) for o in rest)
    edges = [(t, lo, hi) for t, (lo, hi) in enumerate(masks or ()) if lo > 0 or hi < width]

    def worker(firsts: list[int]) -> None:
        cols = run.scratch("columns", (k, step, f), src.dtype)
        if k > taps_n:
            cols[taps_n] = 1
        product = None if direct else run.scratch("product", (step, m, length), src.dtype)
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
                gathered_run = cols[t, :count, :length].reshape(count, out[0], width)
                gathered_run[:, :, :lo] = 0
                gathered_run[:, :, hi:] = 0
            stacked = cols[:, :count, :length].transpose(1, 0, 2)
            if product is None:
                np.matmul(wflat[p0:p1], stacked, out=yv[p0:p1])
                continue
            out_block = product[:count]
            np.matmul(wflat[p0:p1], stacked, out=out_block)
            yv[p0:p1] = out_block.reshape((count, m, out[0]) + tuple(sizes[1:]))[crop_index]

    run.workers.map_gemm(worker, shares, small=True)
