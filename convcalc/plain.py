"""The report as plain text (what goes to a pipe or a file), Markdown and CSV; the one-line
summary of ``-q``; the lists of ``convcalc layers`` and ``convcalc zoo``."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from .shape import fmt_shape
from .table import RIGHT, error_lines, human, table, title, totals_lines

if TYPE_CHECKING:
    from .forward import RunResult
    from .report import Report


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
    fit = report.batch_fit
    batch = "" if fit is None else f" · largest batch for {fit.budget:,} bytes: {fit.batch:,}"
    return f"{name}: {shapes} · {params} · MACs {human(t.macs)}{batch}"


def _cells(text: str) -> int:
    """The terminal cells ``text`` takes: a wide (CJK) character two, a combining one none
    (the layout module, with its Unicode tables, only loaded for text beyond ASCII)."""
    if text.isascii():
        return len(text)
    from .layout import cell_width

    return cell_width(text)


def aligned(
    header: Sequence[str], rows: Sequence[Sequence[str]], right: Collection[str]
) -> list[str]:
    """The header and the rows as lines of columns two spaces apart, each as wide as its
    widest cell; the columns whose title is in ``right`` aligned right."""
    everything = [header, *rows]
    widths = [max(_cells(r[i]) for r in everything) for i in range(len(header))]
    return [
        "  ".join(
            " " * (w - _cells(c)) + c if h in right else c + " " * (w - _cells(c))
            for h, c, w in zip(header, row, widths, strict=True)
        ).rstrip()
        for row in everything
    ]


def to_text(
    report: Report,
    run: RunResult | None = None,
    depth: int | None = None,
    columns: Sequence[str] | None = None,
) -> str:
    """A plain, aligned table: what goes to a pipe or a file."""
    header, cells, _ = table(report, run, depth, columns)
    out = [title(report), "", *aligned(header, cells, RIGHT), ""]
    out += totals_lines(report, run)
    if report.errors:
        out.append("")
        out += error_lines(report)
    return "\n".join(out) + "\n"


def to_markdown(
    report: Report,
    run: RunResult | None = None,
    depth: int | None = None,
    columns: Sequence[str] | None = None,
) -> str:
    def esc(text: str) -> str:
        return text.replace("|", "\\|")

    header, cells, _ = table(report, run, depth, columns)
    out = [f"**{esc(title(report))}**", ""]
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "|".join("---:" if c in RIGHT else "---" for c in header) + "|")
    for row in cells:
        out.append("| " + " | ".join(esc(c) for c in row) + " |")
    out.append("")
    out += [f"- {esc(line)}" for line in totals_lines(report, run)]
    if report.errors:
        out.append("")
        out += ["```", *error_lines(report), "```"]
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
        row: list[str | int] = [
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


def error_text(report: Report) -> str:
    return "\n".join(error_lines(report)) + ("\n" if report.errors else "")


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


# --------------------------------------------------------------- model zoo
def zoo_text(models: Sequence[dict[str, Any]], fmt: str) -> str:
    """`convcalc zoo`: every built-in model with its input, parameters and MACs."""
    if fmt == "json":
        # one model per line, as the report's JSON writes one layer per line
        items = ",\n".join("  " + json.dumps(m, ensure_ascii=False) for m in models)
        return f"[\n{items}\n]\n" if models else "[]\n"
    rows = [
        (
            m["name"],
            "—" if m["input_shape"] is None else fmt_shape(m["input_shape"]),
            _exact_or_dash(m["params"]),
            _exact_or_dash(m["macs"]),
        )
        for m in models
    ]
    if fmt == "markdown":
        out = ["| name | input | params | MACs |", "|---|---|---:|---:|"]
        out += [f"| `{name}` | {shape} | {params} | {macs} |" for name, shape, params, macs in rows]
        return "\n".join(out) + "\n"
    head = ("name", "input", "params", "MACs")
    return "\n".join(aligned(head, rows, ("params", "MACs"))) + "\n"


def _exact_or_dash(n: int | None) -> str:
    return "—" if n is None else f"{n:,}"
