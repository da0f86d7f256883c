"""A forward pass on a busy machine: the default threads against one thread, side by side.

Starts its own competing load (one busy-loop process per core it is asked to keep busy,
killed at the end), then times ``run_forward`` of a network (ResNet-50 by default, seeded
random weights, as ``convcalc run resnet50`` does) with the default threads, with
``threads=1`` and with ``threads=2`` (what the default was before it measured the load),
interleaved (each round in another order, a pause before each run), several rounds; then the same without the competing load, which shows what the
measure costs on an idle machine. Reports medians of the whole call (weights drawn
included) and of the kernels alone, and the ratios against one thread within the same
minute. ``--cli`` times whole ``convcalc run`` processes instead of library calls.

    python benchmarks/busy.py                # 1 busy core, 5 rounds
    python benchmarks/busy.py --busy 2 --rounds 9 --cli

The machine's other load moves every figure: the script prints the load average and the
idle cores it measured before each phase. A script, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from convcalc import cores, kernels, load_spec, run_forward  # noqa: E402

BUSY_LOOP = "while True: pass"
#: the thread settings compared: (label, threads argument)
VARIANTS: list[tuple[str, int | None]] = [("default", None), ("1 thread", 1), ("2 threads", 2)]
#: seconds between runs
PAUSE = 0.3


def blas_line() -> str:
    """Which BLAS library and kernels NumPy runs (threadpoolctl's view when installed)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return f"OpenBLAS kernels: {kernels.blas_core() or 'unknown'} (threadpoolctl not installed)"
    import numpy  # noqa: F401  (loads its BLAS, for threadpoolctl to see)

    parts = [
        f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')}, "
        f"{i.get('num_threads')} threads"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    ]
    return "BLAS: " + ("; ".join(parts) or "none found")


def machine_load() -> str:
    """The load average and the idle cores measured over half a second."""
    start = cores.sample()
    time.sleep(0.5)
    end = cores.sample()
    idle = None if start is None or end is None else cores.idle_cores(start, end)
    one, five, _ = os.getloadavg()
    shown = "unknown" if idle is None else f"{idle:.2f} of {cores.cpu_count()}"
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min); idle cores {shown}"


#: the idle cores each default library run measured
MEASURED: list[float | None] = []


def _recording(measure: Callable[..., float | None]) -> Callable[..., float | None]:
    def measured(*args: object, **kwargs: object) -> float | None:
        MEASURED.append(measure(*args, **kwargs))
        return MEASURED[-1]

    return measured


def library_run(model: str) -> Callable[[int | None], tuple[float, float]]:
    spec = load_spec(model)
    cores.idle_since = _recording(cores.idle_since)  # type: ignore[assignment]

    def run(threads: int | None) -> tuple[float, float]:
        start = time.perf_counter()
        result = run_forward(spec, threads=threads)
        assert result.verified
        return time.perf_counter() - start, result.time_ms / 1000

    return run


#: ``convcalc run`` as its console script runs it, telling on stderr the idle cores measured
PROCESS = """import sys
from convcalc import cores
from convcalc.cli import main
measure = cores.idle_since
def measured(*args, **kwargs):
    idle = measure(*args, **kwargs)
    print(f"idle {idle}", file=sys.stderr)
    return idle
cores.idle_since = measured
main(sys.argv[1:])
"""


def process_run(model: str) -> Callable[[int | None], tuple[float, float]]:
    def run(threads: int | None) -> tuple[float, float]:
        command = [sys.executable, "-c", PROCESS, "run", model, "--format", "json"]
        command += [] if threads is None else ["--threads", str(threads)]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        for line in done.stderr.splitlines():
            if line.startswith("idle "):
                MEASURED.append(None if line[5:] == "None" else float(line[5:]))
        return time.perf_counter() - start, json.loads(done.stdout)["time_ms"] / 1000

    return run


def phase(run: Callable[[int | None], tuple[float, float]], rounds: int, busy: int) -> None:
    loops = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(busy)]
    try:
        time.sleep(0.5)  # let the loops settle on their cores
        print(f"\n## {busy} busy-loop process(es); {machine_load()}\n")
        times: dict[str, list[tuple[float, float]]] = {label: [] for label, _ in VARIANTS}
        MEASURED.clear()
        orders = list(itertools.permutations(VARIANTS))
        for r in range(rounds):
            # each round in another order, after a pause: a run slows the one after it (BLAS's
            # threads spin for a while after a product)
            for label, threads in orders[r % len(orders)]:
                time.sleep(PAUSE)
                times[label].append(run(threads))
        print(f"after: {machine_load()}")
        if MEASURED:
            chosen = [cores.threads_for(idle, cores.cpu_count()) for idle in MEASURED]
            shown = ", ".join("?" if i is None else f"{i:.2f}" for i in MEASURED)
            print(f"default runs measured idle cores {shown}: threads {chosen}")
        print()
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()
    one = [statistics.median(t[k] for t in times["1 thread"]) for k in (0, 1)]
    print("| threads | whole call s (median) | kernels s (median) | ÷ 1 thread (whole, kernels) |")
    print("|---|---:|---:|---:|")
    for label, _ in VARIANTS:
        whole, kernels = (statistics.median(t[k] for t in times[label]) for k in (0, 1))
        print(
            f"| {label} | {whole:.3f} | {kernels:.3f} | "
            f"**{whole / one[0]:.2f}×**, {kernels / one[1]:.2f}× |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet50", help="a zoo name or a YAML file")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per phase")
    parser.add_argument("--busy", type=int, default=1, help="cores to keep busy")
    parser.add_argument("--cli", action="store_true", help="time convcalc run processes")
    args = parser.parse_args()
    print(f"{args.model}, {'convcalc run processes' if args.cli else 'run_forward calls'}")
    print(blas_line())
    variables = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS")
    print("environment: " + ", ".join(f"{v}={os.environ.get(v, '(unset)')}" for v in variables))
    run = process_run(args.model) if args.cli else library_run(args.model)
    run(None)  # warm up: caches, bytecode, the BLAS's threads
    phase(run, args.rounds, args.busy)
    phase(run, args.rounds, 0)


if __name__ == "__main__":
    main()
