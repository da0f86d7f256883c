"""The plain convolution that defines the right answer: im2col and one product per group.

Slow and obviously correct, in float64 whatever the input's dtype; every fast path is tested
against it, and it against PyTorch. 1 to 3 spatial dimensions, groups, stride, dilation, zero
padding; and the transposed convolution, as the sum of the kernel's scattered copies.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np


def conv_reference(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    stride: Sequence[int],
    dilation: Sequence[int],
    groups: int,
    pads: Sequence[tuple[int, int]],
) -> np.ndarray:
    """PyTorch's ConvNd: ``x`` (N, C, *spatial) zero-padded by ``pads`` (before, after per
    axis), cross-correlated with ``weight`` (C_out, C/groups, *kernel), plus ``bias``."""
    xp = np.pad(x.astype(np.float64), [(0, 0), (0, 0), *pads])
    n, c = xp.shape[:2]
    c_out, cig = weight.shape[:2]
    kernel = tuple(weight.shape[2:])
    out = tuple(
        (size - d * (k - 1) - 1) // s + 1
        for size, k, s, d in zip(xp.shape[2:], kernel, stride, dilation)
    )
    # the column matrix: every kernel tap's view of every output position
    cols = np.empty((n, c, *kernel, *out))
    for offset in itertools.product(*[range(k) for k in kernel]):
        window = tuple(
            slice(o * d, o * d + s * (m - 1) + 1, s)
            for o, d, s, m in zip(offset, dilation, stride, out)
        )
        tap: tuple[slice | int, ...] = (slice(None), slice(None), *offset)
        cols[tap] = xp[(slice(None), slice(None), *window)]
    taps = int(np.prod(kernel))
    columns = cols.reshape(n, groups, cig * taps, -1)
    w = weight.astype(np.float64).reshape(groups, c_out // groups, cig * taps)
    y = (w @ columns).reshape(n, c_out, *out)
    if bias is not None:
        y += bias.astype(np.float64).reshape((c_out,) + (1,) * len(out))
    return y.astype(x.dtype)


def conv_transpose_reference(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    stride: Sequence[int],
    padding: Sequence[int],
    output_padding: Sequence[int],
    dilation: Sequence[int],
    groups: int,
) -> np.ndarray:
    """PyTorch's ConvTransposeNd: every input pixel adds its value times the kernel at
    stride × its position; the result cropped by ``padding`` (``output_padding`` more at the
    far end). ``weight`` is (C_in, C_out/groups, *kernel)."""
    n, c_in = x.shape[:2]
    cig, cog = c_in // groups, weight.shape[1]
    kernel = tuple(weight.shape[2:])
    inp = tuple(x.shape[2:])
    full = [(i - 1) * s + d * (k - 1) + 1 for i, s, d, k in zip(inp, stride, dilation, kernel)]
    out = [f - 2 * p + op for f, p, op in zip(full, padding, output_padding)]
    y = np.zeros((n, groups, cog, *[f + op for f, op in zip(full, output_padding)]))
    xg = x.astype(np.float64).reshape(n, groups, cig, -1)
    wg = weight.astype(np.float64).reshape(groups, cig, cog, *kernel)
    for offset in itertools.product(*[range(k) for k in kernel]):
        # (n, g, cog, pixels): what this kernel tap adds, at stride × the input position
        tap: tuple[slice | int, ...] = (slice(None), slice(None), slice(None), *offset)
        added = np.swapaxes(wg[tap], 1, 2) @ xg
        at = tuple(
            slice(o * d, o * d + s * (i - 1) + 1, s)
            for o, d, s, i in zip(offset, dilation, stride, inp)
        )
        y[(slice(None), slice(None), slice(None), *at)] += added.reshape(n, groups, cog, *inp)
    crop = tuple(slice(p, p + o) for p, o in zip(padding, out))
    y = y[(slice(None), slice(None), slice(None), *crop)].reshape(n, groups * cog, *out)
    if bias is not None:
        y += bias.astype(np.float64).reshape((groups * cog,) + (1,) * len(out))
    return y.astype(x.dtype)
