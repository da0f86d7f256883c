"""``convcalc sweep FILE --sizes 160:512:32``: the model at many input sizes; ``--valid LO:HI``
and ``--valid-hw LO:HI``: the sizes for which it works."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from .app import cli
from .options import dtype_option, echo_text, format_choice, json_errors, load_model, model_options

SWEEP_EXITS = (
    "Exit codes: 0 every size given works (--sizes), some size works (--valid, --valid-hw) · "
    "1 otherwise · 2 the input cannot be read (a bad --sizes, say) · 3 a bug in convcalc."
)


@cli.command(epilog=SWEEP_EXITS)
@model_options
@click.option(
    "--sizes",
    "sizes_text",
    metavar="LIST",
    help="Input sizes, comma-separated: START:STOP[:STEP] (both ends included; square for "
    "2d and 3d inputs), N (square), HxW (DxHxW for 3d), e.g. 160:512:32 or 224x160,320x240.",
)
@click.option(
    "--valid",
    "valid_text",
    metavar="LO:HI",
    help="List the square sizes from LO to HI for which the model works, and those that "
    "leave no row or column uncovered.",
)
@click.option(
    "--valid-hw",
    "valid_hw_text",
    metavar="LO:HI",
    help="Search H and W each from LO to HI; says whether they are independent, and if not "
    "lists the (H, W) pairs that work.",
)
@dtype_option("Element type of the peak memory figures (sizes only).")
@format_choice(
    ["table", "json", "markdown", "csv"],
    "table",
    "Output format (--valid and --valid-hw: table or json).",
)
def sweep(
    file: str | None,
    input_text: str | None,
    layers: Sequence[str],
    sizes_text: str | None,
    valid_text: str | None,
    valid_hw_text: str | None,
    dtype: str,
    fmt: str,
) -> None:
    """Analyse FILE at many input sizes, or find the input sizes for which it works.

    The sizes replace the spatial axes of the input shape (the file's, or -i's), whose
    batch and channels they keep. With --sizes, one row per size: the input and output
    shape, the MACs, the peak memory of an eager inference pass at --dtype, whether every
    row and column of every layer's input is covered by its windows, and for a size that
    fails, the layer and why.
    """
    from ..sweep import parse_range, parse_sizes, spatial_axes, sweep_sizes, valid_hw, valid_sizes
    from ..sweepout import render_sizes, render_valid

    given = [t for t in (sizes_text, valid_text, valid_hw_text) if t is not None]
    if len(given) != 1:
        raise click.UsageError(
            "give one of --sizes LIST, --valid LO:HI or --valid-hw LO:HI"
            + (f" ({len(given)} given)" if given else "")
        )
    if sizes_text is None and fmt in ("markdown", "csv"):
        raise click.UsageError(f"--format {fmt} is for --sizes' table; --valid prints text or json")
    with json_errors(fmt):
        spec, input_shape = load_model(file, input_text, layers)
        x0 = input_shape if input_shape is not None else spec.input_shape
        nd = spatial_axes(x0)
        if sizes_text is not None:
            table = sweep_sizes(spec, parse_sizes(sizes_text, nd), input_shape, dtype)
            text, code = render_sizes(table, fmt), table.exit_code
        else:
            what = "--valid" if valid_text is not None else "--valid-hw"
            span = parse_range(valid_text or valid_hw_text or "", what, step=False)
            search = valid_sizes if valid_text is not None else valid_hw
            result = search(spec, span.start, span.stop - 1, input_shape)
            text, code = render_valid(result, fmt), result.exit_code
    (echo_text(text) if fmt == "table" else click.echo(text, nl=False))
    sys.exit(code)
