"""The diagram as a Mermaid ``flowchart TD``, which GitHub renders in Markdown (a README, a
pull-request comment) within its limits: at most 500 edges and 50,000 characters."""

from __future__ import annotations

import re

from .diagram import AFTER, FAILED, INPUT_NODE, Diagram
from .svg import (
    AFTER_FILL,
    AFTER_TEXT,
    FAILED_FILL,
    FAILED_STROKE,
    INPUT_FILL,
    SHADES,
    clipped,
    shade,
)

#: Mermaid's own limits (its maxEdges and maxTextSize), which GitHub keeps
MAX_EDGES = 500
MAX_CHARS = 50_000
#: characters a label keeps as they are; every other one is written as Mermaid's ``#N;``
SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,()_:/+%=*")


def escaped(text: str) -> str:
    """Label text Mermaid cannot misread: quotes, brackets, ``-->``, ``#``, markup and any
    non-ASCII character as the entity code ``#N;``."""
    return "".join(ch if ch in SAFE else f"#{ord(ch)};" for ch in text if ch >= " ")


def unbroken(text: str) -> str:
    """Shapes kept on one line: the spaces inside parentheses made non-breaking (Mermaid wraps
    a long label between words, and "(1, 64," over "112, 112)" reads badly)."""
    return re.sub(r"\([^()]*\)", lambda m: m.group(0).replace(" ", "\u00a0"), text)


def to_mermaid(diagram: Diagram) -> str:
    """The flowchart's text (without a Markdown fence)."""
    heaviest = max((n.share or 0.0 for n in diagram.nodes), default=0.0)
    out = ["flowchart TD"]
    classes: dict[str, list[str]] = {}
    for node in diagram.nodes:
        lines = [clipped(node.title), unbroken(clipped(node.subtitle))]
        if node.figures:
            lines.append(node.figures)
        if node.message:
            lines.append(clipped(node.message, 120))
        out.append(f'  {node.id}["{"<br>".join(escaped(line) for line in lines)}"]')
        if node.state == FAILED:
            kind = "failed"
        elif node.state == AFTER:
            kind = "after"
        elif node.state == INPUT_NODE:
            kind = "input"
        else:
            kind = f"s{shade(node, heaviest)}"
        classes.setdefault(kind, []).append(node.id)
    for u, v in diagram.edges:
        out.append(f"  {diagram.nodes[u].id} --> {diagram.nodes[v].id}")
    styles = {
        "failed": f"fill:{FAILED_FILL},stroke:{FAILED_STROKE},color:{FAILED_STROKE},stroke-width:2px",
        "after": f"fill:{AFTER_FILL},stroke:{AFTER_TEXT},color:{AFTER_TEXT},stroke-dasharray:4 3",
        "input": f"fill:{INPUT_FILL},stroke:#6b7a8f",
        **{
            f"s{i}": f"fill:{c},stroke:#6b7a8f" + (",color:#ffffff" if i >= 5 else ",color:#1a1a1a")
            for i, c in enumerate(SHADES)
        },
    }
    for kind, ids in classes.items():
        out.append(f"  classDef {kind} {styles[kind]}")
        out.append(f"  class {','.join(ids)} {kind}")
    return "\n".join(out) + "\n"


def fits(text: str, diagram: Diagram) -> bool:
    """Whether GitHub renders it: few enough edges and characters."""
    return len(diagram.edges) <= MAX_EDGES and len(text) <= MAX_CHARS
