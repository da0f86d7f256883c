"""Transposed convolution: the rules of ConvTranspose1d/2d/3d, which conv.py registers
beside the convolutions. out = (in - 1)s - 2p + d(k-1) + output_padding + 1."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..errors import ShapeError
from ..periodic import LIMIT, UNKNOWN, Periodic, reduced
from ..receptive import ReceptiveField, remap
from ..shape import (
    AXES,
    Shape,
    conv_transpose_out,
    fmt_shape,
    prod,
    transpose_phases,
)
from .arguments import REQUIRED, Arg, to_bool, to_choice, to_int, to_ints
from .base import Example
from .checks import batch_size, check_positive, spatial_example
from .conv_common import PADDING_MODES, ConvBase, compact_tuple, to_padding
from .steps import Step, kernel_names, product


class ConvTransposeNd(ConvBase):
    @classmethod
    def example(cls) -> Example:
        return (8, 4, 4), {"stride": 2, "padding": 1}, spatial_example(cls.nd)

    summary = "N-d transposed convolution: out = (in - 1)s - 2p + d(k-1) + output_padding + 1"
    transposed = True
    output_padding: tuple[int, ...]

    @classmethod
    def _args(cls, nd: int) -> tuple[Arg, ...]:
        return (
            Arg("in_channels", to_int, REQUIRED, infer=True),
            Arg("out_channels", to_int),
            Arg("kernel_size", to_ints(nd)),
            Arg("stride", to_ints(nd, repeat=True), 1),
            Arg("padding", to_padding(nd), 0),
            Arg("output_padding", to_ints(nd, repeat=True), 0),
            Arg("groups", to_int, 1),
            Arg("bias", to_bool, True),
            Arg("dilation", to_ints(nd, repeat=True), 1),
            Arg("padding_mode", to_choice(*PADDING_MODES), "zeros"),
        )

    def check(self) -> None:
        if isinstance(self.padding, str):
            raise ShapeError(
                f"{self.type_name} does not support padding={self.padding!r}",
                argument="padding",
                expected="an integer or a tuple",
                got=self.padding,
                hint="give padding as integers; out = (in - 1)·stride - 2·padding + dilation·(kernel - 1) + output_padding + 1",
            )
        super().check()
        if self.padding_mode != "zeros":
            raise ShapeError(
                f"only padding_mode='zeros' is supported for {self.type_name}, got {self.padding_mode!r}",
                argument="padding_mode",
                expected="'zeros'",
                got=self.padding_mode,
            )
        check_positive("output_padding", self.output_padding, "non-negative", minimum=0)
        for op, s, d in zip(self.output_padding, self.stride, self.dilation):
            if op >= max(s, d):
                raise ShapeError(
                    f"output_padding must be smaller than stride or dilation: output_padding "
                    f"{compact_tuple(self.output_padding)}, stride {compact_tuple(self.stride)}, dilation {compact_tuple(self.dilation)}",
                    argument="output_padding",
                    expected=f"less than max(stride, dilation) = {max(s, d)}",
                    got=op,
                    hint=f"use output_padding < {max(s, d)}",
                )

    def out_shape(self, x: Shape) -> Shape:
        cdim, c_in, spatial = self.channels(x)
        out = []
        for size, k, s, p, d, op in zip(
            spatial,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.output_padding,
        ):
            out.append(conv_transpose_out(size, k, s, p, d, op))
        if any(o < 1 for o in out):
            raise ShapeError(
                f"output size is too small: input {fmt_shape(spatial)} gives {fmt_shape(out)}",
                argument="padding",
                expected="an output size of at least 1",
                got=tuple(out),
                hint="use less padding or a larger kernel or stride",
            )
        return x[:cdim] + (self.out_channels,) + tuple(out)

    def _int_padding(self) -> tuple[int, ...]:
        """The padding per spatial axis (check refuses a string)."""
        assert not isinstance(self.padding, str)
        return self.padding

    def receptive_field(self, x: Shape, y: Shape, field: ReceptiveField) -> ReceptiveField | None:
        """Output element o reads the input elements i with o = i·stride − padding +
        dilation·j: the largest region over o, and output element 0's."""
        return remap(
            field,
            [
                transposed_map(k, s, p, d)
                for k, s, p, d in zip(
                    self.kernel_size, self.stride, self._int_padding(), self.dilation
                )
            ],
        )

    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        from .. import kernels

        batched = x.ndim == self.nd + 2
        y = kernels.conv_transpose(
            x if batched else x[None],
            w["weight"],
            w.get("bias"),
            self.stride,
            self.padding,  # type: ignore[arg-type]
            self.output_padding,
            self.dilation,
            self.groups,
            budget,
        )
        return y if batched else y[0]

    def scaled_weight(self, weight: Any, scale: Any) -> Any:
        # (C_in, C_out/g, *k): output channel o = group·C_out/g + j
        g = self.groups
        cin, cog = weight.shape[:2]
        kernel = weight.shape[2:]
        per_out = scale.astype(weight.dtype).reshape((g, 1, cog) + (1,) * len(kernel))
        return (weight.reshape((g, cin // g, cog) + kernel) * per_out).reshape(weight.shape)

    def workspace(self, x: Shape, y: Shape) -> int:
        cdim = len(x) - self.nd - 1
        n = batch_size(x, cdim)
        inp = x[cdim + 1 :]
        sizes, tail = transpose_phases(
            inp,
            self.kernel_size,
            self.stride,
            self.dilation,
            self.padding,  # type: ignore[arg-type]
            y[cdim + 1 :],
        )
        width = prod(sizes[1:])
        # the input padded to the phase width, the footprints (cols) and the phase images
        padded = n * x[cdim] * inp[0] * width if list(inp[1:]) != sizes[1:] else 0
        cols = n * self.out_channels * prod(self.kernel_size) * inp[0] * width
        phases = prod(self.stride) * n * self.out_channels * (prod(sizes) + tail)
        return padded + cols + phases

    def weights(self, x: Shape | None) -> dict[str, Shape] | None:
        c_in = self.c_in(x)
        if c_in is None:
            return None
        w = {"weight": (c_in, self.out_channels // self.groups) + self.kernel_size}
        if self.bias:
            w["bias"] = (self.out_channels,)
        return w

    def tap_passes(self, x: Any, y: Shape) -> int:
        """Every path adds tap by tap (the stride phases' products, or the scatter): each tap
        reads the whole input and writes as many outputs, in and out channels."""
        cdim = len(x) - self.nd - 1
        passes: int = (
            batch_size(x, cdim)
            * prod(x[cdim + 1 :])
            * prod(self.kernel_size)
            * (x[cdim] + self.out_channels)
        )
        return passes

    def macs(self, x: Shape, y: Shape) -> int:
        # torch.utils.flop_counter counts the INPUT's spatial size for transposed convolution
        cdim = len(x) - self.nd - 1
        return (
            batch_size(x, cdim)
            * x[cdim]
            * prod(x[cdim + 1 :])
            * (self.out_channels // self.groups)
            * prod(self.kernel_size)
        )

    def explain(self, x: Shape) -> Iterator[Step]:
        cdim, c_in, spatial = self.channels(x)
        yield Step("C_out", "out_channels", (), self.out_channels, dim=cdim)
        window = zip(
            AXES[self.nd],
            spatial,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.output_padding,
        )
        for i, (axis, size, k, s, p, d, op) in enumerate(window):
            rest = f"{2 * p} + {d * (k - 1)} + {op} + 1"
            yield Step(
                f"{axis}_out",
                f"({axis}_in − 1)·stride − 2·padding + dilation·(kernel−1) + output_padding + 1",
                (f"({size} − 1)·{s} − {rest}", f"{(size - 1) * s} − {rest}"),
                conv_transpose_out(size, k, s, p, d, op),
                dim=cdim + 1 + i,
            )
        y = self.out_shape(x)  # an output smaller than 1 fails here, once every axis is shown
        g, c_out, kernel = self.groups, self.out_channels, self.kernel_size
        k_names = " · ".join(kernel_names(self.nd))
        per_group = f"{c_out}/{g}" if g > 1 else str(c_out)
        yield self.params_step(x, ("C_in", c_in), ("C_out", c_out))
        sizes = " · ".join(f"{a}_in" for a in AXES[self.nd])
        yield Step(
            "MACs",
            f"N · C_in · {sizes} · C_out/groups · {k_names}",
            (
                f"{batch_size(x, cdim)} · {c_in} · {product(spatial)} · {per_group} · {product(kernel)}",
            ),
            self.macs(x, y),
            counts="macs",
        )


def transposed_map(k: int, s: int, p: int, d: int) -> Periodic:
    """A transposed convolution's axis: output element o reads the input elements
    i = (o + p − d·j) / s (the integral ones, tap j < k); the pattern repeats every s outputs.
    O(k + s)."""
    if s > LIMIT:
        return UNKNOWN
    lo = [1] * s
    hi = [0] * s
    for j in range(k):
        r = (d * j - p) % s  # the outputs o ≡ r (mod s) hold tap j
        i = (r + p - d * j) // s
        if lo[r] > hi[r]:
            lo[r] = hi[r] = i
        else:
            lo[r], hi[r] = min(lo[r], i), max(hi[r], i)
    return reduced(Periodic(s, 1, tuple(lo), tuple(hi)))
