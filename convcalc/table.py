"""What every table of a report shows: its columns, its rows, each cell's text, the title and
the lines under it. The plain, Markdown and terminal tables (plain.py, terminal.py) lay
these out; none of them computes a figure, they format the ones the Report holds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .errors import SpecError, clip
from .model import INPUT
from .shape import Shape, fmt_shape

if TYPE_CHECKING:  # only for type checking: the analysis loads every layer type, the
    # forward module numpy, and neither is needed to know the formats (--help, --version)
    from .forward import LayerRun, RunResult
    from .report import Report, Row

#: what --columns may name, in the default order (``#`` always comes first)
COLUMN_KEYS = (
    "name", "type", "from", "input", "output", "kernel", "params", "params%", "macs", "macs%",
    "memory", "rf", "notes",
)  # fmt: skip
#: a run's own columns, shown before the notes unless --columns places them
RUN_KEYS = ("actual", "match", "time")
TITLES = {"macs": "MACs", "macs%": "MACs%"}
RIGHT = {"#", "params", "MACs", "time", "params%", "MACs%", "memory"}


def human(n: int | None) -> str:
    """1234 → "1.23 K"; below a thousand the number itself."""
    if n is None:
        return "—"
    for unit, scale in (("T", 10**12), ("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return str(n)


def size(n: int | None) -> str:
    """Bytes for a person: ``3.06 MiB``, ``512 B``; ``—`` when unknown."""
    if n is None:
        return "—"
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n} B"


def ms(value: float) -> str:
    return f"{value:.3f} ms" if value < 10 else f"{value:.1f} ms"


def _time(lr: LayerRun) -> str:
    """A layer's kernel time, or where it was computed (folded into an earlier layer)."""
    return ms(lr.time_ms) if lr.folded_into is None else f"in #{lr.folded_into}"


def shape_text(shape: Any, failed: bool = False) -> str:
    """``(1, 16, 13, 13)``; ``✗`` where it failed, ``—`` where unknown; a merge's input
    shapes as :func:`merge_shapes` writes them."""
    if shape is None:
        return "✗" if failed else "—"
    if shape and isinstance(shape[0], tuple):
        return merge_shapes(shape)
    return fmt_shape(shape)


#: a cell lists at most this many of a merge's inputs (or their shapes): one cell as long
#: as a 10,000-way Concat's inputs would widen every row of the table to it
LISTED = 6


def some(items: Sequence[str], sep: str) -> str:
    """``items`` joined, or the first few of them and how many there are in all."""
    if len(items) <= LISTED:
        return sep.join(items)
    return sep.join(items[: LISTED - 1]) + f"{sep}… ({len(items):,} in all)"


def merge_shapes(shapes: Sequence[Shape]) -> str:
    """A merge's input shapes in little room: ``(1, 32, 56, 56) ×7``, ``(1, 64+128+32, 28, 28)``
    when they differ on one axis, else the distinct shapes with their counts."""
    distinct = list(dict.fromkeys(shapes))
    if len(distinct) == 1:
        return f"{fmt_shape(distinct[0])} ×{len(shapes)}"
    ranks = {len(s) for s in shapes}
    if len(ranks) == 1:
        axes = [a for a in range(len(shapes[0])) if len({s[a] for s in shapes}) > 1]
        if len(axes) == 1:
            axis = axes[0]
            runs: list[list[int]] = []  # [value, count] for runs of equal sizes
            for s in shapes:
                if runs and runs[-1][0] == s[axis]:
                    runs[-1][1] += 1
                else:
                    runs.append([s[axis], 1])
            sizes = some([str(v) if n == 1 else f"{v}×{n}" for v, n in runs], "+")
            parts = [str(v) for v in shapes[0]]
            parts[axis] = sizes
            return "(" + ", ".join(parts) + ")"
    counts = Counter(shapes)  # in the order first seen, as ``distinct``
    return some([fmt_shape(d) + (f" ×{n}" if n > 1 else "") for d, n in counts.items()], " + ")


def parse_columns(text: str, run: bool = False) -> tuple[str, ...]:
    """``--columns name,type,macs`` → the column keys in that order; an unknown name is an
    input error with a did-you-mean."""
    known = COLUMN_KEYS + (RUN_KEYS if run else ())
    keys: list[str] = []
    for part in text.split(","):
        key = part.strip().lower().replace(" ", "")
        if key in ("", "#"):
            continue
        if key not in known:
            from .layers.base import did_you_mean  # only on an error: the layer types load

            close = did_you_mean(key, known)
            raise SpecError(
                f"--columns: unknown column {clip(part.strip(), 40)}",
                hint=(f"{close} " if close else "") + "the columns: " + ",".join(known),
            )
        if key in keys:
            raise SpecError(f"--columns: '{key}' is listed twice")
        keys.append(key)
    if not keys:
        raise SpecError("--columns: no column named", hint="the columns: " + ",".join(known))
    return tuple(keys)


def column_keys(
    report: Report,
    run: RunResult | None,
    columns: Sequence[str] | None,
    *,
    terminal: bool = False,
) -> list[str]:
    """The columns shown, ``#`` first: the chosen ones (a run's own before the notes unless
    chosen), or the default set. A terminal's default adds each layer's share of the totals
    (left out first when the width runs out), and leaves out the shapes when there is no
    input shape (every one is unknown)."""
    if columns is not None:
        keys = list(columns)
    else:
        keys = ["name", "type"] + (["from"] if report.branched else [])
        if not terminal:
            keys += ["input", "output", "params", "macs", "notes"]
        else:
            keys += ["input", "output"] if report.input_shape is not None else []
            # a share only of a known total (without an input shape, MACs have none)
            keys += ["params"] + (["params%"] if report.totals.params is not None else [])
            keys += ["macs"] + (["macs%"] if report.totals.macs is not None else [])
            keys.append("notes")
    if run is not None and not set(RUN_KEYS) & set(keys):
        at = keys.index("notes") if "notes" in keys else len(keys)
        keys[at:at] = RUN_KEYS
    return ["#", *keys]


def with_rf(keys: Sequence[str]) -> tuple[str, ...]:
    """``keys`` (as column_keys gives them) with the receptive field before the notes, and
    without the ``#`` that comes first anyway."""
    out = [k for k in keys if k not in ("#", "rf")]
    at = out.index("notes") if "notes" in out else len(out)
    return (*out[:at], "rf", *out[at:])


def shown_rows(report: Report, depth: int | None = None) -> tuple[Row, ...]:
    """The rows every table shows: each block's row above its layers, blocks nested deeper
    than ``depth`` collapsed into theirs (see Report.view)."""
    return report.view(depth)


def reads_previous(report: Report, r: Row) -> bool:
    """True when the row reads the output of the layer listed just before it."""
    prev = report.rows[r.index - 1].name if r.index else INPUT
    return r.inputs == (prev,)


def percent(value: float | None, count: int | None) -> str:
    if value is None:
        return "—"
    if not count:
        return ""
    return "<0.1" if value < 0.05 else f"{value:.1f}"


def table(
    report: Report,
    run: RunResult | None = None,
    depth: int | None = None,
    columns: Sequence[str] | None = None,
) -> tuple[list[str], list[list[str]], tuple[Row, ...]]:
    """Column titles, the cells of every row, and the rows shown."""
    failed = {e.index for e in report.errors}
    runs = {r.index: r for r in run.layers} if run is not None else {}
    rows = shown_rows(report, depth)
    keys = column_keys(report, run, columns)
    header = [TITLES.get(k, k) for k in keys]
    cells_out = []
    tree = any(r.block for r in rows)
    for r in rows:
        lr = runs.get(r.index)
        cells = []
        for key in keys:
            if key == "#":
                cells.append("" if r.block else str(r.index))
            elif key == "name":
                cells.append("  " * r.level + r.name if tree else r.name)
            elif key == "from":
                cells.append("" if reads_previous(report, r) else some(r.inputs, ", "))
            else:
                cells.append(cell(key, report, r, r.index in failed and not r.block, lr))
        cells_out.append(cells)
    return header, cells_out, rows


def cell(key: str, report: Report, r: Row, failed: bool, lr: LayerRun | None) -> str:
    """One cell that reads the same in every table."""
    if key == "type":
        return r.type
    if key == "input":
        return shape_text(r.input_shape)
    if key == "output":
        return shape_text(r.output_shape, failed)
    if key == "kernel":
        return "" if r.kernel_shape is None or r.block else fmt_shape(r.kernel_shape)
    if key == "params":
        return human(r.params)
    if key == "macs":
        return human(r.macs)
    if key == "params%":
        return percent(report.share(r)[0], r.params)
    if key == "macs%":
        return percent(report.share(r)[1], r.macs)
    if key == "memory":
        return size(r.output_bytes)
    if key == "rf":
        return "—" if r.receptive_field is None else r.receptive_field.text()
    if key == "notes":
        return "; ".join(r.notes)
    if key in RUN_KEYS:
        if r.block:
            return ""  # a block's row stands for layers that ran one by one
        if lr is None:
            return "—"
        if key == "actual":
            return fmt_shape(lr.actual_shape)
        return ("✓" if lr.match else "✗") if key == "match" else _time(lr)
    raise AssertionError(key)


def title(report: Report) -> str:
    name = report.model or "model"
    if report.input_shape is None:  # analysed without an input shape: parameters only
        output = "✗" if not report.ok else "?"
        return f"{name}: input ? → output {output}"
    return f"{name}: input {fmt_shape(report.input_shape)} → output {shape_text(report.output_shape, not report.ok)}"


def exact(n: int) -> str:
    """``61,706 (61.71 K)``; small numbers need no second form."""
    return f"{n:,}" if abs(n) < 1000 else f"{n:,} ({human(n)})"


def totals_lines(report: Report, run: RunResult | None = None) -> list[str]:
    t = report.totals
    if t.params is None or t.trainable_params is None:
        n = len(report.needs_input)
        if n == 1:
            params = "params: ? (needs --input: 1 layer takes its size from it)"
        elif n:
            params = f"params: ? (needs --input: {n:,} layers take their size from it)"
        else:
            params = "params: ? (a layer failed)"
    else:
        params = f"params: {exact(t.params)}, trainable {t.trainable_params:,}"
    if t.macs is None or t.flops is None:
        macs = "MACs: ? (needs --input) · FLOPs = 2 × MACs"
    else:
        macs = f"MACs: {exact(t.macs)} · FLOPs = 2 × MACs: {exact(t.flops)}"
    lines = [params, macs] + memory_lines(report)
    if run is not None and report.ok:
        best = f" (best of {run.repeat})" if run.repeat > 1 else ""
        verdict = (
            "verified: every layer's real output shape is the predicted one"
            if run.verified
            else "NOT verified: a real shape differs from the prediction"
        )
        limit = "" if run.threads is None else f", {run.threads} thread" + "s" * (run.threads > 1)
        lines.append(
            f"forward pass ({run.dtype}, seed {run.seed}{limit}): "
            f"{ms(run.time_ms)}{best} · {verdict}"
        )
        c = run.comparison
        if c is not None:
            if c.max_abs_diff is None:
                got = "nothing" if c.output_shape is None else fmt_shape(c.output_shape)
                lines.append(
                    f"output vs reference: shape {got}, the reference's is "
                    f"{fmt_shape(c.reference_shape)} · DIFFERS"
                )
            else:
                lines.append(
                    f"output vs reference: max abs diff {c.max_abs_diff:.3g} (rtol {c.rtol:g}, "
                    f"atol {c.atol:.3g}) · {'matches' if c.match else 'DIFFERS'}"
                )
        m = report.memory
        if run.held_bytes is not None and m is not None and m.peak_bytes is not None:
            how = "run as torch's eager mode" if run.eager_memory else "with folding and reuse"
            lines.append(
                f"activation memory held: {size(run.held_bytes)} at most ({how}); "
                f"the peak of an eager pass: {size(m.peak_bytes)}"
            )
        folded = sum(1 for lr in run.layers if lr.folded_into is not None)
        if folded:
            lines.append(
                f"{folded} BatchNorm layer{'s' if folded > 1 else ''} folded into the "
                "layer before (time 'in #n'; --no-fold runs them apart)"
            )
    return lines + [f"note: {n}" for n in report.notes]


def memory_lines(report: Report) -> list[str]:
    """``memory (float32): params 44.59 MiB · buffers 37.66 KiB · activations 31.40 MiB ·
    peak 6.12 MiB (while layer 1 'bn1' runs)``: nothing when nothing is known."""
    m = report.memory
    if m is None or m.param_bytes is None and m.activation_bytes is None:
        return []
    parts = [f"params {size(m.param_bytes)}", f"buffers {size(m.buffer_bytes)}"]
    if m.activation_bytes is not None and m.peak_bytes is not None:
        parts.append(f"activations {size(m.activation_bytes)}")
        at = ""
        if m.peak_index is not None:
            r = report.rows[m.peak_index]
            at = f" (while layer {r.index} '{r.name}' runs)"
        parts.append(f"peak {size(m.peak_bytes)}{at}")
    lines = [f"memory ({m.dtype}): " + " · ".join(parts)]
    fit = report.batch_fit
    if fit is not None:
        mode = f"training with {fit.optimizer}" if fit.training else "inference"
        sums = " + ".join(f"{name} {size(n)}" for name, n in fit.parts)
        head = f"batch for {size(fit.budget)} ({mode}, {fit.dtype}):"
        if fit.batch == 0:
            lines.append(f"{head} none fits: batch 1 needs {sums} = {fit.need:,} bytes")
        else:
            after = (
                "" if fit.next_need is None else f"; {fit.batch + 1:,} would need {fit.next_need:,}"
            )
            lines.append(
                f"{head} {fit.batch:,} — {sums} = {fit.need:,} bytes of {fit.budget:,}{after}"
            )
    return lines


def error_lines(report: Report) -> list[str]:
    lines = []
    for e in report.errors:
        lines.append(f"error: {e.message}")
        if e.location:
            lines.append(f"  at {e.location}")
        if e.hint:
            lines.append(f"  hint: {e.hint}")
    return lines
