"""Diagnoses that point at the right place: the layer that produced a size, the fix that
works (checked by applying it, and by PyTorch), every unreadable part of a file at once,
and errors that carry file, line and column."""

from __future__ import annotations

import json
import textwrap

import pytest
from test_cli import run

from convcalc import SpecError, analyze, load_spec, spec_from_data
from convcalc.graph import MAX_ERRORS
from convcalc.layers.linear import _factor
from convcalc.spec import spec_from_strings


def write(tmp_path, text, name="net.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip())
    return str(path)


def report_of(layers, shape):
    return analyze(spec_from_strings(layers), shape)


def only_error(report):
    assert not report.ok
    (problem,) = report.errors
    return problem


def torch_agrees(spec, shape):
    """The model runs in PyTorch, and its output shape is the one convcalc predicts."""
    torch = pytest.importorskip("torch")
    from torch_bridge import TorchModel

    report = analyze(spec, shape)
    assert report.ok, report.errors
    with torch.no_grad():
        y = TorchModel(torch, spec, shape)(torch.zeros(shape))
    assert tuple(y.shape) == report.output_shape


# ------------------------------------------------------------ channel provenance
def test_channel_mismatch_names_the_layer_that_set_the_channels():
    layers = ["a: Conv2d(3, 16, 3)", "b: Conv2d(16, 16, 3)", "r: ReLU()", "c: Conv2d(32, 8, 3)"]
    problem = only_error(report_of(layers, (1, 3, 32, 32)))
    assert problem.message == (
        "layer 3 'c' (Conv2d): expects 32 input channels, receives 16 from layer 1 'b'"
    )
    assert problem.hint == (
        "set in_channels: 16 (or leave it out to take it from the input), "
        "or set out_channels: 32 in layer 1 'b'"
    )
    # either fix works, in convcalc and in torch
    for fixed in (
        ["a: Conv2d(3, 16, 3)", "b: Conv2d(16, 32, 3)", "r: ReLU()", "c: Conv2d(32, 8, 3)"],
        ["a: Conv2d(3, 16, 3)", "b: Conv2d(16, 16, 3)", "r: ReLU()", "c: Conv2d(16, 8, 3)"],
    ):
        torch_agrees(spec_from_strings(fixed), (1, 3, 32, 32))


@pytest.mark.parametrize(
    ("norm", "argument"),
    [
        ("BatchNorm2d(32)", "num_features: 16 (or leave it out to take it from the input)"),
        ("GroupNorm(4, 32)", "num_channels: 16"),
        ("InstanceNorm2d(32, affine=True)", "num_features: 16"),
    ],
)
def test_norm_channel_mismatch_names_the_convolution(norm, argument):
    layers = ["a: Conv2d(3, 16, 3)", "b: Conv2d(16, 16, 3)", "act: ReLU()", f"n: {norm}"]
    problem = only_error(report_of(layers, (1, 3, 16, 16)))
    assert problem.message.endswith("expects 32 channels, receives 16 from layer 1 'b'")
    assert problem.hint.startswith(f"set {argument}")
    assert problem.hint.endswith(", or set out_channels: 32 in layer 1 'b'")
    fixed = [*layers[:1], "b: Conv2d(16, 32, 3)", *layers[2:]]
    torch_agrees(spec_from_strings(fixed), (1, 3, 16, 16))


def test_linear_and_layernorm_mismatch_name_the_linear_that_set_the_features():
    layers = ["fc1: Linear(10, 20)", "fc2: Linear(20, 20)", "act: ReLU()", "fc3: Linear(30, 5)"]
    problem = only_error(report_of(layers, (4, 10)))
    assert problem.hint == "set in_features: 20, or set out_features: 30 in layer 1 'fc2'"
    torch_agrees(spec_from_strings([layers[0], "fc2: Linear(20, 30)", *layers[2:]]), (4, 10))

    layers = ["fc1: Linear(10, 20)", "fc2: Linear(20, 20)", "ln: LayerNorm(30)"]
    problem = only_error(report_of(layers, (4, 10)))
    assert problem.hint == (
        "set normalized_shape: [20] to normalise over the last dim, "
        "or set out_features: 30 in layer 1 'fc2'"
    )
    torch_agrees(spec_from_strings([layers[0], "fc2: Linear(20, 30)", layers[2]]), (4, 10))


BLOCK_MODEL = """
input: [1, 3, 16, 16]
blocks:
  Unit:
    params: {c_in: null, c_out: null}
    layers:
      - conv: Conv2d($c_in, $c_out, 3, padding=1)
      - bn: BatchNorm2d($c_out)
      - act: ReLU()
layers:
  - u1: Unit(3, 16)
  - u2: Unit(16, C_OUT)
  - head: Conv2d(32, 8, 1)
"""


def test_provenance_through_blocks_names_the_layer_inside_the_block():
    problem = only_error(analyze(spec_from_data(_yaml(BLOCK_MODEL.replace("C_OUT", "16")))))
    assert problem.message == (
        "layer 6 'head' (Conv2d): expects 32 input channels, receives 16 from layer 3 'u2.conv'"
    )
    assert problem.hint.endswith("or set out_channels: 32 in layer 3 'u2.conv'")
    torch_agrees(spec_from_data(_yaml(BLOCK_MODEL.replace("C_OUT", "32"))), (1, 3, 16, 16))


def _yaml(text):
    import yaml

    return yaml.safe_load(text)


def test_provenance_through_add_says_every_branch_must_change():
    layers = [
        {"a": "Conv2d(3, 16, 3, padding=1)"},
        {"b": "Conv2d(16, 16, 3, padding=1)"},
        {"type": "Add", "name": "add", "from": ["b", "a"]},
        {"bn": "BatchNorm2d(32)"},
    ]
    problem = only_error(analyze(spec_from_data({"input": [1, 3, 8, 8], "layers": layers})))
    assert problem.message.endswith("expects 32 channels, receives 16 from layer 1 'b'")
    assert problem.hint.endswith(
        "or set out_channels: 32 in layer 1 'b' (and in every other branch of layer 2 'add')"
    )


def test_provenance_through_concat_names_the_branches_and_the_one_to_change():
    layers = [
        {"a": "Conv2d(3, 8, 3, padding=1)"},
        {"b": "Conv2d(8, 8, 3, padding=1)"},
        {"type": "Concat", "name": "cat", "from": ["a", "b"]},
        {"c": "Conv2d(24, 8, 3)"},
    ]
    spec = spec_from_data({"input": [1, 3, 16, 16], "layers": layers})
    problem = only_error(analyze(spec))
    assert problem.message == (
        "layer 3 'c' (Conv2d): expects 24 input channels, receives 16 "
        "(= 8 from 'a' + 8 from 'b', by Concat layer 2 'cat')"
    )
    assert problem.hint.endswith("or set out_channels: 16 in layer 1 'b'")
    layers[1] = {"b": "Conv2d(8, 16, 3, padding=1)"}
    torch_agrees(spec_from_data({"input": [1, 3, 16, 16], "layers": layers}), (1, 3, 16, 16))


# --------------------------------------------------------------- missing Flatten
def test_linear_on_an_unflattened_convolution_output_says_add_flatten():
    layers = ["conv: Conv2d(3, 8, 3)", "fc: Linear(7200, 10)"]
    problem = only_error(report_of(layers, (1, 3, 32, 32)))
    assert problem.message == (
        "layer 1 'fc' (Linear): expects 7200 input features, receives 30 "
        "(the last dimension of (1, 8, 30, 30))"
    )
    assert problem.hint == "add Flatten before it (8×30×30 = 7200)"
    fixed = spec_from_strings(["conv: Conv2d(3, 8, 3)", "Flatten()", "fc: Linear(7200, 10)"])
    torch_agrees(fixed, (1, 3, 32, 32))


def test_linear_whose_features_are_not_the_product_keeps_its_hint():
    problem = only_error(report_of(["fc: Linear(7000, 10)"], (1, 8, 30, 30)))
    assert problem.hint == "set in_features: 30"


# ------------------------------------------------------------ adaptive pooling
@pytest.mark.parametrize(
    ("total", "like", "sizes"),
    [
        (64, (32, 32), (8, 8)),  # not (4, 16) or (2, 32)
        (64, (16, 64), (8, 8)),
        (36, (6, 6), (6, 6)),
        (32, (8, 8), (4, 8)),
        (64, (16, 16, 16), (4, 4, 4)),
        (216, (9, 9, 9), (6, 6, 6)),
        (7, (5,), (7,)),
    ],
)
def test_adaptive_pooling_size_is_the_squarest(total, like, sizes):
    assert _factor(total, like) == sizes


def test_adaptive_pooling_hint_for_4096_features_from_64_channels():
    layers = ["Flatten()", "fc: Linear(4096, 10)"]
    problem = only_error(report_of(layers, (1, 64, 32, 32)))
    assert problem.hint == (
        "set in_features: 65536, use a 8×8 input, or add AdaptiveAvgPool2d((8, 8)) before Flatten"
    )
    torch_agrees(spec_from_strings(["AdaptiveAvgPool2d((8, 8))", *layers]), (1, 64, 32, 32))


def test_adaptive_pooling_hint_in_3d_is_the_most_cubic():
    layers = ["Flatten()", "fc: Linear(512, 10)"]
    problem = only_error(report_of(layers, (1, 8, 16, 16, 16)))
    assert problem.hint.endswith("add AdaptiveAvgPool3d((4, 4, 4)) before Flatten")
    torch_agrees(spec_from_strings(["AdaptiveAvgPool3d((4, 4, 4))", *layers]), (1, 8, 16, 16, 16))


def test_no_adaptive_pooling_hint_without_an_exact_factorisation():
    problem = only_error(report_of(["Flatten()", "Linear(4097, 10)"], (1, 64, 32, 32)))
    assert "AdaptiveAvgPool" not in problem.hint
    assert "the 64 channels cannot give 4097 features" in problem.hint


# ------------------------------------------------------- Concat of unequal sizes
def _concat(branch_b, *more):
    layers = [
        {"a": "Conv2d(3, 8, 3, padding=1)"},
        {"type": "Conv2d", "name": "b", "from": "a", **branch_b},
        *more,
        {"type": "Concat", "name": "cat", "from": ["a", more[-1]["name"] if more else "b"]},
    ]
    return spec_from_data({"input": [1, 3, 16, 16], "layers": layers})


CONV_B = {"in_channels": 8, "out_channels": 8, "kernel_size": 3}


def test_concat_names_the_branch_layer_and_the_padding_that_makes_it_agree():
    problem = only_error(analyze(_concat(CONV_B)))
    assert problem.message == (
        "layer 2 'cat' (Concat): inputs (1, 8, 16, 16) from 'a' and (1, 8, 14, 14) from 'b' "
        "differ outside dim 1"
    )
    assert problem.hint == (
        "set padding: 1 in layer 1 'b', "
        "or resize or pool the branches to the same spatial size before Concat"
    )
    assert (problem.place["expected"], problem.place["got"]) == (16, 14)
    assert problem.location is None  # built in code: no file
    torch_agrees(_concat({**CONV_B, "padding": 1}), (1, 3, 16, 16))


def test_concat_branch_deeper_than_its_last_layer_and_larger_than_the_first():
    relu = {"type": "ReLU", "name": "r"}
    problem = only_error(analyze(_concat({**CONV_B, "padding": 2}, relu)))
    assert problem.hint.startswith("set padding: 1 in layer 1 'b' (on the branch from 'r'), ")
    torch_agrees(_concat({**CONV_B, "padding": 1}, relu), (1, 3, 16, 16))


def test_concat_of_pools_suggests_the_input_size():
    spec = spec_from_data(
        {
            "input": [1, 3, 33, 33],
            "layers": [
                {"p": "MaxPool2d(2)"},
                {
                    "type": "AvgPool2d",
                    "name": "q",
                    "kernel_size": 3,
                    "stride": 2,
                    "padding": 1,
                    "from": "input",
                },
                {"type": "Concat", "name": "cat", "from": ["p", "q"]},
            ],
        }
    )
    problem = only_error(analyze(spec))
    assert problem.hint == (
        "resize or pool the branches to the same spatial size before Concat, or use a 32×32 input"
    )
    torch_agrees(spec, (1, 3, 32, 32))


# ------------------------------------------------------------- every problem at once
MANY = """
input: [1, 3, 32, 32]
layers:
  - a: Conv2d(3, 16, 3, strid=2, paddin=1)
  - {type: Conv2dd, out_channels: 4}
  - {type: ReLU, from: '1'}
  - Linear(in_features=3, out_feature=3)
  - {type: MaxPool2d, kernel_size: big}
"""


def test_every_unreadable_part_is_reported_at_once(tmp_path):
    path = write(tmp_path, MANY)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    problems = [info.value, *info.value.others]
    assert [(p.fact, p.line, p.column) for p in problems] == [
        ("Conv2d has no argument 'strid'", 3, 8),
        ("Conv2d has no argument 'paddin'", 3, 8),
        ("unknown layer type 'Conv2dd'", 4, 6),
        # not also "Linear needs out_features": the misspelling's did-you-mean names it
        ("Linear has no argument 'out_feature'", 6, 5),
        (
            "MaxPool2d argument kernel_size must be an integer or a list of 2 integers, got 'big'",
            7,
            23,
        ),
    ]
    # the layer that reads the unknown type is left out, not reported again
    assert [(p.index, p.name, p.type) for p in problems][:3] == [
        (0, "a", "Conv2d"),
        (0, "a", "Conv2d"),
        (None, "1", "Conv2dd"),
    ]


def test_json_lists_every_error_and_text_the_first_ten(tmp_path):
    lines = "".join(f"  - Conv2d(3, 8, 3, bad{i}=1)\n" for i in range(13))
    path = write(tmp_path, "input: [1, 3, 8, 8]\nlayers:\n" + lines)
    result = run("shape", path, "--format", "json")
    assert result.exit_code == 2
    errors = json.loads(result.stdout)["errors"]
    assert [e["argument"] for e in errors] == [f"bad{i}" for i in range(13)]
    assert [(e["line"], e["column"]) for e in errors] == [(3 + i, 5) for i in range(13)]
    text = run("shape", path)
    assert text.exit_code == 2
    shown = [line for line in text.stderr.splitlines() if line.startswith("error:")]
    assert len(shown) == 11
    assert shown[0] == f"error: {path}:3, layers[0].bad0: Conv2d has no argument 'bad0'"
    assert shown[-1] == "error: … and 3 more (--format json lists them all)"


def test_the_number_of_errors_collected_is_bounded():
    layers = [f"Conv2d(3, 8, 3, bad={i})" for i in range(3 * MAX_ERRORS)]
    with pytest.raises(SpecError) as info:
        spec_from_data({"layers": layers})
    assert len(info.value.others) == MAX_ERRORS - 1


def test_a_problem_in_a_block_used_many_times_is_reported_once(tmp_path):
    path = write(
        tmp_path,
        """
        blocks:
          Unit:
            - Conv2d(8, 8, 3, paddin=1)
        layers:
          - u1: Unit
          - u2: Unit
          - {type: Conv2d, name: x, in_channels: 8, out_channels: 8, kernel_size: 3, bias: maybe}
        """,
    )
    with pytest.raises(SpecError) as info:
        load_spec(path)
    problems = [info.value, *info.value.others]
    assert [(p.fact, p.line, p.defined_at) for p in problems] == [
        ("Conv2d has no argument 'paddin'", 5, (path, 3)),
        ("Conv2d argument bias must be true or false, got 'maybe'", 7, None),
    ]


# ------------------------------------------------------------- file, line, column
def test_json_error_fields_for_plain_layers_and_constructor_strings(tmp_path):
    path = write(
        tmp_path,
        """
        input: [1, 3, 32, 32]
        layers:
          - Conv2d(3, 8, 3, paddin=1)
          - conv: Conv2d(8, 8, 3, strde=1)
          - type: Conv2d
            in_channels: 8
            out_channels: 8
            kernel_size: 3
            bias: maybe
        """,
    )
    errors = json.loads(run("shape", path, "--format", "json").stdout)["errors"]
    fields = ("file", "line", "column", "defined_at", "index", "name", "type", "argument")
    assert [tuple(e[f] for f in fields) for e in errors] == [
        (path, 3, 5, None, 0, "0", "Conv2d", "paddin"),
        (path, 4, 11, None, None, "conv", "Conv2d", "strde"),
        (path, 9, 5, None, None, "2", "Conv2d", "bias"),
    ]
    assert errors[0]["location"] == f"{path}:3, layers[0].paddin"


def test_model_error_fields_with_expected_and_got(tmp_path):
    path = write(
        tmp_path,
        """
        input: [1, 3, 32, 32]
        layers:
          - a: Conv2d(3, 16, 3)
          - {type: Conv2d, name: c, in_channels: 32, out_channels: 8, kernel_size: 3}
        """,
    )
    result = run("shape", path, "--format", "json")
    assert result.exit_code == 1
    (error,) = json.loads(result.stdout)["errors"]
    assert {k: error[k] for k in ("file", "line", "column", "defined_at", "expected", "got")} == {
        "file": path,
        "line": 4,
        "column": 29,
        "defined_at": None,
        "expected": 32,
        "got": 16,
    }
    assert error["location"] == f"{path}:4, layers[1].in_channels"


def test_errors_inside_blocks_point_at_the_line_that_uses_the_block(tmp_path):
    write(
        tmp_path,
        """
        blocks:
          Down:
            params: {c: null}
            layers:
              - conv: Conv2d($c, $c, 3)
              - bn: BatchNorm2d(64)
        """,
        "blocks.yaml",
    )
    path = write(
        tmp_path,
        """
        import: blocks.yaml
        input: [1, 16, 32, 32]
        layers:
          - stem: Conv2d(16, 16, 1)
          - d1: Down(16)
        """,
    )
    (error,) = json.loads(run("shape", path, "--format", "json").stdout)["errors"]
    assert (error["file"], error["line"], error["column"]) == (path, 5, 9)
    assert error["defined_at"] == {"file": str(tmp_path / "blocks.yaml"), "line": 6}
    assert (error["index"], error["name"], error["type"]) == (2, "d1.bn", "BatchNorm2d")
    assert (error["expected"], error["got"]) == (64, 16)

    # an unreadable layer of the imported block, the same way (exit 2)
    (tmp_path / "blocks.yaml").write_text(
        (tmp_path / "blocks.yaml").read_text().replace("BatchNorm2d(64)", "BatchNorm2d(64, mom=1)")
    )
    result = run("shape", path, "--format", "json")
    assert result.exit_code == 2
    (error,) = json.loads(result.stdout)["errors"]
    assert (error["file"], error["line"], error["column"]) == (path, 5, 9)
    assert error["defined_at"] == {"file": str(tmp_path / "blocks.yaml"), "line": 6}
    assert (error["name"], error["type"], error["argument"]) == ("d1.bn", "BatchNorm2d", "mom")


def test_merge_error_points_at_its_from_list(tmp_path):
    path = write(
        tmp_path,
        """
        input: [1, 3, 8, 8]
        layers:
          - a: Conv2d(3, 8, 3, padding=1)
          - b: Conv2d(8, 8, 3)
          - type: Concat
            name: cat
            from: [a, b]
        """,
    )
    (error,) = json.loads(run("shape", path, "--format", "json").stdout)["errors"]
    assert error["location"] == f"{path}:7, layers[2].from"
    assert (error["line"], error["column"], error["expected"], error["got"]) == (7, 5, 8, 6)
    assert error["hint"].startswith("set padding: 1 in layer 1 'b', ")


def test_yaml_syntax_error_has_line_and_column(tmp_path):
    path = write(tmp_path, "layers:\n  - Conv2d(3, 8, 3)\n  - a: b: c\n")
    (error,) = json.loads(run("shape", path, "--format", "json").stdout)["errors"]
    assert (error["file"], error["line"], error["column"]) == (path, 3, 9)


def test_a_repeated_block_with_a_problem_stops_at_its_first_copy():
    data = {
        "blocks": {"B": ["Conv2d(8, 8, 3, paddin=1)", "ReLU()"]},
        "layers": [
            {"type": "B", "name": "x", "repeat": 20_000},
            {"type": "ReLU", "from": "x.5.1"},
        ],
    }
    with pytest.raises(SpecError) as info:
        spec_from_data(data)
    assert info.value.fact == "Conv2d has no argument 'paddin'"
    assert info.value.others == []  # what reads the failed block is not reported again
