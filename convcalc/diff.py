"""Two analysed models side by side: which layers were added, removed or changed, and how the
totals moved.

Layers are matched by name. A name whose last part is a position (``3``, ``stem.0``,
``layer2.0.downsample.0``: what a layer without a name of its own is called) says nothing
about which layer it is once a layer is inserted before it, so such layers are matched by
aligning the two sequences of (type, arguments) as :mod:`difflib` aligns lines: one inserted
layer shows as one insertion and the rest as unchanged. Where a stretch of one model stands
in for a stretch of the other, layers of the same type are paired in order and show as
changed (a renamed layer, a layer whose arguments changed).

Every figure comes from the two :class:`~convcalc.report.Report` objects; the deltas and
percentages are computed here, once, and rendering (diffout.py) only formats them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import TYPE_CHECKING, Any, Literal

from .shape import Shape

if TYPE_CHECKING:
    from .model import Spec
    from .report import Report, Row

Status = Literal["added", "removed", "changed", "same"]
STATUSES: tuple[Status, ...] = ("added", "removed", "changed", "same")

#: what a layer's side of the diff compares, in the order a change lists them
FIELDS = ("name", "type", "call", "output_shape", "params", "trainable_params", "macs")


@dataclass(frozen=True)
class Side:
    """One layer (or one collapsed block instance) as one of the two models has it."""

    index: int
    name: str
    type: str
    #: the layer as a PyTorch constructor call, arguments left at their defaults left out;
    #: None when the model's spec was not given, and for a block instance
    call: str | None
    output_shape: Shape | None
    params: int | None
    trainable_params: int | None
    macs: int | None
    #: the enclosing block instances' names, outermost first
    blocks: tuple[str, ...] = ()
    #: a block instance standing for this many layers (0: a layer of its own)
    layers: int = 0

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "index": self.index,
            "name": self.name,
            "type": self.type,
            "call": self.call,
            "output_shape": None if self.output_shape is None else list(self.output_shape),
            "params": self.params,
            "trainable_params": self.trainable_params,
            "macs": self.macs,
        }
        if self.blocks:
            data["blocks"] = list(self.blocks)
        if self.layers:
            data["layers"] = self.layers
        return data


@dataclass(frozen=True)
class Count:
    """One figure before and after: its change, and the change in percent of the first."""

    before: int | None
    after: int | None

    @property
    def delta(self) -> int | None:
        if self.before is None or self.after is None:
            return None
        return self.after - self.before

    @property
    def percent(self) -> float | None:
        """None where either figure is unknown, or the first is 0."""
        delta = self.delta
        if delta is None or not self.before:
            return None
        return 100 * delta / self.before

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def to_dict(self) -> dict[str, Any]:
        return {
            "before": self.before,
            "after": self.after,
            "delta": self.delta,
            "percent": self.percent,
        }


@dataclass(frozen=True)
class LayerDiff:
    """One matched row: a layer of the first model, of the second, or of both."""

    status: Status
    before: Side | None
    after: Side | None
    #: the FIELDS that differ (empty unless ``status`` is "changed")
    changes: tuple[str, ...] = ()

    @property
    def side(self) -> Side:
        """The layer as the second model has it (as the first had it, if removed)."""
        side = self.after or self.before
        assert side is not None
        return side

    @property
    def params(self) -> Count:
        return Count(_get(self.before, "params"), _get(self.after, "params"))

    @property
    def trainable_params(self) -> Count:
        return Count(_get(self.before, "trainable_params"), _get(self.after, "trainable_params"))

    @property
    def macs(self) -> Count:
        return Count(_get(self.before, "macs"), _get(self.after, "macs"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "changes": list(self.changes),
            "before": None if self.before is None else self.before.to_dict(),
            "after": None if self.after is None else self.after.to_dict(),
        }


def _get(side: Side | None, what: str) -> int | None:
    if side is None:
        return None
    value: int | None = getattr(side, what)
    return value


@dataclass(frozen=True)
class ModelDiff:
    """The comparison of model A (before) with model B (after)."""

    a: Report
    b: Report
    #: what to call the two models (file names, a revision)
    labels: tuple[str, str]
    #: every layer of either model, matched: a pair in the order both models have them, a
    #: removed layer where it was in A, an added one where it is in B
    layers: tuple[LayerDiff, ...]
    #: the block instances of either model whose layers are all added (or all removed)
    blocks: tuple[LayerDiff, ...] = ()

    @property
    def input_shape(self) -> tuple[Shape | None, Shape | None]:
        return self.a.input_shape, self.b.input_shape

    @property
    def output_shape(self) -> tuple[Shape | None, Shape | None]:
        return self.a.output_shape, self.b.output_shape

    @property
    def params(self) -> Count:
        return Count(self.a.totals.params, self.b.totals.params)

    @property
    def trainable_params(self) -> Count:
        return Count(self.a.totals.trainable_params, self.b.totals.trainable_params)

    @property
    def macs(self) -> Count:
        return Count(self.a.totals.macs, self.b.totals.macs)

    @property
    def counts(self) -> dict[Status, int]:
        """How many layers are added, removed, changed and the same."""
        counts: dict[Status, int] = dict.fromkeys(STATUSES, 0)
        for row in self.layers:
            counts[row.status] += 1
        return counts

    @property
    def identical(self) -> bool:
        return all(row.status == "same" for row in self.layers)

    @property
    def ok(self) -> bool:
        return self.a.ok and self.b.ok

    @property
    def exit_code(self) -> int:
        return max(self.a.exit_code, self.b.exit_code)

    def shown(self) -> tuple[LayerDiff, ...]:
        """The rows a reviewer reads: every layer that is not the same, except that the
        layers of a block instance added (or removed) whole are one row, the block's."""
        whole = {(d.status, d.side.name): d for d in self.blocks}
        out: list[LayerDiff] = []
        done: set[tuple[Status, str]] = set()
        for row in self.layers:
            if row.status == "same":
                continue
            key = next(((row.status, n) for n in row.side.blocks if (row.status, n) in whole), None)
            if key is None:
                out.append(row)
            elif key not in done:
                done.add(key)
                out.append(whole[key])
        return tuple(out)


# ------------------------------------------------------------------ matching
def diff_models(
    a: Report,
    b: Report,
    *,
    specs: tuple[Spec, Spec] | None = None,
    labels: tuple[str, str] | None = None,
) -> ModelDiff:
    """Compare model A (``a``, before) with model B (``b``, after).

    ``specs``, the two models' specs, add each layer's arguments to what is compared
    (the report holds types, shapes and counts only). ``labels`` name the two models
    (default: the models' own names).
    """
    layers = tuple(
        _match(_sides(a, specs[0] if specs else None), _sides(b, specs[1] if specs else None))
    )
    blocks = _whole_blocks(a, "removed", layers) + _whole_blocks(b, "added", layers)
    names = labels or (a.model or "A", b.model or "B")
    return ModelDiff(a, b, names, layers, blocks)


def _sides(report: Report, spec: Spec | None) -> list[Side]:
    calls = {e.index: e.layer.call_string() for e in spec.layers} if spec is not None else {}
    return [_side(row, calls.get(row.index)) for row in report.rows]


def _side(row: Row, call: str | None, layers: int = 0) -> Side:
    return Side(
        row.index, row.name, row.type, call, row.output_shape, row.params,
        row.trainable_params, row.macs, tuple(name for name, _ in row.path), layers,
    )  # fmt: skip


def _is_positional(name: str) -> bool:
    """``3``, ``stem.0``: a name that is a position in a list, not a name of its own."""
    return name.rpartition(".")[2].isdigit()


def _key(side: Side) -> Any:
    """What the alignment compares: the name, or for a positional name the type and arguments
    (and the names around it, positions masked: ``layer#.#.downsample``)."""
    if not _is_positional(side.name):
        return side.name
    parts = side.name.split(".")[:-1]
    scope = ".".join("#" if part.isdigit() else part for part in parts)
    return ("#", scope, side.type, side.call)


def _compared(before: Side, after: Side) -> LayerDiff:
    """The two sides of a matched layer; a position that moved is no change of name."""
    moved = _is_positional(before.name) and _is_positional(after.name)
    changes = tuple(
        f for f in FIELDS if getattr(before, f) != getattr(after, f) and not (f == "name" and moved)
    )
    return LayerDiff("changed" if changes else "same", before, after, changes)


def _match(a: Sequence[Side], b: Sequence[Side]) -> list[LayerDiff]:
    """The two sequences aligned: equal keys pair up, in order (as difflib pairs lines);
    in a stretch replaced by another, layers of the same type pair up in order."""
    keys_a, keys_b = [_key(s) for s in a], [_key(s) for s in b]
    # the common start and end first: a quick answer for the usual small change, and
    # SequenceMatcher (quadratic at worst) only sees the middle
    start = 0
    while start < min(len(a), len(b)) and keys_a[start] == keys_b[start]:
        start += 1
    end = 0
    while end < min(len(a), len(b)) - start and keys_a[-1 - end] == keys_b[-1 - end]:
        end += 1
    out = [_compared(x, y) for x, y in zip(a[:start], b[:start], strict=True)]
    ka, kb = keys_a[start : len(a) - end], keys_b[start : len(b) - end]
    if _work(ka, kb) > MAX_ALIGN_WORK:
        out += _by_position(a[start : len(a) - end], b[start : len(b) - end])
        ka = kb = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, ka, kb, autojunk=False).get_opcodes():
        xs, ys = a[start + i1 : start + i2], b[start + j1 : start + j2]
        if op == "equal":
            out += [_compared(x, y) for x, y in zip(xs, ys, strict=True)]
        else:
            out += _by_type(xs, ys)
    out += [_compared(x, y) for x, y in zip(a[len(a) - end :], b[len(b) - end :], strict=True)]
    return out


#: the most pairs of equal keys the alignment compares (under a second): past it, two long
#: stretches of unnamed layers that share little are paired by position instead
MAX_ALIGN_WORK = 1_000_000


def _work(a: Sequence[Any], b: Sequence[Any]) -> int:
    """How many pairs of equal keys the two sequences hold: what aligning them costs at most
    for each match it looks for (unique names cost one each, a thousand ReLUs a million)."""
    counts = Counter(b)
    return sum(counts[key] for key in a)


def _by_position(a: Sequence[Side], b: Sequence[Side]) -> list[LayerDiff]:
    """The stretches paired position by position: the same type is a changed (or the same)
    layer, another type a removed and an added one."""
    out: list[LayerDiff] = []
    for x, y in zip(a, b):
        if x.type == y.type:
            out.append(_compared(x, y))
        else:  # (what _by_type says of the two, without a SequenceMatcher for each pair)
            out += [LayerDiff("removed", x, None), LayerDiff("added", None, y)]
    out += [LayerDiff("removed", x, None) for x in a[len(b) :]]
    out += [LayerDiff("added", None, y) for y in b[len(a) :]]
    return out


def _by_type(a: Sequence[Side], b: Sequence[Side]) -> list[LayerDiff]:
    """A stretch of A replaced by a stretch of B: layers of the same type pair up in order
    (a renamed layer, a layer with other arguments); the rest are removed and added."""
    out: list[LayerDiff] = []
    if not a or not b:
        out += [LayerDiff("removed", x, None) for x in a]
        out += [LayerDiff("added", None, y) for y in b]
        return out
    types_a, types_b = [s.type for s in a], [s.type for s in b]
    if _work(types_a, types_b) > MAX_ALIGN_WORK:
        return _by_position(a, b)
    types = SequenceMatcher(None, types_a, types_b, autojunk=False)
    for op, i1, i2, j1, j2 in types.get_opcodes():
        if op == "equal":
            out += [_compared(x, y) for x, y in zip(a[i1:i2], b[j1:j2], strict=True)]
        else:
            out += [LayerDiff("removed", x, None) for x in a[i1:i2]]
            out += [LayerDiff("added", None, y) for y in b[j1:j2]]
    return out


def _whole_blocks(
    report: Report, status: Status, layers: Sequence[LayerDiff]
) -> tuple[LayerDiff, ...]:
    """The block instances of ``report`` all of whose layers have ``status`` ("added" for
    model B, "removed" for model A), each as one row standing for its layers."""
    mine: dict[int, Status] = {}
    for d in layers:
        side = d.after if status == "added" else d.before
        if side is not None:
            mine[side.index] = d.status
    members: dict[str, list[int]] = {}
    for row in report.rows:
        for name, _ in row.path:
            members.setdefault(name, []).append(row.index)
    whole = {n for n, idx in members.items() if all(mine.get(i) == status for i in idx)}
    if not whole:
        return ()
    out = []
    for row in report.view():
        if row.block and row.name in whole:
            side = _side(row, None, len(members[row.name]))
            out.append(LayerDiff(status, side if status == "removed" else None,
                                 side if status == "added" else None))  # fmt: skip
    return tuple(out)
