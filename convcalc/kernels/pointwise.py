"""Pointwise convolution (1×1 kernel, stride 1): the input multiplied as it is."""

from __future__ import annotations

import numpy as np

from .blas import NO_TRANS, ROW_MAJOR, Gemm
from .choose import Case
from .memory import prod


def pointwise(case: Case, x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """One product per item (and group), the bias added after (the output grid is the
    input's: a 1×1 kernel at stride 1, any padding already applied)."""
    n, g = x.shape[0], case.groups
    c_out, cig = weight.shape[:2]
    y = np.empty((n, c_out, *x.shape[2:]), dtype=x.dtype)
    cog = c_out // g
    np.matmul(weight.reshape(g, cog, cig), x.reshape(n, g, cig, -1), out=y.reshape(n, g, cog, -1))
    if bias is not None:
        y += bias.reshape((c_out,) + (1,) * (x.ndim - 2))
    return y


def pointwise_onto_bias(
    gemm: Gemm, case: Case, x: np.ndarray, weight: np.ndarray, bias: np.ndarray
) -> np.ndarray:
    """y = bias + weight @ x for one item and one group, by one ``cblas_?gemm`` with β = 1
    onto the bias written first: one pass over ``y`` fewer than adding the bias after."""
    c_out, c = weight.shape[:2]
    assert x.shape[0] == 1 and case.groups == 1
    y = np.empty((1, c_out, *x.shape[2:]), dtype=x.dtype)
    y[...] = bias.reshape((c_out,) + (1,) * (x.ndim - 2))
    xs = np.ascontiguousarray(x, dtype=y.dtype)
    ws = np.ascontiguousarray(weight, dtype=y.dtype)
    p = prod(y.shape[2:])
    # row-major, no transposes: (C_out × C) @ (C × positions) + y
    gemm(ROW_MAJOR, NO_TRANS, NO_TRANS, c_out, p, c, 1.0, ws.ctypes.data, c, xs.ctypes.data, p,
         1.0, y.ctypes.data, p)  # fmt: skip
    return y
