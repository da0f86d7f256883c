"""Threads: a run's worker pool, and how work and BLAS's own threads are shared out."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from . import blas
from .config import Config

T = TypeVar("T")

#: the name of every worker thread starts so (a worker runs its own nested work serially)
PREFIX = "convcalc-worker"


class Workers:
    """The worker threads of one run (at most ``config.workers``), started on first use and
    stopped by :meth:`close`; NumPy releases the GIL in its calls, so a few large calls per
    thread run side by side. Outside an open run each call uses a pool of its own."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.count = config.workers
        self.pool: ThreadPoolExecutor | None = None
        self.open = False

    def close(self) -> None:
        """Stop the threads (the run is over)."""
        if self.pool is not None:
            self.pool.shutdown(wait=True)
            self.pool = None
        self.open = False

    def map(self, fn: Callable[[T], object], items: Sequence[T]) -> None:
        """Run ``fn`` over independent ``items`` (each writes its own part of the result), on
        the worker threads when there are several items and cores; deterministic either way."""
        # a worker thread runs its own nested work serially (waiting on the pool from inside
        # it could leave no thread free to do the waited-for work)
        if len(items) < 2 or self.count < 2 or threading.current_thread().name.startswith(PREFIX):
            for item in items:
                fn(item)
            return
        import numpy as np

        # the caller's floating-point error handling (and the run it belongs to) hold on the
        # workers too: each item runs in a copy of the caller's context
        handling = np.geterr()

        def run(item: T) -> None:
            with np.errstate(**handling):
                fn(item)

        contexts = [contextvars.copy_context() for _ in items]
        if self.open:
            if self.pool is None:
                self.pool = ThreadPoolExecutor(max_workers=self.count, thread_name_prefix=PREFIX)
            for _ in self.pool.map(lambda c, i: c.run(run, i), contexts, items):
                pass
            return
        with ThreadPoolExecutor(max_workers=self.count, thread_name_prefix=PREFIX) as pool:
            for _ in pool.map(lambda c, i: c.run(run, i), contexts, items):
                pass

    def split_run(self, fn: Callable[[slice], object], total: int, unit: int = 1) -> None:
        """``fn(part)`` over slices covering ``range(total)``: one slice, or one per worker
        thread when the items (``unit`` elements each) add up to at least ``parallel_min``
        elements. For a few large NumPy calls per part (they release the GIL): many small
        calls on two threads mostly wait on each other."""
        big = total * unit >= self.config.parallel_min and total > 1
        workers = self.count if big else 1
        step = max(1, -(-total // workers))
        parts = [slice(i, min(i + step, total)) for i in range(0, total, step)]
        self.map(fn, parts or [slice(0, 0)])

    def gemm_workers(self) -> int:
        """Python threads to run independent matrix products on, one BLAS thread each (1: run
        them one after the other, with BLAS's own threads)."""
        found = blas.openblas()
        if found is None:
            return 1
        return max(1, min(self.count, found.get_threads()))

    def map_gemm(self, fn: Callable[[T], object], items: Sequence[T], small: bool = False) -> None:
        """Run ``fn`` (BLAS products on its own part of the result) over ``items`` on the
        worker threads with BLAS held to one thread each, for mid-size products often faster
        than one product on every core; BLAS's thread count is restored afterwards. Serial
        when there is one item or no thread control, BLAS threading as it likes, unless the
        products are ``small`` (BLAS then held to one thread too: splitting a small product
        between cores costs more than it saves). Deterministic: each item is computed the
        same way whatever thread runs it."""
        serial = len(items) < 2 or self.gemm_workers() < 2
        found = blas.openblas()
        if found is None or (serial and not small):
            for item in items:
                fn(item)
            return
        before = found.get_threads()
        found.set_threads(1)
        try:
            if serial:
                for item in items:
                    fn(item)
            else:
                self.map(fn, items)
        finally:
            found.set_threads(before)
