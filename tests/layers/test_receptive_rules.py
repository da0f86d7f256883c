"""Receptive field rules per layer type, worked out by hand (Araujo, Norris & Sim, Distill
2019): size, jump and start per spatial axis of the model input, global where a layer mixes
every position. tests/oracle/test_receptive_oracle.py measures them in torch."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from convcalc import analyze, spec_from_data
from convcalc.expr import parse_call
from convcalc.jsonout import to_json
from convcalc.layers import lookup
from convcalc.table import cell


def report_of(calls: list[str], shape: tuple[int, ...]):
    layers = []
    for call in calls:
        type_name, positional, keywords = parse_call(call)
        names = [a.name for a in lookup(type_name).ARGS]
        layers.append({"type": type_name, **dict(zip(names, positional)), **keywords})
    report = analyze(spec_from_data({"input": list(shape), "layers": layers}))
    assert report.ok, report.errors
    return report


def field_of(calls: list[str], shape: tuple[int, ...] = (1, 2, 16, 16)):
    return report_of(calls, shape).rows[-1].receptive_field


H = Fraction(1, 2)

# (layers, input, (size, jump, start, global) per axis); the size of a global axis is the input's
CASES = [
    # size += d(k-1)·jump, start -= p·jump, jump *= s
    (["Conv2d(2, 2, 3, stride=2, padding=1)"], None, [(3, 2, -1, False)] * 2),
    (["Conv2d(2, 2, 3, padding=2, dilation=2)"], None, [(5, 1, -2, False)] * 2),
    (["Conv2d(2, 2, 7, 2, 3)", "MaxPool2d(3, 2, 1)"], None, [(11, 4, -5, False)] * 2),
    (["Conv2d(2, 2, (3, 1), padding=(1, 0))"], None, [(3, 1, -1, False), (1, 1, 0, False)]),
    # padding='same' with an even kernel: the left padding is total // 2
    (["Conv2d(2, 2, 4, padding='same')"], None, [(4, 1, -1, False)] * 2),
    (["Conv2d(2, 2, 3, 2, 1)", "Conv2d(2, 2, 3, 2, 1)"], None, [(7, 4, -3, False)] * 2),
    (["AvgPool2d(2)", "AvgPool2d(2)"], None, [(4, 4, 0, False)] * 2),
    # ZeroPad2d((left, right, top, bottom)): the left (top) padding moves the start
    (["ZeroPad2d((2, 0, 1, 3))"], None, [(1, 1, -1, False), (1, 1, -2, False)]),
    # element-wise layers and norms over the channels keep the field
    (["Conv2d(2, 2, 3)", "BatchNorm2d(2)", "ReLU()", "Dropout2d()"], None, [(3, 1, 0, False)] * 2),
    # transposed convolution: out o reads i = (o + p - d·j) / s; the largest region, jump 1/s
    (["ConvTranspose2d(2, 2, 4, 2, 1)"], None, [(2, H, -1, False)] * 2),
    (["ConvTranspose2d(2, 2, 3, 2, 1)"], None, [(2, H, 0, False)] * 2),
    (["ConvTranspose2d(2, 2, 2, 3)"], None, [(1, Fraction(1, 3), 0, False)] * 2),
    # upsampling: nearest reads floor(o/2); bilinear the two around (o + 1/2)/2 - 1/2
    (["Upsample(scale_factor=2)"], None, [(1, H, 0, False)] * 2),
    (["Upsample(scale_factor=2, mode='bilinear')"], None, [(2, H, -1, False)] * 2),
    (["Upsample(scale_factor=1.5, mode='bicubic')"], None, [(4, Fraction(2, 3), -2, False)] * 2),
    (["PixelShuffle(2)"], (1, 8, 6, 6), [(1, H, 0, False)] * 2),
    (["PixelUnshuffle(2)"], None, [(2, 2, 0, False)] * 2),
    # adaptive pooling: the longest bin, a jump of in/out; one bin: global
    (["AdaptiveAvgPool2d(3)"], (1, 2, 7, 7), [(3, Fraction(7, 3), 0, False)] * 2),
    (["AdaptiveAvgPool2d((4, 1))"], None, [(4, 4, 0, False), (16, 1, 0, True)]),
    # what mixes every position along an axis makes it global, and what reads it stays so
    (["GroupNorm(1, 2)"], None, [(16, 1, 0, True)] * 2),
    (["InstanceNorm2d(2)"], None, [(16, 1, 0, True)] * 2),
    (["InstanceNorm2d(2, track_running_stats=True)"], None, [(1, 1, 0, False)] * 2),
    (["LayerNorm(16)"], None, [(1, 1, 0, False), (16, 1, 0, True)]),
    (["LayerNorm([16, 16])", "Conv2d(2, 2, 3)"], None, [(16, 1, 0, True)] * 2),
    (["Softmax(dim=2)"], None, [(16, 1, 0, True), (1, 1, 0, False)]),
    (["Softmax(dim=1)"], None, [(1, 1, 0, False)] * 2),
    (["Linear(16, 4)"], None, [(1, 1, 0, False), (16, 1, 0, True)]),
    (["Flatten()", "Linear(512, 4)"], None, [(16, 1, 0, True)] * 2),
    (["Flatten(0, 1)", "Conv2d(2, 2, 3)"], None, [(3, 1, 0, False)] * 2),
    (["Unflatten(1, (1, 2))"], None, [(1, 1, 0, False)] * 2),
]


@pytest.mark.parametrize("calls, shape, axes", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_rule(calls, shape, axes):
    field = field_of(calls, shape or (1, 2, 16, 16))
    assert field is not None and field.known
    assert list(zip(field.size, field.jump, field.start, field.whole)) == axes


def test_no_spatial_layout_is_null():
    assert field_of(["Linear(8, 4)"], (2, 8)) is None  # no spatial axis at all
    report = report_of(["Flatten()"], (1, 2, 4, 4))
    assert report.rows[0].to_dict()["receptive_field"] is None
    report = report_of(["Unflatten(2, (2, 2))"], (1, 2, 4, 4))  # a spatial axis split
    assert report.rows[0].to_dict()["receptive_field"] is None


def merged(kind: str, shape=(1, 2, 16, 16)):
    data = {
        "input": list(shape),
        "layers": [
            {"type": "Conv2d", "name": "a", "in_channels": 2, "out_channels": 2, "kernel_size": 5,
             "padding": 2, "from": "input"},
            {"type": "Conv2d", "name": "b", "in_channels": 2, "out_channels": 2, "kernel_size": 3,
             "padding": 1, "from": "a"},
            {"type": "AvgPool2d", "name": "c", "kernel_size": 3, "stride": 1, "padding": 1,
             "from": "input"},
            {"type": kind, "name": "m", "from": ["b", "c"]},
        ],
    }  # fmt: skip
    return analyze(spec_from_data(data))


def test_merges_take_the_union_of_their_inputs_regions():
    # b reads [-3, 4) (size 7), c reads [-1, 2) (size 3): the union is b's
    for kind in ("Add", "Mul", "Concat"):
        field = merged(kind).rows[-1].receptive_field
        assert (field.size, field.jump, field.start) == ((7, 7), (1, 1), (-3, -3)), kind


def test_squeeze_and_excitation_makes_everything_after_it_global():
    data = {
        "input": [1, 4, 8, 8],
        "layers": [
            {"type": "Conv2d", "name": "c", "in_channels": 4, "out_channels": 4, "kernel_size": 3,
             "padding": 1},
            {"type": "AdaptiveAvgPool2d", "name": "sq", "output_size": 1},
            {"type": "Conv2d", "name": "ex", "in_channels": 4, "out_channels": 4, "kernel_size": 1},
            {"type": "Mul", "name": "se", "from": ["c", "ex"]},
            {"type": "Conv2d", "name": "after", "in_channels": 4, "out_channels": 4,
             "kernel_size": 3, "padding": 1},
        ],
    }  # fmt: skip
    rows = analyze(spec_from_data(data)).rows
    assert rows[0].receptive_field.whole == (False, False)
    assert rows[1].receptive_field.whole == (True, True)
    assert rows[3].receptive_field.whole == (True, True)
    assert rows[4].receptive_field.to_dict() == {
        "size": [8, 8], "jump": [1, 1], "start": [0, 0], "global": [True, True],
    }  # fmt: skip


def test_table_and_json_forms():
    report = report_of(["Conv2d(2, 2, 3, 2, 1)", "ConvTranspose2d(2, 2, 4, 2, 1)"], (1, 2, 8, 8))
    conv, up = report.rows
    assert cell("rf", report, conv, False, None) == "3 / 2 / -1"
    assert cell("rf", report, up, False, None) == "5 / 1 / -3"
    report = report_of(["Upsample(scale_factor=2)"], (1, 2, 8, 8))
    assert cell("rf", report, report.rows[0], False, None) == "1 / 1/2 / 0"
    assert json.loads(to_json(report))["layers"][0]["receptive_field"] == {
        "size": [1, 1], "jump": [0.5, 0.5], "start": [0, 0], "global": [False, False],
    }  # fmt: skip
    report = report_of(["Linear(8, 3)"], (1, 2, 8, 8))
    assert cell("rf", report, report.rows[0], False, None) == "1 / 1 / 0, global"
    # the fast JSON path writes what to_dict holds
    assert json.loads(to_json(report))["layers"] == [r.to_dict() for r in report.rows]
