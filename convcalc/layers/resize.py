"""Resizing, padding and rearranging: Upsample, the padding layers, PixelShuffle, ChannelShuffle.

None of these has parameters, and torch.utils.flop_counter counts no MACs for them.
Every rule PyTorch applies to them is enforced in forward (construction stores the
arguments unchecked), so every check here lives in ``out_shape``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from ..errors import ShapeError
from ..shape import AXES, Shape, fmt_shape, prod
from .base import (
    REQUIRED,
    Arg,
    BadValue,
    Layer,
    check_positive,
    converter_form,
    is_int,
    rank_error,
    register,
    spatial_example,
    to_choice,
    to_float,
    to_int,
)

INT64_MAX = 2**63 - 1


# ----------------------------------------------------------------- converters
@converter_form("bool or None")
def to_opt_bool(v: Any) -> bool | None:
    if v is None:
        return None
    if not isinstance(v, bool):
        raise BadValue("true, false or None")
    return v


@converter_form("int or list of int, or None")
def to_size(v: Any) -> None | int | tuple[int, ...]:
    if v is None:
        return None
    if is_int(v):
        return int(v)
    if isinstance(v, (list, tuple)) and all(is_int(i) for i in v):
        return tuple(int(i) for i in v)
    raise BadValue("an integer, a list of integers or None")


@converter_form("float or list of float, or None")
def to_scale(v: Any) -> None | float | tuple[float, ...]:
    if v is None:
        return None
    if isinstance(v, (list, tuple)):
        try:
            return tuple(to_float(i) for i in v)
        except BadValue:
            raise BadValue("a number, a list of numbers or None") from None
    try:
        return to_float(v)
    except BadValue:
        raise BadValue("a number, a list of numbers or None") from None


@converter_form("int or list of int")
def to_padding(v: Any) -> int | tuple[int, ...]:
    """An int (the same on every side) or a list kept as given (torch does not check its length)."""
    if is_int(v):
        return int(v)
    if isinstance(v, (list, tuple)) and all(is_int(i) for i in v):
        return tuple(int(i) for i in v)
    raise BadValue("an integer or a list of integers")


def _axis(rank: int, dim: int) -> str:
    """A readable name for dimension ``dim`` of a ``rank``-D tensor ("W", "H", "D" or "dim 1")."""
    from_end = rank - dim
    return ("W", "H", "D")[from_end - 1] if from_end <= 3 else f"dim {dim}"


# ---------------------------------------------------------------- upsampling
UPSAMPLE_MODES = (
    "nearest",
    "nearest-exact",
    "linear",
    "bilinear",
    "bicubic",
    "trilinear",
    "area",
    "lanczos",
)
#: the rank each interpolating mode needs (the others take 3D, 4D or 5D)
MODE_RANK = {"linear": 3, "bilinear": 4, "bicubic": 4, "lanczos": 4, "trilinear": 5}
SPATIAL_NAME = {3: "(N, C, L)", 4: "(N, C, H, W)", 5: "(N, C, D, H, W)"}


@register
class Upsample(Layer):
    @classmethod
    def example(cls):
        return (), {"scale_factor": 2, "mode": "nearest"}, (1, 8, 6, 6)

    type_name = "Upsample"
    summary = "resizes (N, C, *spatial) to size, or to floor(in × scale_factor) per axis"
    ARGS: ClassVar[tuple[Arg, ...]] = (
        Arg("size", to_size, None),
        Arg("scale_factor", to_scale, None),
        Arg("mode", to_choice(*UPSAMPLE_MODES), "nearest"),
        Arg("align_corners", to_opt_bool, None),
        Arg("recompute_scale_factor", to_opt_bool, None),
    )
    size: None | int | tuple[int, ...]
    scale_factor: None | float | tuple[float, ...]
    mode: str
    _rank: int = 4
    align_corners: bool | None
    recompute_scale_factor: bool | None

    def _scale(self) -> None | float | tuple[float, ...]:
        # nn.Upsample stores `float(scale_factor) if scale_factor else None`: a scalar 0 is "not given"
        s = self.scale_factor
        return None if s is not None and not isinstance(s, tuple) and s == 0 else s

    def out_shape(self, x: Shape) -> Shape:
        mode = self.mode
        if mode in ("nearest", "area", "nearest-exact") and self.align_corners is not None:
            raise ShapeError(
                f"align_corners can only be set with the interpolating modes "
                f"(linear, bilinear, bicubic, trilinear), not mode={mode!r}",
                argument="align_corners",
                expected="None",
                got=self.align_corners,
                hint="remove align_corners",
            )
        size, scale = self.size, self._scale()
        if size is not None and scale is not None:
            raise ShapeError(
                "only one of size or scale_factor should be defined",
                argument="scale_factor",
                expected="size or scale_factor, not both",
                got=scale,
                hint="remove size or scale_factor",
            )
        if size is None and scale is None:
            zero = self.scale_factor is not None
            raise ShapeError(
                "either size or scale_factor should be defined"
                + (" (scale_factor=0 counts as not given)" if zero else ""),
                argument="scale_factor" if zero else "size",
                expected="size or scale_factor",
                got=self.scale_factor if zero else None,
                hint="add size: <output size> or scale_factor: <multiplier>",
            )
        if self.recompute_scale_factor and size is not None:
            raise ShapeError(
                "recompute_scale_factor is not meaningful with an explicit size",
                argument="recompute_scale_factor",
                expected="None or false with size",
                got=True,
                hint="remove recompute_scale_factor, or give scale_factor instead of size",
            )
        rank = len(x)
        if rank not in (3, 4, 5):
            want = MODE_RANK.get(mode)
            raise rank_error(
                f"expects a {want}D {SPATIAL_NAME[want]} input for mode={mode!r}"
                if want
                else "expects a 3D (N, C, L), 4D (N, C, H, W) or 5D (N, C, D, H, W) input",
                x,
                f"{want}D" if want else "3D, 4D or 5D",
                hint="Upsample needs a batch dimension: add one (N=1)" if rank == 2 else None,
            )
        nd = rank - 2
        for name, value in (("size", size), ("scale_factor", scale)):
            if isinstance(value, tuple) and len(value) != nd:
                raise ShapeError(
                    f"{name} has {len(value)} value{'s' if len(value) != 1 else ''}, the input "
                    f"{fmt_shape(x)} has {nd} spatial dimension{'s' if nd != 1 else ''}",
                    argument=name,
                    expected=f"{nd} values",
                    got=value,
                    hint=f"give {name} as one number or {nd} values (one per axis of {SPATIAL_NAME[rank]})",
                )
        want = MODE_RANK.get(mode)
        if want is not None and rank != want:
            raise rank_error(
                f"mode={mode!r} needs a {want}D {SPATIAL_NAME[want]} input",
                x,
                f"{want}D",
                hint=_mode_hint(rank),
            )
        if mode == "lanczos":
            raise ShapeError(
                "mode='lanczos' "
                + (
                    "does not support align_corners=True"
                    if self.align_corners
                    else "requires antialias=True, which nn.Upsample cannot pass"
                ),
                argument="mode",
                got=mode,
                hint="use mode='bicubic', or F.interpolate(..., mode='lanczos', antialias=True) outside nn.Upsample",
            )
        spatial = x[2:]
        empty = [d for d in (range(2, rank) if mode == "area" else range(1, rank)) if x[d] == 0]
        if empty:
            d = empty[0]
            raise ShapeError(
                f"expects non-empty input dimensions, {_axis(rank, d) if d >= 2 else 'C'} is 0 in {fmt_shape(x)}",
                argument="input",
                expected="a non-zero size",
                got=0,
                dim=d,
            )
        out = []
        for i, n in enumerate(spatial):
            if size is not None:
                out.append(size[i] if isinstance(size, tuple) else size)
                continue
            s = scale[i] if isinstance(scale, tuple) else scale
            assert s is not None
            product = n * s
            if not math.isfinite(product) or abs(product) > INT64_MAX:
                raise ShapeError(
                    f"scale_factor {_num(s) if math.isfinite(s) else s} × {n} cannot be converted to an int64 output size",
                    argument="scale_factor",
                    expected="a finite output size",
                    got=s,
                )
            out.append(int(product))  # torch truncates the float64 product
        for i, (n, o) in enumerate(zip(spatial, out)):
            limit = 0 if mode == "area" else 1
            if o < limit:
                axis = AXES[nd][i]
                by_scale = size is None
                raise ShapeError(
                    f"output size must be {'non-negative' if limit == 0 else 'greater than 0'}: "
                    + (
                        f"{axis} {n} × {_num(_scale_at(scale, i))} gives {o}"
                        if by_scale
                        else f"{axis} size {o}"
                    ),
                    argument="scale_factor" if by_scale else "size",
                    expected=f"an output size of at least {limit}",
                    got=o,
                    dim=2 + i if by_scale else None,
                    hint=(
                        "use a larger scale_factor or a larger input"
                        if by_scale
                        else "use a positive size"
                    ),
                )
        return x[:2] + tuple(out)

    def notes(self, x: Shape, y: Shape) -> list[str]:
        notes = []
        scale = self._scale()
        if scale is not None:
            nd = len(x) - 2
            lost = []
            for i, (n, o) in enumerate(zip(x[2:], y[2:])):
                s = _scale_at(scale, i)
                if n * s != o:
                    rounding = (
                        " (float64 rounding)"
                        if round(n * s) > o and abs(n * s - round(n * s)) < 1e-9
                        else ""
                    )
                    lost.append(f"{AXES[nd][i]}: {n} × {_num(s)} = {_num(n * s)} → {o}{rounding}")
            if lost:
                notes.append("; ".join(lost))
        if len(x) == 3 and self.mode in ("nearest", "nearest-exact", "area"):
            notes.append("a 3D input is read as (N, C, L): only the last dimension is resized")
        return notes

    # -- NumPy forward pass ------------------------------------------------------
    def _kernel_scales(self, x: Shape) -> list[float | None]:
        """The scale factor torch's kernel receives per axis (None: derived from the sizes)."""
        nd = len(x) - 2
        scale = self._scale()
        if self.size is not None or scale is None or self.recompute_scale_factor:
            return [None] * nd
        return [_scale_at(scale, i) for i in range(nd)]

    def _taps(self, n_in: int, n_out: int, scale: float | None, dtype: Any) -> tuple[Any, Any]:
        """Per output index along one axis: source indices (n_out, T) and weights (or None)."""
        mode = self.mode
        if mode in ("nearest", "nearest-exact"):
            # torch 2.x: 2-d inputs run the legacy nearest_idx kernels, 1-d and 3-d the generic one
            legacy = self._rank == 4
            return _nearest_taps(n_in, n_out, scale, mode == "nearest-exact", legacy, dtype), None
        if mode == "area":
            return _area_taps(n_in, n_out)
        return _interp_taps(n_in, n_out, scale, bool(self.align_corners), mode == "bicubic", dtype)

    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        import numpy as np

        from ..numeric import item_parts

        y_shape = self.out_shape(tuple(x.shape))
        out = np.empty(y_shape, dtype=x.dtype)
        if out.size == 0:
            return out
        scales = self._kernel_scales(x.shape)
        nd = x.ndim - 2
        self._rank = x.ndim
        plans = []
        for i in range(nd):
            n_in, n_out = x.shape[2 + i], y_shape[2 + i]
            idx, wts = self._taps(n_in, n_out, scales[i], x.dtype)
            plans.append((2 + i, n_out / n_in, idx, wts))
        plans.sort(key=lambda p: p[1])  # shrink first: smaller intermediates
        per = max(self.workspace(x.shape, y_shape) // max(x.shape[0], 1), 1) * x.itemsize
        # every channel is resampled on its own: chunked over items, then channels
        for items, channels in item_parts(x.shape[0], x.shape[1], per, budget):
            v = x[items, channels]
            for axis, _, idx, wts in plans:
                v = _resample(v, axis, idx, wts)
            out[items, channels] = v
        return out

    def workspace(self, x: Shape, y: Shape) -> int:
        # each axis pass holds its input, its result and one gathered tap
        size, peak = prod(x), 0
        ratios = sorted((y[i] / x[i] if x[i] else 1.0, i) for i in range(2, len(x)))
        shape = list(x)
        for _, i in ratios:
            shape[i] = y[i]
            nxt = prod(shape)
            peak = max(peak, size + 2 * nxt)
            size = nxt
        return peak


def _nearest_taps(
    n_in: int, n_out: int, scale: float | None, exact: bool, legacy: bool, dtype: Any
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

    if legacy and exact:  # floorf((i + 0.5) · s): a double product of a float32 scale
        s32 = _compute_scale(n_in, n_out, scale, np.float32)
        src = (np.arange(n_out) + 0.5) * np.float64(s32)
        idx = np.floor(src.astype(np.float32)).astype(np.int64)
        return np.minimum(idx, n_in - 1)[:, None]
    if legacy:
        if n_out == n_in:
            return np.arange(n_out, dtype=np.int64)[:, None]
        if n_out == 2 * n_in:
            return (np.arange(n_out, dtype=np.int64) >> 1)[:, None]
    t: Any = np.float32 if dtype == np.float32 or legacy else np.float64
    s = _compute_scale(n_in, n_out, scale, t)
    i = np.arange(n_out, dtype=t)
    if exact:
        src = s * (i + t(0.5)) - t(0.5)
        src = np.where(src < 0, t(0), src) + t(0.5)
    else:
        src = s * i
    idx = np.floor(src.astype(np.float32)).astype(np.int64)
    return np.minimum(idx, n_in - 1)[:, None]


def _compute_scale(n_in: int, n_out: int, scale: float | None, t: Any) -> Any:
    """torch's compute_scales_value: 1/scale_factor when given (> 0), else in/out, in type ``t``."""
    if scale is not None and scale > 0:
        return t(1.0 / scale)
    return t(n_in) / t(n_out)


def _interp_taps(
    n_in: int, n_out: int, scale: float | None, align_corners: bool, cubic: bool, dtype: Any
) -> tuple[Any, Any]:
    """Linear (2 taps) or cubic (4 taps, A = -0.75, border-clamped) interpolation weights.

    torch's area_pixel_compute_scale / area_pixel_compute_source_index /
    guard_index_and_lambda, computed in the input's type as torch's opmath is.
    """
    import numpy as np

    t: Any = np.float32 if dtype == np.float32 else np.float64
    i = np.arange(n_out, dtype=t)
    if align_corners:
        s = t(n_in - 1) / t(n_out - 1) if n_out > 1 else t(0)
        src = s * i
    else:
        s = _compute_scale(n_in, n_out, scale, t)
        src = s * (i + t(0.5)) - t(0.5)
        if not cubic:
            src = np.where(src < 0, t(0), src)
    index = np.minimum(np.floor(src.astype(np.float32)).astype(np.int64), n_in - 1)
    lam = np.clip(src - index.astype(t), t(0), t(1))
    if not cubic:
        if n_in == n_out:  # torch copies: index i, weights (1, 0)
            index = np.arange(n_out, dtype=np.int64)
            lam = np.zeros(n_out, dtype=t)
        idx = np.stack([index, np.minimum(index + 1, n_in - 1)], axis=1)
        return idx, np.stack([1 - lam, lam], axis=1)
    a = t(-0.75)

    def near(v: Any) -> Any:  # |v| <= 1
        return ((a + 2) * v - (a + 3)) * v * v + 1

    def far(v: Any) -> Any:  # 1 < |v| < 2
        return ((a * v - 5 * a) * v + 8 * a) * v - 4 * a

    wts = np.stack([far(lam + 1), near(lam), near(1 - lam), far(2 - lam)], axis=1)
    idx = np.clip(index[:, None] + np.arange(-1, 3), 0, n_in - 1)
    return idx, wts


def _area_taps(n_in: int, n_out: int) -> tuple[Any, Any]:
    """Adaptive average pooling bins [floor(i·in/out), ceil((i+1)·in/out)) as padded taps."""
    import numpy as np

    i = np.arange(n_out, dtype=np.int64)
    start = (i * n_in) // n_out
    end = -((-(i + 1) * n_in) // n_out)
    length = end - start
    k = int(length.max()) if n_out else 1
    offs = np.arange(k)
    idx = np.minimum(start[:, None] + offs, n_in - 1)
    wts = np.where(offs < length[:, None], 1.0 / length[:, None], 0.0)
    return idx, wts


def _resample(v: Any, axis: int, idx: Any, wts: Any) -> Any:
    """Sum over taps t of wts[:, t] · v[..., idx[:, t], ...] along ``axis``."""
    import numpy as np

    if wts is None:
        src = idx[:, 0]
        n_in, n_out = v.shape[axis], src.size
        if n_out % n_in == 0 and np.array_equal(src, np.arange(n_out) // (n_out // n_in)):
            return np.repeat(v, n_out // n_in, axis=axis)  # an integer upscale: much faster
        return np.take(v, src, axis=axis)
    shape = [1] * v.ndim
    shape[axis] = -1
    w = wts.astype(v.dtype)
    acc = np.take(v, idx[:, 0], axis=axis)
    acc *= w[:, 0].reshape(shape)
    for tap in range(1, idx.shape[1]):
        g = np.take(v, idx[:, tap], axis=axis)
        g *= w[:, tap].reshape(shape)
        acc += g
    return acc


def _num(v: float) -> str:
    """A float as Python writes it, without a trailing .0 (2.0 → 2, 0.1 + 0.2 → 0.30000000000000004)."""
    return str(int(v)) if v.is_integer() and abs(v) < 1e16 else repr(v)


def _scale_at(scale: Any, i: int) -> float:
    return float(scale[i] if isinstance(scale, tuple) else scale)


def _mode_hint(rank: int) -> str | None:
    modes = {3: "'linear'", 4: "'bilinear' or 'bicubic'", 5: "'trilinear'"}.get(rank)
    return f"for a {rank}D input use mode={modes} or 'nearest'" if modes else None


@register
class UpsamplingNearest2d(Upsample):
    @classmethod
    def example(cls):
        return (), {"scale_factor": 2}, (1, 8, 6, 6)

    type_name = "UpsamplingNearest2d"
    summary = "Upsample(mode='nearest'): resizes to size or floor(in × scale_factor)"
    ARGS = (Arg("size", to_size, None), Arg("scale_factor", to_scale, None))
    mode = "nearest"
    align_corners = None
    recompute_scale_factor = None


@register
class UpsamplingBilinear2d(Upsample):
    @classmethod
    def example(cls):
        return (), {"size": (9, 9)}, (1, 8, 6, 6)

    type_name = "UpsamplingBilinear2d"
    summary = "Upsample(mode='bilinear', align_corners=True) on (N, C, H, W)"
    ARGS = (Arg("size", to_size, None), Arg("scale_factor", to_scale, None))
    mode = "bilinear"
    align_corners = True
    recompute_scale_factor = None


# ------------------------------------------------------------------- padding
class _Pad(Layer):
    """Shared by the padding types; ``nd`` and ``pad_mode`` are set per class.

    ``padding`` is (left, right, top, bottom, front, back): the LAST dimension first.
    Like torch, a tuple of any even length is taken as given (2 values pad only the
    last dimension, whatever the class's nd).
    """

    @classmethod
    def example(cls):
        return ((1, 2) * cls.nd,), {}, spatial_example(cls.nd)

    nd: ClassVar[int] = 2
    pad_mode: ClassVar[str] = "constant"
    padding: int | tuple[int, ...]

    def pads(self) -> tuple[int, ...]:
        p = self.padding
        return (p,) * (2 * self.nd) if isinstance(p, int) else p

    def out_shape(self, x: Shape) -> Shape:
        rank = len(x)
        mode = self.pad_mode
        if mode == "circular" and rank not in (self.nd + 1, self.nd + 2):
            raise rank_error(
                f"expects a {self.nd + 1}D or {self.nd + 2}D input",
                x,
                f"{self.nd + 1}D or {self.nd + 2}D",
            )
        pads = self.pads()
        if len(pads) % 2:
            raise ShapeError(
                f"padding length must be divisible by 2, got {len(pads)} values",
                argument="padding",
                expected="(left, right) pairs, last dimension first",
                got=pads,
                hint=f"give one integer or {2 * self.nd} values",
            )
        k = len(pads) // 2
        if k > rank:
            raise ShapeError(
                f"padding has {len(pads)} values, more than two per dimension of the {rank}D input {fmt_shape(x)}",
                argument="padding",
                expected=f"at most {2 * rank} values",
                got=pads,
                hint=f"give at most {2 * rank} values, or use a {k}D or larger input",
            )
        if mode != "constant" and not (1 <= k <= 3 and rank in (k + 1, k + 2)):
            word = {"reflect": "reflection", "replicate": "replication"}.get(mode, mode)
            raise rank_error(
                f"{word} padding with {len(pads)} values expects a {k + 1}D or {k + 2}D input"
                if 1 <= k <= 3
                else f"{word} padding does not support {len(pads)} padding values for a {rank}D input",
                x,
                f"{k + 1}D or {k + 2}D" if 1 <= k <= 3 else "2, 4 or 6 padding values",
                hint=(
                    f"give {2 * self.nd} values, one (left, right) pair per dimension, last dimension first"
                    if k != self.nd
                    else None
                ),
            )
        if mode in ("reflect", "replicate"):
            first = 1 if rank == k + 2 else 0
            for d in range(first, rank):
                if x[d] == 0:
                    raise ShapeError(
                        f"expects non-empty dimensions (except the batch), dim {d} is 0 in {fmt_shape(x)}",
                        argument="input",
                        expected="a non-zero size",
                        got=0,
                        dim=d,
                    )
        out = list(x)
        for j in range(k):
            d = rank - 1 - j
            left, right = pads[2 * j], pads[2 * j + 1]
            n = x[d]
            o = n + left + right
            axis = _axis(rank, d)
            where = f"{axis} is {n}, padding ({left}, {right})"
            if mode == "constant":
                if n + min(left, 0) + min(right, 0) < 0:
                    raise ShapeError(
                        f"negative padding crops more than the input: {where}",
                        argument="padding",
                        expected=f"cropping at most {n} in total",
                        got=(left, right),
                        dim=d,
                        hint="crop less or use a larger input",
                    )
            elif mode == "reflect" and (left >= n or right >= n):
                raise ShapeError(
                    f"reflection padding must be less than the input size: {where}",
                    argument="padding",
                    expected=f"less than {n}",
                    got=max(left, right),
                    dim=d,
                    hint=f"use padding of at most {n - 1}, a larger input or ReplicationPad{self.nd}d",
                )
            elif mode == "circular" and (left > n or right > n):
                raise ShapeError(
                    f"circular padding wraps around more than once: {where}",
                    argument="padding",
                    expected=f"at most {n}",
                    got=max(left, right),
                    dim=d,
                    hint=f"use padding of at most {n} or a larger input",
                )
            # torch's reflect/replicate kernels need >= 1 in 1-d, but only "some axis >= 1" in 2-d/3-d
            minimum = 1 if mode in ("reflect", "replicate") and k == 1 else 0
            if o < minimum:
                raise ShapeError(
                    f"output size must be at least {minimum}: {where} gives {o}",
                    argument="padding",
                    expected=f"an output size of at least {minimum}",
                    got=o,
                    dim=d,
                    hint="crop less or use a larger input",
                )
            out[d] = o
        y = tuple(out)
        padded = y[rank - k :]
        if mode in ("reflect", "replicate") and k > 1 and all(o == 0 for o in padded):
            raise ShapeError(
                f"output is empty: every padded dimension of {fmt_shape(x)} is cropped to 0",
                argument="padding",
                expected="an output size of at least 1 on some padded axis",
                got=padded,
                hint="crop less or use a larger input",
            )
        if mode == "circular":
            _circular_copies(x, y, pads)
        return y

    def notes(self, x: Shape, y: Shape) -> list[str]:
        pads = self.pads()
        notes = []
        k = len(pads) // 2
        if k != self.nd:
            which = "only the last dimension" if k == 1 else f"the last {k} dimensions"
            notes.append(f"padding has {len(pads)} values: pads {which}, not {self.nd}")
        if any(p < 0 for p in pads):
            notes.append("negative padding crops")
        empty = [_axis(len(y), d) for d in range(len(y) - k, len(y)) if y[d] == 0]
        if empty:
            notes.append(f"output is empty along {', '.join(empty)}")
        return notes

    # -- NumPy forward pass ------------------------------------------------------
    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        """Gather along each padded axis with torch's index rule (one take per axis).

        With t = j - left the output index j reads, on the original input:
        replicate clamp(t, 0, n-1); reflect |t| mirrored at n-1; circular the input
        cropped by any negative padding, wrapped. Constant crops, then fills ``value``.
        Circular padding wider than the cropped input is ill-defined in torch (its
        overlapping copies read memory being written, or never written): we wrap.
        """
        import numpy as np

        pads = self.pads()
        k = len(pads) // 2
        rank = x.ndim
        mode = self.pad_mode
        if mode == "constant":
            value = float(getattr(self, "value", 0.0))
            crop = [slice(None)] * rank
            widths = [(0, 0)] * rank
            for j in range(k):
                d = rank - 1 - j
                left, right = pads[2 * j], pads[2 * j + 1]
                crop[d] = slice(max(-left, 0), x.shape[d] - max(-right, 0))
                widths[d] = (max(left, 0), max(right, 0))
            v = x[tuple(crop)]
            return np.pad(v, widths, mode="constant", constant_values=value).astype(
                x.dtype, copy=False
            )
        if min(pads) >= 0:
            # NumPy's own modes agree with torch's when nothing is cropped (and are faster)
            widths = [(0, 0)] * rank
            for j in range(k):
                widths[rank - 1 - j] = (pads[2 * j], pads[2 * j + 1])
            np_mode: Any = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
            return np.pad(x, widths, mode=np_mode)
        v = x
        for j in range(k):
            d = rank - 1 - j
            left, right = pads[2 * j], pads[2 * j + 1]
            n = v.shape[d]
            t = np.arange(n + left + right) - left
            if mode == "replicate":
                idx = np.clip(t, 0, n - 1)
            elif mode == "reflect":
                idx = np.abs(t)
                idx = np.where(idx > n - 1, 2 * (n - 1) - idx, idx)
            else:  # circular: wrap over what negative padding leaves
                lo = max(-left, 0)
                m = n - lo - max(-right, 0)
                if m <= 0:
                    # nothing left to wrap: torch copies from uninitialised memory; we give zeros
                    shape = list(v.shape)
                    shape[d] = n + left + right
                    v = np.zeros(shape, dtype=x.dtype)
                    continue
                idx = lo + (np.arange(n + left + right) - max(left, 0)) % m
            v = np.take(v, idx, axis=d)
        return v if v is not x else x.copy()

    def workspace(self, x: Shape, y: Shape) -> int:
        # one intermediate per padded axis but the last
        return prod(y)


def _slice(size: int, start: int, end: int) -> tuple[int, int]:
    """torch's Tensor.slice(start, end) bounds (negative wrap once, then clamp)."""
    if start < 0:
        start += size
    if end < 0:
        end += size
    start = min(max(start, 0), size)
    end = min(max(end, start), size)
    return start, end


def _circular_copies(x: Shape, y: Shape, pads: tuple[int, ...]) -> None:
    """Replay the copies of torch's _pad_circular and raise where torch fails.

    With cropping on one side and wrapping on the other, torch's copies can have
    mismatched lengths or overlap in memory (for a contiguous output whose leading
    dims before the axis are all 1); torch raises then, and so do we.
    """
    rank, k = len(x), len(pads) // 2
    # copy of the (cropped) input into the output
    for j in range(k):
        d = rank - 1 - j
        left, right = pads[2 * j], pads[2 * j + 1]
        a, b = _slice(y[d], max(left, 0), y[d] - max(right, 0))
        c, e = _slice(x[d], max(-left, 0), x[d] - max(-right, 0))
        if e - c != b - a and e - c != 1:
            _circular_fail(x, d, left, right)
    for j in range(k):
        d = rank - 1 - j
        left, right = pads[2 * j], pads[2 * j + 1]
        size = y[d]
        copies = []
        if left > 0:
            copies.append(
                (
                    _slice(size, 0, left),
                    _slice(size, size - left - max(right, 0), size - max(right, 0)),
                )
            )
        if right > 0:
            copies.append(
                (_slice(size, size - right, size), _slice(size, max(left, 0), max(left, 0) + right))
            )
        # torch only detects the overlap when both slices are dense: all dims before d are 1
        dense = all(v == 1 for v in y[:d])
        rest = prod(y[:d]) * prod(y[d + 1 :])
        for (a, b), (c, e) in copies:
            if e - c != b - a and e - c != 1:
                _circular_fail(x, d, left, right)
            if dense and rest and b > a and e > c and (a, b) != (c, e) and a < e and c < b:
                _circular_fail(x, d, left, right)


def _circular_fail(x: Shape, d: int, left: int, right: int) -> None:
    raise ShapeError(
        f"circular padding ({left}, {right}) on {_axis(len(x), d)} of size {x[d]} mixes cropping and "
        "wrapping in a way torch's circular pad cannot copy",
        argument="padding",
        expected="padding whose wrapped part fits in what is left after cropping",
        got=(left, right),
        dim=d,
        hint="crop in a separate layer (ZeroPad with negative padding) before padding",
    )


class ZeroPadNd(_Pad):
    summary = "pads with zeros: out = in + left + right per padded axis (negative crops)"
    pad_mode = "constant"
    ARGS = (Arg("padding", to_padding),)


class ConstantPadNd(_Pad):
    @classmethod
    def example(cls):
        return ((1, 2) * cls.nd, 0.5), {}, spatial_example(cls.nd)

    summary = "pads with a constant: out = in + left + right per padded axis (negative crops)"
    pad_mode = "constant"
    ARGS = (Arg("padding", to_padding), Arg("value", to_float, REQUIRED))
    value: float


class ReflectionPadNd(_Pad):
    summary = "pads with the reflection of the input: each padding < the input size"
    pad_mode = "reflect"
    ARGS = (Arg("padding", to_padding),)


class ReplicationPadNd(_Pad):
    summary = "pads by repeating the edge values: out = in + left + right ≥ 1"
    pad_mode = "replicate"
    ARGS = (Arg("padding", to_padding),)


class CircularPadNd(_Pad):
    summary = "pads by wrapping around: each padding ≤ the input size"
    pad_mode = "circular"
    ARGS = (Arg("padding", to_padding),)


@register
class ZeroPad1d(ZeroPadNd):
    nd = 1


@register
class ZeroPad2d(ZeroPadNd):
    nd = 2


@register
class ZeroPad3d(ZeroPadNd):
    nd = 3


@register
class ConstantPad1d(ConstantPadNd):
    nd = 1


@register
class ConstantPad2d(ConstantPadNd):
    nd = 2


@register
class ConstantPad3d(ConstantPadNd):
    nd = 3


@register
class ReflectionPad1d(ReflectionPadNd):
    nd = 1


@register
class ReflectionPad2d(ReflectionPadNd):
    nd = 2


@register
class ReflectionPad3d(ReflectionPadNd):
    nd = 3


@register
class ReplicationPad1d(ReplicationPadNd):
    nd = 1


@register
class ReplicationPad2d(ReplicationPadNd):
    nd = 2


@register
class ReplicationPad3d(ReplicationPadNd):
    nd = 3


@register
class CircularPad1d(CircularPadNd):
    nd = 1


@register
class CircularPad2d(CircularPadNd):
    nd = 2


@register
class CircularPad3d(CircularPadNd):
    nd = 3


# ----------------------------------------------------- pixel / channel shuffle
def _check_factor(name: str, value: int, what: str) -> None:
    if value <= 0:
        raise ShapeError(
            f"{what} expects a positive {name}, got {value}",
            argument=name,
            expected="a positive integer",
            got=value,
        )


@register
class PixelShuffle(Layer):
    @classmethod
    def example(cls):
        return (2,), {}, (1, 8, 6, 6)

    summary = "(*, C·r², H, W) → (*, C, H·r, W·r)"
    ARGS = (Arg("upscale_factor", to_int),)
    upscale_factor: int

    def out_shape(self, x: Shape) -> Shape:
        r = self.upscale_factor
        if len(x) < 3:
            raise rank_error(
                "expects an input of at least 3 dimensions (*, C, H, W)", x, "3D or more"
            )
        _check_factor("upscale_factor", r, "pixel_shuffle")
        c = x[-3]
        if c % (r * r):
            lower = c - c % (r * r)
            raise ShapeError(
                f"channels must be divisible by upscale_factor² = {r * r}, receives {c}",
                argument="upscale_factor",
                expected=f"a multiple of {r * r}",
                got=c,
                dim=len(x) - 3,
                hint=f"use {lower or r * r} or {lower + r * r} channels",
            )
        return x[:-3] + (c // (r * r), x[-2] * r, x[-1] * r)

    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        import numpy as np

        r = self.upscale_factor
        *lead, c, h, wd = x.shape
        v = x.reshape(*lead, c // (r * r), r, r, h, wd)
        b = len(lead)
        v = v.transpose(*range(b), b, b + 3, b + 1, b + 4, b + 2)
        return np.ascontiguousarray(v).reshape(*lead, c // (r * r), h * r, wd * r)


@register
class PixelUnshuffle(Layer):
    @classmethod
    def example(cls):
        return (2,), {}, (1, 8, 6, 6)

    summary = "(*, C, H·r, W·r) → (*, C·r², H, W)"
    ARGS = (Arg("downscale_factor", to_int),)
    downscale_factor: int

    def out_shape(self, x: Shape) -> Shape:
        r = self.downscale_factor
        if len(x) < 3:
            raise rank_error(
                "expects an input of at least 3 dimensions (*, C, H, W)", x, "3D or more"
            )
        _check_factor("downscale_factor", r, "pixel_unshuffle")
        for d, axis in ((len(x) - 2, "H"), (len(x) - 1, "W")):
            if x[d] % r:
                lower = x[d] - x[d] % r
                raise ShapeError(
                    f"{axis} must be divisible by downscale_factor {r}, receives {x[d]}",
                    argument="downscale_factor",
                    expected=f"a multiple of {r}",
                    got=x[d],
                    dim=d,
                    hint=f"use {axis} {lower or r} or {lower + r}",
                )
        if prod(x) == 0:
            return x  # torch returns an empty input unchanged (a clone)
        return x[:-3] + (x[-3] * r * r, x[-2] // r, x[-1] // r)

    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        import numpy as np

        if x.size == 0:
            return x.copy()
        r = self.downscale_factor
        *lead, c, h, wd = x.shape
        b = len(lead)
        v = x.reshape(*lead, c, h // r, r, wd // r, r)
        v = v.transpose(*range(b), b, b + 2, b + 4, b + 1, b + 3)
        return np.ascontiguousarray(v).reshape(*lead, c * r * r, h // r, wd // r)


@register
class ChannelShuffle(Layer):
    @classmethod
    def example(cls):
        return (2,), {}, (1, 8, 6, 6)

    summary = "shuffles the channels (dim 1) in groups; shape unchanged"
    ARGS = (Arg("groups", to_int),)
    groups: int

    def out_shape(self, x: Shape) -> Shape:
        g = self.groups
        if len(x) < 3:
            raise rank_error(
                "expects an input of more than 2 dimensions (N, C, *)",
                x,
                "3D or more",
                hint="ChannelShuffle needs a batch dimension: channels are dim 1",
            )
        check_positive("groups", g, "positive")
        c = x[1]
        if c % g:
            raise ShapeError(
                f"channels must be divisible by groups: {c} channels, {g} groups",
                argument="groups",
                expected=f"a divisor of {c}",
                got=g,
                dim=1,
                hint=f"use groups dividing {c}, or {c - c % g or g} or {c - c % g + g} channels",
            )
        return x

    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        import numpy as np

        n, c = x.shape[0], x.shape[1]
        g = self.groups
        v = x.reshape(n, g, c // g, *x.shape[2:]).swapaxes(1, 2)
        return np.ascontiguousarray(v).reshape(x.shape)
