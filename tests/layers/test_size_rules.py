"""The integer size rules against tables of cases computed by PyTorch 2.13 (F.conv1d, F.conv_transpose1d, F.max_pool1d)."""

import pytest

from convcalc.shape import (
    adaptive_bins,
    conv_out,
    conv_transpose_out,
    fmt_shape,
    pool_out,
    same_padding,
)

# (in, kernel, stride, padding, dilation) → torch's output size; None: torch raises
CONV = [
    (5, 2, 1, 0, 1, 4), (5, 3, 2, 1, 1, 3), (5, 2, 2, 1, 1, 3), (7, 3, 2, 0, 2, 2),
    (10, 4, 3, 2, 1, 4), (1, 1, 1, 0, 1, 1), (3, 5, 1, 1, 1, 1), (3, 5, 1, 0, 1, None),
    (224, 7, 2, 3, 1, 112), (56, 3, 1, 1, 1, 56), (13, 3, 2, 0, 3, 4), (6, 3, 4, 2, 1, 2),
    (28, 5, 1, 2, 1, 28), (9, 2, 3, 0, 4, 2),
]  # fmt: skip

# (in, kernel, stride, padding, dilation, output_padding) → output size; None: "Output size is too small"
TRANSPOSED = [
    (512, 3, 2, 0, 1, 0, 1025), (16, 4, 2, 1, 1, 0, 32), (7, 3, 2, 1, 1, 1, 14), (1, 1, 1, 0, 1, 0, 1),
    (5, 3, 1, 2, 2, 1, 6), (4, 2, 3, 0, 1, 2, 13), (3, 3, 2, 1, 2, 1, 8), (2, 1, 1, 1, 1, 0, None),
    (10, 5, 1, 2, 1, 0, 10),
]  # fmt: skip

# (in, kernel, stride, padding, dilation, ceil_mode) → max_pool1d's output size
POOL = [
    (5, 3, 3, 0, 1, False, 1), (5, 3, 3, 0, 1, True, 2), (5, 2, 2, 0, 1, True, 3), (6, 3, 2, 1, 1, True, 4),
    (5, 3, 2, 1, 1, True, 3), (4, 2, 2, 1, 1, True, 3), (7, 3, 2, 1, 1, True, 4), (8, 3, 3, 1, 2, True, 3),
    (112, 3, 2, 1, 1, False, 56), (10, 4, 3, 2, 1, True, 4), (3, 2, 2, 1, 1, True, 2), (9, 3, 4, 1, 1, True, 3),
]  # fmt: skip


@pytest.mark.parametrize("n,k,s,p,d,expected", CONV)
def test_conv_out(n, k, s, p, d, expected):
    out = conv_out(n, k, s, p, d)
    if expected is None:
        assert n + 2 * p < d * (k - 1) + 1  # the kernel does not fit: torch raises
    else:
        assert out == expected


@pytest.mark.parametrize("n,k,s,p,d,op,expected", TRANSPOSED)
def test_conv_transpose_out(n, k, s, p, d, op, expected):
    out = conv_transpose_out(n, k, s, p, d, op)
    assert out == expected if expected is not None else out < 1


@pytest.mark.parametrize("n,k,s,p,d,ceil,expected", POOL)
def test_pool_out(n, k, s, p, d, ceil, expected):
    assert pool_out(n, k, s, p, d, ceil) == expected


def test_ceil_mode_last_window_may_not_start_in_right_padding():
    # (4 + 2 - 2) / 2 = 2 → ceil 3 windows would start at 0, 2, 4; 4 ≥ in + p = 5? no → 3 windows.
    assert pool_out(4, 2, 2, 1, 1, True) == 3
    # 5 with k=2, s=2, p=1: ceil((5+2-2)/2)+1 = 4, but window 3 starts at 6 ≥ 5 + 1 → dropped
    assert pool_out(5, 2, 2, 1, 1, True) == 3
    assert pool_out(5, 2, 2, 1, 1, False) == 3


@pytest.mark.parametrize(
    "k,d,expected",
    [
        (1, 1, (0, 0)),
        (3, 1, (1, 1)),
        (2, 1, (0, 1)),
        (4, 1, (1, 2)),
        (3, 2, (2, 2)),
        (2, 3, (1, 2)),
        (5, 1, (2, 2)),
    ],
)
def test_same_padding_puts_the_odd_pixel_right(k, d, expected):
    assert same_padding(k, d) == expected


@pytest.mark.parametrize(
    "n,out,expected",
    [
        (5, 3, [(0, 2), (1, 4), (3, 5)]),  # overlapping bins
        (6, 3, [(0, 2), (2, 4), (4, 6)]),
        (2, 4, [(0, 1), (0, 1), (1, 2), (1, 2)]),  # out > in repeats elements
        (7, 1, [(0, 7)]),
    ],
)
def test_adaptive_bins(n, out, expected):
    assert adaptive_bins(n, out) == expected


def test_fmt_shape():
    assert fmt_shape((1, 16, 13, 13)) == "(1, 16, 13, 13)"
    assert fmt_shape((7,)) == "(7,)"
