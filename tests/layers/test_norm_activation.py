"""Normalisation, activation and dropout layers.

Every row of these tables was checked against torch 2.13 (CPU, modules in eval
mode): the parameter and buffer shapes are those of ``named_parameters()`` and
``named_buffers()``, the errors are raised by torch at construction or in
forward. The tests themselves do not import torch.
"""

from __future__ import annotations

from typing import Any

import pytest

from convcalc.errors import ShapeError, SpecError
from convcalc.layers import lookup
from convcalc.layers.base import Layer
from convcalc.spec import parse_call

Shapes = dict[str, tuple[int, ...]]


def make(call: str) -> Layer:
    type_name, positional, keywords = parse_call(call)
    return lookup(type_name).build(positional, keywords)


BN3 = {"weight": (3,), "bias": (3,)}
STATS3 = {"running_mean": (3,), "running_var": (3,), "num_batches_tracked": ()}

# (constructor call, input shape, parameter shapes, buffer shapes); the output shape is the input's
SHAPE_CASES = [
    # BatchNorm
    ("BatchNorm1d(3)", (2, 3), BN3, STATS3),
    ("BatchNorm1d(3)", (2, 3, 5), BN3, STATS3),
    ("BatchNorm1d(3)", (1, 3), BN3, STATS3),  # one value per channel: fine in eval mode
    ("BatchNorm1d(3, affine=False)", (2, 3, 5), {}, STATS3),
    (
        "BatchNorm2d(16)",
        (1, 16, 8, 8),
        {"weight": (16,), "bias": (16,)},
        {"running_mean": (16,), "running_var": (16,), "num_batches_tracked": ()},
    ),
    ("BatchNorm2d(3, track_running_stats=False)", (2, 3, 5, 5), BN3, {}),
    ("BatchNorm2d(3, track_running_stats=False)", (2, 3, 1, 1), BN3, {}),
    ("BatchNorm2d(3, affine=False, track_running_stats=False)", (2, 3, 5, 5), {}, {}),
    ("BatchNorm2d(4, affine=False, track_running_stats=False)", (2, 3, 5, 5), {}, {}),  # unchecked
    ("BatchNorm2d(-1, affine=False, track_running_stats=False)", (2, 3, 4, 4), {}, {}),
    ("BatchNorm2d(3, bias=False)", (1, 3, 4, 4), {"weight": (3,)}, STATS3),
    ("BatchNorm2d(3, 0.001, None)", (1, 3, 2, 2), BN3, STATS3),
    ("BatchNorm2d(3, 1e-05, 0.1, False, False)", (1, 3, 2, 2), {}, {}),
    (
        "BatchNorm2d(0, affine=False)",
        (2, 0, 3, 3),
        {},
        {"running_mean": (0,), "running_var": (0,), "num_batches_tracked": ()},
    ),
    ("BatchNorm2d(3)", (0, 3, 4, 4), BN3, STATS3),
    ("BatchNorm2d()", (1, 3, 8, 8), BN3, STATS3),  # num_features from the input, as LazyBatchNorm2d
    (
        "BatchNorm3d(8)",
        (2, 8, 4, 4, 4),
        {"weight": (8,), "bias": (8,)},
        {"running_mean": (8,), "running_var": (8,), "num_batches_tracked": ()},
    ),
    # InstanceNorm: affine and track_running_stats default to False; unbatched inputs allowed
    ("InstanceNorm1d(3)", (2, 3, 5), {}, {}),
    ("InstanceNorm1d(3)", (3, 5), {}, {}),
    ("InstanceNorm2d(3, affine=True)", (3, 5, 5), BN3, {}),
    ("InstanceNorm2d(3, affine=True)", (2, 3, 5, 5), BN3, {}),
    ("InstanceNorm2d(3, affine=True, bias=False)", (2, 3, 5, 5), {"weight": (3,)}, {}),
    ("InstanceNorm2d(3, track_running_stats=True)", (2, 3, 5, 5), {}, STATS3),
    (
        "InstanceNorm2d(3, track_running_stats=True)",
        (2, 3, 1, 1),
        {},
        STATS3,
    ),  # eval: running stats
    ("InstanceNorm3d(3, affine=True, track_running_stats=True)", (3, 2, 2, 2), BN3, STATS3),
    ("InstanceNorm2d(4)", (2, 3, 5, 5), {}, {}),  # PyTorch only warns
    ("InstanceNorm2d(-1)", (2, 3, 4, 4), {}, {}),
    ("InstanceNorm2d(affine=True)", (2, 3, 5, 5), BN3, {}),  # LazyInstanceNorm2d
    # GroupNorm
    ("GroupNorm(2, 6)", (2, 6, 4), {"weight": (6,), "bias": (6,)}, {}),
    ("GroupNorm(2, 6)", (2, 6), {"weight": (6,), "bias": (6,)}, {}),
    ("GroupNorm(2, 6)", (2, 6, 1, 2, 3, 4), {"weight": (6,), "bias": (6,)}, {}),
    ("GroupNorm(2, 6)", (1, 6, 1), {"weight": (6,), "bias": (6,)}, {}),
    ("GroupNorm(6, 6)", (2, 6, 1), {"weight": (6,), "bias": (6,)}, {}),
    ("GroupNorm(32, 64)", (1, 64, 8, 8), {"weight": (64,), "bias": (64,)}, {}),
    ("GroupNorm(2, 6, bias=False)", (2, 6, 3), {"weight": (6,)}, {}),
    ("GroupNorm(2, 6, affine=False)", (2, 4, 5), {}, {}),  # num_channels unchecked
    ("GroupNorm(2, 0)", (2, 0, 3), {"weight": (0,), "bias": (0,)}, {}),
    # LayerNorm
    ("LayerNorm(5)", (2, 5), {"weight": (5,), "bias": (5,)}, {}),
    ("LayerNorm([4, 5])", (2, 3, 4, 5), {"weight": (4, 5), "bias": (4, 5)}, {}),
    ("LayerNorm((4, 5))", (4, 5), {"weight": (4, 5), "bias": (4, 5)}, {}),
    ("LayerNorm([4, 5], elementwise_affine=False)", (2, 4, 5), {}, {}),
    ("LayerNorm(5, bias=False)", (3, 5), {"weight": (5,)}, {}),
    ("LayerNorm(4, 1e-06, True, False)", (3, 4), {"weight": (4,)}, {}),
    ("LayerNorm(768)", (1, 197, 768), {"weight": (768,), "bias": (768,)}, {}),
    ("LayerNorm(0)", (2, 0), {"weight": (0,), "bias": (0,)}, {}),
    # LocalResponseNorm
    ("LocalResponseNorm(5)", (1, 96, 55, 55), {}, {}),
    ("LocalResponseNorm(2, 0.0001, 0.75, 2.0)", (2, 3, 4), {}, {}),
    ("LocalResponseNorm(5)", (2, 3, 4, 4, 4, 4), {}, {}),
    ("LocalResponseNorm(100)", (2, 3, 4), {}, {}),
    # activations
    ("ReLU()", (2, 3), {}, {}),
    ("ReLU(True)", (2, 3, 4, 4), {}, {}),
    ("ReLU(inplace=True)", (), {}, {}),
    ("ReLU6(inplace=True)", (2, 3), {}, {}),
    ("LeakyReLU(0.2, True)", (2, 3), {}, {}),
    ("LeakyReLU(negative_slope=-1)", (2, 3), {}, {}),
    ("PReLU()", (2, 3, 4, 4), {"weight": (1,)}, {}),
    ("PReLU(3)", (2, 3, 4, 4), {"weight": (3,)}, {}),
    ("PReLU(3)", (2, 3), {"weight": (3,)}, {}),
    ("PReLU(3)", (2, 3, 4, 5, 6), {"weight": (3,)}, {}),
    ("PReLU(64, 0.1)", (1, 64, 8), {"weight": (64,)}, {}),
    ("PReLU(1)", (5,), {"weight": (1,)}, {}),
    ("PReLU(1)", (), {"weight": (1,)}, {}),
    ("PReLU(0)", (2, 0), {"weight": (0,)}, {}),
    ("ELU(0.5, True)", (2, 3), {}, {}),
    ("CELU(2.0)", (2, 3), {}, {}),
    ("CELU(-1.0)", (2, 3), {}, {}),
    ("SELU(inplace=True)", (2, 3), {}, {}),
    ("GELU()", (2, 3), {}, {}),
    ("GELU('tanh')", (2, 3), {}, {}),
    ("GELU(approximate='none')", (2, 3), {}, {}),
    ("SiLU(True)", (2, 3), {}, {}),
    ("Mish()", (2, 3), {}, {}),
    ("Sigmoid()", (2, 3), {}, {}),
    ("Tanh()", (2, 0, 3), {}, {}),
    ("Hardtanh()", (2, 3), {}, {}),
    ("Hardtanh(0, 6)", (2, 3), {}, {}),
    ("Hardtanh(-2.0, 2.0, True)", (2, 3), {}, {}),
    ("Hardtanh(min_value=0.0)", (2, 3), {}, {}),
    ("Hardswish(True)", (2, 3), {}, {}),
    ("Hardsigmoid()", (2, 3), {}, {}),
    ("Softplus(2.0, 10.0)", (2, 3), {}, {}),
    ("Softsign()", (2, 3), {}, {}),
    ("Tanhshrink()", (2, 3), {}, {}),
    ("Softmax(dim=1)", (2, 10), {}, {}),
    ("Softmax(-1)", (2, 3, 4), {}, {}),
    ("Softmax(-4)", (2, 3, 4, 5), {}, {}),
    ("Softmax()", (2, 3, 4), {}, {}),
    ("Softmax(0)", (), {}, {}),
    ("Softmax(-1)", (), {}, {}),
    ("LogSoftmax(dim=1)", (2, 10), {}, {}),
    ("LogSoftmax()", (5,), {}, {}),
    ("Softmax2d()", (2, 3, 4, 5), {}, {}),
    ("Softmax2d()", (3, 4, 5), {}, {}),
    # dropout: the identity in eval mode
    ("Dropout()", (2, 10), {}, {}),
    ("Dropout(0.0)", (2, 10), {}, {}),
    ("Dropout(1.0)", (2, 10), {}, {}),
    ("Dropout(p=0.2, inplace=True)", (2, 3, 4, 4), {}, {}),
    ("Dropout()", (), {}, {}),
    ("Dropout1d(0.1)", (2, 3, 4), {}, {}),
    ("Dropout1d()", (3, 4), {}, {}),
    ("Dropout2d()", (2, 3, 4, 4), {}, {}),
    ("Dropout2d()", (3, 4, 4), {}, {}),
    ("Dropout2d()", (2, 3, 4), {}, {}),  # PyTorch warns
    ("Dropout2d()", (2, 3), {}, {}),  # PyTorch warns
    ("Dropout2d()", (5,), {}, {}),  # PyTorch warns (errors only when training)
    ("Dropout3d()", (2, 3, 4, 4, 4), {}, {}),
    ("Dropout3d()", (3, 4, 4, 4), {}, {}),
    ("Dropout3d()", (2, 3, 4), {}, {}),  # PyTorch warns
    ("AlphaDropout(0.1)", (2, 3), {}, {}),
]


@pytest.mark.parametrize("call, x, params, buffers", SHAPE_CASES)
def test_shapes_params_buffers(
    call: str, x: tuple[int, ...] | None, params: Shapes, buffers: Shapes
) -> None:
    layer = make(call)
    layer.check()
    if x is not None:
        assert layer.out_shape(x) == x
        assert layer.macs(x, x) == 0
    assert layer.weights(x) == params
    assert layer.buffers(x) == buffers


# (constructor call, input shape or None, where it fails, argument, input dim the error is about)
ERROR_CASES = [
    # BatchNorm: rank, channels, batch statistics without running stats, negative size
    ("BatchNorm1d(3)", (3,), "forward", "input", None),
    ("BatchNorm1d(3)", (2, 3, 5, 5), "forward", "input", None),
    ("BatchNorm1d(3)", (3, 5), "forward", "num_features", 1),
    ("BatchNorm2d(3)", (3, 5, 5), "forward", "input", None),
    ("BatchNorm2d(3)", (2, 3, 5, 5, 5), "forward", "input", None),
    ("BatchNorm2d(4)", (2, 3, 5, 5), "forward", "num_features", 1),
    ("BatchNorm2d(4, affine=False)", (2, 3, 5, 5), "forward", "num_features", 1),
    ("BatchNorm2d(4, track_running_stats=False)", (2, 3, 5, 5), "forward", "num_features", 1),
    ("BatchNorm3d(3)", (3, 4, 4, 4), "forward", "input", None),
    ("BatchNorm3d(3)", (2, 3, 4, 4, 4, 4), "forward", "input", None),
    (
        "BatchNorm2d(3, track_running_stats=False)",
        (1, 3, 1, 1),
        "forward",
        "track_running_stats",
        None,
    ),
    ("BatchNorm1d(3, track_running_stats=False)", (1, 3), "forward", "track_running_stats", None),
    ("BatchNorm2d(0)", (2, 0, 3, 3), "forward", "num_features", 1),
    ("BatchNorm2d(-1)", None, "check", "num_features", None),
    ("BatchNorm2d(-1, affine=False)", None, "check", "num_features", None),
    # InstanceNorm
    ("InstanceNorm1d(3)", (3,), "forward", "input", None),
    ("InstanceNorm1d(3)", (2, 3, 5, 5), "forward", "input", None),
    ("InstanceNorm2d(3)", (3, 5), "forward", "input", None),
    ("InstanceNorm2d(3)", (2, 3, 5, 5, 5), "forward", "input", None),
    ("InstanceNorm3d(3)", (3, 4, 4), "forward", "input", None),
    ("InstanceNorm2d(4, affine=True)", (2, 3, 5, 5), "forward", "num_features", 1),
    ("InstanceNorm2d(4, affine=True)", (3, 5, 5), "forward", "num_features", 0),
    ("InstanceNorm2d(4, track_running_stats=True)", (2, 3, 5, 5), "forward", "num_features", 1),
    ("InstanceNorm1d(4, track_running_stats=True)", (3, 5), "forward", "num_features", 0),
    ("InstanceNorm2d(4)", (2, 4, 1, 1), "forward", "track_running_stats", None),
    ("InstanceNorm1d(4)", (4, 1), "forward", "track_running_stats", None),
    ("InstanceNorm2d(0, affine=True)", (2, 0, 3, 3), "forward", "num_features", 1),
    ("InstanceNorm2d(-1, affine=True)", None, "check", "num_features", None),
    # GroupNorm
    ("GroupNorm(4, 6)", None, "check", "num_groups", None),
    ("GroupNorm(0, 6)", None, "check", "num_groups", None),
    ("GroupNorm(-2, 6)", (2, 6, 3), "check", "num_groups", None),  # PyTorch: in forward
    ("GroupNorm(2, -2)", None, "check", "num_channels", None),
    ("GroupNorm(2, 6)", (6,), "forward", "input", None),
    ("GroupNorm(2, 6)", (2, 4, 5), "forward", "num_channels", 1),
    ("GroupNorm(2, 6)", (6, 4), "forward", "num_channels", 1),
    ("GroupNorm(2, 6, affine=False)", (2, 3, 5), "forward", "num_groups", 1),
    ("GroupNorm(6, 6)", (1, 6, 1), "forward", "num_groups", None),
    ("GroupNorm(6, 6)", (1, 6), "forward", "num_groups", None),
    # LayerNorm
    ("LayerNorm([4, 5])", (5, 4), "forward", "normalized_shape", 0),
    ("LayerNorm([4, 5])", (2, 5, 4), "forward", "normalized_shape", 1),
    ("LayerNorm([4, 5])", (5,), "forward", "normalized_shape", None),
    ("LayerNorm([4, 5], elementwise_affine=False)", (2, 4, 6), "forward", "normalized_shape", 2),
    ("LayerNorm(10)", (2, 3, 4), "forward", "normalized_shape", 2),
    ("LayerNorm([])", (2, 3), "forward", "normalized_shape", None),
    ("LayerNorm(-1)", None, "check", "normalized_shape", None),
    # LocalResponseNorm
    ("LocalResponseNorm(5)", (2, 3), "forward", "input", None),
    ("LocalResponseNorm(5)", (3,), "forward", "input", None),
    ("LocalResponseNorm(0)", (2, 3, 4), "forward", "size", None),
    ("LocalResponseNorm(-1)", (2, 3, 4), "forward", "size", None),
    # PReLU: num_parameters is 1 or the size of dim 1 (a 1D input has one channel)
    ("PReLU(-1)", None, "check", "num_parameters", None),
    ("PReLU(3)", (3,), "forward", "num_parameters", None),
    ("PReLU(3)", (3, 2), "forward", "num_parameters", 1),
    ("PReLU(3)", (2, 4, 3, 5), "forward", "num_parameters", 1),
    ("PReLU(3)", (), "forward", "num_parameters", None),
    ("PReLU(0)", (2, 3), "forward", "num_parameters", 1),
    # other activations
    ("CELU(0.0)", (2, 3), "forward", "alpha", None),
    ("CELU(0)", (2, 3), "forward", "alpha", None),
    ("Hardtanh(1.0, 1.0)", None, "check", "max_val", None),
    ("Hardtanh(1, 0)", None, "check", "max_val", None),
    ("Hardtanh(min_value=2.0)", None, "check", "max_val", None),
    ("Hardtanh(max_value=-2.0)", None, "check", "max_value", None),
    ("Softmax(1)", (5,), "forward", "dim", None),
    ("Softmax(2)", (2, 5), "forward", "dim", None),
    ("Softmax(-3)", (2, 5), "forward", "dim", None),
    ("Softmax(3)", (2, 3, 4), "forward", "dim", None),
    ("Softmax(1)", (), "forward", "dim", None),
    ("LogSoftmax(-4)", (2, 3, 4), "forward", "dim", None),
    ("Softmax2d()", (2, 5), "forward", "input", None),
    ("Softmax2d()", (2, 3, 4, 5, 6), "forward", "input", None),
    ("Softmax2d()", (5,), "forward", "input", None),
    # dropout
    ("Dropout(-0.1)", None, "check", "p", None),
    ("Dropout(1.1)", None, "check", "p", None),
    ("Dropout1d(1.5)", None, "check", "p", None),
    ("Dropout2d(-1)", None, "check", "p", None),
    ("Dropout3d(2)", None, "check", "p", None),
    ("AlphaDropout(-0.5)", None, "check", "p", None),
    ("Dropout1d()", (5,), "forward", "input", None),
    ("Dropout1d()", (2, 3, 4, 5), "forward", "input", None),
    ("Dropout1d()", (), "forward", "input", None),
]


@pytest.mark.parametrize("call, x, stage, argument, dim", ERROR_CASES)
def test_errors(
    call: str, x: tuple[int, ...] | None, stage: str, argument: str, dim: int | None
) -> None:
    layer = make(call)
    with pytest.raises(ShapeError) as info:
        layer.check()
        assert stage == "forward", "check() should have failed"
        assert x is not None
        layer.out_shape(x)
    assert info.value.argument == argument
    assert info.value.dim == dim
    message = str(info.value)
    assert message and "\n" not in message


# rejected while reading the spec: the argument has the wrong form, or PyTorch has no such signature
SPEC_ERRORS = [
    "BatchNorm2d(3, 1e-05, 0.1, True, True, None, None, False)",  # bias is keyword-only
    "GroupNorm(2, 6, 1e-05, True, None, None, False)",
    "InstanceNorm2d(3, nope=1)",
    "GELU('bad')",
    "Sigmoid(1)",
    "Tanh(x=1)",
    "Softmax2d(1)",
    "ReLU(True, 2)",
    "Dropout('a')",
    "LayerNorm('a')",
    "Softmax(1.5)",
    "LocalResponseNorm()",
    "GroupNorm(2)",
]


@pytest.mark.parametrize("call", SPEC_ERRORS)
def test_spec_errors(call: str) -> None:
    with pytest.raises(SpecError):
        make(call)


def test_ignored_arguments() -> None:
    for call in (
        "BatchNorm2d(3, device='cpu', dtype=None)",
        "InstanceNorm1d(3, device=None)",
        "GroupNorm(2, 6, dtype=None)",
        "LayerNorm(5, device='cpu')",
        "PReLU(3, device='cpu')",
    ):
        make(call).check()


# (constructor call, input shape, a piece of one note)
NOTE_CASES = [
    ("BatchNorm2d(3)", (1, 3, 1, 1), "training mode would fail"),
    ("BatchNorm1d(3)", (1, 3), "training mode would fail"),
    ("InstanceNorm2d(3, track_running_stats=True)", (2, 3, 1, 1), "training mode would fail"),
    ("BatchNorm2d(4, affine=False, track_running_stats=False)", (2, 3, 5, 5), "does not check"),
    ("InstanceNorm2d(4)", (2, 3, 5, 5), "does not check"),
    ("GroupNorm(2, 6, affine=False)", (2, 4, 5), "does not check"),
    ("GroupNorm(2, 6)", (2, 6, 5), "3 channels per group"),
    ("Softmax()", (5,), "dim 0"),
    ("Softmax()", (2, 5), "dim 1"),
    ("Softmax()", (2, 3, 4), "dim 0"),
    ("Softmax()", (2, 3, 4, 5), "dim 1"),
    ("LogSoftmax()", (2, 3, 4, 5, 6), "dim 1"),
    ("Dropout2d()", (2, 3, 4), "Dropout1d"),
    ("Dropout2d()", (2, 3), "3D or 4D"),
    ("Dropout3d()", (2, 3, 4), "4D or 5D"),
]


@pytest.mark.parametrize("call, x, piece", NOTE_CASES)
def test_notes(call: str, x: tuple[int, ...], piece: str) -> None:
    layer = make(call)
    assert any(piece in note for note in layer.notes(x, layer.out_shape(x)))


@pytest.mark.parametrize(
    "call, x",
    [
        ("BatchNorm2d(3)", (2, 3, 4, 4)),
        ("BatchNorm2d(3)", (2, 3, 2, 1)),
        ("InstanceNorm2d(3)", (2, 3, 4, 4)),
        ("Softmax(1)", (2, 5)),
        ("Dropout2d()", (2, 3, 4, 4)),
        ("Dropout3d()", (2, 3, 4, 4)),
        ("Dropout()", (2, 3)),
        ("ReLU()", (2, 3)),
    ],
)
def test_no_notes(call: str, x: tuple[int, ...]) -> None:
    layer = make(call)
    assert layer.notes(x, layer.out_shape(x)) == []


def test_inferred_channels_unknown_without_input() -> None:
    assert make("BatchNorm2d()").weights(None) is None
    assert make("BatchNorm2d()").buffers(None) is None
    assert make("BatchNorm2d(affine=False, track_running_stats=False)").weights(None) == {}
    assert make("BatchNorm2d(8)").weights(None) == {"weight": (8,), "bias": (8,)}
    assert make("InstanceNorm2d()").weights(None) == {}


def test_defaults_match_pytorch() -> None:
    defaults: dict[str, dict[str, Any]] = {
        "BatchNorm2d": {
            "eps": 1e-05,
            "momentum": 0.1,
            "affine": True,
            "track_running_stats": True,
            "bias": True,
        },
        "InstanceNorm2d": {
            "eps": 1e-05,
            "momentum": 0.1,
            "affine": False,
            "track_running_stats": False,
        },
        "GroupNorm": {"eps": 1e-05, "affine": True, "bias": True},
        "LayerNorm": {"eps": 1e-05, "elementwise_affine": True, "bias": True},
        "LocalResponseNorm": {"alpha": 0.0001, "beta": 0.75, "k": 1.0},
        "LeakyReLU": {"negative_slope": 0.01, "inplace": False},
        "PReLU": {"num_parameters": 1, "init": 0.25},
        "ELU": {"alpha": 1.0},
        "CELU": {"alpha": 1.0},
        "GELU": {"approximate": "none"},
        "Hardtanh": {
            "min_val": -1.0,
            "max_val": 1.0,
            "inplace": False,
            "min_value": None,
            "max_value": None,
        },
        "Softplus": {"beta": 1.0, "threshold": 20.0},
        "Softmax": {"dim": None},
        "Dropout": {"p": 0.5, "inplace": False},
        "AlphaDropout": {"p": 0.5, "inplace": False},
    }
    for name, expected in defaults.items():
        args = {a.name: a.default for a in lookup(name).ARGS}
        for key, value in expected.items():
            assert args[key] == value, (name, key)
    for name in ("Sigmoid", "Tanh", "Softsign", "Tanhshrink", "Softmax2d"):
        assert lookup(name).ARGS == ()
