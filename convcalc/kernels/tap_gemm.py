"""Wide standard convolution on large images: one BLAS product per kernel tap on the flat
padded image, accumulated in place (no column matrix)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .blas import Gemm


def tap_products(
    gemm: Gemm,
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

    ``flat`` is channels-first, (P, C, N, F) (see :func:`~convcalc.kernels.phases.phases`): a channel's rows of the
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
        tap_run = fptr + ((phase * c * n + start) * f + base + shift) * item
        weights = wptr + t * c_out * c * item
        beta = 0.0 if t == 0 else 1.0
        # row-major, no transposes: (C_out × C) @ (C × span) (+ prod), ld = N·F and m·F
        ldc = m * prod.shape[2]
        gemm(101, 111, 111, c_out, span, c, 1.0, weights, c, tap_run, n * f, beta, pptr, ldc)
