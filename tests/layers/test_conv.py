"""Convolution and Linear: shapes, parameters and MACs against values computed by PyTorch 2.13.

Each row: (constructor call, input shape, torch's output shape, sum(p.numel()),
torch.utils.flop_counter.FlopCounterMode total // 2).
"""

import pytest

from convcalc import ShapeError, SpecError, analyze, spec_from_strings

TORCH = [
    ("Conv2d(3, 256, 5, bias=False)", (1, 3, 12, 12), (1, 256, 8, 8), 19200, 1228800),
    ("Conv2d(256, 32, 3, padding=1, groups=8)", (1, 256, 28, 28), (1, 32, 28, 28), 9248, 7225344),
    ("Conv2d(3, 256, 1)", (1, 3, 12, 12), (1, 256, 12, 12), 1024, 110592),
    ("Conv2d(32, 32, 3, padding=1, groups=32)", (1, 32, 112, 112), (1, 32, 112, 112), 320, 3612672),
    (
        "Conv2d(32, 64, 3, stride=2, padding=1, groups=32)",
        (2, 32, 112, 112),
        (2, 64, 56, 56),
        640,
        3612672,
    ),
    ("Conv2d(3, 64, 7, stride=2, padding=3)", (1, 3, 224, 224), (1, 64, 112, 112), 9472, 118013952),
    ("Conv2d(4, 8, 4, padding='same', dilation=1)", (1, 4, 9, 9), (1, 8, 9, 9), 520, 41472),
    (
        "Conv2d(4, 8, (2, 3), padding='same', dilation=(3, 1))",
        (1, 4, 9, 7),
        (1, 8, 9, 7),
        200,
        12096,
    ),
    ("Conv2d(4, 8, 3, padding=2, padding_mode='reflect')", (1, 4, 5, 5), (1, 8, 7, 7), 296, 14112),
    ("Conv2d(4, 8, 3, padding=1, padding_mode='circular')", (4, 1, 1), (8, 1, 1), 296, 288),
    ("Conv1d(1, 64, 400, stride=160, padding=200)", (1, 1, 16000), (1, 64, 101), 25664, 2585600),
    ("Conv1d(2, 4, 3, dilation=2, padding='same')", (2, 10), (4, 10), 28, 240),
    ("Conv3d(3, 64, 3, padding=1)", (1, 3, 16, 112, 112), (1, 64, 16, 112, 112), 5248, 1040449536),
    (
        "Conv3d(3, 6, (1, 3, 3), stride=(1, 2, 2), groups=3)",
        (2, 3, 4, 9, 9),
        (2, 6, 4, 4, 4),
        60,
        6912,
    ),
    ("ConvTranspose2d(3, 1, 3, stride=2)", (1, 3, 512, 512), (1, 1, 1025, 1025), 28, 7077888),
    (
        "ConvTranspose2d(256, 128, 4, stride=2, padding=1, bias=False)",
        (1, 256, 16, 16),
        (1, 128, 32, 32),
        524288,
        134217728,
    ),
    (
        "ConvTranspose2d(8, 12, 3, stride=2, padding=1, output_padding=1, groups=4)",
        (2, 8, 7, 7),
        (2, 12, 14, 14),
        228,
        21168,
    ),
    ("ConvTranspose1d(4, 2, 5, stride=1, dilation=2, output_padding=1)", (4, 6), (2, 15), 42, 240),
    ("ConvTranspose3d(2, 4, 2, stride=2)", (1, 2, 3, 4, 5), (1, 4, 6, 8, 10), 68, 3840),
    ("Linear(400, 120)", (1, 400), (1, 120), 48120, 48000),
    ("Linear(64, 10, bias=False)", (2, 7, 64), (2, 7, 10), 640, 8960),
]


def one(call, shape):
    return analyze(spec_from_strings([call], shape))


@pytest.mark.parametrize("call,shape,out,params,macs", TORCH)
def test_against_torch(call, shape, out, params, macs):
    report = one(call, shape)
    assert report.ok, report.errors
    row = report.rows[0]
    assert row.output_shape == out
    assert row.params == params
    assert row.macs == macs


@pytest.mark.parametrize(
    "call,shape,explicit",
    [
        (
            "Conv2d(out_channels=256, kernel_size=5, bias=False)",
            (1, 3, 12, 12),
            "Conv2d(3, 256, 5, bias=False)",
        ),
        (
            "Conv2d(out_channels=64, kernel_size=3, groups=32)",
            (2, 32, 16, 16),
            "Conv2d(32, 64, 3, groups=32)",
        ),
        (
            "ConvTranspose2d(out_channels=12, kernel_size=3, groups=4)",
            (2, 8, 7, 7),
            "ConvTranspose2d(8, 12, 3, groups=4)",
        ),
        ("Linear(out_features=10)", (2, 7, 64), "Linear(64, 10)"),
    ],
)
def test_in_channels_can_be_left_out(call, shape, explicit):
    lazy, full = one(call, shape).rows[0], one(explicit, shape).rows[0]
    assert (lazy.output_shape, lazy.params, lazy.macs) == (
        full.output_shape,
        full.params,
        full.macs,
    )


def test_transposed_macs_count_the_input_not_the_output():
    # 3 → 1 channels, k=3, s=2 on 512×512: 3 · 512² · 1 · 9, not 3 · 1025² · 9 (4× more)
    assert (
        one("ConvTranspose2d(3, 1, 3, stride=2)", (1, 3, 512, 512)).rows[0].macs
        == 3 * 512 * 512 * 9
    )


@pytest.mark.parametrize(
    "call,shape,argument,message",
    [
        (
            "Conv2d(6, 16, 5)",
            (1, 8, 32, 32),
            "in_channels",
            "expects 6 input channels, receives 8 from the input (1, 8, 32, 32)",
        ),
        (
            "Conv2d(6, 16, 3, groups=4)",
            (1, 6, 8, 8),
            "in_channels",
            "in_channels must be divisible by groups: 6 is not divisible by 4",
        ),
        (
            "Conv2d(8, 6, 3, groups=4)",
            (1, 8, 8, 8),
            "out_channels",
            "out_channels must be divisible by groups: 6 is not divisible by 4",
        ),
        (
            "Conv2d(8, 8, 3, groups=0)",
            (1, 8, 8, 8),
            "groups",
            "groups must be a positive integer, got 0",
        ),
        (
            "Conv2d(3, 8, 3, stride=2, padding='same')",
            (1, 3, 8, 8),
            "padding",
            "padding='same' is not supported for strided convolutions",
        ),
        (
            "Conv2d(3, 8, 3, padding='full')",
            (1, 3, 8, 8),
            "padding",
            "padding must be an integer, a tuple, 'same' or 'valid', got 'full'",
        ),
        (
            "Conv2d(3, 8, 5)",
            (1, 3, 4, 4),
            "kernel_size",
            "kernel larger than the padded input: H is 4 + padding 0 = 4, the kernel spans 5",
        ),
        (
            "Conv2d(3, 8, 3, dilation=3)",
            (1, 3, 6, 6),
            "kernel_size",
            "kernel larger than the padded input: H is 6 + padding 0 = 6, the dilated kernel spans 7",
        ),
        ("Conv2d(3, 8, 3, stride=0)", (1, 3, 6, 6), "stride", "stride must be positive, got 0"),
        (
            "Conv2d(3, 8, 3, padding=-1)",
            (1, 3, 6, 6),
            "padding",
            "padding must be non-negative, got -1",
        ),
        (
            "Conv2d(3, 8, 3, padding=3, padding_mode='reflect')",
            (1, 3, 3, 3),
            "padding",
            "padding_mode='reflect' needs padding less than the input size: H is 3, padding 3",
        ),
        (
            "Conv2d(3, 8, 3)",
            (3, 32),
            "input",
            "expects a 3D (C, H, W) or 4D (N, C, H, W) input, receives 2D (3, 32)",
        ),
        (
            "Conv2d(3, 8, 3)",
            (1, 3, 32),
            "in_channels",
            "expects 3 input channels, receives 1 from the input (1, 3, 32)",
        ),
        (
            "Conv1d(3, 8, 3)",
            (1, 1, 3, 32),
            "input",
            "expects a 2D (C, L) or 3D (N, C, L) input, receives 4D (1, 1, 3, 32)",
        ),
        (
            "ConvTranspose2d(4, 4, 3, stride=2, output_padding=2)",
            (1, 4, 5, 5),
            "output_padding",
            "output_padding must be smaller than stride or dilation",
        ),
        (
            "ConvTranspose2d(4, 4, 1, padding=1)",
            (1, 4, 2, 2),
            "padding",
            "output size is too small: input (2, 2) gives (0, 0)",
        ),
        (
            "ConvTranspose2d(4, 4, 3, padding='same')",
            (1, 4, 5, 5),
            "padding",
            "ConvTranspose2d does not support padding='same'",
        ),
        (
            "ConvTranspose2d(4, 4, 3, padding_mode='reflect')",
            (1, 4, 5, 5),
            "padding_mode",
            "only padding_mode='zeros' is supported for ConvTranspose2d, got 'reflect'",
        ),
        (
            "Linear(400, 120)",
            (1, 2704),
            "in_features",
            "expects 400 input features, receives 2704 from the input (1, 2704)",
        ),
    ],
)
def test_model_errors(call, shape, argument, message):
    report = one(call, shape)
    assert not report.ok and report.exit_code == 1
    (problem,) = report.errors
    assert problem.argument == argument
    assert message in problem.message
    assert problem.message.startswith("layer 0 '0' (")
    assert report.rows[0].output_shape is None


def test_transposed_output_padding_may_use_dilation():
    # op < max(stride, dilation): stride 1, dilation 2 allows output_padding 1
    report = one("ConvTranspose2d(1, 1, 3, stride=1, dilation=2, output_padding=1)", (1, 1, 4, 4))
    assert report.ok and report.rows[0].output_shape == (1, 1, 9, 9)


def test_notes():
    # the last window leaves out a row and a column of padding: every input row is read
    assert one("Conv2d(1, 1, 2, stride=2, padding=1)", (1, 1, 5, 5)).rows[0].notes == ()
    assert one("Conv2d(1, 1, 2, stride=2)", (1, 1, 5, 5)).rows[0].notes == (
        "H, W: 2.5 → 2: the last row and column are not covered",
    )
    assert one("Conv2d(1, 1, 3, stride=3, padding=1)", (1, 1, 9, 9)).rows[0].notes == (
        "H, W: 3.66667 → 3: the last row and column are not covered",
    )
    assert one("Conv2d(8, 16, 3, groups=8)", (1, 8, 5, 5)).rows[0].notes == (
        "depthwise, depth multiplier 2",
    )
    assert one("Conv2d(8, 8, 3, groups=8)", (1, 8, 5, 5)).rows[0].notes == ("depthwise",)
    assert one("Conv2d(8, 16, 3, groups=2)", (1, 8, 5, 5)).rows[0].notes == ("2 groups",)
    assert (
        "W 0 before/1 after"
        in one("Conv2d(1, 1, 2, padding='same')", (1, 1, 5, 5)).rows[0].notes[0]
    )


def test_construction_error_is_raised_type_safe():
    with pytest.raises(ShapeError):
        spec_from_strings(["Conv2d(3, 8, 3, groups=2)"], (1, 3, 8, 8)).layers[0].layer.check()


def test_null_in_channels_means_from_the_input():
    explicit = one("Conv2d(3, 8, 3)", (1, 3, 8, 8)).rows[0]
    for call in ("Conv2d(None, 8, 3)", "Conv2d(in_channels=None, out_channels=8, kernel_size=3)"):
        row = one(call, (1, 3, 8, 8)).rows[0]
        assert (row.output_shape, row.params, row.macs) == (
            explicit.output_shape,
            explicit.params,
            explicit.macs,
        )


@pytest.mark.parametrize(
    "layers, shape",
    [
        (["ZeroPad2d((0, 0, -6, 0))", "Conv2d(3, 2, 3, padding=2)"], (1, 3, 6, 6)),
        (["AdaptiveAvgPool2d((4, 0))", "ConvTranspose2d(3, 2, 3)"], (1, 3, 6, 6)),
        (["ZeroPad1d((0, -5))", "Conv1d(3, 2, 1, padding=1)"], (3, 5)),
    ],
)
def test_an_empty_spatial_axis_is_refused_as_in_torch(layers, shape):
    """torch: 'Only zero batch or zero channel inputs are supported' (padding would otherwise
    make an output out of nothing)."""
    report = analyze(spec_from_strings(layers, shape))
    (error,) = report.errors
    assert error.index == 1
    assert "is empty on" in error.message and "never an empty spatial one" in error.message
    with pytest.raises(ShapeError, match="is empty on") as info:
        spec_from_strings(layers[1:], report.rows[1].input_shape).layers[0].layer.out_shape(
            report.rows[1].input_shape
        )
    assert info.value.expected.endswith("of at least 1") and info.value.got == 0


# torch 2.13 expands a list of one stride, padding, dilation or output_padding to every axis
@pytest.mark.parametrize(
    "call, shape, out",
    [
        ("Conv2d(3, 4, 3, stride=(2,))", (1, 3, 9, 9), (1, 4, 4, 4)),
        ("Conv2d(3, 4, 3, padding=(1,))", (1, 3, 9, 9), (1, 4, 9, 9)),
        ("Conv2d(3, 4, 3, dilation=(2,))", (1, 3, 9, 9), (1, 4, 5, 5)),
        ("Conv3d(2, 4, 3, padding=[1])", (1, 2, 5, 5, 5), (1, 4, 5, 5, 5)),
        ("ConvTranspose2d(2, 4, 3, dilation=(2,))", (1, 2, 5, 5), (1, 4, 9, 9)),
        ("ConvTranspose2d(2, 4, 3, stride=(2,))", (1, 2, 5, 5), (1, 4, 11, 11)),
        ("ConvTranspose2d(2, 4, 3, stride=2, output_padding=(1,))", (1, 2, 5, 5), (1, 4, 12, 12)),
    ],
)
def test_a_list_of_one_applies_to_every_axis(call, shape, out):
    assert one(call, shape).rows[0].output_shape == out


@pytest.mark.parametrize(
    "call, shape",
    [
        ("Conv2d(3, 4, (3,))", (1, 3, 9, 9)),  # the kernel's size: one per axis
        ("Conv2d(3, 4, 3, padding=(1,), padding_mode='reflect')", (1, 3, 9, 9)),  # F.pad's
        ("LPPool2d(2, (3,))", (1, 2, 7, 7)),  # unpacked into (kw, kh) first
        ("LPPool3d(2, [3])", (1, 2, 7, 7, 7)),
    ],
)
def test_where_torch_refuses_a_list_of_one(call, shape):
    try:
        report = analyze(spec_from_strings([call], shape))
    except SpecError:
        return
    assert not report.ok
