"""Peak activation memory: the most that an eager inference pass, as torch runs it, holds
alive at any moment, worked out from the shapes alone.

The layers run in the config's order. The model input is counted and alive until its last
reader; each output is allocated when its layer runs and freed after the last layer that
reads it (the final output never); an in-place layer (``inplace=True``) and a view (Flatten,
Unflatten, Identity, Dropout at inference) allocate nothing and keep their source alive as
long as they are read; a merge's inputs are alive while it runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import TYPE_CHECKING

from .model import INPUT

if TYPE_CHECKING:
    from .model import Spec
    from .report import Report


@dataclass(frozen=True)
class Peak:
    #: the most bytes alive at once
    bytes: int
    #: the layer that runs at that moment (None: before the first layer, the input alone)
    index: int | None


def peak_memory(spec: Spec, report: Report, itemsize: int) -> Peak | None:
    """The peak of an eager pass at ``itemsize`` bytes per element; None when a shape is
    unknown (no input shape, or the model fails)."""
    if report.input_shape is None or not report.ok:
        return None
    storage: dict[str, str] = {INPUT: INPUT}  # a tensor's name → the tensor that owns its memory
    size = {INPUT: prod(report.input_shape) * itemsize}
    last: dict[str, int] = {INPUT: -1}  # owner → the last step that reads it
    for entry, row in zip(spec.layers, report.rows):
        if row.output_shape is None:
            return None
        layer = entry.layer
        aliases = len(entry.inputs) == 1 and (layer.SHARES_INPUT or layer.mutates_input())
        owner = storage[entry.inputs[0]] if aliases else entry.name
        storage[entry.name] = owner
        if not aliases:
            size[owner] = prod(row.output_shape) * itemsize
            last[owner] = entry.index
        for name in entry.inputs:
            last[storage[name]] = entry.index
    if spec.layers:
        last[storage[spec.layers[-1].name]] = len(spec.layers)  # the output is never freed
    # a change of +size at the step that makes each buffer, -size after its last reader
    born = {INPUT: -1} | {e.name: e.index for e in spec.layers if storage[e.name] == e.name}
    change = [0] * (len(spec.layers) + 3)
    for owner, step in born.items():
        change[step + 1] += size[owner]
        change[last[owner] + 2] -= size[owner]
    best, at, alive = 0, None, 0
    for step in range(len(spec.layers) + 1):
        alive += change[step]
        if alive > best:
            best, at = alive, (step - 1 if step else None)
    return Peak(best, at)


__all__ = ["Peak", "peak_memory"]
