"""The norm, activation, dropout and resize/pad/shuffle kernels against golden fixtures made
by PyTorch (tests/fixtures/make_misc.py).

No torch here: each fixture holds the constructor call, the input, torch's float64 output and
the weights; the layer is built by convcalc and run in float64 and float32.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from golden import load, run, scale, temporaries

from convcalc.layers import activation, batch_norm, dropout, norm, padding, resize, shuffle, softmax
from convcalc.layers.activation import erf
from convcalc.layers.base import REGISTRY
from convcalc.spec import spec_from_strings

FIXTURES = sorted((Path(__file__).parent.parent / "fixtures" / "misc").glob("*.npz"))
MODULES = tuple(
    m.__name__ for m in (activation, softmax, dropout, batch_norm, norm, resize, padding, shuffle)
)
# Lazy<Type> runs its base type's kernel (checked against torch in tests/oracle/test_forward_oracle.py)
MY_TYPES = sorted(
    name
    for name, cls in REGISTRY.items()
    if cls.__module__ in MODULES and not name.startswith("Lazy")
)


def test_fixtures_cover_every_type():
    names = {str(np.load(p)["call"]).split("(")[0] for p in FIXTURES}
    assert set(MY_TYPES) <= names, sorted(set(MY_TYPES) - names)
    total = sum(p.stat().st_size for p in FIXTURES)
    assert total < 1_500_000


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_float64(path):
    layer, call, x, y, weights = load(path)
    got = run(layer, x, weights, np.float64)
    assert got.dtype == np.float64
    assert got.shape == y.shape == layer.out_shape(x.shape)
    np.testing.assert_allclose(got, y, rtol=1e-9, atol=1e-12 * scale(y))


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_float32(path):
    layer, call, x, y, weights = load(path)
    got = run(layer, x, weights, np.float32)
    assert got.dtype == np.float32
    assert got.shape == y.shape
    np.testing.assert_allclose(got, y, rtol=1e-4, atol=1e-5 * scale(y))


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_tiny_budget_chunks_to_the_same_result(path):
    """A budget of a few bytes forces the smallest chunks."""
    layer, call, x, y, weights = load(path)
    whole = run(layer, x, weights, np.float64)
    chunked = run(layer, x, weights, np.float64, budget=8)
    np.testing.assert_allclose(chunked, whole, rtol=1e-13, atol=1e-15 * scale(y))


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_init_gives_every_parameter_and_buffer(path):
    layer, call, x, y, weights = load(path)
    made = layer.init(x.shape, np.random.default_rng(0))
    want = {**(layer.weights(x.shape) or {}), **(layer.buffers(x.shape) or {})}
    assert {k: v.shape for k, v in made.items()} == want
    assert set(weights) <= set(made)
    for key, value in made.items():
        assert value.dtype == (np.int64 if key == "num_batches_tracked" else np.float64)
    assert layer.workspace(x.shape, y.shape) >= 0


def test_init_follows_reset_parameters():
    bn = spec_from_strings(["BatchNorm2d(3)"], (1, 3, 2, 2)).layers[0].layer
    w = bn.init((1, 3, 2, 2), np.random.default_rng(0))
    assert w["weight"].tolist() == [1, 1, 1] and w["bias"].tolist() == [0, 0, 0]
    assert w["running_mean"].tolist() == [0, 0, 0] and w["running_var"].tolist() == [1, 1, 1]
    assert w["num_batches_tracked"].shape == () and int(w["num_batches_tracked"]) == 0
    ln = spec_from_strings(["LayerNorm([2, 2], bias=False)"], (1, 3, 2, 2)).layers[0].layer
    assert set(ln.init((1, 3, 2, 2), None)) == {"weight"}
    prelu = spec_from_strings(["PReLU(3, init=0.1)"], (1, 3, 2, 2)).layers[0].layer
    assert prelu.init((1, 3, 2, 2), None)["weight"].tolist() == [0.1] * 3
    assert prelu.call_string() == "PReLU(num_parameters=3, init=0.1)"


def test_erf_matches_math_erf():
    x = np.concatenate(
        [np.linspace(-7, 7, 20001), np.logspace(-300, 1, 400), -np.logspace(-20, 1, 400)]
    )
    want = np.array([math.erf(v) for v in x])
    got = erf(x)
    np.testing.assert_allclose(got, want, rtol=1e-15, atol=0)
    assert np.isnan(erf(np.array([np.nan]))[0])
    assert erf(np.array([np.inf, -np.inf])).tolist() == [1.0, -1.0]


def test_extremes_stay_finite():
    x = np.array([-1e4, -800.0, -50.0, 0.0, 50.0, 800.0, 1e4])
    for call in (
        "Sigmoid()",
        "SiLU()",
        "Softplus()",
        "Mish()",
        "GELU()",
        "ELU()",
        "Softmax(dim=0)",
    ):
        layer = spec_from_strings([call], x.shape).layers[0].layer
        for dtype in (np.float64, np.float32):
            out = layer.forward(x.astype(dtype), {}, 1 << 30)
            assert np.isfinite(out).all(), call


def test_empty_inputs():
    cases = [
        ("ReLU()", (0, 3)),
        ("Softmax(dim=1)", (0, 3)),
        ("LayerNorm(3)", (0, 3)),
        ("Upsample(scale_factor=2)", (0, 2, 3, 3)),
        ("ZeroPad2d(1)", (0, 2, 3, 3)),
        ("PixelUnshuffle(2)", (0, 2, 4, 4)),
        ("Upsample(size=(0, 2), mode='area')", (1, 2, 3, 3)),
    ]
    for call, shape in cases:
        layer = spec_from_strings([call], shape).layers[0].layer
        w = layer.init(shape, np.random.default_rng(0))
        out = layer.forward(np.zeros(shape), w, 1 << 30)
        assert out.shape == layer.out_shape(shape), call


def test_kernels_do_not_import_numpy_at_module_level():
    for module in (activation, norm, resize):
        assert "np" not in vars(module) and "numpy" not in vars(module)


CHAINS = sorted(
    name
    for name, cls in REGISTRY.items()
    if getattr(cls, "chain", None) is not None and "chain" in cls.__dict__
)


@pytest.mark.parametrize("name", CHAINS)
@pytest.mark.parametrize("size", [1000, (1 << 20) + 3])  # one block; shared between the cores
def test_in_place_chains_match_their_fresh_output(name, size):
    """An activation run as a chain gives the same bits written into a new array and into
    its own input (computed block by block in a temporary), on one block and on many."""
    from convcalc.kernels import Config, Run

    layer = REGISTRY[name].build()
    x = np.random.default_rng(size).standard_normal(size).astype(np.float32) * 8
    with Run(Config(threads=2)):
        fresh = layer.forward(x, {}, 1 << 30)
        inplace = x.copy()
        assert layer.forward_into(inplace, {}, 1 << 30, inplace) is inplace
    np.testing.assert_array_equal(inplace, fresh)
    with Run(Config(threads=1)):
        np.testing.assert_array_equal(layer.forward(x, {}, 1 << 30), fresh)


def test_the_chained_activations():
    assert CHAINS == ["GELU", "Hardsigmoid", "Hardswish", "LeakyReLU", "SiLU", "Sigmoid"]


# layers whose temporaries scale with the input: (layer, input shape, budget in bytes)
BOUNDED = [
    ("Upsample(scale_factor=1.5, mode='bilinear')", (1, 16, 128, 128), 1 << 19),
    ("Upsample(scale_factor=2, mode='bicubic', align_corners=True)", (1, 16, 64, 64), 1 << 19),
    ("Softmax(dim=1)", (1, 16, 128, 128), 1 << 18),
    ("Softmin(dim=1)", (1, 16, 128, 128), 1 << 18),
    ("LogSoftmax(dim=1)", (1, 16, 128, 128), 1 << 18),
    ("LocalResponseNorm(3)", (1, 16, 128, 128), 1 << 18),
    ("BatchNorm2d(16, affine=False, track_running_stats=False)", (1, 16, 128, 128), 1 << 18),
    ("LPPool2d(2, 3, 2)", (1, 16, 128, 128), 1 << 18),
]


@pytest.mark.parametrize("layer, shape, budget", BOUNDED, ids=[b[0] for b in BOUNDED])
def test_one_large_item_is_chunked_within_the_budget(layer, shape, budget):
    """A single item larger than the budget is still worked in pieces (channels, or runs of
    positions) whose temporaries, traced beyond the output, stay near the budget (the
    pieces are sized from estimates that leave out small per-piece arrays such as reduced
    maxima, sums and tap indices: within half as much again, where unchunked they took the
    whole item several times over); the result is the unchunked one's."""
    entry = spec_from_strings([layer], shape).layers[0].layer
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    expected = entry.forward(x, {}, 1 << 30)
    got, held = temporaries(lambda: entry.forward(x, {}, budget))
    assert held <= 1.5 * budget
    # (batch statistics summed piece by piece round differently)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("threads", [1, 2])
def test_nan_and_inf_arithmetic_warns_of_nothing(threads):
    """torch computes inf − inf and √(negative variance) as nan without a word: so does a run,
    on the worker threads too (an average pooling this large is split between them)."""
    import warnings

    from convcalc.forward import run_forward

    x = np.zeros((1, 4, 512, 512))
    x[..., ::2] = np.inf
    x[..., 1::2] = -np.inf
    spec = spec_from_strings(["bn=BatchNorm2d(4)", "pool=AvgPool2d(2)"], x.shape)
    weights = {
        "bn.weight": np.ones(4),
        "bn.bias": np.zeros(4),
        "bn.running_mean": np.zeros(4),
        "bn.running_var": np.array([1.0, -1.0, 1.0, 1.0]),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = run_forward(spec, weights=weights, input_data=x, dtype="float64", threads=threads)
    assert result.verified
    assert np.isnan(result.output).all()


def test_the_worker_threads_keep_the_callers_floating_point_handling():
    import warnings

    from convcalc.kernels import Config, Run

    seen = []

    def work(i):
        seen.append(float(np.add(np.float64(np.inf), -np.inf)))

    with Run(Config(threads=2)) as run, warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("error")
        run.workers.map(work, [0, 1, 2, 3])
    assert len(seen) == 4 and all(math.isnan(v) for v in seen)
