"""``convcalc export FILE --to torch``: the config as a PyTorch module's source."""

from __future__ import annotations

from collections.abc import Sequence

import click

from ..errors import SpecError
from .app import EXIT_HELP, cli
from .options import load_model, model_options

#: what --to can write (more targets can come)
TARGETS = ("torch",)


@cli.command(epilog=EXIT_HELP)
@model_options
@click.option(
    "--to",
    "target",
    type=click.Choice(TARGETS),
    required=True,
    help="What to write: torch, a Python file defining an nn.Module (it imports only torch).",
)
@click.option(
    "--class-name",
    "class_name",
    metavar="NAME",
    help="The module's class name (default: from the model's name, e.g. resnet18 → Resnet18).",
)
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Path(dir_okay=False, writable=True),
    help="Write to this file instead of stdout.",
)
def export(
    file: str | None,
    input_text: str | None,
    layers: Sequence[str],
    target: str,
    class_name: str | None,
    output: str | None,
) -> None:
    """Write FILE as the source of a PyTorch nn.Module, to stdout (or -o FILE).

    Its __init__ builds the layers with the config's names and arguments (an argument
    taken from the input written out), its forward follows the graph (from, Add, Mul,
    Concat), and each block that is one unit becomes its own nn.Module class. Dotted
    names become nested containers, so its state_dict keys and shapes are the config's:
    a state_dict that `run --weights` takes loads into it with strict=True.
    """
    from ..torchexport import to_torch_source

    spec, input_shape = load_model(file, input_text, layers)
    source = to_torch_source(spec, class_name, input_shape)
    if output is None:
        click.echo(source, nl=False)
        return
    try:
        with open(output, "w", encoding="utf-8") as out:
            out.write(source)
    except OSError as exc:
        raise SpecError(f"cannot write {output}: {exc.strerror or exc}", argument="-o") from None
