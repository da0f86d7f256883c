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
from typing import TYPE_CHECKING, Any, NamedTuple

from .periodic import (
    Num,
    Periodic,
    adaptive_map,
    compose,
    exact,
    fraction,
    merged,
    resample_map,
    window_map,
)
from .shape import Shape

if TYPE_CHECKING:
    from .model import LayerSpec

#: how a layer maps one axis: a sliding window (offset, extra, factor): output element o
#: reads input elements offset + o·factor … that + extra; or, where the pattern repeats over
#: several output elements (upsampling, transposed convolution), a Periodic map
AxisMap = tuple[int, int, int] | Periodic

__all__ = [
    "AxisMap",
    "Periodic",
    "ReceptiveField",
    "adaptive_map",
    "fraction",
    "resample_map",
]


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
    #: per axis, where the regions follow a pattern longer than one element (a fractional
    #: jump, or regions of different sizes): the exact map (periodic.py); empty or None where
    #: size, jump and start say it all
    phases: tuple[Periodic | None, ...] = ()

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


def at_input(x0: Shape | None) -> ReceptiveField | None:
    """The model input's own field: each element reads itself. None for an input without
    spatial axes (rank below 3)."""
    if x0 is None or len(x0) < 3:
        return None
    n = len(x0) - 2
    return ReceptiveField((1,) * n, (1,) * n, (0,) * n, (False,) * n, tuple(x0[2:]))


def axis_map(field: ReceptiveField, i: int) -> Periodic:
    """Axis ``i``'s regions as a map: its pattern, or the window its size, jump and start
    make (whole jumps and starts: a field without a pattern has them)."""
    phase = field.phases[i] if field.phases else None
    if phase is not None:
        return phase
    return window_map(int(field.start[i]), int(field.size[i]) - 1, int(field.jump[i]))


def remap(field: ReceptiveField, steps: Sequence[AxisMap | None]) -> ReceptiveField | None:
    """``field`` after a layer that maps its last ``len(steps)`` spatial axes by ``steps``
    (None: the axis is unchanged). A convolution's step is (−left padding, dilation·(k−1),
    stride): size += extra·jump, start += offset·jump, jump ·= factor. A periodic step, or a
    field with a pattern, composes exactly (periodic.py). A global axis stays global. None
    when the layer acts on more axes than the field has, there is no layout, or a pattern is
    too long to follow."""
    n = len(field.size)
    if len(steps) > n:
        return None
    if not field.layout:
        return field if all(field.whole) else None
    size, jump, start = list(field.size), list(field.jump), list(field.start)
    phases: list[Periodic | None] = list(field.phases) if field.phases else [None] * n
    whole = field.whole
    i = n - len(steps)
    for step in steps:
        if step is None:
            pass
        elif not isinstance(step, Periodic) and phases[i] is None:
            offset, extra, factor = step
            j = jump[i]
            if not whole[i]:
                size[i] = size[i] + extra * j
                start[i] = start[i] + offset * j
            v = j * factor
            jump[i] = v if type(v) is int else exact(v)
        else:
            m = step if isinstance(step, Periodic) else window_map(*step)
            if whole[i]:
                jump[i] = exact(jump[i] * m.jump) if m.period else jump[i]
            else:
                out = compose(axis_map(field, i), m)
                summary = out.summary() if out.period else None
                if summary is None:
                    return None  # a pattern too long to follow, or nothing read
                size[i], jump[i], start[i] = summary
                phases[i] = out if out.period > 1 else None
        i += 1
    return ReceptiveField(
        tuple(size),
        tuple(jump),
        tuple(start),
        whole,
        field.extent,
        field.layout,
        tuple(phases) if any(p is not None for p in phases) else (),
    )


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
    phases = tuple(None if i in chosen else p for i, p in enumerate(field.phases))
    return ReceptiveField(
        tuple(field.extent[i] if i in chosen else field.size[i] for i in range(n)),
        field.jump,
        tuple(0 if i in chosen else field.start[i] for i in range(n)),
        tuple(i in chosen or field.whole[i] for i in range(n)),
        field.extent,
        field.layout,
        phases if any(p is not None for p in phases) else (),
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
    return field._replace(layout=False)


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
    phases: list[Periodic | None] = []
    for i in range(n):
        phases.append(None)
        if any(f.whole[i] for f in known):
            size.append(first.extent[i])
            start.append(0)
            whole.append(True)
            continue
        if any(f.phases and f.phases[i] for f in known) and all(
            f.jump[i] == first.jump[i] for f in known
        ):
            # a pattern: element by element over the period (periodic.py)
            m = merged([axis_map(f, i) for f in known])
            summary = m.summary() if m.period else None
            if summary is None:
                return None
            size.append(summary[0])
            start.append(summary[2])
            whole.append(False)
            phases[i] = m if m.period > 1 else None
            continue
        # the same jump: the smallest start and the largest end; different jumps (a note):
        # the same, from each input's element 0
        lo = min(f.start[i] for f in known)
        hi = max(f.start[i] + f.size[i] for f in known)
        start.append(exact(lo))
        size.append(exact(hi - lo))
        whole.append(False)
    return ReceptiveField(
        tuple(size),
        first.jump,
        tuple(start),
        tuple(whole),
        first.extent,
        all(f.layout for f in known),
        tuple(phases) if any(p is not None for p in phases) else (),
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
