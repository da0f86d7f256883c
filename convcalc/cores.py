"""How many threads a run uses by default: the cores this process may run on, and how many of
them other processes leave idle.

On a machine where another process keeps a core busy, work split between two threads waits
for the one that shares its core, and BLAS's threads spin while they wait for each other: a
forward pass then takes several times as long as on one thread. So a run measures, while it
draws its weights, how much of the machine stands idle, and uses no more threads than that.
Pure Python, no numpy: :func:`threads_for` decides, :func:`sample` and :func:`idle_cores`
measure.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

#: the most threads of our own a run uses (the kernels split their work in two at most)
MOST_THREADS = 2
#: a core counts as idle when at least this share of it is free (the kernel counts idle
#: time exactly but shows it in whole 10 ms ticks: over 50 ms, two cores' idle time reads
#: within a tenth of a core of the truth, more rarely within 0.3, at worst 0.4)
IDLE_SHARE = 0.7
#: the shortest interval an idle measure is taken over, in seconds
MIN_INTERVAL = 0.05


def threads_for(idle: float | None, cpus: int, most: int = MOST_THREADS) -> int:
    """The threads a run uses when the caller names none: one per idle core (``idle``: the
    idle cores measured, None when unknown), at least one, at most ``cpus`` and ``most``."""
    limit = max(1, min(cpus, most))
    if idle is None:
        return limit
    return max(1, min(limit, int(idle + 1 - IDLE_SHARE)))


def cpu_count() -> int:
    """The cores this process may run on (its affinity, where the system tells it)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Sample:
    """The machine's idle time and this process's own CPU time at one moment, in seconds."""

    #: time.monotonic() when taken
    time: float
    #: idle seconds summed over the cores this process may run on
    idle: float
    #: this process's CPU seconds, all its threads
    own: float


def sample(stat: str = "/proc/stat") -> Sample | None:
    """Now's :class:`Sample`, from Linux's ``/proc/stat``; None where that cannot be read."""
    try:
        allowed = os.sched_getaffinity(0)
        tick = os.sysconf("SC_CLK_TCK")
        with open(stat, encoding="ascii") as f:
            lines = f.read().splitlines()
    except (AttributeError, OSError, ValueError):
        return None
    idle = 0
    for line in lines:
        fields = line.split()
        if not fields or not fields[0].startswith("cpu") or not fields[0][3:].isdigit():
            continue
        if int(fields[0][3:]) in allowed and len(fields) > 5:
            idle += int(fields[4]) + int(fields[5])  # idle and waiting for input/output
    return Sample(time.monotonic(), idle / tick, time.process_time())


def idle_cores(before: Sample, after: Sample, least: float = MIN_INTERVAL) -> float | None:
    """The cores that stood idle between two samples, counting this process's own CPU time
    as idle (it is the run's own work, done before its kernels start); None when the
    samples are less than ``least`` seconds apart (too few clock ticks to tell)."""
    interval = after.time - before.time
    if interval < least or interval <= 0:
        return None
    return max(0.0, (after.idle - before.idle) + (after.own - before.own)) / interval


def idle_since(start: Sample | None, wait: bool) -> float | None:
    """The idle cores since ``start`` (see :func:`idle_cores`), first waiting until
    MIN_INTERVAL has passed when ``wait``; None when not measured."""
    if start is None:
        return None
    if wait:
        left = start.time + MIN_INTERVAL - time.monotonic()
        if left > 0:
            time.sleep(left)
    end = sample()
    return None if end is None else idle_cores(start, end)


__all__ = ["Sample", "cpu_count", "idle_cores", "idle_since", "sample", "threads_for"]
