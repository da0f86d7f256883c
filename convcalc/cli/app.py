"""The command group and the entry point: one place, :func:`main`, turns a ConvcalcError
into a message and an exit code, and anything else into exit 3."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click

from .. import __version__
from ..errors import ConvcalcError, SpecError

EXIT_HELP = """Exit codes: 0 the model works · 1 the model is wrong · 2 the input cannot be read · 3 a bug in convcalc."""

#: an internal error: not the model's fault nor the input's, so CI can tell it apart
EXIT_BUG = 3
BUG_HINT = "this is a bug in convcalc; rerun with CONVCALC_DEBUG=1 for the traceback and report it"


#: the order --help lists the commands in: the one-model commands, the many-config ones, the catalogues
ORDER = (
    "shape",
    "run",
    "explain",
    "sweep",
    "draw",
    "check",
    "diff",
    "import",
    "export",
    "schema",
    "layers",
    "zoo",
)


class _Group(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        rank = {name: i for i, name in enumerate(ORDER)}
        return sorted(self.commands, key=lambda name: rank.get(name, len(ORDER)))


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


def _wants(argv: Sequence[str] | None, fmt: str) -> bool:
    """Whether the command line asks for output in ``fmt`` (read from the raw arguments:
    click stopped at a usage error before it read them all)."""
    args = list(sys.argv[1:] if argv is None else argv)
    pairs = zip(args, args[1:] + [""])
    return any(
        a in (f"--format={fmt}", f"-f{fmt}") or (a in ("--format", "-f") and b == fmt)
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
        if isinstance(exc, click.UsageError) and _wants(argv, "json"):
            from ..render import error_json

            param = exc.param if isinstance(exc, click.BadParameter) else None
            option = param.opts[-1] if param is not None and param.opts else None
            click.echo(error_json(SpecError(exc.format_message(), argument=option)), nl=False)
        elif isinstance(exc, click.UsageError) and _wants(argv, "junit"):
            # (only check writes JUnit) the XML a CI job reads says why nothing was checked
            from .check import junit_error

            click.echo(junit_error(SpecError(exc.format_message())), nl=False)
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
