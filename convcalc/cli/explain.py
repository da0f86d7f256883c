"""convcalc explain: one layer's arithmetic written out with its numbers."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from ..errors import SpecError
from .app import EXIT_HELP, cli
from .options import complete_model, echo_text, format_choice, json_errors, load_model


@cli.command(epilog=EXIT_HELP)
@click.argument("file", required=False, shell_complete=complete_model)
@click.argument("row", required=False)
@click.option(
    "-i",
    "--input",
    "input_text",
    metavar="SHAPE",
    help="Input shape with batch, e.g. 1,3,5,5 (overrides the file's input).",
)
@click.option(
    "-l",
    "--layer",
    "layers",
    multiple=True,
    metavar="LAYER",
    help="A layer as a PyTorch constructor call, e.g. 'Conv2d(3, 64, 5, stride=2, padding=1)'; repeat for a stack (the last one is explained, or the ROW given).",
)
@format_choice(["text", "json"], "text")
def explain(
    file: str | None, row: str | None, input_text: str | None, layers: Sequence[str], fmt: str
) -> None:
    """Work out one layer's output size, parameters and MACs as a teacher would: each formula
    with the numbers written in, step by step, to the result `shape` reports.

    The layer is ROW of FILE (its name or index; FILE may be a built-in model's name), or
    the one given with -l. A layer that fails is explained up to the rule that fails, then
    the error is shown (exit 1).
    """
    from ..explainout import explanation_json, explanation_text
    from ..explanation import explain as explain_row

    if layers and file is not None:
        if row is not None:
            raise SpecError("with --layer, give at most one ROW (a name or index), not a FILE")
        file, row = None, file  # the one argument is the row of the --layer stack
    with json_errors(fmt):
        spec, input_shape = load_model(file, input_text, layers)
        result = explain_row(spec, input_shape, row, last=bool(layers))
    if fmt == "json":
        click.echo(explanation_json(result), nl=False)
        sys.exit(result.exit_code)
    echo_text(explanation_text(result))
    if result.error is not None:
        raise result.error
