"""`convcalc schema`: the config's JSON Schema, for editors."""

from __future__ import annotations

import json
import os

import click

from ..errors import SpecError
from .app import EXIT_HELP, cli


@cli.command(name="schema", epilog=EXIT_HELP)
@click.option(
    "-o",
    "--output",
    "output",
    metavar="FILE",
    default=None,
    help="Write the schema to FILE instead of standard output.",
)
def schema_cmd(output: str | None) -> None:
    """Print the JSON Schema of a config, generated from the layer types, for editors.

    With `convcalc schema -o convcalc.schema.json` and
    `# yaml-language-server: $schema=./convcalc.schema.json` as a config's first line,
    VS Code (Red Hat's YAML extension) and other editors complete and check layer types
    and their arguments as they are typed.
    """
    from ..schema import config_schema

    text = json.dumps(config_schema(), indent=2, ensure_ascii=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    if os.path.isdir(output):
        raise SpecError(
            f"{output}: is a folder", hint="give -o a file name, e.g. convcalc.schema.json"
        )
    try:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        raise SpecError(f"{output}: cannot write the schema ({exc.strerror})") from None
    click.echo(
        f"wrote {output}; a config whose first line is "
        "`# yaml-language-server: $schema=<its path>` is checked by the editor as it is typed",
        err=True,
    )
