"""Rearranging channels: PixelShuffle, PixelUnshuffle and ChannelShuffle.

None of these has parameters, and torch.utils.flop_counter counts no MACs for them.
Every rule PyTorch applies to them is enforced in forward (construction stores the
arguments unchecked), so every check here lives in ``out_shape``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..errors import ShapeError
from ..periodic import LIMIT, UNKNOWN, Periodic
from ..receptive import ReceptiveField, remap
from ..shape import Shape, prod
from .arguments import Arg, to_int
from .base import Example, Layer, register
from .checks import check_positive, rank_error
from .steps import Step


def _check_factor(name: str, value: int, what: str) -> None:
    if value <= 0:
        raise ShapeError(
            f"{what} expects a positive {name}, got {value}",
            argument=name,
            expected="a positive integer",
            got=value,
        )


@register
class PixelShuffle(Layer):
    @classmethod
    def example(cls) -> Example:
        return (2,), {}, (1, 8, 6, 6)

    summary = "(*, C·r², H, W) → (*, C, H·r, W·r)"
    ARGS = (Arg("upscale_factor", to_int),)
    upscale_factor: int

    def out_shape(self, x: Shape) -> Shape:
        r = self.upscale_factor
        if len(x) < 3:
            raise rank_error(
                "expects an input of at least 3 dimensions (*, C, H, W)", x, "3D or more"
            )
        _check_factor("upscale_factor", r, "pixel_shuffle")
        c = x[-3]
        if c % (r * r):
            lower = c - c % (r * r)
            raise ShapeError(
                f"channels must be divisible by upscale_factor² = {r * r}, receives {c}",
                argument="upscale_factor",
                expected=f"a multiple of {r * r}",
                got=c,
                dim=len(x) - 3,
                hint=f"use {lower or r * r} or {lower + r * r} channels",
            )
        return x[:-3] + (c // (r * r), x[-2] * r, x[-1] * r)

    def receptive_field(self, x: Shape, y: Shape, field: ReceptiveField) -> ReceptiveField | None:
        """Output element h reads input element h // r: a jump of 1/r."""
        r = self.upscale_factor
        return remap(field, [shuffle_map(r)] * min(2, len(field.size)))

    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        import numpy as np

        r = self.upscale_factor
        *lead, c, h, wd = x.shape
        v = x.reshape(*lead, c // (r * r), r, r, h, wd)
        b = len(lead)
        v = v.transpose(*range(b), b, b + 3, b + 1, b + 4, b + 2)
        return np.ascontiguousarray(v).reshape(*lead, c // (r * r), h * r, wd * r)

    def explain(self, x: Shape) -> Iterator[Step]:
        y = self.out_shape(x)
        r, rank = self.upscale_factor, len(x)
        yield Step("C_out", "C_in / upscale_factor²", (f"{x[-3]} / {r}²",), y[-3], dim=rank - 3)
        for d, axis in ((rank - 2, "H"), (rank - 1, "W")):
            yield Step(
                f"{axis}_out", f"{axis}_in · upscale_factor", (f"{x[d]} · {r}",), y[d], dim=d
            )


@register
class PixelUnshuffle(Layer):
    @classmethod
    def example(cls) -> Example:
        return (2,), {}, (1, 8, 6, 6)

    summary = "(*, C, H·r, W·r) → (*, C·r², H, W)"
    ARGS = (Arg("downscale_factor", to_int),)
    downscale_factor: int

    def out_shape(self, x: Shape) -> Shape:
        r = self.downscale_factor
        if len(x) < 3:
            raise rank_error(
                "expects an input of at least 3 dimensions (*, C, H, W)", x, "3D or more"
            )
        _check_factor("downscale_factor", r, "pixel_unshuffle")
        for d, axis in ((len(x) - 2, "H"), (len(x) - 1, "W")):
            if x[d] % r:
                lower = x[d] - x[d] % r
                raise ShapeError(
                    f"{axis} must be divisible by downscale_factor {r}, receives {x[d]}",
                    argument="downscale_factor",
                    expected=f"a multiple of {r}",
                    got=x[d],
                    dim=d,
                    hint=f"use {axis} {lower or r} or {lower + r}",
                )
        if prod(x) == 0:
            return x  # torch returns an empty input unchanged (a clone)
        return x[:-3] + (x[-3] * r * r, x[-2] // r, x[-1] // r)

    def receptive_field(self, x: Shape, y: Shape, field: ReceptiveField) -> ReceptiveField | None:
        """Output position h gathers input elements h·r … h·r + r − 1 into its channels."""
        r = self.downscale_factor
        return remap(field, [(0, r - 1, r)] * min(2, len(field.size)))

    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        import numpy as np

        if x.size == 0:
            return x.copy()
        r = self.downscale_factor
        *lead, c, h, wd = x.shape
        b = len(lead)
        v = x.reshape(*lead, c, h // r, r, wd // r, r)
        v = v.transpose(*range(b), b, b + 2, b + 4, b + 1, b + 3)
        return np.ascontiguousarray(v).reshape(*lead, c * r * r, h // r, wd // r)

    def explain(self, x: Shape) -> Iterator[Step]:
        y = self.out_shape(x)
        if prod(x) == 0:
            yield Step("output", "an empty input, returned as it is", (), y, counts="shape")
            return
        r, rank = self.downscale_factor, len(x)
        yield Step("C_out", "C_in · downscale_factor²", (f"{x[-3]} · {r}²",), y[-3], dim=rank - 3)
        for d, axis in ((rank - 2, "H"), (rank - 1, "W")):
            yield Step(
                f"{axis}_out", f"{axis}_in / downscale_factor", (f"{x[d]} / {r}",), y[d], dim=d
            )


@register
class ChannelShuffle(Layer):
    @classmethod
    def example(cls) -> Example:
        return (2,), {}, (1, 8, 6, 6)

    summary = "shuffles the channels (dim 1) in groups; shape unchanged"
    ARGS = (Arg("groups", to_int),)
    groups: int

    def out_shape(self, x: Shape) -> Shape:
        g = self.groups
        if len(x) < 3:
            raise rank_error(
                "expects an input of more than 2 dimensions (N, C, *)",
                x,
                "3D or more",
                hint="ChannelShuffle needs a batch dimension: channels are dim 1",
            )
        check_positive("groups", g, "positive")
        c = x[1]
        if c % g:
            raise ShapeError(
                f"channels must be divisible by groups: {c} channels, {g} groups",
                argument="groups",
                expected=f"a divisor of {c}",
                got=g,
                dim=1,
                hint=f"use groups dividing {c}, or {c - c % g or g} or {c - c % g + g} channels",
            )
        return x

    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        import numpy as np

        n, c = x.shape[0], x.shape[1]
        g = self.groups
        v = x.reshape(n, g, c // g, *x.shape[2:]).swapaxes(1, 2)
        return np.ascontiguousarray(v).reshape(x.shape)


def shuffle_map(r: int) -> Periodic:
    """A pixel shuffle's axis: output element o reads input element ⌊o / r⌋."""
    if r > LIMIT:
        return UNKNOWN
    return Periodic(r, 1, (0,) * r, (0,) * r)
