"""Special functions in NumPy as torch computes them: erf (exact, and a fast float32 form)
and a sigmoid that, like torch's, lets exp(-x) overflow to 0."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import Array


def sigmoid(x: Array) -> Array:
    """1 / (1 + exp(-x)), torch's formula: exp(-x) may overflow to inf, giving 0."""
    import numpy as np

    return 1 / (1 + np.exp(-x))


def erf_fast(x: Array, out: Array | None = None, temps: tuple[Array, Array] | None = None) -> Array:
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


def _poly(z: Array, coeffs: tuple[float, ...]) -> Array:
    """Horner's rule, in place on a fresh array."""
    acc = z * coeffs[-1]
    acc += coeffs[-2]
    for c in coeffs[-3::-1]:
        acc *= z
        acc += c
    return acc


def _ratio(z: Array, p: tuple[float, ...], q: tuple[float, ...]) -> Array:
    num = _poly(z, p)
    num /= _poly(z, q)
    return num


def erf(x: Array) -> Array:
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
