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


#: a run's progress bar appears once it has taken this long (a quick run shows none)
SHOW_PROGRESS_AFTER = 0.2


class progress_bar:
    """A rich progress bar over the run's steps (binding the weights, then the layers), shown
    only on a terminal, from SHOW_PROGRESS_AFTER seconds on even while one step lasts."""

    def __init__(self, enabled: bool, after: float = SHOW_PROGRESS_AFTER) -> None:
        import threading

        self.enabled = enabled
        self.after = after
        self.bar: Progress | None = None
        self.task: TaskID | None = None
        self.done = (0, 0)
        self.lock = threading.Lock()
        self.ended = threading.Event()
        self.closed = False

    def __enter__(self) -> Callable[[int, int], None] | None:
        import threading

        if not self.enabled:
            return None
        threading.Thread(target=self.later, args=(self.after,), daemon=True).start()

        def update(done: int, total: int) -> None:
            with self.lock:
                self.done = (done, total)
                if self.bar is not None and self.task is not None:
                    self.bar.update(self.task, completed=done, total=total)

        return update

    def later(self, delay: float) -> None:
        """Shows the bar ``delay`` seconds from now unless the run ends first (rich is loaded
        meanwhile: it takes tens of milliseconds)."""
        import time

        start = time.perf_counter()
        import rich.progress  # noqa: F401

        if not self.ended.wait(max(0.0, start + delay - time.perf_counter())):
            self.show()

    def show(self) -> None:
        from rich.progress import Progress, SpinnerColumn, TimeElapsedColumn

        with self.lock:
            if self.closed:
                return
            columns = (SpinnerColumn(), *Progress.get_default_columns(), TimeElapsedColumn())
            self.bar = Progress(*columns, transient=True)
            self.bar.start()
            done, total = self.done
            self.task = self.bar.add_task("forward pass", total=total or None, completed=done)

    def __exit__(self, *exc: object) -> None:
        self.ended.set()
        with self.lock:
            self.closed = True
            if self.bar is not None:
                self.bar.stop()
