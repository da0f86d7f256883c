"""``convcalc check`` over many configs in one process, against ``convcalc shape`` on one.

Two measurements, each side by side in one run (whole processes, interleaved, standard
output to a pipe, medians over the repetitions):

1. ``convcalc check examples <every built-in model>`` against ``convcalc shape`` on the
   largest of those configs (the ratio we keep at most 3);
2. ``convcalc check`` over 1,000 small generated configs against the same over 100 of them
   (at most 10: checking a config costs the same whatever came before it).

    python benchmarks/check.py            # 9 repetitions
    python benchmarks/check.py --quick    # 3

Prints Markdown tables (for benchmarks/README.md). A script, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SMALL = """\
input: [1, 3, {size}, {size}]
layers:
  - Conv2d(3, {c}, 3, padding=1)
  - BatchNorm2d({c})
  - ReLU(inplace=True)
  - MaxPool2d(2)
  - Conv2d({c}, {c2}, 3, padding=1)
  - ReLU()
  - AdaptiveAvgPool2d(1)
  - Flatten()
  - Linear({c2}, 10)
expect:
  output_shape: [1, 10]
"""


def _time(args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "convcalc", *args], cwd=cwd, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    return time.perf_counter() - start


def _side_by_side(a: list[str], b: list[str], cwd: Path, rounds: int) -> tuple[float, float]:
    """Median wall times of commands a and b, interleaved (the order alternating)."""
    ta, tb = [], []
    for _ in range(1):  # warm-up: bytecode and the page cache
        _time(a, cwd), _time(b, cwd)
    for i in range(rounds):
        if i % 2:
            tb.append(_time(b, cwd))
            ta.append(_time(a, cwd))
        else:
            ta.append(_time(a, cwd))
            tb.append(_time(b, cwd))
    return statistics.median(ta), statistics.median(tb)


def _largest() -> str:
    """The config among examples/ and the zoo that takes ``shape`` longest to read and
    analyse (by layer count, ties by file size)."""
    from convcalc import zoo
    from convcalc.spec import load_spec

    best, size = "", -1
    for name in zoo.names():
        n = len(load_spec(name).layers)
        if n > size:
            best, size = name, n
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    rounds = 3 if parser.parse_args().quick else 9
    from convcalc import zoo

    largest = _largest()
    many = ["check", "examples", *zoo.names()]
    t_check, t_shape = _side_by_side(many, ["shape", largest], ROOT, rounds)
    count = len(list((ROOT / "examples").glob("*.yaml"))) + len(zoo.names())
    print("| command | configs | median wall time | ratio |\n|---|---:|---:|---:|")
    print(f"| `convcalc shape {largest}` | 1 | {t_shape * 1e3:.1f} ms | 1 |")
    print(
        f"| `convcalc check examples <every built-in model>` | {count} | "
        f"{t_check * 1e3:.1f} ms | **{t_check / t_shape:.2f}×** |"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for n in (100, 1000):
            (folder / str(n)).mkdir()
            for i in range(n):
                c, c2, size = 8 + i % 24, 16 + i % 48, 32 + 2 * (i % 16)
                text = SMALL.format(c=c, c2=c2, size=size)
                (folder / str(n) / f"m{i:04d}.yaml").write_text(text)
        t100, t1000 = _side_by_side(["check", "100"], ["check", "1000"], folder, rounds)
    print()
    print("| configs | median wall time | per config | ratio |\n|---:|---:|---:|---:|")
    print(f"| 100 | {t100 * 1e3:.1f} ms | {t100 * 1e1:.2f} ms | 1 |")
    print(f"| 1,000 | {t1000 * 1e3:.1f} ms | {t1000:.2f} ms | **{t1000 / t100:.2f}×** |")
    print(f"\n(Python {sys.version.split()[0]}, {os.cpu_count()} cores, {rounds} rounds)")


if __name__ == "__main__":
    main()
