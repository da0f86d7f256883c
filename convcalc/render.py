"""Report → text: a rich table on a terminal, plain text in a pipe, JSON, Markdown or CSV.

The only module that imports rich (lazily: a pipe never pays for it). It
formats numbers the Report already holds; it computes none.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .analyze import Report, Row
from .shape import fmt_shape

FORMATS = ("table", "json", "markdown", "csv")
COLUMNS = ("#", "name", "type", "input", "output", "params", "MACs", "notes")


def human(n: Optional[int]) -> str:
    """1234 → "1.23 K"; below a thousand the number itself."""
    if n is None:
        return "—"
    for unit, scale in (("T", 10**12), ("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return str(n)


def _shape(shape: Optional[Tuple[int, ...]], failed: bool = False) -> str:
    if shape is None:
        return "✗" if failed else "—"
    return fmt_shape(shape)


def _cells(report: Report) -> List[List[str]]:
    failed = {e.index for e in report.errors}
    return [
        [
            str(r.index),
            r.name,
            r.type,
            _shape(r.input_shape),
            _shape(r.output_shape, r.index in failed),
            human(r.params),
            human(r.macs),
            "; ".join(r.notes),
        ]
        for r in report.rows
    ]


def _title(report: Report) -> str:
    name = report.model or "model"
    return f"{name}: input {fmt_shape(report.input_shape)} → output {_shape(report.output_shape, not report.ok)}"


def _exact(n: int) -> str:
    """``61,706 (61.71 K)``; small numbers need no second form."""
    return f"{n:,}" if abs(n) < 1000 else f"{n:,} ({human(n)})"


def _totals_lines(report: Report) -> List[str]:
    t = report.totals
    return [
        f"params: {_exact(t.params)}, trainable {t.trainable_params:,}",
        f"MACs: {_exact(t.macs)} · FLOPs = 2 × MACs: {_exact(t.flops)}",
    ] + [f"note: {n}" for n in report.notes]


def _error_lines(report: Report) -> List[str]:
    lines = []
    for e in report.errors:
        lines.append(f"error: {e.message}")
        if e.location:
            lines.append(f"  at {e.location}")
        if e.hint:
            lines.append(f"  hint: {e.hint}")
    return lines


# ------------------------------------------------------------------ formats
def to_json(report: Report) -> str:
    """Indented JSON with shapes kept on one line: ``"input_shape": [1, 3, 32, 32]``."""
    text = json.dumps(report.to_dict(), indent=2, ensure_ascii=False)
    return _INT_LIST.sub(lambda m: "[" + ", ".join(m.group(1).split()).replace(",,", ",") + "]", text) + "\n"


_INT_LIST = re.compile(r"\[\s*(-?\d+(?:,\s*-?\d+)*)\s*\]")


def to_text(report: Report) -> str:
    """A plain, aligned table: what goes to a pipe or a file."""
    rows = [list(COLUMNS)] + _cells(report)
    right = {0, 5, 6}
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    out = [_title(report), ""]
    for row in rows:
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
        out.append("  ".join(cells).rstrip())
    out.append("")
    out += _totals_lines(report)
    if report.errors:
        out.append("")
        out += _error_lines(report)
    return "\n".join(out) + "\n"


def to_markdown(report: Report) -> str:
    def esc(text: str) -> str:
        return text.replace("|", "\\|")

    out = [f"**{esc(_title(report))}**", ""]
    out.append("| " + " | ".join(COLUMNS) + " |")
    out.append("|" + "|".join("---:" if c in ("#", "params", "MACs") else "---" for c in COLUMNS) + "|")
    for row in _cells(report):
        out.append("| " + " | ".join(esc(c) for c in row) + " |")
    out.append("")
    out += [f"- {esc(line)}" for line in _totals_lines(report)]
    if report.errors:
        out.append("")
        out += ["```", *_error_lines(report), "```"]
    return "\n".join(out) + "\n"


def to_csv(report: Report) -> str:
    """One row per layer with exact integers; errors are not part of the CSV."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["index", "name", "type", "input_shape", "output_shape", "params", "macs", "notes"])
    for r in report.rows:
        writer.writerow(
            [
                r.index,
                r.name,
                r.type,
                "" if r.input_shape is None else "x".join(map(str, r.input_shape)),
                "" if r.output_shape is None else "x".join(map(str, r.output_shape)),
                "" if r.params is None else r.params,
                "" if r.macs is None else r.macs,
                "; ".join(r.notes),
            ]
        )
    return buf.getvalue()


def error_text(report: Report) -> str:
    return "\n".join(_error_lines(report)) + ("\n" if report.errors else "")


def render(report: Report, fmt: str) -> str:
    """Any format as text (``table`` is the plain table)."""
    if fmt == "json":
        return to_json(report)
    if fmt == "markdown":
        return to_markdown(report)
    if fmt == "csv":
        return to_csv(report)
    return to_text(report)


def print_rich(report: Report) -> None:
    """The table for a terminal: colour, box art, errors in red."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    failed = {e.index for e in report.errors}
    table = Table(title=_title(report), title_justify="left", header_style="bold")
    for col in COLUMNS:
        table.add_column(col, justify="right" if col in ("#", "params", "MACs") else "left", no_wrap=col != "notes")
    for row, cells in zip(report.rows, _cells(report)):
        style = "red" if row.index in failed else ("dim" if row.input_shape is None else None)
        table.add_row(*cells, style=style)
    console.print(table)
    for line in _totals_lines(report):
        console.print(Text(line))
    for e in report.errors:
        console.print(Text("error: ", style="bold red") + Text(e.message))
        if e.location:
            console.print(Text(f"  at {e.location}", style="dim"))
        if e.hint:
            console.print(Text("  hint: ", style="bold yellow") + Text(e.hint))


# --------------------------------------------------------------- layer list
def layers_text(catalog: Sequence[Dict[str, Any]], fmt: str) -> str:
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
            out.append(f"    example: {ex['call']} on {fmt_shape(ex['input'])} → {fmt_shape(ex['output'])}")
    return "\n".join(out) + "\n"


def _args_text(args: Sequence[Dict[str, Any]]) -> str:
    parts = []
    for a in args:
        if a["default"] == "required":
            parts.append(a["name"])
        elif a["default"] == "from input":
            parts.append(f"{a['name']}=<from input>")
        else:
            parts.append(f"{a['name']}={a['default']}")
    return ", ".join(parts)


def _args_md(args: Sequence[Dict[str, Any]]) -> str:
    return _args_text(args).replace("|", "\\|") or "—"
