"""``convcalc import SOURCE``: a live PyTorch model, traced with torch.fx, as a config
(torch is loaded only when the command runs; without it, exit 2 says what to install)."""

from __future__ import annotations

import click

from .app import cli


@cli.command(name="import")
@click.argument("source", metavar="SOURCE")
@click.option(
    "-i",
    "--input",
    "input_text",
    metavar="SHAPE",
    required=True,
    help="Input shape with batch to trace the model at, e.g. 1,3,224,224.",
)
@click.option(
    "-o",
    "--output",
    "output",
    metavar="FILE",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the config to FILE instead of stdout.",
)
@click.option(
    "--kwargs",
    "kwargs",
    metavar="JSON",
    help="Keyword arguments for the factory, as a JSON object: --kwargs '{\"num_classes\": 10}'.",
)
@click.option("--flat", is_flag=True, help="One layer per line: no blocks for repeated modules.")
def import_cmd(
    source: str, input_text: str, output: str | None, kwargs: str | None, flat: bool
) -> None:
    """Write the config of a PyTorch model: SOURCE is package.module:factory
    (torchvision.models:resnet50) or path/file.py:factory, a callable returning an
    nn.Module. Needs torch (pip install 'convcalc[torch]').

    The model is traced with torch.fx at the --input shape; layer names are its module
    names, so `convcalc run CONFIG --weights` loads its state_dict as it is. An op with no
    layer type, a parameter used by two layers or control flow torch.fx cannot trace is
    an error naming the op and its source line (exit 2).
    """
    from ..spec import shape_from_value
    from ..torchimport import import_yaml, resolve_source

    input_shape = shape_from_value(input_text, location="--input")
    model = resolve_source(source, kwargs)
    text = import_yaml(model, input_shape, flat=flat, source=source)
    if output is None:
        click.echo(text, nl=False)
    else:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text)
