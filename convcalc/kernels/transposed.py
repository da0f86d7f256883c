"""PyTorch's ConvTransposeNd: one product scatters every input pixel to its kernel footprint,
and an overlap-add on flat stride-phase images sums the footprints."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np

from ..shape import transpose_phases
from .choose import choose_transposed
from .memory import prod, row_chunks
from .phases import tap_phases
from .run import Run, current
from .scatter import scatter_transpose


def transpose_slabs(
    x: np.ndarray,
    uncropped: Callable[[np.ndarray, int], np.ndarray],
    bias: np.ndarray | None,
    y: np.ndarray,
    stride: int,
    padding: int,
    span: int,
    budget: int,
    per_row: int,
) -> np.ndarray:
    """A transposed convolution too large for ``budget`` (``per_row`` bytes of temporaries
    per input row: its accumulator, its share of the output and of the padded input), in
    slabs of input rows: ``uncropped(rows, budget)`` is a slab's result left uncropped along
    the rows (``stride``, ``padding`` and the kernel's ``span`` along them), added into the
    output rows of ``y`` it reaches (neighbouring slabs overlap by the kernel's reach), which
    start from the bias."""
    y[...] = 0 if bias is None else bias.reshape((-1,) + (1,) * (y.ndim - 2))
    reach = -(-span // stride)  # the input rows one output row's worth of kernel covers
    # a third of the budget for a slab's rows; its kernel's column chunks get what is left
    # after them twice over (beside the chunks it holds its accumulator and input copy)
    rows = max(1, (budget // 3) // per_row - reach)
    inner = max(1, budget - 2 * (rows + reach) * per_row)
    for a in range(0, x.shape[2], rows):
        part = uncropped(x[:, :, a : a + rows], inner)
        # its row j is the uncropped output's row a·s + j, the output's row a·s + j - p
        first = a * stride - padding
        lo, hi = max(0, first), min(y.shape[2], first + part.shape[2])
        if hi > lo:
            y[:, :, lo:hi] += part[:, :, lo - first : hi - first]
    return y


def conv_transpose(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    stride: Sequence[int],
    padding: Sequence[int],
    output_padding: Sequence[int],
    dilation: Sequence[int],
    groups: int,
    budget: int,
    split: bool = True,
    run: Run | None = None,
) -> np.ndarray:
    """PyTorch's ConvTransposeNd on the batched ``x`` (N, C_in, *spatial), ``weight``
    (C_in, C_out/groups, *kernel).

    One BLAS product per (item, group) scatters every input pixel to its kernel footprint,
    ``cols = Wᵀ x`` (N, C_out, ∏kernel, pixels); an overlap-add (col2im) sums the
    footprints into the uncropped output (:func:`footprints`), kept split into stride phases;
    :func:`interleave` then makes the output of them. Chunked over the batch, then over input
    rows, under ``budget`` bytes; when the accumulator itself (about the output's size) would
    take half the budget, in slabs of input rows whose footprints are added into the output
    (:func:`transpose_slabs`; ``split`` off for the slabs themselves). Where the phase images
    would waste the work (:func:`~convcalc.kernels.choose.choose_transposed`), added straight
    into the output instead (:func:`~convcalc.kernels.scatter.scatter_transpose`).
    """
    run = run if run is not None else current()
    n = x.shape[0]
    kernel = tuple(weight.shape[2:])
    c_out = weight.shape[1] * groups
    inp = tuple(x.shape[2:])
    out, sizes, tail = geometry(inp, kernel, stride, padding, output_padding, dilation)
    item = x.dtype.itemsize
    acc_row, in_row = _row_bytes(x.shape, c_out, stride, sizes, item)
    shapes = (tuple(x.shape), tuple(weight.shape), tuple(stride), tuple(dilation))
    if choose_transposed(*shapes, groups, item, budget) == "scatter":
        # added straight into the output, in pieces within the budget: slabs of input rows
        # would each hold an uncropped output as tall as the kernel's reach (a dilation of
        # 10⁷: the whole output again)
        return scatter_transpose(x, weight, bias, stride, padding, dilation, groups, out, budget)
    if split and in_slabs(x.shape, weight.shape, stride, padding, output_padding, dilation,
                          groups, x.dtype.itemsize, budget):  # fmt: skip
        # the same convolution on a slab of rows, left uncropped along them
        along = ((0, *padding[1:]), (0, *output_padding[1:]))

        def uncropped(rows: np.ndarray, inner: int) -> np.ndarray:
            return conv_transpose(
                rows, weight, None, stride, *along, dilation, groups, inner, False, run
            )

        y = np.empty((n, c_out, *out), dtype=x.dtype)
        span = dilation[0] * (kernel[0] - 1) + 1
        per_row = 2 * acc_row + in_row
        return transpose_slabs(x, uncropped, bias, y, stride[0], padding[0], span, budget, per_row)
    acc = footprints(run, x, weight, stride, dilation, groups, sizes, tail, budget)
    return interleave(acc, bias, stride, padding, sizes, out)


def geometry(
    inp: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    output_padding: Sequence[int],
    dilation: Sequence[int],
) -> tuple[list[int], tuple[int, ...], int]:
    """``(out, sizes, tail)``: the output's spatial sizes, and the flat phase images' (see
    :func:`~convcalc.shape.transpose_phases`)."""
    full = [(i - 1) * s + d * (k - 1) + 1 for i, s, d, k in zip(inp, stride, dilation, kernel)]
    out = [f - 2 * p + op for f, p, op in zip(full, padding, output_padding)]
    sizes, tail = transpose_phases(inp, kernel, stride, dilation, padding, out)
    return out, tuple(sizes), tail


def _row_bytes(
    x_shape: Sequence[int], c_out: int, stride: Sequence[int], sizes: Sequence[int], item: int
) -> tuple[int, int]:
    """Per input row: the accumulator's rows (s of them, every phase) and the padded input's."""
    n, c_in = x_shape[:2]
    width = prod(sizes[1:])
    return prod(stride) * n * c_out * width * item, n * c_in * width * item


def in_slabs(
    x_shape: Sequence[int],
    w_shape: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    output_padding: Sequence[int],
    dilation: Sequence[int],
    groups: int,
    itemsize: int,
    budget: int,
) -> bool:
    """Whether :func:`conv_transpose` works in slabs of input rows: when its accumulator
    (about the output's size) and the padded input would take half the budget."""
    inp = x_shape[2:]
    _, sizes, _ = geometry(inp, w_shape[2:], stride, padding, output_padding, dilation)
    acc_row, in_row = _row_bytes(x_shape, w_shape[1] * groups, stride, sizes, itemsize)
    return inp[0] > 1 and (acc_row + in_row) * sizes[0] > budget // 2


def footprints(
    run: Run,
    x: np.ndarray,
    weight: np.ndarray,
    stride: Sequence[int],
    dilation: Sequence[int],
    groups: int,
    sizes: Sequence[int],
    tail: int,
    budget: int,
) -> np.ndarray:
    """The uncropped output as flat stride-phase images (phases, N, C_out, plane + tail), as
    the forward convolution's input is laid out: kernel offset o lands every input pixel in
    the same phase, at the same flat shift, so its add is ONE contiguous run per channel (the
    input is padded with zero columns to the phase width, so the runs' overflow adds zeros)."""
    n, c_in = x.shape[:2]
    cog = weight.shape[1]
    kernel = tuple(weight.shape[2:])
    g = groups
    cig, c_out = c_in // g, cog * g
    inp = tuple(x.shape[2:])
    kk = prod(kernel)
    width = prod(sizes[1:])
    offsets = tap_phases(kernel, stride, dilation, sizes)
    # the input, zero-padded on its trailing axes to the phase width
    if tuple(inp[1:]) != tuple(sizes[1:]):
        xw = np.zeros((n, c_in, inp[0], *sizes[1:]), dtype=x.dtype)
        xw[(slice(None),) * 3 + tuple(slice(0, i) for i in inp[1:])] = x
    else:
        xw = np.ascontiguousarray(x)
    xf = xw.reshape(n, g, cig, inp[0] * width)
    acc = np.zeros((prod(stride), n, c_out, sizes[0] * width + tail), dtype=x.dtype)
    wt = weight.reshape(g, cig, cog * kk).transpose(0, 2, 1)  # (g, cog·∏k, cig), a view
    per_row = c_out * kk * width * x.dtype.itemsize
    for bs, rs in row_chunks(n, inp[0], per_row, budget):
        m = len(range(*bs.indices(n)))
        length = (rs.stop - rs.start) * width
        base = rs.start * width
        cols = run.scratch("columns", (m, g, cog * kk, length), x.dtype)
        np.matmul(wt, xf[bs, :, :, base : base + length], out=cols)
        laid = cols.reshape(m, c_out, kk, length)
        for t, (phase, shift) in enumerate(offsets):
            acc[phase, bs, :, base + shift : base + shift + length] += laid[:, :, t]
        del cols, laid  # before the next chunk's: never two at once
    return acc


def interleave(
    acc: np.ndarray,
    bias: np.ndarray | None,
    stride: Sequence[int],
    padding: Sequence[int],
    sizes: Sequence[int],
    out: Sequence[int],
) -> np.ndarray:
    """The output from the flat phase images ``acc``: one strided copy per phase, cropping
    ``padding`` (``output_padding`` extends the far side) and adding the bias."""
    _, n, c_out, _ = acc.shape
    plane = prod(sizes)
    y = np.empty((n, c_out, *out), dtype=acc.dtype)
    bias_b = None if bias is None else bias.reshape((c_out,) + (1,) * len(out))
    for phase, residues in enumerate(itertools.product(*[range(s) for s in stride])):
        # output position o reads uncropped position o + p = q·s + r
        dst: list[slice] = [slice(None), slice(None)]
        src: list[slice] = [slice(None), slice(None)]
        for r, s, p, o in zip(residues, stride, padding, out):
            first = (r - p) % s
            count = len(range(first, o, s))
            q0 = (first + p - r) // s
            dst.append(slice(first, o, s))
            src.append(slice(q0, q0 + count))
        image = acc[phase, :, :, :plane].reshape((n, c_out) + tuple(sizes))
        if bias_b is not None:
            np.add(image[tuple(src)], bias_b, out=y[tuple(dst)])
        else:
            y[tuple(dst)] = image[tuple(src)]
    return y
