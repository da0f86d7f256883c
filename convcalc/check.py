"""``convcalc check``: many configs in one process, each one read, analysed, held to its
budgets and its pinned figures, with one outcome per config and the worst exit code.

The library half: which paths are configs (:func:`discover`), what checking one finds
(:func:`check_one`), and checking them all, in this process or spread over several
(:func:`check_all`). Rendering is in checkout.py; the command in cli/check.py.
"""

from __future__ import annotations

import glob
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .errors import BlockLibrary, ConvcalcError, NotAConfig, SpecError

if TYPE_CHECKING:
    from .model import LayerSpec, Spec
    from .pins import Pins
    from .report import Report

#: outcome of one config, and the exit code it stands for (the worst over all files wins)
PASSED, FAILED, ERROR, SKIPPED, BUG = "passed", "failed", "error", "skipped", "bug"
EXIT = {PASSED: 0, SKIPPED: 0, FAILED: 1, ERROR: 2, BUG: 3}

#: a folder's configs: these endings, leaving out dot-files and dot-folders
CONFIG_ENDINGS = (".yaml", ".yml")


@dataclass(frozen=True)
class Finding:
    """One thing a check found: a failure (level ``error``) or a note (``warning``)."""

    message: str
    level: str = "error"
    #: model (the model is wrong), read (cannot be read), budget, expect, strict, note, bug
    kind: str = "model"
    file: str | None = None
    line: int | None = None
    column: int | None = None
    hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "kind": self.kind,
            "message": self.message,
            "hint": self.hint,
            "file": self.file,
            "line": self.line,
            "column": self.column,
        }


@dataclass(frozen=True)
class Outcome:
    """What checking one config found."""

    target: str
    status: str
    findings: tuple[Finding, ...] = ()
    report: Report | None = None
    #: the report as ``shape --format json`` gives it, for an input that could not be read
    error_data: Mapping[str, Any] | None = None
    seconds: float = 0.0
    #: what the line says of a model that passed: ``25.56 M params · 4.09 G MACs``
    summary: str = ""
    #: ``--update-expect`` rewrote the file's ``expect:`` block
    updated: bool = False

    @property
    def exit_code(self) -> int:
        return EXIT[self.status]

    @property
    def failures(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.level == "error")


@dataclass(frozen=True)
class Options:
    """How to check: budgets given on the command line (they override a file's ``limits:``),
    whether notes that are usually mistakes fail, whether foreign YAML is skipped, and
    whether ``expect:`` blocks are rewritten from the models."""

    limits: Mapping[str, int] = field(default_factory=dict)
    strict: bool = False
    skip_foreign: bool = False
    update_expect: bool = False
    #: the element type of the memory figures (a key of liveness.DTYPE_BYTES)
    dtype: str = "float32"


@dataclass(frozen=True)
class Summary:
    counts: Mapping[str, int]
    exit_code: int
    seconds: float

    def text(self) -> str:
        """``28 passed, 2 failed, 5 skipped`` (what is zero is left out, but for passed)."""
        parts = [f"{self.counts.get(PASSED, 0)} passed"]
        parts += [
            f"{self.counts[s]} {'with internal errors' if s == BUG else s if s != ERROR else 'unreadable'}"
            for s in (FAILED, ERROR, BUG, SKIPPED)
            if self.counts.get(s)
        ]
        return ", ".join(parts)


def summarize(outcomes: Sequence[Outcome], seconds: float) -> Summary:
    counts = {s: sum(1 for o in outcomes if o.status == s) for s in EXIT}
    worst = max((o.exit_code for o in outcomes), default=0)
    return Summary(counts, worst, seconds)


# ------------------------------------------------------------------ which files


def discover(paths: Sequence[str]) -> list[str]:
    """The configs that ``paths`` name, in order, each once: a file as it is, a folder's
    ``*.yaml``/``*.yml`` files (recursively, leaving out dot-files and dot-folders, and never
    following a link to a folder), a glob's matches, and a built-in model's name where no such
    file exists. A path that names nothing stays in the list: checking it says so."""
    found: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            found += [f for f in _walk(path) if f.endswith(CONFIG_ENDINGS)]
        elif not os.path.lexists(path) and glob.has_magic(path):
            found += _glob(path) or [path]
        else:
            found.append(path)
    return list(dict.fromkeys(found))


#: how deep a folder's configs are looked for, and how many files are looked at (a folder
#: nested a thousand deep, or a million files, is no repository of configs)
MAX_DEPTH = 64
MAX_FILES = 100_000


def _walk(root: str) -> list[str]:
    """Every regular file under ``root`` that is no dot-file and in no dot-folder, sorted per
    folder; without recursion and without following links to folders."""
    files: list[str] = []
    stack = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        below = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                if depth < MAX_DEPTH:
                    below.append((entry.path, depth + 1))
            elif entry.is_file():
                files.append(os.path.normpath(entry.path))
                if len(files) > MAX_FILES:
                    raise SpecError(
                        f"{root}: more than {MAX_FILES:,} files to look through",
                        hint="give the folders that hold the configs",
                    )
        stack += reversed(below)
    return files


def _glob(pattern: str) -> list[str]:
    """The regular files a glob matches, as the shell's ``globstar`` matches them (``*`` within
    a folder, ``**`` any number of folders, none included), found by walking from its first
    folder without magic."""
    pattern = os.path.normpath(pattern)
    fixed = []
    for part in pattern.split(os.sep):
        if glob.has_magic(part):
            break
        fixed.append(part)
    root = os.sep.join(fixed) if fixed != [""] else os.sep
    if not os.path.isdir(root or "."):
        return []
    shape = _glob_regex(pattern)
    return sorted(path for path in _walk(root or ".") if shape.fullmatch(path))


def _glob_regex(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        c = pattern[i]
        close = pattern.find("]", i + 2) if c == "[" else -1
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif close > 0:
            body = pattern[i + 1 : close].replace("\\", "\\\\")
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = close
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out))


# ------------------------------------------------------------------ checking one


def check_one(target: str, options: Options) -> Outcome:
    """Read, analyse and hold ``target`` to its budgets and pinned figures. Never raises for
    the input: a config that cannot be read is an ``error`` outcome, a bug a ``bug`` one."""
    start = time.perf_counter()
    try:
        outcome = _check(target, options)
    except NotAConfig as exc:
        status = SKIPPED if options.skip_foreign else ERROR
        exc.hint = "leave it out, or pass --skip-foreign to skip YAML files that are not configs"
        outcome = _unread(target, exc, status, "not a convcalc config")
    except BlockLibrary as exc:
        outcome = Outcome(target, PASSED, summary=f"block library: {exc.blocks} blocks")
    except ConvcalcError as exc:
        outcome = _unread(target, exc, ERROR if isinstance(exc, SpecError) else FAILED)
    except RecursionError:
        outcome = _unread(target, SpecError("nested too deeply to read"), ERROR)
    except Exception as exc:  # a bug of ours: exit 3, and the other files are still checked
        if os.environ.get("CONVCALC_DEBUG"):
            raise
        bug = ConvcalcError(
            f"internal error: {type(exc).__name__}: {exc}", hint="this is a bug in convcalc"
        )
        outcome = _unread(target, bug, BUG)
    return _timed(outcome, time.perf_counter() - start)


def _timed(outcome: Outcome, seconds: float) -> Outcome:
    return replace(outcome, seconds=seconds)


def _unread(target: str, exc: ConvcalcError, status: str, summary: str = "") -> Outcome:
    from .jsonout import error_data

    kind = {ERROR: "read", BUG: "bug", SKIPPED: "read", FAILED: "model"}[status]
    message = exc.unlocated
    if message.startswith(f"{target}: "):  # the line says which file already
        message = message[len(target) + 2 :]
    finding = Finding(
        message,
        "warning" if status == SKIPPED else "error",
        kind,
        exc.file,
        exc.line,
        exc.column,
        exc.hint,
    )
    return Outcome(target, status, (finding,), error_data=error_data(exc), summary=summary)


def _check(target: str, options: Options) -> Outcome:
    from .analysis import analyze
    from .spec import load_spec

    spec = load_spec(target)
    report = analyze(spec, dtype=options.dtype)
    findings = list(_model_findings(report, spec))
    if report.ok:
        findings += _budget_findings(report, spec, options)
        findings += _expect_findings(report, spec, options)
        findings += _note_findings(report, spec, options.strict)
    updated = False
    if options.update_expect and report.ok and report.output_shape is not None:
        from .expectations import update_expect

        updated = update_expect(target, spec, report)
        findings = [f for f in findings if f.kind != "expect"]
    # the config's own places under the name it was given (a built-in model's, not its path)
    findings = [replace(f, file=target) if f.file == spec.source else f for f in findings]
    status = FAILED if any(f.level == "error" for f in findings) else PASSED
    return Outcome(
        target, status, tuple(findings), report, summary=_figures(report), updated=updated
    )


def _figures(report: Report) -> str:
    from .table import human

    t = report.totals
    if t.macs is None:
        return f"{human(t.params)} params · MACs need an input shape"
    return f"{human(t.params)} params · {human(t.macs)} MACs"


def _model_findings(report: Report, spec: Spec) -> Iterator[Finding]:
    for problem in report.errors:
        place = problem.place or {}
        yield Finding(
            problem.message,
            file=place.get("file") or spec.source,
            line=place.get("line"),
            column=place.get("column"),
            hint=problem.hint,
        )


def _budget_findings(report: Report, spec: Spec, options: Options) -> Iterator[Finding]:
    pins = spec.pins
    file_limits = dict(pins.limits) if pins is not None else {}
    limits = file_limits | dict(options.limits)
    figures = {
        "params": report.totals.params,
        "trainable_params": report.totals.trainable_params,
        "macs": report.totals.macs,
        "peak_memory": None if report.memory is None else report.memory.peak_bytes,
    }
    for key, limit in limits.items():
        value = figures[key]
        if value is None or value <= limit:
            continue
        by_flag = key in options.limits
        where = _pin_place(pins, f"limits.{key}", spec) if not by_flag else _no_place(spec)
        said = f"--max-{key.replace('_', '-')}" if by_flag else f"limits.{key}"
        yield Finding(
            f"{_label(key)} {_amount(key, value)} over the budget of {_amount(key, limit)} "
            f"({said}){_most(report, key)}",
            kind="budget",
            hint="make the model smaller, or raise the budget if it grew on purpose",
            **where,
        )


def _label(key: str) -> str:
    return {"trainable_params": "trainable params", "peak_memory": "peak memory"}.get(key, key)


def _amount(key: str, n: int) -> str:
    if key == "peak_memory":
        from .budget import size_text

        return size_text(n)
    from .table import human

    return f"{n:,} ({human(n)})" if n >= 1000 else f"{n:,}"


def _most(report: Report, key: str) -> str:
    """``; most in layer 7 'fc1' (Linear): 48,120 (78.0 %)``: the row that contributes most."""
    if key == "peak_memory":
        at = None if report.memory is None else report.memory.peak_index
        if at is None:
            return ""
        row = report.rows[at]
        return f"; at its peak while layer {row.index} '{row.name}' ({row.type}) runs"
    attr = {"params": "params", "trainable_params": "trainable_params", "macs": "macs"}[key]
    rows = [r for r in report.rows if (getattr(r, attr) or 0) > 0]
    if not rows:
        return ""
    row = max(rows, key=lambda r: getattr(r, attr))
    part, whole = getattr(row, attr), getattr(report.totals, attr) or 1
    return (
        f"; the most in layer {row.index} '{row.name}' ({row.type}): "
        f"{_amount(key, part)}, {100 * part / whole:.1f} %"
    )


def _pin_place(pins: Pins | None, key: str, spec: Spec) -> dict[str, Any]:
    where = pins.places.get(key) if pins is not None else None
    return {
        "file": getattr(where, "file", None) or spec.source,
        "line": getattr(where, "line", None),
        "column": getattr(where, "column", None),
    }


def _no_place(spec: Spec) -> dict[str, Any]:
    return {"file": spec.source, "line": None, "column": None}


def _expect_findings(report: Report, spec: Spec, options: Options) -> Iterator[Finding]:
    pins = spec.pins
    if pins is None or not pins.expect:
        return
    from .expectations import figures

    now = figures(report)
    for key, pinned in pins.expect.items():
        value = now.get(key)
        if value == pinned:
            continue
        yield Finding(
            f"expect.{key}: pinned {_shown(pinned)}, the model now gives {_shown(value)}"
            + _delta(pinned, value),
            kind="expect",
            hint="if the change is meant, `convcalc check --update-expect` rewrites the expect: block",
            **_pin_place(pins, f"expect.{key}", spec),
        )


def _shown(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(map(str, value)) + "]"
    return "nothing" if value is None else f"{value:,}"


def _delta(old: Any, new: Any) -> str:
    if not isinstance(old, int) or not isinstance(new, int):
        return ""
    change = new - old
    percent = f", {100 * change / old:+.1f} %" if old else ""
    return f" ({change:+,}{percent})"


def _note_findings(report: Report, spec: Spec, strict: bool) -> Iterator[Finding]:
    """Every note, as a warning, at its layer's place; with ``strict``, those that are usually
    mistakes fail: rows or columns a floored size leaves uncovered (a layer's note), and an
    output nothing reads (the reader's note, placed at that layer)."""
    from .graph import unused_note
    from .layers.checks import UNCOVERED

    def finding(text: str, mistake: bool, entry: LayerSpec | None) -> Finding:
        place = entry.place(None) if entry is not None else {}
        return Finding(
            text,
            "error" if strict and mistake else "warning",
            "strict" if strict and mistake else "note",
            place.get("file") or spec.source,
            place.get("line"),
            place.get("column"),
        )

    for row in report.rows:
        entry = spec.layers[row.index] if row.index < len(spec.layers) else None
        for note in row.notes:
            text = f"layer {row.index} '{row.name}' ({row.type}): {note}"
            yield finding(text, UNCOVERED in note, entry)
    unused = {unused_note(e.name): e for e in spec.layers} if spec.warnings else {}
    for note in report.notes:
        yield finding(note, note in unused, unused.get(note))


# ------------------------------------------------------------------ checking all


def check_all(
    targets: Sequence[str],
    options: Options,
    jobs: int = 1,
    each: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Every target's outcome, in the order given; ``each`` sees each as soon as it (and all
    before it) is known. ``jobs`` > 1 spreads the targets over that many processes."""
    if jobs <= 1 or len(targets) <= 1:
        outcomes = []
        for target in targets:
            outcome = check_one(target, options)
            outcomes.append(outcome)
            if each is not None:
                each(outcome)
        return outcomes
    from concurrent.futures import ProcessPoolExecutor

    chunk = max(1, len(targets) // (jobs * 8))
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        outcomes = []
        for outcome in pool.map(check_one, targets, [options] * len(targets), chunksize=chunk):
            outcomes.append(outcome)
            if each is not None:
                each(outcome)
    return outcomes


def outcome_dict(outcome: Outcome) -> dict[str, Any]:
    """One config's part of ``check --format json``: its report as ``shape --format json``
    gives it, and what the check found."""
    report = outcome.report.to_dict() if outcome.report is not None else outcome.error_data
    return {
        "file": outcome.target,
        "status": outcome.status,
        "exit_code": outcome.exit_code,
        "seconds": round(outcome.seconds, 4),
        "updated": outcome.updated,
        "findings": [f.to_dict() for f in outcome.findings],
        "report": report,
    }


__all__ = [
    "BUG", "ERROR", "EXIT", "FAILED", "PASSED", "SKIPPED", "Finding", "Options", "Outcome",
    "Summary", "check_all", "check_one", "discover", "outcome_dict", "summarize",
]  # fmt: skip
