"""NumPy building blocks shared by the layers' forward kernels.

Imported only by ``forward`` methods and the runner, never by ``convcalc shape``.
Everything works on the trailing ``nd`` spatial axes of an array and returns
views where it can.
"""

from __future__ import annotations

from typing import List, Sequence, Tuple

import numpy as np

PadPairs = Sequence[Tuple[int, int]]

_NP_MODES = {"zeros": "constant", "constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def pad(x: np.ndarray, pads: PadPairs, mode: str = "zeros", value: float = 0.0) -> np.ndarray:
    """Pad the trailing ``len(pads)`` axes with (before, after) pairs, in PyTorch's modes.

    ``mode``: zeros | constant | reflect | replicate | circular. Negative pairs crop.
    """
    if not any(b or a for b, a in pads):
        return x
    nd = len(pads)
    crop = [slice(None)] * x.ndim
    widths = [(0, 0)] * (x.ndim - nd)
    for axis, (before, after) in enumerate(pads, start=x.ndim - nd):
        crop[axis] = slice(max(-before, 0), x.shape[axis] - max(-after, 0))
        widths.append((max(before, 0), max(after, 0)))
    x = x[tuple(crop)]
    np_mode = _NP_MODES[mode]
    if np_mode == "constant":
        return np.pad(x, widths, mode="constant", constant_values=value)
    return np.pad(x, widths, mode=np_mode)


def windows(
    x: np.ndarray, kernel: Sequence[int], stride: Sequence[int], dilation: Sequence[int] | None = None
) -> np.ndarray:
    """A strided view of every window over the trailing ``len(kernel)`` axes.

    Shape: ``x.shape[:-nd] + out + kernel`` with ``out = (in - d(k-1) - 1) // s + 1``.
    """
    nd = len(kernel)
    dilation = dilation or (1,) * nd
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    axes = tuple(range(x.ndim - nd, x.ndim))
    view = np.lib.stride_tricks.sliding_window_view(x, span, axis=axes)
    index = (Ellipsis,) + tuple(slice(None, None, s) for s in stride) + tuple(slice(None, None, d) for d in dilation)
    return view[index]


def chunks(total: int, per_item_bytes: int, budget: int) -> Sequence[slice]:
    """Split ``range(total)`` into slices whose temporaries (``per_item_bytes`` each) fit ``budget``."""
    step = max(1, budget // max(per_item_bytes, 1))
    return [slice(i, min(i + step, total)) for i in range(0, total, step)]


# ------------------------------------------------------------------ convolution
def _prod(values: Sequence[int]) -> int:
    out = 1
    for v in values:
        out *= int(v)
    return out


def _row_chunks(n: int, rows: int, per_row_bytes: int, budget: int) -> List[Tuple[slice, slice]]:
    """(batch slice, row slice) pairs covering ``n`` items of ``rows`` rows each, with at most
    ``budget`` bytes of temporaries per pair (whole items when one fits, else row ranges)."""
    per_item = per_row_bytes * rows
    if per_item <= budget or rows <= 1:
        return [(b, slice(0, rows)) for b in chunks(n, per_item, budget)]
    return [(slice(i, i + 1), r) for i in range(n) for r in chunks(rows, per_row_bytes, budget)]


def conv_columns_bytes(
    c_in: int, kernel: Sequence[int], out: Sequence[int], itemsize: int
) -> int:
    """Bytes of the column matrix one item of a convolution needs (0 when none is built)."""
    return c_in * _prod(kernel) * _prod(out) * itemsize


def conv(
    xp: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    stride: Sequence[int],
    dilation: Sequence[int],
    groups: int,
    budget: int,
) -> np.ndarray:
    """Cross-correlation of the already padded batched ``xp`` (N, C, *spatial) with ``weight``
    (C_out, C/groups, *kernel), as PyTorch's ConvNd computes it.

    Dense and grouped: one column matrix (N, groups, C/g·∏k, ∏out) built from a strided window
    view with one copy, and one BLAS product per (item, group) through ``np.matmul``'s batch
    dimensions — the output comes out in NC(spatial) order with no transpose. Depthwise
    (C/g == 1): a multiply-accumulate over kernel offsets on strided views, vectorised over
    batch, channels and pixels. Chunked over the batch, then over output rows, to keep the
    temporaries under ``budget`` bytes.
    """
    nd = weight.ndim - 2
    n, c = xp.shape[:2]
    c_out, cig = weight.shape[:2]
    kernel = weight.shape[2:]
    span = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    out = [(size - sp) // s + 1 for size, sp, s in zip(xp.shape[2:], span, stride)]
    g = groups
    cog = c_out // g
    y = np.empty((n, c_out, *out), dtype=xp.dtype)
    item = xp.dtype.itemsize
    rest = _prod(out[1:])
    if cig == 1 and g > 1:
        # depthwise, depth multiplier m: y[n, c, j] = sum over offsets of w[c*m + j, 0, off] * x[n, c, off + ...]
        m = cog
        wd = weight.reshape(g, m, _prod(kernel))
        per_row = 2 * c_out * rest * item
        for bs, rs in _row_chunks(n, out[0], per_row, budget):
            _depthwise(xp[bs], wd, kernel, stride, dilation, out, rs, y[bs, :, rs])
    else:
        k_g = cig * _prod(kernel)
        wg = weight.reshape(g, cog, k_g)
        pointwise = all(k == 1 for k in kernel) and all(s == 1 for s in stride)
        per_row = (0 if pointwise else c * _prod(kernel) * rest * item) + (c_out * rest * item)
        for bs, rs in _row_chunks(n, out[0], per_row, budget):
            rows = rs.stop - rs.start
            lo = rs.start * stride[0]
            hi = (rs.stop - 1) * stride[0] + span[0]
            part = xp[bs, :, lo:hi]
            cols = windows(part, kernel, stride, dilation)  # (n, C, *out, *k)
            m = cols.shape[0]
            cols = cols.transpose((0, 1) + tuple(range(2 + nd, 2 + 2 * nd)) + tuple(range(2, 2 + nd)))
            cols = cols.reshape(m, g, k_g, rows * rest)  # the one copy (none for pointwise)
            prod_ = np.matmul(wg, cols)  # (n, g, cog, pixels)
            y[bs, :, rs] = prod_.reshape((m, c_out, rows) + tuple(out[1:]))
    if bias is not None:
        y += bias.reshape((c_out,) + (1,) * nd)
    return y


def _depthwise(
    xp: np.ndarray,
    wd: np.ndarray,
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    out: Sequence[int],
    rows: slice,
    y: np.ndarray,
) -> None:
    """Depthwise convolution of output rows ``rows`` into ``y`` (n, C·m, rows, *out[1:])."""
    import itertools

    nd = len(kernel)
    n = xp.shape[0]
    g, m, _ = wd.shape
    shape = (n, g, m, rows.stop - rows.start) + tuple(out[1:])
    acc = y.reshape(shape) if y.flags.c_contiguous else np.empty(shape, dtype=y.dtype)
    tmp = np.empty(shape, dtype=y.dtype)
    first = True
    starts = [rows.start] + [0] * (nd - 1)
    count = [rows.stop - rows.start] + list(out[1:])
    for i, offset in enumerate(itertools.product(*[range(k) for k in kernel])):
        index = [slice(None), slice(None), None]
        for a, (o, s, d, st, cn) in enumerate(zip(offset, stride, dilation, starts, count)):
            b = st * s + o * d
            index.append(slice(b, b + (cn - 1) * s + 1, s))
        view = xp[tuple(index)]  # (n, g, 1, *rows)
        wi = wd[:, :, i].reshape((g, m) + (1,) * nd)
        if first:
            np.multiply(view, wi, out=acc)
            first = False
        else:
            np.multiply(view, wi, out=tmp)
            acc += tmp
    if acc is not y:
        y[...] = acc.reshape(y.shape)


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
) -> np.ndarray:
    """PyTorch's ConvTransposeNd on the batched ``x`` (N, C_in, *spatial), ``weight``
    (C_in, C_out/groups, *kernel).

    One BLAS product per (item, group) scatters every input pixel to its kernel footprint,
    ``cols = Wᵀ x`` of shape (N, C_out, *kernel, *in); an overlap-add (col2im: one strided
    add per kernel offset) sums the footprints into the uncropped output, from which
    ``padding`` is cropped on both sides (``output_padding`` extends the far side).
    Chunked over the batch, then over input rows, under ``budget`` bytes.
    """
    import itertools

    nd = weight.ndim - 2
    n, c_in = x.shape[:2]
    cog = weight.shape[1]
    kernel = weight.shape[2:]
    g = groups
    cig = c_in // g
    c_out = cog * g
    inp = x.shape[2:]
    kk = _prod(kernel)
    full = [(i - 1) * s + d * (k - 1) + 1 for i, s, d, k in zip(inp, stride, dilation, kernel)]
    out = [f - 2 * p + op for f, p, op in zip(full, padding, output_padding)]
    size = [max(f, p + o) for f, p, o in zip(full, padding, out)]
    yf = np.zeros((n, c_out, *size), dtype=x.dtype)
    wt = weight.reshape(g, cig, cog * kk).transpose(0, 2, 1)  # (g, cog·∏k, cig), a view
    rest = _prod(inp[1:])
    per_row = c_out * kk * rest * x.dtype.itemsize
    for bs, rs in _row_chunks(n, inp[0], per_row, budget):
        part = x[bs, :, rs]
        m = part.shape[0]
        rows = rs.stop - rs.start
        sub = (rows,) + tuple(inp[1:])
        cols = np.matmul(wt, part.reshape(m, g, cig, rows * rest))  # (m, g, cog·∏k, pixels)
        cols = cols.reshape((m, c_out) + tuple(kernel) + sub)
        target = yf[bs]
        for offset in itertools.product(*[range(k) for k in kernel]):
            index: List[slice] = [slice(None), slice(None)]
            for a, (o, s, d, cnt) in enumerate(zip(offset, stride, dilation, sub)):
                b = o * d + (rs.start * s if a == 0 else 0)
                index.append(slice(b, b + (cnt - 1) * s + 1, s))
            target[tuple(index)] += cols[(slice(None), slice(None)) + offset]
    crop = (slice(None), slice(None)) + tuple(slice(p, p + o) for p, o in zip(padding, out))
    y = yf[crop]
    if y.shape != yf.shape:
        y = np.ascontiguousarray(y)
    if bias is not None:
        y += bias.reshape((c_out,) + (1,) * nd)
    return y
