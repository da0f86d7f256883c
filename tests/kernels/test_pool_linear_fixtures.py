"""NumPy forward kernels of pooling, Linear, Flatten, Unflatten and Identity against torch.

The golden fixtures in tests/fixtures/pool_linear/ were made by torch 2.13 (CPU) with
tests/fixtures/make_pool_linear.py; torch is not imported here. Each case runs in float64
(within 1e-9 relative) and float32 (within 1e-4), with an ample and a tiny memory budget.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from convcalc.layers.base import Layer
from convcalc.spec import spec_from_strings

FIXTURES = sorted((Path(__file__).parent.parent / "fixtures" / "pool_linear").glob("*.npz"))
POOLING = ("MaxPool", "AvgPool", "AdaptiveAvgPool", "AdaptiveMaxPool")


def load(path: Path) -> tuple[str, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    with np.load(path) as data:
        call = str(data["call"])
        weights = {k[2:]: data[k] for k in data.files if k.startswith("w.")}
        return call, data["x"], data["y"], weights


def layer_for(call: str, shape: tuple[int, ...]) -> Layer:
    layer = spec_from_strings([call], shape).layers[0].layer
    layer.check()
    return layer


def test_fixtures_present() -> None:
    assert len(FIXTURES) >= 50
    assert sum(p.stat().st_size for p in FIXTURES) < 1_500_000


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_matches_torch(path: Path, dtype: Any) -> None:
    call, x, y, weights = load(path)
    layer = layer_for(call, x.shape)
    assert layer.out_shape(x.shape) == y.shape
    assert {k: v.shape for k, v in weights.items()} == {
        **(layer.weights(x.shape) or {}),
        **(layer.buffers(x.shape) or {}),
    }
    w = {k: v.astype(dtype) for k, v in weights.items()}
    scale = max(float(np.abs(y[np.isfinite(y)]).max(initial=0.0)), 1.0)  # nan: LPPool
    rtol, atol = (1e-9, 1e-12 * scale) if dtype == np.float64 else (1e-4, 1e-5 * scale)
    budgets = [1 << 30]
    if call.startswith(POOLING):
        budgets.append(16)  # chunked down to one (N, C) slice at a time
    for budget in budgets:
        out = layer.forward(x.astype(dtype), w, budget)
        assert isinstance(out, np.ndarray), "return_indices: the values only"
        assert out.dtype == dtype
        assert out.shape == y.shape
        np.testing.assert_allclose(out, y, rtol=rtol, atol=atol)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_workspace_is_a_count(path: Path) -> None:
    call, x, y, _ = load(path)
    layer = layer_for(call, x.shape)
    need = layer.workspace(x.shape, y.shape)
    assert isinstance(need, int) and need >= 0


def test_pooling_allocates_no_padded_copy() -> None:
    # 1-d pooling runs straight into the output: no temporaries at all
    layer = layer_for("MaxPool1d(3, stride=2, padding=1)", (2, 3, 11))
    assert layer.workspace((2, 3, 11), (2, 3, 6)) == 0


def test_max_pool_propagates_nan_and_infinities() -> None:
    # torch: a NaN anywhere in a window gives NaN; -inf padding never wins over -inf input
    x = np.full((1, 1, 4, 4), -np.inf)
    x[0, 0, 0, 0] = np.nan
    x[0, 0, 3, 3] = np.inf
    out = layer_for("MaxPool2d(3, stride=2, padding=1)", x.shape).forward(x, {}, 1 << 30)
    assert np.isnan(out[0, 0, 0, 0])
    assert out[0, 0, 1, 1] == np.inf
    assert out[0, 0, 0, 1] == -np.inf


def test_global_average_of_an_empty_input_is_nan() -> None:
    # torch: AdaptiveAvgPool2d(1) of a (1, 3, 0, 4) input is a (1, 3, 1, 1) tensor of NaN
    layer = layer_for("AdaptiveAvgPool2d(1)", (1, 3, 0, 4))
    out = layer.forward(np.zeros((1, 3, 0, 4), np.float32), {}, 1 << 30)
    assert out.shape == (1, 3, 1, 1) and out.dtype == np.float32 and np.isnan(out).all()


def test_empty_batch() -> None:
    for call in (
        "MaxPool2d(2)",
        "AvgPool2d(3, 1, 1)",
        "AdaptiveMaxPool2d(3)",
        "AdaptiveAvgPool2d((2, 5))",
    ):
        layer = layer_for(call, (0, 3, 6, 6))
        out = layer.forward(np.zeros((0, 3, 6, 6)), {}, 1 << 30)
        assert out.shape == layer.out_shape((0, 3, 6, 6))


@pytest.mark.parametrize("bias", [True, False])
def test_linear_init_follows_torch(bias: bool) -> None:
    # reset_parameters: kaiming_uniform_(a=√5) → U(±1/√in_features); bias U(±1/√in_features)
    layer = layer_for(f"Linear(400, 120, bias={bias})", (1, 400))
    w = layer.init((1, 400), np.random.default_rng(0))
    assert {k: v.shape for k, v in w.items()} == layer.weights((1, 400))
    bound = 1 / math.sqrt(400)
    for value in w.values():
        assert value.dtype == np.float64
        assert -bound <= value.min() < -0.9 * bound and 0.9 * bound < value.max() <= bound
    assert abs(float(w["weight"].std()) - bound / math.sqrt(3)) < 0.01 * bound


def test_linear_init_without_inputs() -> None:
    # in_features 0: the weight is empty and the bias bound is 0
    layer = layer_for("Linear(0, 3)", (2, 0))
    w = layer.init((2, 0), np.random.default_rng(0))
    assert w["weight"].shape == (3, 0) and not w["bias"].any()


def test_reshaping_layers_return_views() -> None:
    x = np.arange(24.0).reshape(2, 3, 4)
    for call in ("Flatten()", "Unflatten(2, (2, 2))", "Identity()"):
        out = layer_for(call, x.shape).forward(x, {}, 1 << 30)
        assert np.shares_memory(out, x)


def test_adaptive_average_keeps_infinities_in_their_bins() -> None:
    # torch 2.13: AdaptiveAvgPool1d(3) of [1, inf, 2, 3, nan, 4, 5, 6, 7] = [inf, nan, 6]
    # (bins [0, 3), [3, 6), [6, 9)); a NaN or inf touches only the bins that hold it
    x = np.array([[1.0, np.inf, 2.0, 3.0, np.nan, 4.0, 5.0, 6.0, 7.0]])
    for dtype in (np.float64, np.float32):
        out = layer_for("AdaptiveAvgPool1d(3)", x.shape).forward(x.astype(dtype), {}, 1 << 30)
        assert out[0, 0] == np.inf and np.isnan(out[0, 1]) and out[0, 2] == 6
