"""Speed of the NumPy forward kernels on a fixed suite of layers, side by side with torch.

For each layer (built through convcalc's own layer classes, from a constructor-call string)
the result is first checked against torch (when installed). Then, in several rounds, each
layer is timed with ours and torch at 1 thread and at the machine's default thread count,
back to back (with a pause between libraries, whose idle threads spin for a while after a
call), and NumPy's own float32 matrix product gives the BLAS ceiling. A shared machine's
speed drifts over seconds, so each ×torch figure is the median over rounds of the ratio
measured within one round; the ms columns are the best of all rounds.

Reports GFLOP/s (2·MACs / time, ours at the default threads), its ratio to the matmul rate,
torch's time / ours at equal thread counts (1.0 = as fast as torch, 0.5 = twice as slow), and
torch's own rate ÷ the matmul rate: where that exceeds a target's factor, no kernel built on
NumPy's BLAS can meet the target ("beyond the matmul rate"), as when NumPy's OpenBLAS runs
256-bit kernels (OPENBLAS_CORETYPE=Haswell, say) and torch's oneDNN runs AVX-512 ones.

    python benchmarks/forward.py            # 5 rounds of best-of-5
    python benchmarks/forward.py --quick    # 2 rounds of best-of-3

Prints Markdown tables (for benchmarks/README.md). A script, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from convcalc import kernels  # noqa: E402
from convcalc.spec import spec_from_strings  # noqa: E402

try:
    import torch
except ImportError:  # the table then has no torch columns
    torch = None

# (label, kind, constructor call, input shape); the targets depend on the kind
SUITE: list[tuple[str, str, str, tuple[int, ...]]] = [
    ("ResNet 3×3 64→64, 56×56, batch 1", "dense", "Conv2d(64, 64, 3, padding=1)", (1, 64, 56, 56)),
    ("ResNet 3×3 64→64, 56×56, batch 8", "dense", "Conv2d(64, 64, 3, padding=1)", (8, 64, 56, 56)),
    ("7×7 s2 3→64, 224×224", "dense", "Conv2d(3, 64, 7, stride=2, padding=3)", (1, 3, 224, 224)),
    ("1×1 256→64, 56×56", "pointwise", "Conv2d(256, 64, 1)", (1, 256, 56, 56)),
    (
        "depthwise 3×3, 32 ch, 112×112",
        "depthwise",
        "Conv2d(32, 32, 3, padding=1, groups=32)",
        (1, 32, 112, 112),
    ),
    (
        "depthwise 3×3, 512 ch, 14×14",
        "depthwise",
        "Conv2d(512, 512, 3, padding=1, groups=512)",
        (1, 512, 14, 14),
    ),
    (
        "groups 8, 3×3 256→256, 28×28",
        "grouped",
        "Conv2d(256, 256, 3, padding=1, groups=8)",
        (1, 256, 28, 28),
    ),
    (
        "transposed 4×4 s2 256→128, 16→32",
        "transposed",
        "ConvTranspose2d(256, 128, 4, stride=2, padding=1)",
        (1, 256, 16, 16),
    ),
    ("MaxPool 2×2, 64×112×112", "pool", "MaxPool2d(2)", (1, 64, 112, 112)),
    ("MaxPool 3×3 s2, 64×112×112", "pool", "MaxPool2d(3, stride=2, padding=1)", (1, 64, 112, 112)),
    ("Linear 4096→4096, batch 8", "linear", "Linear(4096, 4096)", (8, 4096)),
]

# kind → (min ratio to the matmul rate, max time relative to torch's)
TARGETS: dict[str, tuple[float | None, float]] = {
    "dense": (0.6, 1.5),
    "pointwise": (0.6, 1.5),
    "grouped": (None, 2.0),
    "transposed": (None, 2.0),
    "depthwise": (None, 3.0),
    "pool": (None, 1.0),
    "linear": (None, 1.5),
}


def best_time(fn: Callable[[], Any], repeat: int) -> float:
    fn()  # warm up: first-touch allocations, BLAS thread start-up
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


_SQUARE: Any = None


def matmul() -> Any:
    """NumPy's float32 2048² product (its BLAS), the ceiling the kernels are compared with."""
    global _SQUARE
    if _SQUARE is None:
        _SQUARE = np.random.default_rng(0).standard_normal((2048, 2048), dtype=np.float32)
    return _SQUARE @ _SQUARE


MATMUL_OPS = 2 * 2048**3


def torch_module(call: str) -> Any:
    return eval("torch.nn." + call, {"torch": torch}).float().eval()


def ops(layer: Any, x: tuple[int, ...], y: tuple[int, ...], kind: str) -> int:
    """2·MACs; for pooling, the window elements visited (one comparison each)."""
    if kind == "pool":
        k = layer.kernel_size if isinstance(layer.kernel_size, tuple) else (layer.kernel_size,) * 2
        return int(np.prod(y)) * int(np.prod(k))
    return 2 * layer.macs(x, y)


def prepare(label: str, kind: str, call: str, shape: tuple[int, ...]) -> dict[str, Any]:
    """Build the layer, run it once and check it against torch; returns the row's timers."""
    layer = spec_from_strings([call], shape).layers[0].layer
    rng = np.random.default_rng(0)
    y_shape = layer.out_shape(shape)
    x = rng.standard_normal(shape, dtype=np.float32)
    row: dict[str, Any] = {"label": label, "kind": kind, "call": call}
    try:
        weights = {k: v.astype(np.float32) for k, v in layer.init(shape, rng).items()}
        y = layer.forward(x, weights, 1 << 30)
    except NotImplementedError as exc:
        row["skip"] = f"skipped: {exc}"
        return row
    row["ops"] = ops(layer, shape, y_shape, kind)
    row["ours_fn"] = lambda: layer.forward(x, weights, 1 << 30)
    if torch is not None:
        module = torch_module(call)
        state = module.state_dict()
        for key, value in weights.items():
            state[key] = torch.from_numpy(value)
        module.load_state_dict(state)
        xt = torch.from_numpy(x)
        with torch.no_grad():
            ref = module(xt).numpy()
        scale = max(1.0, float(np.abs(ref).max()))
        err = float(np.abs(y - ref).max()) / scale if y.shape == ref.shape else float("inf")
        row["error"] = err
        if err > 1e-4:
            row["skip"] = f"WRONG RESULT: shape {y.shape} vs {ref.shape}, error {err:.2e}"
            return row

        def torch_run() -> Any:
            with torch.no_grad():
                return module(xt)

        row["torch_fn"] = torch_run
    return row


SETTLE = 0.15  # seconds of pause when switching library or thread count


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def timed(fn: Callable[[], Any], library: str, threads: int, repeat: int) -> float:
    """Best time of ``fn`` with ``library`` (ours | torch) held to ``threads`` threads."""
    time.sleep(SETTLE)
    if library == "torch":
        torch.set_num_threads(threads)
        return best_time(fn, repeat)
    with kernels.Run(kernels.Config(threads=threads)):
        return best_time(fn, repeat)


def time_rows(rows: list[dict[str, Any]], rounds: int, repeat: int, threads: int) -> None:
    """Per round and row: ours and torch at 1 thread, then both at ``threads``; keeps every
    round's times (``<library><threads>``: list) for best times and per-round ratios."""
    live = [r for r in rows if "skip" not in r]
    counts = sorted({1, threads})
    for _ in range(rounds):
        for row in live:
            for n in counts:
                row.setdefault(f"ours{n}", []).append(timed(row["ours_fn"], "ours", n, repeat))
                if torch is not None:
                    t = timed(row["torch_fn"], "torch", n, repeat)
                    row.setdefault(f"torch{n}", []).append(t)
            # the BLAS ceiling at each thread count, right beside this row's own timings
            for n in counts:
                row.setdefault(f"matmul{n}", []).append(timed(matmul, "ours", n, 3))
    if torch is not None:
        torch.set_num_threads(threads)


def ratio(row: dict[str, Any], n: int) -> float | None:
    """Median over rounds of torch's time / ours at ``n`` threads (None without torch)."""
    if f"torch{n}" not in row:
        return None
    return median([t / o for t, o in zip(row[f"torch{n}"], row[f"ours{n}"])])


def of_matmul(row: dict[str, Any], n: int, library: str = "ours") -> float | None:
    """Median over rounds of ``library``'s GFLOP/s at ``n`` threads ÷ the matmul's in the same
    round (None without that library). For torch, above 1 means its layer does its MACs faster
    than NumPy's BLAS multiplies at all: no kernel built on that BLAS can come closer to torch
    than 1 / this."""
    if f"{library}{n}" not in row:
        return None
    return median(
        [
            (row["ops"] / t) / (MATMUL_OPS / m)
            for t, m in zip(row[f"{library}{n}"], row[f"matmul{n}"])
        ]
    )


def verdict(row: dict[str, Any], threads: int) -> str:
    need_rate, need_torch = TARGETS[row["kind"]]
    misses = []
    if need_rate is not None and of_matmul(row, threads) < need_rate:
        misses.append(f"< {need_rate:.0%} of matmul")
    for n in sorted({1, threads}):
        r = ratio(row, n)
        if r is not None and r < 1 / need_torch:
            above = of_matmul(row, n, "torch")
            beyond = above is not None and above > need_torch
            misses.append(f"> {need_torch}× torch at {n}T" + (" (beyond matmul)" if beyond else ""))
    return "met" if not misses else "missed: " + ", ".join(misses)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds of best-of-3")
    parser.add_argument("--only", help="run only the rows whose label contains this text")
    args = parser.parse_args(argv)
    rounds, repeat = (2, 3) if args.quick else (5, 5)
    threads = torch.get_num_threads() if torch is not None else os.cpu_count() or 1
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    rows = [
        prepare(label, kind, call, shape)
        for label, kind, call, shape in SUITE
        if not args.only or args.only.lower() in label.lower()
    ]
    time_rows(rows, rounds, repeat, threads)
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    live = [r for r in rows if "skip" not in r]
    rate = (
        MATMUL_OPS / min(m for r in live for m in r[f"matmul{threads}"]) / 1e9
        if live
        else float("nan")
    )

    env = {
        k: os.environ[k]
        for k in (
            "OPENBLAS_CORETYPE",
            "OPENBLAS_L2_SIZE",
            "OPENBLAS_NUM_THREADS",
            "OMP_NUM_THREADS",
        )
        if k in os.environ
    }
    print(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"Python {platform.python_version()}, NumPy {np.__version__}"
        + (f", torch {torch.__version__}" if torch is not None else ", no torch")
        + (f"; OpenBLAS kernels {kernels.blas_core()}" if kernels.blas_core() else "")
        + (f"; env {env}" if env else "")
    )
    print(
        f"NumPy float32 matmul (2048², {threads} threads): up to {rate:.0f} GFLOP/s, timed "
        "beside every row in every round (÷ matmul is the median of the rounds' ratios). "
        f"{rounds} rounds of best-of-{repeat}; ms = best of all rounds; ×torch = torch's time / "
        "ours at the same thread count, median of the rounds' ratios (1.0 = as fast as torch). "
        f"Load average {load_before:.2f} before, {load_after:.2f} after "
        "(above ~0.5 other processes share the cores and every number is noisy).\n"
    )
    n = threads
    print(
        f"| layer | ours 1T ms | torch 1T ms | ×torch 1T | ours {n}T ms | torch {n}T ms "
        f"| ×torch {n}T | GFLOP/s ({n}T) | ÷ matmul | torch ÷ matmul 1T, {n}T | target |"
    )
    print("|" + "---|" * 11)
    for row in rows:
        if "skip" in row:
            print(f"| {row['label']} | {row['skip']} |" + " |" * 9)
            continue
        cells = [row["label"]]
        for k in sorted({1, n}) if n != 1 else [1]:
            cells.append(f"{min(row[f'ours{k}']) * 1e3:.2f}")
            if f"torch{k}" in row:
                cells += [f"{min(row[f'torch{k}']) * 1e3:.2f}", f"{ratio(row, k):.2f}"]
            else:
                cells += ["—", "—"]
        gf = row["ops"] / min(row[f"ours{n}"]) / 1e9
        above = [of_matmul(row, k, "torch") for k in sorted({1, n})]
        cells += [f"{gf:.1f}", f"{of_matmul(row, n):.2f}"]
        cells += [", ".join("—" if a is None else f"{a:.2f}" for a in above), verdict(row, n)]
        print("| " + " | ".join(cells) + " |")
    print("\nPool rows count one operation per window element visited (no MACs).")
    if not args.only or "net" in args.only:
        whole_networks(rounds, threads)
    return 0


NETWORKS = ("resnet18", "resnet50", "resnext50_32x4d", "mobilenet_v2", "efficientnet_b0")


def whole_networks(rounds: int, threads: int) -> None:
    """`convcalc run` of whole zoo models at 1×3×224×224 against the same graph in torch,
    in rounds as the layers are (best-of-3 per round)."""
    from convcalc import load_spec
    from convcalc.forward import run_forward

    counts = sorted({1, threads})
    print(
        "\nWhole networks at 1×3×224×224, float32, one forward pass (wall time of the whole "
        f"`run_forward`, {rounds} rounds of best-of-3); torch runs the same graph "
        "(tests/torch_bridge.py) with the same weights:\n"
    )
    head = "| network |" + "".join(f" ours {k}T ms | torch {k}T ms | ×torch {k}T |" for k in counts)
    print(head + " max abs diff |")
    print("|" + "---|" * (2 + 3 * len(counts)))
    sys.path.insert(0, str(ROOT / "tests"))
    for name in NETWORKS:
        spec = load_spec(str(ROOT / "convcalc" / "models" / "zoo" / f"{name}.yaml"))
        x = np.random.default_rng(0).standard_normal(spec.input_shape).astype(np.float32)
        weights = None
        model = None
        if torch is not None:
            from torch_bridge import TorchModel

            model = TorchModel(torch, spec, spec.input_shape)
            weights = model.state_dict()
        result = run_forward(spec, weights=weights, input_data=x)

        def ours(spec: Any = spec, weights: Any = weights, x: Any = x) -> Any:
            return run_forward(spec, weights=weights, input_data=x)

        def theirs(model: Any = model, x: Any = x) -> Any:
            with torch.no_grad():
                return model(torch.from_numpy(x))

        times: dict[str, list[float]] = {}
        for _ in range(rounds):
            for k in counts:
                times.setdefault(f"ours{k}", []).append(timed(ours, "ours", k, 3))
                if model is not None:
                    times.setdefault(f"torch{k}", []).append(timed(theirs, "torch", k, 3))
        cells = [name]
        for k in counts:
            cells.append(f"{min(times[f'ours{k}']) * 1e3:.1f}")
            if model is not None:
                cells += [f"{min(times[f'torch{k}']) * 1e3:.1f}", f"{ratio(times, k):.2f}"]
            else:
                cells += ["—", "—"]
        if model is not None:
            diff = float(np.abs(result.output - theirs().numpy()).max())
            cells.append(f"{diff:.1e}")
        else:
            cells.append("—")
        print("| " + " | ".join(cells) + " |")
    if torch is not None:
        torch.set_num_threads(threads)


if __name__ == "__main__":
    sys.exit(main())
