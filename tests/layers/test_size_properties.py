"""Property tests: the closed-form size rules against brute-force enumeration of windows."""

from hypothesis import given
from hypothesis import strategies as st

from convcalc.shape import adaptive_bins, conv_out, conv_transpose_out, pool_out, same_padding

small = st.integers(1, 12)


def window_starts(n, k, s, left, right, d):
    """Brute force: every stride position whose dilated window fits in the padded input."""
    span = d * (k - 1) + 1
    return [p for p in range(0, n + left + right, s) if p + span <= n + left + right]


@given(n=small, k=small, s=small, p=st.integers(0, 6), d=st.integers(1, 4))
def test_conv_out_counts_the_windows_that_fit(n, k, s, p, d):
    starts = window_starts(n, k, s, p, p, d)
    if starts:
        assert conv_out(n, k, s, p, d) == len(starts)
    else:
        assert n + 2 * p < d * (k - 1) + 1


@given(n=small, k=small, d=st.integers(1, 4))
def test_same_padding_keeps_the_size(n, k, d):
    left, right = same_padding(k, d)
    assert len(window_starts(n, k, 1, left, right, d)) == n
    assert right - left in (0, 1)


@given(n=small, k=small, s=small, p=st.integers(0, 6), d=st.integers(1, 3))
def test_pool_ceil_mode_counts_windows_that_start_inside(n, k, s, p, d):
    """ceil_mode: windows may run past the end, but must start inside the input or the left padding."""
    span = d * (k - 1) + 1
    if n + 2 * p < span or p > k // 2:  # torch rejects these
        return
    floor_count = len(window_starts(n, k, s, p, p, d))
    assert pool_out(n, k, s, p, d, False) == floor_count
    slack = n + 2 * p - span  # how far the last full window may start
    # a window counts when its index is at most ceil(slack / s) and it starts before the right padding
    ceil_count = len([q for q in range(0, n + 2 * p + s, s) if q < slack + s and q < n + p])
    assert pool_out(n, k, s, p, d, True) == ceil_count
    assert pool_out(n, k, s, p, d, True) - floor_count in (0, 1)


@given(n=small, k=small, s=small, p=st.integers(0, 4), d=st.integers(1, 3), op=st.integers(0, 3))
def test_transposed_conv_inverts_the_conv_size(n, k, s, p, d, op):
    out = conv_transpose_out(n, k, s, p, d, op)
    if out >= 1 and op < max(s, d):
        # the convolution with the same arguments maps the output size back to n
        # (output_padding ≥ stride is possible when dilation > stride: then op // s extra)
        assert conv_out(out, k, s, p, d) == n + op // s


@given(n=st.integers(1, 40), out=st.integers(1, 40))
def test_adaptive_bins_cover_the_input(n, out):
    bins = adaptive_bins(n, out)
    assert len(bins) == out
    assert bins[0][0] == 0 and bins[-1][1] == n
    assert all(lo < hi for lo, hi in bins)
    assert all(bins[i][1] >= bins[i + 1][0] for i in range(out - 1))  # contiguous or overlapping
