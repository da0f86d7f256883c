"""LPPool1d/2d/3d: power-average pooling, an average pooling of xᵖ (pool.py) taken to the
power 1/p. No parameters and no MACs, as every pooling."""

from __future__ import annotations

import math
from typing import Any

from ..errors import ShapeError
from ..shape import Shape, prod
from .arguments import (
    Arg,
    Repeated,
    refuse_repeated,
    to_bool,
    to_float,
)
from .base import Example, register
from .checks import spatial_example
from .pool import AvgPoolNd, to_single_window, to_window
from .pool_kernels import window_reduce


class LPPoolNd(AvgPoolNd):
    """Power-average pooling as torch computes it: the average of xᵖ over each window (no
    padding, count_include_pad, torch's divisor for ceil_mode's partial windows), times the
    kernel's size, to the power 1/p; for p = ±inf, the window's largest (smallest) |x|."""

    @classmethod
    def example(cls) -> Example:
        return (2, 2), {}, spatial_example(cls.nd)

    summary = "N-d power-average pooling: (Σ over the window of xᵖ)^(1/p), no padding; stride defaults to kernel_size"
    norm_type: float

    @classmethod
    def _args(cls, nd: int) -> tuple[Arg, ...]:
        return (
            Arg("norm_type", to_float),
            Arg("kernel_size", to_single_window if nd == 1 else to_window(nd)),
            Arg("stride", to_window(nd, optional=True), None),
            Arg("ceil_mode", to_bool, False),
        )

    def check(self) -> None:
        if self.norm_type == 0:
            raise ShapeError(
                "norm_type must not be 0: the result is taken to the power 1/norm_type",
                argument="norm_type",
                expected="a non-zero number",
                got=self.norm_type,
                hint="norm_type 1 sums the window, 2 takes its Euclidean norm",
            )
        refuse_repeated("kernel_size", self.kernel_size, self.nd, "torch unpacks it into sizes")
        if isinstance(self.kernel_size, Repeated) and not math.isinf(self.norm_type):
            k = self.kernel_size[0]
            raise ShapeError(
                f"kernel_size must be an integer, got {list(self.kernel_size)}: LPPool1d "
                "multiplies its result by kernel_size, which torch fails to do with a tuple",
                argument="kernel_size",
                expected="an integer",
                got=list(self.kernel_size),
                hint=f"write kernel_size={k}",
            )
        super().check()

    def _check_input(self, cdim: int, spatial: Shape) -> None:
        # p = ±inf is a max pooling in torch, without AvgPool3d's rule on small inputs
        if not math.isinf(self.norm_type):
            super()._check_input(cdim, spatial)

    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        import numpy as np

        from ..kernels import chunks

        p = x.dtype.type(self.norm_type)
        nd = self.nd
        spatial = tuple(x.shape[x.ndim - nd :])
        y_shape = self.out_shape(tuple(x.shape))
        if np.isinf(p):
            # torch's special case: the largest |x| of each window (p = -inf: the smallest)
            magnitude = np.abs(x)
            if p < 0:
                np.negative(magnitude, out=magnitude)
            y = window_reduce(
                magnitude,
                y_shape[len(y_shape) - nd :],
                self.kernel_size,
                self.strides(),
                self.padding,
                self.dilations(),
                True,
                budget,
            )
            return np.negative(y, out=y) if p < 0 else y
        y = np.empty(y_shape, dtype=x.dtype)
        if y.size == 0:
            return y
        # every plane on its own (as (planes, 1, *spatial)), xᵖ a piece of planes at a time
        planes = x.reshape((-1, 1) + spatial)
        pooled = y.reshape((-1, 1) + tuple(y_shape[len(y_shape) - nd :]))
        per_plane = 2 * prod(spatial) * x.itemsize
        # torch's arithmetic as it is: a negative average with a fractional 1/p is nan
        with np.errstate(all="ignore"):
            for part in chunks(planes.shape[0], per_plane, budget):
                powered = np.power(planes[part], p)
                pooled[part] = super().forward(powered, w, max(budget - powered.nbytes, 1))
                del powered  # before the next piece's: never two at once
            y *= x.dtype.type(prod(self.kernel_size))
            np.power(y, 1.0 / p, out=y)
        return y

    def workspace(self, x: Shape, y: Shape) -> int:
        return super().workspace(x, y) + prod(x)  # xᵖ


@register
class LPPool1d(LPPoolNd):
    nd = 1
    ARGS = LPPoolNd._args(1)
    padding = (0,)
    count_include_pad = True


@register
class LPPool2d(LPPoolNd):
    nd = 2
    ARGS = LPPoolNd._args(2)
    padding = (0, 0)
    count_include_pad = True


@register
class LPPool3d(LPPoolNd):
    nd = 3
    ARGS = LPPoolNd._args(3)
    padding = (0, 0, 0)
    count_include_pad = True
