"""Padding in PyTorch's modes, a slab of padded rows, and the windows of a strided view.

Everything works on the trailing ``nd`` spatial axes of an array and returns views where it can.
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


def padded_rows(
    x: np.ndarray, axis: int, first: int, stop: int, pad_before: int, mode: str
) -> np.ndarray:
    """Rows ``first … stop - 1`` of ``x`` padded along ``axis`` in ``mode`` (reflect, replicate
    or circular: torch's F.pad; the pad before is ``pad_before``), gathered without padding
    the rest: a slab of a padded input, from the rows it takes."""
    rows = mode_index(np.arange(first, stop) - pad_before, x.shape[axis], mode)
    return np.take(x, rows, axis=axis)


def mode_index(rows: np.ndarray, size: int, mode: str) -> np.ndarray:
    """The input indices (of an axis of ``size``) that padded positions ``rows`` (counted in
    the input's own indices, negative before it) read in ``mode``: reflect, replicate or
    circular."""
    if mode == "reflect":
        period = 2 * (size - 1)
        rows = np.abs(rows) % period if period else np.zeros_like(rows)
        folded: np.ndarray = np.where(rows >= size, period - rows, rows)
        return folded
    if mode == "replicate":
        clipped: np.ndarray = np.clip(rows, 0, size - 1)
        return clipped
    return rows % size  # circular


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
