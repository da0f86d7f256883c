"""Report → text: a rich table on a terminal, plain text in a pipe, JSON, Markdown or CSV.

The only module that imports rich (lazily: a pipe never pays for it). It
formats numbers the Report (and a run's RunResult) already hold; it computes none.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .analyze import Report, Row
from .build import INPUT
from .errors import ConvcalcError
from .shape import fmt_shape

if TYPE_CHECKING:  # the forward module imports numpy: only for type checking here
    from .forward import RunResult

FORMATS = ("table", "json", "markdown", "csv")
COLUMNS = ("#", "name", "type", "input", "output", "params", "MACs", "notes")
RUN_COLUMNS = ("actual", "match", "time")
RIGHT = {"#", "params", "MACs", "time"}


def human(n: int | None) -> str:
    """1234 → "1.23 K"; below a thousand the number itself."""
    if n is None:
        return "—"
    for unit, scale in (("T", 10**12), ("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return str(n)


def _ms(value: float) -> str:
    return f"{value:.3f} ms" if value < 10 else f"{value:.1f} ms"


def _time(lr: Any) -> str:
    """A layer's kernel time, or where it was computed (folded into an earlier layer)."""
    return _ms(lr.time_ms) if lr.folded_into is None else f"in #{lr.folded_into}"


def _shape(shape: Any, failed: bool = False) -> str:
    """``(1, 16, 13, 13)``; a merge's inputs as ``(1, 64, 56, 56) ×2`` or ``a + b``."""
    if shape is None:
        return "✗" if failed else "—"
    if shape and isinstance(shape[0], tuple):
        if len(set(shape)) == 1:
            return f"{fmt_shape(shape[0])} ×{len(shape)}"
        return " + ".join(fmt_shape(s) for s in shape)
    return fmt_shape(shape)


def _table(
    report: Report, run: RunResult | None = None, depth: int | None = None
) -> tuple[list[str], list[list[str]], tuple[Row, ...]]:
    """Column names, the cells of every row, and the rows shown."""
    failed = {e.index for e in report.errors}
    runs = {r.index: r for r in run.layers} if run is not None else {}
    rows = report.view(depth) if run is None else report.rows
    branched = report.branched
    header = list(COLUMNS[:3]) + (["from"] if branched else []) + list(COLUMNS[3:-1])
    header += (list(RUN_COLUMNS) if run is not None else []) + [COLUMNS[-1]]
    cells_out = []
    tree = any(r.block for r in rows)
    for r in rows:
        name = "  " * r.level + r.name if tree else r.name
        cells = ["" if r.block else str(r.index), name, r.type]
        if branched:
            # blank when it reads the output of the layer listed just before it
            prev = report.rows[r.index - 1].name if r.index else INPUT
            cells.append("" if r.inputs == (prev,) else ", ".join(r.inputs))
        cells += [
            _shape(r.input_shape),
            _shape(r.output_shape, r.index in failed and not r.block),
            human(r.params),
            human(r.macs),
        ]
        if run is not None:
            lr = runs.get(r.index)
            cells += (
                ["—", "—", "—"]
                if lr is None
                else [fmt_shape(lr.actual_shape), "✓" if lr.match else "✗", _time(lr)]
            )
        cells.append("; ".join(r.notes))
        cells_out.append(cells)
    return header, cells_out, rows


def _title(report: Report) -> str:
    name = report.model or "model"
    if report.input_shape is None:  # analysed without an input shape: parameters only
        output = "✗" if not report.ok else "?"
        return f"{name}: input ? → output {output}"
    return f"{name}: input {fmt_shape(report.input_shape)} → output {_shape(report.output_shape, not report.ok)}"


def _exact(n: int) -> str:
    """``61,706 (61.71 K)``; small numbers need no second form."""
    return f"{n:,}" if abs(n) < 1000 else f"{n:,} ({human(n)})"


def _totals_lines(report: Report, run: RunResult | None = None) -> list[str]:
    t = report.totals
    if t.params is None or t.trainable_params is None:
        n = len(report.needs_input)
        if n == 1:
            params = "params: ? (needs --input: 1 layer takes its size from it)"
        elif n:
            params = f"params: ? (needs --input: {n:,} layers take their size from it)"
        else:
            params = "params: ? (a layer failed)"
    else:
        params = f"params: {_exact(t.params)}, trainable {t.trainable_params:,}"
    if t.macs is None or t.flops is None:
        macs = "MACs: ? (needs --input) · FLOPs = 2 × MACs"
    else:
        macs = f"MACs: {_exact(t.macs)} · FLOPs = 2 × MACs: {_exact(t.flops)}"
    lines = [params, macs]
    if run is not None and report.ok:
        best = f" (best of {run.repeat})" if run.repeat > 1 else ""
        verdict = (
            "verified: every layer's real output shape is the predicted one"
            if run.verified
            else "NOT verified: a real shape differs from the prediction"
        )
        limit = "" if run.threads is None else f", {run.threads} thread" + "s" * (run.threads > 1)
        lines.append(
            f"forward pass ({run.dtype}, seed {run.seed}{limit}): "
            f"{_ms(run.time_ms)}{best} · {verdict}"
        )
        c = run.comparison
        if c is not None:
            if c.max_abs_diff is None:
                got = "nothing" if c.output_shape is None else fmt_shape(c.output_shape)
                lines.append(
                    f"output vs reference: shape {got}, the reference's is "
                    f"{fmt_shape(c.reference_shape)} · DIFFERS"
                )
            else:
                lines.append(
                    f"output vs reference: max abs diff {c.max_abs_diff:.3g} (rtol {c.rtol:g}, "
                    f"atol {c.atol:.3g}) · {'matches' if c.match else 'DIFFERS'}"
                )
        folded = sum(1 for lr in run.layers if lr.folded_into is not None)
        if folded:
            lines.append(
                f"{folded} BatchNorm layer{'s' if folded > 1 else ''} folded into the "
                "layer before (time 'in #n'; --no-fold runs them apart)"
            )
    return lines + [f"note: {n}" for n in report.notes]


def _error_lines(report: Report) -> list[str]:
    lines = []
    for e in report.errors:
        lines.append(f"error: {e.message}")
        if e.location:
            lines.append(f"  at {e.location}")
        if e.hint:
            lines.append(f"  hint: {e.hint}")
    return lines


# ------------------------------------------------------------------ formats
def to_json(report: Report, run: RunResult | None = None) -> str:
    """The report as JSON (the content of ``to_dict()``): each top-level field on a line of
    its own, and one line per layer, error and note, shapes kept whole.

    Every value is written compactly by the json module's C encoder, or for a report's
    layers straight from the rows: ``indent`` would select the pure-Python encoder, about
    ten times slower on a long stack.
    """
    if run is not None:
        return _json_lines(run.to_dict())
    layers = report.rows
    keys = tuple(layers[0].to_dict()) if layers else ()
    if keys != _ROW_KEYS[: len(keys)]:
        return _json_lines(report.to_dict())  # a field _row_json does not know: the general way
    shapes: dict[Any, str] = {}  # a layer's output is the next one's input: written once
    return _json_lines(_without_layers(report), [_row_json(row, shapes) for row in layers])


#: the fields of Row.to_dict(), in order ("blocks" only inside blocks)
_ROW_KEYS = (
    "index", "name", "type", "input_shape", "output_shape", "params", "macs", "notes", "from",
    "blocks",
)  # fmt: skip


def _without_layers(report: Report) -> dict[str, Any]:
    """Report.to_dict() but for its layers (left to :func:`_row_json`)."""
    return replace(report, rows=()).to_dict()


def _json_shape(shape: Any, cache: dict[Any, str]) -> str:
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


def _row_json(r: Row, shapes: dict[Any, str]) -> str:
    """``Row.to_dict()`` as compact JSON, written directly (the same text the encoder writes);
    ``shapes`` caches the text of each shape."""
    esc = json.encoder.encode_basestring
    p, m = r.params, r.macs
    text = (
        f'{{"index": {r.index}, "name": {esc(r.name)}, "type": {esc(r.type)}, '
        f'"input_shape": {_json_shape(r.input_shape, shapes)}, '
        f'"output_shape": {_json_shape(r.output_shape, shapes)}, '
        f'"params": {"null" if p is None else int(p)}, "macs": {"null" if m is None else int(m)}, '
        f'"notes": {_json_strings(r.notes)}, "from": {_json_strings(r.inputs)}'
    )
    if r.path:
        text += f', "blocks": {_json_strings([name for name, _ in r.path])}'
    return text + "}"


def _json_lines(data: dict[str, Any], layers: Sequence[str] | None = None) -> str:
    """A dict as JSON, one field per line; a list of objects or strings spreads one item
    per line. ``layers``: the items of ``data["layers"]``, already written."""
    encode = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode
    fields = []
    for key, value in data.items():
        head = f"  {encode(key)}: "
        items: Sequence[str] | None = layers if key == "layers" and layers is not None else None
        if (
            items is None
            and isinstance(value, list)
            and value
            and isinstance(value[0], (dict, str))
        ):
            items = [encode(item) for item in value]
        if items:
            fields.append(head + "[\n    " + ",\n    ".join(items) + "\n  ]")
        else:
            fields.append(head + ("[]" if items is not None else encode(value)))
    return "{\n" + ",\n".join(fields) + "\n}\n"


def to_line(report: Report) -> str:
    """``-q``: ``resnet50: (1, 3, 224, 224) → (1, 1000) · params 25,557,032 · MACs 4.09 G``;
    what failed, or what needs an input shape, in the same one line."""
    name = report.model or "model"
    if report.errors:
        first = report.errors[0].message
        more = len(report.errors) - 1
        return f"{name}: error: {first}" + (f" (and {more} more)" if more else "")
    t = report.totals
    if t.params is not None:
        params = f"params {t.params:,}"
    else:
        rows = [report.rows[i] for i in report.needs_input]
        named = [f"{r.index} '{r.name}'" for r in rows[:2]]
        if len(rows) > 2:
            named.append(f"{len(rows) - 2:,} more")
        which = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]
        verb = "needs" if len(rows) == 1 else "need"
        params = f"params ? (layer{'s' if len(rows) != 1 else ''} {which} {verb} --input)"
    if report.input_shape is None or report.output_shape is None or t.macs is None:
        return f"{name}: input ? · {params} · MACs ? (needs --input)"
    shapes = f"{fmt_shape(report.input_shape)} → {fmt_shape(report.output_shape)}"
    return f"{name}: {shapes} · {params} · MACs {human(t.macs)}"


def to_text(report: Report, run: RunResult | None = None, depth: int | None = None) -> str:
    """A plain, aligned table: what goes to a pipe or a file."""
    header, cells, _ = _table(report, run, depth)
    rows = [header] + cells
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    out = [_title(report), ""]
    for row in rows:
        line = [c.rjust(w) if h in RIGHT else c.ljust(w) for h, c, w in zip(header, row, widths)]
        out.append("  ".join(line).rstrip())
    out.append("")
    out += _totals_lines(report, run)
    if report.errors:
        out.append("")
        out += _error_lines(report)
    return "\n".join(out) + "\n"


def to_markdown(report: Report, run: RunResult | None = None, depth: int | None = None) -> str:
    def esc(text: str) -> str:
        return text.replace("|", "\\|")

    header, cells, _ = _table(report, run, depth)
    out = [f"**{esc(_title(report))}**", ""]
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "|".join("---:" if c in RIGHT else "---" for c in header) + "|")
    for row in cells:
        out.append("| " + " | ".join(esc(c) for c in row) + " |")
    out.append("")
    out += [f"- {esc(line)}" for line in _totals_lines(report, run)]
    if report.errors:
        out.append("")
        out += ["```", *_error_lines(report), "```"]
    return "\n".join(out) + "\n"


def to_csv(report: Report, run: RunResult | None = None) -> str:
    """One row per layer with exact integers; errors are not part of the CSV."""

    def dims(shape: Sequence[int] | None) -> str:
        return "" if shape is None else "x".join(map(str, shape))

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    header = ["index", "name", "type", "input_shape", "output_shape", "params", "macs"]
    if run is not None:
        header += ["actual_shape", "match", "time_ms", "folded_into"]
    writer.writerow(header + ["notes"])
    runs = {r.index: r for r in run.layers} if run is not None else {}
    for r in report.rows:
        row: list[Any] = [
            r.index, r.name, r.type, dims(r.input_shape), dims(r.output_shape),
            "" if r.params is None else r.params, "" if r.macs is None else r.macs,
        ]  # fmt: skip
        if run is not None:
            lr = runs.get(r.index)
            row += (
                ["", "", "", ""]
                if lr is None
                else [
                    dims(lr.actual_shape),
                    str(lr.match).lower(),
                    f"{lr.time_ms:.4f}",
                    "" if lr.folded_into is None else lr.folded_into,
                ]
            )
        writer.writerow(row + ["; ".join(r.notes)])
    return buf.getvalue()


def error_json(exc: ConvcalcError) -> str:
    """An input that could not be read, in the report's JSON layout (no layers; the error,
    and the others the same check found)."""
    errors = [
        {
            "index": e.index,
            "name": e.name,
            "type": e.type,
            "message": e.message,
            "hint": e.hint,
            "argument": e.argument,
            "location": e.location,
        }
        for e in [exc, *exc.others]
    ]
    data = {
        "model": None,
        "input_shape": None,
        "output_shape": None,
        "ok": False,
        "layers": [],
        "totals": None,
        "errors": errors,
        "notes": [],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def error_text(report: Report) -> str:
    return "\n".join(_error_lines(report)) + ("\n" if report.errors else "")


def render(report: Report, fmt: str, run: RunResult | None = None, depth: int | None = None) -> str:
    """Any format as text (``table`` is the plain table); ``depth`` collapses blocks in tables."""
    if fmt == "json":
        return to_json(report, run)
    if fmt == "markdown":
        return to_markdown(report, run, depth)
    if fmt == "csv":
        return to_csv(report, run)
    return to_text(report, run, depth)


def print_rich(report: Report, run: RunResult | None = None, depth: int | None = None) -> None:
    """The table for a terminal: colour, box art, errors in red."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    failed = {e.index for e in report.errors}
    mismatched = {r.index for r in run.layers if not r.match} if run is not None else set()
    header, cells, rows = _table(report, run, depth)
    table = Table(title=_title(report), title_justify="left", header_style="bold")
    for col in header:
        table.add_column(col, justify="right" if col in RIGHT else "left", no_wrap=col != "notes")
    for row, row_cells in zip(rows, cells):
        bad = row.index in failed or row.index in mismatched
        style = "red" if bad else ("dim" if row.input_shape is None else None)
        table.add_row(*row_cells, style=style)
    console.print(table)
    for line in _totals_lines(report, run):
        console.print(Text(line))
    for e in report.errors:
        console.print(Text("error: ", style="bold red") + Text(e.message))
        if e.location:
            console.print(Text(f"  at {e.location}", style="dim"))
        if e.hint:
            console.print(Text("  hint: ", style="bold yellow") + Text(e.hint))


# --------------------------------------------------------------- layer list
def layers_text(catalog: Sequence[dict[str, Any]], fmt: str) -> str:
    """`convcalc layers`: every type with its arguments and defaults."""
    if fmt == "json":
        return json.dumps(list(catalog), indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        out = ["| type | arguments (default) | what it does |", "|---|---|---|"]
        for item in catalog:
            summary = item["summary"].replace("|", "\\|")
            out.append(f"| `{item['type']}` | {_args_md(item['args'])} | {summary} |")
        return "\n".join(out) + "\n"
    out = []
    for item in catalog:
        out.append(f"{item['type']}({_args_text(item['args'])})")
        if item["summary"]:
            out.append(f"    {item['summary']}")
        if len(catalog) == 1:
            ex = item["example"]
            out.append(
                f"    example: {ex['call']} on {fmt_shape(ex['input'])} → {fmt_shape(ex['output'])}"
            )
    return "\n".join(out) + "\n"


def _args_text(args: Sequence[dict[str, Any]]) -> str:
    parts = []
    for a in args:
        if a["default"] == "required":
            parts.append(a["name"])
        elif a["default"] == "from input":
            parts.append(f"{a['name']}=<from input>")
        else:
            parts.append(f"{a['name']}={a['default']}")
    return ", ".join(parts)


def _args_md(args: Sequence[dict[str, Any]]) -> str:
    return _args_text(args).replace("|", "\\|") or "—"
