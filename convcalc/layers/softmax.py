"""Softmax and its relatives along one dimension: Softmax, Softmin, LogSoftmax, Softmax2d,
and GLU, which halves its dimension."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from ..errors import ShapeError
from ..receptive import AxisMap, ReceptiveField, make_global, remap, spatial_axes
from ..shape import Shape, prod
from .arguments import Arg, to_int, to_opt_int
from .base import Layer, register
from .checks import rank_error
from .pointwise import Pointwise
from .special import sigmoid
from .steps import Step


def softmax(x: Any, dim: int, log: bool, budget: int, negate: bool = False) -> Any:
    """(Log)softmax of ``x`` (of ``-x`` when ``negate``: softmin) along ``dim``,
    max-subtracted; chunked along another axis, one temporary per chunk (two for log)."""
    import numpy as np

    from ..kernels import chunks

    if x.ndim == 0:  # torch treats a 0-D input as 1-D
        return softmax(x.reshape(1), 0, log, budget, negate).reshape(())
    out = np.empty(x.shape, dtype=x.dtype)
    others = [a for a in range(x.ndim) if a != dim]
    axis = max(others, key=lambda a: x.shape[a]) if others else None
    parts: Sequence[slice] = [slice(None)]
    if axis is not None:
        per = (2 if log else 1) * x.itemsize * prod(x.shape) // max(x.shape[axis], 1)
        parts = chunks(x.shape[axis], per, budget)
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        for part in parts:
            index = tuple(part if a == axis else slice(None) for a in range(x.ndim))
            v = -x[index] if negate else x[index]
            if negate:  # v is already a temporary: shift it in place
                shifted = np.subtract(v, v.max(axis=dim, keepdims=True), out=v)
            else:
                shifted = v - v.max(axis=dim, keepdims=True)
            if log:
                total = np.exp(shifted).sum(axis=dim, keepdims=True)
                np.subtract(shifted, np.log(total), out=out[index])
            else:
                np.exp(shifted, out=shifted)
                np.divide(shifted, shifted.sum(axis=dim, keepdims=True), out=out[index])
            del v, shifted  # before the next chunk's: never two at once
    return out


class _SoftmaxBase(Pointwise):
    REUSES_INPUT = False  # its forward works along a dimension, not element by element
    ARGS = (Arg("dim", to_opt_int, None),)
    dim: int | None

    def _dim(self, x: Shape) -> int:
        """The dimension normalised over; PyTorch treats a 0D input like a 1D one."""
        if self.dim is None:
            return 0 if len(x) in (0, 1, 3) else 1
        rank = max(len(x), 1)
        if not -rank <= self.dim < rank:
            raise ShapeError(
                f"dim={self.dim} is out of range for a {len(x)}D input (expected -{rank} to {rank - 1})",
                argument="dim",
                expected=f"-{rank} to {rank - 1}",
                got=self.dim,
                hint="use dim: -1 for the last dimension",
            )
        return self.dim % rank

    def out_shape(self, x: Shape) -> Shape:
        self._dim(x)
        return x

    def receptive_field(self, x: Shape, y: Shape, field: ReceptiveField) -> ReceptiveField | None:
        """Over a spatial axis, every position reaches every other: that axis is global."""
        return make_global(field, spatial_axes(field, len(x), [self._dim(x)]))

    LOG: ClassVar[bool] = False

    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        return softmax(x, self._dim(x.shape), self.LOG, budget)

    def workspace(self, x: Shape, y: Shape) -> int:
        return prod(x)

    def notes(self, x: Shape, y: Shape) -> list[str]:
        if self.dim is None:
            return [
                f"dim=None: PyTorch picks dim {self._dim(x)} for a {len(x)}D input (deprecated); set dim"
            ]
        return []


@register
class Softmax(_SoftmaxBase):
    summary = "exp(x) / sum(exp(x)) along dim"


@register
class Softmin(_SoftmaxBase):
    summary = "softmax(−x) along dim"

    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        return softmax(x, self._dim(x.shape), False, budget, negate=True)


@register
class GLU(Layer):
    summary = "gated linear unit: splits dim in halves a, b and returns a · sigmoid(b)"
    ARGS = (Arg("dim", to_int, -1),)
    dim: int

    def _dim(self, x: Shape) -> int:
        rank = len(x)
        if not -rank <= self.dim < max(rank, 1):
            raise ShapeError(
                f"dim={self.dim} is out of range for a {rank}D input",
                argument="dim",
                expected=f"-{rank} to {rank - 1}",
                got=self.dim,
            )
        return self.dim % rank

    def out_shape(self, x: Shape) -> Shape:
        if not x:
            raise ShapeError("expects an input of at least 1 dimension", argument="input", got=x)
        d = self._dim(x)
        if x[d] % 2:
            raise ShapeError(
                f"halving dimension must be even, but dimension {d} is size {x[d]}",
                argument="dim",
                expected="an even size",
                got=x[d],
                dim=d,
            )
        return x[:d] + (x[d] // 2,) + x[d + 1 :]

    def receptive_field(self, x: Shape, y: Shape, field: ReceptiveField) -> ReceptiveField | None:
        """Along a spatial axis, output element i reads i and i + half: the region spans both."""
        d = self._dim(x)
        axes = spatial_axes(field, len(x), [d])
        if not axes:
            return field
        steps: list[AxisMap | None] = [None] * len(field.size)
        steps[axes[0]] = (0, x[d] // 2, 1)
        return remap(field, steps)

    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        import numpy as np

        a, b = np.split(x, 2, axis=self._dim(x.shape))
        return a * sigmoid(b)

    def explain(self, x: Shape) -> Iterator[Step]:
        y = self.out_shape(x)
        d = self._dim(x)
        yield Step(f"d{d}_out", f"d{d}_in / 2 (the halves a and b)", (f"{x[d]} / 2",), y[d], dim=d)


@register
class LogSoftmax(_SoftmaxBase):
    summary = "log(softmax(x)) along dim"
    LOG = True


@register
class Softmax2d(Pointwise):
    summary = "softmax over the channels at every spatial position: (N, C, H, W) or (C, H, W)"
    REUSES_INPUT = False  # its forward works along the channels, not element by element

    def out_shape(self, x: Shape) -> Shape:
        if len(x) not in (3, 4):
            raise rank_error(
                "expects a 3D (C, H, W) or 4D (N, C, H, W) input",
                x,
                "3D or 4D",
                hint="use Softmax(dim=...) for other ranks",
            )
        return x

    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        return softmax(x, x.ndim - 3, False, budget)

    def workspace(self, x: Shape, y: Shape) -> int:
        return prod(x)
