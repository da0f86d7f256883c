"""Fitting a table to a terminal's width: which columns stay, how wide the gaps are, the tree
glyphs of nested names, and prose wrapped to the width.

Pure text, no rich and no report: render.py gives it columns of finished cells.
"""

from __future__ import annotations

import textwrap
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

#: gaps between columns, preferred first: two spaces, then one when that keeps a column
#: (two still between right-aligned columns, whose figures hold spaces: ``9.41 K  118.01 M``)
GAPS = (2, 1)


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    cells: Sequence[str]
    right: bool = False

    @property
    def width(self) -> int:
        return max([cell_width(self.title), *(cell_width(c) for c in self.cells)])


def cell_width(text: str) -> int:
    """How many terminal cells ``text`` takes: wide (CJK) characters two, combining marks and
    invisible format characters (a zero-width space or joiner) none."""
    if text.isascii():
        return len(text)
    return sum(
        0
        if unicodedata.combining(ch) or unicodedata.category(ch) == "Cf"
        else 2
        if unicodedata.east_asian_width(ch) in "WF"
        else 1
        for ch in text
    )


@dataclass(frozen=True)
class Fit:
    columns: tuple[Column, ...]
    #: keys of the columns left out, in the order they were dropped
    dropped: tuple[str, ...]
    gap: int

    @property
    def gaps(self) -> list[int]:
        """The spaces before each column but the first."""
        return _gaps(self.columns, self.gap)

    @property
    def width(self) -> int:
        return line_width(self.columns, self.gap)


def _gaps(columns: Sequence[Column], gap: int) -> list[int]:
    return [
        max(gap, 2) if a.right and b.right else gap
        for a, b in zip(columns, columns[1:], strict=False)
    ]


def line_width(columns: Sequence[Column], gap: int) -> int:
    return sum(c.width for c in columns) + sum(_gaps(columns, gap))


def fit(
    columns: Sequence[Column],
    width: int | None,
    drop_order: Sequence[str],
) -> Fit:
    """Keep as many columns as fit in ``width``: drop them in ``drop_order`` (keys) until the
    table fits, keeping columns before wide gaps. ``width=None`` keeps every column. When
    nothing more may be dropped the table is as narrow as it gets, and wider than ``width``."""
    kept = [c for c in columns if c.width > 0]
    if width is None:
        return Fit(tuple(kept), (), GAPS[0])
    dropped: list[str] = []
    while True:
        for gap in GAPS:
            if line_width(kept, gap) <= width:
                return Fit(tuple(kept), tuple(dropped), gap)
        keys = [c.key for c in kept]
        victim = next((k for k in drop_order if k in keys), None)
        if victim is None:
            return Fit(tuple(kept), tuple(dropped), GAPS[-1])
        kept = [c for c in kept if c.key != victim]
        dropped.append(victim)


def lines(table: Fit) -> list[list[str]]:
    """Each row's cells (the header first), padded to their column and preceded by their gap:
    joined, they make the line."""
    out = []
    widths = [c.width for c in table.columns]
    before = [0, *table.gaps][: len(table.columns)]  # no column at all: no gap either
    rows = len(table.columns[0].cells) if table.columns else 0
    for i in range(-1, rows):
        cells = []
        for column, w, gap in zip(table.columns, widths, before, strict=True):
            text = column.title if i < 0 else column.cells[i]
            pad = " " * (w - cell_width(text))
            cells.append(" " * gap + (pad + text if column.right else text + pad))
        out.append(cells)
    return out


def tree_prefixes(levels: Sequence[int]) -> list[str]:
    """``cargo tree`` glyphs for rows listed depth-first: a row at level L > 0 belongs to the
    nearest row above it at level L - 1; level 0 rows have none."""
    n = len(levels)
    last = [True] * n
    later: dict[int, bool] = {}  # a later sibling seen at this level, scanning backwards
    for i in range(n - 1, -1, -1):
        level = levels[i]
        last[i] = not later.get(level, False)
        later[level] = True
        for deeper in [k for k in later if k > level]:
            del later[deeper]
    out = []
    open_levels: list[bool] = []  # per ancestor level from 1: does it have siblings still to come
    for i, level in enumerate(levels):
        if level == 0:
            out.append("")
            open_levels = []
            continue
        del open_levels[level - 1 :]
        open_levels += [False] * (level - 1 - len(open_levels))
        stem = "".join("│  " if more else "   " for more in open_levels)
        out.append(stem + ("└─ " if last[i] else "├─ "))
        open_levels.append(not last[i])
    return out


def wrap(text: str, width: int, indent: int = 4) -> list[str]:
    """Prose wrapped at spaces to ``width``, continuation lines indented."""
    return textwrap.wrap(
        text,
        width=max(width, indent + 10),
        subsequent_indent=" " * indent,
        break_on_hyphens=False,
        drop_whitespace=True,
    ) or [""]
