"""analyze(spec, input_shape) → Report: shapes, parameters, MACs and diagnoses.

Every number the user sees is computed here (or by a layer class) once, and
stored in an immutable :class:`Report` (report.py); rendering only formats it. What
to say about an error is diagnosis.py's.
"""

from __future__ import annotations

from collections.abc import Sequence

from .diagnosis import inputs_of, label, problem
from .errors import ShapeError, SpecError
from .graph import gc_paused
from .liveness import DTYPE_BYTES, memory, output_bytes
from .model import INPUT, LayerSpec, Spec
from .receptive import ReceptiveField, at_input, field_of
from .report import Problem, Report, Row, Totals
from .shape import Shape, prod

__all__ = ["Problem", "Report", "Row", "Totals", "analyze"]


def analyze(
    spec: Spec,
    input_shape: Shape | None = None,
    *,
    size_hints: bool = True,
    dtype: str = "float32",
    receptive_fields: bool = True,
) -> Report:
    """Propagate the input shape through every layer of ``spec``.

    Every model error is recorded in the report, and propagation stops at the
    first one. Without an input shape (neither ``input_shape`` nor the spec's),
    the report holds what the arguments alone fix: each layer's parameters
    (None where a size comes from the input, an ``in_channels`` left out, say) and
    the errors of construction; shapes and MACs are None (unknown).
    ``size_hints=False`` skips the search for input sizes that would work (up to
    a quarter of a second per error), for callers that probe many sizes. ``dtype`` (a key
    of ``DTYPE_BYTES``) is what the memory figures are given for.
    """
    x0 = input_shape if input_shape is not None else spec.input_shape
    if dtype not in DTYPE_BYTES:
        raise SpecError(f"dtype {dtype!r} is none of {', '.join(DTYPE_BYTES)}")
    with gc_paused():
        return _analyze(spec, x0, size_hints, dtype, receptive_fields)


#: layers named in a note before the rest are only counted
NAMED_LAYERS = 5


def _analyze(
    spec: Spec, x0: Shape | None, size_hints: bool, dtype: str, receptive_fields: bool
) -> Report:
    itemsize = DTYPE_BYTES[dtype]
    rows: list[Row] = []
    errors: list[Problem] = []
    outputs: dict[str, Shape | None] = {INPUT: x0}
    # the model input's field; without one (not asked, or no spatial axis) every field is None
    fields: dict[str, ReceptiveField | None] = {INPUT: at_input(x0) if receptive_fields else None}
    #: layers whose parameters need a shape that was not reached (an in_channels left out)
    needs_input: list[LayerSpec] = []
    # the diagnosis reads the model input only for a layer that received a shape
    x0_known: Shape = x0 if x0 is not None else ()
    for entry in spec.layers:
        # propagation stops at the first failing layer
        x = None if errors else inputs_of(entry, outputs)
        row, error, needs = _layer_row(entry, x, spec, rows, x0_known, size_hints, itemsize, fields)
        if error is not None:
            errors.append(error)
        if needs:
            needs_input.append(entry)
        rows.append(row)
        outputs[entry.name] = row.output_shape
    final = outputs[spec.layers[-1].name] if spec.layers else x0
    totals, notes = _totals(spec, x0, rows, needs_input)
    return Report(
        spec.name,
        x0,
        None if errors else final,
        tuple(rows),
        totals,
        tuple(errors),
        notes,
        tuple(e.index for e in needs_input) if x0 is None else (),
        memory(spec, rows, x0, dtype, not errors),
    )


def _layer_row(
    entry: LayerSpec,
    x: Shape | None,
    spec: Spec,
    rows: Sequence[Row],
    x0: Shape,
    size_hints: bool,
    itemsize: int,
    fields: dict[str, ReceptiveField | None],
) -> tuple[Row, Problem | None, bool]:
    """One layer's row, its problem if it has one, and whether its parameters need a shape
    that was not reached; its receptive field goes into ``fields``."""
    layer = entry.layer
    try:
        layer.check()
    except ShapeError as exc:
        row = Row(
            entry.index, entry.name, entry.type, x, None, None, None, None, (),
            entry.inputs, entry.path, trainable=entry.trainable,
        )  # fmt: skip
        return row, problem(exc, entry, spec, rows, x0, x, search_sizes=False), False
    y: Shape | None = None
    macs: int | None = None
    notes: list[str] = []
    error = None
    field: ReceptiveField | None = None
    if x is not None:
        try:
            y = layer.out_shape(x)
            macs = layer.macs(x, y)
            notes = layer.notes(x, y)
            field, note = field_of(entry, x, y, fields)
            if note is not None:
                notes.append(note)
        except ShapeError as exc:
            error = problem(exc, entry, spec, rows, x0, x, size_hints)
    fields[entry.name] = field
    # a layer that failed keeps the parameters its explicit arguments give it
    weights = layer.weights(x if y is not None else None)
    params: int | None = None
    if weights is not None:
        params = 0
        for s in weights.values():
            params += prod(s)
    row = Row(
        entry.index, entry.name, layer.type_name, x, y, params,
        None if params is None else params if entry.trainable else 0, macs, tuple(notes),
        entry.inputs, entry.path,
        kernel_shape=None if weights is None else weights.get("weight"), trainable=entry.trainable,
        output_bytes=None if y is None else output_bytes(entry, y, itemsize),
        receptive_field=field,
    )  # fmt: skip
    return row, error, weights is None


def _totals(
    spec: Spec, x0: Shape | None, rows: Sequence[Row], needs_input: Sequence[LayerSpec]
) -> tuple[Totals, tuple[str, ...]]:
    """The sums over the rows, and the report's notes (what the sums leave out)."""
    unknown = sum(1 for r in rows if r.params is None)  # layers whose parameters are not known
    total_params = sum(r.params for r in rows if r.params is not None)
    total_trainable = sum(r.trainable_params for r in rows if r.trainable_params is not None)
    total_macs = sum(r.macs for r in rows if r.macs)
    notes = list(spec.warnings)
    if x0 is None:
        # without an input shape a sum over unknown parts is unknown, not a lower bound
        known = not unknown
        totals = Totals(total_params if known else None, total_trainable if known else None, None)
        notes.append("no input shape: shapes and MACs need one (--input, or input: in the file)")
        if needs_input:
            notes.append(_needs_input_note(needs_input))
    else:
        totals = Totals(total_params, total_trainable, total_macs)
        if unknown:
            notes.append(
                f"parameter totals leave out {unknown} layer{'s' if unknown != 1 else ''} "
                "whose size depends on a shape that was not reached"
            )
    return totals, tuple(notes)


def _inferred(entry: LayerSpec) -> list[str]:
    """The arguments left out that the layer takes from its input (``in_channels``)."""
    return list(entry.layer.inferred_args())


def _needs_input_note(unknown: Sequence[LayerSpec]) -> str:
    """``layer 1 'c' takes in_channels from the input: its parameters and the total need --input``."""
    if len(unknown) == 1:
        entry = unknown[0]
        what = ", ".join(_inferred(entry)) or "its sizes"
        return (
            f"{label(entry)} takes {what} from the input: its parameters and the total need --input"
        )
    named = [f"{label(e)} ({', '.join(_inferred(e)) or 'sizes'})" for e in unknown[:NAMED_LAYERS]]
    if len(unknown) > NAMED_LAYERS:
        named.append(f"{len(unknown) - NAMED_LAYERS:,} more")
    return (
        f"{len(unknown):,} layers take sizes from the input: {', '.join(named)}; "
        "their parameters and the total need --input"
    )
