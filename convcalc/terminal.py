"""The table for a terminal: lines of styled text that fit the width, names inside blocks
under their block's row with tree glyphs, notes as numbered footnotes.

Pure text and style names, no rich: render.py prints these lines with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .layout import Column, Fit, fit, lines, tree_prefixes, wrap
from .model import INPUT
from .table import (
    TITLES,
    cell,
    column_keys,
    reads_previous,
    shown_rows,
    some,
    title,
    totals_lines,
)

if TYPE_CHECKING:
    from .forward import RunResult
    from .report import Report, Row

#: a run of text and its style (a rich style name, or None)
Segment = tuple[str, str | None]

STYLE_BLOCK = "bold cyan"
STYLE_HEAVY = "bold magenta"
STYLE_ERROR = "bold red"
#: on a terminal, the columns left out first when the width runs out; never #, name,
#: output, params or MACs
DROP_ORDER = ("macs%", "params%", "from", "input", "kernel", "actual", "type", "time")
#: how many of the layers with the most MACs (and parameters) stand out on a terminal
HEAVIEST = 3
#: the columns whose figures align right
RIGHT_KEYS = ("#", "params", "params%", "macs", "macs%", "time")


def terminal_table(
    report: Report,
    run: RunResult | None = None,
    depth: int | None = None,
    *,
    width: int | None = 80,
    columns: Sequence[str] | None = None,
    wide: bool = False,
) -> list[list[Segment]]:
    """The table for a terminal, as lines of styled text that fit ``width`` (``wide``, or
    None: every column, however wide; the text under the table still wraps at ``width``):
    names inside blocks under their block's row with tree glyphs, columns left out in
    DROP_ORDER as the width runs out, notes as numbered footnotes."""
    rows = shown_rows(report, depth)
    keys = column_keys(report, run, columns, terminal=True)
    footnotes, markers = _footnotes(rows, keys)
    if "name" in keys and "notes" in keys:
        keys.remove("notes")  # the marker follows the name
    prefixes = tree_prefixes([r.level for r in rows])
    cols = _columns(report, run, rows, keys, markers, prefixes)
    table = fit(cols, None if wide else width, DROP_ORDER)
    room = width if width is not None else 100
    out: list[list[Segment]] = [[(w, "bold")] for w in wrap(title(report), room)]
    out.append([])
    out += _body(report, run, rows, table, markers, prefixes)
    return out + _below(report, run, table, footnotes, room)


def _footnotes(rows: Sequence[Row], keys: Sequence[str]) -> tuple[dict[str, int], list[str]]:
    """Each distinct note once, numbered, and each row's marker (``[2]``, or nothing); a
    block's layer count only when it stands collapsed."""
    footnotes: dict[str, int] = {}
    markers = []
    for i, r in enumerate(rows):
        expanded = r.block and i + 1 < len(rows) and (r.name, r.type) in rows[i + 1].path
        text = "" if expanded or "notes" not in keys else "; ".join(r.notes)
        if text:
            markers.append(f"[{footnotes.setdefault(text, len(footnotes) + 1)}]")
        else:
            markers.append("")
    return footnotes, markers


def _columns(
    report: Report,
    run: RunResult | None,
    rows: Sequence[Row],
    keys: Sequence[str],
    markers: Sequence[str],
    prefixes: Sequence[str],
) -> list[Column]:
    """Every column's cells: the name after its tree glyphs (without its block's prefix) and
    before its footnote marker, the inputs by index, the rest as every table writes them."""
    failed = {e.index for e in report.errors}
    runs = {r.index: r for r in run.layers} if run is not None else {}
    index_of = {r.name: r.index for r in report.rows}

    def name(i: int, r: Row) -> str:
        shown = r.name
        if r.path and shown.startswith(r.path[-1][0] + "."):
            shown = shown[len(r.path[-1][0]) + 1 :]
        return prefixes[i] + shown + (f" {markers[i]}" if markers[i] else "")

    def source(r: Row) -> str:
        if reads_previous(report, r):
            return ""
        return some([n if n == INPUT else f"#{index_of.get(n, n)}" for n in r.inputs], " ")

    cols: list[Column] = []
    for key in keys:
        cells: list[str] = []
        for i, r in enumerate(rows):
            if key == "#":
                cells.append("" if r.block else str(r.index))
            elif key == "name":
                cells.append(name(i, r))
            elif key == "from":
                cells.append(source(r))
            elif key == "notes":
                cells.append(markers[i])
            else:
                bad = r.index in failed and not r.block
                cells.append(cell(key, report, r, bad, runs.get(r.index)))
        heading = "" if key == "notes" else "%" if key.endswith("%") else TITLES.get(key, key)
        cols.append(Column(key, heading, cells, key in RIGHT_KEYS))
    return cols


def _body(
    report: Report,
    run: RunResult | None,
    rows: Sequence[Row],
    table: Fit,
    markers: Sequence[str],
    prefixes: Sequence[str],
) -> list[list[Segment]]:
    """The header and a line per row: blocks bold, failures red, layers without parameters
    (or not reached) dim, the heaviest layers' figures magenta."""
    failed = {e.index for e in report.errors}
    mismatched = {lr.index for lr in run.layers if not lr.match} if run is not None else set()
    first_failure = min(failed, default=len(report.rows))
    heavy = {"macs": _heaviest(rows, "macs"), "params": _heaviest(rows, "params")}
    kept = [c.key for c in table.columns]
    before = [0, *table.gaps]
    out: list[list[Segment]] = []
    for i, cells in enumerate(lines(table)):
        if i == 0:
            out.append([("".join(cells).rstrip(), "bold")])
            continue
        r = rows[i - 1]
        base: str | None = None
        if r.block:
            base = "bold"
        elif r.index in failed or r.index in mismatched:
            base = STYLE_ERROR
        elif r.params == 0 or r.index > first_failure:
            base = "dim"  # no parameters, or not reached
        line: list[Segment] = []
        for key, text, gap in zip(kept, cells, before, strict=False):
            style = base
            if key == "name" and r.block:
                style = STYLE_BLOCK
            elif base is None and r.index in heavy.get(key.rstrip("%"), ()):
                style = STYLE_HEAVY
            glyphs = prefixes[i - 1] if key == "name" else ""
            mark = markers[i - 1] if key in ("name", "notes") else ""
            line += _styled_cell(text, gap, style, base, glyphs, mark)
        while line and not line[-1][0].strip():
            line.pop()
        out.append(line)
    return out


def _styled_cell(
    text: str, gap: int, style: str | None, base: str | None, glyphs: str, mark: str
) -> list[Segment]:
    """One padded cell (``gap`` spaces first) as segments: only its figure or name styled,
    the tree glyphs dim, the footnote marker cyan."""
    parts: list[Segment] = [(text[:gap], None)]
    content = text[gap:]
    body = content.strip(" ")
    start = gap + (content.index(body) if body else len(content))
    if glyphs:
        start = gap + len(glyphs)
        parts.append((glyphs, "dim"))
        body = text[start:].rstrip(" ")
    elif start > gap:
        parts.append((text[gap:start], None))  # right-alignment padding
    rest = text[start + len(body) :]
    if mark:
        head = body[: len(body) - len(mark)]
        parts += [(head, style), (mark, "cyan" if base is None else base)]
    else:
        parts.append((body, style))
    parts.append((rest, None))
    return parts


def _below(
    report: Report, run: RunResult | None, table: Fit, footnotes: dict[str, int], room: int
) -> list[list[Segment]]:
    """What follows the table, wrapped at ``room``: the columns left out, the footnotes,
    the totals and the errors."""
    out: list[list[Segment]] = []
    if table.dropped:
        left_out = ", ".join(TITLES.get(k, k) for k in table.dropped)
        text = f"left out for the width: {left_out} (--wide shows every column)"
        out += [[(w, "dim")] for w in wrap(text, room)]
    out.append([])
    for text, number in footnotes.items():
        out += [[(w, None)] for w in wrap(f"[{number}] {text}", room)]
    if footnotes:
        out.append([])
    for text in totals_lines(report, run):
        out += [[(w, None)] for w in wrap(text, room)]
    for e in report.errors:
        out.append([])
        first = wrap(f"error: {e.message}", room)
        out.append([("error: ", STYLE_ERROR), (first[0][len("error: ") :], None)])
        out += [[(w, None)] for w in first[1:]]
        if e.location:
            out += [[(w, "dim")] for w in wrap(f"  at {e.location}", room, 6)]
        if e.hint:
            hint = wrap(f"  hint: {e.hint}", room, 6)
            out.append([("  hint: ", "bold yellow"), (hint[0][len("  hint: ") :], None)])
            out += [[(w, None)] for w in hint[1:]]
    return out


def _heaviest(rows: Sequence[Row], what: str) -> set[int]:
    """The indices of the few layers (not blocks) with the largest count of ``what``: up to
    HEAVIEST of them, fewer in a small model, and every layer tied with the last one."""
    counts = sorted(
        (getattr(r, what) for r in rows if not r.block and getattr(r, what)), reverse=True
    )
    if not counts:
        return set()
    least = counts[max(1, min(HEAVIEST, len(counts) // 4)) - 1]
    return {r.index for r in rows if not r.block and (getattr(r, what) or 0) >= least}
