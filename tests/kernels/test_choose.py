"""The convolution's path choice, a pure function of the case and the settings, as a table:
each row a case and the path it takes (the thresholds are Config's defaults unless named)."""

from __future__ import annotations

import pytest

from convcalc.kernels import Case, Config, choose
from convcalc.kernels.choose import choose_transposed

P1 = ((1, 1), (1, 1))  # padding 1 on both sides of both axes
P0 = ((0, 0), (0, 0))
ONE = Config(threads=1)
TWO = Config(threads=2)

# (id, case, config, path)
TABLE = [
    # pointwise: one product; through BLAS onto the bias for one item, one group, with a bias
    ("pointwise batch", Case((2, 8, 5, 5), (4, 8, 1, 1), 1, (1, 1), (1, 1), P0, bias=True), TWO, "pointwise"),
    ("pointwise one item", Case((1, 8, 5, 5), (4, 8, 1, 1), 1, (1, 1), (1, 1), P0, bias=True), TWO, "pointwise-blas"),
    ("pointwise no BLAS", Case((1, 8, 5, 5), (4, 8, 1, 1), 1, (1, 1), (1, 1), P0, bias=True, blas=False), TWO, "pointwise"),
    ("pointwise no bias", Case((1, 8, 5, 5), (4, 8, 1, 1), 1, (1, 1), (1, 1), P0), TWO, "pointwise"),
    ("pointwise grouped", Case((1, 8, 5, 5), (4, 4, 1, 1), 2, (1, 1), (1, 1), P0, bias=True), TWO, "pointwise"),
    ("1x1 strided", Case((1, 8, 6, 6), (4, 8, 1, 1), 1, (2, 2), (1, 1), P0), TWO, "columns-flat"),
    # depthwise
    ("depthwise over budget", Case((1, 4, 20, 20), (4, 1, 3, 3), 4, (1, 1), (1, 1), P1, budget=100), TWO, "depthwise-slabs"),
    ("depthwise over budget, no split", Case((1, 4, 20, 20), (4, 1, 3, 3), 4, (1, 1), (1, 1), P1, budget=100, split=False), TWO, "depthwise-shifted"),
    ("depthwise same grid", Case((1, 32, 112, 112), (32, 1, 3, 3), 32, (1, 1), (1, 1), P1), TWO, "depthwise-shifted"),
    ("depthwise multiplier", Case((2, 4, 9, 9), (8, 1, 5, 5), 4, (1, 1), (1, 1), ((2, 2), (2, 2))), ONE, "depthwise-shifted"),
    ("depthwise same width", Case((1, 4, 20, 20), (4, 1, 3, 3), 4, (1, 1), (1, 1), P1), Config(threads=2, shifted_depthwise=False), "depthwise-same-width"),
    ("depthwise wide rows", Case((1, 4, 8, 40), (4, 1, 3, 3), 4, (1, 1), (1, 1), P1), Config(threads=2, shifted_depthwise=False), "depthwise-exact"),
    ("depthwise no padding", Case((1, 4, 20, 20), (4, 1, 3, 3), 4, (1, 1), (1, 1), P0), TWO, "depthwise-phases"),
    ("depthwise dilated", Case((1, 4, 20, 20), (4, 1, 3, 3), 4, (1, 1), (2, 2), P1), TWO, "depthwise-phases"),
    ("depthwise strided, 1 thread", Case((4, 32, 112, 112), (32, 1, 3, 3), 32, (2, 2), (1, 1), P1), ONE, "depthwise-phases"),
    ("depthwise strided, 2 threads", Case((4, 32, 112, 112), (32, 1, 3, 3), 32, (2, 2), (1, 1), P1), TWO, "depthwise-exact"),
    ("depthwise strided 5x5", Case((4, 32, 112, 112), (32, 1, 5, 5), 32, (2, 2), (1, 1), ((2, 2), (2, 2))), TWO, "depthwise-phases"),
    ("depthwise strided small", Case((1, 32, 28, 28), (32, 1, 3, 3), 32, (2, 2), (1, 1), P1), TWO, "depthwise-phases"),
    ("depthwise 1-d", Case((1, 6, 13), (6, 1, 3), 6, (2,), (2,), ((1, 2),)), TWO, "depthwise-exact"),
    # standard convolution
    ("over budget", Case((1, 64, 56, 56), (64, 64, 3, 3), 1, (1, 1), (1, 1), P1, budget=1000), TWO, "slabs"),
    ("deep layer", Case((1, 256, 7, 7), (256, 256, 3, 3), 1, (1, 1), (1, 1), P1), TWO, "channels-last"),
    ("deep layer, few channels", Case((1, 8, 7, 7), (8, 8, 3, 3), 1, (1, 1), (1, 1), P1), TWO, "columns-flat"),
    ("deep layer over budget", Case((1, 256, 7, 7), (256, 256, 3, 3), 1, (1, 1), (1, 1), P1, budget=300_000), TWO, "columns-flat"),
    ("wide, large image", Case((1, 64, 56, 56), (64, 64, 3, 3), 1, (1, 1), (1, 1), P1), TWO, "tap-gemm"),
    ("wide, large image, no BLAS", Case((1, 64, 56, 56), (64, 64, 3, 3), 1, (1, 1), (1, 1), P1, blas=False), TWO, "columns-input"),
    ("large kernel, few channels", Case((1, 8, 128, 128), (8, 8, 63, 63), 1, (1, 1), (1, 1), ((31, 31), (31, 31))), TWO, "tap-gemm"),
    ("large 1-d kernel, one channel", Case((1, 1, 100000), (1, 1, 2000), 1, (1,), (1,), ((1000, 1000),)), ONE, "tap-gemm"),
    ("stem", Case((1, 3, 224, 224), (64, 3, 7, 7), 1, (2, 2), (1, 1), ((3, 3), (3, 3))), TWO, "columns-cropped"),
    ("narrow, short rows", Case((1, 8, 20, 20), (8, 8, 3, 3), 1, (1, 1), (1, 1), P1), TWO, "columns-flat"),
    ("many outputs, 1 thread", Case((1, 8, 20, 20), (256, 8, 3, 3), 1, (1, 1), (1, 1), P1), ONE, "columns-input"),
    ("many outputs, 2 threads", Case((1, 8, 20, 20), (256, 8, 3, 3), 1, (1, 1), (1, 1), P1), TWO, "columns-flat"),
    ("1-d", Case((1, 4, 50), (8, 4, 3), 1, (1,), (1,), ((1, 1),)), TWO, "columns-input"),
    ("3-d strided", Case((1, 4, 6, 6, 6), (8, 4, 3, 3, 3), 1, (2, 2, 2), (1, 1, 1), ((1, 1),) * 3), TWO, "columns-flat"),
    # a kernel nearly as large as the input: one flat row of all taps would pass the budget
    ("huge kernel, few positions", Case((1, 1, 512, 512), (1, 1, 511, 511), 1, (1, 1), (1, 1), P0, budget=64 << 20), ONE, "columns-input"),
    ("huge kernel, strided", Case((1, 1, 512, 512), (1, 1, 501, 501), 1, (2, 2), (1, 1), P0, budget=64 << 20), ONE, "columns-input"),
    # more taps than output positions (from 1,024 taps): window by window from the input,
    # depthwise and grouped too (the depthwise paths gather per tap)
    ("huge depthwise kernel", Case((1, 2, 512, 512), (2, 1, 511, 511), 2, (1, 1), (1, 1), P0, budget=64 << 20), ONE, "columns-input"),
    ("depthwise kernel nearly as wide as the input", Case((1, 7, 1000, 1000), (14, 1, 1, 999), 7, (1, 1), (1, 1), P0, budget=64 << 20), ONE, "columns-input"),
    ("huge grouped kernel", Case((1, 16, 64, 64), (16, 8, 40, 40), 2, (1, 1), (1, 1), P0), TWO, "columns-input"),
    ("huge kernel over budget", Case((1, 1, 512, 512), (1, 1, 511, 511), 1, (1, 1), (1, 1), P0, budget=1000), ONE, "columns-input"),
    ("many taps, more positions", Case((1, 2, 100, 100), (2, 1, 33, 33), 2, (1, 1), (1, 1), P0), ONE, "depthwise-exact"),
    ("31x31 depthwise", Case((1, 2, 40, 40), (2, 1, 31, 31), 2, (1, 1), (1, 1), P0), ONE, "depthwise-phases"),
    # grouped
    ("wide groups", Case((1, 256, 28, 28), (256, 32, 3, 3), 8, (1, 1), (1, 1), P1), TWO, "grouped"),
    ("wide groups, long rows", Case((1, 256, 56, 56), (256, 32, 3, 3), 8, (1, 1), (1, 1), P1), TWO, "grouped-blas"),
    ("wide groups, long rows, no BLAS", Case((1, 256, 56, 56), (256, 32, 3, 3), 8, (1, 1), (1, 1), P1, blas=False), TWO, "grouped"),
    ("wide groups, small image", Case((1, 256, 7, 7), (256, 32, 3, 3), 8, (1, 1), (1, 1), P1), TWO, "channels-last"),
    ("narrow groups", Case((1, 8, 20, 20), (8, 2, 3, 3), 4, (1, 1), (1, 1), P1), TWO, "columns-flat"),
    ("narrow groups forced direct", Case((1, 8, 20, 20), (8, 2, 3, 3), 4, (1, 1), (1, 1), P1), Config(threads=2, grouped_direct_min=1), "grouped"),
]  # fmt: skip


@pytest.mark.parametrize(
    "case, config, path", [row[1:] for row in TABLE], ids=[r[0] for r in TABLE]
)
def test_the_path_chosen(case: Case, config: Config, path: str) -> None:
    assert choose(case, config) == path


def test_the_table_covers_every_path() -> None:
    from typing import get_args

    from convcalc.kernels.choose import Path

    assert {row[3] for row in TABLE} == set(get_args(Path))


def test_the_case_geometry() -> None:
    case = Case((2, 3, 224, 224), (64, 3, 7, 7), 1, (2, 2), (1, 1), ((3, 3), (3, 3)))
    assert case.kernel == (7, 7) and case.padded == (230, 230) and case.out == (112, 112)
    dilated = Case((1, 4, 9), (4, 1, 3), 4, (2,), (3,), ((2, 1),))
    # (9 + 3 - 3·2 - 1) // 2 + 1
    assert dilated.out == (3,)
    # per output row of a depthwise plane: (taps + 1 + outputs per channel) × phase width × 4
    assert (
        dilated.depthwise_row_bytes() == 0 or dilated.depthwise_row_bytes() == (3 + 1 + 1) * 1 * 4
    )


# (id, x shape, weight shape, stride, dilation, groups, budget, path)
TRANSPOSED = [
    ("upsampling", (1, 32, 64, 64), (32, 16, 4, 4), (2, 2), (1, 1), 1, 1 << 30, "phases"),
    ("kernel as large as the stride", (1, 8, 9, 9), (8, 8, 2, 2), (2, 2), (1, 1), 1, 1 << 30, "phases"),
    ("more phases than taps", (1, 1, 2), (1, 1, 1), (10_000_000,), (1,), 1, 1 << 30, "scatter"),
    ("more phases than taps, 2-d", (1, 1, 2, 2), (1, 1, 3, 3), (4, 3), (1, 1), 1, 1 << 30, "scatter"),
    ("huge kernel, one row over budget", (1, 1, 2, 2), (1, 1, 1023, 1023), (1, 1), (1, 1), 1, 64 << 20, "scatter"),
    ("huge kernel within budget", (1, 1, 2, 2), (1, 1, 1023, 1023), (1, 1), (1, 1), 1, 8 << 30, "scatter"),
    ("more taps than pixels", (1, 4, 1272, 1), (4, 1, 6, 330), (1, 3), (1, 1), 2, 1 << 30, "scatter"),
    ("as many taps as pixels", (1, 4, 30, 66), (4, 1, 6, 330), (1, 3), (1, 1), 2, 1 << 30, "phases"),
    ("dilated kernel reaches wide", (1, 4, 2, 2), (4, 2, 3, 3), (1, 1), (1, 4000), 2, 1 << 20, "scatter"),
]  # fmt: skip


@pytest.mark.parametrize(
    "x_shape, w_shape, stride, dilation, groups, budget, path",
    [row[1:] for row in TRANSPOSED],
    ids=[row[0] for row in TRANSPOSED],
)
def test_the_transposed_path_chosen(
    x_shape: tuple[int, ...],
    w_shape: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    groups: int,
    budget: int,
    path: str,
) -> None:
    assert choose_transposed(x_shape, w_shape, stride, dilation, groups, 4, budget) == path


def test_a_kernel_nearly_as_wide_as_the_input_is_gathered_cropped() -> None:
    """(1, 999) on 1,000 columns: the flat layout would multiply at every one of the 1,000
    padded columns for 2 output columns (32 M MACs took 4 s); cropped, the work is the MACs."""
    case = Case((1, 4, 1000, 1000), (4, 4, 1, 999), 1, (1, 1), (1, 1), P0, bias=True)
    assert choose(case, Config(threads=1)) == "columns-input"
    strided = Case((1, 4, 1000, 1000), (4, 4, 1, 99), 1, (1, 2), (1, 1), P0, bias=True)
    assert choose(strided, Config(threads=1)) == "tap-gemm"  # 99 taps, 451 of 500 columns read
    few = Case((1, 4, 1000, 1000), (4, 4, 1, 33), 1, (1, 2), (1, 1), P0, bias=True)
    assert choose(few, Config(threads=1)) == "columns-cropped"
