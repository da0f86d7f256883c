"""Linear and the reshaping layers: Linear, Flatten, Unflatten, Identity."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, ClassVar

from ..errors import ShapeError
from ..receptive import ReceptiveField, lose_layout, make_global, spatial_axes
from ..shape import Shape, fmt_product, fmt_shape, prod
from .arguments import REQUIRED, Arg, BadValue, converter_form, is_int, to_bool, to_int
from .base import Example, Layer, Lazy, lazy_args, register, scaled_outputs
from .steps import Step, product

#: up to this many rows Linear multiplies as W @ xᵀ (see Linear.forward)
FEW_ROWS = 64


@register
class Linear(Layer):
    @classmethod
    def example(cls) -> Example:
        return (288, 10), {}, (1, 288)

    summary = "y = x Wᵀ + b on the last dimension of any rank: (*, in) → (*, out)"
    ARGS: ClassVar[tuple[Arg, ...]] = (
        Arg("in_features", to_int, REQUIRED, infer=True),
        Arg("out_features", to_int),
        Arg("bias", to_bool, True),
    )
    IGNORED = ("device", "dtype")
    in_features: int | None
    out_features: int
    bias: bool

    def check(self) -> None:
        for arg, value in (("in_features", self.in_features), ("out_features", self.out_features)):
            if value is not None and value < 0:
                raise ShapeError(
                    f"{arg} must be non-negative, got {value}", argument=arg, got=value
                )

    def out_shape(self, x: Shape) -> Shape:
        if not x:
            raise ShapeError("expects an input of at least 1 dimension", argument="input", got=x)
        got = x[-1]
        if self.in_features is not None and got != self.in_features:
            if len(x) >= 3 and prod(x[1:]) == self.in_features:
                # a convolution's output, unflattened: (N, C, H, W) with C·H·W = in_features
                raise ShapeError(
                    f"expects {self.in_features} input features, receives {got} (the last "
                    f"dimension of {fmt_shape(x)})",
                    argument="in_features",
                    expected=self.in_features,
                    got=got,
                    hint=f"add Flatten before it ({fmt_product(x[1:])} = {self.in_features})",
                    resizable=False,
                )
            raise ShapeError(
                f"expects {self.in_features} input features, receives {got}",
                argument="in_features",
                expected=self.in_features,
                got=got,
                dim=len(x) - 1,
                hint=f"set in_features: {got}",
            )
        return x[:-1] + (self.out_features,)

    def receptive_field(self, x: Shape, y: Shape, field: ReceptiveField) -> ReceptiveField | None:
        """Every input feature reaches every output: the last axis is global (all of them
        after a Flatten, which left no spatial layout)."""
        if not field.layout:
            return make_global(field)
        return make_global(field, spatial_axes(field, len(x), [-1]))

    def sets_dim(self, x: Shape, y: Shape, dim: int) -> bool:
        return dim == len(y) - 1

    def resize_hint(self, x: Shape, y: Shape, dim: int, wanted: int, label: str) -> str | None:
        if dim != len(y) - 1:
            return None
        return f"set out_features: {wanted} in {label}"

    def inferred_values(self, x: Shape) -> dict[str, Any]:
        return {"in_features": self.in_features if self.in_features is not None else x[-1]}

    def weights(self, x: Shape | None) -> dict[str, Shape] | None:
        n_in = self.in_features if self.in_features is not None else (x[-1] if x else None)
        if n_in is None:
            return None
        w: dict[str, Shape] = {"weight": (self.out_features, n_in)}
        if self.bias:
            w["bias"] = (self.out_features,)
        return w

    def macs(self, x: Shape, y: Shape) -> int:
        return prod(x[:-1]) * x[-1] * self.out_features

    def explain(self, x: Shape) -> Iterator[Step]:
        y = self.out_shape(x)
        n_in, n_out = x[-1], self.out_features
        yield Step(
            "features_out", "out_features (on the last dimension)", (), n_out, dim=len(y) - 1
        )
        bias = (" + out_features", f" + {n_out}") if self.bias else ("", "")
        yield Step(
            "params",
            f"out_features · in_features{bias[0]}",
            (f"{n_out} · {n_in}{bias[1]}", f"{n_out * n_in}{bias[1]}"),
            prod((self.weights(x) or {})["weight"]) + (n_out if self.bias else 0),
            counts="params",
        )
        lead = x[:-1]
        yield Step(
            "MACs",
            ("∏ leading dims · " if len(lead) != 1 else "N · ") + "in_features · out_features",
            (f"{product(lead) if lead else 1} · {n_in} · {n_out}",),
            self.macs(x, y),
            counts="macs",
        )

    # -- NumPy forward pass ------------------------------------------------
    def init(self, x: Shape, rng: Any) -> dict[str, Any]:
        """torch's reset_parameters: kaiming_uniform_(a=√5) gives weight ~ U(±1/√in_features),
        and bias ~ U(±1/√in_features) (0 when in_features is 0)."""

        shapes = self.weights(x) or {}
        fan_in = shapes["weight"][1]
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        return {key: rng.uniform(-bound, bound, size=shape) for key, shape in shapes.items()}

    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        """One matrix product over every leading dim: (∏ lead, in) @ (in, out), then + bias.

        For a few rows (a batch of feature vectors) the product is taken as W @ xᵀ: OpenBLAS
        then streams the large weight matrix in its stored order, measured up to 1.7× faster
        on 2 cores (8 × 4096 → 4096); for many rows x @ Wᵀ is the faster of the two."""
        import numpy as np

        weight = w["weight"]
        lead = x.shape[:-1]
        rows = prod(lead)
        flat = x.reshape(rows, x.shape[-1])
        if 1 < rows <= FEW_ROWS:
            y = np.ascontiguousarray((weight @ flat.T).T)
        else:
            y = flat @ weight.T
        if "bias" in w:
            y += w["bias"]
        return y.reshape(lead + (weight.shape[0],))

    def absorb_affine(
        self, y: Shape, w: dict[str, Any], scale: Any, shift: Any
    ) -> dict[str, Any] | None:
        if len(y) != 2:  # (N, C, L) → BatchNorm1d's channels are not the features
            return None
        weight = w["weight"]  # (out, in)
        return scaled_outputs(w, weight * scale.astype(weight.dtype)[:, None], scale, shift)

    def workspace(self, x: Shape, y: Shape) -> int:
        # the product is written once, as the output; a non-contiguous x would be copied
        return 0


@register
class LazyLinear(Lazy, Linear):
    summary = "Linear with in_features taken from the input"
    ARGS = lazy_args(Linear.ARGS)
    in_features = None


def _norm_dim(dim: int, rank: int, argument: str) -> int:
    if not -rank <= dim < rank:
        raise ShapeError(
            f"{argument}={dim} is out of range for a {rank}D input (expected -{rank} to {rank - 1})",
            argument=argument,
            expected=f"-{rank} to {rank - 1}",
            got=dim,
        )
    return dim + rank if dim < 0 else dim


@register
class Flatten(Layer):
    summary = "flattens dims start_dim..end_dim (inclusive) into one"
    ARGS = (Arg("start_dim", to_int, 1), Arg("end_dim", to_int, -1))
    start_dim: int
    SHARES_INPUT = True  # a view of its input in torch
    end_dim: int

    def _range(self, x: Shape) -> tuple[int, int]:
        rank = max(len(x), 1)
        start = _norm_dim(self.start_dim, rank, "start_dim")
        end = _norm_dim(self.end_dim, rank, "end_dim")
        if start > end:
            raise ShapeError(
                f"start_dim ({self.start_dim} → {start}) comes after end_dim ({self.end_dim} → {end})",
                argument="start_dim",
                expected=f"at most {end}",
                got=start,
            )
        return start, end

    def out_shape(self, x: Shape) -> Shape:
        if not x:
            self._range(x)  # torch wraps the dims of a 0-d tensor as if it had one: Flatten() fails
            return (1,)
        start, end = self._range(x)
        return x[:start] + (prod(x[start : end + 1]),) + x[end + 1 :]

    def explain(self, x: Shape) -> Iterator[Step]:
        y = self.out_shape(x)
        if not x:
            yield Step("output", "a 0-d input becomes one element", (), y, counts="shape")
            return
        start, end = self._range(x)
        names = [f"d{i}" for i in range(start, end + 1)]
        yield Step(
            f"d{start}_out",
            f"product of dims {start} to {end}" if end > start else f"dim {start}",
            (" · ".join(names), product(x[start : end + 1])) if end > start else (),
            y[start],
            dim=start,
        )

    def receptive_field(self, x: Shape, y: Shape, field: ReceptiveField) -> ReceptiveField | None:
        if not x or len(x) < len(field.size):
            return lose_layout(field)
        start, end = self._range(x)
        if start == end or end < len(x) - len(field.size):
            return field  # no spatial axis merged
        return lose_layout(field)

    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        # a view when x is contiguous, as torch's flatten
        return x.reshape(self.out_shape(tuple(x.shape)))

    def origin(self, x: Shape, y: Shape, dim: int) -> str | None:
        start, end = self._range(x)
        if dim != start or end == start:
            return None
        return f"= {fmt_product(x[start : end + 1])} after Flatten of {fmt_shape(x)}"

    def resize_hint(self, x: Shape, y: Shape, dim: int, wanted: int, label: str) -> str | None:
        start, end = self._range(x)
        spatial = x[start + 1 : end + 1]
        nd = len(spatial)
        if dim != start or not 1 <= nd <= 3 or start != len(x) - nd - 1:
            return None
        channels = x[start]
        if wanted % channels:
            return f"the {channels} channels cannot give {wanted} features: change the channels before Flatten"
        sizes = _factor(wanted // channels, spatial)
        if sizes is None or any(s > 4 * t for s, t in zip(sizes, spatial)):
            return None  # not a pooling anyone would want
        arg = str(sizes[0]) if nd == 1 else "(" + ", ".join(map(str, sizes)) + ")"
        return f"add AdaptiveAvgPool{nd}d({arg}) before Flatten"


def _divisors(n: int) -> list[int]:
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


def _factor(total: int, like: Shape) -> tuple[int, ...] | None:
    """Split ``total`` into len(like) factors, as nearly equal as possible."""
    nd = len(like)
    if nd == 1:
        return (total,)
    if total < 1 or total > 10**12:  # no sensible pooling size; and keep the search short
        return None
    divisors = _divisors(total)
    if nd == 2:
        candidates: list[tuple[int, ...]] = [(a, total // a) for a in divisors]
    else:
        candidates = [
            (a, b, total // a // b) for a in divisors for b in divisors if (total // a) % b == 0
        ]
    # the squarest (most cubic) sizes; among equally square ones, the nearest to ``like``
    return min(
        candidates,
        key=lambda sizes: (
            max(sizes) / min(sizes),
            sum(abs(math.log(s / max(t, 1))) for s, t in zip(sizes, like)),
        ),
    )


@converter_form("(int, ...)")
def to_sizes(v: Any) -> tuple[int, ...]:
    """A tuple or list of ints: nn.Unflatten rejects a bare int (TypeError)."""
    if isinstance(v, (list, tuple)) and all(is_int(i) for i in v):
        return tuple(int(i) for i in v)
    raise BadValue("a tuple or list of integers")


@register
class Unflatten(Layer):
    @classmethod
    def example(cls) -> Example:
        return (1, (2, 4)), {}, (1, 8, 6, 6)

    summary = "splits dim into unflattened_size (one entry may be -1)"
    ARGS = (Arg("dim", to_int), Arg("unflattened_size", to_sizes))
    dim: int
    SHARES_INPUT = True  # a view of its input in torch
    unflattened_size: tuple[int, ...]

    def out_shape(self, x: Shape) -> Shape:
        d = _norm_dim(self.dim, len(x), "dim")
        sizes = list(self.unflattened_size)
        if not sizes:
            raise ShapeError(
                "unflattened_size must not be empty",
                argument="unflattened_size",
                expected="at least one size",
                got=self.unflattened_size,
            )
        if sizes.count(-1) > 1:
            raise ShapeError(
                "only one size in unflattened_size can be -1",
                argument="unflattened_size",
                got=self.unflattened_size,
            )
        if any(s < -1 for s in sizes):
            raise ShapeError(
                "unflattened_size entries must be non-negative or -1",
                argument="unflattened_size",
                got=self.unflattened_size,
            )
        known = prod(s for s in sizes if s != -1)
        if -1 in sizes:
            if known == 0 or x[d] % known:
                raise ShapeError(
                    f"unflattened_size {fmt_shape(sizes)} cannot split dim {d} of size {x[d]}",
                    argument="unflattened_size",
                    expected=f"sizes whose product divides {x[d]}",
                    got=self.unflattened_size,
                    dim=d,
                )
            sizes[sizes.index(-1)] = x[d] // known
        elif known != x[d]:
            raise ShapeError(
                f"unflattened_size {fmt_shape(sizes)} multiplies to {known}, but dim {d} has size {x[d]}",
                argument="unflattened_size",
                expected=x[d],
                got=known,
                dim=d,
                hint="use -1 for one entry to have it computed",
            )
        return x[:d] + tuple(sizes) + x[d + 1 :]

    def explain(self, x: Shape) -> Iterator[Step]:
        y = self.out_shape(x)
        d = _norm_dim(self.dim, len(x), "dim")
        known = prod(s for s in self.unflattened_size if s != -1)
        for j, size in enumerate(self.unflattened_size):
            if size == -1:
                yield Step(
                    f"d{d + j}_out",
                    f"d{d}_in / the product of the other sizes (-1)",
                    (f"{x[d]} / {known}",),
                    y[d + j],
                    dim=d + j,
                )
            else:
                yield Step(f"d{d + j}_out", f"unflattened_size[{j}]", (), y[d + j], dim=d + j)

    def receptive_field(self, x: Shape, y: Shape, field: ReceptiveField) -> ReceptiveField | None:
        d = self.dim % len(x)
        return lose_layout(field) if d >= len(x) - len(field.size) else field

    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        return x.reshape(self.out_shape(tuple(x.shape)))


@register
class Identity(Layer):
    summary = "returns its input (any arguments are accepted and ignored)"
    accepts_anything = True
    SHARES_INPUT = True  # its input itself in torch

    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        return x
