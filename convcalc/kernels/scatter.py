"""Transposed convolution added straight into the output, for the shapes where the stride-phase
layout wastes its work: a stride with more phases than the kernel has taps (most phases hold
only the bias), or a kernel whose footprints for one input row pass the budget. The output
starts from the bias, once; then each kernel tap adds its product with the input at
stride × the input position (when there are fewer taps than input pixels), or each input pixel
adds its kernel footprint (fewer pixels than taps). Python's loop runs over the fewer of the
two; the arithmetic is the MACs, the memory the output and pieces within the budget."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from .memory import item_parts, prod, row_chunks
from .phases import in_range


def scatter_transpose(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    stride: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
    groups: int,
    out: Sequence[int],
    budget: int,
) -> np.ndarray:
    """PyTorch's ConvTransposeNd of the batched ``x`` (N, C_in, *spatial) with ``weight``
    (C_in, C_out/groups, *kernel) into an output of spatial sizes ``out``, within ``budget``
    bytes of temporaries beside the output."""
    n = x.shape[0]
    c_out = weight.shape[1] * groups
    y = np.empty((n, c_out, *out), dtype=x.dtype)
    y[...] = 0 if bias is None else bias.reshape((-1,) + (1,) * len(out))
    if prod(weight.shape[2:]) <= prod(x.shape[2:]):
        _by_taps(x, weight, stride, padding, dilation, groups, y, budget)
    else:
        _by_pixels(x, weight, stride, padding, dilation, groups, y, budget)
    return y


def _by_taps(
    x: np.ndarray,
    weight: np.ndarray,
    stride: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
    groups: int,
    y: np.ndarray,
    budget: int,
) -> None:
    """Per kernel tap: its product with the input pieces (items, input rows), added at
    ``o·d + i·s - p`` into ``y``; taps in blocks that fit the budget, one product a block."""
    n, c_in = x.shape[:2]
    inp = tuple(x.shape[2:])
    kernel = tuple(weight.shape[2:])
    g, cog = groups, weight.shape[1]
    cig, kk = c_in // g, prod(kernel)
    row = prod(inp[1:])
    item = x.dtype.itemsize
    xf = np.ascontiguousarray(x).reshape(n, g, cig, inp[0] * row)
    # per tap (g, C_out/g, C/g): a block of taps is one (g, taps·C_out/g, C/g) matrix
    wtap = np.ascontiguousarray(np.moveaxis(weight.reshape(g, cig, cog, kk), 3, 1).swapaxes(2, 3))
    yv = y.reshape(n, g, cog, *y.shape[2:])
    one_tap_row = g * cog * row * item
    for bs, rs in row_chunks(n, inp[0], one_tap_row, budget):
        m, rows = bs.stop - bs.start, rs.stop - rs.start
        block = max(1, min(kk, budget // max(1, m * rows * one_tap_row)))
        xs = xf[bs, :, :, rs.start * row : rs.stop * row]
        for t0 in range(0, kk, block):
            t1 = min(kk, t0 + block)
            w_blk = wtap[:, t0:t1].reshape(g, (t1 - t0) * cog, cig)
            cols = np.matmul(w_blk, xs).reshape(m, g, t1 - t0, cog, rows, *inp[1:])
            for t in range(t0, t1):
                offset = [int(o) for o in np.unravel_index(t, kernel)]  # (no list of them all)
                dst: list[slice] = [bs, slice(None), slice(None)]
                src: list[slice] = [slice(None)] * 3
                for a, (o, s, p, d, size) in enumerate(
                    zip(offset, stride, padding, dilation, y.shape[2:])
                ):
                    first = o * d - p + (rs.start * s if a == 0 else 0)
                    lo, hi = in_range(first, s, rows if a == 0 else inp[a], size)
                    if hi <= lo:
                        break
                    src.append(slice(lo, hi))
                    dst.append(slice(first + lo * s, first + (hi - 1) * s + 1, s))
                else:
                    yv[tuple(dst)] += cols[:, :, t - t0][(slice(None),) * 3 + tuple(src[3:])]
            del cols


def _by_pixels(
    x: np.ndarray,
    weight: np.ndarray,
    stride: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
    groups: int,
    y: np.ndarray,
    budget: int,
) -> None:
    """Per input pixel: its kernel footprint (the pixel's channels times the weight), added at
    ``i·s + o·d - p`` into ``y``; over pieces of items and output channels within the budget."""
    n, c_in = x.shape[:2]
    inp = tuple(x.shape[2:])
    kernel = tuple(weight.shape[2:])
    g, cog = groups, weight.shape[1]
    cig, kk = c_in // g, prod(kernel)
    item = x.dtype.itemsize
    xf = x.reshape(n, g, cig, prod(inp))
    wg = weight.reshape(g, cig, cog, kk)
    yv = y.reshape(n, g, cog, *y.shape[2:])
    for bs, cs in item_parts(n, cog, g * cog * kk * item, budget):
        m, width = bs.stop - bs.start, cs.stop - cs.start
        w_part = wg[:, :, cs].reshape(g, cig, width * kk)
        for flat_i, at in enumerate(itertools.product(*[range(i) for i in inp])):
            dst: list[slice] = [bs, slice(None), cs]
            src: list[slice] = []
            for i, s, p, d, k, size in zip(at, stride, padding, dilation, kernel, y.shape[2:]):
                first = i * s - p
                lo, hi = in_range(first, d, k, size)
                if hi <= lo:
                    break
                src.append(slice(lo, hi))
                dst.append(slice(first + lo * d, first + (hi - 1) * d + 1, d))
            else:
                # (m, g, 1, C/g) @ (g, C/g, width·kk): the pixel's footprint in every channel
                foot = np.matmul(xf[bs, :, None, :, flat_i], w_part)
                foot = foot.reshape(m, g, width, *kernel)
                yv[tuple(dst)] += foot[(slice(None),) * 3 + tuple(src)]
