"""analyze(spec, input_shape) → Report: shapes, parameters, MACs and diagnoses.

Every number the user sees is computed here (or by a layer class) once, and
stored in an immutable :class:`Report`; rendering only formats it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import ConvcalcError, ShapeError, jsonable
from .graph import gc_paused
from .model import INPUT, LayerSpec, Spec
from .shape import Shape, fmt_shape, prod


@dataclass(frozen=True)
class Row:
    index: int
    name: str
    type: str
    input_shape: Shape | None
    output_shape: Shape | None
    #: None when the count depends on a shape that propagation did not reach
    params: int | None
    trainable_params: int | None
    macs: int | None
    notes: tuple[str, ...] = ()
    #: the outputs it reads ("input" is the model input)
    inputs: tuple[str, ...] = ()
    #: enclosing block instances, outermost first: ((name, block type), ...)
    path: tuple[tuple[str, str], ...] = ()
    #: a collapsed block (see Report.view), standing for its layers
    block: bool = False
    #: the shape of its ``weight`` parameter (torchinfo's "Kernel Shape"); None without one
    kernel_shape: Shape | None = None
    #: whether its parameters are trained (the config's ``trainable``)
    trainable: bool = True

    @property
    def level(self) -> int:
        return len(self.path)

    def to_dict(self) -> dict[str, Any]:
        data = {
            "index": self.index,
            "name": self.name,
            "type": self.type,
            "input_shape": _list(self.input_shape),
            "output_shape": _list(self.output_shape),
            "params": self.params,
            "macs": self.macs,
            "trainable": self.trainable,
            "notes": list(self.notes),
            "from": list(self.inputs),
        }
        if self.path:
            data["blocks"] = [name for name, _ in self.path]
        return data


@dataclass(frozen=True)
class Problem:
    """A model error at one layer."""

    index: int
    name: str
    type: str
    message: str
    hint: str | None
    argument: str | None = None
    location: str | None = None
    #: file, line, column, defined_at, expected and got (see ConvcalcError.place_dict)
    place: dict[str, Any] | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "type": self.type,
            "message": self.message,
            "hint": self.hint,
            "argument": self.argument,
            "location": self.location,
            **(self.place or {}),
        }


@dataclass(frozen=True)
class Totals:
    """Sums over the layers; None when unknown (no input shape: MACs always, and the
    parameters when a layer takes its size from the input)."""

    params: int | None
    trainable_params: int | None
    macs: int | None

    @property
    def flops(self) -> int | None:
        return None if self.macs is None else 2 * self.macs

    def to_dict(self) -> dict[str, int | None]:
        return {
            "params": self.params,
            "trainable_params": self.trainable_params,
            "macs": self.macs,
            "flops": self.flops,
        }


@dataclass(frozen=True)
class Report:
    model: str | None
    #: None when the model was analysed without an input shape (parameters only)
    input_shape: Shape | None
    output_shape: Shape | None
    rows: tuple[Row, ...]
    totals: Totals
    errors: tuple[Problem, ...]
    notes: tuple[str, ...] = ()
    #: without an input shape: the indices of the layers whose parameters need one
    needs_input: tuple[int, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else ShapeError.exit_code

    @property
    def branched(self) -> bool:
        """Some layer reads something other than the previous layer's output."""
        prev = INPUT
        for row in self.rows:
            if row.inputs and row.inputs != (prev,):
                return True
            prev = row.name
        return False

    @property
    def depth(self) -> int:
        """How deeply blocks nest (0: no blocks)."""
        return max((row.level for row in self.rows), default=0)

    def view(self, depth: int | None = None) -> tuple[Row, ...]:
        """The rows as a tree: each block instance gets a row of its own (its name and type,
        the input of its first layer, the output of its last, the sums of their parameters
        and MACs), followed by its layers unless it is nested deeper than ``depth``, where
        it stands collapsed for them. ``depth=None`` expands everything.
        """
        members: dict[str, list[Row]] = {}
        for row in self.rows:
            for name, _ in row.path:
                members.setdefault(name, []).append(row)
        out: list[Row] = []
        shown: set[str] = set()
        for row in self.rows:
            collapsed = False
            for level, (name, block_type) in enumerate(row.path):
                if name not in shown:
                    shown.add(name)
                    out.append(_block_row(name, block_type, members[name], row.path[:level]))
                if depth is not None and level >= depth:
                    collapsed = True
                    break
            if not collapsed:
                out.append(row)
        return tuple(out)

    def share(self, row: Row) -> tuple[float | None, float | None]:
        """The row's part of the total parameters and of the total MACs, in percent
        (None where the row's count or the total is unknown or zero)."""
        totals = self.totals
        return _percent(row.params, totals.params), _percent(row.macs, totals.macs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "input_shape": _list(self.input_shape),
            "output_shape": _list(self.output_shape),
            "ok": self.ok,
            "layers": [row.to_dict() for row in self.rows],
            "totals": self.totals.to_dict(),
            "errors": [e.to_dict() for e in self.errors],
            "notes": list(self.notes),
        }


def _block_row(
    name: str, block_type: str, group: list[Row], path: tuple[tuple[str, str], ...]
) -> Row:
    """One row standing for a block instance's layers."""
    params = [r.params for r in group]
    trainable = [r.trainable_params for r in group]
    macs = [r.macs for r in group]
    return Row(
        group[0].index,
        name,
        block_type,
        group[0].input_shape,
        group[-1].output_shape,
        None if None in params else sum(params),  # type: ignore[arg-type]
        None if None in trainable else sum(trainable),  # type: ignore[arg-type]
        None if None in macs else sum(macs),  # type: ignore[arg-type]
        (f"{len(group)} layers",),
        group[0].inputs,
        path,
        True,
        trainable=all(r.trainable for r in group),
    )


def _percent(part: int | None, whole: int | None) -> float | None:
    if part is None or not whole:
        return None
    return 100 * part / whole


def _list(shape: Any) -> Any:
    """A shape as a list; a merge's several input shapes as a list of lists."""
    if shape is None:
        return None
    return [list(s) if isinstance(s, tuple) else s for s in shape]


# ------------------------------------------------------------------ analysis
def analyze(spec: Spec, input_shape: Shape | None = None, *, size_hints: bool = True) -> Report:
    """Propagate the input shape through every layer of ``spec``.

    Every model error is recorded in the report, and propagation stops at the
    first one. Without an input shape (neither ``input_shape`` nor the spec's),
    the report holds what the arguments alone fix: each layer's parameters
    (None where a size comes from the input, an ``in_channels`` left out, say) and
    the errors of construction; shapes and MACs are None (unknown).
    ``size_hints=False`` skips the search for input sizes that would work (up to
    a quarter of a second per error), for callers that probe many sizes.
    """
    x0 = input_shape if input_shape is not None else spec.input_shape
    with gc_paused():
        return _analyze(spec, x0, size_hints)


def _inputs_of(entry: LayerSpec, outputs: dict[str, Shape | None]) -> Any:
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


#: layers named in a note before the rest are only counted
NAMED_LAYERS = 5


def _analyze(spec: Spec, x0: Shape | None, size_hints: bool = True) -> Report:
    rows: list[Row] = []
    errors: list[Problem] = []
    outputs: dict[str, Shape | None] = {INPUT: x0}
    failed = False
    unknown = 0  # layers whose parameters are not known
    #: layers whose parameters need a shape that was not reached (an in_channels left out)
    needs_input: list[LayerSpec] = []
    total_params = total_trainable = total_macs = 0
    # _problem reads the model input only for a layer that received a shape
    x0_known: Shape = x0 if x0 is not None else ()
    for entry in spec.layers:
        layer = entry.layer
        # propagation stops at the first failing layer
        x = None if failed else _inputs_of(entry, outputs)
        y: Shape | None = None
        macs: int | None = None
        notes: list[str] = []
        try:
            layer.check()
        except ShapeError as exc:
            errors.append(_problem(exc, entry, spec, rows, x0_known, x, search_sizes=False))
            rows.append(
                Row(
                    entry.index,
                    entry.name,
                    entry.type,
                    x,
                    None,
                    None,
                    None,
                    None,
                    (),
                    entry.inputs,
                    entry.path,
                    trainable=entry.trainable,
                )
            )
            outputs[entry.name] = None
            unknown += 1
            failed = True
            continue
        if x is not None:
            try:
                y = layer.out_shape(x)
                macs = layer.macs(x, y)
                notes = layer.notes(x, y)
            except ShapeError as exc:
                problem = _problem(exc, entry, spec, rows, x0_known, x, search_sizes=size_hints)
                errors.append(_with_rank_hint(problem, exc, spec, entry, x0_known, x))
                failed = True
        # a layer that failed keeps the parameters its explicit arguments give it
        weights = layer.weights(x if y is not None else None)
        params: int | None = None
        trainable: int | None = None
        if weights is None:
            unknown += 1
            needs_input.append(entry)
        else:
            params = 0
            for s in weights.values():
                params += prod(s)
            trainable = params if entry.trainable else 0
            total_params += params
            total_trainable += trainable
        if macs:
            total_macs += macs
        rows.append(
            Row(
                entry.index,
                entry.name,
                layer.type_name,
                x,
                y,
                params,
                trainable,
                macs,
                tuple(notes),
                entry.inputs,
                entry.path,
                kernel_shape=None if weights is None else weights.get("weight"),
                trainable=entry.trainable,
            )
        )
        outputs[entry.name] = y
    report_notes = list(spec.warnings)
    if x0 is None:
        # without an input shape a sum over unknown parts is unknown, not a lower bound
        known = not unknown
        totals = Totals(total_params if known else None, total_trainable if known else None, None)
        report_notes.append(
            "no input shape: shapes and MACs need one (--input, or input: in the file)"
        )
        if needs_input:
            report_notes.append(_needs_input_note(needs_input))
    else:
        totals = Totals(total_params, total_trainable, total_macs)
        if unknown:
            report_notes.append(
                f"parameter totals leave out {unknown} layer{'s' if unknown != 1 else ''} "
                "whose size depends on a shape that was not reached"
            )
    final = outputs[spec.layers[-1].name] if spec.layers else x0
    return Report(
        spec.name,
        x0,
        None if errors else final,
        tuple(rows),
        totals,
        tuple(errors),
        tuple(report_notes),
        tuple(e.index for e in needs_input) if x0 is None else (),
    )


def _inferred(entry: LayerSpec) -> list[str]:
    """The arguments left out that the layer takes from its input (``in_channels``)."""
    return list(entry.layer.inferred_args())


def _needs_input_note(unknown: Sequence[LayerSpec]) -> str:
    """``layer 1 'c' takes in_channels from the input: its parameters and the total need --input``."""
    if len(unknown) == 1:
        entry = unknown[0]
        what = ", ".join(_inferred(entry)) or "its sizes"
        return (
            f"{_label(entry)} takes {what} from the input: "
            "its parameters and the total need --input"
        )
    named = [f"{_label(e)} ({', '.join(_inferred(e)) or 'sizes'})" for e in unknown[:NAMED_LAYERS]]
    if len(unknown) > NAMED_LAYERS:
        named.append(f"{len(unknown) - NAMED_LAYERS:,} more")
    return (
        f"{len(unknown):,} layers take sizes from the input: {', '.join(named)}; "
        "their parameters and the total need --input"
    )


def _with_rank_hint(
    problem: Problem, exc: ShapeError, spec: Spec, entry: LayerSpec, x0: Shape, x: Any
) -> Problem:
    """An input shape of too few dimensions (``-i 224,224`` for Conv2d): the hint gives the
    whole shape, with batch and the channels the layers expect, when it works."""
    if exc.argument != "input" or not x0 or not x or isinstance(x[0], tuple) or len(x) != len(x0):
        return problem  # not the model input's rank reaching this layer unchanged
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
        return problem
    dims = ",".join(map(str, x0))
    hint = f"give the input shape with batch and channels: 1,{shown},{dims}"
    if _propagates(upto, (probe,) + x0):
        hint += f" (or {shown},{dims}, unbatched)"
    return replace(problem, hint=hint)


def _propagates(layers: Sequence[LayerSpec], x: Shape) -> bool:
    """True when ``x`` goes through every layer without a model error."""
    outputs: dict[str, Shape | None] = {INPUT: x}
    try:
        for entry in layers:
            outputs[entry.name] = entry.layer.out_shape(_inputs_of(entry, outputs))
    except ShapeError:
        return False
    return True


# ----------------------------------------------------------------- diagnosis
def _label(entry: LayerSpec) -> str:
    return f"layer {entry.index} '{entry.name}'"


def _problem(
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
    context = f" ({origin})" if origin else f" from {_label(producer)}"
    hint = None
    if wanted is not None and dim < len(yout):
        hint = producer.layer.resize_hint(xin, yout, dim, wanted, _label(producer))
    if hint and merges:
        hint += f" (and in every other branch of {', '.join(_label(spec.layers[m.index]) for m in merges)})"
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
        row.input_shape, row.output_shape, dim, wanted, _label(producer)
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
    context = f" (= {terms}, by {producer.type} {_label(producer)})"
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
    ranges: list[tuple[int, int]] = []
    for size in good:
        if ranges and size == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], size)
        else:
            ranges.append((size, size))
    lo, hi = min(ranges, key=lambda r: min(abs(r[0] - current), abs(r[1] - current)))

    if len(spatial) == 1:
        what, plural = f"an input of length {lo}", "lengths"
    else:
        what, plural = f"a {'×'.join([str(lo)] * len(spatial))} input", "sizes"
    if lo == hi:
        return f"use {what}"
    upper = f"{lo} and above" if hi == limit else f"{lo}–{hi}"
    return f"use {what} ({plural} {upper} work)"


def _join(hints: Sequence[str]) -> str | None:
    hints = [h for h in hints if h]
    if not hints:
        return None
    if len(hints) == 1:
        return hints[0]
    return ", ".join(hints[:-1]) + ", or " + hints[-1]
