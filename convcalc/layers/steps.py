"""The arithmetic of a layer written out, as a teacher would: :class:`Step` records that each
layer class's ``explain`` yields, and the helpers that write their numbers in.

A step is one line: ``what = formula = substituted = … = result``. Its result is computed
with shape.py's arithmetic, the same that ``shape`` reports; ``dim`` and ``counts`` say
which reported figure a result is (the test over the registry checks each against it).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ..shape import AXES, Shape, fmt_shape, prod


@dataclass(frozen=True)
class Step:
    #: the quantity: ``H_out``, ``params``, ``MACs``, ``H padding``, ``output``
    what: str
    #: its formula in names (``⌊(H_in + 2·padding − …) / stride⌋ + 1``); "" when it is a given
    formula: str
    #: the formula with the numbers in, then each simplification, in order
    values: tuple[str, ...]
    #: the result: a size or count, or a shape (a tuple) or a word
    result: int | Shape | str
    #: the output dimension the result is (its size), when it is one
    dim: int | None = None
    #: "params", "macs" or "shape" (the whole output shape) when the result is that figure
    counts: str | None = None
    #: a word on the result (a rule that kept or dropped something)
    note: str = ""


def axis_names(nd: int) -> tuple[str, ...]:
    """H, W (L for one axis; D, H, W for three)."""
    return AXES[nd]


def spatial_dims(y: Shape, nd: int) -> range:
    """The indices of the last ``nd`` dimensions of ``y``."""
    return range(len(y) - nd, len(y))


def floored(numerator: int, denominator: int, plus: int = 0) -> tuple[str, ...]:
    """The simplifications of ``⌊numerator / denominator⌋ + plus``: ``⌊1⌋ + 1`` when it
    divides, else ``⌊3/2⌋ + 1`` then ``1 + 1``."""
    tail = f" + {plus}" if plus else ""
    q, r = divmod(numerator, denominator)
    if r == 0:
        return (f"⌊{q}⌋{tail}",) if plus else (f"⌊{q}⌋",)
    first = f"⌊{numerator}/{denominator}⌋{tail}"
    return (first, f"{q}{tail}") if plus else (first,)


def ceiled(numerator: int, denominator: int, plus: int = 0) -> tuple[str, ...]:
    """As :func:`floored`, rounding up: ``⌈3/2⌉ + 1`` then ``2 + 1``."""
    tail = f" + {plus}" if plus else ""
    q = -(-numerator // denominator)
    if numerator % denominator == 0:
        return (f"⌈{q}⌉{tail}",) if plus else (f"⌈{q}⌉",)
    first = f"⌈{numerator}/{denominator}⌉{tail}"
    return (first, f"{q}{tail}") if plus else (first,)


def signed(terms: Sequence[tuple[str, int]]) -> str:
    """``5 + 2 − 4 − 1`` from ``[("", 5), ("+", 2), ("−", 4), ("−", 1)]``."""
    out = ""
    for sign, value in terms:
        out += f" {sign} {value}" if sign else str(value)
    return out


def product(values: Sequence[int]) -> str:
    """``64 · 3 · 5 · 5``."""
    return " · ".join(str(v) for v in values)


def kernel_names(nd: int) -> list[str]:
    """k_h · k_w: a kernel's extent per spatial axis, in names."""
    return [f"k_{a.lower()}" for a in axis_names(nd)]


def unchanged(x: Shape, y: Shape) -> Step:
    """An element-wise layer: the output has the input's shape."""
    return Step("output", "input shape", (fmt_shape(x),), y, counts="shape")


def weight_sum(weights: dict[str, Shape]) -> Iterator[Step]:
    """The parameters as the sum of the weight arrays' sizes (nothing when there are none)."""
    if not weights:
        return
    names = " + ".join(f"|{key}|" for key in weights)
    sizes = [prod(s) for s in weights.values()]
    shapes = " + ".join(product(s) for s in weights.values())
    yield Step("params", names, (shapes, " + ".join(map(str, sizes))), sum(sizes), counts="params")
