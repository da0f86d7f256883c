"""The convolution kernels against golden fixtures made by PyTorch (tests/fixtures/make_conv.py).

No torch here: each fixture holds the constructor call, the input, torch's output and the
weights; the layer is built by convcalc and run in float64 and float32.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from golden import load, run, scale, temporaries

from convcalc.kernels import Case, Config, Run, blas, choose, conv, conv_transpose, current
from convcalc.kernels.memory import Scratch
from convcalc.layers.base import REGISTRY
from convcalc.spec import spec_from_strings

FIXTURES = sorted((Path(__file__).parent.parent / "fixtures" / "conv").glob("*.npz"))
CONV_TYPES = [f"Conv{n}d" for n in (1, 2, 3)] + [f"ConvTranspose{n}d" for n in (1, 2, 3)]


def test_fixtures_cover_every_conv_type():
    names = {str(np.load(p)["call"]).split("(")[0] for p in FIXTURES}
    assert set(CONV_TYPES) <= names
    assert len(FIXTURES) >= 40


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
    np.testing.assert_allclose(got, y, rtol=1e-4, atol=1e-4 * scale(y))


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_tiny_budget_chunks_to_the_same_result(path):
    """A budget of a few bytes forces one item, then one output row, at a time."""
    layer, call, x, y, weights = load(path)
    whole = run(layer, x, weights, np.float64)
    chunked = run(layer, x, weights, np.float64, budget=16)
    np.testing.assert_allclose(chunked, whole, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_workspace_and_init_shapes(path):
    layer, call, x, y, weights = load(path)
    assert layer.workspace(x.shape, y.shape) >= 0
    params = layer.init(x.shape, np.random.default_rng(0))
    assert {k: v.shape for k, v in params.items()} == {k: v.shape for k, v in weights.items()}
    assert all(v.dtype == np.float64 for v in params.values())


@pytest.mark.parametrize(
    "call, shape",
    [
        ("Conv2d(3, 8, 3)", (1, 3, 5, 5)),
        ("Conv1d(4, 6, 5, groups=2)", (1, 4, 9)),
        ("ConvTranspose2d(4, 6, 3, groups=2)", (1, 4, 5, 5)),
        ("ConvTranspose3d(2, 4, (1, 2, 3))", (1, 2, 3, 3, 3)),
    ],
)
def test_init_follows_torch_default_bounds(call, shape):
    """weight and bias ~ U(-1/√fan_in, 1/√fan_in), fan_in = weight.size(1)·∏kernel."""
    layer = spec_from_strings([call], shape).layers[0].layer
    params = layer.init(shape, np.random.default_rng(1))
    fan_in = int(np.prod(params["weight"].shape[1:]))
    bound = 1 / np.sqrt(fan_in)
    for value in params.values():
        assert np.abs(value).max() <= bound
        assert np.abs(value).max() > 0.5 * bound


def test_registry_has_the_conv_kernels():
    for name in CONV_TYPES:
        assert "forward" in vars(REGISTRY[name].__mro__[1])


GROUPED = [
    p
    for p in FIXTURES
    if "groups=" in str(np.load(p)["call"]) and "Transpose" not in str(np.load(p)["call"])
]


def _in_run(config, layer, x, weights, dtype, budget=1 << 30):
    """The layer's kernel (see golden.run) inside a kernels run with ``config``."""
    with Run(config):
        return run(layer, x, weights, dtype, budget)


@pytest.mark.parametrize("path", GROUPED, ids=lambda p: p.stem)
@pytest.mark.parametrize("budget", [1 << 30, 64])
def test_grouped_direct_path_matches_torch(path, budget):
    """The fixtures' groups are narrow (C/g < 8, the column-matrix path): force the per-tap,
    groups-as-batch path on them too, whole and in tiny chunks."""
    layer, _, x, y, weights = load(path)
    np.testing.assert_allclose(
        _in_run(Config(grouped_direct_min=1), layer, x, weights, np.float64, budget),
        y,
        rtol=1e-9,
        atol=1e-12 * max(1.0, np.abs(y).max()),
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_depthwise_threads_do_not_change_the_result(workers):
    layer = (
        spec_from_strings(["Conv2d(6, 12, 3, padding=1, groups=6)"], (3, 6, 9, 7)).layers[0].layer
    )
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 6, 9, 7))
    weights = layer.init(x.shape, rng)
    expected = _in_run(Config(threads=1), layer, x, weights, np.float64)
    shared = Config(
        threads=workers,
        depthwise_block=7 * 9 * 8 * 2,  # a few planes per block
        depthwise_parallel_min=0,  # shared out however small
    )
    # gathered by flat shifts of the input; cropped from the input; or as flat runs
    for shifted, exact in ((True, 1), (False, 1), (False, 1 << 30)):
        config = replace(shared, shifted_depthwise=shifted, exact_min_width=exact)
        assert np.array_equal(_in_run(config, layer, x, weights, np.float64), expected)


@pytest.mark.parametrize("path", GROUPED, ids=lambda p: p.stem)
@pytest.mark.parametrize("direct", [1, 8])
@pytest.mark.parametrize("pointers", [0, 1 << 40], ids=["pointers", "matmul"])
@pytest.mark.parametrize("workers", [1, 2])
def test_grouped_on_worker_threads_matches_torch(path, direct, pointers, workers):
    """Grouped products run in pieces on worker threads, one BLAS thread each (when NumPy's
    OpenBLAS lets us set that): forced on and off, every path (per-tap products batched over
    the groups by matmul, or on pointers), the result is torch's, and the BLAS thread count is
    restored afterwards."""
    config = Config(threads=workers, grouped_direct_min=direct, grouped_pointer_min_length=pointers)
    found = blas.openblas()
    before = found.get_threads() if found else None
    layer, _, x, y, weights = load(path)
    for budget in (1 << 30, 64):
        np.testing.assert_allclose(
            _in_run(config, layer, x, weights, np.float64, budget),
            y,
            rtol=1e-9,
            atol=1e-12 * max(1.0, np.abs(y).max()),
        )
    if found:
        assert found.get_threads() == before


def test_blas_thread_control_is_found_or_absent():
    found = blas.openblas()
    assert found is None or found.get_threads() >= 1
    assert Run().workers.gemm_workers() >= 1
    core = blas.core()
    assert core is None or (found is not None and core.isprintable() and core.strip() == core)


@pytest.mark.parametrize("small", [False, True])
def test_small_products_run_on_one_blas_thread(small):
    """Run serially (one item), small products hold BLAS to one thread (splitting them costs
    more than it saves); others leave BLAS its threads. Restored afterwards either way."""
    found = blas.openblas()
    if found is None:
        pytest.skip("no OpenBLAS thread control in this NumPy")
    seen = []
    with Run(Config(threads=2)) as r:
        given = found.get_threads()  # 2, or fewer where OpenBLAS has fewer cores
        r.workers.map_gemm(lambda item: seen.append((item, found.get_threads())), ["only"], small)
        assert found.get_threads() == given
    assert seen == [("only", 1 if small else given)]


NOT_TRANSPOSED = [p for p in FIXTURES if "Transpose" not in str(np.load(p)["call"])]

# each forces one way of computing a (non-transposed) convolution on every fixture
# the paths below, tried on every fixture; all but the first keep to the others
_OFF = {"channels_last_max_positions": 0}
PATHS = {
    # the column matrix channels-last, one product per item and group (on any size)
    "channels-last columns": {
        "channels_last_max_positions": 1 << 30,
        "channels_last_min_channels": 1,
        "grouped_channels_last_max_positions": 1 << 30,
        "grouped_direct_min": 1,
    },
    # one BLAS product per tap straight on the flat image, accumulated in place (β = 1)
    "tap products": {**_OFF, "tap_gemm_min": 1, "tap_gemm_min_length": 1},
    # NumPy's matmul only: the column matrix (and the per-tap grouped products)
    "numpy only": {**_OFF, "direct_gemm": False},
    # no temporaries kept between calls
    "fresh scratch": {**_OFF, "scratch_keep": 0},
    # the column matrix gathered already cropped (the product written straight into y) ...
    "exact columns": {
        **_OFF,
        "exact_min_width": 1,
        "strided_depthwise_exact_min_width": 1,
        "shifted_depthwise": False,
    },
    # ... as on one thread for stride 1 with enough output channels (here: any)
    "exact columns on one thread": {**_OFF, "exact_min_channels": 1, "threads": 1},
    # ... or as flat runs, cropped afterwards
    "flat columns": {
        **_OFF,
        "exact_min_width": 1 << 30,
        "strided_depthwise_exact_min_width": 1 << 30,
        "strided_depthwise_exact_max_taps": 0,
        "shifted_depthwise": False,
    },
    # grouped convolution as per-tap products batched over blocks of groups: whole images
    # (with several items), or row ranges when a block is small
    "grouped products": {**_OFF, "grouped_direct_min": 1},
    "grouped products by rows": {**_OFF, "grouped_direct_min": 1, "grouped_block": 256},
    # the layout copy and the final crop split between the threads, even on small tensors
    "split copies": {**_OFF, "parallel_min": 1, "threads": 2},
    "split tap products": {
        **_OFF,
        "parallel_min": 1,
        "threads": 2,
        "tap_gemm_min": 1,
        "tap_gemm_min_length": 1,
    },
}


@pytest.mark.parametrize("path", NOT_TRANSPOSED, ids=lambda p: p.stem)
@pytest.mark.parametrize("kernel_path", sorted(PATHS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_every_kernel_path_matches_torch(path, kernel_path, dtype):
    config = Config(**PATHS[kernel_path])
    layer, _, x, y, weights = load(path)
    tol = 1e-9 if dtype == np.float64 else 1e-4
    for budget in (1 << 30, 64):
        got = _in_run(config, layer, x, weights, dtype, budget)
        assert got.dtype == dtype
        np.testing.assert_allclose(got, y, rtol=tol, atol=tol * 1e-3 * scale(y))


def test_tap_products_take_the_direct_blas_path_when_found():
    """The wide, large-image case really runs through cblas_?gemm (when NumPy ships OpenBLAS)."""
    layer = spec_from_strings(["Conv2d(16, 4, 3, padding=1)"], (1, 16, 40, 40)).layers[0].layer
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 16, 40, 40))
    weights = layer.init(x.shape, rng)
    has_gemm = blas.gemm(np.dtype(np.float64)) is not None
    case = Case(
        (1, 16, 40, 40), (4, 16, 3, 3), 1, (1, 1), (1, 1), ((1, 1), (1, 1)), 8, blas=has_gemm
    )
    assert (choose(case, Config()) == "tap-gemm") == has_gemm
    got = _in_run(Config(), layer, x, weights, np.float64)
    expected = _in_run(Config(direct_gemm=False), layer, x, weights, np.float64)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_scratch_is_reused_per_purpose_and_never_aliases():
    kept = Scratch(16 << 20)
    a = kept.get("test a", (4, 5), np.float32)
    b = kept.get("test b", (4, 5), np.float32)
    assert not np.shares_memory(a, b)
    again = kept.get("test a", (2, 3), np.float64)
    assert np.shares_memory(a, again) and again.shape == (2, 3) and again.dtype == np.float64
    bigger = kept.get("test a", (100, 100), np.float64)
    assert bigger.shape == (100, 100) and bigger.flags.c_contiguous
    kept.release()
    assert kept.held() == 0
    assert not np.shares_memory(kept.get("test a", (2, 3), np.float64), bigger)
    # over the limit: a fresh array each time, nothing kept
    assert not np.shares_memory(Scratch(10).get("x", (4,), np.float32), a)
    none = Scratch(10)
    none.get("x", (4,), np.float32)
    assert none.held() == 0


def test_threads_limits_ours_and_blas_and_restores_both():
    layer = spec_from_strings(["Conv2d(4, 6, 3, groups=2)"], (3, 4, 9, 9)).layers[0].layer
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 4, 9, 9))
    weights = layer.init(x.shape, rng)
    expected = run(layer, x, weights, np.float64)
    found = blas.openblas()
    before = found.get_threads() if found else None
    with Run(Config(threads=1)) as r:
        assert r.config.workers == 1 and r.workers.gemm_workers() == 1
        if found:
            assert found.get_threads() == 1
        np.testing.assert_allclose(run(layer, x, weights, np.float64), expected, rtol=1e-12)
    assert (found.get_threads() if found else None) == before
    assert current().config == Config()


@pytest.mark.parametrize(
    "call, shape",
    [
        ("Conv2d(6, 4, 1, padding=1)", (1, 6, 5, 4)),
        ("Conv1d(4, 8, 1)", (1, 4, 7)),
        ("Conv3d(3, 5, 1)", (1, 3, 2, 3, 4)),
        ("Conv2d(6, 4, 1, groups=2, padding=1)", (3, 6, 5, 4)),  # NumPy's batched matmul
        ("Conv1d(4, 8, 1, groups=4)", (2, 4, 7)),
    ],
)
def test_pointwise_bias_through_blas_equals_numpy(call, shape):
    """Pointwise with a bias, one item and one group: BLAS adds the product to the bias written
    first (β = 1); otherwise NumPy's batched matmul, then the bias."""
    layer = spec_from_strings([call], shape).layers[0].layer
    rng = np.random.default_rng(4)
    x = rng.standard_normal(shape)
    weights = layer.init(x.shape, rng)
    direct = run(layer, x, weights, np.float64)
    reference = _in_run(Config(direct_gemm=False), layer, x, weights, np.float64)
    np.testing.assert_allclose(direct, reference, rtol=1e-12, atol=1e-12)
    single = run(layer, x, weights, np.float32)
    np.testing.assert_allclose(single, reference, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("groups", [1, 2], ids=["dense", "depthwise"])
def test_an_input_larger_than_the_budget_stays_within_it(workers, stride, groups):
    """An input whose flat copy (or one depthwise plane whose gathered taps) alone exceeds
    the budget is computed in slabs of output rows: the temporaries (traced beyond the
    output) stay under the budget, and the result is the unchunked one."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, 512, 384)).astype(np.float32)
    w = rng.standard_normal((4, 2 // groups, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    args = (x, w, b, (stride, stride), (1, 1), groups)
    config = Config(threads=workers)
    with Run(config):
        expected = conv(*args, 1 << 30, [(1, 1), (1, 1)])
    budget = 1 << 20  # the padded input takes 1.5 MiB; a plane's 10 gathered taps 7.5 MiB
    got, held = temporaries(lambda: conv(*args, budget, [(1, 1), (1, 1)]), config)
    assert held <= budget
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("stride", [1, 2])
def test_a_transposed_convolution_larger_than_the_budget_stays_within_it(workers, stride):
    """A transposed convolution whose accumulator (about the output's size) exceeds the
    budget runs in slabs of input rows added into the output: the temporaries stay under the
    budget, and the result is the unchunked one (output padding and groups included)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 4, 256, 192)).astype(np.float32)
    w = rng.standard_normal((4, 2, 4, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    args = (x, w, b, (stride, stride), (1, 1), (stride - 1, 0), (1, 1), 2)
    config = Config(threads=workers)
    with Run(config):
        expected = conv_transpose(*args, 1 << 30)
    budget = 1 << 20  # the output takes 0.75 MiB at stride 1, 3 MiB at stride 2
    got, held = temporaries(lambda: conv_transpose(*args, budget), config)
    assert held <= budget
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
