"""What a run holds in memory, worked out before anything is allocated, and what is left for
each layer's temporaries within ``--max-memory``.

A run holds, all at once: what its caller loaded for it (a reference to compare with), the
weights at the run's dtype, the model input (kept for every repeat), at each layer the outputs
that later layers still read, and the layer's own output; a layer's temporaries get what is
left (at least MIN_BUDGET). When the fixed part, or one layer's, does not fit, the run stops
before allocating anything, naming what does not fit and by how much.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import prod
from typing import Any

from .errors import ShapeError, SpecError
from .model import INPUT, LayerSpec, Spec
from .report import Report
from .shape import Shape, fmt_shape

#: temporaries always get at least this much, whatever the rest takes (kernels work in pieces
#: of about this size, however little is left)
MIN_BUDGET = 16 << 20
#: what a run holds per layer besides arrays, at its peak: the parsed YAML, the config, the
#: layer's row of the analysis, its weights' and record's Python objects (measured on 50,000
#: layers: 2.7 KiB a layer for `repeat:` of a convolution, 5.3 KiB for a file that writes
#: out every layer with its name and inputs, most of it the YAML parser's)
LAYER_RECORDS = 5 << 10


def size_text(n: int) -> str:
    """``n`` bytes for a person: ``1.50 GiB (1,610,612,736 bytes)``."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.2f} {unit} ({n:,} bytes)"
    return f"{n} bytes"


def _inputs(shape: Shape | tuple[Shape, ...]) -> tuple[Shape, ...]:
    return shape if shape and isinstance(shape[0], tuple) else (shape,)  # type: ignore[return-value]


def last_use(spec: Spec) -> dict[str, int]:
    """For each output: the index of the last layer that reads it (the model output: never freed)."""
    last: dict[str, int] = {}
    for i, entry in enumerate(spec.layers):
        for name in entry.inputs:
            last[name] = i
    if spec.layers:
        last.pop(spec.layers[-1].name, None)
    return last


def memory_plan(
    spec: Spec,
    report: Report,
    itemsize: int,
    max_memory: int,
    weights: int,
    held: int = 0,
) -> list[int]:
    """Per layer: the bytes its temporaries may use, given ``weights`` bytes of weights and
    ``held`` bytes the caller keeps for the run. Raises (a ShapeError, before anything is
    allocated) when the input, weights and held bytes, or one layer's share, pass the limit."""
    assert report.input_shape is not None
    x0 = prod(report.input_shape) * itemsize
    records = record_bytes(spec)  # (run_forward checked them alone first: check_records)
    fixed = {
        "the weights": weights,
        "the model input": x0,
        "the data loaded for the run": held,
        f"the records of its {_layers(len(spec.layers))}": records,
    }
    if sum(fixed.values()) > max_memory:
        parts = ", ".join(f"{k} {size_text(v)}" for k, v in fixed.items() if v)
        raise ShapeError(
            f"the run needs {size_text(sum(fixed.values()))} before its first layer ({parts}), "
            f"over the memory limit of {size_text(max_memory)}",
            hint="use a smaller input or model, or raise --max-memory if the machine has the memory",
            expected=max_memory,
            got=sum(fixed.values()),
        )
    base = sum(fixed.values())
    sizes = {
        entry.name: prod(row.output_shape or ()) * itemsize
        for entry, row in zip(spec.layers, report.rows)
    }
    last = last_use(spec)
    alive: dict[str, int] = {}  # outputs made so far that a later layer reads
    budgets = []
    for i, (entry, row) in enumerate(zip(spec.layers, report.rows)):
        assert row.input_shape is not None and row.output_shape is not None
        y = sizes[entry.name]
        if in_place(entry, i, row.input_shape, row.output_shape, last):
            y = 0  # written over its input, which is counted among the kept outputs
        kept = sum(alive.values())
        need = base + kept + y
        if need > max_memory:
            raise ShapeError(
                _too_big(row.output_shape, y, kept, base, need, max_memory),
                hint="use a smaller batch or input, or raise --max-memory",
                expected=max_memory,
                got=need,
            ).at_layer(row.index, row.name, row.type)
        budgets.append(max(max_memory - need, MIN_BUDGET))
        for name in set(entry.inputs):  # what no later layer reads is freed
            if last.get(name) == i:
                alive.pop(name, None)
        if last.get(entry.name, -1) > i:
            alive[entry.name] = y
    return budgets


def _layers(n: int) -> str:
    return f"{n:,} layer{'' if n == 1 else 's'}"


def record_bytes(spec: Spec) -> int:
    """The bytes a run keeps for its layers' records (LAYER_RECORDS each)."""
    return len(spec.layers) * LAYER_RECORDS


def check_records(spec: Spec, max_memory: int) -> int:
    """The bytes of the layers' records (:func:`record_bytes`); a SpecError when they alone
    pass the memory limit (a stack of tens of thousands of layers under a small
    --max-memory: its arrays may be tiny, its bookkeeping is not)."""
    records = record_bytes(spec)
    if records > max_memory:
        raise SpecError(
            f"a run of {_layers(len(spec.layers))} keeps about {size_text(records)} of records "
            f"({LAYER_RECORDS >> 10} KiB a layer), over the memory limit of {size_text(max_memory)}",
            hint="raise --max-memory, or run a shorter stack",
            argument="max-memory",
            expected=max_memory,
            got=records,
        )
    return records


def in_place(entry: LayerSpec, i: int, x: Any, y: Shape | None, last: dict[str, int]) -> bool:
    """Whether layer ``i`` may write its output over its input, as far as shapes tell: the
    layer can, its one input is read by no later layer, is not the model input, and has the
    output's shape ``y`` (the run checks the array itself too)."""
    if not entry.layer.REUSES_INPUT or len(entry.inputs) != 1 or x != y:
        return False
    name = entry.inputs[0]
    return name != INPUT and last.get(name) == i


def _too_big(out: Shape, y: int, kept: int, base: int, need: int, limit: int) -> str:
    if y > limit:
        return f"the output {fmt_shape(out)} alone needs {size_text(y)}, over the memory limit of {size_text(limit)}"
    parts: Sequence[tuple[str, int]] = (
        (f"its output {fmt_shape(out)}", y),
        ("the outputs later layers read", kept),
        ("the weights, input, loaded data and records", base),
    )
    said = ", ".join(f"{what} {size_text(n)}" for what, n in parts if n)
    return f"needs {size_text(need)} at this layer ({said}), over the memory limit of {size_text(limit)}"


#: the work of one element step (an activation's, a normalisation's, a pooling window's), in
#: MACs: NumPy's passes over memory ran here at 0.1-5 G elements a second on one core
#: (LPPool1d over 10⁵-element windows: 0.47 G), a convolution's products at 4-20 GMAC/s
#: (a 3×3 depthwise one: 1.1 GMAC/s)
ELEMENT_WORK = 16
#: work for each element a transposed convolution's per-tap products read or write: where a
#: group has few channels each tap is a pass over memory (ConvTranspose2d(2, 2, 63,
#: dilation=2, groups=2) on 1169×356: 6.6 G of them in 7 s of one core, 0.26 GMAC/s), about
#: 5 MACs' time each; with many channels a group the MACs are more
TAP_WORK = 5
#: the most work a run does unless told otherwise: about a minute on one core of a machine
#: that multiplies at 5 GMAC/s (docs/running.md says how it was measured)
DEFAULT_MAX_WORK = 300 * 10**9


def _elements(shape: Any) -> int:
    return sum(prod(s) for s in _inputs(shape))


def work(entry: LayerSpec, x: Any, y: Shape, macs: int | None) -> int:
    """What one pass of a layer costs, in MACs: its MACs, or ELEMENT_WORK for each element it
    reads, or for each it writes times the window it is computed from, whichever is more (a
    layer without MACs, which torch's counters do not see, or a depthwise convolution, whose
    few MACs an element come at the speed of a pass over memory); for a layer computed tap by
    tap, at least TAP_WORK for each element its per-tap products read or write."""
    layer = entry.layer
    steps: int = max(_elements(x), prod(y) * layer.window(x, y))
    return max(macs or 0, ELEMENT_WORK * steps, TAP_WORK * layer.tap_passes(x, y))


def check_work(spec: Spec, report: Report, repeat: int, max_work: int) -> int:
    """The work of ``repeat`` passes (see :func:`work`); a SpecError (before anything is
    computed) when it passes ``max_work``, naming the layer that costs most."""
    costs = [
        work(entry, row.input_shape, row.output_shape or (), row.macs)
        for entry, row in zip(spec.layers, report.rows)
    ]
    total = sum(costs) * repeat
    if total <= max_work:
        return total
    from .table import human

    at = max(range(len(costs)), key=costs.__getitem__)
    row = report.rows[at]
    passes = f" × {repeat:,} passes (--repeat)" if repeat > 1 else ""
    raise SpecError(
        f"the run would take {human(total)} MACs of work{passes}, over the limit of "
        f"{human(max_work)} (--max-work); the most in layer {row.index} '{row.name}' "
        f"({row.type}): {human(costs[at])}{' a pass' if repeat > 1 else ''}, "
        f"{100 * costs[at] * repeat / total:.1f} %",
        hint=f"a limit of {human(DEFAULT_MAX_WORK)} is about a minute on one core: to run it "
        f"anyway, raise it (--max-work {human(_rounded_up(total)).replace(' ', '')})",
        argument="max-work",
        expected=max_work,
        got=total,
    )


def _rounded_up(n: int) -> int:
    """``n`` rounded up to two significant digits: a limit to suggest."""
    scale: int = 10 ** max(0, len(str(n)) - 2)
    return -(-n // scale) * scale


__all__ = [
    "DEFAULT_MAX_WORK", "ELEMENT_WORK", "MIN_BUDGET", "check_work", "in_place", "last_use",
    "memory_plan", "size_text", "work",
]  # fmt: skip
