"""Normalisation over groups, layers and neighbours: GroupNorm, LayerNorm, RMSNorm,
LocalResponseNorm, and the helpers every norm shares (BatchNorm's are in batch_norm.py).

convcalc models inference: the checks PyTorch makes in eval mode are errors here;
the ones it makes only when training become notes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from ..errors import ShapeError, SpecError
from ..receptive import ReceptiveField, make_global, spatial_axes
from ..shape import Shape, fmt_shape, prod
from .arguments import Arg, to_bool, to_float, to_int, to_int_list, to_opt_float
from .base import Example, Layer, register
from .checks import check_positive, require_rank

#: torch 2.x: ``bias`` of BatchNorm/InstanceNorm/GroupNorm comes after ``*``
BIAS_ARG = Arg("bias", to_bool, True)


# ------------------------------------------------------------ NumPy helpers
def default_init(layer: Layer, x: Shape) -> dict[str, Any]:
    """torch's reset_parameters for the norms: weight 1, bias 0, running_mean 0, running_var 1."""
    import numpy as np

    out: dict[str, Any] = {}
    for key, shape in {**(layer.weights(x) or {}), **(layer.buffers(x) or {})}.items():
        if key == "num_batches_tracked":
            out[key] = np.array(0, dtype=np.int64)
        elif key in ("weight", "running_var"):
            out[key] = np.ones(shape, dtype=np.float64)
        else:
            out[key] = np.zeros(shape, dtype=np.float64)
    return out


def normalise_rows(x2: Any, out2: Any, eps: float, budget: int) -> None:
    """out2 = (x2 - mean) / sqrt(var + eps) row by row (biased variance), in row chunks."""
    import numpy as np

    from ..kernels import chunks

    rows, n = x2.shape
    if rows == 0 or n == 0:
        out2[...] = x2
        return
    for part in chunks(rows, 2 * n * x2.itemsize, budget):
        v = x2[part]
        o = out2[part]
        np.subtract(v, v.mean(axis=1, keepdims=True), out=o)
        var = np.mean(np.square(o), axis=1, keepdims=True)
        o *= 1 / np.sqrt(var + eps)


def channel_affine(out: Any, cdim: int, scale: Any, shift: Any) -> None:
    """out = out * scale + shift with per-channel (axis ``cdim``) vectors, in place."""
    shape = (-1,) + (1,) * (out.ndim - cdim - 1)
    if scale is not None:
        out *= scale.reshape(shape)
    if shift is not None:
        out += shift.reshape(shape)


class KeywordBias(Layer):
    """``bias`` is keyword-only in PyTorch: refuse it (and anything else) positionally."""

    N_POSITIONAL: ClassVar[int] = 0

    @classmethod
    def build(cls, positional: Sequence[Any] = (), keywords: dict[str, Any] | None = None) -> Layer:
        if len(positional) > cls.N_POSITIONAL:
            names = [a.name for a in cls.ARGS[: cls.N_POSITIONAL]]
            raise SpecError(
                f"{cls.type_name} takes at most {cls.N_POSITIONAL} positional arguments "
                f"({', '.join(names)}), {len(positional)} given",
                hint="give bias (and device, dtype) by keyword",
            )
        return super().build(positional, keywords)


def channel_mismatch(
    arg: str, want: int, got: int, cdim: int, why: str = "", inferable: bool = True
) -> ShapeError:
    fix = f"set {arg}: {got}" + (
        " (or leave it out to take it from the input)" if inferable else ""
    )
    return ShapeError(
        f"expects {want} channels, receives {got}{why}",
        argument=arg,
        expected=want,
        got=got,
        dim=cdim,
        hint=fix,
    )


def non_negative(arg: str, value: int | None, when: str) -> None:
    if value is not None and value < 0:
        raise ShapeError(
            f"{arg} must be non-negative{when}, got {value}",
            argument=arg,
            expected="a non-negative integer",
            got=value,
        )


@register
class GroupNorm(KeywordBias):
    @classmethod
    def example(cls) -> Example:
        return (2, 8), {}, (1, 8, 6, 6)

    summary = "normalises each group of C/G channels per sample; params 2C (affine)"
    ARGS = (
        Arg("num_groups", to_int),
        Arg("num_channels", to_int),
        Arg("eps", to_float, 1e-05),
        Arg("affine", to_bool, True),
        BIAS_ARG,
    )
    N_POSITIONAL = 4  # num_groups, num_channels, eps, affine (device, dtype: by keyword here)
    IGNORED = ("device", "dtype")
    num_groups: int
    num_channels: int
    eps: float
    affine: bool
    bias: bool

    def check(self) -> None:
        g = self.num_groups
        check_positive("num_groups", g, "positive")
        if self.num_channels % g:
            c = self.num_channels
            divisors = [d for d in range(1, min(c, 4096) + 1) if c % d == 0] if c > 0 else []
            near = sorted(divisors, key=lambda d: abs(d - g))[:2]
            raise ShapeError(
                f"num_channels ({c}) must be divisible by num_groups ({g})",
                argument="num_groups",
                expected=f"a divisor of {c}",
                got=g,
                hint=f"use num_groups {' or '.join(map(str, sorted(near)))}" if near else None,
            )
        if self.affine:
            non_negative("num_channels", self.num_channels, " when affine")

    def out_shape(self, x: Shape) -> Shape:
        require_rank(
            x, 2, "(N, C, *)", "GroupNorm needs a batch dimension: add N = 1 to the input shape"
        )
        c, g = x[1], self.num_groups
        if self.affine and c != self.num_channels:
            raise channel_mismatch("num_channels", self.num_channels, c, 1, inferable=False)
        if c % g:
            raise ShapeError(
                f"input channels ({c}) must be divisible by num_groups ({g})",
                argument="num_groups",
                expected=f"a multiple of {g} channels",
                got=c,
                dim=1,
            )
        if x[0] * (c // g) * prod(x[2:]) == 1:
            raise ShapeError(
                f"group statistics need more than 1 value per group, input {fmt_shape(x)} has 1",
                argument="num_groups",
                got=x,
                hint="use fewer groups, a larger batch or a larger input",
            )
        return x

    def receptive_field(self, x: Shape, y: Shape, field: ReceptiveField) -> ReceptiveField | None:
        """Its statistics span every position: every spatial axis is global."""
        return make_global(field)

    def weights(self, x: Shape | None) -> dict[str, Shape] | None:
        if not self.affine:
            return {}
        c = (self.num_channels,)
        return {"weight": c, "bias": c} if self.bias else {"weight": c}

    def notes(self, x: Shape, y: Shape) -> list[str]:
        notes = [f"{x[1] // self.num_groups} channels per group"] if self.num_groups > 1 else []
        if x[1] != self.num_channels:
            notes.append(
                f"num_channels={self.num_channels} but the input has {x[1]} channels; "
                "PyTorch does not check this when affine is false"
            )
        return notes

    # -- NumPy forward pass ------------------------------------------------------
    def init(self, x: Shape, rng: Any) -> dict[str, Any]:
        return default_init(self, x)

    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        import numpy as np

        out = np.empty(x.shape, dtype=x.dtype)
        rows = x.shape[0] * self.num_groups
        normalise_rows(x.reshape(rows, -1), out.reshape(rows, -1), self.eps, budget)
        if self.affine:
            channel_affine(out, 1, w["weight"], w.get("bias"))
        return out

    def workspace(self, x: Shape, y: Shape) -> int:
        return prod(x)


@register
class LayerNorm(Layer):
    @classmethod
    def example(cls) -> Example:
        return ((6, 6),), {}, (1, 8, 6, 6)

    summary = (
        "normalises over the trailing dims given by normalized_shape; params 2·∏shape (affine)"
    )
    ARGS: ClassVar[tuple[Arg, ...]] = (
        Arg("normalized_shape", to_int_list),
        Arg("eps", to_float, 1e-05),
        Arg("elementwise_affine", to_bool, True),
        Arg("bias", to_bool, True),
    )
    IGNORED = ("device", "dtype")
    normalized_shape: tuple[int, ...]
    eps: float
    elementwise_affine: bool
    bias: bool

    def check(self) -> None:
        if self.elementwise_affine and any(s < 0 for s in self.normalized_shape):
            raise ShapeError(
                f"normalized_shape must be non-negative when elementwise_affine, got {fmt_shape(self.normalized_shape)}",
                argument="normalized_shape",
                expected="non-negative sizes",
                got=self.normalized_shape,
            )

    def out_shape(self, x: Shape) -> Shape:
        ns = self.normalized_shape
        if not ns:
            raise ShapeError(
                "normalized_shape must have at least one dimension, got []",
                argument="normalized_shape",
                expected="at least 1 dimension",
                got=ns,
                hint=f"set normalized_shape: {x[-1]}" if x else None,
            )
        k = len(ns)
        tail = x[len(x) - k :] if len(x) >= k else x
        if len(x) < k or tail != ns:
            dim: int | None = None
            if len(x) >= k:
                dim = len(x) - k + next(i for i in range(k) if tail[i] != ns[i])
            # the trailing dims, never the batch dim
            fix = x[len(x) - k :] if len(x) > k else x[-1:]
            raise ShapeError(
                f"expects an input of shape (*, {', '.join(map(str, ns))}), receives {fmt_shape(x)}",
                argument="normalized_shape",
                expected=ns if dim is None else ns[dim - (len(x) - k)],
                got=x if dim is None else x[dim],
                dim=dim,
                hint=f"set normalized_shape: [{', '.join(map(str, fix))}] to normalise over the last "
                + (f"{len(fix)} dims" if len(fix) > 1 else "dim"),
            )
        return x

    def receptive_field(self, x: Shape, y: Shape, field: ReceptiveField) -> ReceptiveField | None:
        """Its statistics span the trailing normalized_shape dims: those spatial ones are global."""
        n = len(self.normalized_shape)
        return make_global(field, spatial_axes(field, len(x), range(-n, 0)))

    def weights(self, x: Shape | None) -> dict[str, Shape] | None:
        if not self.elementwise_affine:
            return {}
        ns = self.normalized_shape
        return {"weight": ns, "bias": ns} if self.bias else {"weight": ns}

    # -- NumPy forward pass ------------------------------------------------------
    def init(self, x: Shape, rng: Any) -> dict[str, Any]:
        return default_init(self, x)

    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        import numpy as np

        out = np.empty(x.shape, dtype=x.dtype)
        n = prod(self.normalized_shape)
        rows = prod(x.shape) // n if n else 0
        normalise_rows(x.reshape(rows, n), out.reshape(rows, n), self.eps, budget)
        if self.elementwise_affine:
            out *= w["weight"]
            if "bias" in w and self.bias:
                out += w["bias"]
        return out

    def workspace(self, x: Shape, y: Shape) -> int:
        return prod(x)


@register
class RMSNorm(LayerNorm):
    type_name = "RMSNorm"
    summary = (
        "x / sqrt(mean(x²) + eps) over the trailing normalized_shape dims; params ∏shape (affine)"
    )
    ARGS = (
        Arg("normalized_shape", to_int_list),
        Arg("eps", to_opt_float, None),
        Arg("elementwise_affine", to_bool, True),
    )
    bias = False

    def weights(self, x: Shape | None) -> dict[str, Shape] | None:
        return {"weight": self.normalized_shape} if self.elementwise_affine else {}

    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        import numpy as np

        eps = np.finfo(x.dtype).eps if self.eps is None else self.eps
        axes = tuple(range(x.ndim - len(self.normalized_shape), x.ndim))
        out = x / np.sqrt(np.mean(np.square(x), axis=axes, keepdims=True) + x.dtype.type(eps))
        if self.elementwise_affine:
            out *= w["weight"]
        return out.astype(x.dtype, copy=False)


@register
class LocalResponseNorm(Layer):
    @classmethod
    def example(cls) -> Example:
        return (5,), {"alpha": 0.0001, "beta": 0.75, "k": 2.0}, (1, 8, 6, 6)

    summary = "normalises each value over `size` neighbouring channels (AlexNet); no parameters"
    ARGS = (
        Arg("size", to_int),
        Arg("alpha", to_float, 0.0001),
        Arg("beta", to_float, 0.75),
        Arg("k", to_float, 1.0),
    )
    size: int
    alpha: float
    beta: float
    k: float

    def out_shape(self, x: Shape) -> Shape:
        require_rank(x, 3, "(N, C, *)", "add a batch dimension (N = 1) or a spatial one")
        check_positive("size", self.size, "positive")
        return x

    # -- NumPy forward pass ------------------------------------------------------
    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        """torch: x / (k + alpha · avg over a zero-padded window of `size` channels of x²)^beta.

        The window around channel c spans c - size//2 … c + (size-1)//2 and the average
        always divides by ``size`` (avg_pool with count_include_pad).
        """
        import numpy as np

        from ..kernels import item_parts

        n, c = x.shape[0], x.shape[1]
        out = np.empty(x.shape, dtype=x.dtype)
        if out.size == 0:
            return out
        x3 = x.reshape(n, c, -1)
        o3 = out.reshape(n, c, -1)
        before = self.size // 2
        # two temporaries: whole items while they fit the budget, else runs of positions
        per_item = 2 * x.itemsize * x3.shape[1] * x3.shape[2]
        for part, run in item_parts(n, x3.shape[2], per_item, budget):
            v = x3[part, :, run]
            sq = np.square(v)
            acc = np.zeros_like(v)
            # only offsets within c channels of the centre reach a channel: a window of
            # 2**31 channels is as quick as one of 2c
            for off in range(max(0, before - c + 1), min(self.size, before + c)):
                shift = off - before  # acc[:, ch] += sq[:, ch + shift]
                lo, hi = max(0, -shift), min(c, c - shift)
                if lo < hi:
                    acc[:, lo:hi] += sq[:, lo + shift : hi + shift]
            acc *= self.alpha / self.size
            acc += self.k
            np.power(acc, self.beta, out=acc)
            np.divide(v, acc, out=o3[part, :, run])
            del sq, acc  # before the next piece's: never two at once
        return out

    def workspace(self, x: Shape, y: Shape) -> int:
        return 2 * prod(x)
