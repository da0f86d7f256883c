"""What a model takes in memory, from the shapes alone: its parameters and buffers, every
activation, and the peak an eager inference pass holds, at one dtype.

- ``param_bytes``: every parameter at the dtype (as ``model.to(dtype)`` stores it);
- ``buffer_bytes``: the running statistics at the dtype, and each BatchNorm's
  ``num_batches_tracked``, which stays an int64 (8 bytes) whatever the dtype;
- ``activation_bytes``: the sum of every layer's output, each counted once; in-place layers
  (``inplace=True``) and views (Flatten, Unflatten, Identity, Dropout at inference) add
  nothing. The usual proxy for what a training step keeps for the backward pass;
- ``peak_bytes``: the most activation memory alive at any moment of an eager inference pass,
  as torch runs it, running the layers in the config's order: the model input is counted and
  alive until its last reader; each output is allocated when its layer runs and freed after
  the last layer that reads it (the final output never); in-place layers and views allocate
  nothing and keep their source alive as long as they are read; a merge's inputs are alive
  while it runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import prod
from typing import TYPE_CHECKING

from .model import INPUT
from .report import Memory

if TYPE_CHECKING:
    from .model import LayerSpec, Spec
    from .report import Row
    from .shape import Shape

#: bytes per element of each dtype the sizes are given for
DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int8": 1}
#: buffers that keep their own type whatever the dtype (an int64 counter)
INT64_BUFFERS = ("num_batches_tracked",)


def aliases(entry: LayerSpec) -> bool:
    """The layer's output is its input's memory: a view, or written over the input."""
    layer = entry.layer
    return len(entry.inputs) == 1 and (layer.SHARES_INPUT or layer.mutates_input())


def output_bytes(entry: LayerSpec, y: Shape, itemsize: int) -> int:
    """What the layer's output allocates: nothing for a view or an in-place layer."""
    return 0 if aliases(entry) else prod(y) * itemsize


def memory(spec: Spec, rows: Sequence[Row], x0: Shape | None, dtype: str, ok: bool) -> Memory:
    """The model's :class:`Memory` at ``dtype``, from its analysed rows."""
    itemsize = DTYPE_BYTES[dtype]
    params = [r.params for r in rows]
    param_bytes = None if None in params else sum(params) * itemsize  # type: ignore[arg-type]
    buffer_bytes: int | None = 0
    for entry, row in zip(spec.layers, rows):
        shapes = entry.layer.buffers(row.input_shape if row.output_shape is not None else None)
        if shapes is None or buffer_bytes is None:
            buffer_bytes = None
            continue
        buffer_bytes += sum(
            prod(s) * (8 if k in INT64_BUFFERS else itemsize) for k, s in shapes.items()
        )
    outputs = [r.output_bytes for r in rows]
    if x0 is None or not ok or None in outputs:
        return Memory(dtype, param_bytes, buffer_bytes, None, None)
    peak, at = peak_bytes(spec, rows, prod(x0) * itemsize)
    return Memory(dtype, param_bytes, buffer_bytes, sum(outputs), peak, at)  # type: ignore[arg-type]


def peak_bytes(spec: Spec, rows: Sequence[Row], input_bytes: int) -> tuple[int, int | None]:
    """The peak of an eager pass, and the layer that runs at it (None: the input alone)."""
    return lifetimes(spec).peak([r.output_bytes or 0 for r in rows], input_bytes)


class Lifetimes:
    """When each buffer of an eager pass is allocated and freed: the graph's alone, so that
    many input sizes (a sweep) reuse it. Step 0 holds the input alone; layer i runs at
    step i + 1."""

    def __init__(self, born: dict[int, int], freed: dict[int, int], n: int) -> None:
        #: a buffer (-1: the model input, else the layer that allocates it) → its steps
        self.born = born
        self.freed = freed
        self.n = n

    def peak(self, sizes: Sequence[int], input_bytes: int) -> tuple[int, int | None]:
        """The peak, given each layer's output bytes, and the layer that runs at it."""
        change = [0] * (self.n + 3)
        for buffer, step in self.born.items():
            bytes_ = input_bytes if buffer < 0 else sizes[buffer]
            change[step + 1] += bytes_
            change[self.freed[buffer] + 2] -= bytes_
        best, at, alive = 0, None, 0
        for step in range(self.n + 1):
            alive += change[step]
            if alive > best:
                best, at = alive, (step - 1 if step else None)
        return best, at


def lifetimes(spec: Spec) -> Lifetimes:
    owner: dict[str, int] = {INPUT: -1}  # a tensor's name → the buffer whose memory it is
    born = {-1: -1}
    last: dict[int, int] = {-1: -1}  # a buffer → the last layer that reads it
    for entry in spec.layers:
        if aliases(entry):
            owner[entry.name] = owner[entry.inputs[0]]
        else:
            owner[entry.name] = entry.index
            born[entry.index] = last[entry.index] = entry.index
        for name in entry.inputs:
            last[owner[name]] = entry.index
    n = len(spec.layers)
    if n:
        last[owner[spec.layers[-1].name]] = n  # the model's output is never freed
    return Lifetimes(born, last, n)


__all__ = [
    "DTYPE_BYTES", "Lifetimes", "aliases", "lifetimes", "memory", "output_bytes", "peak_bytes",
]  # fmt: skip
