"""The report (and a run's result) as JSON: stable, documented fields, one line per layer.

Written by the json module's C encoder, or for a report's layers straight from its rows.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .errors import ConvcalcError

if TYPE_CHECKING:
    from .forward import LayerRun, RunResult
    from .report import Report, Row


def to_json(report: Report, run: RunResult | None = None) -> str:
    """The report as JSON (the content of ``to_dict()``): each top-level field on a line of
    its own, and one line per layer, error and note, shapes kept whole.

    Every value is written compactly by the json module's C encoder, or for a report's
    layers straight from the rows: ``indent`` would select the pure-Python encoder, about
    ten times slower on a long stack.
    """
    return "".join(json_pieces(report, run))


def json_pieces(report: Report, run: RunResult | None = None) -> Iterator[str]:
    """:func:`to_json`'s text in pieces, the layers' lines made as they are written: a long
    run's text is never held whole (50,000 layers: 21 MB, held four times over)."""
    layers = report.rows
    keys = tuple(layers[0].to_dict()) if layers else ()
    if keys != ROW_KEYS[: len(keys)]:  # a field _row_json does not know: the general way
        yield json_lines(report.to_dict() if run is None else run.to_dict())
        return
    shapes: dict[
        tuple[Any, ...], str
    ] = {}  # a layer's output is the next one's input: written once
    fields: dict[int, str] = {}  # a field is often the previous layer's object: written once
    rows = (_row_json(row, shapes, fields) for row in layers)
    if run is None:
        yield from _pieces(_without_layers(report), rows)
        return
    # a run's fields close each layer's line
    runs = {r.index: r for r in run.layers}
    texts = (text[:-1] + _run_json(runs.get(row.index), shapes) for text, row in zip(rows, layers))
    yield from _pieces(run.to_dict(layers=False), texts)


#: the fields of Row.to_dict(), in order ("blocks" only inside blocks)
ROW_KEYS = (
    "index", "name", "type", "input_shape", "output_shape", "params", "macs", "trainable",
    "notes", "from", "output_bytes", "receptive_field", "blocks",
)  # fmt: skip


def _without_layers(report: Report) -> dict[str, Any]:
    """Report.to_dict() but for its layers (left to :func:`_row_json`)."""
    return replace(report, rows=()).to_dict()


def _run_json(run: LayerRun | None, shapes: dict[tuple[Any, ...], str]) -> str:
    """The fields ``RunResult.to_dict()`` adds to a layer, and the layer's closing brace."""
    if run is None:
        return ', "actual_shape": null, "match": null, "time_ms": null, "workspace_bytes": null, "folded_into": null}'
    folded = "null" if run.folded_into is None else int(run.folded_into)
    return (
        f', "actual_shape": {_json_shape(run.actual_shape, shapes)}, '
        f'"match": {"true" if run.match else "false"}, '
        f'"time_ms": {json.dumps(round(run.time_ms, 4))}, '
        f'"workspace_bytes": {int(run.workspace_bytes)}, "folded_into": {folded}}}'
    )


def _json_shape(shape: tuple[Any, ...] | None, cache: dict[tuple[Any, ...], str]) -> str:
    if shape is None:
        return "null"
    text = cache.get(shape)
    if text is None:
        if shape and type(shape[0]) is tuple:  # a merge's input shapes
            inner = ", ".join(["[" + ", ".join(map(str, s)) + "]" for s in shape])
        else:
            inner = ", ".join(map(str, shape))
        text = cache[shape] = "[" + inner + "]"
    return text


def _json_strings(items: Sequence[str]) -> str:
    return "[" + ", ".join(map(json.encoder.encode_basestring, items)) + "]" if items else "[]"


def _row_json(r: Row, shapes: dict[tuple[Any, ...], str], fields: dict[int, str]) -> str:
    """``Row.to_dict()`` as compact JSON, written directly (the same text the encoder writes);
    ``shapes`` caches the text of each shape, ``fields`` of each receptive field (by identity:
    the rows keep them alive)."""
    esc = json.encoder.encode_basestring
    p, m = r.params, r.macs
    text = (
        f'{{"index": {r.index}, "name": {esc(r.name)}, "type": {esc(r.type)}, '
        f'"input_shape": {_json_shape(r.input_shape, shapes)}, '
        f'"output_shape": {_json_shape(r.output_shape, shapes)}, '
        f'"params": {"null" if p is None else int(p)}, "macs": {"null" if m is None else int(m)}, '
        f'"trainable": {"true" if r.trainable else "false"}, '
        f'"notes": {_json_strings(r.notes)}, "from": {_json_strings(r.inputs)}, '
        f'"output_bytes": {"null" if r.output_bytes is None else int(r.output_bytes)}, '
        f'"receptive_field": {_field_json(r, fields)}'
    )
    if r.path:
        text += f', "blocks": {_json_strings([name for name, _ in r.path])}'
    return text + "}"


def _field_json(r: Row, fields: dict[int, str]) -> str:
    field = r.receptive_field
    if field is None:
        return "null"
    text = fields.get(id(field))
    if text is None:
        text = fields[id(field)] = json.dumps(field.to_dict())
    return text


def json_lines(data: dict[str, Any], layers: Sequence[str] | None = None) -> str:
    """A dict as JSON, one field per line; a list of objects or strings spreads one item
    per line. ``layers``: the items of ``data["layers"]``, already written."""
    return "".join(_pieces(data, layers))


#: the items written as one piece
ITEMS_A_PIECE = 1000


def _pieces(data: dict[str, Any], layers: Iterable[str] | None = None) -> Iterator[str]:
    """:func:`json_lines`'s text in pieces of at most ITEMS_A_PIECE items, ``layers`` read as
    they are written."""
    encode = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode
    if not data:
        yield "{\n"
    for n, (key, value) in enumerate(data.items()):
        head = ("{\n" if n == 0 else ",\n") + f"  {encode(key)}: "
        items: Iterable[str] | None = layers if key == "layers" and layers is not None else None
        if (
            items is None
            and isinstance(value, list)
            and value
            and isinstance(value[0], (dict, str))
        ):
            items = (encode(item) for item in value)
        if items is None:
            yield head + encode(value)
            continue
        batch = list(itertools.islice(items := iter(items), ITEMS_A_PIECE))
        if not batch:
            yield head + "[]"
            continue
        yield head + "[\n    " + ",\n    ".join(batch)
        while batch := list(itertools.islice(items, ITEMS_A_PIECE)):
            yield ",\n    " + ",\n    ".join(batch)
        yield "\n  ]"
    yield "\n}\n"


def error_json(exc: ConvcalcError) -> str:
    """An input that could not be read, in the report's JSON layout (no layers; the error,
    and the others the same check found)."""
    data = error_data(exc)
    text = json.dumps(data, indent=2, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a path from bytes that are not UTF-8: escaped, so JSON stays UTF-8
        text = json.dumps(data, indent=2)
    return text + "\n"


def error_data(exc: ConvcalcError) -> dict[str, Any]:
    """:func:`error_json`'s content."""
    errors = [
        {
            "index": e.index,
            "name": e.name,
            "type": e.type,
            "message": e.message,
            "hint": e.hint,
            "argument": e.argument,
            "location": e.location,
            **e.place_dict(),
        }
        for e in [exc, *exc.others]
    ]
    return {
        "model": None,
        "input_shape": None,
        "output_shape": None,
        "ok": False,
        "layers": [],
        "totals": None,
        "errors": errors,
        "notes": [],
    }
