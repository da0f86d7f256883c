"""One-line lookups: analysis without an input shape, ``shape -q``, the hints for a wrong
input rank and a layer given where FILE goes, and the JSON writer's layout."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from clirun import run
from hypothesis import given, settings
from hypothesis import strategies as st

from convcalc import SpecError, analyze, load_spec
from convcalc.forward import run_forward
from convcalc.jsonout import ROW_KEYS, json_lines
from convcalc.layers import REGISTRY
from convcalc.model import Spec
from convcalc.render import to_json
from convcalc.shape import prod
from convcalc.spec import spec_from_strings

ROOT = Path(__file__).resolve().parents[2]
LENET = str(ROOT / "examples" / "lenet.yaml")
LENET64 = str(ROOT / "examples" / "lenet-64.yaml")
#: the zoo, wherever the repository keeps it
ZOO = sorted(
    p
    for p in ROOT.glob("**/zoo/*.yaml")
    if not any(
        part.startswith(".") or part in ("build", "dist") for part in p.relative_to(ROOT).parts
    )
)
RESNET50 = next(p for p in ZOO if p.stem == "resnet50")

DEPTHWISE = "Conv2d(256, 256, 3, groups=256)"
INFERRED = "c=Conv2d(out_channels=8, kernel_size=1)"


def torch_params(call: str) -> int:
    module = eval("torch.nn." + call, {"torch": torch})  # our own constructor strings
    return sum(p.numel() for p in module.parameters())


# ------------------------------------------------------------ the library
def test_depthwise_parameters_without_an_input():
    report = analyze(spec_from_strings([DEPTHWISE]))
    assert report.ok and report.exit_code == 0
    assert report.input_shape is None and report.output_shape is None
    (row,) = report.rows
    assert (row.input_shape, row.output_shape, row.macs) == (None, None, None)
    assert row.params == torch_params(DEPTHWISE) == 256 * 1 * 3 * 3 + 256 == 2560
    assert row.trainable_params == 2560
    t = report.totals
    assert (t.params, t.trainable_params, t.macs, t.flops) == (2560, 2560, None, None)
    assert report.needs_input == ()
    assert report.notes == (
        "no input shape: shapes and MACs need one (--input, or input: in the file)",
    )


def test_an_inferred_in_channels_makes_its_params_and_the_total_unknown():
    report = analyze(spec_from_strings([DEPTHWISE, INFERRED, "BatchNorm2d(8)", "ReLU"]))
    assert report.ok
    assert [r.params for r in report.rows] == [2560, None, 16, 0]
    assert [r.macs for r in report.rows] == [None] * 4
    assert report.needs_input == (1,)
    assert (report.totals.params, report.totals.trainable_params) == (None, None)
    assert report.notes[-1] == (
        "layer 1 'c' takes in_channels from the input: its parameters and the total need --input"
    )
    # the same stack with an input: every count known, and equal where it was known before
    full = analyze(
        spec_from_strings([DEPTHWISE, INFERRED, "BatchNorm2d(8)", "ReLU"]), (1, 256, 8, 8)
    )
    assert [r.params for r in full.rows] == [2560, 256 * 8 + 8, 16, 0]
    assert full.totals.params == 2560 + 2056 + 16


def test_several_layers_needing_the_input_are_named_then_counted():
    layers = ["Conv2d(out_channels=4, kernel_size=1)" for _ in range(7)]
    report = analyze(spec_from_strings(layers))
    assert report.needs_input == tuple(range(7))
    assert report.notes[-1] == (
        "7 layers take sizes from the input: layer 0 '0' (in_channels), layer 1 '1' (in_channels), "
        "layer 2 '2' (in_channels), layer 3 '3' (in_channels), layer 4 '4' (in_channels), 2 more; "
        "their parameters and the total need --input"
    )


def test_construction_errors_are_reported_without_an_input():
    report = analyze(spec_from_strings(["Conv2d(256, 250, 3, groups=256)", "Linear(10, 5)"]))
    assert not report.ok and report.exit_code == 1
    (error,) = report.errors
    assert error.index == 0 and error.argument == "out_channels"
    assert error.message == (
        "layer 0 '0' (Conv2d): out_channels must be divisible by groups: 250 is not divisible by 256"
    )
    # the layer after keeps the parameters its arguments fix
    assert [r.params for r in report.rows] == [None, 55]
    assert report.totals.params is None


def test_merges_blocks_and_from_without_an_input(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text(
        "blocks:\n"
        "  Pair:\n"
        "    params: {c: 4}\n"
        "    layers:\n"
        "      - a: Conv2d($c, $c, 3, padding=1)\n"
        "      - b: Conv2d($c, $c, 1)\n"
        "layers:\n"
        "  - stem: Conv2d(3, 4, 3, padding=1)\n"
        "  - {type: Pair, name: p, c: 4}\n"
        "  - {type: Add, from: [stem, p.b]}\n"
        "  - {type: Concat, from: [stem, '2']}\n"
        "  - BatchNorm2d(8)\n"
    )
    report = analyze(load_spec(str(path)))
    assert report.ok
    assert [r.name for r in report.rows] == ["stem", "p.a", "p.b", "2", "3", "4"]
    assert [r.params for r in report.rows] == [112, 148, 20, 0, 0, 16]
    assert report.rows[3].inputs == ("stem", "p.b")
    assert report.totals.params == 112 + 148 + 20 + 16
    # the collapsed view sums what is known
    assert [(r.name, r.params) for r in report.view(0)][:2] == [("stem", 112), ("p", 168)]
    with_input = analyze(load_spec(str(path)), (1, 3, 8, 8))
    assert with_input.totals.params == report.totals.params


def test_run_still_needs_an_input_shape():
    with pytest.raises(SpecError) as info:
        run_forward(spec_from_strings(["ReLU"]))
    assert info.value.message == "no input shape"
    assert info.value.hint == "add input: [N, C, H, W] to the file, or pass --input 1,3,224,224"
    result = run("run", "-l", "ReLU")
    assert result.exit_code == 2
    assert result.output == (
        "error: no input shape\n"
        "  hint: add input: [N, C, H, W] to the file, or pass --input 1,3,224,224\n"
    )


@pytest.mark.parametrize("path", ZOO, ids=[p.stem for p in ZOO])
def test_every_zoo_model_without_its_input(path):
    text = path.read_text()
    assert re.search(r"(?m)^input:", text)
    report = analyze(load_spec(str(path), re.sub(r"(?m)^input:.*\n", "", text)))
    full = analyze(load_spec(str(path)))
    assert report.ok and full.ok
    assert report.input_shape is None and report.output_shape is None
    assert all(r.input_shape is r.output_shape is r.macs is None for r in report.rows)
    assert report.totals.macs is None and report.totals.flops is None
    for row, known in zip(report.rows, full.rows, strict=True):
        if row.params is None:
            assert row.index in report.needs_input
            assert known.params is not None
        else:
            assert row.params == known.params, row.name
            assert row.trainable_params == known.trainable_params
    if report.needs_input:
        assert report.totals.params is None
        assert f"{len(report.needs_input)} layers take sizes from the input" in report.notes[-1]
    else:  # every size fixed by the arguments: the totals are the with-input ones
        assert report.totals.params == full.totals.params
        assert report.totals.trainable_params == full.totals.trainable_params
    assert json.loads(to_json(report)) == report.to_dict()


def test_the_zoo_covers_both_cases():
    """Some zoo models fix every size in their arguments, others take some from the input."""
    needs = [
        bool(analyze(load_spec(str(p), re.sub(r"(?m)^input:.*\n", "", p.read_text()))).needs_input)
        for p in ZOO
    ]
    assert any(needs) and not all(needs)


# ---------------------------------------------------- random stacks (torch)
@st.composite
def stacks(draw):
    """(convcalc calls, torch calls with every size filled in, inferred indices, input)."""
    c = draw(st.integers(1, 6))
    size = draw(st.integers(4, 9))
    x0 = (draw(st.integers(1, 2)), c, size, size)
    ours: list[str] = []
    theirs: list[str] = []
    inferred: list[int] = []
    for _ in range(draw(st.integers(1, 7))):
        kind = draw(st.sampled_from(["conv", "depthwise", "bn", "gn", "prelu", "relu", "pool"]))
        infer = draw(st.booleans())
        if kind == "conv":
            out, k, bias = draw(st.integers(1, 6)), draw(st.integers(1, 3)), draw(st.booleans())
            tail = f"{k}, padding={k // 2}, bias={bias}"
            theirs.append(f"Conv2d({c}, {out}, {tail})")
            ours.append(f"Conv2d(out_channels={out}, kernel_size={tail})" if infer else theirs[-1])
            c, size = out, size + 2 * (k // 2) - k + 1
        elif kind == "depthwise":
            m = draw(st.integers(1, 2))
            theirs.append(f"Conv2d({c}, {c * m}, 3, padding=1, groups={c})")
            ours.append(theirs[-1])
            infer = False
            c *= m
        elif kind == "bn":
            affine = draw(st.booleans())
            theirs.append(f"BatchNorm2d({c}, affine={affine})")
            ours.append(f"BatchNorm2d(affine={affine})" if infer else theirs[-1])
            infer = infer and affine  # without affine there is nothing to count
        elif kind == "gn":
            g = draw(st.sampled_from([d for d in range(1, c + 1) if c % d == 0]))
            theirs.append(f"GroupNorm({g}, {c})")
            ours.append(theirs[-1])
            infer = False
        elif kind == "prelu":
            theirs.append(f"PReLU({draw(st.sampled_from([1, c]))})")
            ours.append(theirs[-1])
            infer = False
        elif kind == "relu":
            theirs.append("ReLU()")
            ours.append("ReLU")
            infer = False
        else:
            if size < 4:  # norms need more than one value per channel (group)
                continue
            theirs.append("MaxPool2d(2)")
            ours.append(theirs[-1])
            infer = False
            size //= 2
        if infer:
            inferred.append(len(ours) - 1)
    if draw(st.booleans()):
        n, flat = draw(st.integers(1, 5)), c * size * size
        theirs += ["Flatten()", f"Linear({flat}, {n})"]
        ours += ["Flatten()", f"Linear(out_features={n})" if draw(st.booleans()) else theirs[-1]]
        if ours[-1] != theirs[-1]:
            inferred.append(len(ours) - 1)
    return ours, theirs, inferred, x0


@settings(max_examples=60, deadline=None)
@given(stacks())
def test_random_stacks_without_an_input(case):
    ours, theirs, inferred, x0 = case
    counts = [torch_params(call) for call in theirs]
    report = analyze(spec_from_strings(ours))
    assert report.ok and report.input_shape is None
    assert report.needs_input == tuple(inferred)
    for i, row in enumerate(report.rows):
        assert row.input_shape is row.output_shape is row.macs is None
        assert row.params == (None if i in inferred else counts[i]), (ours[i], theirs[i])
    assert report.totals.params == (None if inferred else sum(counts))
    assert report.totals.macs is None
    full = analyze(spec_from_strings(ours), x0)
    assert full.ok, full.errors
    assert [r.params for r in full.rows] == counts
    assert full.totals.params == sum(counts)
    assert json.loads(to_json(report)) == report.to_dict()
    line = _line(ours)
    if inferred:
        assert "params ? (layer" in line and "--input)" in line
    else:
        assert f"params {sum(counts):,} ·" in line


def _line(calls):
    result = run("shape", "-q", *[a for call in calls for a in ("-l", call)])
    assert result.exit_code == 0, result.output
    assert result.output.count("\n") == 1
    return result.output


# ------------------------------------------------- every format, no input
def test_plain_table_without_an_input():
    result = run("shape", "-l", DEPTHWISE, "-l", INFERRED)
    assert result.exit_code == 0
    assert result.output == (
        "model: input ? → output ?\n"
        "\n"
        "#  name  type    input  output  params  MACs  notes\n"
        "0  0     Conv2d  —      —       2.56 K     —\n"
        "1  c     Conv2d  —      —            —     —\n"
        "\n"
        "params: ? (needs --input: 1 layer takes its size from it)\n"
        "MACs: ? (needs --input) · FLOPs = 2 × MACs\n"
        "note: no input shape: shapes and MACs need one (--input, or input: in the file)\n"
        "note: layer 1 'c' takes in_channels from the input: its parameters and the total need --input\n"
    )


def test_plain_table_totals_when_every_size_is_fixed():
    result = run("shape", "-l", DEPTHWISE, "-l", "BatchNorm2d(256)")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[-4:] == [
        "params: 3,072 (3.07 K), trainable 3,072",
        "MACs: ? (needs --input) · FLOPs = 2 × MACs",
        "memory (float32): params 12.00 KiB · buffers 2.01 KiB",  # 2 × 256 × 4 + 8
        "note: no input shape: shapes and MACs need one (--input, or input: in the file)",
    ]


def test_json_without_an_input():
    result = run("shape", "-l", DEPTHWISE, "-l", INFERRED, "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["ok"] is True
    assert data["input_shape"] is None and data["output_shape"] is None
    assert [
        (d["params"], d["macs"], d["input_shape"], d["output_shape"]) for d in data["layers"]
    ] == [
        (2560, None, None, None),
        (None, None, None, None),
    ]
    assert data["totals"] == {"params": None, "trainable_params": None, "macs": None, "flops": None}
    assert data["errors"] == []
    assert "layer 1 'c' takes in_channels from the input" in data["notes"][1]
    fixed = json.loads(run("shape", "-l", DEPTHWISE, "-f", "json").output)
    assert fixed["totals"] == {
        "params": 2560,
        "trainable_params": 2560,
        "macs": None,
        "flops": None,
    }


def test_markdown_and_csv_without_an_input():
    md = run("shape", "-l", DEPTHWISE, "-l", INFERRED, "-f", "markdown").output
    assert md.splitlines()[0] == "**model: input ? → output ?**"
    assert "| 0 | 0 | Conv2d | — | — | 2.56 K | — |  |" in md
    assert "| 1 | c | Conv2d | — | — | — | — |  |" in md
    assert "- params: ? (needs --input: 1 layer takes its size from it)" in md
    assert "- MACs: ? (needs --input) · FLOPs = 2 × MACs" in md
    rows = list(
        csv.DictReader(
            io.StringIO(run("shape", "-l", DEPTHWISE, "-l", INFERRED, "-f", "csv").output)
        )
    )
    assert [(r["input_shape"], r["output_shape"], r["params"], r["macs"]) for r in rows] == [
        ("", "", "2560", ""),
        ("", "", "", ""),
    ]


def test_a_construction_error_without_an_input_exits_1():
    result = run("shape", "-l", "Conv2d(256, 250, 3, groups=256)")
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == "model: input ? → output ✗"
    assert (
        "error: layer 0 '0' (Conv2d): out_channels must be divisible by groups: 250 is not divisible by 256"
        in result.output
    )
    data = json.loads(run("shape", "-l", "Conv2d(256, 250, 3, groups=256)", "-f", "json").output)
    assert data["ok"] is False and data["errors"][0]["argument"] == "out_channels"


# ---------------------------------------------------------------- -q
def test_totals_line_of_resnet50():
    result = run("shape", "-q", str(RESNET50))
    assert result.exit_code == 0
    assert result.output == (
        "resnet50: (1, 3, 224, 224) → (1, 1000) · params 25,557,032 · MACs 4.09 G\n"
    )
    report = analyze(load_spec(str(RESNET50)))
    assert (report.totals.params, report.totals.macs) == (25_557_032, 4_089_184_256)


def test_totals_line_without_an_input():
    result = run("shape", "-q", "-l", "Conv2d(256,256,3,groups=256)")
    assert result.exit_code == 0
    assert result.output == "model: input ? · params 2,560 · MACs ? (needs --input)\n"
    result = run("shape", "--totals", "-l", DEPTHWISE, "-l", INFERRED)
    assert result.output == (
        "model: input ? · params ? (layer 1 'c' needs --input) · MACs ? (needs --input)\n"
    )
    calls = [a for _ in range(4) for a in ("-l", "Conv2d(out_channels=2, kernel_size=1)")]
    assert run("shape", "-q", *calls).output == (
        "model: input ? · params ? (layers 0 '0', 1 '1' and 2 more need --input) · MACs ? (needs --input)\n"
    )


def test_totals_line_of_a_failing_model():
    result = run("shape", "-q", LENET64)
    assert result.exit_code == 1
    assert result.output == (
        "lenet-64: error: layer 7 'fc1' (Linear): expects 400 input features, receives 2704 "
        "(= 16×13×13 after Flatten of (1, 16, 13, 13))\n"
    )


def test_totals_line_counts_further_errors():
    result = run(
        "shape", "-q", "-l", "Conv2d(4, 6, 3, groups=4)", "-l", "Conv2d(6, 4, 3, groups=4)"
    )
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert result.output.startswith("model: error: layer 0 '0' (Conv2d): ")
    assert result.output.endswith(" (and 1 more)\n")


def test_totals_line_of_a_small_model():
    result = run("shape", "-q", LENET)
    assert result.output == "lenet: (1, 1, 32, 32) → (1, 10) · params 61,706 · MACs 416.52 K\n"


@pytest.mark.parametrize("fmt", ["json", "markdown", "csv"])
def test_totals_line_is_text_only(fmt):
    result = run("shape", "-q", LENET, "--format", fmt)
    assert result.exit_code == 2
    assert (
        f"Error: -q/--totals prints one line of text and does not combine with --format {fmt} "
        "(whose output already holds the totals)"
    ) in result.output


# ------------------------------------------------------------- the hints
def test_input_without_batch_and_channels_suggests_the_whole_shape():
    result = run("shape", "-i", "224,224", "-l", "Conv2d(3, 6, 5)")
    assert result.exit_code == 1
    assert (
        "  hint: give the input shape with batch and channels: 1,3,224,224 (or 3,224,224, "
        "unbatched), or a 2D input suits the 1d layer types\n" in result.output
    )
    data = json.loads(run("shape", "-i", "224,224", "-l", "Conv2d(3, 6, 5)", "-f", "json").output)
    # the layer's own hint follows the whole shape: neither hides the other
    assert data["errors"][0]["hint"] == (
        "give the input shape with batch and channels: 1,3,224,224 (or 3,224,224, unbatched), "
        "or a 2D input suits the 1d layer types"
    )


def test_rank_hint_takes_the_channels_from_the_first_layer_that_sets_them():
    report = analyze(spec_from_strings(["MaxPool2d(2)", "BatchNorm2d(16)"]), (224, 224))
    # BatchNorm2d needs a 4D input: the unbatched shape would not do
    assert report.errors[0].hint == (
        "give the input shape with batch and channels: 1,16,224,224, "
        "or a 2D input suits the 1d layer types"
    )
    report = analyze(spec_from_strings(["MaxPool2d(2)"]), (32, 32))
    assert report.errors[0].hint == (
        "give the input shape with batch and channels: 1,C,32,32 (or C,32,32, unbatched), "
        "or a 2D input suits the 1d layer types"
    )
    report = analyze(spec_from_strings(["Conv3d(1, 4, 3)"]), (8, 8, 8))
    assert report.errors[0].hint == (
        "give the input shape with batch and channels: 1,1,8,8,8 (or 1,8,8,8, unbatched), "
        "or a 3D input suits the 2d layer types"
    )


def test_rank_hint_only_where_a_full_shape_works():
    report = analyze(spec_from_strings(["Conv2d(3, 6, 5)"]), (1, 3, 2, 2))  # too small, not too few
    assert "give the input shape" not in (report.errors[0].hint or "")
    # the rank fell on the way (a Flatten): the model input is not what to change
    report = analyze(spec_from_strings(["Flatten(0)", "Conv1d(3, 6, 1)"]), (3, 4))
    assert report.errors[0].index == 1
    assert "give the input shape" not in (report.errors[0].hint or "")


@pytest.mark.parametrize(
    "word,hint",
    [
        (
            "Conv2d(3,6,5)",
            "pass layers with -l: convcalc shape -l 'Conv2d(3,6,5)' (with -i N,C,H,W for shapes and MACs)",
        ),
        (
            "nn.Conv2d(3, 6, 5)",
            "pass layers with -l: convcalc shape -l 'nn.Conv2d(3, 6, 5)' (with -i N,C,H,W for shapes and MACs)",
        ),
        (
            "ReLU",
            "pass layers with -l: convcalc shape -l ReLU (with -i N,C,H,W for shapes and MACs)",
        ),
        (
            "conv1=Conv2d(3, 6, 5)",
            "pass layers with -l: convcalc shape -l 'conv1=Conv2d(3, 6, 5)' (with -i N,C,H,W for shapes and MACs)",
        ),
    ],
)
def test_a_layer_given_as_file_suggests_l(word, hint, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("shape", word)
    assert result.exit_code == 2
    assert (
        result.output == f"error: {word}: no such file, and it reads as a layer\n  hint: {hint}\n"
    )


def test_a_layer_given_as_file_keeps_the_input_in_the_hint(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("shape", "-i", "1,3,32,32", "Conv2d(3,6,5)")
    assert result.output.endswith(
        "  hint: pass layers with -l: convcalc shape -i 1,3,32,32 -l 'Conv2d(3,6,5)'\n"
    )


def test_a_file_named_like_a_layer_is_read_as_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ReLU").write_text(Path(LENET).read_text())
    result = run("shape", "-q", "ReLU")
    assert result.output == "lenet: (1, 1, 32, 32) → (1, 10) · params 61,706 · MACs 416.52 K\n"


def test_a_missing_file_that_is_no_layer_stays_no_such_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for word in ("net.yaml", "Conv9d(3)", "relu"):
        result = run("shape", word)
        assert result.exit_code == 2
        assert result.output.startswith(f"error: {word}: no such file")
        assert "reads as a layer" not in result.output


# --------------------------------------------------------------- JSON
def test_json_layout_one_field_and_one_layer_per_line():
    report = analyze(load_spec(LENET))
    text = to_json(report)
    lines = text.splitlines()
    assert lines[0] == "{" and lines[-1] == "}"
    assert lines[1:5] == [
        '  "model": "lenet",',
        '  "input_shape": [1, 1, 32, 32],',
        '  "output_shape": [1, 10],',
        '  "ok": true,',
    ]
    assert lines[5] == '  "layers": ['
    assert lines[6] == (
        '    {"index": 0, "name": "conv1", "type": "Conv2d", "input_shape": [1, 1, 32, 32], '
        '"output_shape": [1, 6, 28, 28], "params": 156, "macs": 117600, "trainable": true, '
        '"notes": [], "from": ["input"], "output_bytes": 18816, '
        '"receptive_field": {"size": [5, 5], "jump": [1, 1], "start": [0, 0], '
        '"global": [false, false]}},'
    )
    assert len(lines) == 1 + 4 + 1 + len(report.rows) + 1 + 4 + 1
    assert lines[-5] == (
        '  "totals": {"params": 61706, "trainable_params": 61706, "macs": 416520, "flops": 833040},'
    )
    assert lines[-4] == (
        '  "memory": {"dtype": "float32", "param_bytes": 246824, "buffer_bytes": 0, '
        '"activation_bytes": 58408, "peak_bytes": 37632, "peak_layer": 1},'
    )
    assert json.loads(text) == report.to_dict()


@pytest.mark.parametrize(
    "path",
    [*ZOO, *sorted((ROOT / "examples").glob("*.yaml"))],
    ids=lambda p: p.stem,
)
def test_json_is_the_reports_dict_written_fast(path):
    """The rows are written directly; the text is what the encoder writes for to_dict()."""
    report = analyze(load_spec(str(path)))
    text = to_json(report)
    assert json.loads(text) == report.to_dict()
    assert text == json_lines(report.to_dict())
    # and by the fast writer, which knows every field of a row (else it falls back, slowly)
    for row in report.rows:
        keys = tuple(row.to_dict())
        assert keys == tuple(k for k in ROW_KEYS if k in keys)
    assert set(ROW_KEYS) >= set(report.rows[-1].to_dict())


def test_json_with_unicode_names_and_merges(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text(
        'name: "netz-ü"\ninput: [1, 3, 8, 8]\nlayers:\n'
        '  - "größe": Conv2d(3, 4, 3, padding=1)\n'
        '  - {type: Conv2d, name: "b\\"q", in_channels: 3, out_channels: 4, kernel_size: 1,'
        " from: input}\n"
        '  - {type: Concat, from: ["größe", "b\\"q"]}\n',
        encoding="utf-8",
    )
    report = analyze(load_spec(str(path)))
    assert report.ok, report.errors
    text = to_json(report)
    assert '"name": "größe"' in text and '"name": "b\\"q"' in text
    data = json.loads(text)
    assert data == report.to_dict()
    assert data["layers"][2]["input_shape"] == [[1, 4, 8, 8], [1, 4, 8, 8]]
    assert data["layers"][1]["name"] == 'b"q'
    assert text == json_lines(report.to_dict())


def test_run_json_keeps_its_fields():
    result = run("run", LENET, "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["verified"] is True
    assert list(data["layers"][0])[-5:] == [
        "actual_shape", "match", "time_ms", "workspace_bytes", "folded_into",
    ]  # fmt: skip
    assert result.output.splitlines()[6].startswith('    {"index": 0, "name": "conv1"')


# ------------------------------------------------- every layer type, no input
@pytest.mark.parametrize("type_name", sorted(REGISTRY))
def test_every_layer_type_without_an_input(type_name):
    """Parameters are known without an input exactly when no size is taken from it."""
    cls = REGISTRY[type_name]
    positional, keywords, x = cls.example()
    given = dict(zip([a.name for a in cls.ARGS], positional), **keywords)
    inferred = [a.name for a in cls.ARGS if a.infer]
    lazy = type_name.startswith("Lazy")
    layer = cls.build((), given)
    known = layer.weights(x)
    assert (layer.weights(None) is None) == lazy
    if not lazy:
        assert layer.weights(None) == known
    spec = spec_from_strings(["ReLU"])  # its one entry, given the layer below
    spec = Spec((replace(spec.layers[0], layer=layer),))
    row = analyze(spec).rows[0]
    assert row.params == (None if lazy else sum(prod(s) for s in known.values()))
    if inferred:  # the same layer with its size left to the input
        left = cls.build((), {k: v for k, v in given.items() if k not in inferred})
        assert left.weights(None) is None or left.weights(x) == {}
        assert left.weights(x) == known
        spec = Spec((replace(spec.layers[0], layer=left),))
        report = analyze(spec)
        if left.weights(None) is None:
            assert report.needs_input == (0,)
            assert f"takes {', '.join(inferred)} from the input" in report.notes[-1]
    if lazy:
        report = analyze(spec)
        assert report.needs_input == (0,)
        assert " from the input: its parameters" in report.notes[-1]
        assert "its sizes" not in report.notes[-1]
