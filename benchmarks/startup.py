"""Start-up time of ``convcalc shape FILE`` against the floor ``python -c "import yaml, click, rich"``.

Both are whole processes, run side by side in one run (interleaved, the order
alternating every repetition), with standard output going to a pipe as in CI and
scripts. The ratio of the medians is what we promise to keep small (target ≤ 1.5).
Also checks what ``shape`` imports when writing to a pipe: neither numpy nor
rich.console may be loaded.

Bytecode: an installed package runs from cached ``.pyc`` files, so the children run
with ``PYTHONPYCACHEPREFIX`` pointing at a fresh temporary directory (filled by the
warm-up runs, for both commands alike) even when ``PYTHONDONTWRITEBYTECODE`` is set.
A third row shows ``convcalc shape`` when its own modules are compiled from source
on every run (``PYTHONDONTWRITEBYTECODE=1`` in a checkout without ``__pycache__``).
CPU time (user + system of the child) is shown too: it is less sensitive to a busy machine.

    python benchmarks/startup.py            # 60 repetitions of each
    python benchmarks/startup.py --quick    # 15 repetitions

Prints a Markdown table (for benchmarks/README.md). A script, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 1.5
FLOOR_CODE = "import yaml, click, rich"

#: run in a child whose stdout is a pipe; reports what `shape` imported on stderr
_PROBE = r"""
import json, sys
base = set(sys.modules)
from convcalc.cli import main
try:
    main(["shape", sys.argv[1]])  # with argv, main raises SystemExit instead of ending the process
except SystemExit as exc:
    code = exc.code
else:
    code = 0
sys.stdout.flush()
sys.stderr.write("\n" + json.dumps({"code": code, "modules": sorted(set(sys.modules) - base)}) + "\n")
"""


def convcalc_command() -> list[str]:
    """The installed console script next to this interpreter (not a pyenv/asdf shim)."""
    name = "convcalc.exe" if os.name == "nt" else "convcalc"
    script = Path(sysconfig.get_path("scripts")) / name
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "convcalc"]


def _children_cpu() -> float:
    try:
        import resource
    except ImportError:  # Windows
        return float("nan")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(cmd: Sequence[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall, cpu) seconds of one run, stdout to a pipe."""
    cpu0 = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, cwd=ROOT, env=env)
    elapsed = time.perf_counter() - start
    cpu = _children_cpu() - cpu0
    if proc.returncode != 0:
        raise SystemExit(
            f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr.decode(errors='replace')}"
        )
    return elapsed, cpu


Command = tuple[list[str], dict[str, str]]


def measure(
    commands: dict[str, Command], reps: int, warmup: int = 3
) -> dict[str, list[tuple[float, float]]]:
    """Interleaved runs; the order flips every repetition so neither side gets a warmer cache."""
    names = list(commands)
    for _ in range(warmup):
        for name in names:
            run_once(*commands[name])
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    for i in range(reps):
        for name in names if i % 2 == 0 else reversed(names):
            times[name].append(run_once(*commands[name]))
    return times


def imports_of_shape(spec: str) -> dict[str, object]:
    proc = subprocess.run([sys.executable, "-c", _PROBE, spec], capture_output=True, cwd=ROOT)
    if not proc.stderr.strip():
        raise SystemExit("the import probe printed nothing")
    last = proc.stderr.decode().strip().splitlines()[-1]
    info = json.loads(last)
    floor = subprocess.run(
        [
            sys.executable,
            "-c",
            FLOOR_CODE + "; import sys, json; print(json.dumps(sorted(sys.modules)))",
        ],
        stdout=subprocess.PIPE,
        check=True,
    )
    floor_modules = set(json.loads(floor.stdout))
    modules = set(info["modules"])  # type: ignore[arg-type]
    extra = sorted({m.split(".")[0] for m in modules - floor_modules} - {"convcalc"})
    return {
        "code": info["code"],
        "numpy": any(m == "numpy" or m.startswith("numpy.") for m in modules),
        "rich.console": "rich.console" in modules,
        "torch": any(m == "torch" or m.startswith("torch.") for m in modules),
        "convcalc modules": sorted(m for m in modules if m.split(".")[0] == "convcalc"),
        "other packages beyond the floor": extra,
    }


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="15 repetitions instead of 60")
    parser.add_argument("--reps", type=int, help="repetitions of each command")
    parser.add_argument(
        "--file",
        default="examples/lenet.yaml",
        help="the model (relative to the repo root), or a built-in model's name",
    )
    parser.add_argument(
        "--no-source-row", action="store_true", help="skip the compiled-from-source row"
    )
    args = parser.parse_args(argv)
    reps = args.reps or (15 if args.quick else 60)

    shape_cmd = convcalc_command() + ["shape", args.file]
    floor_cmd = [sys.executable, "-c", FLOOR_CODE]
    with tempfile.TemporaryDirectory(prefix="convcalc-pyc-") as pycache:
        cached = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        cached["PYTHONPYCACHEPREFIX"] = pycache
        uncached = {k: v for k, v in os.environ.items() if k != "PYTHONPYCACHEPREFIX"}
        uncached["PYTHONDONTWRITEBYTECODE"] = "1"
        commands: dict[str, Command] = {
            f"`convcalc shape {args.file}`": (shape_cmd, cached),
            f'`python -c "{FLOOR_CODE}"` (floor)': (floor_cmd, cached),
        }
        if not args.no_source_row:
            commands["`convcalc shape`, compiled from source every run"] = (shape_cmd, uncached)
        times = measure(commands, reps)
    names = list(commands)
    shape_name, floor_name = names[0], names[1]
    wall = {k: [t[0] for t in v] for k, v in times.items()}
    cpu = {k: [t[1] for t in v] for k, v in times.items()}
    med = {k: statistics.median(v) for k, v in wall.items()}
    low = {k: min(v) for k, v in wall.items()}
    cpu_med = {k: statistics.median(v) for k, v in cpu.items()}
    ratio_med = med[shape_name] / med[floor_name]
    ratio_min = low[shape_name] / low[floor_name]
    ratio_cpu = cpu_med[shape_name] / cpu_med[floor_name]
    imports = imports_of_shape(args.file)

    print(
        f"Start-up, stdout to a pipe: {reps} interleaved runs of each, Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs.\n"
    )
    print(
        "| command | wall median (ms) | wall min (ms) | CPU median (ms) | ratio to floor (median wall) |"
    )
    print("|---|---:|---:|---:|---:|")
    for name in names:
        ratio = "—" if name == floor_name else f"{med[name] / med[floor_name]:.2f}×"
        if name == shape_name:
            ratio = f"**{ratio}**"
        print(f"| {name} | {ms(med[name])} | {ms(low[name])} | {ms(cpu_med[name])} | {ratio} |")
    print()
    print(
        f"Ratio `convcalc shape` / floor: median wall {ratio_med:.2f}×, min wall {ratio_min:.2f}×, "
        f"median CPU {ratio_cpu:.2f}×."
    )
    print(
        f"Target: median wall-time ratio ≤ {TARGET}: {'met' if ratio_med <= TARGET else 'MISSED'}."
    )
    ok = not imports["numpy"] and not imports["rich.console"]
    print(
        f"Imports of `shape` into a pipe: numpy {'yes' if imports['numpy'] else 'no'}, "
        f"rich.console {'yes' if imports['rich.console'] else 'no'}, "
        f"torch {'yes' if imports['torch'] else 'no'} ({'as required' if ok else 'NOT as required'}); "
        f"modules beyond the floor's: {', '.join(imports['other packages beyond the floor']) or 'none'}."  # type: ignore[arg-type]
    )
    print(f"convcalc modules loaded: {', '.join(imports['convcalc modules'])}.")  # type: ignore[arg-type]
    print(f"Command: {' '.join(shape_cmd)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
