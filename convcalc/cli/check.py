"""``convcalc check PATH...``: many configs in one process, gated on the worst exit code."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import click

from .app import cli
from .options import format_choice, json_errors

#: the element types of the memory figures (liveness.DTYPE_BYTES's keys; that module is not
#: loaded for --help)
DTYPES = ("float32", "float16", "bfloat16", "float64", "int8")

CHECK_EPILOG = (
    "Exit codes: the worst over all files: 0 every model works (and is within its budgets and "
    "pinned figures) · 1 a model is wrong, over budget or off its pinned figures · 2 a config "
    "cannot be read · 3 a bug in convcalc."
)


def _count(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        f"--max-{what.replace('_', '-')}",
        what,
        metavar="N",
        help=f"Fail a model with more {what.replace('_', ' ').replace('params', 'parameters')} than N (k, M, G: 5M, 1.2G); overrides limits.{what} in a file.",
    )


@cli.command(name="check", epilog=CHECK_EPILOG)
@click.argument("paths", nargs=-1, metavar="[PATH]...")
@_count("params")
@_count("trainable_params")
@_count("macs")
@click.option(
    "--max-peak-memory",
    "peak_memory",
    metavar="SIZE",
    help="Fail a model whose peak activation memory in an eager inference pass passes SIZE (KiB, MiB, GiB: 200MiB), at --dtype; overrides limits.peak_memory.",
)
@click.option(
    "--dtype",
    type=click.Choice(DTYPES),
    default="float32",
    show_default=True,
    help="Element type for --max-peak-memory.",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Fail on notes that are usually mistakes too: an output nothing reads, rows or columns a floored size leaves uncovered.",
)
@click.option(
    "--skip-foreign",
    is_flag=True,
    help="Skip YAML files that are no convcalc config (and count them) instead of failing on them.",
)
@click.option(
    "--update-expect",
    is_flag=True,
    help="Rewrite each config's expect: block with the model's figures (only that block changes).",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    metavar="N",
    help="Check in N processes.",
)
@click.option(
    "-q", "--quiet", is_flag=True, help="Text: print only the configs that fail, and the summary."
)
@format_choice(
    ["text", "json", "github", "junit"],
    "text",
    "text: a line per config; json: every report and the summary; github: workflow commands that annotate the failing lines; junit: XML for GitLab, Jenkins and test viewers.",
)
def check_cmd(
    paths: Sequence[str],
    params: str | None,
    trainable_params: str | None,
    macs: str | None,
    peak_memory: str | None,
    dtype: str,
    strict: bool,
    skip_foreign: bool,
    update_expect: bool,
    jobs: int,
    quiet: bool,
    fmt: str,
) -> None:
    """Check every config in PATHs: files, folders (their *.yaml and *.yml files, recursively,
    leaving out dot-files and dot-folders), globs and built-in model names; the current folder
    when none is given.

    Prints a line per config and a summary, and exits with the worst code over all of them,
    so that one command gates a repository. A config's own `limits:` and `expect:` blocks are
    held too.
    """
    with json_errors(fmt):
        _check(
            paths,
            params,
            trainable_params,
            macs,
            peak_memory,
            dtype,
            strict,
            skip_foreign,
            update_expect,
            jobs,
            quiet,
            fmt,
        )


def _check(
    paths: Sequence[str],
    params: str | None,
    trainable_params: str | None,
    macs: str | None,
    peak_memory: str | None,
    dtype: str,
    strict: bool,
    skip_foreign: bool,
    update_expect: bool,
    jobs: int,
    quiet: bool,
    fmt: str,
) -> None:
    from ..check import Options, check_all, discover, summarize
    from ..checkout import github_lines, outcome_lines, summary_line, to_json, to_junit
    from ..errors import SpecError
    from ..pins import read_limit

    start = time.perf_counter()
    given = {
        "params": params,
        "trainable_params": trainable_params,
        "macs": macs,
        "peak_memory": peak_memory,
    }
    limits = {}
    for key, value in given.items():
        if value is not None:
            flag = f"--max-{key.replace('_', '-')}"
            limits[key] = read_limit(key, value, flag)
    targets = discover(list(paths) or ["."])
    if not targets:
        raise SpecError(
            f"no YAML configs in {', '.join(paths) or 'this folder'}",
            hint="give files, folders with *.yaml files, globs or built-in model names",
        )
    options = Options(limits, strict, skip_foreign, update_expect, dtype)
    colour = fmt == "text" and sys.stdout.isatty() and "NO_COLOR" not in os.environ

    def show(outcome: object) -> None:
        from ..check import Outcome

        assert isinstance(outcome, Outcome)
        if fmt == "text":
            if quiet and not outcome.failures:
                return
            for i, line in enumerate(outcome_lines(outcome)):
                if colour and i == 0:
                    line = (
                        click.style(
                            line[0],
                            fg="green" if line[0] == "✓" else "red" if line[0] == "✗" else "yellow",
                        )
                        + line[1:]
                    )
                click.echo(line)
        elif fmt == "github":
            for line in github_lines(outcome):
                click.echo(line)

    outcomes = check_all(targets, options, jobs, each=show)
    summary = summarize(outcomes, time.perf_counter() - start)
    if fmt == "json":
        click.echo(to_json(outcomes, summary), nl=False)
    elif fmt == "junit":
        click.echo(to_junit(outcomes, summary), nl=False)
    else:
        click.echo(summary_line(summary))
    sys.exit(summary.exit_code)
