"""Report → text: a rich table on a terminal, plain text in a pipe, JSON, Markdown or CSV.

The only module that imports rich (lazily: a pipe never pays for it). It
formats numbers the Report (and a run's RunResult) already hold; it computes none.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .errors import ConvcalcError, SpecError, clip
from .model import INPUT
from .shape import fmt_shape

if TYPE_CHECKING:  # only for type checking: the analysis loads every layer type, the
    # forward module numpy, and neither is needed to know the formats (--help, --version)
    from .analysis import Report, Row
    from .forward import RunResult

FORMATS = ("table", "json", "markdown", "csv")
#: what --columns may name, in the default order (``#`` always comes first)
COLUMN_KEYS = (
    "name", "type", "from", "input", "output", "kernel", "params", "params%", "macs", "macs%", "notes",
)  # fmt: skip
#: a run's own columns, shown before the notes unless --columns places them
RUN_KEYS = ("actual", "match", "time")
TITLES = {"macs": "MACs", "macs%": "MACs%"}
RIGHT = {"#", "params", "MACs", "time", "params%", "MACs%"}
#: on a terminal, the columns left out first when the width runs out; never #, name,
#: output, params or MACs
DROP_ORDER = ("macs%", "params%", "from", "input", "kernel", "actual", "type", "time")
#: how many of the layers with the most MACs (and parameters) stand out on a terminal
HEAVIEST = 3


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
        return _some([fmt_shape(s) for s in shape], " + ")
    return fmt_shape(shape)


#: a cell lists at most this many of a merge's inputs (or their shapes): one cell as long
#: as a 10,000-way Concat's inputs would widen every row of the table to it
LISTED = 6


def _some(items: Sequence[str], sep: str) -> str:
    """``items`` joined, or the first few of them and how many there are in all."""
    if len(items) <= LISTED:
        return sep.join(items)
    return sep.join(items[: LISTED - 1]) + f"{sep}… ({len(items):,} in all)"


def parse_columns(text: str, run: bool = False) -> tuple[str, ...]:
    """``--columns name,type,macs`` → the column keys in that order; an unknown name is an
    input error with a did-you-mean."""
    import difflib

    known = COLUMN_KEYS + (RUN_KEYS if run else ())
    keys: list[str] = []
    for part in text.split(","):
        key = part.strip().lower().replace(" ", "")
        if key in ("", "#"):
            continue
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise SpecError(
                f"--columns: unknown column {clip(part.strip(), 40)}",
                hint=hint + "the columns: " + ",".join(known),
            )
        if key in keys:
            raise SpecError(f"--columns: '{key}' is listed twice")
        keys.append(key)
    if not keys:
        raise SpecError("--columns: no column named", hint="the columns: " + ",".join(known))
    return tuple(keys)


def _keys(report: Report, run: RunResult | None, columns: Sequence[str] | None) -> list[str]:
    """The columns shown, ``#`` first: the chosen ones, or the default set."""
    if columns is None:
        keys = ["name", "type"] + (["from"] if report.branched else [])
        keys += ["input", "output", "params", "macs", "notes"]
    else:
        keys = list(columns)
    if run is not None and not set(RUN_KEYS) & set(keys):
        at = keys.index("notes") if "notes" in keys else len(keys)
        keys[at:at] = RUN_KEYS
    return ["#", *keys]


def _reads_previous(report: Report, r: Row) -> bool:
    """True when the row reads the output of the layer listed just before it."""
    prev = report.rows[r.index - 1].name if r.index else INPUT
    return r.inputs == (prev,)


def _percent(value: float | None, count: int | None) -> str:
    if value is None:
        return "—"
    if not count:
        return ""
    return "<0.1" if value < 0.05 else f"{value:.1f}"


def _table(
    report: Report,
    run: RunResult | None = None,
    depth: int | None = None,
    columns: Sequence[str] | None = None,
) -> tuple[list[str], list[list[str]], tuple[Row, ...]]:
    """Column titles, the cells of every row, and the rows shown."""
    failed = {e.index for e in report.errors}
    runs = {r.index: r for r in run.layers} if run is not None else {}
    rows = report.view(depth) if run is None else report.rows
    keys = _keys(report, run, columns)
    header = [TITLES.get(k, k) for k in keys]
    cells_out = []
    tree = any(r.block for r in rows)
    for r in rows:
        lr = runs.get(r.index)
        cells = []
        for key in keys:
            if key == "#":
                cells.append("" if r.block else str(r.index))
            elif key == "name":
                cells.append("  " * r.level + r.name if tree else r.name)
            elif key == "from":
                cells.append("" if _reads_previous(report, r) else _some(r.inputs, ", "))
            else:
                cells.append(_cell(key, report, r, r.index in failed and not r.block, lr))
        cells_out.append(cells)
    return header, cells_out, rows


def _cell(key: str, report: Report, r: Row, failed: bool, lr: Any) -> str:
    """One cell that reads the same in every table."""
    if key == "type":
        return r.type
    if key == "input":
        return _shape(r.input_shape)
    if key == "output":
        return _shape(r.output_shape, failed)
    if key == "kernel":
        return "" if r.kernel_shape is None or r.block else fmt_shape(r.kernel_shape)
    if key == "params":
        return human(r.params)
    if key == "macs":
        return human(r.macs)
    if key == "params%":
        return _percent(report.share(r)[0], r.params)
    if key == "macs%":
        return _percent(report.share(r)[1], r.macs)
    if key == "notes":
        return "; ".join(r.notes)
    if key in RUN_KEYS:
        if lr is None:
            return "—"
        if key == "actual":
            return fmt_shape(lr.actual_shape)
        return ("✓" if lr.match else "✗") if key == "match" else _time(lr)
    raise AssertionError(key)


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
    "index", "name", "type", "input_shape", "output_shape", "params", "macs", "trainable",
    "notes", "from", "blocks",
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
        f'"trainable": {"true" if r.trainable else "false"}, '
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


def _cells(text: str) -> int:
    """The terminal cells ``text`` takes: a wide (CJK) character two, a combining one none
    (the layout module, with its Unicode tables, only loaded for text beyond ASCII)."""
    if text.isascii():
        return len(text)
    from .layout import cell_width

    return cell_width(text)


def to_text(
    report: Report,
    run: RunResult | None = None,
    depth: int | None = None,
    columns: Sequence[str] | None = None,
) -> str:
    """A plain, aligned table: what goes to a pipe or a file."""
    header, cells, _ = _table(report, run, depth, columns)
    rows = [header] + cells
    widths = [max(_cells(r[i]) for r in rows) for i in range(len(header))]
    out = [_title(report), ""]
    for row in rows:
        line = [
            " " * (w - _cells(c)) + c if h in RIGHT else c + " " * (w - _cells(c))
            for h, c, w in zip(header, row, widths)
        ]
        out.append("  ".join(line).rstrip())
    out.append("")
    out += _totals_lines(report, run)
    if report.errors:
        out.append("")
        out += _error_lines(report)
    return "\n".join(out) + "\n"


def to_markdown(
    report: Report,
    run: RunResult | None = None,
    depth: int | None = None,
    columns: Sequence[str] | None = None,
) -> str:
    def esc(text: str) -> str:
        return text.replace("|", "\\|")

    header, cells, _ = _table(report, run, depth, columns)
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
            **e.place_dict(),
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
    text = json.dumps(data, indent=2, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a path from bytes that are not UTF-8: escaped, so JSON stays UTF-8
        text = json.dumps(data, indent=2)
    return text + "\n"


def error_text(report: Report) -> str:
    return "\n".join(_error_lines(report)) + ("\n" if report.errors else "")


def render(
    report: Report,
    fmt: str,
    run: RunResult | None = None,
    depth: int | None = None,
    columns: Sequence[str] | None = None,
) -> str:
    """Any format as text (``table`` is the plain table); ``depth`` collapses blocks in tables,
    ``columns`` (keys of COLUMN_KEYS) chooses and orders the tables' columns."""
    if fmt == "json":
        return to_json(report, run)
    if fmt == "markdown":
        return to_markdown(report, run, depth, columns)
    if fmt == "csv":
        return to_csv(report, run)
    return to_text(report, run, depth, columns)


#: a run of text and its style (a rich style name, or None)
Segment = tuple[str, str | None]

STYLE_BLOCK = "bold cyan"
STYLE_HEAVY = "bold magenta"
STYLE_ERROR = "bold red"


def _compact_shapes(shapes: Any) -> str:
    """A merge's input shapes in little room: ``(1, 32, 56, 56) ×7``, ``(1, 64+128+32, 28, 28)``
    when they differ on one axis, else the distinct shapes with their counts."""
    distinct = list(dict.fromkeys(shapes))
    if len(distinct) == 1:
        return f"{fmt_shape(distinct[0])} ×{len(shapes)}"
    ranks = {len(s) for s in shapes}
    if len(ranks) == 1:
        axes = [a for a in range(len(shapes[0])) if len({s[a] for s in shapes}) > 1]
        if len(axes) == 1:
            axis = axes[0]
            runs: list[list[int]] = []  # [value, count] for runs of equal sizes
            for s in shapes:
                if runs and runs[-1][0] == s[axis]:
                    runs[-1][1] += 1
                else:
                    runs.append([s[axis], 1])
            sizes = _some([str(v) if n == 1 else f"{v}×{n}" for v, n in runs], "+")
            parts = [str(v) for v in shapes[0]]
            parts[axis] = sizes
            return "(" + ", ".join(parts) + ")"
    counts = Counter(shapes)  # in the order first seen, as ``distinct``
    return _some([fmt_shape(d) + (f" ×{n}" if n > 1 else "") for d, n in counts.items()], " + ")


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
    from .layout import Column, fit, lines, tree_prefixes, wrap

    failed = {e.index for e in report.errors}
    runs = {r.index: r for r in run.layers} if run is not None else {}
    rows = report.view(depth)
    if columns is None:
        keys = ["#", "name", "type"] + (["from"] if report.branched else [])
        # without an input shape every shape is unknown: no columns of dashes
        keys += ["input", "output"] if report.input_shape is not None else []
        # a share only of a known total (without an input shape, MACs have none)
        keys += ["params"] + (["params%"] if report.totals.params is not None else [])
        keys += ["macs"] + (["macs%"] if report.totals.macs is not None else [])
        keys += list(RUN_KEYS) if run is not None else []
        keys.append("notes")
    else:
        keys = _keys(report, run, columns)
    index_of = {r.name: r.index for r in report.rows}

    # footnotes: each distinct note once; a block's layer count only when it stands collapsed.
    # The marker follows the name (where it seldom costs width), else has a column of its own.
    footnotes: dict[str, int] = {}
    markers = []
    for i, r in enumerate(rows):
        expanded = r.block and i + 1 < len(rows) and (r.name, r.type) in rows[i + 1].path
        text = "" if expanded or "notes" not in keys else "; ".join(r.notes)
        if text:
            markers.append(f"[{footnotes.setdefault(text, len(footnotes) + 1)}]")
        else:
            markers.append("")
    if "name" in keys and "notes" in keys:
        keys.remove("notes")

    prefixes = tree_prefixes([r.level for r in rows])
    heavy_macs = _heaviest(rows, "macs")
    heavy_params = _heaviest(rows, "params")

    def name(i: int, r: Row) -> str:
        shown = r.name
        if r.path and shown.startswith(r.path[-1][0] + "."):
            shown = shown[len(r.path[-1][0]) + 1 :]
        return prefixes[i] + shown + (f" {markers[i]}" if markers[i] else "")

    def source(r: Row) -> str:
        if _reads_previous(report, r):
            return ""
        return _some([n if n == INPUT else f"#{index_of.get(n, n)}" for n in r.inputs], " ")

    cols: list[Column] = []
    for key in keys:
        cells: list[str] = []
        for i, r in enumerate(rows):
            bad = r.index in failed and not r.block
            if key == "#":
                cells.append("" if r.block else str(r.index))
            elif key == "name":
                cells.append(name(i, r))
            elif key == "from":
                cells.append(source(r))
            elif key == "notes":
                cells.append(markers[i])
            elif key == "input" and r.input_shape and isinstance(r.input_shape[0], tuple):
                cells.append(_compact_shapes(r.input_shape))
            elif key in RUN_KEYS and r.block:
                cells.append("")
            else:
                cells.append(_cell(key, report, r, bad, runs.get(r.index)))
        title = "" if key == "notes" else "%" if key.endswith("%") else TITLES.get(key, key)
        cols.append(
            Column(key, title, cells, key in ("#", "params", "params%", "macs", "macs%", "time"))
        )
    table = fit(cols, None if wide else width, DROP_ORDER)
    kept = [c.key for c in table.columns]
    before = [0, *table.gaps]

    mismatched = {lr.index for lr in run.layers if not lr.match} if run is not None else set()
    first_failure = min(failed, default=len(report.rows))
    room = width if width is not None else 100
    out: list[list[Segment]] = [[(w, "bold")] for w in wrap(_title(report), room)]
    out.append([])
    for i, cells in enumerate(lines(table)):
        if i == 0:
            out.append([("".join(cells).rstrip(), "bold")])
            continue
        r = rows[i - 1]
        if r.block:
            base: str | None = "bold"
        elif r.index in failed or r.index in mismatched:
            base = STYLE_ERROR
        elif r.params == 0 or r.index > first_failure:
            base = "dim"  # no parameters, or not reached
        else:
            base = None
        line: list[Segment] = []
        for j, (key, text) in enumerate(zip(kept, cells, strict=True)):
            style = base
            if key == "name" and r.block:
                style = STYLE_BLOCK
            elif key in ("macs", "macs%") and r.index in heavy_macs and base is None:
                style = STYLE_HEAVY
            elif key in ("params", "params%") and r.index in heavy_params and base is None:
                style = STYLE_HEAVY
            gap = before[j]
            line.append((text[:gap], None))
            content = text[gap:]
            body = content.strip(" ")
            start = gap + (content.index(body) if body else len(content))
            if key == "name" and prefixes[i - 1]:
                glyphs = prefixes[i - 1]
                start = gap + len(glyphs)
                line.append((glyphs, "dim"))
                body = text[start:].rstrip(" ")
            elif start > gap:
                line.append((text[gap:start], None))  # right-alignment padding
            rest = text[start + len(body) :]
            mark = markers[i - 1]
            if key in ("name", "notes") and mark:
                head = body[: len(body) - len(mark)]
                line += [(head, style), (mark, "cyan" if base is None else base)]
            else:
                line.append((body, style))
            line.append((rest, None))
        while line and not line[-1][0].strip():
            line.pop()
        out.append(line)

    if table.dropped:
        left_out = ", ".join(TITLES.get(k, k) for k in table.dropped)
        text = f"left out for the width: {left_out} (--wide shows every column)"
        out += [[(w, "dim")] for w in wrap(text, room)]
    out.append([])
    for text, number in footnotes.items():
        out += [[(w, None)] for w in wrap(f"[{number}] {text}", room)]
    if footnotes:
        out.append([])
    for text in _totals_lines(report, run):
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


def terminal_width() -> int:
    """The terminal's width in columns (``COLUMNS`` wins, as everywhere)."""
    import shutil

    return shutil.get_terminal_size((80, 24)).columns


def print_rich(
    report: Report,
    run: RunResult | None = None,
    depth: int | None = None,
    *,
    columns: Sequence[str] | None = None,
    wide: bool = False,
) -> None:
    """The table for a terminal: it fits the width (``wide``: every column), colour where it
    means something (NO_COLOR and TERM=dumb take the colour away, not the layout)."""
    from rich.console import Console

    width = terminal_width()
    console = Console(width=width, highlight=False)
    lines = terminal_table(report, run, depth, width=width, columns=columns, wide=wide)
    console.print(_Lines(lines), soft_wrap=True)


class _Lines:
    """Styled lines as rich segments, each style parsed once: what a rich Text per line
    prints, four times faster (a second less for every 5,000 layers)."""

    def __init__(self, lines: Sequence[Sequence[Segment]]) -> None:
        self.lines = lines

    def __rich_console__(self, console: Any, options: Any) -> Any:
        from rich.segment import Segment as RichSegment

        styles: dict[str | None, Any] = {None: None}
        newline = RichSegment.line()
        for line in self.lines:
            for part, name in line:
                if part:
                    style = styles.get(name)
                    if style is None and name is not None:
                        style = styles[name] = console.get_style(name)
                    yield RichSegment(part, style)
            yield newline


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
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
    return "".join(
        f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]:>{widths[3]}}\n"
        for r in [head, *rows]
    )


def _exact_or_dash(n: int | None) -> str:
    return "—" if n is None else f"{n:,}"
