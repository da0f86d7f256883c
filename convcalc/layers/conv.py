"""Convolution: Conv1d/2d/3d and ConvTranspose1d/2d/3d."""

from __future__ import annotations

from typing import Any, ClassVar

from ..errors import ShapeError
from ..shape import (
    AXES,
    Shape,
    conv_out_padded,
    conv_transpose_out,
    fmt_shape,
    prod,
    same_padding,
    transpose_phases,
)
from .base import (
    REQUIRED,
    Arg,
    BadValue,
    Layer,
    Lazy,
    batch_size,
    check_positive,
    floor_note,
    lazy_args,
    refuse_repeated,
    register,
    scaled_outputs,
    spatial_example,
    spatial_input,
    to_bool,
    to_choice,
    to_int,
    to_ints,
)

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def to_padding(n: int) -> Any:
    ints = to_ints(n, repeat=True)

    def convert(v: Any) -> Any:
        if isinstance(v, str):
            return v
        try:
            return ints(v)
        except BadValue:
            raise BadValue(
                f"{ints.form}, 'same' or 'valid'".replace("int or", "an integer,", 1)  # type: ignore[attr-defined]
            ) from None

    convert.form = f"{ints.form} | 'same' | 'valid'"  # type: ignore[attr-defined]
    return convert


class _Conv(Layer):
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
        for arg in ("in_channels", "out_channels"):
            value = getattr(self, arg)
            if value is not None and value % self.groups:
                raise ShapeError(
                    f"{arg} must be divisible by groups: {value} is not divisible by {self.groups}",
                    argument=arg,
                    expected=f"a multiple of groups={self.groups}",
                    got=value,
                    hint=_divisor_hint(arg, value, self.groups),
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


class ConvNd(_Conv):
    @classmethod
    def example(cls):
        return (8, 16, 3), {"padding": 1}, spatial_example(cls.nd)

    summary = "N-d convolution: out = (in + 2p - d(k-1) - 1) // s + 1"

    @classmethod
    def _args(cls, nd: int) -> tuple[Arg, ...]:
        return (
            Arg("in_channels", to_int, REQUIRED, infer=True),
            Arg("out_channels", to_int),
            Arg("kernel_size", to_ints(nd)),
            Arg("stride", to_ints(nd, repeat=True), 1),
            Arg("padding", to_padding(nd), 0),
            Arg("dilation", to_ints(nd, repeat=True), 1),
            Arg("groups", to_int, 1),
            Arg("bias", to_bool, True),
            Arg("padding_mode", to_choice(*PADDING_MODES), "zeros"),
        )

    def check(self) -> None:
        super().check()
        if self.padding == "same" and any(s != 1 for s in self.stride):
            raise ShapeError(
                "padding='same' is not supported for strided convolutions",
                argument="padding",
                expected="stride 1",
                got=self.stride,
                hint="use stride 1, or an explicit padding (k // 2 keeps the size ceil(in / stride) for odd k)",
            )

    def pads(self) -> tuple[tuple[int, int], ...]:
        """(left, right) padding per spatial axis."""
        if self.padding == "same":
            return tuple(same_padding(k, d) for k, d in zip(self.kernel_size, self.dilation))
        if self.padding == "valid":
            return ((0, 0),) * self.nd
        return tuple((p, p) for p in self.padding)  # type: ignore[misc]

    def out_shape(self, x: Shape) -> Shape:
        cdim, c_in, spatial = self.channels(x)
        pads = self.pads()
        axes = AXES[self.nd]
        if self.padding_mode != "zeros":
            for axis, size, (left, right) in zip(axes, spatial, pads):
                limit_ok = (
                    max(left, right) < size
                    if self.padding_mode == "reflect"
                    else max(left, right) <= size
                )
                if self.padding_mode in ("reflect", "circular") and not limit_ok:
                    rule = "less than" if self.padding_mode == "reflect" else "at most"
                    raise ShapeError(
                        f"padding_mode={self.padding_mode!r} needs padding {rule} the input size: "
                        f"{axis} is {size}, padding {max(left, right)}",
                        argument="padding",
                        expected=f"{rule} {size}",
                        got=max(left, right),
                        hint="use a larger input, less padding or padding_mode='zeros'",
                    )
        out = []
        for axis, size, k, s, d, (left, right) in zip(
            axes, spatial, self.kernel_size, self.stride, self.dilation, pads
        ):
            span = d * (k - 1) + 1
            if size + left + right < span:
                raise ShapeError(
                    f"kernel larger than the padded input: {axis} is {size} + padding {left + right} "
                    f"= {size + left + right}, the {'dilated ' if d > 1 else ''}kernel spans {span}",
                    argument="kernel_size",
                    expected=f"a kernel span of at most {size + left + right}",
                    got=span,
                    hint="use a larger input, more padding or a smaller kernel",
                )
            out.append(conv_out_padded(size, k, s, left + right, d))
        return x[:cdim] + (self.out_channels,) + tuple(out)

    def weights(self, x: Shape | None) -> dict[str, Shape] | None:
        c_in = self.c_in(x)
        if c_in is None:
            return None
        w = {"weight": (self.out_channels, c_in // self.groups) + self.kernel_size}
        if self.bias:
            w["bias"] = (self.out_channels,)
        return w

    def macs(self, x: Shape, y: Shape) -> int:
        cdim = len(x) - self.nd - 1
        c_in = x[cdim]
        return (
            batch_size(x, cdim)
            * self.out_channels
            * prod(y[cdim + 1 :])
            * (c_in // self.groups)
            * prod(self.kernel_size)
        )

    def scaled_weight(self, weight: Any, scale: Any) -> Any:
        # (C_out, C/g, *k): one pass over the weights, in their own dtype
        return weight * scale.astype(weight.dtype).reshape((-1,) + (1,) * (weight.ndim - 1))

    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        from .. import numeric

        batched = x.ndim == self.nd + 2
        xb = x if batched else x[None]
        pads = self.pads()
        if self.padding_mode == "zeros":  # padded while the kernel lays the input out
            y = numeric.conv(
                xb,
                w["weight"],
                w.get("bias"),
                self.stride,
                self.dilation,
                self.groups,
                budget,
                pads=pads,
            )
            return y if batched else y[0]
        args = (w["weight"], w.get("bias"), self.stride, self.dilation, self.groups)
        sizes = [e + a + b for e, (a, b) in zip(xb.shape[2:], pads)]
        padded = prod(xb.shape[:2]) * prod(sizes) * xb.itemsize
        out = self.out_shape(tuple(xb.shape))
        if out[2] > 1 and padded > budget // 2 and min(min(pads)) >= 0:
            # the padded copy alone would take half the budget: in slabs of output rows,
            # each padded from the rows it reads
            y = self._slabs(xb, args, pads, sizes, out, budget)
            return y if batched else y[0]
        xp = numeric.pad(xb, pads, self.padding_mode)
        spare = budget - (xp.nbytes if xp is not xb else 0)
        y = numeric.conv(xp, *args, max(spare, 0))
        return y if batched else y[0]

    def _slabs(
        self,
        xb: Any,
        args: tuple[Any, ...],
        pads: Any,
        sizes: list[int],
        out: Shape,
        budget: int,
    ) -> Any:
        """The output ``out`` (batched) in slabs of rows, each slab of the input gathered
        with the padding mode from the rows it reads, padded along its other axes, and
        convolved on its own, within ``budget``."""
        import numpy as np

        from .. import numeric

        y = np.empty(out, dtype=xb.dtype)
        s = self.stride[0]
        span = self.dilation[0] * (self.kernel_size[0] - 1) + 1
        padded_row = prod(xb.shape[:2]) * prod(sizes[1:]) * xb.itemsize
        out_row = prod(out) // out[2] * xb.itemsize
        # a third of the budget for a slab's padded rows and output: its kernel makes one
        # more copy of those rows (its flat layout) beside its own pieces
        rows = max(1, (budget // 3 - span * padded_row) // (s * padded_row + out_row))
        weight, bias, stride, dilation, groups = args
        for r0 in range(0, out[2], rows):
            r1 = min(out[2], r0 + rows)
            slab = numeric.padded_rows(
                xb, 2, r0 * s, (r1 - 1) * s + span, pads[0][0], self.padding_mode
            )
            slab = numeric.pad(slab, [(0, 0)] + list(pads[1:]), self.padding_mode)
            spare = max(budget - 2 * slab.nbytes - (r1 - r0) * out_row, 0)
            y[:, :, r0:r1] = numeric.conv(slab, weight, bias, stride, dilation, groups, spare)
            del slab  # before the next slab's: never two at once
        return y

    def workspace(self, x: Shape, y: Shape) -> int:
        cdim = len(x) - self.nd - 1
        n = batch_size(x, cdim)
        c_in = x[cdim]
        pads = self.pads()
        padded_sizes = [s + a + b for s, (a, b) in zip(x[cdim + 1 :], pads)]
        pointwise = all(k == 1 for k in self.kernel_size) and all(s == 1 for s in self.stride)
        # a separate padded copy, unless the zero padding is applied while laying the input out
        separate = self.padding_mode != "zeros" or pointwise
        padded = n * c_in * prod(padded_sizes) if separate and any(a or b for a, b in pads) else 0
        if pointwise:
            return padded  # the product is written straight into the output
        # the flat (phase-split when strided) copy of the input, and its zero-filled grid
        flat = n * c_in * prod(padded_sizes) * (1 if all(s == 1 for s in self.stride) else 2)
        # one flat output row spans the phase image's width (a few padding columns more)
        out_rows = y[cdim + 1]
        width = prod([-(-s // st) for s, st in zip(padded_sizes[1:], self.stride[1:])])
        product = n * self.out_channels * out_rows * width
        if self.groups > 1 and c_in // self.groups >= 8:  # numeric.GROUPED_DIRECT_MIN
            return padded + flat + 2 * product  # accumulator and one tap's product
        # the gathered taps (and a row of ones for the bias) and the product: the column
        # matrix of standard convolution, a depthwise block's taps; the per-tap products of
        # wide standard convolution need only the product
        cols = n * c_in * (prod(self.kernel_size) + 1) * out_rows * width
        return padded + flat + cols + product

    def notes(self, x: Shape, y: Shape) -> list[str]:
        notes = super().notes(x, y)
        if isinstance(self.padding, str):
            if self.padding == "same":
                pads = self.pads()
                if any(left != right for left, right in pads):
                    notes.append(
                        "padding='same' pads "
                        + ", ".join(
                            f"{a} {lr[0]} before/{lr[1]} after"
                            for a, lr in zip(AXES[self.nd], pads)
                        )
                    )
            return notes
        note = floor_note(
            AXES[self.nd],
            x[len(x) - self.nd :],
            self.kernel_size,
            self.stride,
            tuple(2 * p for p in self.padding),
            self.dilation,
        )
        if note:
            notes.append(note)
        return notes


class ConvTransposeNd(_Conv):
    @classmethod
    def example(cls):
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
                    f"{_tuple(self.output_padding)}, stride {_tuple(self.stride)}, dilation {_tuple(self.dilation)}",
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

    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        from .. import numeric

        batched = x.ndim == self.nd + 2
        y = numeric.conv_transpose(
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


def _tuple(v: tuple[int, ...]) -> str:
    return str(v[0]) if len(set(v)) == 1 else str(v)


def _divisor_hint(arg: str, value: int, groups: int) -> str:
    lower = value - value % groups
    upper = lower + groups
    options = [str(v) for v in (lower, upper) if v > 0]
    return f"use {arg} {' or '.join(options)}, or groups that divide {value}"


@register
class Conv1d(ConvNd):
    nd = 1
    ARGS = ConvNd._args(1)


@register
class Conv2d(ConvNd):
    nd = 2
    ARGS = ConvNd._args(2)


@register
class Conv3d(ConvNd):
    nd = 3
    ARGS = ConvNd._args(3)


@register
class ConvTranspose1d(ConvTransposeNd):
    nd = 1
    ARGS = ConvTransposeNd._args(1)


@register
class ConvTranspose2d(ConvTransposeNd):
    nd = 2
    ARGS = ConvTransposeNd._args(2)


@register
class ConvTranspose3d(ConvTransposeNd):
    nd = 3
    ARGS = ConvTransposeNd._args(3)


@register
class LazyConv1d(Lazy, Conv1d):
    summary = "Conv1d with in_channels taken from the input"
    ARGS = lazy_args(Conv1d.ARGS)
    in_channels = None


@register
class LazyConv2d(Lazy, Conv2d):
    summary = "Conv2d with in_channels taken from the input"
    ARGS = lazy_args(Conv2d.ARGS)
    in_channels = None


@register
class LazyConv3d(Lazy, Conv3d):
    summary = "Conv3d with in_channels taken from the input"
    ARGS = lazy_args(Conv3d.ARGS)
    in_channels = None


@register
class LazyConvTranspose1d(Lazy, ConvTranspose1d):
    summary = "ConvTranspose1d with in_channels taken from the input"
    ARGS = lazy_args(ConvTranspose1d.ARGS)
    in_channels = None


@register
class LazyConvTranspose2d(Lazy, ConvTranspose2d):
    summary = "ConvTranspose2d with in_channels taken from the input"
    ARGS = lazy_args(ConvTranspose2d.ARGS)
    in_channels = None


@register
class LazyConvTranspose3d(Lazy, ConvTranspose3d):
    summary = "ConvTranspose3d with in_channels taken from the input"
    ARGS = lazy_args(ConvTranspose3d.ARGS)
    in_channels = None
