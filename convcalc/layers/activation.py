"""Activations and dropout: shape-preserving, no MACs, no parameters except PReLU's.

Every type is its own class (a NumPy kernel will be added to each); the shared
rules live in :class:`Pointwise`, :class:`_SoftmaxBase` and :class:`_DropoutBase`.
convcalc models inference, so dropout is the identity: only the rank checks
PyTorch makes in eval mode are errors; its rank warnings become notes.
"""

from __future__ import annotations

from typing import ClassVar, Dict, List, Optional

from ..errors import ShapeError
from ..shape import Shape, fmt_shape
from .base import (
    Arg,
    Layer,
    register,
    to_bool,
    to_choice,
    to_float,
    to_int,
    to_opt_float,
    to_opt_int,
)

INPLACE = Arg("inplace", to_bool, False)


class Pointwise(Layer):
    """Applied element by element: the output has the input's shape; no parameters, no MACs."""

    # Layer's defaults already say so: out_shape(x) = x, weights = {}, macs = 0


def _rank_error(what: str, x: Shape, expected: str, hint: Optional[str] = None) -> ShapeError:
    return ShapeError(
        f"expects a {what} input, receives {len(x)}D {fmt_shape(x)}",
        argument="input",
        expected=expected,
        got=len(x),
        hint=hint,
    )


# ------------------------------------------------------------- activations
@register
class ReLU(Pointwise):
    summary = "max(0, x)"
    ARGS = (INPLACE,)


@register
class ReLU6(Pointwise):
    summary = "min(max(0, x), 6)"
    ARGS = (INPLACE,)


@register
class LeakyReLU(Pointwise):
    summary = "x if x ≥ 0 else negative_slope·x"
    ARGS = (Arg("negative_slope", to_float, 0.01), INPLACE)


@register
class PReLU(Layer):
    summary = "LeakyReLU with a learned slope: one shared, or one per channel (dim 1)"
    ARGS = (Arg("num_parameters", to_int, 1), Arg("init", to_float, 0.25))
    IGNORED = ("device", "dtype")
    num_parameters: int
    init: float

    def check(self) -> None:
        if self.num_parameters < 0:
            raise ShapeError(
                f"num_parameters must be non-negative, got {self.num_parameters}",
                argument="num_parameters",
                expected="1 or the number of channels",
                got=self.num_parameters,
            )

    def out_shape(self, x: Shape) -> Shape:
        n = self.num_parameters
        if n == 1:
            return x
        if not x:
            raise ShapeError(
                f"num_parameters={n} needs an input with a channel dimension, receives a 0D input",
                argument="num_parameters",
                expected=1,
                got=n,
                hint="use num_parameters: 1",
            )
        # the channel dim is 1; a 1D input counts as one channel
        channels = x[1] if len(x) >= 2 else 1
        if channels != n:
            raise ShapeError(
                f"num_parameters={n} must be 1 or the number of channels"
                + (
                    f" (dim 1), receives {channels}"
                    if len(x) >= 2
                    else ", and a 1D input has 1 channel"
                ),
                argument="num_parameters",
                expected=channels,
                got=n,
                dim=1 if len(x) >= 2 else None,
                hint=f"set num_parameters: {channels} (or 1 for a shared slope)",
            )
        return x

    def weights(self, x: Optional[Shape]) -> Optional[Dict[str, Shape]]:
        return {"weight": (self.num_parameters,)}


@register
class ELU(Pointwise):
    summary = "x if x > 0 else alpha·(exp(x) − 1)"
    ARGS = (Arg("alpha", to_float, 1.0), INPLACE)


@register
class CELU(Pointwise):
    summary = "max(0, x) + min(0, alpha·(exp(x/alpha) − 1))"
    ARGS = (Arg("alpha", to_float, 1.0), INPLACE)
    alpha: float

    def out_shape(self, x: Shape) -> Shape:
        if self.alpha == 0:
            raise ShapeError(
                "alpha cannot be 0 for CELU", argument="alpha", expected="a non-zero number", got=0
            )
        return x


@register
class SELU(Pointwise):
    summary = "scale·ELU(x, alpha) with fixed scale ≈ 1.0507, alpha ≈ 1.6733"
    ARGS = (INPLACE,)


@register
class GELU(Pointwise):
    summary = "x·Φ(x); approximate='tanh' uses the tanh approximation"
    ARGS = (Arg("approximate", to_choice("none", "tanh"), "none"),)


@register
class SiLU(Pointwise):
    summary = "x·sigmoid(x) (swish)"
    ARGS = (INPLACE,)


@register
class Mish(Pointwise):
    summary = "x·tanh(softplus(x))"
    ARGS = (INPLACE,)


@register
class Sigmoid(Pointwise):
    summary = "1 / (1 + exp(−x))"


@register
class Tanh(Pointwise):
    summary = "tanh(x)"


@register
class Hardtanh(Pointwise):
    summary = "clamp(x, min_val, max_val)"
    ARGS = (
        Arg("min_val", to_float, -1.0),
        Arg("max_val", to_float, 1.0),
        INPLACE,
        # deprecated spellings; they override min_val/max_val
        Arg("min_value", to_opt_float, None),
        Arg("max_value", to_opt_float, None),
    )
    min_val: float
    max_val: float
    min_value: Optional[float]
    max_value: Optional[float]

    def check(self) -> None:
        lo = self.min_val if self.min_value is None else self.min_value
        hi = self.max_val if self.max_value is None else self.max_value
        if hi <= lo:
            raise ShapeError(
                f"max_val ({hi:g}) must be greater than min_val ({lo:g})",
                argument="max_val" if self.max_value is None else "max_value",
                expected=f"more than {lo:g}",
                got=hi,
            )


@register
class Hardswish(Pointwise):
    summary = "x·relu6(x + 3) / 6"
    ARGS = (INPLACE,)


@register
class Hardsigmoid(Pointwise):
    summary = "relu6(x + 3) / 6"
    ARGS = (INPLACE,)


@register
class Softplus(Pointwise):
    summary = "log(1 + exp(beta·x)) / beta; linear above threshold"
    ARGS = (Arg("beta", to_float, 1.0), Arg("threshold", to_float, 20.0))


@register
class Softsign(Pointwise):
    summary = "x / (1 + |x|)"


@register
class Tanhshrink(Pointwise):
    summary = "x − tanh(x)"


# ------------------------------------------------------------------ softmax
class _SoftmaxBase(Pointwise):
    ARGS = (Arg("dim", to_opt_int, None),)
    dim: Optional[int]

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

    def notes(self, x: Shape, y: Shape) -> List[str]:
        if self.dim is None:
            return [
                f"dim=None: PyTorch picks dim {self._dim(x)} for a {len(x)}D input (deprecated); set dim"
            ]
        return []


@register
class Softmax(_SoftmaxBase):
    summary = "exp(x) / sum(exp(x)) along dim"


@register
class LogSoftmax(_SoftmaxBase):
    summary = "log(softmax(x)) along dim"


@register
class Softmax2d(Pointwise):
    summary = "softmax over the channels at every spatial position: (N, C, H, W) or (C, H, W)"

    def out_shape(self, x: Shape) -> Shape:
        if len(x) not in (3, 4):
            raise _rank_error(
                "3D (C, H, W) or 4D (N, C, H, W)",
                x,
                "3D or 4D",
                hint="use Softmax(dim=...) for other ranks",
            )
        return x


# ------------------------------------------------------------------ dropout
class _DropoutBase(Pointwise):
    """Identity at inference. ``nd`` > 0: channel-wise dropout expecting (N, C, *nd spatial)."""

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

    def notes(self, x: Shape, y: Shape) -> List[str]:
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
    def example(cls):  # type: ignore[no-untyped-def]
        return (0.2,), {}, (1, 8, 6)

    summary = "zeroes whole channels of (N, C, L) or (C, L) when training; identity at inference"
    nd = 1

    def out_shape(self, x: Shape) -> Shape:
        if len(x) not in (2, 3):
            raise _rank_error(
                "2D (C, L) or 3D (N, C, L)",
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
