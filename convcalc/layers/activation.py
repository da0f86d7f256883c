"""Activations: ReLU and its relatives, the smooth and the hard ones, the shrinks.

Each is a :class:`~.pointwise.Pointwise` class with its NumPy kernel (PReLU, which has a
parameter, is a plain Layer)."""

from __future__ import annotations

from typing import Any, ClassVar

from ..errors import ShapeError
from ..shape import Shape, prod
from .arguments import Arg, to_choice, to_float, to_int, to_opt_float
from .base import Example, Layer, register
from .pointwise import INPLACE, Pointwise, elementwise
from .special import erf, erf_fast


@register
class ReLU(Pointwise):
    summary = "max(0, x)"
    ARGS = (INPLACE,)

    TEMPS = 0
    KERNEL = "into"

    def into(self, x: Any, out: Any) -> Any:
        import numpy as np

        return np.maximum(x, 0, out=out)


@register
class ReLU6(Pointwise):
    summary = "min(max(0, x), 6)"
    ARGS = (INPLACE,)

    TEMPS = 0
    KERNEL = "into"

    def into(self, x: Any, out: Any) -> Any:
        import numpy as np

        return np.clip(x, 0, 6, out=out)


@register
class LeakyReLU(Pointwise):
    summary = "x if x ≥ 0 else negative_slope·x"
    ARGS = (Arg("negative_slope", to_float, 0.01), INPLACE)
    negative_slope: float

    TEMPS = 0
    KERNEL = "chain"

    def chain(self, x: Any, out: Any) -> None:
        import numpy as np

        # max(x, 0) + slope·min(x, 0): exact, and far faster than np.where
        np.minimum(x, 0, out=out)
        out *= self.negative_slope
        if 0 <= self.negative_slope <= 1:
            # slope·x ≥ x below zero and slope·0 = 0 above it: the same bits, no temporary
            np.maximum(out, x, out=out)
        else:
            out += np.maximum(x, 0)


@register
class PReLU(Layer):
    summary = "LeakyReLU with a learned slope: one shared, or one per channel (dim 1)"
    ARGS = (Arg("num_parameters", to_int, 1), Arg("init", to_float, 0.25))
    IGNORED = ("device", "dtype")
    num_parameters: int
    init_value: float

    def __init__(self, values: dict[str, Any]) -> None:
        super().__init__(values)
        # the argument `init` must not shadow the init() method: keep it as init_value
        self.__dict__.pop("init", None)
        self.init_value = values.get("init", 0.25)

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

    def weights(self, x: Shape | None) -> dict[str, Shape] | None:
        return {"weight": (self.num_parameters,)}

    def init(self, x: Shape, rng: Any) -> dict[str, Any]:
        import numpy as np

        return {"weight": np.full((self.num_parameters,), self.init_value, dtype=np.float64)}

    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        import numpy as np

        from ..kernels import chunks

        a = w["weight"]
        if self.num_parameters == 1 or x.ndim < 2:
            slope = a.reshape(())
            return elementwise(lambda v: np.maximum(v, 0) + slope * np.minimum(v, 0), x, budget, 2)
        slope = a.reshape((1, -1) + (1,) * (x.ndim - 2))
        out = np.empty(x.shape, dtype=x.dtype)
        per = 2 * x.itemsize * prod(x.shape[1:])
        for part in chunks(x.shape[0], per, budget):
            v = x[part]
            o = out[part]
            np.minimum(v, 0, out=o)
            o *= slope
            o += np.maximum(v, 0)
        return out

    def workspace(self, x: Shape, y: Shape) -> int:
        return 2 * prod(x)


@register
class ELU(Pointwise):
    summary = "x if x > 0 else alpha·(exp(x) − 1)"
    ARGS = (Arg("alpha", to_float, 1.0), INPLACE)
    alpha: float

    def fn(self, x: Any) -> Any:
        import numpy as np

        return np.maximum(x, 0) + self.alpha * np.expm1(np.minimum(x, 0))


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

    def fn(self, x: Any) -> Any:
        import numpy as np

        # torch: elu(x, alpha, scale=1, input_scale=1/alpha)
        return np.maximum(x, 0) + self.alpha * np.expm1(np.minimum(x * (1 / self.alpha), 0))


@register
class SELU(Pointwise):
    summary = "scale·ELU(x, alpha) with fixed scale ≈ 1.0507, alpha ≈ 1.6733"
    ARGS = (INPLACE,)
    ALPHA: ClassVar[float] = 1.6732632423543772848170429916717
    SCALE: ClassVar[float] = 1.0507009873554804934193349852946

    def fn(self, x: Any) -> Any:
        import numpy as np

        neg = (self.ALPHA * self.SCALE) * np.expm1(np.minimum(x, 0))
        return np.maximum(x, 0) * self.SCALE + neg


@register
class GELU(Pointwise):
    summary = "x·Φ(x); approximate='tanh' uses the tanh approximation"
    ARGS = (Arg("approximate", to_choice("none", "tanh"), "none"),)
    approximate: str
    TEMPS = 6
    KERNEL = "chain"

    def chain(self, x: Any, out: Any) -> None:
        """float32 (exact erf): :func:`erf_fast` in ``out`` with kept temporaries (the same
        bits as :meth:`fn`); otherwise :meth:`fn` on the block."""
        import numpy as np

        from ..kernels import scratch

        if self.approximate == "tanh" or x.dtype != np.float32:
            out[...] = self.fn(x)
            return
        t = np.float32
        z = scratch("gelu-z", x.shape, x.dtype)
        k = scratch("gelu-k", x.shape, x.dtype)
        r = scratch("gelu-r", x.shape, x.dtype)
        np.multiply(x, t(0.7071067811865476), out=z)
        erf_fast(z, out, (k, r))
        out += 1  # 0.5·x·(1 + erf), in that order
        np.multiply(x, 0.5, out=k)
        np.multiply(k, out, out=out)

    def fn(self, x: Any) -> Any:
        import numpy as np

        if self.approximate == "tanh":
            inner = np.sqrt(2 / np.pi) * (x + 0.044715 * (x * x * x))
            return 0.5 * x * (1 + np.tanh(inner))
        if x.dtype == np.float32:
            # torch's own float32 erf is a fast approximation too; this one is within 1.5e-7
            return 0.5 * x * (1 + erf_fast(x * np.float32(0.7071067811865476)))
        return 0.5 * x * (1 + erf(x * 0.7071067811865476))  # x is a flat chunk


@register
class SiLU(Pointwise):
    summary = "x·sigmoid(x) (swish)"
    ARGS = (INPLACE,)
    TEMPS = 0
    KERNEL = "chain"

    def chain(self, x: Any, out: Any) -> None:
        import numpy as np

        # x / (1 + exp(-x)), torch's formula, step by step in out; exp overflow gives -0 as in torch
        np.negative(x, out=out)
        np.exp(out, out=out)
        out += 1
        np.divide(x, out, out=out)


@register
class Mish(Pointwise):
    summary = "x·tanh(softplus(x))"
    ARGS = (INPLACE,)

    def fn(self, x: Any) -> Any:
        import numpy as np

        return x * np.tanh(np.log1p(np.exp(x)))  # torch's formula


@register
class Sigmoid(Pointwise):
    summary = "1 / (1 + exp(−x))"
    TEMPS = 0
    KERNEL = "chain"

    def chain(self, x: Any, out: Any) -> None:
        import numpy as np

        # 1 / (1 + exp(-x)) step by step in out: exp(-x) may overflow to inf, giving 0
        np.negative(x, out=out)
        np.exp(out, out=out)
        out += 1
        np.divide(1, out, out=out)


@register
class Tanh(Pointwise):
    summary = "tanh(x)"
    TEMPS = 0
    KERNEL = "into"

    def into(self, x: Any, out: Any) -> Any:
        import numpy as np

        return np.tanh(x, out=out)


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
    min_value: float | None
    max_value: float | None

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

    TEMPS = 0
    KERNEL = "into"

    def into(self, x: Any, out: Any) -> Any:
        import numpy as np

        lo = self.min_val if self.min_value is None else self.min_value
        hi = self.max_val if self.max_value is None else self.max_value
        return np.clip(x, lo, hi, out=out)


@register
class Hardswish(Pointwise):
    summary = "x·relu6(x + 3) / 6"
    ARGS = (INPLACE,)
    TEMPS = 0
    KERNEL = "chain"

    def chain(self, x: Any, out: Any) -> None:
        import numpy as np

        # x · clip(x + 3, 0, 6) / 6, in that order, in out
        np.add(x, 3, out=out)
        np.clip(out, 0, 6, out=out)
        np.multiply(x, out, out=out)
        out /= 6


@register
class Hardsigmoid(Pointwise):
    summary = "relu6(x + 3) / 6"
    ARGS = (INPLACE,)
    TEMPS = 0
    KERNEL = "chain"

    def chain(self, x: Any, out: Any) -> None:
        import numpy as np

        np.add(x, 3, out=out)
        np.clip(out, 0, 6, out=out)
        out /= 6


@register
class Softplus(Pointwise):
    summary = "log(1 + exp(beta·x)) / beta; linear above threshold"
    ARGS = (Arg("beta", to_float, 1.0), Arg("threshold", to_float, 20.0))
    beta: float
    threshold: float
    TEMPS = 3

    def fn(self, x: Any) -> Any:
        import numpy as np

        z = x * self.beta
        out = np.log1p(np.exp(z))
        out /= self.beta
        np.copyto(out, x, where=z > self.threshold)  # the linear part (rare: fast)
        return out


@register
class Softsign(Pointwise):
    summary = "x / (1 + |x|)"

    def fn(self, x: Any) -> Any:
        import numpy as np

        return x / (1 + np.abs(x))


@register
class Tanhshrink(Pointwise):
    summary = "x − tanh(x)"

    def fn(self, x: Any) -> Any:
        import numpy as np

        return x - np.tanh(x)


@register
class LogSigmoid(Pointwise):
    summary = "log(sigmoid(x)) = min(x, 0) − log(1 + exp(−|x|))"

    def fn(self, x: Any) -> Any:
        import numpy as np

        return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))


@register
class Hardshrink(Pointwise):
    summary = "x if |x| > lambd else 0"
    ARGS = (Arg("lambd", to_float, 0.5),)
    lambd: float

    def fn(self, x: Any) -> Any:
        import numpy as np

        # torch's test, which lets nan through: 0 inside [−lambd, lambd], x elsewhere
        lambd = x.dtype.type(self.lambd)
        return np.where((x >= -lambd) & (x <= lambd), np.zeros((), x.dtype), x)


@register
class Softshrink(Pointwise):
    summary = "x − lambd if x > lambd, x + lambd if x < −lambd, else 0"
    ARGS = (Arg("lambd", to_float, 0.5),)
    lambd: float

    def check(self) -> None:
        if self.lambd < 0:
            raise ShapeError(
                f"lambd must be non-negative, got {self.lambd:g}",
                argument="lambd",
                expected="lambd ≥ 0",
                got=self.lambd,
            )

    def fn(self, x: Any) -> Any:
        import numpy as np

        lambd = x.dtype.type(self.lambd)
        # nan stays nan, as in torch
        inside = np.where(np.isnan(x), x, np.zeros((), x.dtype))
        return np.where(x > lambd, x - lambd, np.where(x < -lambd, x + lambd, inside))


@register
class Threshold(Pointwise):
    summary = "x if x > threshold else value"
    ARGS = (Arg("threshold", to_float), Arg("value", to_float), INPLACE)
    threshold: float
    value: float

    @classmethod
    def example(cls) -> Example:
        return (0.1, 20.0), {}, (1, 8, 6, 6)

    def fn(self, x: Any) -> Any:
        import numpy as np

        # torch's test, which lets nan through
        return np.where(x <= self.threshold, x.dtype.type(self.value), x)


@register
class RReLU(Pointwise):
    summary = "at inference, LeakyReLU with slope (lower + upper) / 2"
    ARGS = (Arg("lower", to_float, 1.0 / 8), Arg("upper", to_float, 1.0 / 3), INPLACE)
    lower: float
    upper: float

    def check(self) -> None:
        if self.lower > self.upper:
            raise ShapeError(
                f"lower must be at most upper, got lower {self.lower:g} and upper {self.upper:g}",
                argument="lower",
                expected=f"at most {self.upper:g}",
                got=self.lower,
                hint="swap them: the slope is drawn from [lower, upper] (its mean at inference)",
            )

    def fn(self, x: Any) -> Any:
        import numpy as np

        slope = (self.lower + self.upper) / 2
        return np.maximum(x, 0) + slope * np.minimum(x, 0)
