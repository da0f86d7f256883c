"""Regions that repeat with a period: the exact receptive field where neighbouring output
elements are not a whole number of input elements apart (after an upsampling, a
transposed convolution, a pixel shuffle or uneven adaptive bins).

A :class:`Periodic` map of one axis says which elements output element o reads: with
o = k·period + r, the elements ``lo[r] + k·advance`` to ``hi[r] + k·advance`` (none when
``lo[r] > hi[r]``). A sliding window is the map of period 1 (``lo = −padding``,
``hi = −padding + dilation·(kernel − 1)``, ``advance = stride``); a ×2 upsampling the map of
period 2 and advance 1 (outputs 2k and 2k + 1 both read element k). The same form holds a
layer's receptive field (its elements' regions in the model input): composing the field of
a layer's input with the layer's map gives the field of its output, exactly, whatever the
pattern; the size is the largest region, the jump ``advance / period`` and the start that of
output element 0. Periods are followed up to :data:`LIMIT`; beyond it the field is unknown.

A layer's own map lives with its layer (a transposed convolution's in conv_transpose.py, a
pixel shuffle's in shuffle.py, nearest resizing's in nearest.py); the maps here serve several
(adaptive bins: adaptive pooling and ``Upsample(mode='area')``; interpolation).
"""

from __future__ import annotations

from math import gcd
from typing import TYPE_CHECKING, NamedTuple, Union

if TYPE_CHECKING:
    from fractions import Fraction

#: an integer, or an exact fraction after an upsampling (fractions loads only then)
Num = Union[int, "Fraction"]

#: the longest period followed exactly (and the most work one composition may do, squared)
LIMIT = 4096


class Periodic(NamedTuple):
    """Output element k·period + r reads elements lo[r] + k·advance … hi[r] + k·advance."""

    period: int
    advance: int
    lo: tuple[int, ...]
    hi: tuple[int, ...]

    def at(self, i: int) -> tuple[int, int]:
        """The first and last element element ``i`` reads (first > last: none)."""
        k, r = divmod(i, self.period)
        shift = k * self.advance
        return self.lo[r] + shift, self.hi[r] + shift

    @property
    def jump(self) -> Num:
        return fraction(self.advance, self.period)

    def summary(self) -> tuple[int, Num, Num] | None:
        """(size, jump, start): the largest region, the jump, and where output element 0's
        region begins (when element 0 reads nothing, the first element that reads something,
        moved back by its distance); None when no element reads anything."""
        spans = [(r, lo, hi) for r, (lo, hi) in enumerate(zip(self.lo, self.hi)) if lo <= hi]
        if not spans:
            return None
        size = max(hi - lo + 1 for _, lo, hi in spans)
        r, lo, _ = spans[0]
        return size, self.jump, exact(lo - fraction(r * self.advance, self.period))


#: a map too long to follow: the field after it is unknown
UNKNOWN = Periodic(0, 0, (), ())


def window_map(offset: int, extra: int, factor: int) -> Periodic:
    """A sliding window's map: element o reads offset + o·factor … that + extra."""
    return Periodic(1, factor, (offset,), (offset + extra,))


def compose(inner: Periodic, step: Periodic) -> Periodic:
    """What the elements of ``step``'s output read through ``inner``: element o reads the
    union of the regions (under ``inner``) of the elements ``step`` gives it. UNKNOWN when
    the period would exceed LIMIT."""
    if inner.period == 0 or step.period == 0:
        return UNKNOWN
    t = inner.period // gcd(step.advance, inner.period)
    period = step.period * t
    if period > LIMIT:
        return UNKNOWN
    advance = step.advance * t // inner.period * inner.advance
    lo: list[int] = []
    hi: list[int] = []
    for o in range(period):
        a, b = step.at(o)
        span = _union(inner, a, b) if a <= b else None
        lo.append(span[0] if span else 1)
        hi.append(span[1] if span else 0)
    return reduced(Periodic(period, advance, tuple(lo), tuple(hi)))


def _union(inner: Periodic, a: int, b: int) -> tuple[int, int] | None:
    """The union of the regions of elements a … b: per residue modulo the period, the first
    element of it in range has the lowest start and the last the highest end (regions of one
    residue move right by ``advance`` per period); no order between residues is assumed."""
    p = inner.period
    lows: list[int] = []
    highs: list[int] = []
    for i in range(a, min(b, a + p - 1) + 1):
        k, r = divmod(i, p)
        lo, hi = inner.lo[r], inner.hi[r]
        if lo > hi:
            continue
        last = i + (b - i) // p * p  # the last element of this residue in range
        lows.append(lo + k * inner.advance)
        highs.append(hi + (last // p) * inner.advance)
    if not lows:
        return None
    return min(lows), max(highs)


def merged(maps: list[Periodic]) -> Periodic:
    """The union of several maps of the same jump: element o reads what any of them reads."""
    if any(m.period == 0 for m in maps):
        return UNKNOWN
    period = 1
    for m in maps:
        period = period * m.period // gcd(period, m.period)
        if period > LIMIT:
            return UNKNOWN
    first = maps[0]
    advance = period // first.period * first.advance
    lo: list[int] = []
    hi: list[int] = []
    for o in range(period):
        spans = [s for s in (m.at(o) for m in maps) if s[0] <= s[1]]
        lo.append(min(s[0] for s in spans) if spans else 1)
        hi.append(max(s[1] for s in spans) if spans else 0)
    return reduced(Periodic(period, advance, tuple(lo), tuple(hi)))


def reduced(m: Periodic) -> Periodic:
    """``m`` with its shortest period: the smallest divisor d of the period after which the
    pattern repeats, d·advance/period elements further on."""
    for d in range(1, m.period):
        if m.period % d or (m.advance * d) % m.period:
            continue
        shift = m.advance * d // m.period
        if all(_same(m.at(r), m.at(r + d), shift) for r in range(m.period)):
            return Periodic(d, shift, m.lo[:d], m.hi[:d])
    return m


def _same(a: tuple[int, int], b: tuple[int, int], shift: int) -> bool:
    if a[0] > a[1]:
        return b[0] > b[1]
    return b == (a[0] + shift, a[1] + shift)


# ------------------------------------------------------------ maps of the resampling layers
def fraction(a: int, b: int) -> Num:
    """``a / b`` exactly: an int when it divides."""
    if a % b == 0:
        return a // b
    from fractions import Fraction

    return Fraction(a, b)


def exact(v: Num) -> Num:
    """An integral fraction as an int (keeps the common case fast and its JSON integral)."""
    if isinstance(v, int):
        return v
    return int(v) if v.denominator == 1 else v


def adaptive_map(n_in: int, n_out: int) -> Periodic:
    """Adaptive pooling's axis: bin o spans [⌊o·in/out⌋, ⌈(o+1)·in/out⌉)."""
    if n_in <= 0 or n_out <= 0:
        return window_map(0, 0, 1)  # nothing read (field_of gives an empty output no field)
    g = gcd(n_in, n_out)
    period, advance = n_out // g, n_in // g
    if period > LIMIT:
        return UNKNOWN
    lo = tuple(o * n_in // n_out for o in range(period))
    hi = tuple(-(-(o + 1) * n_in // n_out) - 1 for o in range(period))
    return reduced(Periodic(period, advance, lo, hi))


def resample_map(
    mode: str, n_in: int, n_out: int, scale: float | None, align_corners: bool
) -> Periodic | None:
    """An interpolation's axis: torch's source coordinate of output element o is x = o·s
    (nearest; align_corners: s = (in−1)/(out−1)), (o + ½)·s (nearest-exact) or
    (o + ½)·s − ½ (linear, cubic), with s = 1/scale_factor when given, else in/out. Nearest
    reads ⌊x⌋; linear ⌊x⌋ and ⌊x⌋ + 1, cubic ⌊x⌋ − 1 … ⌊x⌋ + 2, where x is not whole (at a
    whole x the other taps weigh 0); area a bin. As if the input had no border (torch clamps
    at it). None where the axis is not resized."""
    from fractions import Fraction

    if mode == "area":
        return adaptive_map(n_in, n_out)
    if n_in == n_out and (scale is None or mode != "bicubic"):
        return None  # the same size: torch copies (but cubic, which interpolates still)
    if align_corners and mode not in ("nearest", "nearest-exact"):
        s = Fraction(n_in - 1, n_out - 1) if n_out > 1 else Fraction(0)
        shift = Fraction(0)
    else:
        # a scale factor as written (its shortest decimal form: 1.5 is 3/2, 3.0 is 3)
        s = 1 / Fraction(repr(scale)) if scale is not None and scale > 0 else Fraction(n_in, n_out)
        shift = {"nearest": Fraction(0), "nearest-exact": s / 2}.get(mode, s / 2 - Fraction(1, 2))
    if s == 0:
        return window_map(0, 0, 1)  # one output: it reads element 0 (align_corners)
    period = s.denominator
    if period > LIMIT:
        return UNKNOWN
    lead, tail = {"bicubic": (1, 2), "nearest": (0, 0), "nearest-exact": (0, 0)}.get(mode, (0, 1))
    lo: list[int] = []
    hi: list[int] = []
    for o in range(period):
        x = shift + o * s
        base = x.__floor__()
        whole = x.denominator == 1
        lo.append(base if whole else base - lead)
        hi.append(base if whole else base + tail)
    return reduced(Periodic(period, int(s * period), tuple(lo), tuple(hi)))
