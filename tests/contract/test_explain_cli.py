"""convcalc explain on a config's rows: by name or index, zoo names, and the errors a user
meets (an unknown row, a row the input never reaches, no input shape)."""

from __future__ import annotations

import json
from pathlib import Path

from clirun import run

ROOT = Path(__file__).resolve().parents[2]
LENET = str(ROOT / "examples" / "lenet.yaml")


def test_a_row_by_name_reads_the_shape_the_layers_before_it_give() -> None:
    result = run("explain", LENET, "conv2")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:2] == [
        "layer 3 'conv2': Conv2d(in_channels=6, out_channels=16, kernel_size=5)",
        "input  (1, 6, 14, 14)",
    ]
    assert "= ⌊(14 + 0 − 4 − 1) / 1⌋ + 1 = ⌊9⌋ + 1 = 10" in lines[3]
    assert lines[-2].endswith("= 1 · 16 · 10 · 10 · 6 · 5 · 5 = 240,000")
    assert lines[-1] == "output (1, 16, 10, 10)"


def test_a_row_by_index_and_a_built_in_model_by_name() -> None:
    by_index = run("explain", LENET, "3")
    assert by_index.exit_code == 0 and by_index.stdout == run("explain", LENET, "conv2").stdout
    zoo = run("explain", "resnet18", "layer1.0.conv1", "-f", "json")
    assert zoo.exit_code == 0, zoo.output
    data = json.loads(zoo.stdout)
    assert data["input_shape"] == [1, 64, 56, 56] and data["output_shape"] == [1, 64, 56, 56]
    shape = json.loads(run("shape", "resnet18", "-f", "json").stdout)
    row = next(r for r in shape["layers"] if r["name"] == "layer1.0.conv1")
    counts = {s["counts"]: s["result"] for s in data["steps"] if s["counts"]}
    assert counts == {"params": row["params"], "macs": row["macs"]}


def test_the_input_overrides_the_files() -> None:
    result = run("explain", LENET, "fc1", "-i", "1,1,28,28")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[1] == "input  (1, 256)"
    assert "layer 7 'fc1' (Linear): expects 400 input features, receives 256" in result.stderr
    assert "hint: set in_features: 256" in result.stderr


def test_an_unknown_row_says_which_it_might_be() -> None:
    result = run("explain", LENET, "cnv2")
    assert result.exit_code == 2
    assert result.stderr == "error: no layer named 'cnv2'\n  hint: did you mean conv2?\n"
    assert run("explain", LENET, "99").stderr.startswith(
        "error: no layer 99: the model's layers are 0 to 11"
    )


def test_a_row_the_input_never_reaches(tmp_path: Path) -> None:
    net = tmp_path / "net.yaml"
    net.write_text("input: [1, 1, 5, 5]\nlayers:\n  - big: Conv2d(1, 2, 7)\n  - act: ReLU\n")
    result = run("explain", str(net), "act")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith(
        "error: layer 1 'act' is not reached: layer 0 'big' fails first: "
    )
    failing = run("explain", str(net), "big")
    assert failing.exit_code == 1
    assert failing.stdout.splitlines()[-1] == "C_out = out_channels = 2"
    assert "kernel larger than the padded input" in failing.stderr


def test_a_file_needs_a_row_and_an_input() -> None:
    result = run("explain", LENET)
    assert result.exit_code == 2 and "name the layer to explain" in result.stderr
    no_input = run("explain", "-l", "ReLU()")
    assert no_input.exit_code == 2 and "explain needs an input shape" in no_input.stderr


def test_layers_given_with_l_explain_the_last_or_the_row_named() -> None:
    stack = ["-l", "Conv2d(1, 4, 3)", "-l", "pool=MaxPool2d(2)", "-i", "1,1,8,8"]
    last = run("explain", *stack)
    assert last.exit_code == 0
    assert last.stdout.splitlines()[:2] == [
        "layer 1 'pool': MaxPool2d(kernel_size=2)",
        "input  (1, 4, 6, 6)",
    ]
    first = run("explain", *stack, "0")
    assert first.stdout.splitlines()[0].startswith("layer 0 '0': Conv2d(")


def test_merges_read_each_branch() -> None:
    add = run("explain", "resnet18", "layer1.0.add")
    assert add.exit_code == 0
    assert add.stdout.splitlines()[1:3] == [
        "input  (1, 64, 56, 56), (1, 64, 56, 56)",
        "output = the inputs' shape, the same for all = (1, 64, 56, 56), (1, 64, 56, 56)"
        " = (1, 64, 56, 56)",
    ]
    cat = json.loads(run("explain", "googlenet", "inception3a.cat", "-f", "json").stdout)
    assert cat["input_shape"] == [
        [1, 64, 28, 28],
        [1, 128, 28, 28],
        [1, 32, 28, 28],
        [1, 32, 28, 28],
    ]
    (step,) = cat["steps"]
    assert (step["values"], step["result"], step["dim"]) == (["64 + 128 + 32 + 32"], 256, 1)
    shape = json.loads(run("shape", "googlenet", "-f", "json").stdout)
    assert shape["layers"][cat["index"]]["output_shape"] == cat["output_shape"] == [1, 256, 28, 28]
