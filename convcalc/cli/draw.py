"""``convcalc draw FILE [-o out.svg|.html|.md|.dot]``: the network as a diagram."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from ..errors import SpecError
from .app import cli
from .options import depth_option, echo_text, format_choice, load_model, model_options

DRAW_EXITS = (
    "Exit codes: 0 the model works · 1 the model is wrong (the diagram is written, showing "
    "the failing layer) · 2 the input cannot be read · 3 a bug in convcalc."
)


@cli.command(epilog=DRAW_EXITS)
@model_options
@click.option(
    "-o",
    "--output",
    metavar="FILE",
    help="Write the diagram here; its extension chooses the format: .svg, .html, .md "
    "(Mermaid in a fenced block), .mmd, .dot. Default: standard output.",
)
@format_choice(
    ["svg", "html", "mermaid", "dot"],
    None,
    "The format, whatever -o's extension (default: from -o's extension, else svg).",
)
@depth_option(
    "Draw blocks nested deeper than N as one box each, as shape --depth collapses "
    "them (0: top-level blocks only). Default: every layer."
)
def draw(
    file: str | None,
    input_text: str | None,
    layers: Sequence[str],
    output: str | None,
    fmt: str | None,
    depth: int | None,
) -> None:
    """Draw FILE's network top to bottom: one box per layer with its name, type and output
    shape (parameters and MACs smaller), shaded by its share of the MACs.

    SVG; a self-contained HTML page (pan, zoom, click a box for its row); Mermaid for
    GitHub's Markdown (blocks collapsed as needed to stay within GitHub's limits, said on
    stderr); or Graphviz's DOT. A model that fails is drawn too, the failing layer red
    and the layers after it grey (exit 1).
    """
    from ..analysis import analyze
    from ..drawing import draw as draw_report
    from ..drawing import format_of
    from ..plain import error_text

    if fmt is None:
        fmt = "svg"
        if output is not None:
            found = format_of(output)
            if found is None:
                raise click.UsageError(
                    f"cannot tell the format from {output!r}: name it .svg, .html, .md, .mmd "
                    "or .dot, or give --format"
                )
            fmt = found
    spec, input_shape = load_model(file, input_text, layers)
    report = analyze(spec, input_shape, receptive_fields=False)
    fenced = output is not None and output.lower().endswith(".md")
    drawing = draw_report(report, spec, fmt, depth, fenced=fenced)
    for note in drawing.notes:
        echo_text(f"note: {note}\n", err=True)
    if output is None:
        click.echo(drawing.text, nl=False)
    else:
        _write(output, drawing.text)
    if report.errors:
        click.echo(error_text(report), nl=False, err=True)
    sys.exit(report.exit_code)


def _write(path: str, text: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        raise SpecError(f"{path}: cannot write the diagram ({exc.strerror})") from None
