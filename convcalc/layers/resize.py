"""Resizing: Upsample, UpsamplingNearest2d and UpsamplingBilinear2d, with their NumPy
interpolation.

None of these has parameters, and torch.utils.flop_counter counts no MACs for them.
Every rule PyTorch applies to them is enforced in forward (construction stores the
arguments unchecked), so every check here lives in ``out_shape``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, ClassVar

from ..errors import ShapeError
from ..receptive import AxisMap, ReceptiveField, remap, resample_map
from ..shape import AXES, Shape, fmt_shape, prod
from .arguments import Arg, BadValue, converter_form, is_int, to_choice, to_float
from .base import Example, Layer, register
from .checks import axis_name, rank_error
from .nearest import compute_scale, nearest_map, nearest_taps
from .steps import Step
from .tiles import tiles

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
    def example(cls) -> Example:
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
    align_corners: bool | None
    recompute_scale_factor: bool | None

    def _scale(self) -> None | float | tuple[float, ...]:
        # nn.Upsample stores `float(scale_factor) if scale_factor else None`: a scalar 0 is "not given"
        s = self.scale_factor
        return None if s is not None and not isinstance(s, tuple) and s == 0 else s

    def out_shape(self, x: Shape) -> Shape:
        size, scale = self._size_or_scale()
        self._check_input(x, size, scale)
        return x[:2] + self._output_sizes(x, size, scale)

    def receptive_field(self, x: Shape, y: Shape, field: ReceptiveField) -> ReceptiveField | None:
        """Per axis: output element o reads source index src(o) (nearest: as torch's float32
        kernel computes it, nearest.py) or the taps around it (linear 2, cubic 4, area a bin);
        the pattern exactly (periodic.py)."""
        nd = len(x) - 2
        if nd > len(field.size):
            return None
        scales = self._kernel_scales(x)
        mode = self.mode
        steps: list[AxisMap | None] = [
            nearest_map(n, o, s, mode == "nearest-exact", len(x) == 4)
            if mode in ("nearest", "nearest-exact")
            else resample_map(mode, n, o, s, bool(self.align_corners))
            for n, o, s in zip(x[2:], y[2:], scales)
        ]
        return remap(field, steps)

    def _size_or_scale(
        self,
    ) -> tuple[int | tuple[int, ...] | None, float | tuple[float, ...] | None]:
        """The size or the scale (exactly one of them), after the checks on the arguments
        alone that torch makes in forward."""
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
        return size, scale

    def _check_input(
        self, x: Shape, size: int | tuple[int, ...] | None, scale: float | tuple[float, ...] | None
    ) -> None:
        """The input's rank and sizes suit the mode, and size or scale_factor has a value
        per spatial axis."""
        mode = self.mode
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
        empty = [d for d in (range(2, rank) if mode == "area" else range(1, rank)) if x[d] == 0]
        if empty:
            d = empty[0]
            raise ShapeError(
                f"expects non-empty input dimensions, {axis_name(rank, d) if d >= 2 else 'C'} is 0 in {fmt_shape(x)}",
                argument="input",
                expected="a non-zero size",
                got=0,
                dim=d,
            )

    def _output_sizes(
        self, x: Shape, size: int | tuple[int, ...] | None, scale: float | tuple[float, ...] | None
    ) -> tuple[int, ...]:
        """The spatial output sizes: ``size``, or each input size times its scale, truncated."""
        mode, rank, spatial = self.mode, len(x), x[2:]
        nd = rank - 2
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
        return tuple(out)

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

    def _taps(
        self, n_in: int, n_out: int, scale: float | None, dtype: Any, rank: int, part: slice
    ) -> tuple[Any, Any]:
        """For the output indices ``part`` of one axis: source indices (len, T) and weights
        (or None); each output index's taps are the same whatever part it is computed in."""
        mode = self.mode
        if mode in ("nearest", "nearest-exact"):
            # torch 2.x: 2-d inputs run the legacy nearest_idx kernels, 1-d and 3-d the generic one
            legacy = rank == 4
            exact = mode == "nearest-exact"
            return nearest_taps(n_in, n_out, scale, exact, legacy, dtype, part), None
        if mode == "area":
            return _area_taps(n_in, n_out, part)
        cubic = mode == "bicubic"
        return _interp_taps(n_in, n_out, scale, bool(self.align_corners), cubic, dtype, part)

    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        """Separable: each spatial axis is resampled in turn (the axes that shrink first).
        The output is computed a block at a time (whole items and channels while they fit,
        else ranges of the leading output axes), each block from the input window its taps
        read, so that taps, gathers and intermediates stay within ``budget``; every output
        element is computed by the same operations whatever block it falls in."""
        import numpy as np

        y_shape = self.out_shape(tuple(x.shape))
        out = np.empty(y_shape, dtype=x.dtype)
        if out.size == 0:
            return out
        scales = self._kernel_scales(x.shape)
        m = y_shape[0] * y_shape[1]
        flat = x.reshape((m,) + tuple(x.shape[2:]))
        y = out.reshape((m,) + y_shape[2:])
        sizes = list(zip(x.shape[2:], y_shape[2:]))
        order = sorted(range(len(sizes)), key=lambda i: sizes[i][1] / sizes[i][0])
        taps = _tap_count(self.mode, sizes)
        for block in tiles(y.shape, lambda b: _block_bytes(b, sizes, taps, x.itemsize), budget):
            window: list[slice] = [block[0]]
            plans = []
            for i, (n_in, n_out) in enumerate(sizes):
                idx, wts = self._taps(n_in, n_out, scales[i], x.dtype, x.ndim, block[1 + i])
                lo, hi = int(idx.min()), int(idx.max()) + 1
                window.append(slice(lo, hi))
                plans.append((idx - lo, wts))
            v = flat[tuple(window)]
            for i in order:
                v = _resample(v, 1 + i, *plans[i])
            y[block] = v
        return out

    def window(self, x: Any, y: Shape) -> int:
        """One pass per axis, each reading its taps per output element."""
        if not prod(y):
            return 1
        return sum(_tap_count(self.mode, list(zip(x[2:], y[2:])))) or 1

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

    def explain(self, x: Shape) -> Iterator[Step]:
        y = self.out_shape(x)
        size, scale = self._size_or_scale()
        for i, n in enumerate(x[2:]):
            axis = AXES[len(x) - 2][i]
            if size is not None:
                yield Step(f"{axis}_out", "size", (), y[2 + i], dim=2 + i)
                continue
            s = _scale_at(scale, i)
            yield Step(
                f"{axis}_out",
                f"⌊{axis}_in · scale_factor⌋",
                (f"⌊{n} · {_num(s)}⌋", f"⌊{_num(n * s)}⌋"),
                y[2 + i],
                dim=2 + i,
            )


def _interp_taps(
    n_in: int,
    n_out: int,
    scale: float | None,
    align_corners: bool,
    cubic: bool,
    dtype: Any,
    part: slice,
) -> tuple[Any, Any]:
    """Linear (2 taps) or cubic (4 taps, A = -0.75, border-clamped) interpolation weights.

    torch's area_pixel_compute_scale / area_pixel_compute_source_index /
    guard_index_and_lambda, computed in the input's type as torch's opmath is.
    """
    import numpy as np

    t: Any = np.float32 if dtype == np.float32 else np.float64
    at = np.arange(part.start, part.stop, dtype=np.int64)
    i = at.astype(t)
    if align_corners:
        s = t(n_in - 1) / t(n_out - 1) if n_out > 1 else t(0)
        src = s * i
    else:
        s = compute_scale(n_in, n_out, scale, t)
        src = s * (i + t(0.5)) - t(0.5)
        if not cubic:
            src = np.where(src < 0, t(0), src)
    index = np.minimum(np.floor(src.astype(np.float32)).astype(np.int64), n_in - 1)
    lam = np.clip(src - index.astype(t), t(0), t(1))
    if not cubic:
        if n_in == n_out:  # torch copies: index i, weights (1, 0)
            index = at
            lam = np.zeros(at.size, dtype=t)
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


def _area_taps(n_in: int, n_out: int, part: slice) -> tuple[Any, Any]:
    """Adaptive average pooling bins [floor(i·in/out), ceil((i+1)·in/out)) as padded taps
    (as many per output index as the longest bin of the whole axis has)."""
    import numpy as np

    i = np.arange(part.start, part.stop, dtype=np.int64)
    start = (i * n_in) // n_out
    end = -((-(i + 1) * n_in) // n_out)
    length = end - start
    k = _longest_bin(n_in, n_out)
    offs = np.arange(k)
    idx = np.minimum(start[:, None] + offs, n_in - 1)
    wts = np.where(offs < length[:, None], 1.0 / length[:, None], 0.0)
    return idx, wts


def _longest_bin(n_in: int, n_out: int) -> int:
    """The longest of the bins [floor(i·in/out), ceil((i+1)·in/out)), i < out: with
    in = q·out + r and g = gcd(in, out), q when r = 0, else q + 2 when r > g, else q + 1."""
    q, r = divmod(n_in, n_out)
    return q if r == 0 else q + 2 if r > math.gcd(n_in, n_out) else q + 1


def _tap_count(mode: str, sizes: list[tuple[int, int]]) -> list[int]:
    """Taps per output index along each axis."""
    if mode == "area":
        return [_longest_bin(n_in, n_out) for n_in, n_out in sizes]
    return [{"bicubic": 4, "nearest": 1, "nearest-exact": 1}.get(mode, 2)] * len(sizes)


def _block_bytes(
    block: tuple[int, ...], sizes: list[tuple[int, int]], taps: list[int], itemsize: int
) -> int:
    """An upper bound of the temporaries of one block of ``block`` output elements (items ×
    channels first): the taps of each axis (indices, weights and their float64
    arithmetic), and per axis pass its input (the first reads a view of the model's
    input), its result and one gathered tap."""
    spans = [
        min(n_in, -(-b * n_in // n_out) + t + 1)
        for b, (n_in, n_out), t in zip(block[1:], sizes, taps)
    ]
    tap_bytes = sum(b * (16 * t + 64) for b, t in zip(block[1:], taps))
    shape = [block[0], *spans]
    size, peak = 0, 0
    order = sorted(range(len(sizes)), key=lambda i: sizes[i][1] / sizes[i][0])
    for i in order:
        shape[1 + i] = block[1 + i]
        nxt = prod(shape)
        peak = max(peak, size + 2 * nxt)
        size = nxt
    return tap_bytes + peak * itemsize


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
    def example(cls) -> Example:
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
    def example(cls) -> Example:
        return (), {"size": (9, 9)}, (1, 8, 6, 6)

    type_name = "UpsamplingBilinear2d"
    summary = "Upsample(mode='bilinear', align_corners=True) on (N, C, H, W)"
    ARGS = (Arg("size", to_size, None), Arg("scale_factor", to_scale, None))
    mode = "bilinear"
    align_corners = True
    recompute_scale_factor = None
