"""NumPy's own OpenBLAS, reached through ctypes: its thread count and its ``cblas_?gemm``.

Looked up once per process (the entry points never change after); when there is no such
library or symbol (another BLAS, another build) every function here says so with ``None``
and the kernels use NumPy's own products, letting BLAS thread as it likes.
"""

from __future__ import annotations

import ctypes
import functools
import glob
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

#: ``cblas_?gemm`` (row-major): order, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta,
#: c, ldc; matrices given by address
Gemm = Callable[..., None]
#: row-major, no transposes: the constants of the CBLAS interface
ROW_MAJOR, NO_TRANS = 101, 111


@dataclass(frozen=True)
class OpenBlas:
    """The entry points found: thread count (get, set), products per dtype, kernels' name."""

    get_threads: Callable[[], int]
    set_threads: Callable[[int], None]
    #: by dtype character ("f": float32, "d": float64)
    gemm: dict[str, Gemm] = field(default_factory=dict)
    core: str | None = None


@functools.cache
def openblas() -> OpenBlas | None:
    """The OpenBLAS library NumPy ships (numpy.libs / .dylibs / scipy_openblas), found once."""
    try:
        return _find()
    except Exception:  # pragma: no cover - any failure means: no direct BLAS
        return None


def prepare() -> None:
    """The one-time set-up (finding NumPy's OpenBLAS: about a millisecond), for a runner to do
    before it times anything, so that the first layer is not charged for it."""
    openblas()


def _find() -> OpenBlas | None:
    import numpy as np

    here = os.path.dirname(np.__file__)
    paths: list[str] = []
    for pattern in (
        "numpy.libs/*openblas*",
        "numpy/.dylibs/*openblas*",
        "scipy_openblas*/lib/*openblas*",
    ):
        paths += sorted(glob.glob(os.path.join(os.path.dirname(here), pattern)))
    for path in paths:
        lib = ctypes.CDLL(path)
        # (threads prefix, cblas prefix, suffix): NumPy 2's scipy-openblas, then older builds;
        # the "64_" builds take 64-bit integers
        for tprefix, cprefix, suffix in (
            ("scipy_openblas", "scipy_cblas", "64_"),
            ("scipy_openblas", "scipy_cblas", ""),
            ("openblas", "cblas", "64_"),
            ("openblas", "cblas", ""),
        ):
            found = _entry_points(lib, tprefix, cprefix, suffix)
            if found is not None:
                return found
    return None


def _entry_points(lib: Any, tprefix: str, cprefix: str, suffix: str) -> OpenBlas | None:
    """One naming scheme's entry points in ``lib``, or None when it has no thread functions."""
    get = getattr(lib, f"{tprefix}_get_num_threads{suffix}", None)
    put = getattr(lib, f"{tprefix}_set_num_threads{suffix}", None)
    if get is None or put is None:
        return None
    get.restype = ctypes.c_int
    get.argtypes = []
    put.restype = None
    put.argtypes = [ctypes.c_int]
    core = None
    corename = getattr(lib, f"{tprefix}_get_corename{suffix}", None)
    if corename is not None:
        corename.restype = ctypes.c_char_p
        corename.argtypes = []
        core = (corename() or b"").decode("ascii", "replace") or None
    # the integer width the library was built with, from its own configuration string
    # (without it, no direct products: a wrong width would corrupt the call)
    config = getattr(lib, f"{tprefix}_get_config{suffix}", None)
    gemms: dict[str, Gemm] = {}
    if config is not None:
        config.restype = ctypes.c_char_p
        config.argtypes = []
        wide = b"USE64BITINT" in (config() or b"")
        index = ctypes.c_int64 if wide else ctypes.c_int
        for dtype, letter, scalar in (
            ("f", "s", ctypes.c_float),
            ("d", "d", ctypes.c_double),
        ):
            fn = getattr(lib, f"{cprefix}_{letter}gemm{suffix}", None)
            if fn is None:
                continue
            enum, ptr = ctypes.c_int, ctypes.c_void_p
            fn.restype = None
            fn.argtypes = [enum, enum, enum, index, index, index, scalar, ptr, index]
            fn.argtypes += [ptr, index, scalar, ptr, index]
            if _gemm_works(fn, dtype):
                gemms[dtype] = fn
    return OpenBlas(lambda: int(get()), put, gemms, core)


def _gemm_works(fn: Gemm, dtype: str) -> bool:
    """A found ``cblas_?gemm`` computes a small product, with β = 1, as ``np.matmul`` does."""
    import numpy as np

    a = np.arange(6, dtype=dtype).reshape(2, 3)
    b = np.arange(12, dtype=dtype).reshape(3, 4) - 5
    c = np.ones((2, 4), dtype=dtype)
    fn(
        ROW_MAJOR,
        NO_TRANS,
        NO_TRANS,
        2,
        4,
        3,
        1.0,
        a.ctypes.data,
        3,
        b.ctypes.data,
        4,
        1.0,
        c.ctypes.data,
        4,
    )
    return bool(np.array_equal(c, a @ b + 1))


def core() -> str | None:
    """The name of the kernels NumPy's OpenBLAS runs ("Haswell", "SkylakeX", …: its own choice
    for the CPU, or the one ``OPENBLAS_CORETYPE`` names), or ``None`` when not known."""
    found = openblas()
    return None if found is None else found.core


def gemm(dtype: np.dtype[Any], allowed: bool = True) -> Gemm | None:
    """OpenBLAS's row-major ``cblas_?gemm`` for ``dtype``, or ``None`` (not ``allowed``, or not
    found): it multiplies matrices given by pointer and leading dimension (a strided run of a
    flat image needs no copy) and accumulates (β = 1), which ``np.matmul`` cannot."""
    found = openblas() if allowed else None
    return None if found is None else found.gemm.get(dtype.char)
