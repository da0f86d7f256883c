"""The plain reference convolution (convcalc/kernels/reference.py) against torch's."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from convcalc.kernels.reference import conv_reference, conv_transpose_reference

# (x shape, weight shape, groups, stride, dilation, padding per axis (torch's: symmetric))
CONV = [
    ((1, 1, 5, 5), (1, 1, 2, 2), 1, (1, 1), (1, 1), (0, 0)),
    ((1, 1, 5, 5), (1, 1, 3, 3), 1, (2, 2), (1, 1), (2, 2)),
    ((2, 3, 7, 9), (4, 3, 3, 2), 1, (2, 1), (1, 2), (1, 0)),
    ((2, 4, 8, 8), (6, 2, 3, 3), 2, (1, 1), (2, 2), (2, 1)),
    ((1, 6, 11, 6), (12, 1, 5, 3), 6, (3, 2), (1, 1), (2, 1)),
    ((3, 2, 13), (5, 2, 4), 1, (2,), (3,), (4,)),
    ((2, 4, 10), (4, 1, 3), 4, (1,), (1,), (1,)),
    ((1, 4, 5, 6, 7), (6, 2, 3, 2, 3), 2, (1, 2, 1), (2, 1, 1), (1, 0, 2)),
    ((1, 3, 4, 4, 4), (2, 3, 1, 1, 1), 1, (1, 1, 1), (1, 1, 1), (0, 0, 0)),
]

# (x shape, weight shape, groups, stride, padding, output padding, dilation)
TRANSPOSED = [
    ((1, 2, 4, 4), (2, 3, 3, 3), 1, (2, 2), (1, 1), (1, 1), (1, 1)),
    ((2, 4, 5, 3), (4, 2, 2, 3), 2, (1, 2), (0, 1), (0, 1), (2, 1)),
    ((1, 3, 7), (3, 2, 4), 1, (3,), (2,), (2,), (1,)),
    ((1, 4, 3, 2, 3), (4, 1, 2, 3, 2), 4, (2, 1, 2), (1, 0, 0), (1, 0, 1), (1, 2, 1)),
]


@pytest.fixture(scope="module")
def torch() -> Any:
    return pytest.importorskip("torch")


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("x_shape, w_shape, groups, stride, dilation, padding", CONV)
def test_reference_convolution_is_torchs(
    torch, x_shape, w_shape, groups, stride, dilation, padding, bias
):
    rng = np.random.default_rng(len(x_shape) * 7 + sum(w_shape))
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0]) if bias else None
    fn = getattr(torch.nn.functional, f"conv{len(x_shape) - 2}d")
    tb = None if b is None else torch.from_numpy(b)
    expected = fn(torch.from_numpy(x), torch.from_numpy(w), tb, stride, padding, dilation, groups)
    got = conv_reference(x, w, b, stride, dilation, groups, [(p, p) for p in padding])
    assert got.dtype == np.float64 and got.shape == tuple(expected.shape)
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-12, atol=1e-12)
    single = conv_reference(
        x.astype(np.float32),
        w.astype(np.float32),
        b,
        stride,
        dilation,
        groups,
        [(p, p) for p in padding],
    )
    assert single.dtype == np.float32
    np.testing.assert_allclose(single, expected.numpy(), rtol=1e-5, atol=1e-5)


def test_reference_convolution_pads_each_side_its_own(torch):
    """Uneven padding, as 'same' padding of an even kernel needs: torch pads first."""
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((1, 2, 6, 5)), rng.standard_normal((3, 2, 2, 4))
    padded = torch.nn.functional.pad(torch.from_numpy(x), (1, 2, 0, 1))
    expected = torch.nn.functional.conv2d(padded, torch.from_numpy(w))
    got = conv_reference(x, w, None, (1, 1), (1, 1), 1, [(0, 1), (1, 2)])
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("x_shape, w_shape, groups, stride, padding, extra, dilation", TRANSPOSED)
def test_reference_transposed_convolution_is_torchs(
    torch, x_shape, w_shape, groups, stride, padding, extra, dilation
):
    rng = np.random.default_rng(sum(x_shape))
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[1] * groups)
    fn = getattr(torch.nn.functional, f"conv_transpose{len(x_shape) - 2}d")
    expected = fn(*map(torch.from_numpy, (x, w, b)), stride, padding, extra, groups, dilation)
    got = conv_transpose_reference(x, w, b, stride, padding, extra, dilation, groups)
    assert got.shape == tuple(expected.shape)
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-12, atol=1e-12)
