"""``convcalc diff A B``: two models side by side, for code review; ``--git REV FILE`` compares a
config with its version at a git revision."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from ..errors import ConvcalcError, SpecError
from .app import cli
from .options import complete_model, echo_text, format_choice, json_errors

if TYPE_CHECKING:
    from ..gitrev import GitRevision
    from ..model import Spec
    from ..report import Report
    from ..shape import Shape

DIFF_EXITS = (
    "Exit codes: 0 both models read (differences are no failure) · 1 either model is wrong · "
    "2 either cannot be read · 3 a bug in convcalc."
)


@cli.command(epilog=DIFF_EXITS)
@click.argument("models", nargs=-1, metavar="A B", shell_complete=complete_model)
@click.option(
    "-i",
    "--input",
    "input_text",
    metavar="SHAPE",
    help="Input shape with batch for both models, e.g. 1,3,224,224 (overrides the files' inputs).",
)
@click.option(
    "--git",
    "rev",
    metavar="REV",
    help="Compare FILE as it is at the git revision REV (a commit, branch or tag; its imports "
    "read at REV too) with the working copy: convcalc diff --git HEAD net.yaml.",
)
@format_choice(
    ["text", "markdown", "json"],
    "text",
    "Output format: text fits 80 columns; markdown is a pull-request comment; json is for scripts.",
)
def diff(models: Sequence[str], input_text: str | None, rev: str | None, fmt: str) -> None:
    """Compare model A (before) with model B (after): files, or built-in models by name.

    Shows the totals before and after (input and output shape, parameters, MACs) with
    the change in percent, then each layer added, removed or changed (output shape,
    parameters, MACs, arguments). Layers are matched by name; layers named by their
    position in a list are matched by aligning the two sequences of types and
    arguments, so that one inserted layer shows as one insertion.

    With --git REV FILE, A is FILE as it is at the git revision REV (its imports
    too) and B the working copy.
    """
    from ..analysis import analyze
    from ..diff import diff_models
    from ..diffout import render_diff

    with json_errors(fmt):
        paths, git = _models(models, rev)
        input_shape = _input(input_text)
        results: list[tuple[Spec, Report]] = []
        problems: list[ConvcalcError] = []
        for n, path in enumerate(paths):
            files = git if n == 0 else None
            try:
                spec = _load(path, files)
                results.append((spec, analyze(spec, input_shape)))
            except SpecError as exc:
                problems.append(_at_revision(exc, rev) if files is not None else exc)
        if problems:
            raise problems[0].with_others(problems[1:])
        (spec_a, a), (spec_b, b) = results
        labels = (f"{paths[0]}@{rev}", paths[1]) if rev is not None else (paths[0], paths[1])
        result = diff_models(a, b, specs=(spec_a, spec_b), labels=labels)
        text = render_diff(result, fmt)
    (echo_text(text) if fmt == "text" else click.echo(text, nl=False))
    sys.exit(result.exit_code)


def _models(models: Sequence[str], rev: str | None) -> tuple[tuple[str, str], GitRevision | None]:
    """The two models to read, and the revision to read the first at (with --git)."""
    if rev is None:
        if len(models) != 2:
            raise click.UsageError(
                f"diff compares two models, {len(models)} given: convcalc diff A B "
                "(or convcalc diff --git REV FILE)"
            )
        return (models[0], models[1]), None
    if len(models) != 1:
        raise click.UsageError(
            f"diff --git REV compares one FILE with its version at REV, {len(models)} given: "
            "convcalc diff --git REV FILE"
        )
    if models[0] == "-":
        raise click.UsageError("diff --git reads FILE from the repository: give its path, not -")
    from ..gitrev import GitRevision

    return (models[0], models[0]), GitRevision(rev, models[0])


def _input(text: str | None) -> Shape | None:
    if not text:
        return None
    from ..spec import shape_from_value

    return shape_from_value(text, location="--input")


def _load(path: str, files: GitRevision | None) -> Spec:
    from ..spec import load_spec

    if files is None:
        return load_spec(path)
    return load_spec(path, files.read_file(path), files=files)


def _at_revision(exc: SpecError, rev: str | None) -> SpecError:
    """An error in the version at REV says so: ``net.yaml:3 (at HEAD~1): …``."""
    if exc.location and rev is not None:
        exc.location = f"{exc.location} (at {rev})"
    return exc
