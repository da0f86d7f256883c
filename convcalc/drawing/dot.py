"""The diagram as Graphviz source (``dot -Tsvg``), for those who have Graphviz."""

from __future__ import annotations

from .diagram import AFTER, FAILED, INPUT_NODE, Diagram, Node
from .svg import AFTER_FILL, AFTER_TEXT, FAILED_FILL, FAILED_STROKE, INPUT_FILL, SHADES, shade


def quoted(text: str) -> str:
    """A DOT string: backslashes and quotes escaped, control characters dropped, lines as
    ``\\n``."""
    out = text.replace("\\", "\\\\").replace('"', '\\"')
    out = "".join(ch for ch in out.replace("\n", " ") if ch >= " " or ch == "\t")
    return f'"{out}"'


def _lines(node: Node) -> str:
    lines = [node.title, node.subtitle]
    if node.figures:
        lines.append(node.figures)
    if node.message:
        lines.append(node.message)
    return "\\n".join(quoted(line)[1:-1] for line in lines)


def _style(node: Node, heaviest: float) -> str:
    if node.state == FAILED:
        return f'fillcolor="{FAILED_FILL}", color="{FAILED_STROKE}", fontcolor="{FAILED_STROKE}"'
    if node.state == AFTER:
        return f'fillcolor="{AFTER_FILL}", color="{AFTER_TEXT}", fontcolor="{AFTER_TEXT}", style="rounded,filled,dashed"'
    if node.state == INPUT_NODE:
        return f'fillcolor="{INPUT_FILL}"'
    level = shade(node, heaviest)
    light = ', fontcolor="#ffffff"' if level >= 5 else ""
    return f'fillcolor="{SHADES[level]}"{light}'


def to_dot(diagram: Diagram) -> str:
    heaviest = max((n.share or 0.0 for n in diagram.nodes), default=0.0)
    out = [
        f"digraph {quoted(diagram.model or 'model')} {{",
        f"  graph [rankdir=TB, fontname=monospace, label={quoted(diagram.summary)}, labelloc=t];",
        '  node [shape=box, style="rounded,filled", fontname=monospace, color="#6b7a8f"];',
        '  edge [color="#555555", arrowsize=0.7];',
    ]
    for node in diagram.nodes:
        out.append(f'  {node.id} [label="{_lines(node)}", {_style(node, heaviest)}];')
    for u, v in diagram.edges:
        out.append(f"  {diagram.nodes[u].id} -> {diagram.nodes[v].id};")
    out.append("}")
    return "\n".join(out) + "\n"
