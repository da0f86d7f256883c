"""The result of an analysis: rows, totals, problems and notes, immutable.

Every number the user sees is computed once, by the analysis (analysis.py) or a layer
class, and kept here; rendering only formats it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import ShapeError
from .model import INPUT
from .shape import Shape

if TYPE_CHECKING:
    from .batch import BatchFit
    from .receptive import ReceptiveField


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
    #: the bytes its output takes at the report's dtype (0 for a view or an in-place layer,
    #: which allocate nothing); None when the output shape is unknown
    output_bytes: int | None = None
    #: the region of the model input one output element reads, per spatial axis (see
    #: receptive.py); None without a spatial layout or an input shape
    receptive_field: ReceptiveField | None = None

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
            "output_bytes": self.output_bytes,
            "receptive_field": None
            if self.receptive_field is None
            else self.receptive_field.to_dict(),
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
class Memory:
    """What the model takes in memory at one dtype (see liveness.py for the definitions);
    None where a shape or count is unknown."""

    dtype: str
    param_bytes: int | None
    buffer_bytes: int | None
    #: every layer's output, each counted once (views and in-place layers add nothing)
    activation_bytes: int | None
    #: the most activation memory alive at once in an eager inference pass
    peak_bytes: int | None
    #: the layer that runs at the peak (None: the input alone, or unknown)
    peak_index: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "dtype": self.dtype,
            "param_bytes": self.param_bytes,
            "buffer_bytes": self.buffer_bytes,
            "activation_bytes": self.activation_bytes,
            "peak_bytes": self.peak_bytes,
            "peak_layer": self.peak_index,
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
    memory: Memory | None = None
    #: ``--batch-for``'s answer, when asked
    batch_fit: BatchFit | None = None

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
            "memory": None if self.memory is None else self.memory.to_dict(),
            **({} if self.batch_fit is None else {"batch_for": self.batch_fit.to_dict()}),
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
        output_bytes=_sum([r.output_bytes for r in group]),
        receptive_field=group[-1].receptive_field,
    )


def _sum(values: list[int | None]) -> int | None:
    return None if None in values else sum(values)  # type: ignore[arg-type]


def _percent(part: int | None, whole: int | None) -> float | None:
    if part is None or not whole:
        return None
    return 100 * part / whole


def _list(shape: Shape | tuple[Shape, ...] | None) -> list[Any] | None:
    """A shape as a list; a merge's several input shapes as a list of lists."""
    if shape is None:
        return None
    return [list(s) if isinstance(s, tuple) else s for s in shape]
