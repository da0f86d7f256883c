"""Reading the golden fixtures made by PyTorch (tests/fixtures/make_*.py) and running their
layer: shared by the fixture tests, which need no torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from convcalc.spec import spec_from_strings


def load(path: Path):
    """``(layer, call, x, y, weights)``: the layer built by convcalc from the fixture's
    constructor call for its input, torch's output, and the weights by state_dict suffix."""
    data = np.load(path)
    call = str(data["call"])
    x = data["x"]
    weights = {k[2:]: data[k] for k in data.files if k.startswith("w.")}
    layer = spec_from_strings([call], x.shape).layers[0].layer
    return layer, call, x, data["y"], weights


def run(layer, x, weights, dtype, budget=1 << 30):
    """The layer's kernel on ``x`` and ``weights`` cast to ``dtype``."""
    return layer.forward(x.astype(dtype), {k: v.astype(dtype) for k, v in weights.items()}, budget)


def scale(y: np.ndarray) -> float:
    """The magnitude the absolute tolerances are relative to."""
    finite = np.abs(y[np.isfinite(y)])
    return max(1.0, float(finite.max())) if finite.size else 1.0


def temporaries(compute, config=None):
    """``(result, bytes)``: what ``compute()`` returns, run in a fresh kernels run with
    ``config``, and the most memory it held at once beyond that result (traced by
    tracemalloc, NumPy's arrays included), its kept scratch buffers included."""
    import tracemalloc

    from convcalc.kernels import Config, Run

    tracemalloc.start()
    try:
        with Run(config or Config()):
            result = compute()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return result, peak - result.nbytes
