"""Dropout: convcalc models inference, so every dropout is the identity: only the rank checks
PyTorch makes in eval mode are errors; its rank warnings become notes."""

from __future__ import annotations

from typing import Any, ClassVar

from ..errors import ShapeError
from ..shape import Shape
from .arguments import Arg, to_float
from .base import Example, register
from .checks import rank_error
from .pointwise import INPLACE, Pointwise


class _DropoutBase(Pointwise):
    """Identity at inference. ``nd`` > 0: channel-wise dropout expecting (N, C, *nd spatial)."""

    TEMPS = 0
    SHARES_INPUT = True
    REUSES_INPUT = False  # its forward returns the input itself

    def mutates_input(self) -> bool:
        return False  # inplace=True changes nothing at inference

    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        return x  # eval mode: the identity

    nd: ClassVar[int] = 0
    ARGS = (Arg("p", to_float, 0.5), INPLACE)
    p: float

    def check(self) -> None:
        if not 0 <= self.p <= 1:
            raise ShapeError(
                f"dropout probability has to be between 0 and 1, got {self.p:g}",
                argument="p",
                expected="0 to 1",
                got=self.p,
            )

    def notes(self, x: Shape, y: Shape) -> list[str]:
        nd = self.nd
        if nd == 2 and len(x) == 3:
            return ["PyTorch warns: a 3D input to Dropout2d is taken as (N, C, L); use Dropout1d"]
        if nd < 2 or len(x) in (nd + 1, nd + 2):
            return []
        return [
            f"PyTorch warns: Dropout{nd}d expects a {nd + 1}D or {nd + 2}D input (deprecated, future error)"
        ]


@register
class Dropout(_DropoutBase):
    summary = "zeroes elements with probability p when training; identity at inference"


@register
class Dropout1d(_DropoutBase):
    @classmethod
    def example(cls) -> Example:
        return (0.2,), {}, (1, 8, 6)

    summary = "zeroes whole channels of (N, C, L) or (C, L) when training; identity at inference"
    nd = 1

    def out_shape(self, x: Shape) -> Shape:
        if len(x) not in (2, 3):
            raise rank_error(
                "expects a 2D (C, L) or 3D (N, C, L) input",
                x,
                "2D or 3D",
                hint="use Dropout for element-wise dropout on other ranks",
            )
        return x


@register
class Dropout2d(_DropoutBase):
    summary = (
        "zeroes whole channels of (N, C, H, W) or (C, H, W) when training; identity at inference"
    )
    nd = 2


@register
class Dropout3d(_DropoutBase):
    summary = "zeroes whole channels of (N, C, D, H, W) or (C, D, H, W) when training; identity at inference"
    nd = 3


@register
class AlphaDropout(_DropoutBase):
    summary = "dropout that keeps SELU's mean and variance when training; identity at inference"


@register
class FeatureAlphaDropout(_DropoutBase):
    summary = "AlphaDropout of whole channels when training; identity at inference"
