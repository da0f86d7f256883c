"""Activations and dropout: shape-preserving, no MACs, no parameters except PReLU's.

Every type is its own class (a NumPy kernel will be added to each); the shared
rules live in :class:`Pointwise`, :class:`_SoftmaxBase` and :class:`_DropoutBase`.
convcalc models inference, so dropout is the identity: only the rank checks
PyTorch makes in eval mode are errors; its rank warnings become notes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from ..errors import ShapeError
from ..shape import Shape, prod
from .base import (
    Arg,
    Layer,
    rank_error,
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
    """Applied element by element: the output has the input's shape; no parameters, no MACs.

    Subclasses give the NumPy kernel as :meth:`fn`, applied to flat chunks of the input;
    ``TEMPS`` is how many input-sized temporaries it allocates (for :meth:`workspace`).
    """

    # Layer's defaults already say so: out_shape(x) = x, weights = {}, macs = 0
    TEMPS: ClassVar[int] = 2

    def fn(self, x: Any) -> Any:
        """The activation of a 1-D chunk ``x``, same dtype."""
        return self.into(x, None)

    def into(self, x: Any, out: Any) -> Any:
        """A kernel that is ONE NumPy call defines this instead of :meth:`fn`: the activation
        of ``x`` written into ``out`` (None: a new array). It then runs over the whole input
        at once (split between the cores), not block by block."""
        raise NotImplementedError(f"{self.type_name} has no NumPy kernel yet")

    def chain(self, x: Any, out: Any) -> None:
        """A kernel of several NumPy calls may define this instead of :meth:`fn`: the
        activation of the block ``x`` computed in ``out`` (never ``x`` itself), using ``out``
        and at most a few kept :func:`~convcalc.kernels.scratch` blocks as its temporaries;
        it then runs block by block without allocating."""
        raise NotImplementedError

    REUSES_INPUT = True

    def mutates_input(self) -> bool:
        return bool(getattr(self, "inplace", False))

    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        return self.forward_into(x, w, budget, None)

    def forward_into(self, x: Any, w: dict[str, Any], budget: int, out: Any) -> Any:
        if type(self).into is not Pointwise.into:
            import numpy as np

            from ..kernels import split_run

            out = np.empty(x.shape, dtype=x.dtype) if out is None else out
            src = np.ascontiguousarray(x).reshape(-1)
            dst = out.reshape(-1)
            split_run(lambda part: self.into(src[part], dst[part]), src.size)
            return out
        if type(self).chain is not Pointwise.chain:
            return chained(self.chain, x, out)
        return elementwise(self.fn, x, budget, self.TEMPS, out)

    def workspace(self, x: Shape, y: Shape) -> int:
        return self.TEMPS * prod(x)


def elementwise(fn: Callable[[Any], Any], x: Any, budget: int, temps: int, out: Any = None) -> Any:
    """Apply ``fn`` to flat chunks of ``x`` whose ``temps`` temporaries fit in ``budget`` bytes,
    into ``out`` if given (it may be ``x`` itself: each chunk is read before it is written).
    Large inputs are shared between the cores, chunk by chunk."""
    import numpy as np

    from ..kernels import chunks, split_run

    out = np.empty(x.shape, dtype=x.dtype) if out is None else out
    src = np.ascontiguousarray(x).reshape(-1)
    dst = out.reshape(-1)
    # cache-sized blocks: a chain of NumPy operations then runs from L2, not from memory
    budget = min(budget, CACHE_BLOCK * max(temps, 1) * x.itemsize)

    def part(span: slice) -> None:
        with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
            for piece in chunks(span.stop - span.start, max(temps, 1) * x.itemsize, budget):
                block = slice(span.start + piece.start, span.start + piece.stop)
                dst[block] = fn(src[block])

    split_run(part, src.size)
    return out


def chained(fn: Callable[[Any, Any], None], x: Any, out: Any = None) -> Any:
    """Run an in-place chain ``fn(block, out_block)`` (see :meth:`Pointwise.chain`) over ``x``
    block by block, into ``out`` if given; where ``out`` is ``x`` itself, each block is
    computed in a kept temporary and copied back. Large inputs are shared between the cores."""
    import numpy as np

    from ..kernels import scratch, split_run

    out = np.empty(x.shape, dtype=x.dtype) if out is None else out
    src = np.ascontiguousarray(x).reshape(-1)
    dst = out.reshape(-1)
    aliased = np.shares_memory(src, dst)

    def part(span: slice) -> None:
        with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
            for start in range(span.start, span.stop, CHAIN_BLOCK):
                block = slice(start, min(start + CHAIN_BLOCK, span.stop))
                if aliased:
                    tmp = scratch("activation", (block.stop - block.start,), x.dtype)
                    fn(src[block], tmp)
                    dst[block] = tmp
                else:
                    fn(src[block], dst[block])

    split_run(part, src.size)
    return out


#: elements per block of an element-wise kernel
CACHE_BLOCK = 1 << 14
#: elements per block of an in-place chain (its temporaries are block-sized)
CHAIN_BLOCK = 1 << 16


def _sigmoid(x: Any) -> Any:
    """1 / (1 + exp(-x)), torch's formula: exp(-x) may overflow to inf, giving 0."""
    import numpy as np

    return 1 / (1 + np.exp(-x))


def erf_fast(x: Any, out: Any = None, temps: tuple[Any, Any] | None = None) -> Any:
    """erf in the input's precision to within 1.5e-7 (Abramowitz & Stegun 7.1.26), for float32.

    Computed step by step in ``out`` (a new array if None; never ``x`` itself) with the two
    temporaries ``temps`` (new if None), so that a caller working block by block allocates
    nothing."""
    import numpy as np

    t = x.dtype.type
    k, r = temps if temps is not None else (np.empty_like(x), np.empty_like(x))
    a = np.abs(x, out=out)
    np.multiply(a, t(0.3275911), out=k)  # k = 1 / (0.3275911·a + 1)
    k += 1
    np.divide(1, k, out=k)
    np.multiply(k, t(1.061405429), out=r)  # the polynomial in k, by Horner's rule
    r -= t(1.453152027)
    r *= k
    r += t(1.421413741)
    r *= k
    r -= t(0.284496736)
    r *= k
    r += t(0.254829592)
    r *= k
    np.multiply(a, a, out=a)  # exp(-a·a): -(a·a) is (-a)·a bit for bit
    np.negative(a, out=a)
    np.exp(a, out=a)
    r *= a
    np.subtract(1, r, out=a)
    return np.copysign(a, x, out=a)


# fdlibm's erf (s_erf.c), vectorised. Its notice: "Copyright (C) 1993 by Sun Microsystems,
# Inc. All rights reserved. Developed at SunPro, a Sun Microsystems, Inc. business.
# Permission to use, copy, modify, and distribute this software is freely granted,
# provided that this notice is preserved." Coefficients by interval of |x|:
_ERX = 8.45062911510467529297e-01
_PP = (
    1.28379167095512558561e-01,
    -3.25042107247001499370e-01,
    -2.84817495755985104766e-02,
    -5.77027029648944159157e-03,
    -2.37630166566501626084e-05,
)
_QQ = (
    1.0,
    3.97917223959155352819e-01,
    6.50222499887672944485e-02,
    5.08130628187576562776e-03,
    1.32494738004321644526e-04,
    -3.96022827877536812320e-06,
)
_PA = (
    -2.36211856075265944077e-03,
    4.14856118683748331666e-01,
    -3.72207876035701323847e-01,
    3.18346619901161753674e-01,
    -1.10894694282396677476e-01,
    3.54783043256182359371e-02,
    -2.16637559486879084300e-03,
)
_QA = (
    1.0,
    1.06420880400844228286e-01,
    5.40397917702171048937e-01,
    7.18286544141962662868e-02,
    1.26171219808761642112e-01,
    1.36370839120290507362e-02,
    1.19844998467991074170e-02,
)
_RA = (
    -9.86494403484714822705e-03,
    -6.93858572707181764372e-01,
    -1.05586262253232909814e01,
    -6.23753324503260060396e01,
    -1.62396669462573470355e02,
    -1.84605092906711035994e02,
    -8.12874355063065934246e01,
    -9.81432934416914548592e00,
)
_SA = (
    1.0,
    1.96512716674392571292e01,
    1.37657754143519042600e02,
    4.34565877475229228821e02,
    6.45387271733267880336e02,
    4.29008140027567833386e02,
    1.08635005541779435134e02,
    6.57024977031928170135e00,
    -6.04244152148580987438e-02,
)
_RB = (
    -9.86494292470009928597e-03,
    -7.99283237680523006574e-01,
    -1.77579549177547519889e01,
    -1.60636384855821916062e02,
    -6.37566443368389627722e02,
    -1.02509513161107724954e03,
    -4.83519191608651397019e02,
)
_SB = (
    1.0,
    3.03380607434824582924e01,
    3.25792512996573918826e02,
    1.53672958608443695994e03,
    3.19985821950859553908e03,
    2.55305040643316442583e03,
    4.74528541206955367215e02,
    -2.24409524465858183362e01,
)


def _poly(z: Any, coeffs: tuple) -> Any:
    """Horner's rule, in place on a fresh array."""
    acc = z * coeffs[-1]
    acc += coeffs[-2]
    for c in coeffs[-3::-1]:
        acc *= z
        acc += c
    return acc


def _ratio(z: Any, p: tuple, q: tuple) -> Any:
    num = _poly(z, p)
    num /= _poly(z, q)
    return num


def erf(x: Any) -> Any:
    """The error function of a float64 array, to within about 1 ulp (fdlibm's method).

    Each interval of |x| is gathered by integer index (np.flatnonzero): boolean-mask
    indexing of a random pattern is several times slower.
    """
    import numpy as np

    shape = np.shape(x)
    x = np.ascontiguousarray(x, dtype=np.float64).reshape(-1)
    a = np.abs(x)
    out = np.empty_like(x)
    small = np.flatnonzero(a < 0.84375)
    if small.size:
        xs = x[small]
        r = _ratio(xs * xs, _PP, _QQ)
        r *= xs
        r += xs
        out[small] = r
    mid = np.flatnonzero((a >= 0.84375) & (a < 1.25))
    if mid.size:
        s = a[mid]
        s -= 1.0
        r = _ratio(s, _PA, _QA)
        r += _ERX
        out[mid] = np.copysign(r, x[mid])
    big = np.flatnonzero(a >= 1.25)
    if big.size:
        c = np.minimum(a[big], 6.0)  # erf = ±1 to double precision beyond 6
        s = c * c
        np.reciprocal(s, out=s)
        r = _ratio(s, _RB, _SB)
        near = np.flatnonzero(c < 1 / 0.35)
        if near.size:
            r[near] = _ratio(s[near], _RA, _SA)
        # exp(-x²) split as exp(-z² - 0.5625)·exp((z - x)(z + x) + R/S), z = x with its low word cleared
        z = (c.view(np.uint64) & np.uint64(0xFFFFFFFF00000000)).view(np.float64)
        e = z * z
        e += 0.5625
        np.negative(e, out=e)
        np.exp(e, out=e)
        f = z - c
        f *= z + c
        f += r
        np.exp(f, out=f)
        e *= f
        e /= c
        v = 1.0 - e
        v[c >= 6.0] = 1.0
        out[big] = np.copysign(v, x[big])
    nan = np.flatnonzero(np.isnan(x))
    if nan.size:
        out[nan] = np.nan
    return out.reshape(shape)


# ------------------------------------------------------------- activations
@register
class ReLU(Pointwise):
    summary = "max(0, x)"
    ARGS = (INPLACE,)

    TEMPS = 0

    def into(self, x: Any, out: Any) -> Any:
        import numpy as np

        return np.maximum(x, 0, out=out)


@register
class ReLU6(Pointwise):
    summary = "min(max(0, x), 6)"
    ARGS = (INPLACE,)

    TEMPS = 0

    def into(self, x: Any, out: Any) -> Any:
        import numpy as np

        return np.clip(x, 0, 6, out=out)


@register
class LeakyReLU(Pointwise):
    summary = "x if x ≥ 0 else negative_slope·x"
    ARGS = (Arg("negative_slope", to_float, 0.01), INPLACE)
    negative_slope: float

    TEMPS = 0

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
    def example(cls):
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


# ------------------------------------------------------------------ softmax
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

    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        import numpy as np

        a, b = np.split(x, 2, axis=self._dim(x.shape))
        return a * _sigmoid(b)


@register
class LogSoftmax(_SoftmaxBase):
    summary = "log(softmax(x)) along dim"
    LOG = True


@register
class Softmax2d(Pointwise):
    summary = "softmax over the channels at every spatial position: (N, C, H, W) or (C, H, W)"

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


# ------------------------------------------------------------------ dropout
class _DropoutBase(Pointwise):
    """Identity at inference. ``nd`` > 0: channel-wise dropout expecting (N, C, *nd spatial)."""

    TEMPS = 0
    SHARES_INPUT = True

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
    def example(cls):
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
