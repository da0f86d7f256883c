"""A sweep (sweep.py) as text, Markdown, CSV or JSON; the fields of the JSON are documented
in docs/sweep.md. Nothing here computes a figure."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .jsonout import json_lines
from .plain import aligned
from .shape import Shape, fmt_product, fmt_shape
from .table import human, size

if TYPE_CHECKING:
    from .sweep import Ranges, SizeRow, SizeTable, ValidHW, ValidSizes

HEADER = ("size", "input", "output", "MACs", "peak memory", "covered")
RIGHT = {"MACs", "peak memory"}


def _template(x0: Shape, letters: Sequence[str]) -> str:
    """``(1, 3, H, W)``: the input shape with its swept axes named."""
    kept = [str(v) for v in x0[: len(x0) - len(letters)]]
    return "(" + ", ".join(kept + list(letters)) + ")"


def _letters(nd: int) -> tuple[str, ...]:
    return ("L",) if nd == 1 else ("D", "H", "W")[3 - nd :]


def _yes(value: bool | None) -> str:
    return "—" if value is None else "yes" if value else "no"


def _failure(row: SizeRow) -> str:
    return "" if row.error is None else row.error.message


def _cells(row: SizeRow) -> list[str]:
    return [
        fmt_product(row.size),
        fmt_shape(row.input_shape),
        "—" if row.output_shape is None else fmt_shape(row.output_shape),
        human(row.macs),
        size(row.peak_bytes),
        _yes(row.covered),
    ]


def _summary(table: SizeTable) -> str:
    failed = sum(1 for r in table.rows if r.error is not None)
    total = len(table.rows)
    plural = "size" if total == 1 else "sizes"
    if not failed:
        return f"{total:,} {plural}: {'it works' if total == 1 else 'all work'}"
    good = total - failed
    return (
        f"{total:,} {plural}: {good:,} work{'s' if good == 1 else ''}, "
        f"{failed:,} fail{'s' if failed == 1 else ''}"
    )


def sizes_text(table: SizeTable) -> str:
    nd = len(table.rows[0].size) if table.rows else 2
    x0 = table.rows[0].input_shape if table.rows else ()
    head = f"{table.model or 'model'}: input {_template(x0, _letters(nd))}, {table.dtype}"
    failing = any(r.error is not None for r in table.rows)
    header = HEADER + (("fails at",) if failing else ())
    rows = [_cells(r) + ([_failure(r)] if failing else []) for r in table.rows]
    return "\n".join([head, "", *aligned(header, rows, RIGHT), "", _summary(table)]) + "\n"


def sizes_markdown(table: SizeTable) -> str:
    failing = any(r.error is not None for r in table.rows)
    header = HEADER + (("fails at",) if failing else ())
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---:" if h in RIGHT else "---" for h in header) + "|",
    ]
    for r in table.rows:
        cells = _cells(r) + ([_failure(r).replace("|", "\\|")] if failing else [])
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\n" + _summary(table) + "\n"


def sizes_csv(table: SizeTable) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["size", "input_shape", "output_shape", "macs", "peak_bytes", "covered", "error"]
    )
    for r in table.rows:
        writer.writerow(
            [
                fmt_product(r.size),
                fmt_product(r.input_shape),
                "" if r.output_shape is None else fmt_product(r.output_shape),
                "" if r.macs is None else r.macs,
                "" if r.peak_bytes is None else r.peak_bytes,
                "" if r.covered is None else str(r.covered).lower(),
                _failure(r),
            ]
        )
    return out.getvalue()


def render_sizes(table: SizeTable, fmt: str) -> str:
    if fmt == "json":
        return json_lines(table.to_dict())
    if fmt == "markdown":
        return sizes_markdown(table)
    if fmt == "csv":
        return sizes_csv(table)
    return sizes_text(table)


# ------------------------------------------------------------------ --valid
def _run(lo: int, hi: int) -> str:
    return str(lo) if lo == hi else f"{lo}–{hi}"


def _period(ranges: Ranges) -> tuple[int, int] | None:
    """The fewest ranges ``p`` after which the list repeats shifted by ``d`` (at least three
    times over), as (p, d); None when it does not."""
    for p in range(1, len(ranges) // 3 + 1):
        d = ranges[p][0] - ranges[0][0]
        if all(
            ranges[i + p] == (ranges[i][0] + d, ranges[i][1] + d) for i in range(len(ranges) - p)
        ):
            return p, d
    return None


def ranges_text(ranges: Ranges) -> str:
    """``32–35, 64–67, 96``; a list that repeats, its first two repetitions and its last:
    ``8, 16, …, 256 (every 8)``; ``none``."""
    if not ranges:
        return "none"
    period = _period(ranges)
    if period is None or len(ranges) <= 6:
        return ", ".join(_run(lo, hi) for lo, hi in ranges)
    p, d = period
    shown = [_run(*r) for r in ranges[: 2 * p]] + ["…"] + [_run(*r) for r in ranges[-p:]]
    return ", ".join(shown) + f" (every {d})"


def _count(ranges: Ranges) -> str:
    n = sum(hi - lo + 1 for lo, hi in ranges)
    return f"{n:,} size{'' if n == 1 else 's'}"


def valid_text(result: ValidSizes) -> str:
    nd = len(result.input_shape) - 2
    lo, hi = result.lo, result.hi
    if nd == 1:
        what = f"lengths {lo} to {hi}"
        letters: tuple[str, ...] = ("L",)
    else:
        what = f"{'square' if nd == 2 else 'cubic'} inputs {fmt_product((lo,) * nd)} to {fmt_product((hi,) * nd)}"
        letters = ("S",) * nd
    lines = [f"{result.model or 'model'}: {what}, input {_template(result.input_shape, letters)}"]
    if not result.works:
        lines.append(f"no size from {lo} to {hi} works")
    else:
        lines.append(f"works ({_count(result.works)}): {ranges_text(result.works)}")
        every = "every element" if nd == 1 else "every row and column"
        lines.append(f"{every} covered ({_count(result.covered)}): {ranges_text(result.covered)}")
    return "\n".join(lines) + "\n"


def _groups(groups: Sequence[tuple[tuple[int, int], Ranges]]) -> list[str]:
    if not groups:
        return ["  none"]
    return [f"  H {ranges_text((h,))}: W {ranges_text(w)}" for h, w in groups]


def valid_hw_text(result: ValidHW) -> str:
    lo, hi = result.lo, result.hi
    head = (
        f"{result.model or 'model'}: H and W each from {lo} to {hi}, "
        f"input {_template(result.input_shape, ('H', 'W'))}"
    )
    lines = [head]
    c = result.coupling
    if result.at is None:
        lines.append(f"no square size from {lo} to {hi} works")
    elif c is None:
        lines += [
            "H and W are independent (no layer mixes them): any H below works with any W below",
            f"H: {ranges_text(result.h)}",
            f"W: {ranges_text(result.w)}",
            f"every row covered: H {ranges_text(result.h_covered)}",
            f"every column covered: W {ranges_text(result.w_covered)}",
        ]
    else:
        lines += [
            f"H and W are not independent: layer {c.index} '{c.name}' ({c.type}) mixes them "
            f"(dimension {c.dim} of its output changes with H and with W); the pairs that work:",
            *_groups(result.pairs),
            "every row and column covered:",
            *_groups(result.covered_pairs),
        ]
    return "\n".join(lines) + "\n"


def render_valid(result: ValidSizes | ValidHW, fmt: str) -> str:
    from .sweep import ValidHW

    if fmt == "json":
        return json_lines(result.to_dict())
    if isinstance(result, ValidHW):
        return valid_hw_text(result)
    return valid_text(result)
