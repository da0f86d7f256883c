"""``convcalc check PATH...``: many configs in one process, gated on the worst exit code."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import click

from ..errors import ConvcalcError, SpecError
from .app import cli
from .options import dtype_option, format_choice, json_errors, wrapped

if TYPE_CHECKING:
    from ..check import Outcome

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
@dtype_option("Element type for --max-peak-memory.")
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
    from ..check import Options, check_all, discover, summarize
    from ..checkout import summary_line, to_json, to_junit

    start = time.perf_counter()
    with json_errors(fmt), _junit_errors(fmt):
        flags = {"params": params, "trainable_params": trainable_params, "macs": macs}
        limits = _limits(flags | {"peak_memory": peak_memory})
        targets = discover(list(paths) or ["."])
        if not targets:
            raise SpecError(
                f"no YAML configs in {', '.join(paths) or 'this folder'}",
                hint="give files, folders with *.yaml files, globs or built-in model names",
            )
        options = Options(limits, strict, skip_foreign, update_expect, dtype)
        show = _shower(fmt, quiet)
        outcomes = check_all(targets, options, jobs, each=show)
    summary = summarize(outcomes, time.perf_counter() - start)
    if fmt == "json":
        click.echo(to_json(outcomes, summary), nl=False)
    elif fmt == "junit":
        click.echo(to_junit(outcomes, summary), nl=False)
    else:
        click.echo(summary_line(summary))
    sys.exit(summary.exit_code)


def _limits(given: dict[str, str | None]) -> dict[str, int]:
    """The budgets given as flags (``--max-params 5M`` → ``{"params": 5000000}``)."""
    from ..pins import read_limit

    return {
        key: read_limit(key, value, f"--max-{key.replace('_', '-')}")
        for key, value in given.items()
        if value is not None
    }


#: the colour of each outcome's mark on a terminal
COLOURS = {"✓": "green", "✗": "red", "-": "yellow"}


def _shower(fmt: str, quiet: bool) -> Callable[[Outcome], None]:
    """What is printed of each outcome as soon as it is known (text and github formats)."""
    from ..checkout import github_lines, outcome_lines

    terminal = fmt == "text" and sys.stdout.isatty()
    colour = terminal and "NO_COLOR" not in os.environ
    width = shutil.get_terminal_size().columns if terminal else 0

    def show(outcome: Outcome) -> None:
        if fmt == "github":
            for line in github_lines(outcome):
                click.echo(line)
        elif fmt == "text" and not (quiet and not outcome.failures):
            for i, line in enumerate(outcome_lines(outcome)):
                if width:  # a terminal: wrapped between words, never inside a figure
                    line = wrapped(line, width)
                if colour and i == 0:
                    line = click.style(line[0], fg=COLOURS[line[0]]) + line[1:]
                click.echo(line)

    return show


class _junit_errors:
    """With --format junit, options that cannot be read are a report too: one suite whose
    one test case is the error (a CI job that reads the XML sees why nothing was checked)."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        if self.fmt == "junit" and isinstance(exc, ConvcalcError):
            click.echo(junit_error(exc), nl=False)


def junit_error(exc: ConvcalcError) -> str:
    """An error before anything was checked as JUnit: one suite whose one case is the error."""
    from ..check import ERROR, Finding, Outcome, summarize
    from ..checkout import to_junit

    finding = Finding(exc.message, kind="read", hint=exc.hint)
    outcome = Outcome("convcalc check", ERROR, (finding,))
    return to_junit([outcome], summarize([outcome], 0.0))
