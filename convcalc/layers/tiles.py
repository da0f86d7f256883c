"""Cutting an output into blocks whose temporaries fit a budget, for the layers that compute
each output element from a window of the input they can work out per block (resizing,
adaptive pooling)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Iterator


def tiles(
    shape: tuple[int, ...],
    cost: Callable[[tuple[int, ...]], int],
    budget: int,
    whole: Collection[int] = (),
) -> Iterator[tuple[slice, ...]]:
    """Blocks (one slice per axis) covering ``shape`` in C order, as large as ``cost`` (the
    bytes of temporaries of a block of that shape) allows within ``budget``: the trailing
    axes whole, one axis cut into ranges, those before it taken one index at a time; the
    axes in ``whole`` are never cut. A block of one index per axis may still exceed
    ``budget``."""
    block = list(shape)
    for k in range(len(shape)):
        if cost(tuple(block)) <= budget:
            break
        if k in whole:
            continue
        lo, hi = 1, shape[k]  # the largest size along axis k that fits, if any
        while lo < hi:
            mid = (lo + hi + 1) // 2
            block[k] = mid
            if cost(tuple(block)) <= budget:
                lo = mid
            else:
                hi = mid - 1
        block[k] = lo
    starts = [range(0, n, max(b, 1)) for n, b in zip(shape, block)]
    for corner in itertools.product(*starts):
        yield tuple(slice(c, min(c + b, n)) for c, b, n in zip(corner, block, shape))


__all__ = ["tiles"]
