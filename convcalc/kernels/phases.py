"""Input layouts the convolution paths read: the flat stride-phase images where every kernel
tap is one contiguous run, and per-tap plans of a strided copy cropped to the output grid."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence

import numpy as np

from .memory import prod
from .padding import PadPairs
from .run import Run


def phases(
    run: Run,
    xp: np.ndarray,
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    out: Sequence[int],
    pads: PadPairs | None = None,
    channels_first: bool = False,
) -> tuple[np.ndarray, tuple[tuple[int, int], ...], tuple[int, ...]]:
    """Flatten the padded ``xp`` (N, C, *spatial) so that every kernel tap reads one contiguous
    run of a flat row: the polyphase split of a strided convolution.

    Returns ``(flat, taps, sizes)``: ``flat`` is (phases, N, C, F); tap ``t`` (in the kernel's
    C order) reads ``flat[p, :, :, shift : shift + L]`` with ``(p, shift) = taps[t]``, where
    output position (o0, o1, ...) sits at flat column ``o0·width + (o1, ...)`` flattened over the
    phase image's trailing sizes ``sizes[1:]`` (``width`` their product), ``L = out[0]·width``. Columns beyond ``out[1:]`` in each
    row are garbage to crop. With stride 1 there is one phase: the input copied into it, only
    the padding borders zeroed.

    ``pads`` (non-negative (before, after) pairs): zero padding still to apply, done while
    laying the input out (one copy instead of a padded copy and then the layout copy).
    ``channels_first``: ``flat`` is (phases, C, N, F) instead, so that one channel's rows of
    all the items lie back to back (one product can then cover every item).
    """
    if channels_first:
        xp = xp.swapaxes(0, 1)
    n, c = xp.shape[:2]
    nd = len(kernel)
    pads = list(pads) if pads is not None else [(0, 0)] * nd
    padded = [size + a + b for size, (a, b) in zip(xp.shape[2:], pads)]
    # each axis of size S splits into s phases of ceil(S / s) (zero-filled to fit)
    sizes = [-(-size // s) for size, s in zip(padded, stride)]
    # the phase image must also hold out + shift for every tap: grow it if needed
    need = [o + (d * (k - 1)) // s for o, k, s, d in zip(out, kernel, stride, dilation)]
    sizes = [max(a, b) for a, b in zip(sizes, need)]
    width = prod(sizes[1:])
    length = out[0] * width
    shifts = [max((d * (k - 1)) // s, 0) for k, s, d in zip(kernel, stride, dilation)]
    tail = sum(sh * prod(sizes[a + 1 :]) for a, sh in enumerate(shifts)) + length - prod(sizes)
    tail = max(tail, 0)
    whole = prod(sizes)
    flat_len = whole + tail
    stride1 = all(s == 1 for s in stride) and list(sizes) == padded
    flat = run.scratch("flat", (1 if stride1 else prod(stride), n, c, flat_len), xp.dtype)

    def lay(part: slice) -> None:
        # the items (or channels) of ``part``: split between the threads on large inputs
        f = flat[:, part]
        src = xp[part]
        m = src.shape[0]
        if stride1:
            # the input copied into the middle, only the padding borders zeroed
            image = f[0, :, :, :whole].reshape((m, c) + tuple(sizes))
            inner = [slice(a, a + e) for (a, _), e in zip(pads, src.shape[2:])]
            for axis, ((a, b), e) in enumerate(zip(pads, src.shape[2:])):
                for edge in (slice(0, a), slice(a + e, a + e + b)):
                    if edge.stop > edge.start:
                        image[(slice(None),) * (2 + axis) + (edge,)] = 0
            image[(slice(None), slice(None), *inner)] = src
        else:
            # one strided copy per phase, straight from the input into its phase image
            f[...] = 0
            for phase, offsets in enumerate(itertools.product(*[range(s) for s in stride])):
                image = f[phase, :, :, :whole].reshape((m, c) + tuple(sizes))
                dst = [slice(None), slice(None)]
                at = [slice(None), slice(None)]
                for r, s, sz, (a, _), e in zip(offsets, stride, sizes, pads, src.shape[2:]):
                    # phase position q holds padded position q·s + r, input index q·s + r - a
                    lo = max(0, -(-(a - r) // s))
                    hi = max(lo, min(sz, -(-(a + e - r) // s)))
                    dst.append(slice(lo, hi))
                    at.append(slice(lo * s + r - a, lo * s + r - a + (hi - lo - 1) * s + 1, s))
                if all(d.stop > d.start for d in dst[2:]):
                    image[tuple(dst)] = src[tuple(at)]
        if tail and stride1:
            f[..., whole:] = 0

    run.split_run(lay, n, flat.shape[0] * c * flat_len)
    return flat, tap_phases(kernel, stride, dilation, sizes), tuple(sizes)


def tap_phases(
    kernel: Sequence[int], stride: Sequence[int], dilation: Sequence[int], sizes: Sequence[int]
) -> tuple[tuple[int, int], ...]:
    """Per kernel offset (in C order): the stride phase it falls in, and its shift in the flat
    phase image of ``sizes``: offset o·d lands in phase (o·d) mod s, (o·d) // s further on.
    (Remembered per geometry: a network repeats its layers' geometries, and a 7×7 kernel has
    49 taps to work out.)"""
    return _tap_phases(
        tuple(map(int, kernel)),
        tuple(map(int, stride)),
        tuple(map(int, dilation)),
        tuple(map(int, sizes)),
    )


@functools.lru_cache(maxsize=1024)
def _tap_phases(
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    sizes: tuple[int, ...],
) -> tuple[tuple[int, int], ...]:
    # per axis and offset: (phase index along the axis, flat shift)
    axes = [
        [((o * d) % s, ((o * d) // s) * prod(sizes[a + 1 :])) for o in range(k)]
        for a, (k, s, d) in enumerate(zip(kernel, stride, dilation))
    ]
    taps = []
    for combo in itertools.product(*axes):
        phase = 0
        shift = 0
        for (p, sh), s in zip(combo, stride):
            phase = phase * s + p
            shift += sh
        taps.append((phase, shift))
    return tuple(taps)


class TapPlan:
    """Where one kernel tap's view of the zero-padded input lands in an output-grid array:
    ``dst[..., o] = x_padded[..., o·s + offset·d]`` over the trailing axes (output rows counted
    from ``first_row`` on the first), as ``copy`` (dst index, src index: one strided copy from
    the unpadded input) and ``zero`` (the dst indices that fall in the padding)."""

    def __init__(
        self,
        x_shape: Sequence[int],
        out: Sequence[int],
        offset: Sequence[int],
        stride: Sequence[int],
        dilation: Sequence[int],
        pads: PadPairs,
        first_row: int = 0,
    ) -> None:
        nd = len(offset)
        src: list[slice] = []
        keep: list[slice] = []
        for a, (o, s, d, (before, _)) in enumerate(zip(offset, stride, dilation, pads)):
            size = x_shape[len(x_shape) - nd + a]
            count = out[a]
            start = first_row if a == 0 else 0
            # output index j reads input index (start + j)·s + o·d - before, valid in [0, size)
            at = o * d - before + start * s
            lo = min(count, max(0, -(at // s)))
            hi = max(lo, min(count, (size - 1 - at) // s + 1))
            keep.append(slice(lo, hi))
            src.append(slice(at + lo * s, at + (hi - 1) * s + 1 if hi > lo else at + lo * s, s))
        self.zero: list[tuple[slice, ...]] = []
        for a, k in enumerate(keep):
            if k.start > 0 or k.stop < out[a]:
                before_axes = (slice(None),) * a
                after_axes = (slice(None),) * (nd - a - 1)
                self.zero.append(before_axes + (slice(0, k.start),) + after_axes)
                self.zero.append(before_axes + (slice(k.stop, out[a]),) + after_axes)
        self.copy = (tuple(keep), tuple(src)) if all(k.stop > k.start for k in keep) else None

    def fill_zeros(self, dst: np.ndarray) -> None:
        lead = (Ellipsis,)
        for index in self.zero:
            dst[lead + index] = 0

    def copy_into(self, dst: np.ndarray, x: np.ndarray) -> None:
        if self.copy is not None:
            keep, src = self.copy
            dst[(Ellipsis,) + keep] = x[(Ellipsis,) + src]


def gather_tap(
    dst: np.ndarray,
    x: np.ndarray,
    offset: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    pads: PadPairs,
    first_row: int = 0,
) -> None:
    """Write one kernel tap's view of the zero-padded ``x`` into ``dst``, cropped exactly to
    the output grid (see :class:`TapPlan`): the padding is never materialised, the part of
    ``dst`` that falls in it is zeroed, the rest is one strided copy from ``x``."""
    nd = len(offset)
    plan = TapPlan(x.shape, dst.shape[dst.ndim - nd :], offset, stride, dilation, pads, first_row)
    plan.fill_zeros(dst)
    plan.copy_into(dst, x)


def in_range(first: int, step: int, count: int, size: int) -> tuple[int, int]:
    """The indices ``j`` in ``[0, count)`` with ``0 <= first + j·step < size``, as ``(lo, hi)``
    (``lo == hi`` when there are none)."""
    lo = -(first // step) if first < 0 else 0
    hi = min(count, (size - 1 - first) // step + 1) if size > first else 0
    lo = min(lo, count)
    return lo, max(lo, hi)


def gather_windows(
    dst: np.ndarray,
    x: np.ndarray,
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    pads: PadPairs,
    out: Sequence[int],
    positions: slice,
) -> None:
    """The column matrix of the output positions ``positions`` (flat, in C order over
    ``out``), ``dst`` (m, C, taps, positions), gathered one position at a time: one strided
    copy of the window it reads (the part inside the input; the rest, in the padding, zero).
    For kernels with more taps than the output has positions (a 511×511 kernel on 512×512:
    261,121 taps, 4 positions), where :func:`gather_tap` would copy tap by tap."""
    view = dst.view()
    view.shape = (*dst.shape[:2], *kernel, dst.shape[3])  # splits the taps' axis: never a copy
    if any(a or b for a, b in pads):
        dst[...] = 0
    size = x.shape[x.ndim - len(kernel) :]
    lead = (slice(None), slice(None))
    coords = np.unravel_index(np.arange(positions.start, positions.stop), tuple(out))
    for column, pos in enumerate(zip(*[c.tolist() for c in coords])):
        box: list[slice] = []
        src: list[slice] = []
        for a, (j, k, s, d, (before, _)) in enumerate(zip(pos, kernel, stride, dilation, pads)):
            first = j * s - before
            lo, hi = in_range(first, d, k, size[a])
            if hi <= lo:
                break  # a window in the padding alone: zeros
            box.append(slice(lo, hi))
            src.append(slice(first + lo * d, first + (hi - 1) * d + 1, d))
        else:
            at: tuple[slice | int, ...] = (*lead, *box, column)
            view[at] = x[(*lead, *src)]


def same_width(
    run: Run, xp: np.ndarray, kernel: Sequence[int], dilation: Sequence[int], pads: PadPairs
) -> tuple[np.ndarray, int, tuple[tuple[int, int], ...], tuple[int, ...], list[tuple[int, int]]]:
    """The flat layout of a 2-d stride-1 convolution whose output rows are as wide as the
    input's (the horizontal padding equals the kernel's reach, as in 'same' padding): the
    planes back to back, zero rows above and below each, no padding columns, so that every tap
    reads one run per plane already in the output's layout (nothing to crop afterwards).

    Returns ``(src, f, taps, sizes, masks)`` as :func:`~convcalc.kernels.depthwise.flat` takes them: ``src``
    (1, total), ``f`` the plane stride, ``taps`` (0, shift) per kernel offset, ``sizes`` (padded
    rows, width). A tap that reaches past a row's end reads the neighbouring row (or the zero
    margin around the planes) instead: ``masks`` gives per tap the columns ``[lo, hi)`` it
    really covers; its gathered run must be zeroed outside them."""
    n, c, height, width = xp.shape
    (top, bottom), (left, right) = pads
    rows = top + height + bottom
    f = rows * width
    planes = n * c
    src = run.scratch("flat", (1, left + planes * f + right), xp.dtype)
    src[0, :left] = 0
    src[0, left + planes * f :] = 0
    body = src[0, left : left + planes * f].reshape(planes, rows, width)
    body[:, :top] = 0
    body[:, top + height :] = 0
    body[:, top : top + height] = xp.reshape(planes, height, width)
    taps = []
    masks = []
    for ky, kx in itertools.product(range(kernel[0]), range(kernel[1])):
        reach = kx * dilation[1] - left  # the input column read by output column 0
        taps.append((0, left + ky * dilation[0] * width + reach))
        masks.append((max(0, -reach), min(width, width - reach)))
    return src, f, tuple(taps), (rows, width), masks
