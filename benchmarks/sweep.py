"""Input-size sweeps of ResNet-50: 1,024 sizes (1×1 to 1024×1024) in at most 4 s.

Times, in one run and interleaved, each from a freshly loaded model (so no layer's result
is kept from an earlier round):

  (a) ``valid_sizes(spec, 1, 1024)``: the sizes that work and those covered (``--valid``);
  (b) ``sweep_sizes(spec, 1:1024)``: the table's rows (``--sizes 1:1024``);
  (c) the whole process ``convcalc sweep resnet50 --valid 1:1024``;
  (d) ``analyze(spec, x, size_hints=False)`` at 32 of the sizes, scaled to 1,024: what
      a sweep by plain re-analysis would take.

    python benchmarks/sweep.py              # 5 rounds
    python benchmarks/sweep.py --rounds 3

Prints a Markdown table (for benchmarks/README.md). A script, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from convcalc import analyze, load_spec  # noqa: E402
from convcalc.sweep import parse_sizes, sweep_sizes, valid_sizes  # noqa: E402

TARGET_S = 4.0
SIZES = 1024


def _valid() -> None:
    valid_sizes(load_spec("resnet50"), 1, SIZES)


def _table() -> None:
    sweep_sizes(load_spec("resnet50"), parse_sizes(f"1:{SIZES}", 2))


def _process() -> None:
    subprocess.run(
        [sys.executable, "-m", "convcalc", "sweep", "resnet50", "--valid", f"1:{SIZES}"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )


def _analyze() -> None:
    spec = load_spec("resnet50")
    for n in range(1, SIZES + 1, SIZES // 32):
        analyze(spec, (1, 3, n, n), size_hints=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    cases: dict[str, tuple[Callable[[], None], float]] = {
        "`valid_sizes` (`--valid 1:1024`)": (_valid, 1.0),
        "`sweep_sizes` (`--sizes 1:1024`)": (_table, 1.0),
        "`convcalc sweep resnet50 --valid 1:1024`, whole process": (_process, 1.0),
        "`analyze` per size (32 sizes, × 32)": (_analyze, 32.0),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, (run, scale) in cases.items():
            start, cpu_start = time.perf_counter(), _cpu()
            run()
            times[name].append((time.perf_counter() - start) * scale)
            cpu[name].append((_cpu() - cpu_start) * scale)
    print(
        f"{platform.machine()}, Python {platform.python_version()}, {args.rounds} rounds, "
        f"load average {os.getloadavg()[0]:.1f}\n"
    )
    print("| ResNet-50, 1,024 sizes | median wall | min wall | median CPU | target (wall) |")
    print("|---|---:|---:|---:|---|")
    for name, values in times.items():
        median, best = statistics.median(values), min(values)
        met = "met" if median <= TARGET_S else "missed"
        target = f"≤ {TARGET_S:g} s: {met}" if "analyze" not in name else "—"
        used = statistics.median(cpu[name])
        print(f"| {name} | {median:.2f} s | {best:.2f} s | {used:.2f} s | {target} |")


def _cpu() -> float:
    """CPU seconds of this process and of its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


if __name__ == "__main__":
    main()
