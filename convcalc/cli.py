"""The command line: a thin shell over the library.

Each command parses its options, calls the library and renders. One place,
:func:`main`, turns a ConvcalcError into a message and an exit code.
"""

from __future__ import annotations

import os
import sys
from typing import Optional, Sequence

import click

from . import __version__
from .errors import ConvcalcError, SpecError

EXIT_HELP = """Exit codes: 0 the model works · 1 the model is wrong · 2 the input cannot be read."""


class _Group(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)  # in definition order


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_HELP)
@click.version_option(__version__, "-V", "--version", prog_name="convcalc")
def cli() -> None:
    """Shapes, parameters and MACs of convolutional networks, exactly as PyTorch computes them."""


def _is_terminal() -> bool:
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def _load(file: Optional[str], input_text: Optional[str], layers: Sequence[str]):  # type: ignore[no-untyped-def]
    from .spec import load_spec, shape_from_value, spec_from_strings

    input_shape = shape_from_value(input_text, location="--input") if input_text else None
    if file and layers:
        raise SpecError("give either FILE or --layer flags, not both")
    if layers:
        return spec_from_strings(layers, input_shape), input_shape
    if not file:
        raise SpecError("no model given", hint="pass a YAML FILE, or --input and one --layer per layer")
    return load_spec(file), input_shape


_format_option = click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "markdown", "csv"]),
    default="table",
    show_default=True,
    help="Output format. The table is plain text when the output is not a terminal.",
)


@cli.command(epilog=EXIT_HELP)
@click.argument("file", required=False)
@click.option("-i", "--input", "input_text", metavar="SHAPE", help="Input shape with batch, e.g. 1,3,224,224 (overrides the file's input).")
@click.option("-l", "--layer", "layers", multiple=True, metavar="LAYER", help="A layer as a PyTorch constructor call, e.g. 'Conv2d(3, 64, 7, stride=2, padding=3)'; repeat for each layer, optionally 'name=Conv2d(...)'.")
@_format_option
def shape(file: Optional[str], input_text: Optional[str], layers: Sequence[str], fmt: str) -> None:
    """Propagate the input shape through every layer of FILE (YAML, or - for stdin).

    Prints each layer's input and output shape, parameters and multiply-accumulates
    (MACs), with totals; when the network cannot work, says which layer, what it
    expected, what it got and how to fix it, and exits 1.
    """
    from .analyze import analyze
    from .render import error_text, print_rich, render

    spec, input_shape = _load(file, input_text, layers)
    report = analyze(spec, input_shape)
    if fmt == "table" and _is_terminal():
        print_rich(report)
    else:
        click.echo(render(report, fmt), nl=False)
        if fmt == "csv" and report.errors:
            click.echo(error_text(report), nl=False, err=True)
    sys.exit(report.exit_code)


@cli.command(name="layers")
@click.argument("type_name", metavar="[TYPE]", required=False)
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True)
def layers_cmd(type_name: Optional[str], fmt: str) -> None:
    """List every supported layer type with its arguments and defaults (or one TYPE)."""
    from .layers import catalog
    from .render import layers_text

    click.echo(layers_text(catalog(type_name), fmt), nl=False)


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Entry point: runs the CLI and turns convcalc errors into messages and exit codes."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="convcalc", standalone_mode=False)
    except ConvcalcError as exc:
        click.echo(f"error: {exc.message}", err=True)
        if exc.hint:
            click.echo(f"  hint: {exc.hint}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(0)
