"""Merge layers: Add, Mul and Concat read several earlier outputs (``from: [a, b]``).

They are torch operations rather than nn modules (``a + b``, ``a * b``,
``torch.cat``), have no parameters and count no MACs (FlopCounterMode counts
none of them). The spec reader sets ``sources`` to the names they read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from ..errors import ShapeError
from ..receptive import ReceptiveField, spatial_axes, union
from ..shape import Shape, fmt_shape
from .arguments import Arg, to_int
from .base import Example, Layer, register
from .steps import Step

Shapes = tuple[Shape, ...]


class Merge(Layer):
    """Shared by the merges: at least two inputs, named in ``sources``."""

    multi_input: ClassVar[bool] = True

    @classmethod
    def example(cls) -> Example:
        return (), {}, ((1, 8, 6, 6), (1, 8, 6, 6))

    def _named(self, i: int, shape: Shape) -> str:
        source = f" from '{self.sources[i]}'" if i < len(self.sources) else ""
        return f"{fmt_shape(shape)}{source}"

    def out_shape(self, x: Any) -> Shape:
        xs: Shapes = tuple(x)
        if len(xs) < 2:
            raise ShapeError(
                f"needs at least two inputs, receives {len(xs)}",
                argument="from",
                expected="2 or more inputs",
                got=len(xs),
                hint="list the outputs to merge: from: [a, b]",
            )
        return self.merge(xs)

    def receptive_field(self, x: Any, y: Shape, field: Any) -> ReceptiveField | None:
        """The union of what its inputs read."""
        return union(field)

    def merge(self, xs: Shapes) -> Shape:
        raise NotImplementedError

    def torch_expression(self, inputs: Sequence[str]) -> str:
        """The torch operation it stands for, over the Python expressions ``inputs``."""
        raise NotImplementedError


@register
class Add(Merge):
    summary = "elementwise sum of its inputs (from: [a, b, …]); all shapes must be equal"

    def torch_expression(self, inputs: Sequence[str]) -> str:
        return " + ".join(inputs)

    def merge(self, xs: Shapes) -> Shape:
        first = xs[0]
        for i, x in enumerate(xs[1:], start=1):
            if x != first:
                raise ShapeError(
                    f"inputs {self._named(0, first)} and {self._named(i, x)} differ",
                    argument="from",
                    expected=first,
                    got=x,
                    hint=_shortcut_hint(
                        (self.sources[0], self.sources[i]) if self.sources else (), first, x
                    ),
                )
        return first

    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        import numpy as np

        out = np.add(x[0], x[1])
        for more in x[2:]:
            np.add(out, more, out=out)
        return out

    def explain(self, x: Any) -> Iterator[Step]:
        y = self.out_shape(x)
        shapes = ", ".join(fmt_shape(s) for s in x)
        yield Step("output", "the inputs' shape, the same for all", (shapes,), y, counts="shape")


@register
class Mul(Merge):
    summary = (
        "elementwise product of its inputs, broadcasting as torch does (squeeze-and-excitation)"
    )

    def torch_expression(self, inputs: Sequence[str]) -> str:
        return " * ".join(inputs)

    def merge(self, xs: Shapes) -> Shape:
        out = xs[0]
        for i, x in enumerate(xs[1:], start=1):
            rank = max(len(out), len(x))
            a = (1,) * (rank - len(out)) + out
            b = (1,) * (rank - len(x)) + x
            if any(p != q and p != 1 and q != 1 for p, q in zip(a, b)):
                raise ShapeError(
                    f"inputs {self._named(0, xs[0])} and {self._named(i, x)} do not broadcast",
                    argument="from",
                    expected="sizes that are equal or 1 in every dimension",
                    got=x,
                    hint="a squeeze-and-excitation scale must be (N, C, 1, 1) for an (N, C, H, W) input",
                )
            out = tuple(max(p, q) if min(p, q) != 0 else 0 for p, q in zip(a, b))
        return out

    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        import numpy as np

        out = np.multiply(x[0], x[1])
        for more in x[2:]:
            out = np.multiply(out, more)
        return out

    def explain(self, x: Any) -> Iterator[Step]:
        y = self.out_shape(x)
        shapes = ", ".join(fmt_shape(s) for s in x)
        yield Step(
            "output",
            "per dimension the size other than 1 (broadcast, aligned from the last)",
            (f"broadcast({shapes})",),
            y,
            counts="shape",
        )


@register
class Concat(Merge):
    summary = "concatenates its inputs along dim (default 1, the channels), as torch.cat"
    ARGS = (Arg("dim", to_int, 1),)
    dim: int

    def torch_expression(self, inputs: Sequence[str]) -> str:
        return f"torch.cat([{', '.join(inputs)}], dim={self.dim})"

    def merge(self, xs: Shapes) -> Shape:
        first = xs[0]
        rank = len(first)
        if not -rank <= self.dim < rank:
            raise ShapeError(
                f"dim={self.dim} is out of range for {rank}D inputs",
                argument="dim",
                expected=f"-{rank} to {rank - 1}",
                got=self.dim,
            )
        d = self.dim % rank
        for i, x in enumerate(xs[1:], start=1):
            if len(x) != rank:
                raise ShapeError(
                    f"inputs {self._named(0, first)} and {self._named(i, x)} differ in rank",
                    argument="from",
                    expected=f"{rank} dimensions",
                    got=len(x),
                    hint="give every branch the same number of dimensions",
                )
            differ = [j for j, (p, q) in enumerate(zip(first, x)) if j != d and p != q]
            if differ:
                j = differ[0]
                raise ShapeError(
                    f"inputs {self._named(0, first)} and {self._named(i, x)} differ outside dim {d}",
                    argument="from",
                    expected=first[j],
                    got=x[j],
                    dim=j,
                    hint="resize or pool the branches to the same spatial size before Concat",
                    branch=i,
                )
        return first[:d] + (sum(x[d] for x in xs),) + first[d + 1 :]

    def receptive_field(self, x: Any, y: Shape, field: Any) -> ReceptiveField | None:
        """The union of its inputs' regions; along a spatial axis the elements come from
        different inputs, on no single grid: no field."""
        rank = len(y)
        if union(field) is None or spatial_axes(field[0], rank, [self.dim % rank]):
            return None
        return union(field)

    def parts(self, x: Any, dim: int) -> tuple[int, ...] | None:
        return tuple(s[dim] for s in x) if dim == self.dim % len(x[0]) else None

    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        import numpy as np

        return np.concatenate(list(x), axis=self.dim)

    def explain(self, x: Any) -> Iterator[Step]:
        y = self.out_shape(x)
        d = self.dim % len(y)
        parts = " + ".join(str(s[d]) for s in x)
        yield Step(f"d{d}_out", f"the sum of the inputs' dim {d}", (parts,), y[d], dim=d)


def _shortcut_hint(sources: tuple[str, ...], a: Shape, b: Shape) -> str:
    """For a residual Add whose branch changed channels and resolution: the projection it needs."""
    generic = "make both branches produce the same shape"
    if len(a) != len(b) or len(a) < 3 or a[0] != b[0]:
        return generic
    # the branch with the larger spatial size is the shortcut that needs projecting
    big, small, name = (
        (b, a, sources[1] if len(sources) > 1 else "")
        if b[2:] >= a[2:]
        else (a, b, sources[0] if sources else "")
    )
    if any(s == 0 or g % s for g, s in zip(big[2:], small[2:])):
        return generic
    strides = {g // s for g, s in zip(big[2:], small[2:])}
    if len(strides) != 1:
        return generic
    (stride,) = strides
    nd = len(big) - 2
    stride_text = f" with stride {stride}" if stride > 1 else ""
    origin = f"the shortcut from '{name}'" if name else "the shortcut"
    return (
        f"{origin} needs a 1×1 Conv{nd}d{stride_text} to {small[1]} channels "
        f"(and a BatchNorm{nd}d) to match {fmt_shape(small)}"
    )
