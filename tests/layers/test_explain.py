"""convcalc explain: every layer type's worked arithmetic ends in the numbers `shape` reports,
and the seed-style worked examples read exactly as a teacher would write them."""

from __future__ import annotations

import json
from typing import Any

import pytest
import torch
from clirun import run

from convcalc.layers import REGISTRY, catalog
from convcalc.layers.steps import Step

TYPES = sorted(REGISTRY)


def _shape_json(call: str, x: Any) -> dict[str, Any]:
    result = run("shape", "-l", call, "-i", ",".join(map(str, x)), "-f", "json")
    assert result.exit_code == 0, result.output
    layer: dict[str, Any] = json.loads(result.stdout)["layers"][0]
    return layer


@pytest.mark.parametrize("type_name", TYPES)
def test_every_line_ends_in_what_shape_reports(type_name: str) -> None:
    cls = REGISTRY[type_name]
    (entry,) = catalog(type_name)
    call, x = entry["example"]["call"], entry["example"]["input"]
    if cls.multi_input:  # a merge reads several outputs, which --layer cannot give it
        layer = cls.build(*cls.example()[:2])
        xs = tuple(tuple(s) for s in x)
        y = layer.out_shape(xs)
        steps: list[dict[str, Any]] = [
            {"dim": s.dim, "counts": s.counts, "result": s.result} for s in layer.explain(xs)
        ]
        reported: dict[str, Any] = {"output_shape": list(y), "params": 0, "macs": 0}
        x = xs[0]
    else:
        result = run("explain", "-l", call, "-i", ",".join(map(str, x)), "-f", "json")
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        steps = data["steps"]
        reported = _shape_json(call, x)
        assert data["output_shape"] == reported["output_shape"]
    y = reported["output_shape"]
    assert steps, type_name
    explained: set[int] = set()
    for step in steps:
        if step["dim"] is not None:
            assert step["result"] == y[step["dim"]], (type_name, step)
            explained.add(step["dim"])
        if step["counts"] == "shape":
            assert list(step["result"]) == y, (type_name, step)
            explained.update(range(len(y)))
        if step["counts"] == "params":
            assert step["result"] == reported["params"], (type_name, step)
        if step["counts"] == "macs":
            assert step["result"] == reported["macs"], (type_name, step)
    counted = {step["counts"] for step in steps}
    # every figure that is not plain is worked out: each changed size, params, MACs
    if len(x) == len(y):
        changed = {d for d, (a, b) in enumerate(zip(x, y)) if a != b}
    else:
        changed = set(range(len(y))) - set(range(len(y) - 1, len(y)))
        changed &= {d for d in range(len(y)) if d >= len(x) or x[d] != y[d]}
    assert changed <= explained, (type_name, changed - explained)
    assert (reported["params"] > 0) <= ("params" in counted), type_name
    assert (reported["macs"] > 0) <= ("macs" in counted), type_name


def _explain(call: str, x: str) -> list[str]:
    result = run("explain", "-l", call, "-i", x)
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


#: the seed's worked examples: a 5×5 input, 2×2 and 3×3 kernels, strides 1–2, padding 0–2,
#: with the simplification a teacher writes after the numbers
WORKED = [
    (2, 1, 0, "⌊(5 + 0 − 1 − 1) / 1⌋ + 1 = ⌊3⌋ + 1 = 4"),
    (2, 2, 0, "⌊(5 + 0 − 1 − 1) / 2⌋ + 1 = ⌊3/2⌋ + 1 = 1 + 1 = 2"),
    (2, 1, 1, "⌊(5 + 2 − 1 − 1) / 1⌋ + 1 = ⌊5⌋ + 1 = 6"),
    (2, 2, 1, "⌊(5 + 2 − 1 − 1) / 2⌋ + 1 = ⌊5/2⌋ + 1 = 2 + 1 = 3"),
    (2, 1, 2, "⌊(5 + 4 − 1 − 1) / 1⌋ + 1 = ⌊7⌋ + 1 = 8"),
    (2, 2, 2, "⌊(5 + 4 − 1 − 1) / 2⌋ + 1 = ⌊7/2⌋ + 1 = 3 + 1 = 4"),
    (3, 1, 0, "⌊(5 + 0 − 2 − 1) / 1⌋ + 1 = ⌊2⌋ + 1 = 3"),
    (3, 2, 0, "⌊(5 + 0 − 2 − 1) / 2⌋ + 1 = ⌊1⌋ + 1 = 2"),
    (3, 1, 1, "⌊(5 + 2 − 2 − 1) / 1⌋ + 1 = ⌊4⌋ + 1 = 5"),
    (3, 2, 1, "⌊(5 + 2 − 2 − 1) / 2⌋ + 1 = ⌊2⌋ + 1 = 3"),
    (3, 1, 2, "⌊(5 + 4 − 2 − 1) / 1⌋ + 1 = ⌊6⌋ + 1 = 7"),
    (3, 2, 2, "⌊(5 + 4 − 2 − 1) / 2⌋ + 1 = ⌊3⌋ + 1 = 4"),
]
CONV_H = "H_out  = ⌊(H_in + 2·padding − dilation·(kernel−1) − 1) / stride⌋ + 1 = "


@pytest.mark.parametrize(("k", "s", "p", "worked"), WORKED)
def test_worked_examples_on_a_5x5_input(k: int, s: int, p: int, worked: str) -> None:
    lines = _explain(f"Conv2d(1, 1, {k}, stride={s}, padding={p})", "1,1,5,5")
    assert lines[3] == CONV_H + worked
    assert lines[4] == CONV_H.replace("H", "W") + worked
    # torch is the oracle of the final number
    out = torch.nn.Conv2d(1, 1, k, stride=s, padding=p)(torch.zeros(1, 1, 5, 5)).shape[2]
    assert worked.endswith(f"= {out}")


def test_the_whole_explanation_of_a_strided_convolution() -> None:
    assert _explain("Conv2d(3, 64, 5, stride=2, padding=1)", "1,3,5,5") == [
        "layer 0 '0': Conv2d(in_channels=3, out_channels=64, kernel_size=5, stride=2, padding=1)",
        "input  (1, 3, 5, 5)",
        "C_out  = out_channels = 64",
        CONV_H + "⌊(5 + 2 − 4 − 1) / 2⌋ + 1 = ⌊1⌋ + 1 = 2",
        CONV_H.replace("H", "W") + "⌊(5 + 2 − 4 − 1) / 2⌋ + 1 = ⌊1⌋ + 1 = 2",
        "params = C_out · C_in/groups · k_h · k_w + C_out = 64 · 3 · 5 · 5 + 64 = 4800 + 64 = 4,864",
        "MACs   = N · C_out · H_out · W_out · C_in/groups · k_h · k_w = 1 · 64 · 2 · 2 · 3 · 5 · 5 = 19,200",
        "output (1, 64, 2, 2)",
    ]


def test_transposed_convolution_with_output_padding() -> None:
    call = "ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1, groups=2)"
    lines = _explain(call, "1,4,5,5")
    formula = "(H_in − 1)·stride − 2·padding + dilation·(kernel−1) + output_padding + 1"
    assert lines[3:] == [
        f"H_out  = {formula} = (5 − 1)·2 − 2 + 2 + 1 + 1 = 8 − 2 + 2 + 1 + 1 = 10",
        f"W_out  = {formula.replace('H', 'W')} = (5 − 1)·2 − 2 + 2 + 1 + 1 = 8 − 2 + 2 + 1 + 1 = 10",
        "params = C_in · C_out/groups · k_h · k_w + C_out = 4 · 2/2 · 3 · 3 + 2 = 36 + 2 = 38",
        # the input's positions, not the output's (several tools count stride² too many)
        "MACs   = N · C_in · H_in · W_in · C_out/groups · k_h · k_w = 1 · 4 · 5 · 5 · 2/2 · 3 · 3 = 900",
        "output (1, 2, 10, 10)",
    ]
    layer = torch.nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1, groups=2)
    assert layer(torch.zeros(1, 4, 5, 5)).shape == (1, 2, 10, 10)
    assert sum(p.numel() for p in layer.parameters()) == 38


def test_max_pooling_with_ceil_mode_drops_a_window_that_starts_in_the_right_padding() -> None:
    lines = _explain("MaxPool2d(2, stride=2, padding=1, ceil_mode=True)", "1,3,5,4")
    ceil = "⌈(H_in + 2·padding − dilation·(kernel−1) − 1) / stride⌉ + 1"
    assert lines[2:6] == [
        f"H_out with ceil_mode = {ceil} = ⌈(5 + 2 − 1 − 1) / 2⌉ + 1 = ⌈5/2⌉ + 1 = 3 + 1 = 4",
        "H_out                = 4 − 1 = 3   (the last window starts at (4 − 1)·2 = 6, "
        "≥ H_in + padding = 6, in the right padding: dropped)",
        f"W_out with ceil_mode = {ceil.replace('H', 'W')} = ⌈(4 + 2 − 1 − 1) / 2⌉ + 1 = ⌈2⌉ + 1 = 3",
        "W_out                = 3   (the last window starts at (3 − 1)·2 = 4, "
        "< W_in + padding = 5: kept)",
    ]
    pool = torch.nn.MaxPool2d(2, stride=2, padding=1, ceil_mode=True)
    assert pool(torch.zeros(1, 3, 5, 4)).shape == (1, 3, 3, 3)


def test_padding_same_with_an_even_kernel_puts_the_extra_one_on_the_right() -> None:
    lines = _explain("Conv2d(1, 1, 4, padding='same')", "1,1,5,5")
    assert lines[3:6] == [
        "H pad total = dilation·(kernel−1) = 1·(4 − 1) = 3",
        "H padding   = (⌊total/2⌋, total − ⌊total/2⌋) = (⌊3/2⌋, 3 − 1) = (1, 2)"
        "   ('same': an odd total puts the extra one on the right)",
        "H_out       = ⌊(H_in + pad_left + pad_right − dilation·(kernel−1) − 1) / stride⌋ + 1"
        " = ⌊(5 + 1 + 2 − 3 − 1) / 1⌋ + 1 = ⌊4⌋ + 1 = 5",
    ]


@pytest.mark.parametrize(
    ("call", "x", "line"),
    [
        ("AdaptiveAvgPool2d((3, None))", "1,2,7,5", "H_out   = output_size = 3"),
        (
            "AdaptiveAvgPool2d((3, None))",
            "1,2,7,5",
            "H bin i = [⌊i·H_in/H_out⌋, ⌈(i+1)·H_in/H_out⌉) = [0, 3), [2, 5), [4, 7) = 3 bins of 3 elements",
        ),
        ("AdaptiveAvgPool2d((3, None))", "1,2,7,5", "W_out   = W_in (output_size None) = 5"),
        (
            "Upsample(scale_factor=1.5)",
            "1,2,5,4",
            "H_out = ⌊H_in · scale_factor⌋ = ⌊5 · 1.5⌋ = ⌊7.5⌋ = 7",
        ),
        ("Upsample(size=(3, 9))", "1,2,5,4", "W_out = size = 9"),
        (
            "Flatten()",
            "2,16,5,5",
            "d1_out = product of dims 1 to 3 = d1 · d2 · d3 = 16 · 5 · 5 = 400",
        ),
        ("ZeroPad2d((1, 2, 0, -1))", "1,1,5,5", "H_out = H_in + top + bottom = 5 + 0 − 1 = 4"),
        ("ZeroPad2d((1, 2, 0, -1))", "1,1,5,5", "W_out = W_in + left + right = 5 + 1 + 2 = 8"),
        (
            "Linear(400, 120)",
            "2,400",
            "params       = out_features · in_features + out_features = 120 · 400 + 120 = 48000 + 120 = 48,120",
        ),
        (
            "Linear(400, 120)",
            "2,400",
            "MACs         = N · in_features · out_features = 2 · 400 · 120 = 96,000",
        ),
        ("ReLU()", "1,3,5,5", "output = input shape = (1, 3, 5, 5)"),
        ("BatchNorm2d(3)", "1,3,5,5", "params = |weight| + |bias| = 3 + 3 = 6"),
        ("PixelShuffle(2)", "1,8,3,3", "C_out = C_in / upscale_factor² = 8 / 2² = 2"),
    ],
)
def test_each_family_writes_its_own_formula(call: str, x: str, line: str) -> None:
    assert line in _explain(call, x)


def test_a_failing_layer_is_explained_up_to_the_rule_that_fails() -> None:
    result = run("explain", "-l", "Conv2d(3, 8, (3, 7))", "-i", "1,3,5,5")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[-1].startswith("H_out = ") and lines[-1].endswith("= 3")
    assert "W_out" not in result.stdout and "params" not in result.stdout
    assert "kernel larger than the padded input: W is 5 + padding 0 = 5, the kernel spans 7" in (
        result.stderr
    )
    data = json.loads(
        run("explain", "-l", "Conv2d(3, 8, (3, 7))", "-i", "1,3,5,5", "-f", "json").stdout
    )
    assert [s["what"] for s in data["steps"]] == ["C_out", "H_out"]
    assert data["output_shape"] is None and data["error"]["argument"] == "kernel_size"


def test_steps_are_records_with_the_figure_they_give() -> None:
    layer = REGISTRY["Conv2d"].build((3, 64, 5), {"stride": 2, "padding": 1})
    steps = list(layer.explain((1, 3, 5, 5)))
    assert steps[1] == Step(
        "H_out",
        "⌊(H_in + 2·padding − dilation·(kernel−1) − 1) / stride⌋ + 1",
        ("⌊(5 + 2 − 4 − 1) / 2⌋ + 1", "⌊1⌋ + 1"),
        2,
        dim=2,
    )
    assert [s.counts for s in steps] == [None, None, None, "params", "macs"]
