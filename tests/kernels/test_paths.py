"""Every path of the convolution against the plain reference (kernels/reference.py): each
case is first checked to take its path (through the pure choice, with the settings given),
then computed in float64 and float32, with and without a bias."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from convcalc.kernels import Config, Run, conv, conv_transpose, pad, padded_rows, path_of
from convcalc.kernels.choose import choose_transposed
from convcalc.kernels.reference import conv_reference, conv_transpose_reference
from convcalc.kernels.transposed import in_slabs

ONE, TWO = Config(threads=1), Config(threads=2)
NO_BLAS = Config(threads=2, direct_gemm=False)
SMALL_BLOCKS = Config(threads=2, depthwise_block=512, depthwise_parallel_min=0, grouped_block=256)


def P(*pairs: int) -> list[tuple[int, int]]:
    """(before, after) pairs from a flat list."""
    return [(pairs[i], pairs[i + 1]) for i in range(0, len(pairs), 2)]


# path → cases: (x shape, weight shape, groups, stride, dilation, pads, config, budget)
CASES: dict[str, list[tuple[Any, ...]]] = {
    "pointwise": [
        ((2, 6, 5, 7), (4, 6, 1, 1), 1, (1, 1), (1, 1), P(0, 0, 0, 0), TWO, 1 << 30),
        ((3, 6, 9), (6, 2, 1), 3, (1,), (1,), P(0, 0), TWO, 1 << 30),
        ((1, 4, 3, 3), (5, 4, 1, 1), 1, (1, 1), (1, 1), P(1, 1, 0, 2), NO_BLAS, 1 << 30),
    ],
    "pointwise-blas": [
        ((1, 6, 5, 7), (4, 6, 1, 1), 1, (1, 1), (1, 1), P(0, 0, 0, 0), TWO, 1 << 30),
        ((1, 3, 2, 3, 4), (5, 3, 1, 1, 1), 1, (1, 1, 1), (1, 1, 1), P(1, 0, 0, 0, 0, 1), TWO, 1 << 30),
    ],
    "depthwise-slabs": [
        ((2, 3, 17, 20), (3, 1, 1, 3), 3, (3, 3), (2, 1), P(2, 2, 1, 1), TWO, 1),
        ((1, 2, 9, 8), (4, 1, 3, 3), 2, (1, 1), (1, 1), P(1, 1, 1, 1), ONE, 100),
    ],
    "depthwise-shifted": [
        ((2, 4, 7, 9), (4, 1, 3, 3), 4, (1, 1), (1, 1), P(1, 1, 1, 1), SMALL_BLOCKS, 1 << 30),
        ((1, 3, 6, 5), (6, 1, 2, 4), 3, (1, 1), (2, 1), P(1, 1, 1, 2), TWO, 1 << 30),
        ((2, 3, 11), (3, 1, 5), 3, (1,), (1,), P(2, 2), ONE, 1 << 30),
        ((1, 2, 3, 4, 5), (2, 1, 3, 3, 3), 2, (1, 1, 1), (1, 1, 1), P(1, 1, 1, 1, 1, 1), TWO, 1 << 30),
    ],
    "depthwise-exact": [
        ((1, 4, 8, 40), (4, 1, 3, 3), 4, (1, 1), (1, 1), P(1, 1, 1, 1), Config(threads=2, shifted_depthwise=False), 1 << 30),
        ((2, 3, 9, 37), (6, 1, 3, 2), 3, (2, 1), (1, 2), P(0, 1, 2, 0), SMALL_BLOCKS, 1 << 30),
        ((2, 6, 13), (6, 1, 3), 6, (2,), (2,), P(1, 2), TWO, 1 << 30),
        ((1, 3, 9, 11), (3, 1, 3, 3), 3, (2, 2), (1, 1), P(1, 1, 1, 1), Config(threads=2, strided_depthwise_exact_min_width=1), 1 << 30),
    ],
    "depthwise-same-width": [
        ((2, 4, 7, 9), (4, 1, 3, 3), 4, (1, 1), (1, 1), P(0, 0, 1, 1), TWO, 1 << 30),
        ((1, 3, 6, 7), (6, 1, 2, 5), 3, (1, 1), (1, 1), P(0, 1, 2, 2), Config(threads=2, shifted_depthwise=False), 1 << 30),
    ],
    "depthwise-phases": [
        ((2, 4, 9, 9), (4, 1, 3, 3), 4, (2, 2), (1, 1), P(1, 1, 1, 1), Config(threads=2, depthwise_block=512), 1 << 30),
        ((1, 3, 11, 10), (6, 1, 5, 3), 3, (3, 2), (1, 2), P(2, 1, 0, 3), TWO, 1 << 30),
        ((1, 4, 9, 9), (4, 1, 3, 3), 4, (1, 1), (2, 2), P(1, 1, 1, 1), TWO, 1 << 30),
        ((1, 2, 5, 6, 7), (2, 1, 3, 3, 3), 2, (2, 1, 2), (1, 1, 1), P(1, 1, 0, 0, 1, 1), TWO, 1 << 30),
    ],
    "slabs": [
        ((2, 3, 17, 11), (4, 3, 3, 3), 1, (1, 1), (1, 1), P(1, 1, 1, 1), TWO, 1000),
        ((1, 4, 13, 9), (6, 2, 3, 2), 2, (2, 1), (2, 1), P(2, 0, 1, 1), ONE, 500),
        ((1, 2, 9, 5, 4), (3, 2, 3, 3, 3), 1, (1, 2, 1), (1, 1, 2), P(1, 1, 1, 1, 2, 2), TWO, 800),
    ],
    "channels-last": [
        ((2, 16, 7, 7), (8, 16, 3, 3), 1, (1, 1), (1, 1), P(1, 1, 1, 1), TWO, 1 << 30),
        ((1, 32, 9, 9), (16, 32, 3, 3), 1, (2, 2), (1, 1), P(0, 1, 1, 0), ONE, 1 << 30),
        ((3, 32, 6, 6), (32, 8, 3, 3), 4, (1, 1), (1, 1), P(1, 1, 1, 1), TWO, 1 << 30),
        ((1, 16, 5, 6, 4), (4, 16, 2, 3, 2), 1, (1, 1, 1), (2, 1, 1), P(1, 0, 1, 1, 0, 1), TWO, 1 << 30),
    ],
    "tap-gemm": [
        ((1, 16, 40, 40), (4, 16, 3, 3), 1, (1, 1), (1, 1), P(1, 1, 1, 1), TWO, 1 << 30),
        ((3, 16, 65, 35), (5, 16, 3, 2), 1, (2, 1), (1, 2), P(2, 1, 0, 3), TWO, 1 << 30),
        ((2, 16, 31, 37), (7, 16, 3, 3), 1, (1, 1), (1, 1), P(1, 1, 1, 1), ONE, 800_000),
    ],
    "grouped": [
        ((2, 32, 16, 15), (16, 8, 3, 3), 4, (1, 1), (1, 1), P(1, 1, 1, 1), TWO, 1 << 30),
        ((1, 16, 13, 11), (16, 8, 3, 2), 2, (2, 1), (1, 2), P(1, 0, 2, 1), SMALL_BLOCKS, 1 << 30),
        ((2, 32, 16, 15), (16, 8, 3, 3), 4, (1, 1), (1, 1), P(1, 1, 1, 1), NO_BLAS, 1 << 30),
    ],
    "grouped-blas": [
        ((2, 32, 48, 47), (16, 8, 3, 3), 4, (1, 1), (1, 1), P(1, 1, 1, 1), TWO, 1 << 30),
        ((1, 16, 50, 45), (8, 8, 3, 3), 2, (1, 1), (2, 1), P(2, 2, 1, 1), SMALL_BLOCKS, 1 << 30),
    ],
    "columns-input": [
        ((1, 4, 50), (8, 4, 3), 1, (1,), (1,), P(1, 1), TWO, 1 << 30),
        ((2, 3, 9, 40), (5, 3, 3, 3), 1, (1, 1), (1, 2), P(1, 1, 2, 2), TWO, 1 << 30),
        ((1, 8, 11, 12), (256, 8, 3, 3), 1, (1, 1), (1, 1), P(1, 1, 1, 1), ONE, 1 << 30),
        ((2, 4, 9, 33), (6, 2, 3, 3), 2, (1, 1), (1, 1), P(1, 1, 1, 1), TWO, 60_000),
        # more taps than positions: gathered window by window (padding, stride, dilation,
        # depthwise and grouped, a budget of one row)
        ((1, 2, 40, 38), (2, 1, 35, 33), 2, (1, 1), (1, 1), P(0, 0, 0, 0), ONE, 1 << 30),
        ((2, 4, 36, 37), (4, 2, 33, 32), 2, (2, 3), (1, 1), P(3, 1, 0, 2), TWO, 1 << 30),
        ((1, 2, 12, 300), (3, 2, 5, 250), 1, (1, 4), (2, 1), P(2, 2, 0, 0), ONE, 9000),
        ((1, 1, 1030), (2, 1, 1025), 1, (2,), (1,), P(3, 4), ONE, 1 << 30),
        ((1, 2, 12, 11, 13), (2, 1, 11, 10, 12), 2, (1, 1, 1), (1, 1, 1), P(1, 0, 0, 1, 2, 0), TWO, 1 << 30),
    ],
    "columns-cropped": [
        ((1, 3, 64, 70), (8, 3, 7, 7), 1, (2, 2), (1, 1), P(3, 3, 3, 3), TWO, 1 << 30),
        ((2, 4, 9, 70), (6, 2, 3, 3), 2, (1, 2), (2, 1), P(1, 0, 1, 1), TWO, 1 << 30),
    ],
    "columns-flat": [
        ((2, 8, 20, 20), (8, 8, 3, 3), 1, (1, 1), (1, 1), P(1, 1, 1, 1), TWO, 1 << 30),
        ((1, 8, 20, 19), (8, 2, 3, 3), 4, (2, 2), (2, 1), P(1, 2, 0, 1), TWO, 1 << 30),
        ((1, 4, 6, 6, 6), (8, 4, 3, 3, 3), 1, (2, 2, 2), (1, 1, 1), P(1, 1, 1, 1, 1, 1), TWO, 1 << 30),
        ((2, 8, 20, 20), (8, 8, 3, 3), 1, (1, 1), (1, 1), P(1, 1, 1, 1), Config(threads=2, parallel_min=1), 140_000),
    ],
}  # fmt: skip


def _draw(x_shape, w_shape, dtype, bias, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype) if bias else None
    return x, w, b


ROWS = [(path, i, case) for path, cases in CASES.items() for i, case in enumerate(cases)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no bias"])
@pytest.mark.parametrize("path, i, case", ROWS, ids=[f"{p}-{i}" for p, i, _ in ROWS])
def test_every_path_agrees_with_the_reference(path, i, case, bias, dtype):
    x_shape, w_shape, groups, stride, dilation, pads, config, budget = case
    x, w, b = _draw(x_shape, w_shape, dtype, bias, i)
    with Run(config):
        chosen = path_of(x, w, b, stride, dilation, groups, budget, pads)
        # pointwise-blas needs a bias (and OpenBLAS); without, it is plain pointwise
        if not (path == "pointwise-blas" and chosen == "pointwise"):
            assert chosen == path
        got = conv(x, w, b, stride, dilation, groups, budget, pads)
    expected = conv_reference(x, w, b, stride, dilation, groups, pads)
    assert got.dtype == dtype and got.shape == expected.shape
    tol = 1e-10 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * max(1.0, np.abs(expected).max()))


def test_the_table_has_every_path():
    from typing import get_args

    from convcalc.kernels.choose import Path

    assert set(CASES) == set(get_args(Path))


@pytest.mark.parametrize("path", sorted(CASES))
def test_a_path_forced_by_name_is_the_path_chosen(path):
    """``conv(..., path=...)`` runs the named path: on a case that chooses it, the same bits."""
    x_shape, w_shape, groups, stride, dilation, pads, config, budget = CASES[path][0]
    x, w, b = _draw(x_shape, w_shape, np.float64, True, 0)
    with Run(config):
        chosen = conv(x, w, b, stride, dilation, groups, budget, pads)
        forced = conv(
            x,
            w,
            b,
            stride,
            dilation,
            groups,
            budget,
            pads,
            path=path_of(x, w, b, stride, dilation, groups, budget, pads),
        )
    assert np.array_equal(chosen, forced)


# (x shape, weight shape, groups, stride, padding, output padding, dilation, budget)
TRANSPOSED = [
    ((2, 4, 5, 6), (4, 3, 3, 3), 1, (2, 2), (1, 1), (1, 0), (1, 1), 1 << 30),
    ((1, 4, 7, 5), (4, 2, 4, 3), 2, (1, 2), (2, 0), (0, 1), (2, 1), 1 << 30),
    ((2, 3, 9), (3, 2, 5), 1, (3,), (2,), (2,), (1,), 1 << 30),
    ((1, 4, 3, 4, 3), (4, 1, 3, 2, 2), 4, (2, 1, 2), (1, 0, 1), (1, 0, 0), (1, 1, 1), 1 << 30),
    ((2, 4, 9, 7), (4, 3, 3, 3), 2, (2, 2), (1, 1), (1, 0), (1, 1), 300),
    ((1, 2, 11, 6), (2, 2, 4, 3), 1, (3, 1), (2, 1), (2, 0), (1, 2), 1),
    # added straight into the output: more stride phases than taps, a kernel whose footprints
    # of one input row pass the budget (tap by tap, or pixel by pixel when there are fewer
    # pixels than taps)
    ((2, 3, 4), (3, 2, 1), 1, (70,), (3,), (5,), (1,), 1 << 30),
    ((1, 4, 3, 2), (4, 3, 2, 3), 2, (30, 20), (3, 1), (0, 7), (1, 1), 1 << 30),
    ((1, 2, 2, 3, 2), (2, 2, 2, 1, 3), 1, (4, 5, 6), (1, 0, 2), (1, 0, 3), (2, 1, 1), 1 << 30),
    ((1, 4, 2, 2), (4, 2, 9, 7), 2, (1, 1), (1, 2), (0, 0), (1, 1), 1000),
    ((2, 4, 3, 2), (4, 1, 6, 5), 4, (2, 3), (2, 1), (1, 2), (2, 1), 1000),
    ((1, 1, 2, 2), (1, 1, 31, 30), 1, (1, 1), (0, 5), (0, 0), (1, 1), 1),
    ((2, 3, 9, 8), (3, 2, 3, 2), 1, (2, 1), (1, 0), (1, 0), (3, 2), 200),
]  # fmt: skip


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", TRANSPOSED)
def test_the_transposed_convolution_agrees_with_the_reference(case, dtype):
    x_shape, w_shape, groups, stride, padding, extra, dilation, budget = case
    rng = np.random.default_rng(len(x_shape) + budget % 7)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[1] * groups).astype(dtype)
    args = (stride, padding, extra, dilation, groups)
    scatter = choose_transposed(x.shape, w.shape, stride, dilation, groups, x.itemsize, budget)
    assert (scatter == "scatter") == (TRANSPOSED.index(case) >= 6 or budget < 1000)
    slabs = in_slabs(x.shape, w.shape, *args, x.itemsize, budget)
    assert slabs == (budget < 1000) or TRANSPOSED.index(case) >= 6
    with Run(TWO):
        got = conv_transpose(x, w, b, *args, budget)
    expected = conv_transpose_reference(x, w, b, *args)
    tol = 1e-10 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * max(1.0, np.abs(expected).max()))


# windows that read padding alone, and strides past the window's span (x shape, weight shape,
# groups, stride, dilation, pads)
SPARSE = [
    ((1, 1, 1, 1), (1, 1, 7, 7), 1, (3, 3), (1, 1), P(20, 20, 20, 20)),
    ((2, 3, 4, 5), (4, 3, 3, 2), 1, (2, 5), (2, 1), P(9, 7, 3, 11)),
    ((1, 4, 3, 3), (4, 1, 5, 5), 4, (4, 4), (1, 1), P(10, 3, 1, 12)),
    ((2, 4, 6), (6, 2, 3), 2, (7,), (1,), P(15, 14)),
    ((1, 2, 3, 4, 3), (2, 2, 2, 3, 2), 1, (3, 2, 4), (1, 2, 1), P(6, 5, 4, 4, 9, 2)),
    ((1, 1, 5, 5), (1, 1, 3, 3), 1, (9, 9), (1, 1), P(2, 10, 0, 20)),
    ((1, 3, 30, 31), (4, 3, 2, 1), 1, (7, 11), (2, 1), P(0, 0, 1, 0)),
    ((2, 2, 40), (2, 2, 1), 1, (13,), (1,), P(0, 0)),
    ((1, 2, 9, 10), (4, 1, 1, 1), 2, (4, 4), (1, 1), P(0, 0, 0, 0)),
    ((1, 1, 1, 1), (2, 1, 50, 40), 1, (25, 20), (1, 1), P(500, 500, 400, 400)),
]  # fmt: skip


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("budget", [1 << 30, 3000])
@pytest.mark.parametrize("case", SPARSE)
def test_windows_in_the_padding_and_gaps_between_windows_are_the_reference(case, budget, dtype):
    """The live part computed alone (the rest the bias), the input taken as its windows."""
    x_shape, w_shape, groups, stride, dilation, pads = case
    x, w, b = _draw(x_shape, w_shape, dtype, True, 3)
    with Run(ONE):
        got = conv(x, w, b, stride, dilation, groups, budget, pads)
    expected = conv_reference(x, w, b, stride, dilation, groups, pads)
    tol = 1e-10 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * max(1.0, np.abs(expected).max()))


@pytest.mark.parametrize("mode", ["zeros", "constant", "reflect", "replicate", "circular"])
def test_padding_modes_agree_with_torch(mode):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 6, 5))
    pads = [(2, 1), (1, 3)]
    value = 0.5 if mode == "constant" else 0.0
    torch_mode = "constant" if mode == "zeros" else mode
    flat = (1, 3, 2, 1)  # torch lists the last axis first
    kw = {"value": value} if torch_mode == "constant" else {}
    expected = torch.nn.functional.pad(torch.from_numpy(x), flat, mode=torch_mode, **kw).numpy()
    np.testing.assert_array_equal(pad(x, pads, mode, value), expected)
    # negative pairs crop
    np.testing.assert_array_equal(pad(x, [(-1, 0), (0, -2)]), x[:, :, 1:, :3])
    if mode in ("reflect", "replicate", "circular"):
        # a slab of padded rows gathered from the rows it takes: the same rows of the padded
        for first, stop in itertools.combinations(range(x.shape[2] + 3 + 1), 2):
            slab = padded_rows(x, 2, first, stop, 2, mode)
            np.testing.assert_array_equal(slab, pad(x, [(2, 1), (0, 0)], mode)[:, :, first:stop])


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_a_mode_padded_convolution_is_the_reference_on_the_padded_input(mode):
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((1, 4, 7, 6)), rng.standard_normal((6, 2, 3, 3))
    padded = pad(x, [(2, 2), (1, 1)], mode)
    with Run(TWO):
        got = conv(padded, w, None, (2, 1), (1, 2), 2, 1 << 30)
    expected = conv_reference(padded, w, None, (2, 1), (1, 2), 2, [(0, 0), (0, 0)])
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)
