"""Upsample, the padding layers, PixelShuffle/PixelUnshuffle and ChannelShuffle against PyTorch 2.13.

Every expected value below was produced by torch 2.13 (CPU): the output shape of a real
forward pass for OK, and for ERRORS the exception torch raised (quoted above each row).
All these layers have 0 parameters and torch.utils.flop_counter counts 0 FLOPs for them.
torch raises every one of these errors in forward (the constructors check nothing).

Upsample computes out = int(in * scale) in float64, so 100 * 0.29 = 28.999999999999996 → 28.
Padding tuples run from the LAST dimension: (left, right, top, bottom, front, back);
torch takes a tuple of any even length and pads that many trailing dimensions.
"""

import pytest

from convcalc import ShapeError, SpecError, analyze, spec_from_strings
from convcalc.layers import REGISTRY
from convcalc.spec import parse_call

OK = [
    ("Upsample(scale_factor=2)", (1, 3, 8, 8), (1, 3, 16, 16)),
    ("Upsample(scale_factor=2.0, mode='nearest')", (1, 3, 8), (1, 3, 16)),
    ("Upsample(scale_factor=1.3333)", (1, 1, 7), (1, 1, 9)),
    ("Upsample(scale_factor=0.29)", (1, 1, 100), (1, 1, 28)),
    ("Upsample(scale_factor=0.29, recompute_scale_factor=True)", (1, 1, 100), (1, 1, 28)),
    ("Upsample(scale_factor=0.29, mode='area')", (1, 1, 100), (1, 1, 28)),
    ("Upsample(scale_factor=0.3)", (1, 1, 10), (1, 1, 3)),
    ("Upsample(scale_factor=0.1)", (1, 1, 30), (1, 1, 3)),
    ("Upsample(scale_factor=0.3333333333333333)", (1, 1, 3), (1, 1, 1)),
    ("Upsample(scale_factor=0.5)", (1, 2, 7, 5), (1, 2, 3, 2)),
    ("Upsample(scale_factor=1.5, mode='bilinear')", (2, 3, 5, 7), (2, 3, 7, 10)),
    (
        "Upsample(scale_factor=1.5, mode='bilinear', align_corners=True)",
        (2, 3, 5, 7),
        (2, 3, 7, 10),
    ),
    ("Upsample(scale_factor=(2, 3), mode='bicubic')", (1, 1, 4, 5), (1, 1, 8, 15)),
    ("Upsample(scale_factor=[2, 0.5], mode='nearest-exact')", (1, 1, 4, 5), (1, 1, 8, 2)),
    ("Upsample(scale_factor=2, mode='trilinear')", (1, 2, 3, 4, 5), (1, 2, 6, 8, 10)),
    ("Upsample(scale_factor=(1, 2, 0.5), mode='nearest')", (1, 2, 3, 4, 5), (1, 2, 3, 8, 2)),
    ("Upsample(scale_factor=2.5, mode='linear', align_corners=False)", (2, 4, 7), (2, 4, 17)),
    ("Upsample(scale_factor=1.7, mode='area')", (1, 3, 6, 6), (1, 3, 10, 10)),
    ("Upsample(scale_factor=0.2, mode='area')", (1, 1, 4), (1, 1, 0)),
    ("Upsample(scale_factor=-0.1, mode='area')", (1, 1, 4), (1, 1, 0)),
    ("Upsample(size=5)", (1, 3, 8, 8), (1, 3, 5, 5)),
    ("Upsample(size=(3, 9), mode='bilinear')", (1, 3, 8, 8), (1, 3, 3, 9)),
    ("Upsample(size=[2, 3, 4], mode='trilinear')", (1, 1, 5, 5, 5), (1, 1, 2, 3, 4)),
    ("Upsample(size=(7,), mode='linear')", (2, 3, 4), (2, 3, 7)),
    ("Upsample(size=0, mode='area')", (1, 1, 4), (1, 1, 0)),
    ("Upsample(size=9, mode='area')", (1, 1, 4), (1, 1, 9)),
    ("Upsample(size=3, recompute_scale_factor=False)", (1, 1, 4), (1, 1, 3)),
    ("Upsample(size=3, scale_factor=0)", (1, 1, 4), (1, 1, 3)),
    ("Upsample(scale_factor=2)", (0, 1, 4), (0, 1, 8)),
    ("UpsamplingNearest2d(scale_factor=2)", (1, 3, 4, 4), (1, 3, 8, 8)),
    ("UpsamplingNearest2d(size=(5, 6))", (1, 3, 4, 4), (1, 3, 5, 6)),
    ("UpsamplingNearest2d(scale_factor=2)", (1, 3, 4), (1, 3, 8)),
    ("UpsamplingNearest2d(scale_factor=2)", (1, 3, 2, 2, 2), (1, 3, 4, 4, 4)),
    ("UpsamplingBilinear2d(scale_factor=2)", (1, 3, 4, 4), (1, 3, 8, 8)),
    ("UpsamplingBilinear2d(size=7)", (2, 1, 4, 5), (2, 1, 7, 7)),
    ("ZeroPad2d(1)", (1, 3, 4, 4), (1, 3, 6, 6)),
    ("ZeroPad2d((1, 2, 3, 4))", (1, 3, 4, 4), (1, 3, 11, 7)),
    ("ZeroPad2d((1, 2, 3, 4))", (3, 4, 4), (3, 11, 7)),
    ("ZeroPad2d((1, 2, 3, 4))", (4, 4), (11, 7)),
    ("ZeroPad2d((1, 2, 3, 4))", (1, 2, 3, 4, 4), (1, 2, 3, 11, 7)),
    ("ZeroPad2d((1, 2))", (1, 3, 4, 4), (1, 3, 4, 7)),
    ("ZeroPad2d((1, 2, 3, 4, 5, 6))", (1, 3, 4, 4), (1, 14, 11, 7)),
    ("ZeroPad2d((-1, -1, 0, 0))", (1, 3, 4, 4), (1, 3, 4, 2)),
    ("ZeroPad2d((-2, -2, 1, 1))", (1, 3, 4, 4), (1, 3, 6, 0)),
    ("ZeroPad1d((-1, 5))", (1, 1, 1), (1, 1, 5)),
    ("ZeroPad1d((1, -1))", (1, 1, 1), (1, 1, 1)),
    ("ZeroPad1d((3, -2))", (1, 1, 2), (1, 1, 3)),
    ("ZeroPad1d(2)", (5,), (9,)),
    ("ZeroPad1d(2)", (2, 3, 4, 5), (2, 3, 4, 9)),
    ("ZeroPad1d((-1, -1))", (1, 2, 2), (1, 2, 0)),
    ("ZeroPad3d(1)", (1, 2, 3, 4, 5), (1, 2, 5, 6, 7)),
    ("ZeroPad3d((1, 2, 3, 4, 5, 6))", (3, 4, 5), (14, 11, 8)),
    ("ConstantPad1d(2, 3.5)", (1, 2, 4), (1, 2, 8)),
    ("ConstantPad2d((1, 0, 0, 1), value=-1)", (2, 3, 3), (2, 4, 4)),
    ("ConstantPad3d((0, 0, 0, 0, 2, 2), 0)", (1, 1, 2, 2, 2), (1, 1, 6, 2, 2)),
    ("ReflectionPad1d(3)", (1, 2, 4), (1, 2, 10)),
    ("ReflectionPad1d((3, 1))", (2, 4), (2, 8)),
    ("ReflectionPad1d((-5, 2))", (1, 1, 4), (1, 1, 1)),
    ("ReflectionPad2d(1)", (1, 3, 2, 2), (1, 3, 4, 4)),
    ("ReflectionPad2d((2, 2, 1, 1))", (3, 2, 3), (3, 4, 7)),
    ("ReflectionPad2d((1, 2))", (3, 4, 4), (3, 4, 7)),
    ("ReflectionPad2d((0, -5, 0, 0))", (1, 1, 5, 5), (1, 1, 5, 0)),
    ("ReflectionPad3d(1)", (1, 1, 2, 2, 2), (1, 1, 4, 4, 4)),
    ("ReflectionPad3d((1, 1, 2, 2, 0, 0))", (2, 3, 3, 3), (2, 3, 7, 5)),
    ("ReplicationPad1d(10)", (1, 1, 1), (1, 1, 21)),
    ("ReplicationPad1d((-5, 5))", (1, 1, 1), (1, 1, 1)),
    ("ReplicationPad2d((3, 0, 0, 3))", (1, 1, 1, 1), (1, 1, 4, 4)),
    ("ReplicationPad2d((0, -5, 0, 0))", (1, 1, 5, 5), (1, 1, 5, 0)),
    ("ReplicationPad3d(2)", (2, 1, 1, 1), (2, 5, 5, 5)),
    ("ReplicationPad3d((1, 2, 3, 4, 5, 6))", (1, 1, 2, 2, 2), (1, 1, 13, 9, 5)),
    ("CircularPad1d(3)", (1, 2, 3), (1, 2, 9)),
    ("CircularPad1d((-1, 0))", (1, 1, 1), (1, 1, 0)),
    ("CircularPad1d((-2, 1))", (1, 1, 1), (1, 1, 0)),
    ("CircularPad1d((-1, 2))", (2, 3, 2), (2, 3, 3)),
    ("CircularPad1d((-1, 2))", (3, 2), (3, 3)),
    ("CircularPad2d(1)", (1, 1, 3, 3), (1, 1, 5, 5)),
    ("CircularPad2d((1, 1, 2, 0))", (3, 3, 3), (3, 5, 5)),
    ("CircularPad2d((2, 2, 2, 2))", (1, 1, 2, 2), (1, 1, 6, 6)),
    ("CircularPad3d(1)", (1, 1, 1, 1, 1), (1, 1, 3, 3, 3)),
    ("CircularPad3d((0, 0, 0, 0, 3, 3))", (2, 3, 3, 3), (2, 9, 3, 3)),
    ("PixelShuffle(2)", (1, 8, 3, 3), (1, 2, 6, 6)),
    ("PixelShuffle(3)", (9, 2, 2), (1, 6, 6)),
    ("PixelShuffle(1)", (1, 3, 2, 2), (1, 3, 2, 2)),
    ("PixelShuffle(2)", (2, 3, 1, 8, 3, 3), (2, 3, 1, 2, 6, 6)),
    ("PixelUnshuffle(2)", (1, 2, 4, 4), (1, 8, 2, 2)),
    ("PixelUnshuffle(3)", (2, 2, 1, 3, 6, 9), (2, 2, 1, 27, 2, 3)),
    ("PixelUnshuffle(downscale_factor=2)", (2, 4, 6), (8, 2, 3)),
    ("ChannelShuffle(2)", (1, 4, 3, 3), (1, 4, 3, 3)),
    ("ChannelShuffle(4)", (1, 4, 3), (1, 4, 3)),
    ("ChannelShuffle(3)", (2, 6, 2, 2, 2, 2), (2, 6, 2, 2, 2, 2)),
    ("ChannelShuffle(2)", (3, 4, 2), (3, 4, 2)),
]
ERRORS = [
    # torch: ERR: ValueError: either size or scale_factor should be defined
    ("Upsample()", (1, 1, 4), "size", None),
    # torch: ERR: ValueError: either size or scale_factor should be defined
    ("Upsample(scale_factor=0)", (1, 1, 4), "scale_factor", None),
    # torch: ERR: ValueError: only one of size or scale_factor should be defined
    ("Upsample(size=3, scale_factor=2)", (1, 1, 4), "scale_factor", None),
    # torch: ERR: ValueError: recompute_scale_factor is not meaningful with an explicit size.
    ("Upsample(size=3, recompute_scale_factor=True)", (1, 1, 4), "recompute_scale_factor", None),
    # torch: ERR: ValueError: align_corners option can only be set with the interpolating modes: linear | bilinear | bicubic | trilinear
    ("Upsample(size=3, align_corners=False)", (1, 1, 4), "align_corners", None),
    # torch: ERR: ValueError: align_corners option can only be set with the interpolating modes: linear | bilinear | bicubic | trilinear
    (
        "Upsample(size=3, mode='nearest-exact', align_corners=True)",
        (1, 1, 4),
        "align_corners",
        None,
    ),
    # torch: ERR: ValueError: align_corners option can only be set with the interpolating modes: linear | bilinear | bicubic | trilinear
    ("Upsample(size=3, mode='area', align_corners=False)", (1, 1, 4), "align_corners", None),
    # torch: ERR: NotImplementedError: Input Error: Only 3D, 4D and 5D input Tensors supported (got 2D) for the modes: nearest | linear | bilinear | bicubic |
    ("Upsample(scale_factor=2)", (3, 4), "input", None),
    # torch: ERR: NotImplementedError: Input Error: Only 3D, 4D and 5D input Tensors supported (got 6D) for the modes: nearest | linear | bilinear | bicubic |
    ("Upsample(scale_factor=2)", (1, 1, 1, 4, 4, 4), "input", None),
    # torch: ERR: NotImplementedError: Got 3D input, but bilinear mode needs 4D input
    ("Upsample(scale_factor=2, mode='bilinear')", (3, 8, 8), "input", None),
    # torch: ERR: NotImplementedError: Got 4D input, but linear mode needs 3D input
    ("Upsample(scale_factor=2, mode='linear')", (1, 3, 8, 8), "input", None),
    # torch: ERR: NotImplementedError: Input Error: Only 3D, 4D and 5D input Tensors supported (got 5D) for the modes: nearest | linear | bilinear | bicubic |
    ("Upsample(scale_factor=2, mode='bicubic')", (1, 3, 2, 8, 8), "input", None),
    # torch: ERR: NotImplementedError: Got 4D input, but trilinear mode needs 5D input
    ("Upsample(scale_factor=2, mode='trilinear')", (1, 3, 8, 8), "input", None),
    # torch: ERR: ValueError: Lanczos mode requires antialias=True
    ("Upsample(scale_factor=2, mode='lanczos')", (1, 3, 8, 8), "mode", None),
    # torch: ERR: ValueError: Lanczos mode does not support align_corners=True
    ("Upsample(scale_factor=2, mode='lanczos', align_corners=True)", (1, 3, 8, 8), "mode", None),
    # torch: ERR: ValueError: Input and output must have the same number of spatial dimensions, but got input with spatial dimensions of [4, 4] and ou
    ("Upsample(size=(3,))", (1, 1, 4, 4), "size", None),
    # torch: ERR: ValueError: Input and scale_factor must have the same number of spatial dimensions, but got input with spatial dimensions of [4] and
    ("Upsample(scale_factor=(2, 2))", (1, 1, 4), "scale_factor", None),
    # torch: ERR: RuntimeError: Input and output sizes should be greater than 0, but got input (W: 49) and output (W: 0)
    ("Upsample(scale_factor=0.02040816326530612)", (1, 1, 49), "scale_factor", 2),
    # torch: ERR: RuntimeError: Input and output sizes should be greater than 0, but got input (W: 49) and output (W: 0)
    (
        "Upsample(scale_factor=0.02040816326530612, recompute_scale_factor=True)",
        (1, 1, 49),
        "scale_factor",
        2,
    ),
    # torch: ERR: RuntimeError: Input and output sizes should be greater than 0, but got input (W: 4) and output (W: 0)
    ("Upsample(scale_factor=0.1)", (1, 1, 4), "scale_factor", 2),
    # torch: ERR: RuntimeError: Input and output sizes should be greater than 0, but got input (H: 4, W: 4) output (H: 4, W: 0)
    ("Upsample(scale_factor=(1, 0.1), mode='bilinear')", (1, 1, 4, 4), "scale_factor", 3),
    # torch: ERR: RuntimeError: Input and output sizes should be greater than 0, but got input (W: 4) and output (W: -4)
    ("Upsample(scale_factor=-1)", (1, 1, 4), "scale_factor", 2),
    # torch: ERR: RuntimeError: adaptive_avg_pool2d: elements of output_size must be greater than or equal to 0 but received {1, -1}
    ("Upsample(scale_factor=-0.3, mode='area')", (1, 1, 4), "scale_factor", 2),
    # torch: ERR: RuntimeError: Input and output sizes should be greater than 0, but got input (W: 4) and output (W: 0)
    ("Upsample(size=0)", (1, 1, 4), "size", None),
    # torch: ERR: RuntimeError: adaptive_avg_pool2d: elements of output_size must be greater than or equal to 0 but received {1, -1}
    ("Upsample(size=-1, mode='area')", (1, 1, 4), "size", None),
    # torch: ERR: RuntimeError: value cannot be converted to type int64_t without overflow
    ("Upsample(scale_factor=1e30)", (1, 1, 4), "scale_factor", None),
    # torch: ERR: RuntimeError: Non-empty 3D data tensor expected but got a tensor with sizes [1, 0, 4]
    ("Upsample(scale_factor=2)", (1, 0, 4), "input", 1),
    # torch: ERR: NotImplementedError: Got 3D input, but bilinear mode needs 4D input
    ("UpsamplingBilinear2d(scale_factor=2)", (1, 3, 4), "input", None),
    # torch: ERR: ValueError: either size or scale_factor should be defined
    ("UpsamplingBilinear2d()", (1, 3, 4, 4), "size", None),
    # torch: ERR: ValueError: Input and output must have the same number of spatial dimensions, but got input with spatial dimensions of [4] and outpu
    ("UpsamplingNearest2d(size=(2, 2))", (1, 3, 4), "size", None),
    # torch: ERR: RuntimeError: Padding length must be divisible by 2
    ("ZeroPad1d((1,))", (1, 1, 4), "padding", None),
    # torch: ERR: RuntimeError: Padding length must be divisible by 2
    ("ZeroPad2d((1, 2, 3))", (1, 1, 4, 4), "padding", None),
    # torch: ERR: RuntimeError: Padding length should be less than or equal to two times the input dimension but got padding length 4 and input of dimen
    ("ZeroPad2d(1)", (4,), "padding", None),
    # torch: ERR: RuntimeError: Padding length should be less than or equal to two times the input dimension but got padding length 6 and input of dimen
    ("ZeroPad3d(1)", (4, 4), "padding", None),
    # torch: ERR: RuntimeError: narrow(): length must be non-negative.
    ("ZeroPad1d((1, -2))", (1, 1, 1), "padding", 2),
    # torch: ERR: RuntimeError: narrow(): length must be non-negative.
    ("ZeroPad1d((-2, 1))", (1, 1, 1), "padding", 2),
    # torch: ERR: RuntimeError: narrow(): length must be non-negative.
    ("ConstantPad2d((0, 0, -3, 0), 1.0)", (1, 1, 2, 5), "padding", 2),
    # torch: ERR: RuntimeError: Argument #4: Padding size should be less than the corresponding input dimension, but got: padding (2, 2) at dimension 2
    ("ReflectionPad1d(2)", (1, 1, 2), "padding", 2),
    # torch: ERR: RuntimeError: Argument #4: Padding size should be less than the corresponding input dimension, but got: padding (0, 2) at dimension 2
    ("ReflectionPad1d((0, 2))", (1, 1, 2), "padding", 2),
    # torch: ERR: RuntimeError: Argument #6: Padding size should be less than the corresponding input dimension, but got: padding (3, 0) at dimension 2
    ("ReflectionPad2d((1, 1, 3, 0))", (1, 1, 3, 5), "padding", 2),
    # torch: ERR: RuntimeError: input (W: 1) is too small. Calculated output W: 0
    ("ReflectionPad1d((-1, 0))", (1, 1, 1), "padding", 2),
    # torch: ERR: RuntimeError: input (W: 4) is too small. Calculated output W: 0
    ("ReflectionPad1d((-2, -2))", (1, 1, 4), "padding", 2),
    # torch: ERR: RuntimeError: input (H: 5, W: 5) is too small. Calculated output H: 0 W: 0
    ("ReflectionPad2d((0, -5, 0, -5))", (1, 1, 5, 5), "padding", None),
    # torch: ERR: RuntimeError: numel: integer multiplication overflow
    ("ReflectionPad2d((0, -6, 0, 0))", (1, 1, 5, 5), "padding", 3),
    # torch: ERR: NotImplementedError: Padding size 2 is not supported for 1D input tensor.
    ("ReflectionPad1d(1)", (4,), "input", None),
    # torch: ERR: NotImplementedError: Padding size 2 is not supported for 4D input tensor.
    ("ReflectionPad1d(1)", (1, 1, 1, 4), "input", None),
    # torch: ERR: NotImplementedError: Padding size 4 is not supported for 2D input tensor.
    ("ReflectionPad2d(1)", (4, 4), "input", None),
    # torch: ERR: NotImplementedError: Padding size 2 is not supported for 4D input tensor.
    ("ReflectionPad2d((1, 2))", (1, 1, 4, 4), "input", None),
    # torch: ERR: NotImplementedError: Padding size 6 is not supported for 3D input tensor.
    ("ReflectionPad3d(1)", (3, 4, 4), "input", None),
    # torch: ERR: RuntimeError: input (W: 1) is too small. Calculated output W: 0
    ("ReplicationPad1d((-1, 0))", (1, 1, 1), "padding", 2),
    # torch: ERR: RuntimeError: input (H: 5, W: 5 ) is too small. Calculated output H: 0 W: 0
    ("ReplicationPad2d((0, -5, 0, -5))", (1, 1, 5, 5), "padding", None),
    # torch: ERR: RuntimeError: input (D: 5 H: 5, W: 5) is too small. Calculated output D: 0 H: 0 W: 0
    ("ReplicationPad3d((0, -5, 0, -5, 0, -5))", (1, 1, 5, 5, 5), "padding", None),
    # torch: ERR: NotImplementedError: Padding size 4 is not supported for 5D input tensor.
    ("ReplicationPad2d(1)", (1, 1, 1, 4, 4), "input", None),
    # torch: ERR: RuntimeError: Expected 2D or 3D (batch mode) tensor with possibly 0 batch size and other non-zero dimensions for input, but got: [1, 0
    ("ReplicationPad1d(1)", (1, 0, 3), "input", 1),
    # torch: ERR: RuntimeError: Padding value causes wrapping around more than once.
    ("CircularPad1d(2)", (1, 1, 1), "padding", 2),
    # torch: ERR: RuntimeError: Padding value causes wrapping around more than once.
    ("CircularPad2d((0, 0, 3, 0))", (1, 1, 2, 5), "padding", 2),
    # torch: ERR: RuntimeError: Negative padding value is resulting in an empty dimension
    ("CircularPad1d((-1, -1))", (1, 1, 1), "padding", 2),
    # torch: ERR: RuntimeError: unsupported operation: some elements of the input tensor and the written-to tensor refer to a single memory location. Pl
    ("CircularPad1d((-1, 2))", (1, 1, 2), "padding", 2),
    # torch: ERR: RuntimeError: unsupported operation: some elements of the input tensor and the written-to tensor refer to a single memory location. Pl
    ("CircularPad1d((2, -1))", (1, 2), "padding", 1),
    # torch: ERR: RuntimeError: output with shape [2, 3, 1] doesn't match the broadcast shape [2, 3, 0]
    ("CircularPad1d((-4, 3))", (2, 3, 3), "padding", 2),
    # torch: ERR: RuntimeError: The size of tensor a (0) must match the size of tensor b (2) at non-singleton dimension 2
    ("CircularPad1d((1, -4))", (1, 1, 3), "padding", 2),
    # torch: ERR: ValueError: expected 2D or 3D input (got 4D input)
    ("CircularPad1d(1)", (1, 1, 1, 4), "input", None),
    # torch: ERR: ValueError: expected 3D or 4D input (got 2D input)
    ("CircularPad2d(1)", (4, 4), "input", None),
    # torch: ERR: NotImplementedError: Padding size 2 is not supported for 4D input tensor.
    ("CircularPad2d((1, 2))", (1, 1, 4, 4), "input", None),
    # torch: ERR: ValueError: expected 4D or 5D input (got 6D input)
    ("CircularPad3d(1)", (1, 1, 1, 2, 2, 2), "input", None),
    # torch: ERR: RuntimeError: pixel_shuffle expects input to have at least 3 dimensions, but got input with 2 dimension(s)
    ("PixelShuffle(2)", (4, 3), "input", None),
    # torch: ERR: RuntimeError: pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of upscale_factor, but input.size(-3
    ("PixelShuffle(2)", (1, 6, 3, 3), "upscale_factor", 1),
    # torch: ERR: RuntimeError: pixel_shuffle expects a positive upscale_factor, but got 0
    ("PixelShuffle(0)", (1, 4, 3, 3), "upscale_factor", None),
    # torch: ERR: RuntimeError: pixel_shuffle expects a positive upscale_factor, but got -2
    ("PixelShuffle(-2)", (1, 4, 3, 3), "upscale_factor", None),
    # torch: ERR: RuntimeError: pixel_unshuffle expects input to have at least 3 dimensions, but got input with 2 dimension(s)
    ("PixelUnshuffle(2)", (4, 4), "input", None),
    # torch: ERR: RuntimeError: pixel_unshuffle expects height to be divisible by downscale_factor, but input.size(-2)=3 is not divisible by 2
    ("PixelUnshuffle(2)", (1, 2, 3, 4), "downscale_factor", 2),
    # torch: ERR: RuntimeError: pixel_unshuffle expects width to be divisible by downscale_factor, but input.size(-1)=5 is not divisible by 2
    ("PixelUnshuffle(2)", (1, 2, 4, 5), "downscale_factor", 3),
    # torch: ERR: RuntimeError: pixel_unshuffle expects a positive downscale_factor, but got 0
    ("PixelUnshuffle(0)", (1, 2, 4, 4), "downscale_factor", None),
    # torch: ERR: RuntimeError: channel_shuffle expects input with > 2 dims, but got input with sizes [1, 4]
    ("ChannelShuffle(2)", (1, 4), "input", None),
    # torch: ERR: RuntimeError: Number of channels must be divisible by groups. Got 4 channels and 3 groups.
    ("ChannelShuffle(3)", (1, 4, 3, 3), "groups", 1),
    # torch: ERR: RuntimeError: Number of channels must be divisible by groups. Got 3 channels and 2 groups.
    ("ChannelShuffle(2)", (4, 3, 3), "groups", 1),
    # torch: ERR: RuntimeError: Number of groups to divide channels in must be positive. Value of groups:0
    ("ChannelShuffle(0)", (1, 4, 3, 3), "groups", None),
    # torch: ERR: RuntimeError: Number of channels must be divisible by groups. Got 4 channels and 8 groups.
    ("ChannelShuffle(8)", (1, 4, 3, 3), "groups", 1),
]


def build(call):
    name, args, kwargs = parse_call(call)
    return REGISTRY[name].build(args, kwargs)


@pytest.mark.parametrize("call,shape,out", OK)
def test_shape_matches_torch(call, shape, out):
    report = analyze(spec_from_strings([call], shape))
    assert report.ok, report.errors
    row = report.rows[0]
    assert row.output_shape == out
    assert row.params == 0
    assert row.macs == 0


@pytest.mark.parametrize("call,shape,argument,dim", ERRORS)
def test_errors_match_torch(call, shape, argument, dim):
    layer = build(call)
    layer.check()  # torch constructs all of these; it fails in forward
    with pytest.raises(ShapeError) as info:
        layer.out_shape(shape)
    exc = info.value
    assert exc.argument == argument
    assert exc.dim == dim
    assert exc.fact and "\n" not in exc.fact
    report = analyze(spec_from_strings([call], shape))
    assert not report.ok and report.exit_code == 1
    assert report.rows[0].params == 0


@pytest.mark.parametrize(
    "call",
    [
        "Upsample(size=2.0)",  # torch: TypeError (size must be int or a tuple of ints)
        "Upsample(size=(2.0, 3))",  # torch: TypeError
        "Upsample(size=True)",
        "Upsample(scale_factor=True)",
        "Upsample(scale_factor=[2, 'x'])",
        "Upsample(scale_factor=2, mode='bilinar')",  # torch: NotImplementedError in forward
        "Upsample(scale_factor=2, align_corners=1)",
        "Upsample(scale_factor=2, recompute_scale_factor='yes')",
        "UpsamplingBilinear2d(scale_factor=2, mode='nearest')",  # torch: TypeError, no such argument
        "UpsamplingNearest2d(2, 2, 'nearest')",  # torch: TypeError, 2 positional arguments at most
        "ZeroPad2d(1.5)",
        "ZeroPad2d((1, 2.0, 1, 1))",
        "ZeroPad2d('same')",
        "ConstantPad2d(1)",  # torch: TypeError, value is required
        "ConstantPad1d(1, 'x')",
        "ReflectionPad1d(True)",
        "PixelShuffle(2.0)",  # torch: TypeError (must be int, not float)
        "PixelShuffle(True)",  # torch: TypeError (must be int, not bool)
        "PixelUnshuffle()",
        "ChannelShuffle(2.0)",  # torch: TypeError
    ],
)
def test_wrong_argument_types_are_spec_errors(call):
    with pytest.raises(SpecError):
        spec_from_strings([call], (1, 4, 4, 4))


def test_positional_arguments_follow_torch_order():
    layer = build("Upsample(4, None, 'bilinear', True)")
    assert (layer.size, layer.scale_factor, layer.mode, layer.align_corners) == (
        4,
        None,
        "bilinear",
        True,
    )
    assert layer.out_shape((1, 2, 3, 3)) == (1, 2, 4, 4)
    pad = build("ConstantPad2d((1, 2, 3, 4), 0.5)")
    assert pad.value == 0.5
    assert pad.out_shape((1, 1, 5, 5)) == (1, 1, 12, 8)
    assert build("UpsamplingBilinear2d(None, 2)").out_shape((1, 1, 3, 3)) == (1, 1, 6, 6)


def notes(call, shape):
    report = analyze(spec_from_strings([call], shape))
    assert report.ok, report.errors
    return list(report.rows[0].notes)


def test_upsample_notes_the_dropped_fraction():
    assert notes("Upsample(scale_factor=1.3333)", (1, 1, 7, 6)) == [
        "H: 7 × 1.3333 = 9.3331 → 9; W: 6 × 1.3333 = 7.9998 → 7"
    ]
    assert notes("Upsample(scale_factor=0.29, mode='bilinear')", (1, 1, 100, 100)) == [
        "H: 100 × 0.29 = 28.999999999999996 → 28 (float64 rounding); "
        "W: 100 × 0.29 = 28.999999999999996 → 28 (float64 rounding)"
    ]
    assert notes("Upsample(scale_factor=2)", (1, 3, 8, 8)) == []
    assert notes("Upsample(scale_factor=0.5)", (1, 3, 8, 8)) == []
    assert notes("Upsample(size=5)", (1, 3, 8, 8)) == []


def test_upsample_notes_a_3d_input_is_one_dimensional():
    assert notes("Upsample(scale_factor=2)", (3, 8, 8)) == [
        "a 3D input is read as (N, C, L): only the last dimension is resized"
    ]
    assert notes("Upsample(scale_factor=2, mode='linear')", (3, 8, 8)) == []


def test_padding_notes():
    assert notes("ZeroPad2d((1, 2))", (1, 3, 4, 4)) == [
        "padding has 2 values: pads only the last dimension, not 2"
    ]
    assert notes("ZeroPad1d((1, 2, 3, 4))", (1, 3, 4)) == [
        "padding has 4 values: pads the last 2 dimensions, not 1"
    ]
    assert notes("ZeroPad2d((-1, -1, 0, 0))", (1, 3, 4, 4)) == ["negative padding crops"]
    assert notes("ZeroPad1d((-1, -1))", (1, 2, 2)) == [
        "negative padding crops",
        "output is empty along W",
    ]
    assert notes("ReflectionPad2d(1)", (1, 3, 4, 4)) == []


@pytest.mark.parametrize(
    "call,shape,message,hint",
    [
        (
            "Upsample(scale_factor=0.1)",
            (1, 1, 4),
            "output size must be greater than 0: L 4 × 0.1 gives 0",
            "use a larger scale_factor or a larger input",
        ),
        (
            "Upsample(scale_factor=2, mode='bilinear')",
            (3, 8, 8),
            "mode='bilinear' needs a 4D (N, C, H, W) input, receives 3D (3, 8, 8)",
            "for a 3D input use mode='linear' or 'nearest'",
        ),
        (
            "ReflectionPad2d(3)",
            (1, 1, 3, 8),
            "reflection padding must be less than the input size: H is 3, padding (3, 3)",
            "use padding of at most 2, a larger input or ReplicationPad2d",
        ),
        (
            "CircularPad1d(3)",
            (1, 1, 2),
            "circular padding wraps around more than once: W is 2, padding (3, 3)",
            "use padding of at most 2 or a larger input",
        ),
        (
            "PixelShuffle(2)",
            (1, 6, 3, 3),
            "channels must be divisible by upscale_factor² = 4, receives 6",
            "use 4 or 8 channels",
        ),
        (
            "PixelUnshuffle(2)",
            (1, 2, 5, 4),
            "H must be divisible by downscale_factor 2, receives 5",
            "use H 4 or 6",
        ),
        (
            "ChannelShuffle(3)",
            (1, 4, 3, 3),
            "channels must be divisible by groups: 4 channels, 3 groups",
            "use groups dividing 4, or 3 or 6 channels",
        ),
    ],
)
def test_error_messages(call, shape, message, hint):
    with pytest.raises(ShapeError) as info:
        build(call).out_shape(shape)
    assert info.value.fact == message
    assert info.value.hint == hint


def test_registered_under_torch_names():
    names = [
        "Upsample",
        "UpsamplingNearest2d",
        "UpsamplingBilinear2d",
        "PixelShuffle",
        "PixelUnshuffle",
        "ChannelShuffle",
    ]
    names += [
        f"{kind}Pad{nd}d"
        for kind in ("Zero", "Constant", "Reflection", "Replication", "Circular")
        for nd in (1, 2, 3)
    ]
    for name in names:
        assert REGISTRY[name].type_name == name


# ------------------------------------------------------------------ nearest indices
@pytest.mark.parametrize("legacy", [True, False])
@pytest.mark.parametrize("exact", [False, True])
def test_nearest_sources_in_plain_python_equal_the_numpy_kernel(legacy, exact):
    """The receptive field reads torch's float32 indices without NumPy: the same ones the
    forward pass uses (which tests/kernels check against torch), over scales whose float32
    reciprocal rounds below and above, sizes kept and doubled (the legacy shortcuts)."""
    import math

    np = pytest.importorskip("numpy")
    from convcalc.layers.nearest import nearest_sources, nearest_taps

    compared = differ = 0
    for num in range(1, 161):
        scale = num / 40
        for n_in in (7, 13, 57, 100):
            n_out = math.floor(n_in * scale)
            if n_out < 1:
                continue
            got = nearest_sources(n_in, n_out, scale, exact, legacy)
            want = nearest_taps(n_in, n_out, scale, exact, legacy, np.float32, slice(0, n_out))
            # the kernel clamps at the last element; the field is as if there were no border
            assert [min(i, n_in - 1) for i in got] == want[:, 0].tolist(), (scale, n_in)
            compared += 1
            differ += got != [math.floor((o + exact / 2) * 40 / num) for o in range(n_out)]
    assert compared > 500
    assert differ > 0  # some really are not ⌊o · s⌋
