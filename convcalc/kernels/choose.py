"""Which path computes a convolution: one pure function of the case and the settings.

Each path was measured faster than the others where it is chosen (``benchmarks/README.md``
says how much); the thresholds are :class:`~convcalc.kernels.config.Config`'s.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from .config import Config
from .memory import prod

Path = Literal[
    "pointwise",
    "pointwise-blas",
    "depthwise-slabs",
    "depthwise-shifted",
    "depthwise-exact",
    "depthwise-same-width",
    "depthwise-phases",
    "slabs",
    "channels-last",
    "tap-gemm",
    "grouped",
    "grouped-blas",
    "columns-input",
    "columns-cropped",
    "columns-flat",
]

#: how a transposed convolution is computed: footprints overlap-added on stride-phase images,
#: or added straight into the output (:mod:`.scatter`)
TransposedPath = Literal["phases", "scatter"]


class Case(NamedTuple):
    """A convolution as the path choice sees it: shapes and arguments, never values (a named
    tuple: made for every convolution, it must cost next to nothing)."""

    #: the input (N, C, *spatial), before the zero padding ``pads``
    x_shape: tuple[int, ...]
    #: the weight (C_out, C/groups, *kernel)
    w_shape: tuple[int, ...]
    groups: int
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    #: zero padding (before, after) per spatial axis, none negative
    pads: tuple[tuple[int, int], ...]
    itemsize: int = 4
    #: bytes of temporaries the convolution may use
    budget: int = 1 << 30
    #: whether a too-large input may be worked in slabs of output rows
    split: bool = True
    #: whether there is a bias
    bias: bool = False
    #: whether OpenBLAS's product can be called directly for this dtype
    blas: bool = True

    @property
    def kernel(self) -> tuple[int, ...]:
        return self.w_shape[2:]

    @property
    def padded(self) -> tuple[int, ...]:
        return tuple([e + a + b for e, (a, b) in zip(self.x_shape[2:], self.pads)])

    @property
    def out(self) -> tuple[int, ...]:
        """The output's spatial sizes: (padded - dilation·(kernel - 1) - 1) // stride + 1."""
        return tuple(
            [
                (e + a + b - d * (k - 1) - 1) // s + 1
                for e, (a, b), k, d, s in zip(
                    self.x_shape[2:], self.pads, self.w_shape[2:], self.dilation, self.stride
                )
            ]
        )

    def depthwise_row_bytes(self) -> int:
        """A depthwise plane's temporaries per output row: the gathered taps and the product,
        over a row as wide as the stride phases' (at least the output's)."""
        wide_row = prod([-(-p // st) for p, st in zip(self.padded[1:], self.stride[1:])])
        cog = self.w_shape[0] // self.groups
        return (prod(self.kernel) + 1 + cog) * wide_row * self.itemsize


def choose(case: Case, config: Config) -> Path:
    """The path that computes ``case`` with ``config``'s thresholds and threads."""
    if all(k == 1 for k in case.kernel) and all(s == 1 for s in case.stride):
        # a single product (one item, one group) with a bias: through BLAS onto the bias
        one = case.bias and case.x_shape[0] == 1 and case.groups == 1
        return "pointwise-blas" if one and case.blas else "pointwise"
    out = case.out
    taps = prod(case.kernel)
    if taps >= config.many_taps_min and taps > prod(out):
        # windows far larger than the output: gathered from the input window by window
        return "columns-input"
    # (a depthwise kernel nearly as wide as the input: its flat runs would multiply at every
    # padded column, 500 times the work of a (1, 999) kernel's 2 output columns; an output on
    # the input's own grid is gathered without padding columns)
    waste = _wasteful(case, out) and out != case.x_shape[2:]
    if case.w_shape[1] == 1 and case.groups > 1 and not waste:
        return _depthwise(case, config, out)
    n, c = case.x_shape[:2]
    padded = case.padded
    # an input whose flat copy alone would take half the budget: in slabs of output rows
    if case.split and out[0] > 1 and n * c * prod(padded) * case.itemsize > case.budget // 2:
        return "slabs"
    if _channels_last(case, config, out, padded):
        return "channels-last"
    cig = case.w_shape[1]
    # per-tap products: faster than the column matrix for wide standard convolution on large
    # images (long runs); small images and grouped products do better without them
    many = taps >= config.tap_gemm_many_taps and not _wasteful(case, out)
    wide = cig >= config.tap_gemm_min or many
    if case.groups == 1 and wide and prod(out) >= config.tap_gemm_min_length:
        if case.blas:
            return "tap-gemm"
    if case.groups > 1 and cig >= config.grouped_direct_min:
        long = out[0] * prod(padded[1:]) >= config.grouped_pointer_min_length
        return "grouped-blas" if case.blas and long else "grouped"
    if _exact(case, config, out) or _wasteful(case, out):
        # strided, the taps are read from the stride phases (contiguous runs, cropped while
        # copied), which copies faster than strided reads of the input
        return "columns-input" if all(s == 1 for s in case.stride) else "columns-cropped"
    return "columns-flat"


def _exact(case: Case, config: Config, out: tuple[int, ...]) -> bool:
    """Whether the taps are gathered already cropped to the output grid: long output rows
    (short ones copy better as whole flat runs, cropped at the end), or on one thread for many
    output channels at stride 1 (the flat layout's padding columns would cost more product
    than the strided gather: a 3×3 at 7×7 multiplies 9 columns per 7; 6–20 % faster)."""
    wide = (
        config.workers == 1
        and case.groups == 1
        and case.w_shape[0] >= config.exact_min_channels
        and all(s == 1 for s in case.stride)
    )
    # one flat row of the column matrix holds every tap at every padded position: with a
    # kernel nearly as large as the input that is gigabytes for a few real positions
    taps = prod(case.kernel)
    flat_row = case.x_shape[1] * taps * prod(case.padded[1:]) * case.itemsize
    return len(out) == 1 or out[-1] >= config.exact_min_width or wide or flat_row > case.budget


def _wasteful(case: Case, out: tuple[int, ...]) -> bool:
    """The flat layout multiplies at every padded position of a row: a kernel nearly as wide
    as the input ((1, 999) on 1,000 columns) would do 500 times the output's work (counted
    beyond what a stride skips, which the flat layout computes too, by design)."""
    reached = prod([o * s for o, s in zip(out[1:], case.stride[1:])])
    return prod(case.padded[1:]) > FLAT_WASTE * reached


#: the most positions of a padded row the flat layout computes per output position
FLAT_WASTE = 4


def _depthwise(case: Case, config: Config, out: tuple[int, ...]) -> Path:
    if case.split and out[0] > 1 and case.depthwise_row_bytes() * out[0] > case.budget:
        return "depthwise-slabs"
    strided = any(s > 1 for s in case.stride)
    if config.shifted_depthwise and not strided and out == case.x_shape[2:]:
        return "depthwise-shifted"
    if _strided_exact(case, config, out) if strided and len(out) > 1 else _exact(case, config, out):
        return "depthwise-exact"
    reach = case.dilation[-1] * (case.kernel[-1] - 1)
    if len(out) == 2 and not strided and sum(case.pads[1]) == reach:
        # output rows as wide as the input's: planes without padding columns, no crop
        return "depthwise-same-width"
    return "depthwise-phases"


def _strided_exact(case: Case, config: Config, out: tuple[int, ...]) -> bool:
    """Whether a strided depthwise convolution gathers its taps cropped from the input rather
    than from the stride phases: from a very wide output, or at two threads for small kernels
    whose gathered taps are large enough to share out."""
    if out[-1] >= config.strided_depthwise_exact_min_width:
        return True
    taps = prod(case.kernel)
    gathered = prod(case.x_shape[:2]) * (taps + 1) * prod(out) * case.itemsize
    return (
        config.workers > 1
        and taps <= config.strided_depthwise_exact_max_taps
        and gathered >= config.depthwise_parallel_min
    )


def _channels_last(
    case: Case, config: Config, out: tuple[int, ...], padded: tuple[int, ...]
) -> bool:
    """Few output positions (small images, deep layers): the column matrix in channels-last
    order (its copies run along the channels, not along rows a few elements long)."""
    n, c = case.x_shape[:2]
    positions = prod(out)
    wide_groups = (
        case.w_shape[1] >= config.grouped_direct_min
        and positions <= config.grouped_channels_last_max_positions
    )
    if positions > config.channels_last_max_positions or c < config.channels_last_min_channels:
        return False
    held = (prod(padded) * c + positions * c * prod(case.kernel)) * case.itemsize
    return (case.groups == 1 or wide_groups) and held * min(n, config.workers) <= case.budget


def choose_transposed(
    x_shape: tuple[int, ...],
    w_shape: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    groups: int,
    itemsize: int,
    budget: int,
) -> TransposedPath:
    """The path of a transposed convolution of ``x_shape`` (N, C_in, *spatial) with
    ``w_shape`` (C_in, C_out/groups, *kernel): the stride-phase images unless they waste the
    work, i.e. unless there are more stride phases than kernel taps (each phase costs its own
    copies, and those without a tap hold nothing but the bias: a stride of 10⁷ is 10⁷ phases
    for one tap), or there are more taps than input pixels, or the footprints of a single
    input row (every tap at every position of a phase image's row, as wide as the input's
    plus the kernel's reach) pass the budget (a 1023×1023 kernel on 2×2: 4 GiB for one
    row)."""
    taps = prod(w_shape[2:])
    if prod(stride) > taps or taps > prod(x_shape[2:]):
        # (more taps than input pixels: the phase images' adds go tap by tap, the straight
        # adds pixel by pixel, fewer steps for the same arithmetic)
        return "scatter"
    reach = [d * (k - 1) // s for k, s, d in zip(w_shape[3:], stride[1:], dilation[1:])]
    width = prod([i + r for i, r in zip(x_shape[3:], reach)])
    row = w_shape[1] * groups * taps * width * itemsize
    return "scatter" if row > budget else "phases"
