"""Memory: splitting work to fit a budget of bytes, and the temporaries a run keeps for reuse."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import DTypeLike


def prod(values: Sequence[int]) -> int:
    """The product of ``values`` as a Python int (1 for none)."""
    out = 1
    for v in values:
        out *= int(v)
    return out


def chunks(total: int, per_item_bytes: int, budget: int) -> Sequence[slice]:
    """Split ``range(total)`` into slices whose temporaries (``per_item_bytes`` each) fit ``budget``."""
    step = max(1, budget // max(per_item_bytes, 1))
    return [slice(i, min(i + step, total)) for i in range(0, total, step)]


def item_parts(n: int, m: int, per_item_bytes: int, budget: int) -> list[tuple[slice, slice]]:
    """``(items, part)`` pieces of an (N, M, …) tensor, ``part`` a slice of its second axis
    (channels, or positions when flattened), whose temporaries (``per_item_bytes`` per item,
    spread evenly along that axis) fit ``budget``: whole items while one fits, else parts of
    one item at a time (a single element of that axis may still exceed the budget)."""
    if per_item_bytes <= budget or m <= 1:
        return [(part, slice(0, m)) for part in chunks(n, per_item_bytes, budget)]
    per = -(-per_item_bytes // m)
    return [(slice(i, i + 1), part) for i in range(n) for part in chunks(m, per, budget)]


def row_chunks(n: int, rows: int, per_row_bytes: int, budget: int) -> list[tuple[slice, slice]]:
    """(batch slice, row slice) pairs covering ``n`` items of ``rows`` rows each, with at most
    ``budget`` bytes of temporaries per pair (whole items when one fits, else row ranges)."""
    per_item = per_row_bytes * rows
    if per_item <= budget or rows <= 1:
        return [(b, slice(0, rows)) for b in chunks(n, per_item, budget)]
    return [(slice(i, i + 1), r) for i in range(n) for r in chunks(rows, per_row_bytes, budget)]


class Scratch:
    """Temporaries kept between calls for reuse, per thread and purpose, up to ``keep`` bytes.

    A fresh large array is fresh pages from the system, and on many machines touching them
    costs about as much as the arithmetic done in them; so each thread keeps one buffer per
    purpose and hands out a view of it. Two temporaries alive at once must have different
    purposes; no result may be a view of one. Belongs to one run: nothing outlives it."""

    def __init__(self, keep: int) -> None:
        self.keep = max(0, int(keep))
        # thread id → purpose → kept buffer (each thread touches only its own entry)
        self.kept: dict[int, dict[str, np.ndarray]] = {}

    def get(self, purpose: str, shape: Sequence[int], dtype: DTypeLike) -> np.ndarray:
        """An uninitialised C-contiguous array of ``shape``: a view of the kept buffer."""
        import numpy as np

        kind = np.dtype(dtype)
        nbytes = prod(shape) * kind.itemsize
        if nbytes > self.keep:
            return np.empty(tuple(shape), dtype=kind)
        pool = self.kept.setdefault(threading.get_ident(), {})
        buf = pool.get(purpose)
        if buf is None or buf.nbytes < nbytes:
            # the smaller one goes first (this name held it too): never both at once
            buf = None
            pool.pop(purpose, None)
            buf = pool[purpose] = np.empty(max(nbytes, 1), dtype=np.uint8)
        return buf[:nbytes].view(kind).reshape(tuple(shape))

    def held(self) -> int:
        """Bytes kept, in all threads."""
        return sum(b.nbytes for pool in list(self.kept.values()) for b in pool.values())

    def largest(self) -> int:
        """The largest buffer kept (0 without any)."""
        return max((b.nbytes for p in list(self.kept.values()) for b in p.values()), default=0)

    def release(self) -> None:
        """Drop every thread's kept temporaries."""
        self.kept.clear()
