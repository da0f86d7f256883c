"""Input-size sweeps: one row per input size (output shape, MACs, peak memory, or the layer
that fails and why), and the ranges of sizes for which a network works.

The sizes replace the spatial axes of an input shape (those after batch and channels),
which gives the batch and the channels. A search propagates shapes alone, as the
diagnosis's search for sizes that work does (diagnosis.py), each layer's result kept per
input shape: past a strided layer many input sizes meet, and are computed once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from .diagnosis import inputs_of, to_ranges
from .errors import ShapeError, SpecError
from .layers.checks import UNCOVERED
from .liveness import DTYPE_BYTES, lifetimes, output_bytes
from .model import INPUT, Spec
from .report import Problem
from .shape import Shape, fmt_product, prod

#: the most sizes one sweep takes (a list, a range, or a square search); twice that many
#: (H, W) pairs for a search of H and W that must try every pair
MAX_SIZES = 100_000
MAX_PAIRS = 2 * MAX_SIZES

Ranges = tuple[tuple[int, int], ...]


# ------------------------------------------------------------------ parsing
def spatial_axes(x0: Shape | None) -> int:
    """How many spatial axes the input shape has (after batch and channels); a SpecError
    without an input shape, or without spatial axes."""
    if x0 is None:
        raise SpecError(
            "a sweep needs an input shape for its batch and channels",
            argument="--input",
            hint="give one with -i (1,3,224,224: the sizes replace 224,224) or input: in the file",
        )
    if len(x0) < 3:
        raise SpecError(
            f"the input shape {fmt_product(x0)} has no spatial axes to sweep "
            "(the sizes replace the axes after batch and channels)",
            argument="--input",
        )
    return len(x0) - 2


def _int(text: str, what: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise SpecError(f"{what}: {text.strip()!r} is not a whole number", argument=what) from None
    if value < 1:
        raise SpecError(f"{what}: sizes start at 1, got {value}", argument=what)
    return value


def parse_range(text: str, what: str, step: bool = True) -> range:
    """``160:512:32`` (both ends included) or ``160:512`` (step 1)."""
    parts = text.split(":")
    if len(parts) not in ((2, 3) if step else (2,)):
        form = "START:STOP[:STEP]" if step else "LO:HI"
        raise SpecError(f"{what}: {text!r} is not {form}", argument=what)
    lo, hi = _int(parts[0], what), _int(parts[1], what)
    by = 1
    if len(parts) == 3:
        try:
            by = int(parts[2].strip())
        except ValueError:
            raise SpecError(
                f"{what}: the step {parts[2].strip()!r} is not a whole number"
            ) from None
        if by < 1:
            raise SpecError(f"{what}: the step must be at least 1, got {by}", argument=what)
    if lo > hi:
        raise SpecError(
            f"{what}: {text!r} starts after it stops", hint=f"write {hi}:{lo}", argument=what
        )
    return range(lo, hi + 1, by)


def _bounded(count: int, what: str, bound: int = MAX_SIZES, unit: str = "sizes") -> None:
    if count > bound:
        raise SpecError(
            f"{what}: {count:,} {unit}, more than the {bound:,} a sweep takes",
            argument=what.split()[0],
            hint="narrow the range or take a larger step",
        )


def parse_sizes(text: str, nd: int) -> list[Shape]:
    """``--sizes``: comma-separated ranges of square sizes (``160:512:32``), square sizes
    (``224``) and sizes per axis (``224x160``, H×W; D×H×W for 3d); each as ``nd`` values."""
    what = "--sizes"
    sizes: list[Shape] = []
    for item in text.split(","):
        item = item.strip().replace("×", "x")
        if not item:
            raise SpecError(f"{what}: {text!r} has an empty item", argument=what)
        if ":" in item:
            if "x" in item:
                raise SpecError(
                    f"{what}: {item!r}: a range is of square sizes, write it alone", argument=what
                )
            span = parse_range(item, what)
            _bounded(len(sizes) + len(span), what)
            sizes.extend((n,) * nd for n in span)
            continue
        values = tuple(_int(v, what) for v in item.split("x"))
        if len(values) == 1:
            values *= nd
        elif len(values) != nd:
            axes = ("L", "H×W", "D×H×W")[nd - 1] if nd <= 3 else f"{nd} values"
            raise SpecError(
                f"{what}: {item!r} gives {len(values)} sizes, the input has {nd} spatial "
                f"ax{'is' if nd == 1 else 'es'} ({axes})"
            )
        sizes.append(values)
        _bounded(len(sizes), what)
    return sizes


def with_sizes(x0: Shape, sizes: Sequence[int]) -> Shape:
    """The input shape ``x0`` with its spatial axes replaced by ``sizes``."""
    return tuple(x0[: len(x0) - len(sizes)]) + tuple(sizes)


# ------------------------------------------------------------------ propagation
_UNSEEN: Any = object()


class Pass(NamedTuple):
    """One input shape through the layers: each output by name, what each layer read, and
    the first layer that fails (None: every layer works)."""

    outputs: dict[str, Shape]
    reads: list[Any]
    failed: int | None


class Prober:
    """Shapes through a model's layers for many input shapes, each layer's output (or
    failure), MACs and coverage kept per input shape it was given."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        n = len(spec.layers)
        self._shapes: list[dict[Any, Shape | None]] = [{} for _ in range(n)]
        #: per layer and input: MACs, covered, and the output's elements it allocates
        self._extra: list[dict[Any, tuple[int, bool, int]]] = [{} for _ in range(n)]
        self._lifetimes = lifetimes(spec)
        #: the first layer whose arguments alone fail (no size can work), or None
        self.broken: int | None = None
        for entry in spec.layers:
            try:
                entry.layer.check()
            except ShapeError:
                self.broken = entry.index
                break

    def run(self, x0: Shape) -> Pass:
        """Every layer's output for input ``x0`` up to the first that fails."""
        outputs: dict[str, Any] = {INPUT: x0}
        reads: list[Any] = []
        if self.broken is not None:
            return Pass(outputs, reads, self.broken)
        for entry, memo in zip(self.spec.layers, self._shapes):
            x = inputs_of(entry, outputs)
            reads.append(x)
            y = memo.get(x, _UNSEEN)
            if y is _UNSEEN:
                try:
                    y = entry.layer.out_shape(x)
                except ShapeError:
                    y = None
                memo[x] = y
            if y is None:
                return Pass(outputs, reads, entry.index)
            outputs[entry.name] = y
        return Pass(outputs, reads, None)

    def works(self, x0: Shape) -> bool:
        return self.run(x0).failed is None

    def details(self, done: Pass) -> tuple[int, bool, list[int]]:
        """For a pass that worked: its MACs; whether every layer's windows reach every row
        and column of its input (no note says some are not covered); the elements each
        layer's output allocates."""
        macs, covered, elements = 0, True, []
        outputs = done.outputs
        for entry, memo, x in zip(self.spec.layers, self._extra, done.reads):
            known = memo.get(x)
            if known is None:
                y = outputs[entry.name]
                layer = entry.layer
                notes = layer.notes(x, y)
                known = (
                    layer.macs(x, y),
                    not any(UNCOVERED in n for n in notes),
                    output_bytes(entry, y, 1),
                )
                memo[x] = known
            macs += known[0]
            covered = covered and known[1]
            elements.append(known[2])
        return macs, covered, elements

    def covered(self, x0: Shape) -> bool:
        """Whether ``x0`` works and leaves no row or column uncovered."""
        done = self.run(x0)
        return done.failed is None and self.details(done)[1]

    def peak(self, x0: Shape, elements: Sequence[int], itemsize: int) -> int:
        """The peak bytes of an eager inference pass (liveness.py's), given the elements
        each layer's output allocates."""
        sizes = [e * itemsize for e in elements]
        return self._lifetimes.peak(sizes, prod(x0) * itemsize)[0]


def _ranges_list(ranges: Ranges) -> list[list[int]]:
    return [[lo, hi] for lo, hi in ranges]


# ------------------------------------------------------------------ --sizes
@dataclass(frozen=True)
class SizeRow:
    """One input size: what the model gives, or where it fails."""

    size: Shape
    input_shape: Shape
    output_shape: Shape | None
    macs: int | None
    #: the most activation memory alive in an eager inference pass (Memory.peak_bytes)
    peak_bytes: int | None
    #: no layer leaves trailing input rows or columns unreached; None when it fails
    covered: bool | None
    error: Problem | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "size": list(self.size),
            "input_shape": list(self.input_shape),
            "output_shape": None if self.output_shape is None else list(self.output_shape),
            "macs": self.macs,
            "peak_bytes": self.peak_bytes,
            "covered": self.covered,
            "error": None if self.error is None else self.error.to_dict(),
        }


@dataclass(frozen=True)
class SizeTable:
    model: str | None
    dtype: str
    rows: tuple[SizeRow, ...]

    @property
    def ok(self) -> bool:
        return all(r.error is None for r in self.rows)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else ShapeError.exit_code

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "dtype": self.dtype,
            "ok": self.ok,
            "sizes": [r.to_dict() for r in self.rows],
        }


def sweep_sizes(
    spec: Spec, sizes: Sequence[Shape], input_shape: Shape | None = None, dtype: str = "float32"
) -> SizeTable:
    """One row per size in ``sizes`` (spatial sizes), with the batch and channels of
    ``input_shape`` (or the spec's input)."""
    from .analysis import analyze

    x0 = input_shape if input_shape is not None else spec.input_shape
    nd = spatial_axes(x0)
    assert x0 is not None
    if dtype not in DTYPE_BYTES:
        raise SpecError(f"dtype {dtype!r} is none of {', '.join(DTYPE_BYTES)}")
    itemsize = DTYPE_BYTES[dtype]
    prober = Prober(spec)
    rows = []
    for size in sizes:
        if len(size) != nd:
            raise SpecError(f"size {fmt_product(size)} has {len(size)} axes, the input {nd}")
        x = with_sizes(x0, size)
        done = prober.run(x)
        outputs = done.outputs
        if done.failed is None:
            macs, covered, elements = prober.details(done)
            y = outputs[spec.layers[-1].name] if spec.layers else x
            peak = prober.peak(x, elements, itemsize)
            rows.append(SizeRow(size, x, y, macs, peak, covered))
            continue
        report = analyze(spec, x, size_hints=False, dtype=dtype)
        rows.append(SizeRow(size, x, None, None, None, None, report.errors[0]))
    return SizeTable(spec.name, dtype, tuple(rows))


# ------------------------------------------------------------------ --valid
@dataclass(frozen=True)
class ValidSizes:
    """The square (cubic; for 1d the lengths) input sizes from ``lo`` to ``hi`` that work,
    and those of them that leave no row or column uncovered, as runs of consecutive sizes."""

    model: str | None
    input_shape: Shape
    lo: int
    hi: int
    works: Ranges
    covered: Ranges

    @property
    def exit_code(self) -> int:
        return 0 if self.works else ShapeError.exit_code

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "input_shape": list(self.input_shape),
            "range": [self.lo, self.hi],
            "works": _ranges_list(self.works),
            "works_count": count(self.works),
            "covered": _ranges_list(self.covered),
            "covered_count": count(self.covered),
        }


def count(ranges: Ranges) -> int:
    return sum(hi - lo + 1 for lo, hi in ranges)


def _search(prober: Prober, shapes: Sequence[tuple[int, Shape]]) -> tuple[Ranges, Ranges]:
    """Of ``(size, input shape)`` pairs: the sizes that work, and those also covered."""
    good, covered = [], []
    for size, x in shapes:
        done = prober.run(x)
        if done.failed is None:
            good.append(size)
            if prober.details(done)[1]:
                covered.append(size)
    return tuple(to_ranges(good)), tuple(to_ranges(covered))


def valid_sizes(
    spec: Spec, lo: int, hi: int, input_shape: Shape | None = None, prober: Prober | None = None
) -> ValidSizes:
    x0 = input_shape if input_shape is not None else spec.input_shape
    nd = spatial_axes(x0)
    assert x0 is not None
    _bounded(hi - lo + 1, "--valid")
    prober = prober or Prober(spec)
    works, covered = _search(prober, [(n, with_sizes(x0, (n,) * nd)) for n in range(lo, hi + 1)])
    return ValidSizes(spec.name, x0, lo, hi, works, covered)


# ------------------------------------------------------------------ --valid-hw
@dataclass(frozen=True)
class Coupling:
    """The first layer with an output size that changes with H and with W."""

    index: int
    name: str
    type: str
    #: the dimension of its output that does
    dim: int

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "name": self.name, "type": self.type, "dim": self.dim}


@dataclass(frozen=True)
class ValidHW:
    """H and W searched each from ``lo`` to ``hi``. Independent axes (``coupling`` None):
    the H that work at W = ``at[1]`` and the W that work at H = ``at[0]``, and every pair of
    them works. Otherwise ``pairs``: runs of H that accept the same W, with those W."""

    model: str | None
    input_shape: Shape
    lo: int
    hi: int
    #: the (H, W) the other axis is held at: a square size that works (covered if one is)
    at: tuple[int, int] | None
    coupling: Coupling | None
    h: Ranges = ()
    w: Ranges = ()
    h_covered: Ranges = ()
    w_covered: Ranges = ()
    pairs: tuple[tuple[tuple[int, int], Ranges], ...] = ()
    covered_pairs: tuple[tuple[tuple[int, int], Ranges], ...] = ()

    @property
    def independent(self) -> bool:
        return self.coupling is None

    @property
    def exit_code(self) -> int:
        return 0 if self.h or self.pairs else ShapeError.exit_code

    def to_dict(self) -> dict[str, Any]:
        def groups(items: tuple[tuple[tuple[int, int], Ranges], ...]) -> list[dict[str, Any]]:
            return [{"h": list(h), "w": _ranges_list(w)} for h, w in items]

        return {
            "model": self.model,
            "input_shape": list(self.input_shape),
            "range": [self.lo, self.hi],
            "independent": self.independent,
            "at": None if self.at is None else list(self.at),
            "coupling": None if self.coupling is None else self.coupling.to_dict(),
            "h": _ranges_list(self.h),
            "w": _ranges_list(self.w),
            "h_covered": _ranges_list(self.h_covered),
            "w_covered": _ranges_list(self.w_covered),
            "pairs": groups(self.pairs),
            "covered_pairs": groups(self.covered_pairs),
        }


def valid_hw(spec: Spec, lo: int, hi: int, input_shape: Shape | None = None) -> ValidHW:
    x0 = input_shape if input_shape is not None else spec.input_shape
    if spatial_axes(x0) != 2:
        raise SpecError("--valid-hw searches H and W: it needs an input of two spatial axes")
    assert x0 is not None
    _bounded(hi - lo + 1, "--valid-hw")
    prober = Prober(spec)
    base = _base(prober, x0, lo, hi)
    if base is None:
        return ValidHW(spec.name, x0, lo, hi, None, None)
    h0, w0 = base
    coupling = _coupling(prober, x0, base)
    if coupling is not None:
        pairs, covered = _grid(prober, x0, lo, hi, base, coupling.index)
        return ValidHW(spec.name, x0, lo, hi, base, coupling, pairs=pairs, covered_pairs=covered)
    sizes = range(lo, hi + 1)
    h, _ = _search(prober, [(v, with_sizes(x0, (v, w0))) for v in sizes])
    w, _ = _search(prober, [(v, with_sizes(x0, (h0, v))) for v in sizes])
    # every pair of an H and a W found works: one that is covered gives the covered ones
    hs = [v for a, b in h for v in range(a, b + 1)]
    ws = [v for a, b in w for v in range(a, b + 1)]
    at = next(
        (
            p
            for p in _limited(((a, b) for a in hs for b in ws), MAX_PAIRS)
            if prober.covered(with_sizes(x0, p))
        ),
        None,
    )
    h_cov: Ranges = ()
    w_cov: Ranges = ()
    if at is not None:
        h_cov = _search(prober, [(v, with_sizes(x0, (v, at[1]))) for v in hs])[1]
        w_cov = _search(prober, [(v, with_sizes(x0, (at[0], v))) for v in ws])[1]
    return ValidHW(spec.name, x0, lo, hi, base, None, h, w, h_cov, w_cov)


def _limited(pairs: Iterable[tuple[int, int]], limit: int) -> Iterator[tuple[int, int]]:
    for n, pair in enumerate(pairs):
        if n >= limit:
            return
        yield pair


def _base(prober: Prober, x0: Shape, lo: int, hi: int) -> tuple[int, int] | None:
    """An (H, W) that works, to hold one axis at while the other is searched: a square
    size nearest the input's own (covered if one is), the input's own, or the first pair
    (H, then W, increasing) that works; None when none does (within MAX_PAIRS tries)."""
    square = valid_sizes(prober.spec, lo, hi, x0, prober)
    pick = square.covered or square.works
    own = x0[-1]
    if pick:
        n = min((min(max(own, a), b) for a, b in pick), key=lambda v: (abs(v - own), v))
        return n, n
    if prober.works(x0):
        return x0[-2], x0[-1]
    grid = ((h, w) for h in range(lo, hi + 1) for w in range(lo, hi + 1))
    return next((p for p in _limited(grid, MAX_PAIRS) if prober.works(with_sizes(x0, p))), None)


def _coupling(prober: Prober, x0: Shape, base: tuple[int, int]) -> Coupling | None:
    """The first layer with an output size that changes when H doubles and when W does
    (from ``base``, which works); None if there is none (up to where the doubled sizes
    fail)."""
    h, w = base
    at = prober.run(with_sizes(x0, (h, w))).outputs
    tall = prober.run(with_sizes(x0, (2 * h, w))).outputs
    wide = prober.run(with_sizes(x0, (h, 2 * w))).outputs
    for entry in prober.spec.layers:
        y, yh, yw = at.get(entry.name), tall.get(entry.name), wide.get(entry.name)
        if y is None or yh is None or yw is None:
            break
        if len(yh) != len(y) or len(yw) != len(y):
            continue
        for dim, (a, b, c) in enumerate(zip(y, yh, yw)):
            if a != b and a != c:
                return Coupling(entry.index, entry.name, entry.type, dim)
    return None


def _grid(
    prober: Prober, x0: Shape, lo: int, hi: int, base: tuple[int, int], k: int
) -> tuple[tuple[tuple[tuple[int, int], Ranges], ...], tuple[tuple[tuple[int, int], Ranges], ...]]:
    """Every (H, W) that works (and is covered): runs of H with the same W.

    The layers before ``k`` (the first that mixes H and W) treat H and W apart, so what
    reaches layer ``k`` and later from them at (H, W) is made of its H sizes at (H, w0) and
    its W sizes at (h0, W), (h0, w0) being ``base``: two H that give the same there accept the same W. One H per such
    class is tried with one W per class; the pairs that work are then checked for cover
    one by one.
    """
    layers = prober.spec.layers
    made = {INPUT} | {e.name for e in layers[:k]}
    reads = sorted({name for e in layers[k:] for name in e.inputs if name in made})

    def classes(axis: int) -> dict[Any, list[int]]:
        found: dict[Any, list[int]] = {}
        for v in range(lo, hi + 1):
            pair = (v, base[1]) if axis == 0 else (base[0], v)
            outputs, _, failed = prober.run(with_sizes(x0, pair))
            if failed is None or failed >= k:
                key = tuple(outputs.get(name) for name in reads)
                found.setdefault(key, []).append(v)
        return found

    hs, ws = classes(0), classes(1)
    _bounded(len(hs) * len(ws), "--valid-hw (H and W not independent)", MAX_PAIRS, "pairs to try")
    accepted: dict[int, list[int]] = {}
    for h_class in hs.values():
        w_ok = [
            w
            for w_class in ws.values()
            if prober.works(with_sizes(x0, (h_class[0], w_class[0])))
            for w in w_class
        ]
        for h in h_class:
            accepted[h] = sorted(w_ok)
    _bounded(sum(map(len, accepted.values())), "--valid-hw", MAX_PAIRS, "pairs that work")
    rows = [(h, tuple(to_ranges(accepted[h]))) for h in sorted(accepted)]
    covered = [
        (h, tuple(to_ranges([w for w in accepted[h] if prober.covered(with_sizes(x0, (h, w)))])))
        for h in sorted(accepted)
    ]
    return _group(rows), _group(covered)


def _group(rows: Sequence[tuple[int, Ranges]]) -> tuple[tuple[tuple[int, int], Ranges], ...]:
    """Consecutive H with the same W ranges, as one group; H where no W works left out."""
    groups: list[tuple[tuple[int, int], Ranges]] = []
    for h, w in rows:
        if not w:
            continue
        if groups and groups[-1][1] == w and groups[-1][0][1] == h - 1:
            groups[-1] = ((groups[-1][0][0], h), w)
        else:
            groups.append(((h, h), w))
    return tuple(groups)
