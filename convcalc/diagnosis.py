"""What to tell the user about a model error: where a wrong size came from, which input
sizes would work, and the whole input shape when too few dimensions were given.

The analysis (analysis.py) calls :func:`problem` for every error it records.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import ConvcalcError, ShapeError, jsonable
from .model import INPUT, LayerSpec, Spec
from .report import Problem, Row
from .shape import Shape, fmt_shape


def inputs_of(entry: LayerSpec, outputs: Mapping[str, Shape | None]) -> Any:
    """The shape a layer reads (a tuple of shapes for a merge); None if one is unknown."""
    multi = entry.layer.multi_input
    if not multi and len(entry.inputs) == 1:
        return outputs.get(entry.inputs[0])
    shapes = [outputs.get(name) for name in entry.inputs]
    if any(shape is None for shape in shapes):
        return None
    if multi:
        return tuple(shapes)
    return shapes[0]


def _rank_hint(exc: ConvcalcError, spec: Spec, entry: LayerSpec, x0: Shape, x: Any) -> str | None:
    """An input shape of too few dimensions (``-i 224,224`` for Conv2d): the whole shape,
    with batch and the channels the layers expect, when it works."""
    if exc.argument != "input" or not x0 or not x or isinstance(x[0], tuple) or len(x) != len(x0):
        return None  # not the model input's rank reaching this layer unchanged
    # the channels the first layer that sets them expects, from the failing one on
    channels: int | None = None
    last = entry.index
    for later in spec.layers[entry.index :]:
        values = [later.layer.args.get(n) for n in ("in_channels", "num_features", "num_channels")]
        channels = next((v for v in values if isinstance(v, int)), None)
        if channels is not None:
            last = later.index
            break
    probe = channels if channels is not None else 3
    shown = str(channels) if channels is not None else "C"
    upto = spec.layers[: last + 1]
    batched = (1, probe) + x0
    if not _propagates(upto, batched):
        return None
    dims = ",".join(map(str, x0))
    hint = f"give the input shape with batch and channels: 1,{shown},{dims}"
    if _propagates(upto, (probe,) + x0):
        hint += f" (or {shown},{dims}, unbatched)"
    return hint


def _propagates(layers: Sequence[LayerSpec], x: Shape) -> bool:
    """True when ``x`` goes through every layer without a model error."""
    outputs: dict[str, Shape | None] = {INPUT: x}
    try:
        for entry in layers:
            outputs[entry.name] = entry.layer.out_shape(inputs_of(entry, outputs))
    except ShapeError:
        return False
    return True


# ----------------------------------------------------------------- diagnosis
def label(entry: LayerSpec) -> str:
    return f"layer {entry.index} '{entry.name}'"


def problem(
    exc: ConvcalcError,
    entry: LayerSpec,
    spec: Spec,
    rows: Sequence[Row],
    x0: Shape,
    x: Shape | None,
    search_sizes: bool = True,
) -> Problem:
    context = ""
    hints = [exc.hint] if exc.hint else []
    if exc.dim is not None and x is not None:
        context, producer_hint = _provenance(exc, entry, spec, rows, x0)
        if producer_hint:
            # for a merge, the layer of the branch to change is the first thing to say
            hints.insert(0, producer_hint) if exc.branch is not None else hints.append(
                producer_hint
            )
    if x is not None and search_sizes and exc.resizable:
        sizes = _working_sizes(spec, x0)
        if sizes:
            hints.insert(1 if hints else 0, sizes)
    if x is not None:
        # the whole input shape, when too few dimensions are the problem, is said first
        rank = _rank_hint(exc, spec, entry, x0, x)
        if rank:
            hints.insert(0, rank)
    exc.at_layer(entry.index, entry.name, entry.type, context)
    # the argument's key (for a merge, its from: list) is where the problem is
    argument = (
        exc.argument
        if exc.argument in entry.layer.args
        or (exc.argument == "from" and "from" in entry.arg_where)
        else None
    )
    place = entry.place(argument)
    place["expected"], place["got"] = jsonable(exc.expected), jsonable(exc.got)
    return Problem(
        entry.index,
        entry.name,
        entry.type,
        exc.message,
        _join(hints),
        exc.argument,
        entry.location(argument),
        place,
    )


def _trace(
    name: str | None, dim: int, by_name: dict[str, Row], spec: Spec
) -> tuple[Row | None, list[Row]]:
    """The nearest layer up the chain from output ``name`` that set dimension ``dim`` of
    its output (changed it, or fixes it by an argument: a convolution's out_channels),
    following first inputs; None for the model input (or a shape not reached). Also the
    merges passed on the way (Add, Mul), whose other branches have that size too."""
    merges: list[Row] = []
    while name is not None and name in by_name:
        row = by_name[name]
        xin, yout = row.input_shape, row.output_shape
        if xin is None or yout is None:
            break
        layer = spec.layers[row.index].layer
        multi = layer.multi_input
        first: Shape = xin[0] if multi else xin  # type: ignore[assignment]
        if dim >= len(yout) or len(first) != len(yout) or first[dim] != yout[dim]:
            return row, merges
        if layer.sets_dim(first, yout, dim):
            return row, merges
        if multi:
            merges.append(row)
        name = row.inputs[0] if row.inputs else None
    return None, merges


def _provenance(
    exc: ConvcalcError, entry: LayerSpec, spec: Spec, rows: Sequence[Row], x0: Shape
) -> tuple[str, str | None]:
    """Which earlier layer set dimension ``exc.dim`` of the failing layer's input (of its
    input ``exc.branch``, for a merge), and how that layer would give the size expected."""
    dim = exc.dim
    assert dim is not None
    wanted = _int(exc.expected)
    by_name = {row.name: row for row in rows}
    if exc.branch is not None:
        # a merge's branches differ: make the one named agree with the first, or else the
        # first with it
        hint = _branch_hint(entry.inputs[exc.branch], dim, wanted, by_name, spec)
        if hint is None:
            hint = _branch_hint(entry.inputs[0], dim, _int(exc.got), by_name, spec)
        return "", hint
    row, merges = _trace(entry.inputs[0] if entry.inputs else None, dim, by_name, spec)
    if row is None:
        return f" from the input {fmt_shape(x0)}", None
    producer = spec.layers[row.index]
    xin, yout = row.input_shape, row.output_shape
    assert xin is not None and yout is not None
    parts = producer.layer.parts(xin, dim)
    if parts is not None:
        return _parts_provenance(producer, row, dim, parts, wanted, by_name, spec)
    origin = producer.layer.origin(xin, yout, dim) if dim < len(yout) else None
    context = f" ({origin})" if origin else f" from {label(producer)}"
    hint = None
    if wanted is not None and dim < len(yout):
        hint = producer.layer.resize_hint(xin, yout, dim, wanted, label(producer))
    if hint and merges:
        hint += f" (and in every other branch of {', '.join(label(spec.layers[m.index]) for m in merges)})"
    return context, hint


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _branch_hint(
    name: str, dim: int, wanted: int | None, by_name: dict[str, Row], spec: Spec
) -> str | None:
    """How to make dimension ``dim`` of the output ``name`` equal ``wanted``, at the layer
    that set it."""
    if wanted is None:
        return None
    row, merges = _trace(name, dim, by_name, spec)
    if row is None or merges or row.input_shape is None or row.output_shape is None:
        return None
    producer = spec.layers[row.index]
    if producer.layer.multi_input:
        return None
    hint = producer.layer.resize_hint(
        row.input_shape, row.output_shape, dim, wanted, label(producer)
    )
    if hint and producer.name != name:
        hint += f" (on the branch from '{name}')"
    return hint


def _parts_provenance(
    producer: LayerSpec,
    row: Row,
    dim: int,
    parts: tuple[int, ...],
    wanted: int | None,
    by_name: dict[str, Row],
    spec: Spec,
) -> tuple[str, str | None]:
    """A size its layer summed from its inputs' ``parts`` (a Concat's, see Layer.parts): the
    parts, and how the last branch would make up the difference."""
    terms = " + ".join(f"{p} from '{src}'" for p, src in zip(parts, row.inputs))
    context = f" (= {terms}, by {producer.type} {label(producer)})"
    hint = None
    if wanted is not None and wanted - sum(parts[:-1]) > 0:
        hint = _branch_hint(row.inputs[-1], dim, wanted - sum(parts[:-1]), by_name, spec)
    return context, hint


def _working_sizes(spec: Spec, x0: Shape, budget_s: float = 0.25) -> str | None:
    """For a square (cubic) input: the input sizes for which the whole model works."""
    spatial = x0[2:]
    if not spatial or len(set(spatial)) != 1:
        return None
    current = spatial[0]
    layers = spec.layers
    try:
        for entry in layers:
            entry.layer.check()
    except ShapeError:
        return None
    limit = min(max(4 * current, 256), 4096)
    deadline = time.perf_counter() + budget_s
    good: list[int] = []
    for size in range(1, limit + 1):
        if _propagates(layers, x0[:2] + (size,) * len(spatial)):
            good.append(size)
        if time.perf_counter() > deadline:
            break
    if not good:
        return None
    lo, hi = min(to_ranges(good), key=lambda r: min(abs(r[0] - current), abs(r[1] - current)))

    if len(spatial) == 1:
        what, plural = f"an input of length {lo}", "lengths"
    else:
        what, plural = f"a {'×'.join([str(lo)] * len(spatial))} input", "sizes"
    if lo == hi:
        return f"use {what}"
    upper = f"{lo} and above" if hi == limit else f"{lo}–{hi}"
    return f"use {what} ({plural} {upper} work)"


def to_ranges(sizes: Sequence[int]) -> list[tuple[int, int]]:
    """Increasing sizes as runs of consecutive ones: 32, 33, 34, 64 → (32, 34), (64, 64)."""
    runs: list[tuple[int, int]] = []
    for size in sizes:
        if runs and size == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], size)
        else:
            runs.append((size, size))
    return runs


def _join(hints: Sequence[str]) -> str | None:
    hints = [h for h in hints if h]
    if not hints:
        return None
    if len(hints) == 1:
        return hints[0]
    return ", ".join(hints[:-1]) + ", or " + hints[-1]
