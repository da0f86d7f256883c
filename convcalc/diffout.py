"""A :class:`~convcalc.diff.ModelDiff` as text (fits 80 columns), Markdown (a pull-request
comment) or JSON (for scripts; its fields are documented in docs/diff.md).

None computes a figure: the deltas and percentages are the ModelDiff's.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .jsonout import json_lines
from .shape import fmt_shape
from .table import error_lines, human

if TYPE_CHECKING:
    from .diff import Count, LayerDiff, ModelDiff
    from .report import Report
    from .shape import Shape

#: the width the text fits
WIDTH = 80
#: more rows than this and the Markdown's table of layers is folded into <details>
FOLD_AFTER = 10
MARKS = {"added": "+", "removed": "-", "changed": "~", "same": " "}
COUNTED = {"added": "added", "removed": "removed", "changed": "changed", "same": "unchanged"}


def render_diff(diff: ModelDiff, fmt: str) -> str:
    if fmt == "json":
        return diff_json(diff)
    if fmt == "markdown":
        return diff_markdown(diff)
    return diff_text(diff)


# ------------------------------------------------------------------ pieces
def _shape(shape: Shape | None) -> str:
    return "?" if shape is None else fmt_shape(shape)


def _count(n: int | None) -> str:
    return "?" if n is None else human(n)


def _counts(count: Count) -> tuple[str, str]:
    """Before and after as text; written out in full where the short forms would be equal."""
    before, after = _count(count.before), _count(count.after)
    if before == after and count.changed and count.before is not None and count.after is not None:
        return f"{count.before:,}", f"{count.after:,}"
    return before, after


def _signed(n: int) -> str:
    text = human(abs(n)) if abs(n) >= 1000 else f"{abs(n):,}"
    return ("+" if n >= 0 else "−") + text


def _percent(count: Count) -> str:
    """``+86.5 %``; the change itself where the percentage says nothing (from 0, or under 0.05 %)."""
    percent, delta = count.percent, count.delta
    if delta is None:
        return "?"
    if percent is None or round(percent, 1) == 0:
        return _signed(delta)
    return f"{'+' if percent > 0 else '−'}{abs(percent):.1f} %"


def _pair(before: str, after: str) -> str:
    return before if before == after else f"{before} → {after}"


def _figures(row: LayerDiff) -> list[str]:
    side = row.side
    return [
        f"output {_shape(side.output_shape)}",
        f"params {_count(side.params)}",
        f"MACs {_count(side.macs)}",
    ]


def _what(row: LayerDiff) -> tuple[str, str]:
    """The row's name and type, each as ``before → after`` where it changed."""
    before, after = row.before, row.after
    if before is None or after is None:
        side = row.side
        kind = f"{side.type}, {side.layers} layers" if side.layers else side.type
        return side.name, kind
    name = _pair(before.name, after.name) if "name" in row.changes else after.name
    return name, _pair(before.type, after.type)


def _counted(diff: ModelDiff) -> list[str]:
    """``56 added (in 8 blocks)``, ``69 unchanged``: how many layers have each status."""
    blocks = Counter(d.status for d in diff.blocks)
    parts = []
    for status, n in diff.counts.items():
        if n:
            whole = blocks[status]
            within = f" (in {whole} block{'s' * (whole > 1)})" if whole else ""
            parts.append(f"{n:,} {COUNTED[status]}{within}")
    return parts or ["none"]


# ------------------------------------------------------------------ text
def _line(label: str, before: str, after: str, note: str = "") -> list[str]:
    """``    params  2.42 K → 4.84 K``; where that passes WIDTH, before and after on lines of
    their own, each broken at its spaces where it is longer still."""
    head = f"    {label:<9} "
    one = head + _pair(before, after) + note
    if len(one) <= WIDTH or before == after:
        return [one]
    rest = " " * len(head)
    return _broken(before, head, rest) + _broken(after + note, rest[:-2] + "→ ", rest)


def _broken(text: str, first: str, rest: str) -> list[str]:
    """``text`` after ``first``, broken at spaces (never inside a word or figure) into lines
    of WIDTH, each after ``rest``."""
    return textwrap.wrap(
        text,
        WIDTH,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )


def _wrapped(parts: Sequence[str], first: str, rest: str, sep: str = " · ") -> list[str]:
    """``parts`` joined with ``sep`` after ``first``, a new line (after ``rest``) wherever the
    next would pass WIDTH; a comma that separates them stays at the end of the line."""
    lines = [first + parts[0]]
    for part in parts[1:]:
        if len(lines[-1]) + len(sep) + len(part) <= WIDTH:
            lines[-1] += sep + part
        else:
            lines[-1] += sep.rstrip(" ·")
            lines.append(rest + part)
    return lines


def _text_row(row: LayerDiff) -> list[str]:
    name, kind = _what(row)
    out = [f"{MARKS[row.status]} {name}  {kind}"]
    if row.before is None or row.after is None:
        if row.side.call and row.side.call != f"{row.side.type}()":
            out += _broken(row.side.call, "    ", "      ")
        return out + _wrapped(_figures(row), "    ", "    ")
    a, b = row.before, row.after
    # trainable parameters are said apart only where some of them are not trained
    frozen = (a.params, b.params) != (a.trainable_params, b.trainable_params)
    for field in row.changes:
        if field == "trainable_params" and not frozen:
            continue
        if field == "call" and a.call and b.call:
            out += _line("layer", a.call, b.call)
        elif field == "output_shape":
            out += _line("output", _shape(a.output_shape), _shape(b.output_shape))
        elif field in ("params", "trainable_params", "macs"):
            count: Count = getattr(row, field)
            label = {"params": "params", "trainable_params": "trainable", "macs": "MACs"}[field]
            note = "" if count.delta is None else f"  ({_percent(count)})"
            out += _line(label, *_counts(count), note)
    return out


def _totals_text(diff: ModelDiff) -> list[str]:
    (ia, ib), (oa, ob) = diff.input_shape, diff.output_shape
    lines = [
        f"{'input':<10} {_pair(_shape(ia), _shape(ib))}",
        f"{'output':<10} {_pair(_shape(oa), _shape(ob))}",
    ]
    counts = {"params": diff.params, "trainable": diff.trainable_params, "MACs": diff.macs}
    texts = {label: _counts(count) for label, count in counts.items()}
    # the arrows one under the other: each column as wide as its widest figure
    wide = [max(len(t[i]) for t in texts.values()) for i in (0, 1)]
    for label, count in counts.items():
        before, after = texts[label]
        if not count.changed:
            lines.append(f"{label:<10} {before}")
            continue
        note = "" if count.delta is None else f"  ({_percent(count)})"
        lines.append(f"{label:<10} {before:>{wide[0]}} → {after:>{wide[1]}}{note}")
    return lines


def diff_text(diff: ModelDiff) -> str:
    """Plain text that fits 80 columns: the totals, then only the layers that differ."""
    a, b = diff.labels
    out = [f"{a} → {b}", "", *_totals_text(diff), ""]
    out += _wrapped(_counted(diff), "layers: ", " " * len("layers: "), ", ")
    shown = diff.shown()
    if shown:
        out.append("")
    for row in shown:
        out += _text_row(row)
    out += _problems_text(diff)
    return "\n".join(out) + "\n"


def _problems_text(diff: ModelDiff) -> list[str]:
    out: list[str] = []
    for label, report in zip(diff.labels, (diff.a, diff.b), strict=True):
        if not report.ok:
            out += ["", f"{label} is wrong:", *error_lines(report)]
    return out


# ------------------------------------------------------------------ markdown
def _esc(text: str) -> str:
    """A table cell's text: pipes escaped, no line breaks, markup characters taken literally."""
    text = " ".join(text.split())
    for char in "\\|*_[]<>`#":
        text = text.replace(char, "\\" + char)
    return text


def _code(text: str) -> str:
    """``text`` as inline code in a table cell (a pipe still needs its backslash there)."""
    text = " ".join(text.split()).replace("|", "\\|")
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _change_cell(count: Count) -> str:
    if not count.changed:
        return ""
    delta = count.delta
    if delta is None:
        return "?"
    percent = count.percent
    return _signed(delta) + ("" if percent is None else f" ({_percent(count)})")


def _totals_markdown(diff: ModelDiff) -> list[str]:
    a, b = diff.labels
    (ia, ib), (oa, ob) = diff.input_shape, diff.output_shape
    out = [
        f"| | {_esc(a)} | {_esc(b)} | change |",
        "|---|---:|---:|---:|",
        f"| input | {_shape(ia)} | {_shape(ib)} | {'' if ia == ib else 'changed'} |",
        f"| output | {_shape(oa)} | {_shape(ob)} | {'' if oa == ob else 'changed'} |",
    ]
    for label, count in (
        ("params", diff.params),
        ("trainable params", diff.trainable_params),
        ("MACs", diff.macs),
    ):
        before, after = _counts(count)
        out.append(f"| {label} | {before} | {after} | {_change_cell(count)} |")
    return out


def _markdown_row(row: LayerDiff) -> str:
    name, kind = _what(row)
    a, b = row.before, row.after
    if a is not None and b is not None and "call" in row.changes and a.call and b.call:
        kind = f"{_code(a.call)}<br>→ {_code(b.call)}"
    else:
        kind = _esc(kind)
    if a is None or b is None:
        side = row.side
        cells = [_shape(side.output_shape), _count(side.params), _count(side.macs)]
    else:
        cells = [
            _pair(_shape(a.output_shape), _shape(b.output_shape)),
            _pair(*_counts(row.params)),
            _pair(*_counts(row.macs)),
        ]
    return f"| {row.status} | {_code(name)} | {kind} | " + " | ".join(cells) + " |"


def diff_markdown(diff: ModelDiff) -> str:
    """A pull-request comment: the totals' table, then the layers that differ (folded into
    <details> when there are many)."""
    a, b = diff.labels
    out = [f"**{_esc(a)} → {_esc(b)}**", "", *_totals_markdown(diff), ""]
    out.append(f"Layers: {', '.join(_counted(diff))}.")
    shown = diff.shown()
    if shown:
        table = [
            "| | layer | type | output | params | MACs |",
            "|---|---|---|---|---:|---:|",
            *(_markdown_row(row) for row in shown),
        ]
        if len(shown) > FOLD_AFTER:
            rows = f"{len(shown):,} rows"
            table = [f"<details><summary>Layers that differ ({rows})</summary>", "", *table]
            table += ["", "</details>"]
        out += ["", *table]
    for label, report in zip(diff.labels, (diff.a, diff.b), strict=True):
        if not report.ok:
            out += ["", f"**{_esc(label)} is wrong:**", "", "```text", *error_lines(report), "```"]
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------ json
def _model_json(label: str, report: Report) -> dict[str, Any]:
    return {
        "label": label,
        "model": report.model,
        "ok": report.ok,
        "errors": [e.to_dict() for e in report.errors],
        "notes": list(report.notes),
    }


def _shape_json(shape: Shape | None) -> list[int] | None:
    return None if shape is None else list(shape)


def diff_json(diff: ModelDiff) -> str:
    """One object: ``a`` and ``b`` (label, model name, ok, errors, notes), ``ok``,
    ``totals`` (input and output shape before and after; params, trainable params and MACs
    before, after, delta and percent), ``counts`` and every layer's ``status`` with its
    ``changes``, ``before`` and ``after``; ``blocks`` lists the block instances added or
    removed whole."""
    (ia, ib), (oa, ob) = diff.input_shape, diff.output_shape
    data = {
        "a": _model_json(diff.labels[0], diff.a),
        "b": _model_json(diff.labels[1], diff.b),
        "ok": diff.ok,
        "totals": {
            "input_shape": {"before": _shape_json(ia), "after": _shape_json(ib)},
            "output_shape": {"before": _shape_json(oa), "after": _shape_json(ob)},
            "params": diff.params.to_dict(),
            "trainable_params": diff.trainable_params.to_dict(),
            "macs": diff.macs.to_dict(),
        },
        "counts": diff.counts,
        "layers": [row.to_dict() for row in diff.layers],
        "blocks": [row.to_dict() for row in diff.blocks],
    }
    return json_lines(data)
