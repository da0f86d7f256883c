"""This checkout's forward pass against another checkout's, side by side in one process.

The other checkout's package is imported under the name ``convcalc_base`` (its imports are
relative), so both run on the same NumPy, the same BLAS and the same weights, interleaved:
per round each case runs with the base then with ours (the order alternating between rounds),
best-of-N each, at 1 thread and at 2; a ratio is ours ÷ base within one round (below 1:
faster), reported as the median over the rounds. For a change that should not move the
speed (a refactor), every ratio should be 1 within the noise.

    git worktree add /tmp/convcalc-base <commit>
    python benchmarks/compare.py --base /tmp/convcalc-base            # 5 rounds
    python benchmarks/compare.py --base /tmp/convcalc-base --quick    # 3 rounds, fewer repeats

Needs torch only for the whole networks' weights (tests/torch_bridge.py); without it those
rows are skipped. A script, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import pkgutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import convcalc  # noqa: E402
from convcalc import kernels  # noqa: E402

# one case per convolution path at a size where a network meets it (label, call, input)
LAYERS: list[tuple[str, str, tuple[int, ...]]] = [
    ("tap-gemm: 3×3 64→64, 56², batch 1", "Conv2d(64, 64, 3, padding=1)", (1, 64, 56, 56)),
    ("tap-gemm: 3×3 64→64, 56², batch 8", "Conv2d(64, 64, 3, padding=1)", (8, 64, 56, 56)),
    ("columns-cropped: 7×7 s2 3→64, 224²", "Conv2d(3, 64, 7, stride=2, padding=3)", (1, 3, 224, 224)),
    ("columns-flat: 3×3 64→64, 28²", "Conv2d(64, 64, 3, padding=1)", (1, 64, 28, 28)),
    ("channels-last: 3×3 512→512, 7²", "Conv2d(512, 512, 3, padding=1)", (1, 512, 7, 7)),
    ("pointwise-blas: 1×1 256→64, 56²", "Conv2d(256, 64, 1)", (1, 256, 56, 56)),
    ("pointwise: 1×1 256→64, 56², batch 4", "Conv2d(256, 64, 1, bias=False)", (4, 256, 56, 56)),
    ("depthwise-shifted: 3×3, 32 ch, 112²", "Conv2d(32, 32, 3, padding=1, groups=32)", (1, 32, 112, 112)),
    ("depthwise-shifted: 3×3, 512 ch, 14²", "Conv2d(512, 512, 3, padding=1, groups=512)", (1, 512, 14, 14)),
    ("depthwise strided: 3×3 s2, 96 ch, 112²", "Conv2d(96, 96, 3, stride=2, padding=1, groups=96)", (1, 96, 112, 112)),
    ("depthwise 5×5, 240 ch, 28²", "Conv2d(240, 240, 5, padding=2, groups=240)", (1, 240, 28, 28)),
    ("grouped: g8 3×3 256→256, 28²", "Conv2d(256, 256, 3, padding=1, groups=8)", (1, 256, 28, 28)),
    ("grouped-blas: g8 3×3 256→256, 56²", "Conv2d(256, 256, 3, padding=1, groups=8)", (1, 256, 56, 56)),
    ("transposed: 4×4 s2 256→128, 16²", "ConvTranspose2d(256, 128, 4, stride=2, padding=1)", (1, 256, 16, 16)),
]  # fmt: skip
NETWORKS = ["resnet50", "vgg16", "mobilenet_v2"]


def load_base(root: Path) -> ModuleType:
    """The other checkout's package, as ``convcalc_base``."""
    where = root / "convcalc"
    spec = importlib.util.spec_from_file_location(
        "convcalc_base", where / "__init__.py", submodule_search_locations=[str(where)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["convcalc_base"] = module
    spec.loader.exec_module(module)
    return module


def limited(package: ModuleType, threads: int) -> Any:
    """A context holding ``package``'s kernels to ``threads`` threads: its ``kernels.Run``, or
    in a version from before that package, the ``threads`` context of the module defining it."""
    where = Path(package.__path__[0])
    if (where / "kernels").is_dir():
        engine = importlib.import_module(package.__name__ + ".kernels")
        return engine.Run(engine.Config(threads=threads))
    for info in pkgutil.iter_modules([str(where)]):
        source = where / f"{info.name}.py"
        if source.is_file() and "\nclass threads" in source.read_text(encoding="utf-8"):
            return importlib.import_module(f"{package.__name__}.{info.name}").threads(threads)
    raise SystemExit(f"{where}: no way to limit its kernels' threads")


def best(fn: Callable[[], Any], repeat: int) -> float:
    fn()
    out = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out = min(out, time.perf_counter() - t)
    return out


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def side_by_side(
    label: str,
    fns: dict[str, Callable[[], Any]],
    packages: dict[str, ModuleType],
    rounds: int,
    repeat: int,
) -> None:
    """One table row: median time of each side at 1 and 2 threads, and median ratio."""
    cells = [label]
    for threads in (1, 2):
        times: dict[str, list[float]] = {"base": [], "ours": []}
        ratios = []
        for r in range(rounds):
            order = ["base", "ours"] if r % 2 == 0 else ["ours", "base"]
            got = {}
            for side in order:
                with limited(packages[side], threads):
                    got[side] = best(fns[side], repeat)
                times[side].append(got[side])
            ratios.append(got["ours"] / got["base"])
        cells += [
            f"{median(times['base']) * 1e3:.2f}",
            f"{median(times['ours']) * 1e3:.2f}",
            f"**{median(ratios):.3f}**",
        ]
    print("| " + " | ".join(cells) + " |", flush=True)


def layer_rows(packages: dict[str, ModuleType], rounds: int, repeat: int) -> None:
    for label, call, shape in LAYERS:
        rng = np.random.default_rng(0)
        x = rng.standard_normal(shape).astype(np.float32)
        fns = {}
        weights = None
        outputs = {}
        for side, package in packages.items():
            layer = package.spec_from_strings([call], shape).layers[0].layer
            if weights is None:
                weights = {k: v.astype(np.float32) for k, v in layer.init(shape, rng).items()}
            fns[side] = lambda layer=layer, x=x, w=weights: layer.forward(x, w, 1 << 30)
            with limited(package, 2):
                outputs[side] = fns[side]()
        assert np.array_equal(outputs["base"], outputs["ours"]), label
        side_by_side(label, fns, packages, rounds, repeat)


def network_rows(packages: dict[str, ModuleType], rounds: int, repeat: int) -> None:
    try:
        import torch
        from torch_bridge import TorchModel
    except ImportError:
        print("(no torch: the whole networks are skipped)")
        return
    for name in NETWORKS:
        path = str(ROOT / "convcalc" / "models" / "zoo" / f"{name}.yaml")
        specs = {side: package.load_spec(path) for side, package in packages.items()}
        weights = TorchModel(torch, specs["ours"], specs["ours"].input_shape).state_dict()
        x = np.random.default_rng(0).standard_normal(specs["ours"].input_shape).astype(np.float32)
        fns = {}
        outputs = {}
        for side, package in packages.items():
            forward = importlib.import_module(package.__name__ + ".forward")
            fns[side] = lambda f=forward, s=specs[side], w=weights, x=x: f.run_forward(
                s, weights=w, input_data=x
            )
            with limited(package, 2):  # the same threads (a default may measure the load)
                outputs[side] = fns[side]().output
        assert np.array_equal(outputs["base"], outputs["ours"]), name
        side_by_side(f"{name}, 1×3×224×224", fns, packages, rounds, repeat)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", required=True, type=Path, help="the other checkout's root")
    parser.add_argument("--quick", action="store_true", help="3 rounds, fewer repeats")
    parser.add_argument("--layers-only", action="store_true")
    parser.add_argument("--networks-only", action="store_true")
    args = parser.parse_args(argv)
    packages = {"base": load_base(args.base), "ours": convcalc}
    rounds = 3 if args.quick else 5
    kernels.prepare()
    load = os.getloadavg()[0]
    print(f"NumPy {np.__version__}; OpenBLAS kernels {kernels.blas_core()}; load {load:.2f}; "
          f"{rounds} rounds, medians; ratio = ours ÷ base within a round\n")  # fmt: skip
    print("| case | base 1T ms | ours 1T ms | ratio 1T | base 2T ms | ours 2T ms | ratio 2T |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    if not args.networks_only:
        layer_rows(packages, rounds, 3 if args.quick else 5)
    if not args.layers_only:
        network_rows(packages, rounds, 1 if args.quick else 2)
    print(f"\nload {os.getloadavg()[0]:.2f} after")
    return 0


if __name__ == "__main__":
    sys.exit(main())
