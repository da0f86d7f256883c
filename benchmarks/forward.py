"""Speed of the NumPy forward kernels on a fixed suite of layers, side by side with torch.

For each layer (built through convcalc's own layer classes, from a constructor-call string):
the result is first checked against torch (when installed), then timed, interleaved with
torch at 1 thread and at the machine's default thread count, and with NumPy's own float32
matrix product (the BLAS ceiling). Reports GFLOP/s (2·MACs / time), the ratio to the
matmul rate and torch's time / ours (1.0 = as fast as torch, 0.5 = twice as slow).

    python benchmarks/forward.py            # 9 repetitions, best time of each
    python benchmarks/forward.py --quick    # 3 repetitions

Prints a Markdown table (for the README). A script, not a test: it asserts nothing.
Pool and Linear rows are skipped, with a note, while their layer has no kernel yet.
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


def matmul_rate(repeat: int) -> float:
    """NumPy's float32 GEMM GFLOP/s on a 2048² product (its BLAS, its default threads)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2048, 2048), dtype=np.float32)
    b = rng.standard_normal((2048, 2048), dtype=np.float32)
    return 2 * 2048**3 / best_time(lambda: a @ b, repeat) / 1e9


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


def time_rows(rows: list[dict[str, Any]], repeat: int, default_threads: int) -> None:
    """Ours for every row, then torch at 1 thread, then at the default: each library's worker
    threads spin a while after a call, so interleaving the two per call would slow both."""
    live = [r for r in rows if "skip" not in r]
    for row in live:
        row["ours"] = best_time(row["ours_fn"], repeat)
    if torch is None:
        return
    for threads, key in ((1, "torch1"), (default_threads, "torchN")):
        torch.set_num_threads(threads)
        time.sleep(0.2)
        for row in live:
            row[key] = best_time(row["torch_fn"], repeat)
    torch.set_num_threads(default_threads)


def verdict(row: dict[str, Any], rate: float) -> str:
    need_rate, need_torch = TARGETS[row["kind"]]
    misses = []
    if need_rate is not None and row["ops"] / row["ours"] / 1e9 < need_rate * rate:
        misses.append(f"< {need_rate:.0%} of matmul")
    if "torchN" in row and row["ours"] > need_torch * row["torchN"]:
        misses.append(f"> {need_torch}× torch")
    return "met" if not misses else "missed: " + ", ".join(misses)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repetitions instead of 9")
    parser.add_argument("--only", help="run only the rows whose label contains this text")
    args = parser.parse_args(argv)
    repeat = 3 if args.quick else 9
    default_threads = torch.get_num_threads() if torch is not None else os.cpu_count() or 1
    rate = matmul_rate(repeat)
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    rows = [
        prepare(label, kind, call, shape)
        for label, kind, call, shape in SUITE
        if not args.only or args.only.lower() in label.lower()
    ]
    time_rows(rows, repeat, default_threads)
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    rate = max(rate, matmul_rate(repeat))  # once more after the suite: the best of both

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
        + (f"; env {env}" if env else "")
    )
    print(
        f"NumPy float32 matmul (2048²): {rate:.0f} GFLOP/s. "
        f"Ours at {'OPENBLAS_NUM_THREADS=' + os.environ['OPENBLAS_NUM_THREADS'] if 'OPENBLAS_NUM_THREADS' in os.environ else 'NumPy BLAS default'} threads; torch at 1 and {default_threads} threads. "
        f"Best of {repeat}. ×torch = torch's time / ours (1.0 = as fast as torch). "
        f"Load average {load_before:.2f} before, {load_after:.2f} after "
        f"(above ~0.5 other processes share the cores and every number is noisy).\n"
    )
    head = "| layer | ours ms | GFLOP/s | ÷ matmul | torch 1T ms | ×torch 1T | torch {n}T ms | ×torch {n}T | target |"
    print(head.format(n=default_threads))
    print("|" + "---|" * 9)
    for row in rows:
        if "skip" in row:
            print(f"| {row['label']} | {row['skip']} |" + " |" * 7)
            continue
        t = row["ours"]
        gf = row["ops"] / t / 1e9
        cells = [row["label"], f"{t * 1e3:.2f}", f"{gf:.1f}", f"{gf / rate:.2f}"]
        for key in ("torch1", "torchN"):
            if key in row:
                cells += [f"{row[key] * 1e3:.2f}", f"{row[key] / t:.2f}"]
            else:
                cells += ["—", "—"]
        cells.append(verdict(row, rate))
        print("| " + " | ".join(cells) + " |")
    print("\nPool rows count one operation per window element visited (no MACs).")
    if not args.only or "net" in args.only:
        whole_networks(repeat, default_threads)
    return 0


NETWORKS = ("resnet18", "resnet50", "mobilenet_v2")


def whole_networks(repeat: int, default_threads: int) -> None:
    """`convcalc run` of whole zoo models at 1×3×224×224 against the same graph in torch."""
    from convcalc import load_spec
    from convcalc.forward import run_forward

    print(
        "\nWhole networks at 1×3×224×224, float32, one forward pass (wall time of the whole pass, best of "
        f"{max(3, repeat // 3)}); torch runs the same graph (tests/torch_bridge.py) with the same weights:\n"
    )
    print(
        f"| network | ours ms | torch 1T ms | ×torch 1T | torch {default_threads}T ms | ×torch {default_threads}T | max abs diff |"
    )
    print("|" + "---|" * 7)
    sys.path.insert(0, str(ROOT / "tests"))
    for name in NETWORKS:
        spec = load_spec(str(ROOT / "examples" / "zoo" / f"{name}.yaml"))
        x = np.random.default_rng(0).standard_normal(spec.input_shape).astype(np.float32)
        weights = None
        reference = None
        model = None
        if torch is not None:
            from torch_bridge import TorchModel

            model = TorchModel(torch, spec, spec.input_shape)
            weights = model.state_dict()
        result = run_forward(spec, weights=weights, input_data=x)
        ours = best_time(
            lambda spec=spec, weights=weights, x=x: run_forward(
                spec, weights=weights, input_data=x
            ),
            max(3, repeat // 3),
        )
        cells = [name, f"{ours * 1e3:.1f}"]
        if model is not None:
            with torch.no_grad():
                reference = model(torch.from_numpy(x)).numpy()
            timings = []
            for threads in (1, default_threads):
                torch.set_num_threads(threads)
                with torch.no_grad():
                    timings.append(
                        best_time(
                            lambda model=model, x=x: model(torch.from_numpy(x)), max(3, repeat // 3)
                        )
                    )
            torch.set_num_threads(default_threads)
            for t in timings:
                cells += [f"{t * 1e3:.1f}", f"{t / ours:.2f}"]
            cells.append(f"{float(np.abs(result.output - reference).max()):.1e}")
        else:
            cells += ["—"] * 5
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    sys.exit(main())
