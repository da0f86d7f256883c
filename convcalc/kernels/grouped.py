"""Grouped convolution with wide groups, straight on the flat runs: per tap one product over a
block of groups (or BLAS on pointers, per group and tap), accumulated."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .blas import NO_TRANS, ROW_MAJOR, Gemm
from .memory import prod
from .run import Run

#: (items, output rows, groups) of one block of work
Piece = tuple[slice, slice, slice]


def grouped_products(
    run: Run,
    flat: np.ndarray,
    taps: Sequence[tuple[int, int]],
    wtap: np.ndarray,
    out: Sequence[int],
    sizes: tuple[int, ...],
    bias: np.ndarray | None,
    y: np.ndarray,
    budget: int,
    gemm: Gemm | None = None,
) -> None:
    """Grouped convolution with wide groups, straight on the flat runs (see
    :func:`~convcalc.kernels.phases.phases`), ``wtap`` (taps, g, C_out/g, C/g); the sum over
    the taps is then cropped into ``y`` with the bias. Two ways to sum the taps' products,
    (C_out/g × C/g) @ (C/g × L) per group:

    - ``gemm`` (``cblas_?gemm``, ``flat`` channels-first (P, C, N, F)): per group and tap one
      pointer product over all the items of the piece (as in
      :func:`~convcalc.kernels.tap_gemm.tap_products`), the taps after the first adding to the
      accumulator (β = 1): no tap product to add, no copy;
    - else (``flat`` (P, N, C, F)): per tap one ``np.matmul`` batched over a block of groups,
      into a second buffer that is then added.

    The work is cut into blocks of groups over whole images (see :func:`pieces`). The blocks
    are shared by the worker threads, one BLAS thread each."""
    n = flat.shape[2] if gemm is not None else flat.shape[1]
    _, g, cog, cig = wtap.shape
    width = prod(sizes[1:])
    # one group's accumulator (and tap product), per output row
    per_row = (1 if gemm is not None else 2) * cog * width * flat.itemsize
    crop = (slice(None),) * 4 + tuple(slice(0, o) for o in out[1:])
    bias_g = None if bias is None else bias.reshape((g, cog) + (1,) * len(out))

    def work(piece: Piece) -> None:
        bs, rs, gs = piece
        m, blk, rows = bs.stop - bs.start, gs.stop - gs.start, rs.stop - rs.start
        if gemm is not None:
            acc = _pointer_products(run, gemm, flat, taps, wtap, piece, width)
        else:
            acc = _batched_products(run, flat, taps, wtap, piece, width)
        # (m, blk, C_out/g, rows, *sizes[1:]) cropped to the output grid
        full = acc.reshape((m, blk, cog, rows) + tuple(sizes[1:]))[crop]
        target = y[bs, gs.start * cog : gs.stop * cog, rs].reshape(
            (m, blk, cog, rows) + tuple(out[1:])
        )
        if bias_g is not None:
            np.add(full, bias_g[gs], out=target)
        else:
            target[...] = full

    blocks = pieces(run, n, g, out[0], per_row, budget)
    run.workers.map_gemm(work, blocks)


def pieces(run: Run, n: int, g: int, rows: int, per_row: int, budget: int) -> list[Piece]:
    """Blocks of about ``grouped_block`` bytes (``per_row`` per group and output row): whole
    images of a block of groups (and of several items when all groups fit), else row ranges of
    one group; products as long as the image, a working set that stays in the cache. There
    are at least as many blocks as worker threads."""
    workers = run.workers.gemm_workers()
    limit = max(1, min(run.config.grouped_block, budget // workers))
    rows_step = max(1, min(rows, limit // per_row))
    step = max(1, min(g, limit // (per_row * rows_step))) if rows_step == rows else 1
    items = max(1, min(n, limit // (per_row * rows * g))) if step == g else 1
    row_ranges = [slice(r, min(r + rows_step, rows)) for r in range(0, rows, rows_step)]
    if -(-n // items) * len(row_ranges) * -(-g // step) < workers:
        # fewer blocks than workers: share the items out, or else the groups
        if n >= workers:
            items = -(-n // workers)
        else:
            step = -(-g // workers)
    return [
        (slice(i, min(i + items, n)), rs, slice(g0, min(g0 + step, g)))
        for i in range(0, n, items)
        for rs in row_ranges
        for g0 in range(0, g, step)
    ]


def _pointer_products(
    run: Run,
    gemm: Gemm,
    flat: np.ndarray,
    taps: Sequence[tuple[int, int]],
    wtap: np.ndarray,
    piece: Piece,
    width: int,
) -> np.ndarray:
    """The accumulator (blk, C_out/g, m, F) of one piece, ``flat`` channels-first: a group's
    rows over the piece's items, each item's run F apart as in ``flat`` (one item: just its
    run); returned as (m, blk, C_out/g, rows · ``width``)."""
    bs, rs, gs = piece
    _, c, n, f = flat.shape
    _, g, cog, cig = wtap.shape
    item = flat.itemsize
    length = (rs.stop - rs.start) * width
    base = rs.start * width
    m = bs.stop - bs.start
    fa = f if m > 1 else length
    span = (m - 1) * f + length
    acc = run.scratch("product", (gs.stop - gs.start, cog, m, fa), flat.dtype)
    fptr, wptr, aptr = flat.ctypes.data, wtap.ctypes.data, acc.ctypes.data
    for j, gi in enumerate(range(gs.start, gs.stop)):
        target = aptr + j * cog * m * fa * item
        for t, (phase, shift) in enumerate(taps):
            tap_run = fptr + (((phase * c + gi * cig) * n + bs.start) * f + base + shift) * item
            weights = wptr + (t * g + gi) * cog * cig * item
            beta = 0.0 if t == 0 else 1.0
            # row-major, no transposes: (C_out/g × C/g) @ (C/g × span) (+ acc)
            gemm(
                ROW_MAJOR,
                NO_TRANS,
                NO_TRANS,
                cog,
                span,
                cig,
                1.0,
                weights,
                cig,
                tap_run,
                n * f,
                beta,
                target,
                m * fa,
            )
    return np.moveaxis(acc[..., :length], 2, 0)


def _batched_products(
    run: Run,
    flat: np.ndarray,
    taps: Sequence[tuple[int, int]],
    wtap: np.ndarray,
    piece: Piece,
    width: int,
) -> np.ndarray:
    """The sum over the taps of one piece, ``flat`` (P, N, C, F): per tap one ``np.matmul``
    batched over the piece's groups, added up; (m, blk, C_out/g, rows · ``width``)."""
    bs, rs, gs = piece
    cog, cig = wtap.shape[2:]
    m, blk = bs.stop - bs.start, gs.stop - gs.start
    length = (rs.stop - rs.start) * width
    base = rs.start * width
    product = run.scratch("product", (m, blk, cog, length), flat.dtype)
    tmp = run.scratch("tap product", (m, blk, cog, length), flat.dtype)
    channels = slice(gs.start * cig, gs.stop * cig)
    for t, (phase, shift) in enumerate(taps):
        tap_run = flat[phase, bs, channels, base + shift : base + shift + length]
        np.matmul(wtap[t, gs], tap_run.reshape(m, blk, cig, length), out=product if t == 0 else tmp)
        if t:
            product += tmp
    return product
