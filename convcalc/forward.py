"""run_forward(spec, ...) → RunResult: a real NumPy forward pass that checks every predicted shape.

The analysis runs first; a model that is wrong fails here with the same
diagnosis as ``convcalc shape``, before anything is computed. Each layer's
kernel lives in its layer class (``Layer.forward``); this module checks the weights
and input, guards memory, times the kernels and compares the real shapes with
the Report's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from . import budget, cores
from .analysis import Report, analyze
from .errors import ConvcalcError, ShapeError, SpecError, number_text
from .model import INPUT
from .shape import Shape, prod
from .spec import Spec
from .stored import Stored
from .weights import Float32Draws, bind_weights, expected_entries, fold_affines, standard_normal

if TYPE_CHECKING:
    from .kernels import Config as KernelConfig

DTYPES = ("float32", "float64")
DEFAULT_MAX_MEMORY = 1 << 30
#: temporaries always get at least this much, whatever the input and output take

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class LayerRun:
    index: int
    actual_shape: Shape
    match: bool
    #: best kernel wall time over the repeats, milliseconds
    time_ms: float
    #: the kernel's estimated peak temporary bytes (unchunked)
    workspace_bytes: int
    #: the index of the layer this one was folded into (an eval BatchNorm into the
    #: convolution before it): nothing was left to compute here
    folded_into: int | None = None


@dataclass(frozen=True)
class Comparison:
    """The run's final output against a reference (torch's own output, say): shapes, the
    largest absolute difference, and whether every element is within ``atol + rtol·|ref|``
    (``numpy.allclose``; NaNs match NaNs)."""

    reference_shape: Shape
    output_shape: Shape | None
    #: None when the shapes differ or nothing ran
    max_abs_diff: float | None
    #: the largest finite |reference| element, the scale of the default atol
    reference_scale: float
    rtol: float
    atol: float
    match: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference_shape": list(self.reference_shape),
            "output_shape": None if self.output_shape is None else list(self.output_shape),
            "max_abs_diff": self.max_abs_diff,
            "reference_scale": self.reference_scale,
            "rtol": self.rtol,
            "atol": self.atol,
            "match": self.match,
        }


#: default relative tolerance of a comparison, per dtype (the issue's bar against torch)
COMPARE_RTOL = {"float32": 1e-4, "float64": 1e-9}


@dataclass(frozen=True)
class RunResult:
    report: Report
    layers: tuple[LayerRun, ...]
    dtype: str
    seed: int
    repeat: int
    output: np.ndarray | None = field(default=None, repr=False, compare=False)
    #: the final output against a reference, when one was given (see :func:`compare_output`)
    comparison: Comparison | None = None
    #: the thread limit the kernels ran under: the count named, held to the cores this
    #: process may run on (None: the default, one per idle core)
    threads: int | None = None
    #: the most activation memory the run held at once, measured on its arrays
    held_bytes: int | None = None
    #: the run behaved as torch's eager mode does (no folding, no reuse of dead inputs),
    #: so that held_bytes is the predicted peak
    eager_memory: bool = False

    @property
    def verified(self) -> bool:
        """Every layer ran and every real shape is the predicted one."""
        return (
            self.report.ok
            and len(self.layers) == len(self.report.rows)
            and all(r.match for r in self.layers)
        )

    @property
    def time_ms(self) -> float:
        return sum(r.time_ms for r in self.layers)

    @property
    def exit_code(self) -> int:
        matches = self.comparison is None or self.comparison.match
        return 0 if self.verified and matches else ShapeError.exit_code

    def to_dict(self, layers: bool = True) -> dict[str, Any]:
        """The report's fields and the run's; ``layers`` False: with an empty list of layers
        (for a writer that writes them itself)."""
        data = (self.report if layers else replace(self.report, rows=())).to_dict()
        runs = {r.index: r for r in self.layers}
        for layer in data["layers"]:
            run = runs.get(layer["index"])
            layer["actual_shape"] = None if run is None else list(run.actual_shape)
            layer["match"] = None if run is None else run.match
            layer["time_ms"] = None if run is None else round(run.time_ms, 4)
            layer["workspace_bytes"] = None if run is None else run.workspace_bytes
            layer["folded_into"] = None if run is None else run.folded_into
        data["verified"] = self.verified
        data["dtype"] = self.dtype
        data["seed"] = self.seed
        data["repeat"] = self.repeat
        data["threads"] = self.threads
        data["time_ms"] = round(self.time_ms, 4)
        data["held_bytes"] = self.held_bytes
        data["eager_memory"] = self.eager_memory
        if self.comparison is not None:
            data["comparison"] = self.comparison.to_dict()
        return data


def compare_output(
    result: RunResult,
    reference: np.ndarray,
    rtol: float | None = None,
    atol: float | None = None,
) -> RunResult:
    """``result`` with its final output compared with ``reference``: every element within
    ``atol + rtol·|reference|``. The defaults: rtol the dtype's bar against torch (1e-4 in
    float32, 1e-9 in float64) and atol = rtol × the largest finite |reference|, so that
    values near zero are judged against the output's scale, as the tests judge torch's."""
    rtol = COMPARE_RTOL[result.dtype] if rtol is None else float(rtol)
    ref = np.asarray(reference, dtype=np.float64)
    finite = np.abs(ref[np.isfinite(ref)])
    scale = float(finite.max()) if finite.size else 0.0
    atol = rtol * scale if atol is None else float(atol)
    out = result.output
    same = out is not None and tuple(out.shape) == tuple(ref.shape)
    diff: float | None = None
    match = False
    if same:
        assert out is not None
        got = out.astype(np.float64)
        close = np.isclose(got, ref, rtol=rtol, atol=atol, equal_nan=True)
        match = bool(close.all())
        both = np.isfinite(got) & np.isfinite(ref)
        diff = float(np.abs(got[both] - ref[both]).max()) if both.any() else 0.0
    comparison = Comparison(
        reference_shape=tuple(ref.shape),
        output_shape=None if out is None else tuple(out.shape),
        max_abs_diff=diff,
        reference_scale=scale,
        rtol=rtol,
        atol=atol,
        match=match,
    )
    return replace(result, comparison=comparison)


# ------------------------------------------------------------------- inputs
# ------------------------------------------------------------------ weights
def _share(
    entry: Any, i: int, y: np.ndarray, values: dict[str, np.ndarray], tensors: dict[str, int]
) -> None:
    """torch's aliasing in a graph: a layer that returns its input or a view of it (Identity,
    Dropout, Flatten, Unflatten) gives its name the same tensor; an in-place activation
    (inplace=True) writes over that tensor, so every name still holding it holds the result
    from then on (torch's value for a branch that reads it later). Names are rebound, arrays
    never written."""
    source = entry.inputs[0] if len(entry.inputs) == 1 else None
    if source is None or source not in tensors:
        tensors[entry.name] = i
        return
    shared = tensors[source]
    if entry.layer.mutates_input():
        for name, value in values.items():
            if tensors.get(name) == shared:
                values[name] = y.reshape(value.shape)
    elif not entry.layer.SHARES_INPUT:
        shared = i
    tensors[entry.name] = shared


def _reusable(
    entry: Any,
    i: int,
    x: Any,
    values: dict[str, np.ndarray],
    last_use: dict[str, int],
    predicted: Shape | None,
) -> bool:
    """Whether layer ``i`` may write its output into its input ``x``: it may as far as shapes
    tell (:func:`budget.in_place`, which the memory plan counts on), and ``x`` is a contiguous
    writeable array that shares no memory with a value still to be read (a view such as
    Flatten's)."""
    if not isinstance(x, np.ndarray) or not budget.in_place(entry, i, x.shape, predicted, last_use):
        return False
    if not x.flags.c_contiguous or not x.flags.writeable:
        return False
    name = entry.inputs[0]
    return not any(
        other != name and np.may_share_memory(x, value) for other, value in values.items()
    )


#: the share of --max-memory that kernels may keep between layers, per kept temporary
SCRATCH_SHARE = 16


def _plan(
    spec: Spec,
    report: Report,
    dtype: np.dtype[Any],
    max_memory: int,
    given: Mapping[str, np.ndarray | Stored] | None,
    input_data: np.ndarray | None,
    held: int,
) -> list[int]:
    """Each layer's budget for temporaries (see :func:`budget.memory_plan`): the weights at the
    run's dtype, and what the caller already holds in memory (weights and input data given as
    arrays, which the run copies when their dtype is not its own)."""
    assert report.input_shape is not None
    weights = 0
    for entry, row in zip(spec.layers, report.rows):
        shapes = expected_entries(entry, row.input_shape)  # type: ignore[arg-type]
        weights += sum(prod(shape) for shape in shapes.values()) * dtype.itemsize
    arrays = [v for v in (given or {}).values() if isinstance(v, np.ndarray)]
    if input_data is not None:
        arrays.append(input_data)
    held += sum(a.nbytes for a in arrays if a.dtype != dtype or not a.flags.c_contiguous)
    return budget.memory_plan(spec, report, dtype.itemsize, max_memory, weights, held)


#: a run of at least this many MACs waits, if need be, to measure how many cores stand idle
MEASURE_MIN_MACS = 1 << 30


def _limit(start: cores.Sample | None, report: Report, repeat: int) -> int | None:
    """The thread count of a run that names none: None (the kernels' default), unless other
    processes keep cores busy (see :mod:`convcalc.cores`); then as many threads as there are
    idle cores, BLAS's included."""
    wait = (report.totals.macs or 0) * repeat >= MEASURE_MIN_MACS
    n = cores.threads_for(cores.idle_since(start, wait), cores.cpu_count())
    fewer = n < cores.threads_for(None, cores.cpu_count())
    return n if fewer else None


def _kernel_settings(
    config: KernelConfig | None,
    threads: int | None,
    max_memory: int,
    idle_from: cores.Sample | None,
    report: Report,
    repeat: int,
) -> KernelConfig:
    """The kernels' settings for a run: ``config``, or those of the kernels run this call is
    made in (if any); the thread count named, else the config's, else measured (see
    :func:`_limit`); temporaries kept between layers bounded by the memory limit."""
    from .kernels import current

    settings = config if config is not None else current().config
    keep = min(settings.scratch_keep, max_memory // SCRATCH_SHARE)
    count = threads or settings.threads
    if count is None:
        count = _limit(idle_from, report, repeat)
    else:  # more threads than cores only wait on each other (64 on 2 cores: 35× slower)
        count = min(count, cores.cpu_count())
    return replace(settings, scratch_keep=keep, threads=count)


def _one_pass(
    spec: Spec,
    report: Report,
    x0: np.ndarray,
    params: list[dict[str, np.ndarray]],
    budgets: list[int],
    folded: dict[int, int],
    best: list[float],
    step: Callable[[int], None] | None,
    eager: bool = False,
) -> tuple[list[Shape], np.ndarray, int]:
    """One pass over the layers from the input ``x0``: each layer's output shape (up to the
    first that differs from its prediction), the last output and the most activation memory
    held at once; ``best`` keeps each layer's fastest time, ``step(i)`` after layer ``i``.
    ``eager``: as torch's eager mode runs, an in-place layer writes over its input and no
    other layer reuses one."""
    last_use = budget.last_use(spec)
    final = len(spec.layers) - 1
    values = _Values()
    values[INPUT] = x0
    held = values.bytes
    # names holding one torch tensor (or views of it), by the layer that made it
    tensors: dict[str, int] = {INPUT: -1}
    shapes: list[Shape] = []
    out = x0
    for i, (entry, row) in enumerate(zip(spec.layers, report.rows)):
        args = [values[name] for name in entry.inputs]
        x = args if entry.layer.multi_input else args[0]
        if eager:
            reuse = entry.layer.mutates_input() and _writable(x)
        else:
            reuse = _reusable(entry, i, x, values, last_use, row.output_shape)
        start = time.perf_counter()
        if i in folded:  # computed by the layer it was folded into
            y = args[0]
        else:
            y = _call_layer(entry, x, params[i], budgets[i], reuse)
        best[i] = min(best[i], time.perf_counter() - start)
        if y.dtype != x0.dtype:
            y = y.astype(x0.dtype)
        shapes.append(tuple(int(v) for v in y.shape))
        if shapes[-1] != row.output_shape:
            # the next layers' predictions assume the predicted shape: stop here
            break
        _share(entry, i, y, values, tensors)
        values[entry.name] = y
        held = max(held, values.bytes)
        for name in set(entry.inputs):  # free what no later layer reads
            if last_use.get(name) == i:
                del values[name]
        if entry.name not in last_use and i < final:  # an output nothing reads
            del values[entry.name]
        out = y
        if step is not None:
            step(i)
    return shapes, out, held


def _writable(x: Any) -> bool:
    return isinstance(x, np.ndarray) and x.flags.c_contiguous and x.flags.writeable


class _Values(dict[str, np.ndarray]):
    """The outputs a pass still holds, by name, keeping count of the bytes of the distinct
    arrays behind them (a view counts with its base) as names come and go: a sum over every
    name at every layer made a 10,000-branch model quadratic."""

    def __init__(self) -> None:
        super().__init__()
        self.bytes = 0
        self._roots: dict[int, list[Any]] = {}  # id → [array, names holding it]

    def __setitem__(self, name: str, value: np.ndarray) -> None:
        if name in self:
            self._drop(self[name])
        super().__setitem__(name, value)
        root = _root(value)
        held = self._roots.get(id(root))
        if held is None:
            self._roots[id(root)] = [root, 1]
            self.bytes += root.nbytes
        else:
            held[1] += 1

    def __delitem__(self, name: str) -> None:
        self._drop(self[name])
        super().__delitem__(name)

    def _drop(self, value: np.ndarray) -> None:
        root = _root(value)
        held = self._roots[id(root)]
        held[1] -= 1
        if not held[1]:
            del self._roots[id(root)]
            self.bytes -= root.nbytes


def _root(value: np.ndarray) -> np.ndarray:
    while isinstance(value.base, np.ndarray):
        value = value.base
    return value


def _call_layer(entry: Any, x: Any, params: dict[str, np.ndarray], budget: int, reuse: bool) -> Any:
    """The layer's kernel on ``x`` (written into ``x`` itself when ``reuse``); a kernel the
    layer lacks, or memory running out, is an error at the layer."""
    try:
        if reuse:
            return entry.layer.forward_into(x, params, budget, x)
        return entry.layer.forward(x, params, budget)
    except NotImplementedError as exc:
        raise ConvcalcError(str(exc)).at_layer(entry.index, entry.name, entry.type) from None
    except MemoryError:
        raise ShapeError(
            "ran out of memory",
            hint="use a smaller batch or input, or a lower --max-memory",
        ).at_layer(entry.index, entry.name, entry.type) from None


#: the most passes one run makes (``repeat`` is for timing: the best of a few runs is the time)
MAX_REPEAT = 1000


def _check_options(dtype: str, repeat: int, threads: int | None, seed: int) -> None:
    if dtype not in DTYPES:
        raise SpecError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if not 1 <= repeat <= MAX_REPEAT:
        raise SpecError(
            f"repeat must be between 1 and {MAX_REPEAT:,}, got {number_text(repeat)}",
            argument="repeat",
        )
    if threads is not None and threads < 1:
        raise SpecError(f"threads must be at least 1, got {threads}")
    if not 0 <= seed < 1 << 64:  # NumPy's seeds are unsigned
        raise SpecError(f"seed must be between 0 and 2**64 - 1, got {seed}", argument="seed")


def _analysed(
    spec: Spec, input_shape: Shape | None, input_data: np.ndarray | None, dtype: str
) -> Report:
    """The report of ``spec`` on the run's input: ``input_data``'s shape, else ``input_shape``,
    else the spec's own."""
    if input_data is not None:
        input_shape = tuple(int(v) for v in input_data.shape)
    if input_shape is None and spec.input_shape is None:
        raise SpecError(
            "no input shape",
            location=spec.source,
            hint="add input: [N, C, H, W] to the file, or pass --input 1,3,224,224",
        )
    return analyze(spec, input_shape, dtype=dtype)


def _layer_runs(
    spec: Spec,
    report: Report,
    shapes: list[Shape],
    best: list[float],
    itemsize: int,
    folded: dict[int, int],
) -> tuple[LayerRun, ...]:
    """Each layer's record: its real output shape, whether it is the predicted one, its best
    time, its temporaries and what it was folded into."""
    return tuple(
        LayerRun(
            row.index,
            shape,
            shape == row.output_shape,
            best[i] * 1000.0,
            entry.layer.workspace(row.input_shape, shape) * itemsize,  # type: ignore[arg-type]
            folded.get(i),
        )
        for i, (entry, row, shape) in enumerate(zip(spec.layers, report.rows, shapes))
    )


def run_forward(
    spec: Spec,
    input_shape: Shape | None = None,
    *,
    weights: Mapping[str, np.ndarray | Stored] | None = None,
    input_data: np.ndarray | None = None,
    seed: int = 0,
    dtype: str = "float32",
    repeat: int = 1,
    max_memory: int = DEFAULT_MAX_MEMORY,
    progress: Progress | None = None,
    fold: bool = True,
    threads: int | None = None,
    config: KernelConfig | None = None,
    held: int = 0,
    idle_from: cores.Sample | None = None,
    eager_memory: bool = False,
    max_work: int | None = budget.DEFAULT_MAX_WORK,
) -> RunResult:
    """Analyse ``spec``, then run it for real and compare every layer's shape with the prediction.

    ``weights`` is a state_dict (name.suffix → array); without it, parameters are
    drawn from PyTorch's default initialisation distributions with ``seed``.
    ``input_data`` (its shape becomes the input shape) defaults to a seeded
    standard-normal tensor. A wrong model returns the analysis only, unrun. ``fold``: fold
    eval BatchNorms into the convolutions (or Linears) before them where that pays (see
    :func:`fold_affines`). ``threads``: run the kernels, BLAS included, on at most this many
    threads (as ``torch.set_num_threads`` does); None: one per idle core (see :mod:`.cores`).
    ``config``: the kernels' settings (the thresholds between their paths; ``threads``
    overrides its own; default: those of the kernels run this call is made in, if any).
    ``max_memory`` bounds everything the run holds (see :mod:`.budget`), with ``held`` bytes
    its caller keeps for it (a reference to compare with). ``idle_from``: a
    :func:`cores.sample` the caller took earlier (the command line, when it starts), so that
    a run that names no thread count measures the idle cores since then instead of waiting.
    ``eager_memory``: run as torch's eager mode does (no folding, an in-place layer writing over
    its input, no other reuse), so that the memory the run holds is the predicted peak.
    ``max_work``: the most work the ``repeat`` passes may ask for, in MACs (a layer without
    MACs counts its elements times its window; see :func:`budget.check_work`), refused
    before anything is computed; None: no limit.
    """
    fold = fold and not eager_memory
    _check_options(dtype, repeat, threads, seed)
    budget.check_records(spec, max_memory)  # before the analysis adds to them
    if threads is None and idle_from is None:
        idle_from = cores.sample()
    np_dtype = np.dtype(dtype)
    report = _analysed(spec, input_shape, input_data, dtype)
    assert report.input_shape is not None
    if not report.ok:
        return RunResult(report, (), dtype, seed, repeat, threads=threads)
    if max_work is not None:
        budget.check_work(spec, report, repeat, max_work)
    budgets = _plan(spec, report, np_dtype, max_memory, weights, input_data, held)
    # the steps: one per layer to bind (or draw) its weights, then one per layer and repeat
    first, total = len(spec.layers), len(spec.layers) * (1 + repeat)
    bind = None if progress is None else (lambda i: progress(i, total))
    # float arithmetic as torch's: nan and ±inf are values, never warnings (here and below)
    with np.errstate(all="ignore"):
        # drawn in float32 whatever the run's dtype: the same seed gives the same weights
        draws = Float32Draws(np.random.default_rng([seed, 0]))
        params = bind_weights(spec, report, weights, draws, np_dtype, bind)
        folded = fold_affines(spec, report, params, repeat) if fold else {}
    if input_data is None:
        x0 = standard_normal(np.random.default_rng([seed, 1]), report.input_shape, np_dtype)
    else:
        x0 = np.ascontiguousarray(input_data, dtype=np_dtype)

    best = [float("inf")] * len(spec.layers)
    held_bytes = 0
    shapes: list[Shape] = []
    out: np.ndarray = x0
    from .kernels import Run, prepare

    prepare()
    settings = _kernel_settings(config, threads, max_memory, idle_from, report, repeat)
    with Run(settings), np.errstate(all="ignore"):
        for rep in range(repeat):
            done = first + rep * len(spec.layers)
            step = None if progress is None else (lambda i, d=done: progress(d + i + 1, total))
            start = x0.copy() if eager_memory else x0  # in place writes over the input
            shapes, out, most = _one_pass(
                spec, report, start, params, budgets, folded, best, step, eager_memory
            )
            held_bytes = max(held_bytes, most)
    runs = _layer_runs(spec, report, shapes, best, np_dtype.itemsize, folded)
    complete = len(runs) == len(spec.layers) and all(r.match for r in runs)
    output = out if complete else None
    return RunResult(
        # the threads the kernels ran on: a count named past the cores is held to them
        report, runs, dtype, seed, repeat, output, held_bytes=held_bytes,
        threads=None if threads is None else settings.threads,
        eager_memory=eager_memory,
    )  # fmt: skip


__all__ = [
    "LayerRun",
    "RunResult",
    "expected_entries",
    "fold_affines",
    "run_forward",
]
