"""Receptive fields (Araujo, Norris & Sim, "Computing Receptive Fields of Convolutional
Neural Networks", Distill 2019): per spatial axis of the model input, the region of the
input that one output element depends on.

- ``size``: the region's extent, in input elements, as if the input had no border;
- ``jump``: the distance between the regions of two neighbouring output elements (the
  effective stride; an exact fraction after an upsampling);
- ``start``: where output element 0's region begins (negative in the padding);
- ``whole`` ("global"): the element depends on every position along that axis (global
  pooling, a norm over it, a Linear along it, or anything that reads such a tensor).

The model input's axes after its first two (batch, channels) are its spatial axes; they
are the trailing axes of every tensor that keeps the spatial layout. Each layer type's rule
is its method ``receptive_field`` (layers/); this module holds the arithmetic they share
and the propagation through the graph (``from:`` and the merges).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Union

from .shape import Shape

if TYPE_CHECKING:
    from fractions import Fraction

    from .model import LayerSpec

#: an integer, or an exact fraction after an upsampling (fractions loads only then)
Num = Union[int, "Fraction"]
#: how a layer maps one axis: (offset, extra, factor): output element 0 reads from input
#: element ``offset`` on, one output element reads ``extra + 1`` consecutive input elements
#: at most, and neighbouring output elements are ``factor`` input elements apart
AxisMap = tuple[Num, Num, Num]


class ReceptiveField(NamedTuple):
    """The receptive field of a layer's output, per spatial axis of the model input
    (immutable; a named tuple, as cheap to make as a tuple: one per layer of a long stack)."""

    size: tuple[Num, ...]
    jump: tuple[Num, ...]
    start: tuple[Num, ...]
    #: per axis: depends on every position along it (its size is then the input's extent)
    whole: tuple[bool, ...]
    #: the model input's spatial sizes
    extent: tuple[int, ...]
    #: False after a reshape that merged a spatial axis (Flatten): no axis to speak of,
    #: unless every axis is global
    layout: bool = True

    @property
    def known(self) -> bool:
        """There is something to report: a spatial layout, or every axis global."""
        return self.layout or all(self.whole)

    def to_dict(self) -> dict[str, Any] | None:
        if not self.known:
            return None
        return {
            "size": [_json_num(v) for v in self.size],
            "jump": [_json_num(v) for v in self.jump],
            "start": [_json_num(v) for v in self.start],
            "global": list(self.whole),
        }

    def text(self) -> str:
        """``212 / 32 / -90`` (size / jump / start) per axis, ``global`` where global; one
        figure when every axis agrees, else each axis's, separated by commas."""
        if not self.known:
            return "—"
        parts = [
            "global" if w else f"{_text_num(s)} / {_text_num(j)} / {_text_num(t)}"
            for s, j, t, w in zip(self.size, self.jump, self.start, self.whole)
        ]
        if parts and all(p == parts[0] for p in parts):
            return parts[0]
        return ", ".join(parts)


def _json_num(v: Num) -> int | float:
    if isinstance(v, int):
        return v
    return int(v) if v.denominator == 1 else float(v)


def _text_num(v: Num) -> str:
    return str(v)  # a Fraction prints as 1/2


def _exact(v: Num) -> Num:
    """An integral fraction as an int (keeps the common case fast and its JSON integral)."""
    if isinstance(v, int):
        return v
    return int(v) if v.denominator == 1 else v


def at_input(x0: Shape | None) -> ReceptiveField | None:
    """The model input's own field: each element reads itself. None for an input without
    spatial axes (rank below 3)."""
    if x0 is None or len(x0) < 3:
        return None
    n = len(x0) - 2
    return ReceptiveField((1,) * n, (1,) * n, (0,) * n, (False,) * n, tuple(x0[2:]))


def remap(field: ReceptiveField, steps: Sequence[AxisMap | None]) -> ReceptiveField | None:
    """``field`` after a layer that maps its last ``len(steps)`` spatial axes by ``steps``
    (None: the axis is unchanged). A convolution's step is (−left padding, dilation·(k−1),
    stride): size += extra·jump, start += offset·jump, jump ·= factor. A global axis stays
    global. None when the layer acts on more axes than the field has, or there is no layout."""
    n = len(field.size)
    if len(steps) > n:
        return None
    if not field.layout:
        return field if all(field.whole) else None
    size, jump, start = list(field.size), list(field.jump), list(field.start)
    whole = field.whole
    i = n - len(steps)
    for step in steps:
        if step is not None:
            offset, extra, factor = step
            j = jump[i]
            if not whole[i]:
                v = size[i] + extra * j
                size[i] = v if type(v) is int else _exact(v)
                v = start[i] + offset * j
                start[i] = v if type(v) is int else _exact(v)
            v = j * factor
            jump[i] = v if type(v) is int else _exact(v)
        i += 1
    return ReceptiveField(tuple(size), tuple(jump), tuple(start), whole, field.extent)


def window(
    field: ReceptiveField,
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    left: Sequence[int],
) -> ReceptiveField | None:
    """A sliding window (convolution, pooling) over the last ``len(kernel)`` axes."""
    return remap(
        field, [(-p, d * (k - 1), s) for k, s, d, p in zip(kernel, stride, dilation, left)]
    )


def make_global(field: ReceptiveField, axes: Sequence[int] | None = None) -> ReceptiveField:
    """``field`` with the given axes (indices among its axes; None: all) global: their region
    is the whole input along them, from 0."""
    n = len(field.size)
    chosen = set(range(n) if axes is None else axes)
    if all(field.whole[i] for i in chosen):
        return field
    return ReceptiveField(
        tuple(field.extent[i] if i in chosen else field.size[i] for i in range(n)),
        field.jump,
        tuple(0 if i in chosen else field.start[i] for i in range(n)),
        tuple(i in chosen or field.whole[i] for i in range(n)),
        field.extent,
        field.layout,
    )


def spatial_axes(field: ReceptiveField, rank: int, dims: Sequence[int]) -> list[int]:
    """The field's axes among tensor dimensions ``dims`` (negative ones count from the end)
    of a tensor of ``rank`` dimensions whose last axes are the spatial ones."""
    n = len(field.size)
    out = []
    for d in dims:
        d = d + rank if d < 0 else d
        if rank - n <= d < rank:
            out.append(d - (rank - n))
    return out


def lose_layout(field: ReceptiveField) -> ReceptiveField:
    """After a reshape that merges a spatial axis with another one."""
    if not field.layout:
        return field
    return ReceptiveField(field.size, field.jump, field.start, field.whole, field.extent, False)


def union(fields: Sequence[ReceptiveField | None]) -> ReceptiveField | None:
    """What a merge reads: per axis, the union of its inputs' regions (the smallest start,
    the largest end); global where any is; the first input's jump. None if an input has no
    field or the inputs' axes differ."""
    first = fields[0]
    if first is None:
        return None
    if len(fields) == 1:
        return first
    if any(f is None or len(f.size) != len(first.size) for f in fields):
        return None
    known = [f for f in fields if f is not None]
    n = len(first.size)
    size: list[Num] = []
    start: list[Num] = []
    whole: list[bool] = []
    for i in range(n):
        if any(f.whole[i] for f in known):
            size.append(first.extent[i])
            start.append(0)
            whole.append(True)
            continue
        lo = min(f.start[i] for f in known)
        hi = max(f.start[i] + f.size[i] for f in known)
        start.append(_exact(lo))
        size.append(_exact(hi - lo))
        whole.append(False)
    return ReceptiveField(
        tuple(size),
        first.jump,
        tuple(start),
        tuple(whole),
        first.extent,
        all(f.layout for f in known),
    )


def jump_note(fields: Sequence[ReceptiveField | None]) -> str | None:
    """A note when a merge's inputs step through the input at different jumps: its regions
    are then not evenly spaced, and the field shows the first input's jump."""
    known = [f for f in fields if f is not None and f.layout]
    if len(known) < 2:
        return None
    first = known[0]
    for f in known[1:]:
        for i, (a, b) in enumerate(zip(first.jump, f.jump)):
            if a != b and not (first.whole[i] or f.whole[i]):
                return (
                    f"receptive field: the inputs step through the input at jumps {a} and {b}; "
                    "the union shown uses the first input's"
                )
    return None


def field_of(
    entry: LayerSpec,
    x: Any,
    y: Shape,
    fields: dict[str, ReceptiveField | None],
) -> tuple[ReceptiveField | None, str | None]:
    """The field of ``entry``'s output (shape ``y``) from those of what it reads, and a note
    on it (a merge of different jumps), given its input shape ``x``."""
    layer = entry.layer
    if 0 in y:
        return None, None  # no element to speak of
    if layer.multi_input:
        inputs = [fields.get(name) for name in entry.inputs]
        if any(f is None for f in inputs):
            return None, None
        merged: Any = tuple(inputs)  # a merge's rule reads its inputs' fields
        return layer.receptive_field(x, y, merged), jump_note(inputs)
    if len(entry.inputs) == 1:
        field = fields.get(entry.inputs[0])
    else:  # several sources read as one (the graph's implicit merge): their union
        field = union([fields.get(name) for name in entry.inputs])
    if field is None:
        return None, None
    return layer.receptive_field(x, y, field), None


# ------------------------------------------------------------ steps of the resampling layers
def fraction(a: int, b: int) -> Num:
    """``a / b`` exactly: an int when it divides."""
    if a % b == 0:
        return a // b
    from fractions import Fraction

    return Fraction(a, b)


def transposed_step(k: int, s: int, p: int, d: int) -> AxisMap:
    """A transposed convolution's axis: output element o reads the input elements
    i = (o + p − d·j) / s (the integral ones, j < k): the taps j whose d·j − p is o modulo s,
    a pattern that repeats every s outputs. O(k), whatever the stride."""
    taps: dict[int, list[int]] = {}  # residue of o modulo s → its taps j, ascending
    for j in range(k):
        taps.setdefault((d * j - p) % s, []).append(j)
    extra = max((d * (js[-1] - js[0])) // s for js in taps.values())
    # output element 0's first input; when it reads nothing (k < s), the first output that
    # reads something, moved back by its distance
    first = 0 if 0 in taps else min(taps)
    lowest = (first + p - d * taps[first][-1]) // s
    return _exact(lowest - fraction(first, s)), extra, fraction(1, s)


def adaptive_step(n_in: int, n_out: int) -> AxisMap:
    """Adaptive pooling's axis: bins [⌊i·in/out⌋, ⌈(i+1)·in/out⌉); the longest one."""
    if n_in <= 0 or n_out <= 0:
        return 0, 0, 1  # nothing read (field_of gives an empty output no field)
    q, r = divmod(n_in, n_out)
    import math

    longest = q if r == 0 else q + 2 if r > math.gcd(n_in, n_out) else q + 1
    return 0, longest - 1, fraction(n_in, n_out)


def resample_step(
    mode: str, n_in: int, n_out: int, scale: float | None, align_corners: bool
) -> AxisMap | None:
    """An interpolation's axis: torch's source coordinate of output element o is o·s
    (nearest; align_corners: s = (in−1)/(out−1)), (o + ½)·s (nearest-exact) or
    (o + ½)·s − ½ (linear, cubic), with s = 1/scale_factor when given, else in/out; linear
    reads the two elements around it, cubic four, area a bin. As if the input had no border
    (torch clamps at it). None where the axis is not resized."""
    from fractions import Fraction

    if mode == "area":
        return adaptive_step(n_in, n_out)
    if n_in == n_out and scale is None:
        return None
    if align_corners and mode not in ("nearest", "nearest-exact"):
        s = Fraction(n_in - 1, n_out - 1) if n_out > 1 else Fraction(0)
        shift = Fraction(0)
    else:
        # a scale factor as written (its shortest decimal form: 1.5 is 3/2, 3.0 is 3)
        s = 1 / Fraction(repr(scale)) if scale is not None and scale > 0 else Fraction(n_in, n_out)
        shift = {"nearest": Fraction(0), "nearest-exact": s / 2}.get(mode, s / 2 - Fraction(1, 2))
    if mode in ("nearest", "nearest-exact"):
        return _exact(Fraction(math_floor(shift))), 0, _exact(s)
    taps = 4 if mode == "bicubic" else 2
    # whether some source coordinate shift + o·s falls between two elements: unless s and the
    # shift are whole (or there is one output), consecutive ones cannot all be whole
    between = shift.denominator != 1 or (n_out > 1 and s.denominator != 1)
    lead = 1 if taps == 4 and between else 0
    return _exact(math_floor(shift) - lead), (taps - 1 if between else 0), _exact(s)


def math_floor(v: Num) -> int:
    return v if isinstance(v, int) else v.__floor__()
