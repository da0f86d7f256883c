"""Upsample and adaptive pooling computed a block of the output at a time: against torch on
a table of cases (every mode, ranks 1-3, align_corners both ways, scale_factor and size,
up and down, odd sizes) in float32 and float64, and the blocked result equal bit for bit to
the one computed whole, whatever the budget."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from convcalc.layers import REGISTRY
from convcalc.spec import parse_call

torch = pytest.importorskip("torch")

WHOLE = 1 << 40  # a budget that never splits

UPSAMPLE = [
    # (call, input shape)
    ("Upsample(scale_factor=2)", (2, 3, 7)),
    ("Upsample(size=13)", (1, 2, 5)),
    ("Upsample(scale_factor=0.29)", (1, 1, 100)),
    ("Upsample(scale_factor=1.7, mode='nearest-exact')", (2, 2, 9)),
    ("Upsample(size=4, mode='nearest-exact')", (1, 3, 11)),
    ("Upsample(scale_factor=2.5, mode='linear')", (2, 4, 7)),
    ("Upsample(size=(23,), mode='linear', align_corners=True)", (1, 3, 6)),
    ("Upsample(size=5, mode='linear')", (1, 2, 17)),
    ("Upsample(size=9, mode='linear')", (1, 2, 9)),
    ("Upsample(scale_factor=0.3, mode='linear', align_corners=True)", (2, 1, 31)),
    ("Upsample(size=17, mode='area')", (1, 2, 5)),
    ("Upsample(size=3, mode='area')", (2, 2, 23)),
    ("Upsample(scale_factor=2)", (2, 3, 5, 7)),
    ("Upsample(size=(9, 4))", (1, 2, 6, 7)),
    ("Upsample(scale_factor=(1.5, 0.5), mode='nearest-exact')", (1, 2, 7, 9)),
    ("Upsample(scale_factor=1.5, mode='bilinear')", (2, 3, 5, 7)),
    ("Upsample(scale_factor=1.5, mode='bilinear', align_corners=True)", (2, 3, 5, 7)),
    ("Upsample(size=(3, 11), mode='bilinear')", (1, 2, 8, 5)),
    ("Upsample(scale_factor=(2, 3), mode='bicubic')", (1, 2, 4, 5)),
    ("Upsample(size=(13, 6), mode='bicubic', align_corners=True)", (2, 1, 7, 9)),
    ("Upsample(scale_factor=0.4, mode='bicubic')", (1, 2, 11, 13)),
    ("Upsample(size=(7, 4), mode='area')", (1, 2, 5, 9)),
    ("Upsample(scale_factor=2, mode='trilinear')", (1, 2, 3, 4, 5)),
    ("Upsample(size=(5, 2, 7), mode='trilinear', align_corners=True)", (1, 1, 3, 6, 4)),
    ("Upsample(scale_factor=(1, 2, 0.5), mode='nearest')", (1, 2, 3, 4, 5)),
    ("Upsample(size=(4, 3, 5), mode='nearest-exact')", (2, 1, 3, 7, 2)),
    ("Upsample(size=(2, 5, 3), mode='area')", (1, 2, 5, 3, 7)),
    ("Upsample(scale_factor=2.5, mode='trilinear', recompute_scale_factor=True)", (1, 1, 3, 2, 3)),
    ("UpsamplingNearest2d(scale_factor=3)", (1, 3, 4, 5)),
    ("UpsamplingNearest2d(size=(5, 6))", (2, 1, 4, 4)),
    ("UpsamplingBilinear2d(scale_factor=2)", (1, 3, 4, 5)),
    ("UpsamplingBilinear2d(size=7)", (2, 1, 4, 5)),
]

ADAPTIVE = [
    ("AdaptiveAvgPool1d(5)", (2, 3, 17)),
    ("AdaptiveMaxPool1d(23)", (1, 2, 7)),
    ("AdaptiveAvgPool1d(40)", (1, 2, 9)),
    ("AdaptiveAvgPool2d((5, 23))", (2, 2, 11, 7)),
    ("AdaptiveMaxPool2d((3, None))", (1, 3, 10, 6)),
    ("AdaptiveAvgPool2d(20)", (1, 1, 8, 8)),
    ("AdaptiveMaxPool2d(20)", (1, 2, 8, 3)),
    ("AdaptiveAvgPool2d((2, 30))", (1, 2, 9, 4)),
    ("AdaptiveAvgPool2d((17, 4))", (2, 1, 5, 12)),
    ("AdaptiveMaxPool2d((4, 17))", (3, 6, 9)),
    ("AdaptiveAvgPool3d((3, 5, 7))", (1, 2, 6, 4, 9)),
    ("AdaptiveMaxPool3d((2, None, 9))", (1, 1, 5, 3, 4)),
    ("AdaptiveAvgPool3d(6)", (2, 1, 4, 3, 2)),
]


def _layer(call: str) -> Any:
    name, args, kwargs = parse_call(call)
    return REGISTRY[name].build(args, kwargs)


def _torch(call: str, x: np.ndarray) -> np.ndarray:
    module = eval("torch.nn." + call, {"torch": torch})  # the table's own calls
    out = module(torch.from_numpy(x))
    return (out[0] if isinstance(out, tuple) else out).numpy()


def _product(layer: Any, x: tuple[int, ...]) -> bool:
    """An adaptive mean of few bins (16 or fewer, and not a copy) along some axis: computed
    whole, it is one product with a matrix of means, whose rounding may differ from the
    sums that blocks make (both agree with torch)."""
    if not layer.type_name.startswith("AdaptiveAvg"):
        return False
    y = layer.out_shape(x)
    return any(o <= 16 and o != n for n, o in zip(x[-layer.nd :], y[-layer.nd :]))


@pytest.mark.parametrize(("call", "shape"), UPSAMPLE + ADAPTIVE)
def test_blocks_agree_with_torch_and_with_the_whole(call: str, shape: tuple[int, ...]) -> None:
    layer = _layer(call)
    rng = np.random.default_rng(len(call) * 31 + len(shape))
    for dtype, tol in ((np.float64, 1e-12), (np.float32, 2e-6)):
        x = rng.standard_normal(shape).astype(dtype)
        ref = _torch(call, x)
        whole = layer.forward(x, {}, WHOLE)
        assert whole.dtype == dtype and whole.shape == ref.shape
        np.testing.assert_allclose(whole, ref, rtol=tol, atol=tol)
        # one output element per block, then larger blocks (one block: as whole)
        single = layer.forward(x, {}, 1)
        np.testing.assert_allclose(single, ref, rtol=tol, atol=tol)
        product = _product(layer, shape)
        for budget in (300, 5000):
            got = layer.forward(x, {}, budget).tobytes()
            assert got == single.tobytes() or (product and got == whole.tobytes()), budget
        if not product:
            assert whole.tobytes() == single.tobytes(), (call, dtype)


def test_blocks_split_every_kind_of_axis() -> None:
    """A tiny budget cuts items, channels and each spatial axis (every block is one output
    element), a middle one cuts a spatial axis into ranges, a large one none."""
    from convcalc.layers.tiles import tiles as _blocks

    cost = lambda b: int(np.prod(b)) * 10  # noqa: E731
    shape = (2, 3, 4)
    assert len(list(_blocks(shape, cost, 1))) == 24
    ranges = list(_blocks(shape, cost, 25))
    assert ranges[:3] == [(slice(0, 1), slice(0, 1), slice(0, 2)), (slice(0, 1), slice(0, 1), slice(2, 4)), (slice(0, 1), slice(1, 2), slice(0, 2))]  # fmt: skip
    assert list(_blocks(shape, cost, 240)) == [(slice(0, 2), slice(0, 3), slice(0, 4))]
    covered = np.zeros(shape, dtype=int)
    for block in _blocks(shape, cost, 70):
        covered[block] += 1
    assert (covered == 1).all()


@pytest.mark.parametrize(
    ("n_in", "n_out"), list(itertools.product([1, 2, 3, 5, 7, 12, 30, 31], [1, 2, 3, 4, 7, 9, 64]))
)
def test_longest_bin_formula(n_in: int, n_out: int) -> None:
    from convcalc.layers.resize import _longest_bin

    lengths = [-(-(i + 1) * n_in // n_out) - i * n_in // n_out for i in range(n_out)]
    assert _longest_bin(n_in, n_out) == max(lengths)
