"""A run: the settings it was given and the state it builds up (kept temporaries, worker
threads), alive for one forward pass and handed to every kernel it calls.

``with Run(config) as run:`` makes ``run`` the current one in this thread (and in the worker
threads it starts), so layer code reaches it through :func:`current`; two runs on two threads
never see each other's state. BLAS's thread count is the one thing shared by the process: a
run with ``config.threads`` set holds it there and puts back what it found on exit (two runs
at once with different counts then share whichever was set last: their results do not
depend on it, their speed may).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from . import blas
from .config import Config
from .memory import Scratch
from .parallel import Workers

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import DTypeLike

_CURRENT: contextvars.ContextVar[Run | None] = contextvars.ContextVar("convcalc_run", default=None)


class Run:
    """One forward pass's kernel state: ``config``, its :class:`Scratch` and its
    :class:`Workers`. Usable without ``with`` too: it then keeps its temporaries as long as it
    lives, and each parallel call starts threads of its own."""

    def __init__(self, config: Config | None = None) -> None:
        self.config = config if config is not None else Config()
        self.scratch_kept = Scratch(self.config.scratch_keep)
        self.workers = Workers(self.config)
        self._token: contextvars.Token[Run | None] | None = None
        self._blas_before: int | None = None

    def __enter__(self) -> Run:
        if self._token is not None:
            raise RuntimeError("a run is entered once")
        self._token = _CURRENT.set(self)
        self.workers.open = True
        found = blas.openblas()
        if found is not None and self.config.threads is not None:
            self._blas_before = found.get_threads()
            found.set_threads(self.config.threads)
        return self

    def __exit__(self, *exc: object) -> None:
        found = blas.openblas()
        if found is not None and self._blas_before is not None:
            found.set_threads(self._blas_before)
        self._blas_before = None
        self.workers.close()
        self.scratch_kept.release()
        if self._token is not None:
            _CURRENT.reset(self._token)
            self._token = None

    def scratch(self, purpose: str, shape: Sequence[int], dtype: DTypeLike) -> np.ndarray:
        """A kept temporary (see :class:`Scratch`)."""
        return self.scratch_kept.get(purpose, shape, dtype)

    def split_run(self, fn: Callable[[slice], object], total: int, unit: int = 1) -> None:
        """See :meth:`Workers.split_run`."""
        self.workers.split_run(fn, total, unit)

    def gemm(self, dtype: np.dtype[Any]) -> blas.Gemm | None:
        """OpenBLAS's product for ``dtype`` if this run may use it (see :func:`blas.gemm`)."""
        return blas.gemm(dtype, self.config.direct_gemm)


def current() -> Run:
    """The run this thread is in, or a fresh one with the default settings."""
    run = _CURRENT.get()
    return run if run is not None else Run()


def scratch(purpose: str, shape: Sequence[int], dtype: DTypeLike) -> np.ndarray:
    """A temporary kept by the current run (see :class:`Scratch`)."""
    return current().scratch(purpose, shape, dtype)


def split_run(fn: Callable[[slice], object], total: int, unit: int = 1) -> None:
    """``fn`` over parts of ``range(total)`` on the current run's threads (see
    :meth:`Workers.split_run`)."""
    current().workers.split_run(fn, total, unit)
