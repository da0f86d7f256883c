"""The diagram as SVG: one box per node, top to bottom, unlabelled edges with arrowheads,
boxes shaded by their share of the MACs (with a legend), the failing layer red with its
message and the layers after it grey.

Box sizes come from their text, measured with a monospace font's advance (the SVG asks
for the generic ``monospace`` family, whose glyphs are all about 0.6 em wide; no font is
fetched). All text is escaped: names come from user files.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from ..layout import cell_width
from .diagram import AFTER, FAILED, INPUT_NODE, Diagram, Node
from .layered import Placed, lay_out

#: the advance of one monospace glyph, in em (DejaVu Sans Mono 0.602, Liberation Mono and
#: Courier 0.600; a little more, so that text never runs out of its box)
GLYPH_EM = 0.62
#: font sizes (px): the name, type and shape lines; the figures and messages
FONT, SMALL = 14.0, 12.0
LINE, SMALL_LINE = 18.0, 16.0
#: inside a box, around its text
PAD_X, PAD_Y = 10.0, 8.0
MIN_WIDTH = 96.0
#: a name longer than this is cut (the whole name is in the tooltip and the page's panel)
MAX_CHARS = 56
#: the failing layer's message: characters per line, lines at most
MESSAGE_CHARS, MESSAGE_LINES = 64, 8
#: the band above the drawing: the title and the legend
HEADER = 58.0

#: the shade of a box by its share of the MACs, light to dark (ColorBrewer's Blues)
SHADES = ("#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c")
#: shades from this one on take light text
DARK_FROM = 5
FAILED_FILL, FAILED_STROKE, FAILED_TEXT = "#fde2e1", "#c62828", "#b71c1c"
AFTER_FILL, AFTER_STROKE, AFTER_TEXT = "#f2f2f2", "#b0b0b0", "#8a8a8a"
INPUT_FILL = "#fff8e1"

STYLE = """
.cc text { font-family: monospace; fill: #1a1a1a; }
.cc .title { font-size: 15px; font-weight: bold; }
.cc .name { font-size: 14px; font-weight: bold; }
.cc .line { font-size: 14px; }
.cc .small { font-size: 12px; fill: #444; }
.cc .light text, .cc .light .small { fill: #ffffff; }
.cc .failed text { fill: #b71c1c; }
.cc .after text, .cc .after .small { fill: #8a8a8a; }
.cc .edge { fill: none; stroke: #555; stroke-width: 1.3; stroke-linejoin: round; }
.cc .node rect { stroke: #6b7a8f; stroke-width: 1; }
.cc .failed rect { stroke: #c62828; stroke-width: 2; }
.cc .after rect { stroke: #b0b0b0; stroke-dasharray: 4 3; }
"""


def text_width(text: str, size: float) -> float:
    """The width of ``text`` in a monospace font of ``size`` px (a wide glyph counts two)."""
    return cell_width(text) * GLYPH_EM * size


def clipped(text: str, limit: int = MAX_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Label:
    """A box's lines of text: (text, css class, font size, line height)."""

    lines: tuple[tuple[str, str, float, float], ...]

    @property
    def size(self) -> tuple[float, float]:
        width = max(text_width(t, size) for t, _, size, _ in self.lines) + 2 * PAD_X
        height = sum(step for _, _, _, step in self.lines) + 2 * PAD_Y
        return max(width, MIN_WIDTH), height


def label(node: Node) -> Label:
    lines = [
        (clipped(node.title), "name", FONT, LINE),
        (clipped(node.subtitle), "line", FONT, LINE),
    ]
    if node.figures:
        lines.append((node.figures, "small", SMALL, SMALL_LINE))
    if node.message:
        text = node.message + (f" — hint: {node.hint}" if node.hint else "")
        wrapped = textwrap.wrap(text, MESSAGE_CHARS, break_long_words=True)
        if len(wrapped) > MESSAGE_LINES:
            wrapped = wrapped[:MESSAGE_LINES]
            wrapped[-1] = clipped(wrapped[-1], MESSAGE_CHARS - 1) + "…"
        lines += [(line, "small", SMALL, SMALL_LINE) for line in wrapped]
    return Label(tuple(lines))


def layout(diagram: Diagram) -> tuple[tuple[Label, ...], Placed]:
    """Each node's label and the placed boxes and edges."""
    labels = tuple(label(node) for node in diagram.nodes)
    return labels, lay_out([lab.size for lab in labels], diagram.edges)


_MARKUP = frozenset("&<>\"'")


def escape(text: str) -> str:
    """``text`` for SVG/XML content or a double-quoted attribute: markup characters as
    entities, characters XML forbids (control characters) replaced."""
    if text.isprintable() and not _MARKUP.intersection(text):
        return text
    out = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    out = out.replace('"', "&quot;").replace("'", "&#39;")
    return "".join(
        ch if ch in "\t\n\r" or (" " <= ch and ch not in "\ufffe\uffff") else "\ufffd" for ch in out
    )


def shade(node: Node, heaviest: float) -> int:
    """The index of ``node``'s shade in SHADES: its share of the MACs against the heaviest."""
    if not node.share or heaviest <= 0:
        return 0
    return min(len(SHADES) - 1, 1 + int(node.share / heaviest * (len(SHADES) - 1) - 1e-9))


def to_svg(diagram: Diagram, *, standalone: bool = True) -> str:
    """The SVG document (``standalone=False``: the element alone, to inline in HTML)."""
    labels, placed = layout(diagram)
    heaviest = max((n.share or 0.0 for n in diagram.nodes), default=0.0)
    width = max(placed.width, _header_width(diagram))
    height = placed.height + HEADER
    ns = ' xmlns="http://www.w3.org/2000/svg"' if standalone else ""
    out = [
        f'<svg{ns} class="cc" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="monospace">',
        f"<style>{STYLE}</style>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#555"/></marker></defs>',
        '<rect class="background" x="0" y="0" width="100%" height="100%" fill="#ffffff"/>',
        *_header(diagram, heaviest),
        f'<g id="diagram" transform="translate(0,{HEADER:.0f})">',
        '<g class="edges">',
    ]
    for (u, v), path in zip(diagram.edges, placed.paths):
        d = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(path))
        out.append(
            f'<path class="edge" data-from="{diagram.nodes[u].id}" '
            f'data-to="{diagram.nodes[v].id}" d="{d}" marker-end="url(#arrow)"/>'
        )
    out.append("</g>")
    for i, (node, lab, box) in enumerate(zip(diagram.nodes, labels, placed.boxes)):
        out += _node(i, node, lab, box, shade(node, heaviest))
    out += ["</g>", "</svg>"]
    return "\n".join(out) + "\n"


def _node(
    i: int, node: Node, lab: Label, box: tuple[float, float, float, float], level: int
) -> list[str]:
    x, y, w, h = box
    if node.state == FAILED:
        fill, kind = FAILED_FILL, "failed"
    elif node.state == AFTER:
        fill, kind = AFTER_FILL, "after"
    elif node.state == INPUT_NODE:
        fill, kind = INPUT_FILL, "input"
    else:
        fill, kind = SHADES[level], "light" if level >= DARK_FROM else "ok"
    tip = f"{node.name} ({node.type}) → {node.output}"
    out = [
        f'<g class="node {kind}" id="{node.id}" data-i="{i}" data-name="{escape(node.name)}"'
        + ("" if node.row is None else f' data-row="{node.row.index}"')
        + ">",
        f"<title>{escape(tip)}</title>",
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="4" fill="{fill}"/>',
    ]
    at = y + PAD_Y
    for text, css, size, step in lab.lines:
        baseline = at + step / 2 + size * 0.35
        out.append(
            f'<text class="{css}" x="{x + PAD_X:.1f}" y="{baseline:.1f}">{escape(text)}</text>'
        )
        at += step
    out.append("</g>")
    return out


def _title(diagram: Diagram) -> str:
    return clipped(f"{diagram.model or 'model'}: {diagram.summary}", 120)


def _header_width(diagram: Diagram) -> float:
    return max(text_width(_title(diagram), 15.0), 420.0) + 32


def _header(diagram: Diagram, heaviest: float) -> Sequence[str]:
    """The title line and the legend of shades."""
    out = [f'<text class="title" x="16" y="24">{escape(_title(diagram))}</text>']
    x = 16.0
    out.append(f'<g class="legend"><text class="small" x="{x:.0f}" y="46">share of MACs:</text>')
    x += text_width("share of MACs: ", SMALL)
    out.append(f'<text class="small" x="{x:.0f}" y="46">0</text>')
    x += text_width("0 ", SMALL)
    for colour in SHADES:
        out.append(
            f'<rect x="{x:.0f}" y="36" width="18" height="12" fill="{colour}" '
            'stroke="#6b7a8f" stroke-width="0.5"/>'
        )
        x += 18
    top = f"{heaviest * 100:.1f} %" if heaviest else "—"
    out.append(
        f'<text class="small" x="{x + 6:.0f}" y="46">{escape(top)} (the heaviest box)</text>'
    )
    out.append("</g>")
    return out
