"""What the commands share: how a model is given (FILE or --input and --layer), the table's
options, the output format, and JSON for errors under --format json."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import click

from ..errors import ConvcalcError, SpecError
from ..render import COLUMN_KEYS, FORMATS, RUN_KEYS
from .app import BUG_HINT

if TYPE_CHECKING:
    from ..model import Spec
    from ..shape import Shape


def complete_model(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[click.shell_completion.CompletionItem]:
    """FILE completes as a path, and as the name of a built-in model."""
    from click.shell_completion import CompletionItem

    items = [CompletionItem(incomplete, type="file")]
    if "/" not in incomplete and os.sep not in incomplete:
        items += complete_zoo(ctx, param, incomplete)
    return items


def complete_zoo(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[click.shell_completion.CompletionItem]:
    from click.shell_completion import CompletionItem

    return [CompletionItem(name) for name in _zoo_names(incomplete)]


def _zoo_names(prefix: str) -> list[str]:
    from ..zoo import names

    return [name for name in names() if name.startswith(prefix)]


def is_terminal() -> bool:
    """Standard output is a terminal: the table fits its width (NO_COLOR and TERM=dumb
    only take the colour away)."""
    return sys.stdout.isatty()


def load_model(
    file: str | None, input_text: str | None, layers: Sequence[str], max_bytes: int | None = None
) -> tuple[Spec, Shape | None]:
    """The model of FILE or of --layer flags, and --input's shape; ``max_bytes``: the memory
    reading FILE's YAML may take (run's --max-memory)."""
    from ..spec import load_spec, shape_from_value, spec_from_strings

    input_shape = shape_from_value(input_text, location="--input") if input_text else None
    if file and layers:
        raise SpecError("give either FILE or --layer flags, not both")
    if layers:
        return spec_from_strings(layers, input_shape), input_shape
    if not file:
        raise SpecError(
            "no model given", hint="pass a YAML FILE, or --input and one --layer per layer"
        )
    refuse_layer_as_file(file, input_text)
    return load_spec(file, max_bytes=max_bytes), input_shape


#: --columns' help: every key of COLUMN_KEYS (and a run's RUN_KEYS), a word on the less obvious
COLUMNS_HELP = (
    "Columns of the table, comma-separated and in order (# always comes first) from: "
    + ", ".join(
        k + " (the weight's shape)"
        if k == "kernel"
        else k + " (receptive field: size / jump / start)"
        if k == "rf"
        else k
        for k in COLUMN_KEYS
    )
    + f"; run adds {', '.join(RUN_KEYS)}."
)


def table_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--columns and --wide: which columns a table shows, and whether a terminal's width limits them."""
    decorators = [
        click.option(
            "--columns",
            "columns_text",
            metavar="LIST",
            help=COLUMNS_HELP,
        ),
        click.option(
            "--wide",
            is_flag=True,
            help="On a terminal, show every column even when lines get wider than the terminal (by default columns are left out to fit, and a line says which).",
        ),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


#: ``Conv2d(3, 6, 5)``, ``nn.ReLU``, ``conv1=Conv2d(...)``: a layer, as --layer takes it
_LAYER_CALL = r"\s*(?:\w+\s*[=:]\s*)?(?:(?:torch\.)?nn\.)?([A-Za-z_]\w*)\s*(?:\(.*\))?\s*"


def refuse_layer_as_file(file: str, input_text: str | None) -> None:
    """A layer written where FILE goes (and no such file): say to pass it with -l."""
    match = re.fullmatch(_LAYER_CALL, file, re.DOTALL)
    if file == "-" or match is None or os.path.exists(file):
        return
    from ..layers import REGISTRY

    if match.group(1) not in REGISTRY:
        return
    import shlex

    given = f"-i {shlex.quote(input_text)} " if input_text else ""
    later = "" if input_text else " (with -i N,C,H,W for shapes and MACs)"
    raise SpecError(
        f"{file}: no such file, and it reads as a layer",
        hint=f"pass layers with -l: convcalc shape {given}-l {shlex.quote(file)}{later}",
    )


def format_choice(
    choices: Sequence[str], default: str | None, help: str | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``-f/--format``, one of ``choices``: every command's output format, as ``fmt`` (no
    default: the command chooses, as draw does from its output's extension)."""
    return click.option(
        "-f",
        "--format",
        "fmt",
        type=click.Choice(list(choices)),
        default=default,
        show_default=True,
        help=help,
    )


def depth_option(help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``-d/--depth N``: how deep blocks are shown before they collapse, as ``shape`` and
    ``draw`` collapse them (None: every layer)."""
    return click.option(
        "-d", "--depth", type=click.IntRange(min=0), default=None, metavar="N", help=help
    )


format_option = format_choice(
    FORMATS, "table", "Output format. The table is plain text when the output is not a terminal."
)


class json_errors:
    """With --format json, an input that cannot be read is reported as JSON on stdout too."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        if self.fmt != "json" or exc is None:
            return
        from ..render import error_json

        if isinstance(exc, ConvcalcError):
            click.echo(error_json(exc), nl=False)
        elif isinstance(exc, Exception) and not isinstance(
            exc, (click.exceptions.ClickException, click.exceptions.Exit, BrokenPipeError)
        ):  # a bug of ours (exit 3, said on stderr by main): the JSON says so too
            bug = ConvcalcError(f"internal error: {type(exc).__name__}", hint=BUG_HINT)
            click.echo(error_json(bug), nl=False)


def model_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """FILE, or --input and --layer flags: how every command is told the model."""
    decorators = [
        click.argument("file", required=False, shell_complete=complete_model),
        click.option(
            "-i",
            "--input",
            "input_text",
            metavar="SHAPE",
            help="Input shape with batch, e.g. 1,3,224,224 (overrides the file's input).",
        ),
        click.option(
            "-l",
            "--layer",
            "layers",
            multiple=True,
            metavar="LAYER",
            help="A layer as a PyTorch constructor call, e.g. 'Conv2d(3, 64, 7, stride=2, padding=3)'; repeat for each layer, optionally 'name=Conv2d(...)'.",
        ),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


#: the element types of the memory figures (liveness.DTYPE_BYTES's keys; that module is not
#: loaded for --help)
DTYPES = ("float32", "float16", "bfloat16", "float64", "int8")


def dtype_option(help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--dtype``: the element type the memory figures are given at."""
    return click.option(
        "--dtype", type=click.Choice(DTYPES), default="float32", show_default=True, help=help
    )


def wrapped(line: str, width: int) -> str:
    """``line`` broken between words to ``width`` columns, later lines indented: a terminal
    would cut words and figures at its edge."""
    import textwrap

    indent = " " * (len(line) - len(line.lstrip()) + 4)
    # a figure and its unit stay together ("352.80 K", "97.2 %", "6.12 MiB"), and so does a
    # sum's operator with its next term
    kept = re.sub(r"(\d) (?=[KMGT]i?B?\b|%)", "\\1\u00a0", line)
    kept = re.sub(r" ([−+·/=×]) ", " \\1\u00a0", kept)
    lines = textwrap.wrap(
        kept, max(width, 20), subsequent_indent=indent, break_long_words=False,
        break_on_hyphens=False,
    )  # fmt: skip
    return "\n".join(lines).replace("\u00a0", " ") if lines else line


def echo_text(text: str, err: bool = False) -> None:
    """Text output (on standard error with ``err``): as it is to a pipe or file; on a terminal
    each line wrapped to its width."""
    if not (sys.stderr if err else sys.stdout).isatty():
        click.echo(text, nl=False, err=err)
        return
    import shutil

    width = shutil.get_terminal_size().columns
    click.echo(
        "\n".join(wrapped(line, width) if len(line) > width else line for line in text.split("\n")),
        nl=False,
        err=err,
    )
