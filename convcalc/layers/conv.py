"""Convolution: Conv1d/2d/3d, ConvTranspose1d/2d/3d (whose rules are in conv_transpose.py)
and their Lazy variants."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..errors import ShapeError
from ..receptive import ReceptiveField, window
from ..shape import (
    AXES,
    Shape,
    conv_out_padded,
    prod,
    same_padding,
)
from .arguments import REQUIRED, Arg, to_bool, to_choice, to_int, to_ints
from .base import Example, Lazy, lazy_args, register
from .checks import batch_size, floor_note, spatial_example
from .conv_common import PADDING_MODES, ConvBase, to_padding
from .conv_transpose import ConvTransposeNd
from .steps import Step, floored, kernel_names, product, signed


class ConvNd(ConvBase):
    @classmethod
    def example(cls) -> Example:
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
        self._check_mode(spatial, pads)
        out = []
        for axis, size, k, s, d, (left, right) in zip(
            AXES[self.nd], spatial, self.kernel_size, self.stride, self.dilation, pads
        ):
            self._check_span(axis, size, k, d, left + right)
            out.append(conv_out_padded(size, k, s, left + right, d))
        return x[:cdim] + (self.out_channels,) + tuple(out)

    def _check_mode(self, spatial: Shape, pads: tuple[tuple[int, int], ...]) -> None:
        """reflect and circular padding read at most the input's size on each side."""
        if self.padding_mode not in ("reflect", "circular"):
            return
        for axis, size, (left, right) in zip(AXES[self.nd], spatial, pads):
            limit_ok = (
                max(left, right) < size
                if self.padding_mode == "reflect"
                else max(left, right) <= size
            )
            if not limit_ok:
                rule = "less than" if self.padding_mode == "reflect" else "at most"
                raise ShapeError(
                    f"padding_mode={self.padding_mode!r} needs padding {rule} the input size: "
                    f"{axis} is {size}, padding {max(left, right)}",
                    argument="padding",
                    expected=f"{rule} {size}",
                    got=max(left, right),
                    hint="use a larger input, less padding or padding_mode='zeros'",
                )

    def _check_span(self, axis: str, size: int, k: int, d: int, pad: int) -> None:
        """The dilated kernel fits in the padded input."""
        span = d * (k - 1) + 1
        if size + pad < span:
            raise ShapeError(
                f"kernel larger than the padded input: {axis} is {size} + padding {pad} "
                f"= {size + pad}, the {'dilated ' if d > 1 else ''}kernel spans {span}",
                argument="kernel_size",
                expected=f"a kernel span of at most {size + pad}",
                got=span,
                hint="use a larger input, more padding or a smaller kernel",
            )

    def receptive_field(self, x: Shape, y: Shape, field: ReceptiveField) -> ReceptiveField | None:
        p = self.padding
        left = [a for a, _ in self.pads()] if isinstance(p, str) else p
        return window(field, self.kernel_size, self.stride, self.dilation, left)

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

    def explain(self, x: Shape) -> Iterator[Step]:
        cdim, c_in, spatial = self.channels(x)
        pads = self.pads()
        self._check_mode(spatial, pads)
        yield Step("C_out", "out_channels", (), self.out_channels, dim=cdim)
        out = []
        for i, (axis, size, k, s, d, (left, right)) in enumerate(
            zip(AXES[self.nd], spatial, self.kernel_size, self.stride, self.dilation, pads)
        ):
            reach = d * (k - 1)
            if self.padding == "same":
                yield Step(f"{axis} pad total", "dilation·(kernel−1)", (f"{d}·({k} − 1)",), reach)
                yield Step(
                    f"{axis} padding",
                    "(⌊total/2⌋, total − ⌊total/2⌋)",
                    (f"(⌊{reach}/2⌋, {reach} − {reach // 2})",),
                    f"({left}, {right})",
                    note="'same': an odd total puts the extra one on the right"
                    if left != right
                    else "",
                )
            self._check_span(axis, size, k, d, left + right)
            o = conv_out_padded(size, k, s, left + right, d)
            out.append(o)
            numerator = size + left + right - reach - 1
            if left == right:
                formula = "2·padding"
                pad = [("+", left + right)]
            else:
                formula, pad = "pad_left + pad_right", [("+", left), ("+", right)]
            yield Step(
                f"{axis}_out",
                f"⌊({axis}_in + {formula} − dilation·(kernel−1) − 1) / stride⌋ + 1",
                (
                    f"⌊({signed([('', size), *pad, ('−', reach), ('−', 1)])}) / {s}⌋ + 1",
                    *floored(numerator, s, 1),
                ),
                o,
                dim=cdim + 1 + i,
            )
        g, c_out, kernel = self.groups, self.out_channels, self.kernel_size
        k_names = " · ".join(kernel_names(self.nd))
        per_group = f"{c_in}/{g}" if g > 1 else str(c_in)
        yield self.params_step(x, ("C_out", c_out), ("C_in", c_in))
        n = batch_size(x, cdim)
        sizes = " · ".join(f"{a}_out" for a in AXES[self.nd])
        y = x[:cdim] + (c_out,) + tuple(out)
        yield Step(
            "MACs",
            f"N · C_out · {sizes} · C_in/groups · {k_names}",
            (f"{n} · {c_out} · {product(out)} · {per_group} · {product(kernel)}",),
            self.macs(x, y),
            counts="macs",
        )

    def scaled_weight(self, weight: Any, scale: Any) -> Any:
        # (C_out, C/g, *k): one pass over the weights, in their own dtype
        return weight * scale.astype(weight.dtype).reshape((-1,) + (1,) * (weight.ndim - 1))

    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        from .. import kernels

        batched = x.ndim == self.nd + 2
        xb = x if batched else x[None]
        pads = self.pads()
        if self.padding_mode == "zeros":  # padded while the kernel lays the input out
            y = kernels.conv(
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
        read = self._windows_read(xb, pads, out, budget)
        if read is not None:
            x_read, stride, dilation = read
            spare = max(budget - x_read.nbytes, 0)
            y = kernels.conv(x_read, args[0], args[1], stride, dilation, self.groups, spare)
            return y if batched else y[0]
        if out[2] > 1 and padded > budget // 2 and min(min(pads)) >= 0:
            # the padded copy alone would take half the budget: in slabs of output rows,
            # each padded from the rows it reads
            y = self._slabs(xb, args, pads, sizes, out, budget)
            return y if batched else y[0]
        xp = kernels.pad(xb, pads, self.padding_mode)
        spare = budget - (xp.nbytes if xp is not xb else 0)
        y = kernels.conv(xp, *args, max(spare, 0))
        return y if batched else y[0]

    def _windows_read(
        self, xb: Any, pads: Any, out: Shape, budget: int
    ) -> tuple[Any, list[int], list[int]] | None:
        """Along the axes where the windows read fewer positions than the padded input has
        (a stride past the kernel, padding far wider than the input), the input as the taps
        the windows read, back to back, each gathered in the padding mode from the input
        index it reads: ``(input, stride, dilation)`` to convolve it with (the stride the
        kernel, no dilation, along those axes; the others padded as they are). None when no
        axis gains or the result would take half the budget. A replicate padding of 3,000
        around one voxel, at a stride of 1,000, padded 6,001³ for 343 windows."""
        import numpy as np

        from .. import kernels

        index: list[Any] = []
        sizes = []
        for n, (a, b), k, s, d, o in zip(
            xb.shape[2:], pads, self.kernel_size, self.stride, self.dilation, out[2:]
        ):
            taps = None
            if o * k < n + a + b:
                at = (np.arange(o)[:, None] * s + np.arange(k)[None, :] * d).ravel() - a
                taps = kernels.mode_index(at, n, self.padding_mode)
            index.append(taps)
            sizes.append(o * k if taps is not None else n + a + b)
        if (
            all(i is None for i in index)
            or prod(xb.shape[:2]) * prod(sizes) * xb.itemsize > budget // 2
        ):
            return None
        x = xb
        # the axes that shrink first, then those padded as they are
        for axis in sorted(range(self.nd), key=lambda i: index[i] is None):
            if index[axis] is not None:
                x = np.take(x, index[axis], axis=2 + axis)
            else:
                one = [(0, 0)] * self.nd
                one[axis] = pads[axis]
                x = kernels.pad(x, one, self.padding_mode)
        stride = [
            k if i is not None else s for i, k, s in zip(index, self.kernel_size, self.stride)
        ]
        dilation = [1 if i is not None else d for i, d in zip(index, self.dilation)]
        return x, stride, dilation

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

        from .. import kernels

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
            slab = kernels.padded_rows(
                xb, 2, r0 * s, (r1 - 1) * s + span, pads[0][0], self.padding_mode
            )
            slab = kernels.pad(slab, [(0, 0)] + list(pads[1:]), self.padding_mode)
            spare = max(budget - 2 * slab.nbytes - (r1 - r0) * out_row, 0)
            y[:, :, r0:r1] = kernels.conv(slab, weight, bias, stride, dilation, groups, spare)
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
        if self.groups > 1 and c_in // self.groups >= 8:  # kernels.Config.grouped_direct_min
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
            self.pads(),
            self.dilation,
        )
        if note:
            notes.append(note)
        return notes


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
