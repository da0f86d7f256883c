"""The command line: a thin shell over the library.

Each command parses its options, calls the library and renders. One place,
:func:`main`, turns a ConvcalcError into a message and an exit code.
"""

from __future__ import annotations

import gc
import math
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import click

from . import __version__
from .errors import ConvcalcError, SpecError
from .render import COLUMN_KEYS, FORMATS, RUN_KEYS

if TYPE_CHECKING:
    from .model import Spec
    from .shape import Shape

EXIT_HELP = """Exit codes: 0 the model works · 1 the model is wrong · 2 the input cannot be read · 3 a bug in convcalc."""

#: an internal error: not the model's fault nor the input's, so CI can tell it apart
EXIT_BUG = 3
BUG_HINT = "this is a bug in convcalc; rerun with CONVCALC_DEBUG=1 for the traceback and report it"


class _Group(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)  # in definition order


@click.group(
    cls=_Group,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=EXIT_HELP,
)
@click.version_option(__version__, "-V", "--version", prog_name="convcalc")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Shapes, parameters and MACs of convolutional networks, exactly as PyTorch computes them."""
    if ctx.invoked_subcommand is None:  # bare `convcalc`: the help, and no error
        click.echo(ctx.get_help())


def _complete_model(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[click.shell_completion.CompletionItem]:
    """FILE completes as a path, and as the name of a built-in model."""
    from click.shell_completion import CompletionItem

    items = [CompletionItem(incomplete, type="file")]
    if "/" not in incomplete and os.sep not in incomplete:
        items += _complete_zoo(ctx, param, incomplete)
    return items


def _complete_zoo(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[click.shell_completion.CompletionItem]:
    from click.shell_completion import CompletionItem

    return [CompletionItem(name) for name in _zoo_names(incomplete)]


def _zoo_names(prefix: str) -> list[str]:
    from .zoo import names

    return [name for name in names() if name.startswith(prefix)]


def _is_terminal() -> bool:
    """Standard output is a terminal: the table fits its width (NO_COLOR and TERM=dumb
    only take the colour away)."""
    return sys.stdout.isatty()


def _load(
    file: str | None, input_text: str | None, layers: Sequence[str]
) -> tuple[Spec, Shape | None]:
    from .spec import load_spec, shape_from_value, spec_from_strings

    input_shape = shape_from_value(input_text, location="--input") if input_text else None
    if file and layers:
        raise SpecError("give either FILE or --layer flags, not both")
    if layers:
        return spec_from_strings(layers, input_shape), input_shape
    if not file:
        raise SpecError(
            "no model given", hint="pass a YAML FILE, or --input and one --layer per layer"
        )
    _refuse_layer_as_file(file, input_text)
    return load_spec(file), input_shape


#: --columns' help: every key of COLUMN_KEYS (and a run's RUN_KEYS), a word on the less obvious
COLUMNS_HELP = (
    "Columns of the table, comma-separated and in order (# always comes first) from: "
    + ", ".join(k + " (the weight's shape)" if k == "kernel" else k for k in COLUMN_KEYS)
    + f"; run adds {', '.join(RUN_KEYS)}."
)


def _table_options(command: Callable[..., Any]) -> Callable[..., Any]:
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


def _refuse_layer_as_file(file: str, input_text: str | None) -> None:
    """A layer written where FILE goes (and no such file): say to pass it with -l."""
    match = re.fullmatch(_LAYER_CALL, file, re.DOTALL)
    if file == "-" or match is None or os.path.exists(file):
        return
    from .layers import REGISTRY

    if match.group(1) not in REGISTRY:
        return
    import shlex

    given = f"-i {shlex.quote(input_text)} " if input_text else ""
    later = "" if input_text else " (with -i N,C,H,W for shapes and MACs)"
    raise SpecError(
        f"{file}: no such file, and it reads as a layer",
        hint=f"pass layers with -l: convcalc shape {given}-l {shlex.quote(file)}{later}",
    )


def _format_choice(
    choices: Sequence[str], default: str, help: str | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``-f/--format``, one of ``choices``: every command's output format, as ``fmt``."""
    return click.option(
        "-f",
        "--format",
        "fmt",
        type=click.Choice(list(choices)),
        default=default,
        show_default=True,
        help=help,
    )


_format_option = _format_choice(
    FORMATS, "table", "Output format. The table is plain text when the output is not a terminal."
)


class _json_errors:
    """With --format json, an input that cannot be read is reported as JSON on stdout too."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        if self.fmt != "json" or exc is None:
            return
        from .render import error_json

        if isinstance(exc, ConvcalcError):
            click.echo(error_json(exc), nl=False)
        elif isinstance(exc, Exception) and not isinstance(
            exc, (click.exceptions.ClickException, click.exceptions.Exit, BrokenPipeError)
        ):  # a bug of ours (exit 3, said on stderr by main): the JSON says so too
            bug = ConvcalcError(f"internal error: {type(exc).__name__}", hint=BUG_HINT)
            click.echo(error_json(bug), nl=False)


def _model_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """FILE, or --input and --layer flags: how every command is told the model."""
    decorators = [
        click.argument("file", required=False, shell_complete=_complete_model),
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


@cli.command(epilog=EXIT_HELP)
@_model_options
@click.option(
    "-d",
    "--depth",
    type=click.IntRange(min=0),
    default=None,
    metavar="N",
    help="Collapse blocks nested deeper than N into one row each (0: top-level rows only). Default: every layer.",
)
@click.option(
    "--to-yaml",
    "to_yaml",
    is_flag=True,
    help="FILE is a print(model) printout: write the equivalent YAML config to stdout instead of the table.",
)
@_table_options
@_format_option
@click.option(
    "-q",
    "--totals",
    is_flag=True,
    help="One line: input → output shape, params and MACs (or what failed); for scripts.",
)
def shape(
    file: str | None,
    input_text: str | None,
    layers: Sequence[str],
    depth: int | None,
    to_yaml: bool,
    columns_text: str | None,
    wide: bool,
    fmt: str,
    totals: bool,
) -> None:
    """Propagate the input shape through every layer of FILE (YAML, print(model)'s text, or - for stdin).

    Prints each layer's input and output shape, parameters and multiply-accumulates
    (MACs), with totals; when the network cannot work, says which layer, what it
    expected, what it got and how to fix it, and exits 1. Without an input shape,
    prints the parameters the arguments fix and says what needs --input.
    """
    from .analysis import analyze
    from .render import error_text, parse_columns, print_rich, render, to_line

    if totals and fmt != "table":
        raise click.UsageError(
            f"-q/--totals prints one line of text and does not combine with --format {fmt} "
            "(whose output already holds the totals)"
        )
    if to_yaml:
        from .spec import printout_yaml, shape_from_value

        if layers or not file:
            raise SpecError("--to-yaml converts a FILE that holds print(model)'s text")
        input_shape = shape_from_value(input_text, location="--input") if input_text else None
        click.echo(printout_yaml(file, input_shape), nl=False)
        return
    with _json_errors(fmt):
        columns = parse_columns(columns_text) if columns_text is not None else None
        spec, input_shape = _load(file, input_text, layers)
        report = analyze(spec, input_shape)
        # the model and its report live until the process ends: the cyclic collector need
        # not walk their objects again while the output is written
        gc.freeze()
        text = render(report, fmt, depth=depth, columns=columns) if fmt == "json" else None
    if totals:
        click.echo(to_line(report))
    elif fmt == "table" and _is_terminal():
        print_rich(report, depth=depth, columns=columns, wide=wide)
    else:
        click.echo(text or render(report, fmt, depth=depth, columns=columns), nl=False)
        if fmt == "csv" and report.errors:
            click.echo(error_text(report), nl=False, err=True)
    sys.exit(report.exit_code)


@cli.command(epilog=EXIT_HELP)
@_model_options
@click.option(
    "-w",
    "--weights",
    metavar="W.pt|W.safetensors|W.npz",
    help="Parameters and buffers: a state_dict saved with torch.save (read without torch), as safetensors, or with numpy.savez (keys <layer name>.weight …). Default: PyTorch's initialisation, seeded.",
)
@click.option(
    "--input-data",
    metavar="X.npy|X.pt",
    help="The input tensor, saved with numpy.save or torch.save (its shape becomes the input shape). Default: seeded standard normal.",
)
@click.option(
    "--save-output", metavar="Y.npy", help="Write the final output here, in the chosen dtype."
)
@click.option(
    "--compare",
    metavar="REF.npy|REF.pt",
    help="Compare the final output with this reference (torch's output, say); exit 1 when an element is off by more than atol + rtol·|ref|.",
)
@click.option(
    "--rtol",
    type=float,
    default=None,
    help="Relative tolerance of --compare. Default: 1e-4 in float32, 1e-9 in float64.",
)
@click.option(
    "--atol",
    type=float,
    default=None,
    help="Absolute tolerance of --compare. Default: rtol × the largest |ref|.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed for the random weights and input."
)
@click.option(
    "--dtype", type=click.Choice(["float32", "float64"]), default="float32", show_default=True
)
@click.option(
    "--repeat",
    type=click.IntRange(min=1, max=1000),
    default=1,
    show_default=True,
    help="Run the pass N times and report each layer's best time.",
)
@click.option(
    "--max-memory",
    "max_memory",
    default="1GiB",
    show_default=True,
    metavar="SIZE",
    help="Keep each layer's temporaries under this (e.g. 512M, 2G); a layer whose output alone exceeds it stops the run before computing.",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Run the kernels, BLAS included, on at most N threads (as torch.set_num_threads). Default: one per idle core, at most 2.",
)
@click.option(
    "--no-fold",
    "no_fold",
    is_flag=True,
    help="Run every BatchNorm on its own instead of folding it into the convolution or Linear before it (to time it apart, as torch's eager mode runs it).",
)
@_table_options
@_format_option
def run(
    file: str | None,
    input_text: str | None,
    layers: Sequence[str],
    weights: str | None,
    input_data: str | None,
    save_output: str | None,
    compare: str | None,
    rtol: float | None,
    atol: float | None,
    seed: int,
    dtype: str,
    repeat: int,
    max_memory: str,
    threads: int | None,
    no_fold: bool,
    columns_text: str | None,
    wide: bool,
    fmt: str,
) -> None:
    """Run FILE's network for real in NumPy and check every layer's output shape.

    Prints the `shape` table plus, per layer, the real output shape, whether it
    matches the prediction and the kernel's wall time. Exits 0 when every shape
    matches, 1 when the model is wrong (before computing), a shape differs, or the
    output differs from the --compare reference.
    """
    from . import cores

    idle_from = cores.sample() if threads is None else None  # before numpy loads
    from .files import load_array, load_weights
    from .forward import compare_output, run_forward
    from .render import error_text, parse_columns, print_rich, progress_bar, render
    from .weights import state_dict_size

    with _json_errors(fmt):
        columns = parse_columns(columns_text, run=True) if columns_text is not None else None
        spec, input_shape = _load(file, input_text, layers)
        limit = parse_size(max_memory)
        x = load_array(input_data, "input data", limit) if input_data else None
        if x is not None and input_shape is not None and tuple(x.shape) != input_shape:
            raise SpecError(
                f"--input {','.join(map(str, input_shape))} disagrees with --input-data of shape {tuple(x.shape)}",
                hint="leave out --input: the data's shape is the input shape",
            )
        params = load_weights(weights, limit, state_dict_size(spec)) if weights else None
        reference = load_array(compare, "reference", limit) if compare else None
        for name, value in (("--rtol", rtol), ("--atol", atol)):
            if value is not None and not 0 <= value < math.inf:
                raise SpecError(f"{name} must be a finite non-negative number, got {value}")
        terminal = fmt == "table" and _is_terminal()
        with progress_bar(terminal and sys.stderr.isatty()) as progress:
            result = run_forward(
                spec, input_shape, weights=params, input_data=x, seed=seed, dtype=dtype,
                repeat=repeat, max_memory=limit, progress=progress, fold=not no_fold,
                threads=threads, held=0 if reference is None else reference.nbytes,
                idle_from=idle_from,
            )  # fmt: skip
        if reference is not None and result.report.ok:
            result = compare_output(result, reference, rtol, atol)
        if save_output and result.output is not None:
            _save(save_output, result.output)
        if terminal:
            print_rich(result.report, result, columns=columns, wide=wide)
        else:
            click.echo(render(result.report, fmt, result, columns=columns), nl=False)
            if fmt == "csv" and result.report.errors:
                click.echo(error_text(result.report), nl=False, err=True)
    sys.exit(result.exit_code)


def _save(path: str, array: Any) -> None:
    """``array`` as an .npy file at exactly ``path`` (NumPy's own ``save`` would add ``.npy`` to a
    name without it, and so write ``/tmp.npy`` when given the folder ``/tmp``)."""
    import numpy as np

    if os.path.isdir(path):
        raise SpecError(f"{path}: is a folder", hint="give --save-output a file name, e.g. out.npy")
    try:
        with open(path, "wb") as f:
            np.save(f, array)
    except OSError as exc:
        raise SpecError(f"{path}: cannot write the output ({exc.strerror})") from None


#: a size: digits with an optional fraction and exponent, then K/M/G/T (powers of 1024), an
#: optional "i" and "B"; written so that no part can match the same digits two ways
_SIZE = r"\s*((?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:e[0-9]+)?)\s*([kmgt]?)(i?b)?\s*"


def parse_size(text: str) -> int:
    """``--max-memory``: ``"1GiB"``, ``"512M"``, ``"2e9"`` → bytes (K/M/G/T are powers of 1024)."""
    match = re.fullmatch(_SIZE, text.lower())  # compiled on first use: only run reads sizes
    if not match:
        raise SpecError(
            f"--max-memory {text[:40]!r}{'…' if len(text) > 40 else ''} is not a size",
            hint="write it like 512M, 2G or 1GiB",
        )
    value = float(match.group(1)) * 1024 ** " kmgt".index(match.group(2) or " ")
    if not value >= 1 or value == float("inf"):
        raise SpecError(
            f"--max-memory {text[:40]!r}{'…' if len(text) > 40 else ''} must be a positive size "
            "a machine can have",
            hint="write it like 512M, 2G or 1GiB",
        )
    return int(value)


@cli.command(name="layers")
@click.argument("type_name", metavar="[TYPE]", required=False)
@_format_choice(["text", "markdown", "json"], "text")
def layers_cmd(type_name: str | None, fmt: str) -> None:
    """List every supported layer type with its arguments and defaults (or one TYPE)."""
    from .layers import catalog
    from .render import layers_text

    with _json_errors(fmt):
        click.echo(layers_text(catalog(type_name), fmt), nl=False)


@cli.command(name="zoo")
@click.argument("name", required=False, shell_complete=_complete_zoo)
@_format_choice(
    ["table", "json", "markdown"], "table", "Format of the list (NAME's YAML is printed as it is)."
)
def zoo_cmd(name: str | None, fmt: str) -> None:
    """List the built-in models with their input, parameters and MACs, or print NAME's YAML.

    Any command reads a built-in model by its name (convcalc shape resnet50) where no
    file of that name exists; `convcalc zoo resnet50 > net.yaml` is a starting point
    to edit. Its `import: ../blocks.yaml` finds the built-in block library from any folder.
    """
    from . import zoo

    if name is not None:
        with _json_errors(fmt):
            click.echo(zoo.read(name)[1], nl=False)
        return
    from .render import zoo_text

    click.echo(zoo_text(zoo.catalog(), fmt), nl=False)


#: problems of one check (a weight file's, say) printed before the rest are only counted
SHOWN_PROBLEMS = 10


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: runs the CLI and turns convcalc errors into messages and exit codes.

    As the process's own entry point (no ``argv``), it ends the process once the output is
    flushed, without the interpreter freeing every object of a long model one by one
    (a tenth of a 10,000-layer run); called with ``argv`` (tests, scripts), it raises
    SystemExit as usual.
    """
    try:
        _main(argv)
    except SystemExit as exc:
        if argv is not None or not (exc.code is None or isinstance(exc.code, int)):
            raise
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (BrokenPipeError, ValueError):  # a closed pipe or stream: nothing left to say
            pass
        os._exit(exc.code or 0)


def _wants_json(argv: Sequence[str] | None) -> bool:
    """Whether the command line asks for JSON output (read from the raw arguments: click
    stopped at a usage error before it read them all)."""
    args = list(sys.argv[1:] if argv is None else argv)
    pairs = zip(args, args[1:] + [""])
    return any(
        a in ("--format=json", "-fjson") or (a in ("--format", "-f") and b == "json")
        for a, b in pairs
    )


def _main(argv: Sequence[str] | None) -> None:
    try:
        cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="convcalc",
            standalone_mode=False,
        )
    except ConvcalcError as exc:
        problems = [exc, *exc.others]
        for problem in problems[:SHOWN_PROBLEMS]:
            click.echo(f"error: {problem.message}", err=True)
            if problem.hint:
                click.echo(f"  hint: {problem.hint}", err=True)
        if len(problems) > SHOWN_PROBLEMS:
            more = len(problems) - SHOWN_PROBLEMS
            click.echo(f"error: … and {more} more (--format json lists them all)", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        if isinstance(exc, click.UsageError) and _wants_json(argv):
            from .render import error_json

            param = exc.param if isinstance(exc, click.BadParameter) else None
            option = param.opts[-1] if param is not None and param.opts else None
            click.echo(error_json(SpecError(exc.format_message(), argument=option)), nl=False)
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(0)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug in convcalc, not bad input: say so in one line
        if os.environ.get("CONVCALC_DEBUG"):
            raise
        click.echo(f"internal error: {type(exc).__name__}: {exc}", err=True)
        click.echo(f"  hint: {BUG_HINT}", err=True)
        sys.exit(EXIT_BUG)
