"""The commands over one model: shape and run; and the catalogues: layers and zoo."""

from __future__ import annotations

import gc
import math
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from ..errors import SpecError
from . import options
from .app import EXIT_HELP, cli

if TYPE_CHECKING:
    from ..model import Spec
    from ..report import Report
from .options import (
    complete_zoo,
    depth_option,
    dtype_option,
    format_choice,
    format_option,
    json_errors,
    load_model,
    model_options,
    table_options,
)


@cli.command(epilog=EXIT_HELP)
@model_options
@depth_option(
    "Collapse blocks nested deeper than N into one row each (0: top-level rows only). Default: every layer."
)
@click.option(
    "--to-yaml",
    "to_yaml",
    is_flag=True,
    help="FILE is a print(model) printout: write the equivalent YAML config to stdout instead of the table.",
)
@table_options
@format_option
@dtype_option("Element type of the memory figures (sizes only).")
@click.option(
    "--batch-for",
    "batch_for",
    metavar="SIZE",
    help="Also find the largest batch whose memory fits SIZE (e.g. 16GiB): params, buffers and the peak of an inference pass, or with --training what a training step keeps.",
)
@click.option(
    "--training",
    is_flag=True,
    help="--batch-for counts a training step: gradients, the optimizer's state and every activation.",
)
@click.option(
    "--optimizer",
    type=click.Choice(["sgd", "momentum", "adam"]),
    default="adam",
    show_default=True,
    help="With --training: the copies of the trainable parameters the optimizer keeps (0, 1, 2).",
)
@click.option(
    "--rf",
    "rf",
    is_flag=True,
    help="Add the receptive field column (size / jump / start in input elements per spatial axis, global where a layer mixes every position; --columns rf places it).",
)
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
    dtype: str,
    batch_for: str | None,
    training: bool,
    optimizer: str,
    rf: bool,
    totals: bool,
) -> None:
    """Propagate the input shape through every layer of FILE (YAML, print(model)'s text, or - for stdin).

    Prints each layer's input and output shape, parameters and multiply-accumulates
    (MACs), with totals; when the network cannot work, says which layer, what it
    expected, what it got and how to fix it, and exits 1. Without an input shape,
    prints the parameters the arguments fix and says what needs --input.
    """
    from ..analysis import analyze
    from ..render import error_text, parse_columns, print_rich, render, to_line

    if totals and fmt != "table":
        raise click.UsageError(
            f"-q/--totals prints one line of text and does not combine with --format {fmt} "
            "(whose output already holds the totals)"
        )
    if to_yaml:
        from ..spec import printout_yaml, shape_from_value

        if layers or not file:
            raise SpecError("--to-yaml converts a FILE that holds print(model)'s text")
        input_shape = shape_from_value(input_text, location="--input") if input_text else None
        click.echo(printout_yaml(file, input_shape), nl=False)
        return
    with json_errors(fmt):
        columns = parse_columns(columns_text) if columns_text is not None else None
        spec, input_shape = load_model(file, input_text, layers)
        # the receptive fields cost about a fifth of the analysis of a long stack: computed
        # where they are shown (JSON, --rf, --columns …,rf)
        shown = fmt == "json" or rf or (columns is not None and "rf" in columns)
        report = analyze(spec, input_shape, dtype=dtype, receptive_fields=shown)
        if batch_for is not None:
            report = _with_batch_fit(spec, report, batch_for, training, optimizer)
        if rf:
            from ..table import column_keys, with_rf

            keys = columns or column_keys(report, None, None, terminal=options.is_terminal())
            columns = with_rf(keys)
        # the model and its report live until the process ends: the cyclic collector need
        # not walk their objects again while the output is written
        gc.freeze()
        text = render(report, fmt, depth=depth, columns=columns) if fmt == "json" else None
    if totals:
        click.echo(to_line(report))
    elif fmt == "table" and options.is_terminal():
        print_rich(report, depth=depth, columns=columns, wide=wide)
    else:
        click.echo(text or render(report, fmt, depth=depth, columns=columns), nl=False)
        if fmt == "csv" and report.errors:
            click.echo(error_text(report), nl=False, err=True)
    sys.exit(report.exit_code)


def _with_batch_fit(
    spec: Spec, report: Report, budget: str, training: bool, optimizer: str
) -> Report:
    """The report with ``--batch-for``'s answer (a model that fails has none)."""
    from dataclasses import replace

    from ..batch import largest_batch
    from ..quantities import parse_bytes

    limit = parse_bytes(budget, "--batch-for", least=1)
    if not report.ok or report.input_shape is None or report.memory is None:
        return report
    fit = largest_batch(
        spec,
        report.input_shape,
        limit,
        dtype=report.memory.dtype,
        training=training,
        optimizer=optimizer,
    )
    return replace(report, batch_fit=fit)


@cli.command(epilog=EXIT_HELP)
@model_options
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
    "--max-work",
    "max_work",
    default="300G",
    show_default=True,
    metavar="COUNT",
    help="Refuse, before computing, a run that asks for more work than this, in MACs (a layer without MACs counts its elements times its window; --repeat multiplies it): 300G is about a minute on one core.",
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
@click.option(
    "--eager-memory",
    "eager_memory",
    is_flag=True,
    help="Hold memory as torch's eager mode does (no folding, an in-place layer writes over its input, nothing else reused), so that the activation memory held equals the predicted peak.",
)
@table_options
@format_option
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
    max_work: str,
    threads: int | None,
    no_fold: bool,
    eager_memory: bool,
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
    from .. import cores

    idle_from = cores.sample() if threads is None else None  # before numpy loads
    from ..files import load_array, load_weights
    from ..forward import compare_output, run_forward
    from ..jsonout import json_pieces
    from ..quantities import parse_count
    from ..render import error_text, parse_columns, print_rich, progress_bar, render
    from ..weights import state_dict_size

    with json_errors(fmt):
        columns = parse_columns(columns_text, run=True) if columns_text is not None else None
        limit = parse_size(max_memory)
        spec, input_shape = load_model(file, input_text, layers, limit)
        work_limit = parse_count(max_work, "--max-work")
        if save_output:
            _check_save(save_output)
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
        terminal = fmt == "table" and options.is_terminal()
        with progress_bar(terminal and sys.stderr.isatty()) as progress:
            result = run_forward(
                spec, input_shape, weights=params, input_data=x, seed=seed, dtype=dtype,
                repeat=repeat, max_memory=limit, progress=progress, fold=not no_fold,
                threads=threads, held=0 if reference is None else reference.nbytes,
                idle_from=idle_from, eager_memory=eager_memory, max_work=work_limit,
            )  # fmt: skip
        if reference is not None and result.report.ok:
            result = compare_output(result, reference, rtol, atol)
        if save_output and result.output is not None:
            _save(save_output, result.output)
        if terminal:
            print_rich(result.report, result, columns=columns, wide=wide)
        elif fmt == "json":  # written as it is made: a long run's text is never held whole
            for piece in json_pieces(result.report, result):
                click.echo(piece, nl=False)
        else:
            click.echo(render(result.report, fmt, result, columns=columns), nl=False)
            if fmt == "csv" and result.report.errors:
                click.echo(error_text(result.report), nl=False, err=True)
    sys.exit(result.exit_code)


def _check_save(path: str) -> None:
    """Before the run: ``--save-output`` names a file, and not the standard output the report
    is written to (the array and the report would be mixed in one stream)."""
    if os.path.isdir(path):
        raise SpecError(f"{path}: is a folder", hint="give --save-output a file name, e.g. out.npy")
    try:
        same = os.path.samestat(os.stat(path), os.fstat(sys.stdout.fileno()))
    except (OSError, ValueError, AttributeError):
        same = False  # a new file, or a standard output that is no file
    if same:
        raise SpecError(
            f"--save-output {path}: is the standard output, where the report goes",
            argument="save-output",
            hint="give --save-output a file name, e.g. out.npy",
        )


def _save(path: str, array: Any) -> None:
    """``array`` as an .npy file at exactly ``path`` (NumPy's own ``save`` would add ``.npy`` to a
    name without it, and so write ``/tmp.npy`` when given the folder ``/tmp``); the path was
    checked before the run (:func:`_check_save`)."""
    import numpy as np

    try:
        with open(path, "wb") as f:
            np.save(f, array)
    except OSError as exc:
        raise SpecError(f"{path}: cannot write the output ({exc.strerror})") from None


def parse_size(text: str) -> int:
    """``--max-memory``: ``"1GiB"``, ``"512M"``, ``"2e9"`` → bytes (K/M/G/T are powers of 1024)."""
    from ..quantities import parse_bytes

    return parse_bytes(text, "--max-memory", least=1)


@cli.command(name="layers")
@click.argument("type_name", metavar="[TYPE]", required=False)
@format_choice(["text", "markdown", "json"], "text")
def layers_cmd(type_name: str | None, fmt: str) -> None:
    """List every supported layer type with its arguments and defaults (or one TYPE)."""
    from ..layers import catalog
    from ..render import layers_text

    with json_errors(fmt):
        click.echo(layers_text(catalog(type_name), fmt), nl=False)


@cli.command(name="zoo")
@click.argument("name", required=False, shell_complete=complete_zoo)
@format_choice(
    ["table", "json", "markdown"], "table", "Format of the list (NAME's YAML is printed as it is)."
)
def zoo_cmd(name: str | None, fmt: str) -> None:
    """List the built-in models with their input, parameters and MACs, or print NAME's YAML.

    Any command reads a built-in model by its name (convcalc shape resnet50) where no
    file of that name exists; `convcalc zoo resnet50 > net.yaml` is a starting point
    to edit. Its `import: ../blocks.yaml` finds the built-in block library from any folder.
    """
    from .. import zoo

    if name is not None:
        with json_errors(fmt):
            click.echo(zoo.read(name)[1], nl=False)
        return
    from ..render import zoo_text

    click.echo(zoo_text(zoo.catalog(), fmt), nl=False)
