"""What convolution and transposed convolution share: the padding argument's forms, and
:class:`ConvBase` with the channel and group checks, init, folding and diagnosis hints."""

from __future__ import annotations

from typing import Any, ClassVar

from ..errors import ShapeError
from ..shape import (
    AXES,
    Shape,
    conv_out_padded,
    fmt_shape,
    prod,
)
from .arguments import BadValue, Converter, converter_form, refuse_repeated, to_ints
from .base import Layer, scaled_outputs
from .checks import check_positive, spatial_input
from .steps import Step, kernel_names, product

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def to_padding(n: int) -> Converter[Any]:
    ints = to_ints(n, repeat=True)

    @converter_form(f"{ints.form} | 'same' | 'valid'")
    def convert(v: Any) -> Any:
        if isinstance(v, str):
            return v
        try:
            return ints(v)
        except BadValue:
            raise BadValue(
                f"{ints.form}, 'same' or 'valid'".replace("int or", "an integer,", 1)
            ) from None

    return convert


class ConvBase(Layer):
    """Shared by the convolution types; ``nd`` is set per registered class."""

    nd: ClassVar[int] = 2
    transposed: ClassVar[bool] = False
    IGNORED = ("device", "dtype")

    in_channels: int | None
    out_channels: int
    kernel_size: tuple[int, ...]
    stride: tuple[int, ...]
    padding: str | tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int
    bias: bool
    padding_mode: str

    def check(self) -> None:
        if self.groups <= 0:
            raise ShapeError(
                f"groups must be a positive integer, got {self.groups}",
                argument="groups",
                expected="a positive integer",
                got=self.groups,
            )
        for arg, value in (("in_channels", self.in_channels), ("out_channels", self.out_channels)):
            if value is not None and value % self.groups:
                raise ShapeError(
                    f"{arg} must be divisible by groups: {value} is not divisible by {self.groups}",
                    argument=arg,
                    expected=f"a multiple of groups={self.groups}",
                    got=value,
                    hint=divisor_hint(arg, value, self.groups),
                )
        check_positive("out_channels", self.out_channels, "positive")
        check_positive("kernel_size", self.kernel_size, "positive")
        check_positive("stride", self.stride, "positive")
        check_positive("dilation", self.dilation, "positive")
        if isinstance(self.padding, str):
            if self.padding not in ("same", "valid"):
                raise ShapeError(
                    f"padding must be an integer, a tuple, 'same' or 'valid', got {self.padding!r}",
                    argument="padding",
                    expected="'same' or 'valid'",
                    got=self.padding,
                )
        elif self.padding_mode == "zeros":
            # torch crops for a negative padding with the other modes (F.pad), not with zeros
            check_positive("padding", self.padding, "non-negative", minimum=0)
        else:
            why = f"padding_mode={self.padding_mode!r} pads with F.pad, which reads pairs"
            refuse_repeated("padding", self.padding, self.nd, why)

    def absorb_affine(
        self, y: Shape, w: dict[str, Any], scale: Any, shift: Any
    ) -> dict[str, Any] | None:
        if len(y) != self.nd + 2:  # unbatched: the channels are axis 0
            return None
        return scaled_outputs(w, self.scaled_weight(w["weight"], scale), scale, shift)

    def scaled_weight(self, weight: Any, scale: Any) -> Any:
        """``weight`` with each output channel's filter times ``scale`` of that channel."""
        raise NotImplementedError

    def channels(self, x: Shape) -> tuple[int, int, Shape]:
        """Check rank and channel count; return (channel dim, in_channels, spatial)."""
        cdim, spatial = spatial_input(x, self.nd)
        c_in = x[cdim]
        want = self.in_channels
        if want is not None and c_in != want:
            raise ShapeError(
                f"expects {want} input channels, receives {c_in}",
                argument="in_channels",
                expected=want,
                got=c_in,
                dim=cdim,
                hint=f"set in_channels: {c_in} (or leave it out to take it from the input)",
            )
        if self.in_channels is None and c_in % self.groups:
            raise ShapeError(
                f"in_channels must be divisible by groups: {c_in} (from the input) is not divisible by {self.groups}",
                argument="in_channels",
                expected=f"a multiple of groups={self.groups}",
                got=c_in,
                dim=cdim,
            )
        for i, (axis, size) in enumerate(zip(AXES[self.nd], spatial)):
            if size == 0:
                raise ShapeError(
                    f"the input {fmt_shape(x)} is empty on {axis}: a convolution takes an empty "
                    "batch or an empty channel axis, never an empty spatial one",
                    argument="input",
                    expected=f"{axis} of at least 1",
                    got=0,
                    dim=cdim + 1 + i,
                    hint="find the layer before it that empties that axis",
                )
        return cdim, c_in, spatial

    def c_in(self, x: Shape | None) -> int | None:
        if self.in_channels is not None:
            return self.in_channels
        if x is None or len(x) < self.nd + 1:
            return None
        return x[len(x) - self.nd - 1]

    def inferred_values(self, x: Shape) -> dict[str, Any]:
        return {"in_channels": self.c_in(x)}

    # -- NumPy forward pass ------------------------------------------------
    def init(self, x: Shape, rng: Any) -> dict[str, Any]:
        """torch's reset_parameters: kaiming_uniform_(a=√5) for the weight and U(-b, b) for the
        bias, both with b = 1/√fan_in, fan_in = weight.size(1)·∏kernel (for a transposed
        convolution that is C_out/groups·∏kernel)."""
        import numpy as np

        shapes = self.weights(x) or {}
        weight = shapes["weight"]
        fan_in = prod(weight[1:])
        bound = 1.0 / np.sqrt(fan_in) if fan_in > 0 else 0.0
        out = {"weight": rng.uniform(-bound, bound, size=weight)}
        if "bias" in shapes:
            out["bias"] = rng.uniform(-bound, bound, size=shapes["bias"])
        return out

    def sets_dim(self, x: Shape, y: Shape, dim: int) -> bool:
        return dim == len(y) - self.nd - 1

    def resize_hint(self, x: Shape, y: Shape, dim: int, wanted: int, label: str) -> str | None:
        first = len(y) - self.nd
        if dim >= first:
            return self._padding_hint(x, dim - first, wanted, label)
        if dim != first - 1:
            return None
        if wanted % self.groups:
            return None
        return f"set out_channels: {wanted} in {label}"

    def _padding_hint(self, x: Shape, axis: int, wanted: int, label: str) -> str | None:
        """The symmetric padding with which spatial ``axis`` of the output is ``wanted``
        (on every axis, when input, kernel and padding are the same on all of them)."""
        if self.transposed or isinstance(self.padding, str):
            return None
        spatial = x[len(x) - self.nd :]
        size = spatial[axis]
        k, s, d = self.kernel_size[axis], self.stride[axis], self.dilation[axis]
        # the output grows with the padding: the smallest that reaches ``wanted`` is the one
        p = max(0, -(-((wanted - 1) * s - size + d * (k - 1) + 1) // 2))
        if conv_out_padded(size, k, s, 2 * p, d) != wanted:
            return None
        if (self.padding_mode == "reflect" and p >= size) or (
            self.padding_mode == "circular" and p > size
        ):
            return None
        pads = list(self.padding)
        symmetric = all(
            len(set(values)) == 1
            for values in (spatial, self.kernel_size, self.stride, self.dilation, pads)
        )
        if symmetric:
            return f"set padding: {p} in {label}"
        pads[axis] = p
        return f"set padding: ({', '.join(map(str, pads))}) in {label}"

    def notes(self, x: Shape, y: Shape) -> list[str]:
        c_in = self.c_in(x) or 0
        g = self.groups
        notes = []
        if g > 1 and g == c_in:
            m = self.out_channels // g
            notes.append("depthwise" + (f", depth multiplier {m}" if m > 1 else ""))
        elif g > 1:
            notes.append(f"{g} groups")
        return notes

    def params_step(self, x: Shape, outer: tuple[str, int], split: tuple[str, int]) -> Step:
        """The params line of an explanation: ``outer · split/groups · k_h · k_w (+ C_out)``;
        a convolution's outer channels are C_out, a transposed convolution's C_in."""
        (outer_name, a), (split_name, b) = outer, split
        g, c_out, kernel = self.groups, self.out_channels, self.kernel_size
        bias = (" + C_out", f" + {c_out}") if self.bias else ("", "")
        k_names = " · ".join(kernel_names(self.nd))
        per_group = f"{b}/{g}" if g > 1 else str(b)
        return Step(
            "params",
            f"{outer_name} · {split_name}/groups · {k_names}{bias[0]}",
            (
                f"{a} · {per_group} · {product(kernel)}{bias[1]}",
                f"{a * (b // g) * prod(kernel)}{bias[1]}",
            ),
            prod((self.weights(x) or {})["weight"]) + (c_out if self.bias else 0),
            counts="params",
        )


def compact_tuple(v: tuple[int, ...]) -> str:
    return str(v[0]) if len(set(v)) == 1 else str(v)


def divisor_hint(arg: str, value: int, groups: int) -> str:
    lower = value - value % groups
    upper = lower + groups
    options = [str(v) for v in (lower, upper) if v > 0]
    return f"use {arg} {' or '.join(options)}, or groups that divide {value}"
