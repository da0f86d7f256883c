"""A tensor in a file, known by what the file declares (shape and dtype) and read only when
asked.

The readers of weight and data files (:mod:`.torchfile`, :mod:`.safetensorsfile`, NumPy's .npz
in :mod:`.files`) give these instead of arrays, so that everything a config can check -- each
shape against the layer's, the total size against the memory limit -- is checked before any
data is read, inflated or materialised: a small file whose header promises gigabytes (a
stride-0 tensor, a deflate bomb) is refused, not expanded.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import SpecError

if TYPE_CHECKING:
    import numpy as np


class Stored:
    """A tensor of ``shape`` and ``dtype`` (the dtype it has once read) in ``path``; ``read``
    makes it a C-ordered array, and ``np.asarray(stored)`` does the same."""

    __slots__ = ("shape", "dtype", "path", "_read")

    def __init__(
        self,
        shape: tuple[int, ...],
        dtype: np.dtype[Any],
        path: str,
        read: Callable[[], np.ndarray],
    ) -> None:
        self.shape = shape
        self.dtype = dtype
        self.path = path
        self._read = read

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def read(self) -> np.ndarray:
        try:
            return self._read()
        except SpecError:
            raise
        except MemoryError:
            raise SpecError(
                f"{self.path}: not enough memory to read a tensor of shape {self.shape}"
            ) from None
        except Exception as exc:  # a damaged file fails in many ways; all are input errors
            raise SpecError(
                f"{self.path}: a tensor of shape {self.shape} cannot be read ({exc})",
                hint="save the file again",
            ) from None

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        array = self.read()
        return array if dtype is None else array.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"Stored(shape={self.shape}, dtype={self.dtype}, path={self.path!r})"


class TooMany(Exception):
    """A file holds more entries than its reader was allowed: ``count`` of them (``exact``),
    or more than ``count`` (a reader that stopped counting there); ``what``, when given, says
    what told it instead of a count."""

    def __init__(self, count: int, exact: bool = True, what: str | None = None) -> None:
        super().__init__(count, exact, what)
        self.count = count
        self.exact = exact
        self.what = what

    def text(self) -> str:
        """What the file holds, for a message: "holds 200,000 entries"."""
        if self.what is not None:
            return self.what
        return f"holds {'' if self.exact else 'more than '}{self.count:,} entries"


def materialised(value: Any) -> Any:
    """``value`` with every :class:`Stored` in it read (dicts, lists and tuples as they were)."""
    if isinstance(value, Stored):
        return value.read()
    if isinstance(value, dict):
        return type(value)((k, materialised(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(materialised(v) for v in value)
    return value


def total_bytes(tensors: dict[str, Stored]) -> int:
    """What reading every tensor of ``tensors`` would take."""
    return sum(v.nbytes for v in tensors.values())


__all__ = ["Stored", "TooMany", "materialised", "total_bytes"]
