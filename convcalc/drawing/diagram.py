"""The diagram of a report: one node per layer (or per block collapsed at ``depth``, as
``shape --depth`` collapses it) and the model input, and the edges of the graph's ``from``.

Nothing here computes a figure: shapes, parameters, MACs and shares are the Report's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..model import INPUT
from ..shape import fmt_shape
from ..table import human, shape_text

if TYPE_CHECKING:
    from ..model import Spec
    from ..report import Report, Row

#: a node's state: the model input, a layer that works, the failing layer, a layer after it
INPUT_NODE, OK, FAILED, AFTER = "input", "ok", "failed", "after"


@dataclass(frozen=True)
class Node:
    #: a safe identifier (``n0`` is the model input, then the layers in order)
    id: str
    name: str
    type: str
    #: the output shape as the table writes it (``✗`` where it failed, ``—`` when unknown)
    output: str
    params: int | None
    macs: int | None
    #: the part of the model's MACs, 0 to 1 (None when unknown)
    share: float | None
    state: str
    #: the failing layer's message and hint
    message: str | None = None
    hint: str | None = None
    #: the row it stands for (None for the model input)
    row: Row | None = None
    #: the layers a collapsed block stands for (0 for a layer)
    layers: int = 0
    #: the layer as a PyTorch constructor call (None for a block and the model input)
    call: str | None = None

    @property
    def title(self) -> str:
        """The first line of the node's label: its name, or its type when unnamed."""
        if self.row is not None and not self.row.block and self.name == str(self.row.index):
            return self.type
        return self.name

    @property
    def subtitle(self) -> str:
        """The second line: the type (unless the title is the type) and the output shape."""
        if self.state == INPUT_NODE or self.title == self.type:
            return self.output
        return f"{self.type}  {self.output}"

    @property
    def figures(self) -> str:
        """The small line: parameters and MACs (and a block's layer count); empty when a
        layer has neither."""
        parts = [f"{self.layers} layers"] if self.layers else []
        if self.params or self.macs or self.layers:
            parts.append(f"params {human(self.params)}")
            parts.append(f"MACs {human(self.macs)}")
        return " · ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """What the HTML page's panel shows of it."""
        row = self.row
        data: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "state": self.state,
            "output_shape": _list(row.output_shape if row else None),
            "params": self.params,
            "macs": self.macs,
            "macs_share": self.share,
        }
        if row is not None:
            data.update(
                index=row.index,
                call=self.call,
                input_shape=_list(row.input_shape),
                trainable_params=row.trainable_params,
                notes=list(row.notes),
                blocks=[name for name, _ in row.path],
                layers=self.layers,
            )
        if self.message is not None:
            data.update(message=self.message, hint=self.hint)
        return data


@dataclass(frozen=True)
class Diagram:
    model: str | None
    nodes: tuple[Node, ...]
    #: (source, target) positions in ``nodes``, each once, source before target
    edges: tuple[tuple[int, int], ...]
    depth: int | None
    #: one line: input → output · params · MACs
    summary: str


def build(report: Report, spec: Spec | None = None, depth: int | None = None) -> Diagram:
    """The diagram of ``report``, blocks nested deeper than ``depth`` collapsed."""
    first_error = min((e.index for e in report.errors), default=None)
    problems = {e.index: e for e in report.errors}
    calls = {entry.name: entry.layer.call_string() for entry in spec.layers} if spec else {}
    start = fmt_shape(report.input_shape) if report.input_shape is not None else "—"
    nodes = [Node("n0", INPUT, "input", start, None, None, None, INPUT_NODE)]
    for row in _shown(report, depth):
        members = _members(report, row)
        failed = [problems[r.index] for r in members if r.index in problems]
        if failed:
            state = FAILED
        elif first_error is not None and row.index > first_error:
            state = AFTER
        else:
            state = OK
        percent = report.share(row)[1]
        share = None if percent is None else percent / 100
        nodes.append(
            Node(
                f"n{len(nodes)}", row.name, row.type, shape_text(row.output_shape, bool(failed)),
                row.params, row.macs, share, state,
                failed[0].message if failed else None, failed[0].hint if failed else None,
                row, len(members) if row.block else 0, None if row.block else calls.get(row.name),
            )
        )  # fmt: skip
    return Diagram(
        report.model, tuple(nodes), _edges(report, nodes, depth), depth, _summary(report)
    )


def _shown(report: Report, depth: int | None) -> list[Row]:
    """The rows that get a node: each layer not inside a collapsed block, and each block
    collapsed at ``depth`` (``report.view``'s rows, without the headers of open blocks)."""
    return [
        row
        for row in report.view(depth)
        if not row.block or (depth is not None and len(row.path) >= depth)
    ]


def _members(report: Report, row: Row) -> Sequence[Row]:
    """The layers a node stands for: a collapsed block's, or the layer itself."""
    if not row.block:
        return (row,)
    level = len(row.path)
    out = []
    for r in report.rows[row.index :]:
        if len(r.path) <= level or r.path[level][0] != row.name:
            break
        out.append(r)
    return out


def _edges(report: Report, nodes: Sequence[Node], depth: int | None) -> tuple[tuple[int, int], ...]:
    """The graph's ``from`` between the nodes: an edge inside a collapsed block vanishes,
    edges into or out of it join at its node, each pair once."""
    at = {INPUT: 0}
    for i, node in enumerate(nodes[1:], 1):
        at[node.name] = i
    drawn_as = {row.name: _shown_as(row, depth) for row in report.rows}
    seen: dict[tuple[int, int], None] = {}
    for row in report.rows:
        target = at[drawn_as[row.name]]
        for source_name in row.inputs:
            source = at.get(drawn_as.get(source_name, source_name))
            if source is not None and source != target:
                seen[(source, target)] = None
    return tuple(sorted(seen, key=lambda e: (e[1], e[0])))


def _shown_as(row: Row, depth: int | None) -> str:
    """The name of the node a layer is drawn in: its own, or its collapsed block's."""
    if depth is not None and len(row.path) > depth:
        return row.path[depth][0]
    return row.name


def _summary(report: Report) -> str:
    t = report.totals
    start = fmt_shape(report.input_shape) if report.input_shape is not None else "?"
    end = fmt_shape(report.output_shape) if report.output_shape is not None else "✗"
    if report.input_shape is None:
        end = "?"
    return f"{start} → {end} · params {human(t.params)} · MACs {human(t.macs)}"


def _list(shape: Any) -> Any:
    if shape is None:
        return None
    return [list(s) if isinstance(s, tuple) else s for s in shape]
