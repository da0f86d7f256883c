"""Standard (or wide grouped) convolution with few output positions: the column matrix
gathered channels-last, one product per item."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from .memory import prod
from .padding import PadPairs
from .run import Run


def channels_last(
    run: Run,
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
    taps_n = prod(kernel)
    spatial = xp.shape[2:]
    padded = tuple(size + a + b for size, (a, b) in zip(spatial, pads))
    positions = prod(out)
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
        laid = run.scratch("channels-last", padded + (c,), xp.dtype)
        for d, (a, b) in enumerate(pads):  # the padding borders only
            lead = (slice(None),) * d
            laid[lead + (slice(0, a),)] = 0
            laid[lead + (slice(padded[d] - b, None),)] = 0
        laid[inner] = xp[i].transpose(order)
        cols = run.scratch("columns", (positions, depth), xp.dtype)
        grid = cols.reshape(tuple(out) + (c, taps_n))
        for t, window in enumerate(windows):
            grid[..., t] = laid[window]
        target = y[i].reshape(g, c_out // g, positions)
        np.matmul(wmat, cols.reshape(positions, g, depth // g).transpose(1, 2, 0), out=target)
        if bias is not None:
            target += bias.reshape(g, c_out // g, 1)

    run.workers.map_gemm(item, list(range(n)))
