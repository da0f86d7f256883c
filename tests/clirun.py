"""The command line as the console script runs it, through click's test runner: ``main()`` turns
errors into messages and exit codes, so tests see what a user sees."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner, Result

from convcalc.cli import main


class _Main:
    """Adapter: CliRunner invokes a click command; main() is the real entry point."""

    name = "convcalc"

    def main(
        self, args: Any = None, prog_name: Any = None, standalone_mode: bool = True, **extra: Any
    ) -> None:
        main(args)


def run(*args: str, input: str | bytes | None = None) -> Result:
    return CliRunner().invoke(_Main(), list(args), input=input, catch_exceptions=False)  # type: ignore[arg-type]
