"""Report → text: a rich table on a terminal, plain text in a pipe, JSON, Markdown or CSV.

The only module that imports rich (lazily: a pipe never pays for it). What a table shows is
table.py's; the plain, Markdown and CSV forms are plain.py's, JSON jsonout.py's, and the
terminal's lines terminal.py's (loaded only for a terminal). None computes a figure: they
format the numbers the Report (and a run's RunResult) already hold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from .jsonout import error_json, to_json
from .plain import error_text, layers_text, to_csv, to_line, to_markdown, to_text, zoo_text
from .table import COLUMN_KEYS, RUN_KEYS, human, parse_columns

if TYPE_CHECKING:  # only for type checking: the analysis loads every layer type, the
    # forward module numpy, and neither is needed to know the formats (--help, --version)
    from rich.console import Console, ConsoleOptions
    from rich.progress import Progress, TaskID
    from rich.segment import Segment as RichSegment
    from rich.style import Style

    from .forward import RunResult
    from .report import Report
    from .terminal import Segment

FORMATS = ("table", "json", "markdown", "csv")

__all__ = [
    "COLUMN_KEYS", "FORMATS", "RUN_KEYS", "error_json", "error_text", "human", "layers_text",
    "parse_columns", "print_rich", "progress_bar", "render", "terminal_width", "to_csv", "to_json", "to_line",
    "to_markdown", "to_text", "zoo_text",
]  # fmt: skip


def render(
    report: Report,
    fmt: str,
    run: RunResult | None = None,
    depth: int | None = None,
    columns: Sequence[str] | None = None,
) -> str:
    """Any format as text (``table`` is the plain table); ``depth`` collapses blocks in tables,
    ``columns`` (keys of COLUMN_KEYS) chooses and orders the tables' columns."""
    if fmt == "json":
        return to_json(report, run)
    if fmt == "markdown":
        return to_markdown(report, run, depth, columns)
    if fmt == "csv":
        return to_csv(report, run)
    return to_text(report, run, depth, columns)


def terminal_width() -> int:
    """The terminal's width in columns (``COLUMNS`` wins, as everywhere)."""
    import shutil

    return shutil.get_terminal_size((80, 24)).columns


def print_rich(
    report: Report,
    run: RunResult | None = None,
    depth: int | None = None,
    *,
    columns: Sequence[str] | None = None,
    wide: bool = False,
) -> None:
    """The table for a terminal: it fits the width (``wide``: every column), colour where it
    means something (NO_COLOR and TERM=dumb take the colour away, not the layout)."""
    from rich.console import Console

    from .terminal import terminal_table

    width = terminal_width()
    console = Console(width=width, highlight=False)
    lines = terminal_table(report, run, depth, width=width, columns=columns, wide=wide)
    console.print(_Lines(lines), soft_wrap=True)


class _Lines:
    """Styled lines as rich segments, each style parsed once: what a rich Text per line
    prints, four times faster (a second less for every 5,000 layers)."""

    def __init__(self, lines: Sequence[Sequence[Segment]]) -> None:
        self.lines = lines

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[RichSegment]:
        from rich.segment import Segment as RichSegment

        styles: dict[str | None, Style | None] = {None: None}
        newline = RichSegment.line()
        for line in self.lines:
            for part, name in line:
                if part:
                    style = styles.get(name)
                    if style is None and name is not None:
                        style = styles[name] = console.get_style(name)
                    yield RichSegment(part, style)
            yield newline


class progress_bar:
    """A rich progress bar over layers, shown only on a terminal and once the run passes a
    second: ``with progress_bar(enabled) as update`` gives the ``update(done, total)`` to
    call (None when not enabled)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Progress | None = None
        self.task: TaskID | None = None
        self.start = 0.0

    def __enter__(self) -> Callable[[int, int], None] | None:
        import time

        if not self.enabled:
            return None
        self.start = time.perf_counter()

        def update(done: int, total: int) -> None:
            if self.bar is None or self.task is None:
                if time.perf_counter() - self.start < 1.0:
                    return
                from rich.progress import Progress

                self.bar = Progress(transient=True)
                self.bar.start()
                self.task = self.bar.add_task("forward pass", total=total)
            self.bar.update(self.task, completed=done)

        return update

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
