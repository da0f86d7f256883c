"""Which input element each output element of a nearest-neighbour resize reads, as
torch's CPU kernels compute it (float32 arithmetic, so not always ⌊o · s⌋ exactly): in NumPy
for the forward pass, and in plain Python for the receptive field (``convcalc shape`` loads
no NumPy).

torch 2.x runs the legacy nearest_idx kernels on 2-d inputs (a copy when the size is kept,
o >> 1 when it doubles, else ⌊o · s⌋ with a float32 s) and the generic ones on 1-d and 3-d
inputs (in the input's type; float32 here for the receptive field).
"""

from __future__ import annotations

import math
import struct
from typing import Any

from ..periodic import LIMIT, Periodic, reduced, resample_map

#: output sizes up to this are read element by element for the receptive field; beyond, the
#: exact ⌊o · s⌋ pattern stands for torch's (they differ at few elements, if any)
TABLE = 1 << 16


def nearest_taps(
    n_in: int, n_out: int, scale: float | None, exact: bool, legacy: bool, dtype: Any, part: slice
) -> Any:
    """The source index of each output index, as torch's CPU kernels compute it.

    Generic kernel (HelperInterpNearest[Exact], in the input's type): nearest floor(i · s),
    nearest-exact floor(max(s · (i + 0.5) - 0.5, 0) + 0.5); s = 1/scale_factor when given,
    else in/out; the floor is floorf (float32); the index is clamped to in - 1.
    Legacy kernels (2-d): nearest_idx, a copy when out == in, i >> 1 when out == 2·in,
    else floorf(i · s) in float32 whatever the input's type; nearest_exact_idx,
    floorf((i + 0.5) · s) with s a float32.
    """
    import numpy as np

    at = np.arange(part.start, part.stop, dtype=np.int64)  # the output indices
    if legacy and exact:  # floorf((i + 0.5) · s): a double product of a float32 scale
        s32 = compute_scale(n_in, n_out, scale, np.float32)
        src = (at + 0.5) * np.float64(s32)
        idx = np.floor(src.astype(np.float32)).astype(np.int64)
        return np.minimum(idx, n_in - 1)[:, None]
    if legacy:
        if n_out == n_in:
            return at[:, None]
        if n_out == 2 * n_in:
            return (at >> 1)[:, None]
    t: Any = np.float32 if dtype == np.float32 or legacy else np.float64
    s = compute_scale(n_in, n_out, scale, t)
    i = at.astype(t)
    if exact:
        src = s * (i + t(0.5)) - t(0.5)
        src = np.where(src < 0, t(0), src) + t(0.5)
    else:
        src = s * i
    idx = np.floor(src.astype(np.float32)).astype(np.int64)
    return np.minimum(idx, n_in - 1)[:, None]


def compute_scale(n_in: int, n_out: int, scale: float | None, t: Any) -> Any:
    """torch's compute_scales_value: 1/scale_factor when given (> 0), else in/out, in type ``t``
    (a NumPy type, or :func:`_f32` for plain Python floats rounded as float32)."""
    if scale is not None and scale > 0:
        return t(1.0 / scale)
    return t(t(n_in) / t(n_out))


def _f32(v: float) -> float:
    """``v`` rounded to float32 (a product of two float32 values rounded so is IEEE's)."""
    return float(struct.unpack("f", struct.pack("f", v))[0])


def nearest_sources(
    n_in: int, n_out: int, scale: float | None, exact: bool, legacy: bool
) -> list[int]:
    """The source index of every output index (unclamped), in float32 as :func:`nearest_taps`."""
    outs = range(n_out)
    if legacy and exact:  # floorf((o + 0.5) · s): a double product of a float32 scale
        s32 = compute_scale(n_in, n_out, scale, _f32)
        return [math.floor(_f32((o + 0.5) * s32)) for o in outs]
    if legacy and n_out == n_in:
        return list(outs)
    if legacy and n_out == 2 * n_in:
        return [o >> 1 for o in outs]
    s = compute_scale(n_in, n_out, scale, _f32)
    if exact:
        src = [_f32(_f32(s * _f32(o + 0.5)) - 0.5) for o in outs]
        return [math.floor(_f32((v if v >= 0 else 0.0) + 0.5)) for v in src]
    return [math.floor(_f32(s * o)) for o in outs]


def nearest_map(
    n_in: int, n_out: int, scale: float | None, exact: bool, legacy: bool
) -> Periodic | None:
    """The receptive-field map of a nearest resize's axis: the elements torch reads, with
    their shortest period (the whole output when float32 rounding breaks the pattern)."""
    pattern = resample_map("nearest-exact" if exact else "nearest", n_in, n_out, scale, False)
    if pattern is None and not (legacy and scale is not None):
        return None
    if n_out > TABLE or n_out <= 0:
        return pattern
    sources = tuple(nearest_sources(n_in, n_out, scale, exact, legacy))
    table = reduced(Periodic(n_out, n_in, sources, sources))
    return table if table.period <= LIMIT or pattern is None else pattern
