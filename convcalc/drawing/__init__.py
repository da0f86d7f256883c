"""``convcalc draw``: a report as a diagram, in SVG, a self-contained HTML page, Mermaid or
Graphviz's DOT. No click, rich or numpy here: the CLI is a thin shell over :func:`draw`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import SpecError
from .diagram import Diagram, Node, build

if TYPE_CHECKING:
    from ..model import Spec
    from ..report import Report

__all__ = ["FORMATS", "Diagram", "Drawing", "Node", "build", "draw", "format_of"]

FORMATS = ("svg", "html", "mermaid", "dot")
#: an output file's extension → its format
EXTENSIONS = {
    ".svg": "svg",
    ".html": "html",
    ".htm": "html",
    ".md": "mermaid",
    ".mmd": "mermaid",
    ".mermaid": "mermaid",
    ".dot": "dot",
    ".gv": "dot",
}


@dataclass(frozen=True)
class Drawing:
    text: str
    fmt: str
    #: the depth blocks were collapsed at (None: every layer drawn)
    depth: int | None
    #: what to tell the user beside the drawing (Mermaid's collapse to fit GitHub's limits)
    notes: tuple[str, ...] = ()


def format_of(path: str) -> str | None:
    """The format an output file's name asks for, or None."""
    import os

    return EXTENSIONS.get(os.path.splitext(path)[1].lower())


def draw(
    report: Report,
    spec: Spec | None = None,
    fmt: str = "svg",
    depth: int | None = None,
    *,
    fenced: bool = False,
) -> Drawing:
    """``report`` drawn in ``fmt``, blocks nested deeper than ``depth`` collapsed; Mermaid
    (``fenced``: in a Markdown code block) collapses more when GitHub's limits demand it."""
    if fmt not in FORMATS:
        raise SpecError(f"no drawing format {fmt!r}", hint=f"one of {', '.join(FORMATS)}")
    if fmt == "mermaid":
        return _mermaid(report, spec, depth, fenced)
    diagram = build(report, spec, depth)
    if fmt == "svg":
        from .svg import to_svg

        return Drawing(to_svg(diagram), fmt, depth)
    if fmt == "html":
        from .html import to_html

        return Drawing(to_html(diagram), fmt, depth)
    from .dot import to_dot

    return Drawing(to_dot(diagram), fmt, depth)


def _mermaid(report: Report, spec: Spec | None, depth: int | None, fenced: bool) -> Drawing:
    """The flowchart at ``depth``, or at the deepest depth below it that GitHub renders."""
    from .mermaid import MAX_CHARS, MAX_EDGES, fits, to_mermaid

    deepest = report.depth if depth is None else min(depth, report.depth)
    tried = [depth] + [d for d in range(deepest - 1, -1, -1)]
    for at in tried:
        diagram = build(report, spec, at)
        text = to_mermaid(diagram)
        if fits(text, diagram):
            notes: tuple[str, ...] = ()
            if at != depth:
                notes = (
                    f"the whole diagram is over GitHub's Mermaid limits ({MAX_EDGES} edges, "
                    f"{MAX_CHARS:,} characters): blocks nested deeper than {at} are drawn "
                    f"as one node each (--depth {at})",
                )
            if fenced:
                text = f"```mermaid\n{text}```\n"
            return Drawing(text, "mermaid", at, notes)
    # (the last one tried had every block collapsed)
    raise SpecError(
        f"the model is over GitHub's Mermaid limits ({MAX_EDGES} edges, {MAX_CHARS:,} "
        f"characters) even with every block collapsed: {len(diagram.edges):,} edges, "
        f"{len(text):,} characters",
        hint="write --format svg or html, or dot for Graphviz",
    )
