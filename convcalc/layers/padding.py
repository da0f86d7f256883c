"""Padding: ZeroPad, ConstantPad, ReflectionPad, ReplicationPad and CircularPad in 1, 2 and 3
dimensions.

None of these has parameters, and torch.utils.flop_counter counts no MACs for them.
Every rule PyTorch applies to them is enforced in forward (construction stores the
arguments unchecked), so every check here lives in ``out_shape``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from ..errors import ShapeError
from ..receptive import AxisMap, ReceptiveField, remap
from ..shape import Shape, fmt_shape, prod
from .arguments import REQUIRED, Arg, BadValue, converter_form, is_int, to_float
from .base import Example, Layer, register
from .checks import axis_name, rank_error, spatial_example
from .steps import Step, signed


@converter_form("int or list of int")
def to_padding(v: Any) -> int | tuple[int, ...]:
    """An int (the same on every side) or a list kept as given (torch does not check its length)."""
    if is_int(v):
        return int(v)
    if isinstance(v, (list, tuple)) and all(is_int(i) for i in v):
        return tuple(int(i) for i in v)
    raise BadValue("an integer or a list of integers")


class _Pad(Layer):
    """Shared by the padding types; ``nd`` and ``pad_mode`` are set per class.

    ``padding`` is (left, right, top, bottom, front, back): the LAST dimension first.
    Like torch, a tuple of any even length is taken as given (2 values pad only the
    last dimension, whatever the class's nd).
    """

    @classmethod
    def example(cls) -> Example:
        return ((1, 2) * cls.nd,), {}, spatial_example(cls.nd)

    nd: ClassVar[int] = 2
    pad_mode: ClassVar[str] = "constant"
    padding: int | tuple[int, ...]
    #: what constant padding fills with (ConstantPad's argument; ZeroPad's 0)
    value: float = 0.0

    def pads(self) -> tuple[int, ...]:
        p = self.padding
        return (p,) * (2 * self.nd) if isinstance(p, int) else p

    def out_shape(self, x: Shape) -> Shape:
        pads = self._checked_pads(x)
        rank, k = len(x), len(pads) // 2
        out = list(x)
        for j in range(k):  # the pairs pad the last dimension first
            d = rank - 1 - j
            out[d] = self._padded_size(x, d, pads[2 * j], pads[2 * j + 1], k)
        y = tuple(out)
        mode = self.pad_mode
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

    def receptive_field(self, x: Shape, y: Shape, field: ReceptiveField) -> ReceptiveField | None:
        """The left (top, front) padding moves the start; a negative one crops."""
        pads = self.pads()
        k = len(pads) // 2
        steps: list[AxisMap | None] = [(-pads[2 * j], 0, 1) for j in reversed(range(k))]
        return remap(field, steps[-len(field.size) :])

    def _checked_pads(self, x: Shape) -> tuple[int, ...]:
        """The (left, right) pairs, last dimension first, once their number suits the input."""
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
        return pads

    def _padded_size(self, x: Shape, d: int, left: int, right: int, k: int) -> int:
        """Dimension ``d``'s size padded by ``left`` and ``right`` (``k`` dimensions padded in
        all), within the limits of the padding mode."""
        mode = self.pad_mode
        n = x[d]
        o = n + left + right
        axis = axis_name(len(x), d)
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
        return o

    def notes(self, x: Shape, y: Shape) -> list[str]:
        pads = self.pads()
        notes = []
        k = len(pads) // 2
        if k != self.nd:
            which = "only the last dimension" if k == 1 else f"the last {k} dimensions"
            notes.append(f"padding has {len(pads)} values: pads {which}, not {self.nd}")
        if any(p < 0 for p in pads):
            notes.append("negative padding crops")
        empty = [axis_name(len(y), d) for d in range(len(y) - k, len(y)) if y[d] == 0]
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
            value = float(self.value)
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

    def explain(self, x: Shape) -> Iterator[Step]:
        y = self.out_shape(x)
        pads = self.pads()
        sides = (("left", "right"), ("top", "bottom"), ("front", "back"))
        for j in reversed(range(len(pads) // 2)):  # the pairs pad the last dimension first
            d = len(x) - 1 - j
            axis = axis_name(len(x), d)
            first, second = sides[j] if j < 3 else ("before", "after")
            left, right = pads[2 * j], pads[2 * j + 1]
            terms = [("", x[d]), ("+" if left >= 0 else "−", abs(left))]
            terms.append(("+" if right >= 0 else "−", abs(right)))
            yield Step(
                f"{axis}_out",
                f"{axis}_in + {first} + {second}",
                (signed(terms),),
                y[d],
                dim=d,
            )


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
        f"circular padding ({left}, {right}) on {axis_name(len(x), d)} of size {x[d]} mixes cropping and "
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
    def example(cls) -> Example:
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
