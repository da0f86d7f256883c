"""The command line through click's test runner: exact messages, exit codes and formats."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from clirun import run

from convcalc import __version__
from convcalc.cli import cli, main

ROOT = Path(__file__).resolve().parents[2]
LENET = str(ROOT / "examples" / "lenet.yaml")
LENET64 = str(ROOT / "examples" / "lenet-64.yaml")


def test_version():
    result = run("--version")
    assert result.exit_code == 0
    assert result.output == f"convcalc, version {__version__}\n"


def test_help_lists_commands_and_exit_codes():
    result = run("--help")
    assert result.exit_code == 0
    assert "shape" in result.output and "layers" in result.output
    assert "Exit codes: 0 the model works" in result.output


def test_every_command_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for name in cli.commands:
        assert f"convcalc {name}" in readme, name


def test_lenet_table():
    result = run("shape", LENET)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "lenet: input (1, 1, 32, 32) → output (1, 10)"
    assert lines[2].split() == ["#", "name", "type", "input", "output", "params", "MACs", "notes"]
    assert lines[3].split() == [
        "0",
        "conv1",
        "Conv2d",
        "(1,",
        "1,",
        "32,",
        "32)",
        "(1,",
        "6,",
        "28,",
        "28)",
        "156",
        "117.60",
        "K",
    ]
    assert "params: 61,706 (61.71 K), trainable 61,706" in result.output
    assert "MACs: 416,520 (416.52 K) · FLOPs = 2 × MACs: 833,040 (833.04 K)" in result.output
    assert "\x1b[" not in result.output  # no colour in a pipe


def test_lenet_64_diagnosis_and_exit_code():
    result = run("shape", LENET64)
    assert result.exit_code == 1
    assert (
        "error: layer 7 'fc1' (Linear): expects 400 input features, receives 2704 "
        "(= 16×13×13 after Flatten of (1, 16, 13, 13))" in result.output
    )
    assert f"  at {LENET64}:12, layers[7].in_features" in result.output
    assert (
        "  hint: set in_features: 2704, use a 32×32 input (sizes 32–35 work), "
        "or add AdaptiveAvgPool2d((5, 5)) before Flatten" in result.output
    )


def test_lenet_64_json_contract():
    result = run("shape", LENET64, "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert list(data)[:9] == [
        "model",
        "input_shape",
        "output_shape",
        "ok",
        "layers",
        "totals",
        "memory",
        "errors",
        "notes",
    ]
    assert data["ok"] is False and data["output_shape"] is None
    assert data["input_shape"] == [1, 1, 64, 64]
    assert len(data["layers"]) == 12  # every layer of the config, even after the failure
    fc1 = data["layers"][7]
    assert fc1["input_shape"] == [1, 2704] and fc1["output_shape"] is None
    assert fc1["params"] == 48120 and fc1["macs"] is None
    assert all(layer["input_shape"] is None for layer in data["layers"][8:])
    assert set(data["layers"][0]) >= {
        "index",
        "name",
        "type",
        "input_shape",
        "output_shape",
        "params",
        "macs",
        "notes",
    }
    assert set(data["totals"]) == {"params", "trainable_params", "macs", "flops"}
    (error,) = data["errors"]
    assert (error["index"], error["name"], error["type"]) == (7, "fc1", "Linear")
    assert error["message"].startswith(
        "layer 7 'fc1' (Linear): expects 400 input features, receives 2704"
    )
    assert error["hint"].startswith("set in_features: 2704")


def test_lenet_json_totals_are_exact_integers():
    data = json.loads(run("shape", LENET, "-f", "json").output)
    assert data["ok"] is True and data["output_shape"] == [1, 10]
    assert data["totals"] == {
        "params": 61706,
        "trainable_params": 61706,
        "macs": 416520,
        "flops": 833040,
    }
    assert sum(layer["params"] for layer in data["layers"]) == data["totals"]["params"]
    assert sum(layer["macs"] for layer in data["layers"]) == data["totals"]["macs"]


def test_input_override():
    result = run("shape", LENET64, "--input", "1,1,32,32", "-f", "json")
    assert result.exit_code == 0
    assert json.loads(result.output)["output_shape"] == [1, 10]


def test_layers_as_flags():
    result = run(
        "shape",
        "-i",
        "1,3,224,224",
        "-l",
        "Conv2d(3, 64, 7, stride=2, padding=3)",
        "-l",
        "MaxPool2d(3, 2, 1)",
        "-f",
        "json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [layer["output_shape"] for layer in data["layers"]] == [
        [1, 64, 112, 112],
        [1, 64, 56, 56],
    ]
    assert data["totals"]["params"] == 9472 and data["totals"]["macs"] == 118013952


def test_channel_mismatch_names_both_layers():
    result = run(
        "shape", "-i", "1,3,32,32", "-l", "conv1=Conv2d(3, 8, 3)", "-l", "conv2=Conv2d(6, 16, 3)"
    )
    assert result.exit_code == 1
    assert (
        "error: layer 1 'conv2' (Conv2d): expects 6 input channels, receives 8 from layer 0 'conv1'"
        in result.output
    )
    assert (
        "hint: set in_channels: 8 (or leave it out to take it from the input), or set out_channels: 6 in layer 0 'conv1'"
        in result.output
    )


def test_csv_and_markdown():
    rows = list(csv.DictReader(io.StringIO(run("shape", LENET, "-f", "csv").output)))
    assert len(rows) == 12
    assert rows[0] == {
        "index": "0", "name": "conv1", "type": "Conv2d", "input_shape": "1x1x32x32",
        "output_shape": "1x6x28x28", "params": "156", "macs": "117600", "notes": "",
    }  # fmt: skip
    md = run("shape", LENET, "-f", "markdown").output
    assert "| 0 | conv1 | Conv2d | (1, 1, 32, 32) | (1, 6, 28, 28) | 156 | 117.60 K |  |" in md


@pytest.mark.parametrize(
    "args,code,message",
    [
        (["shape", "missing.yaml"], 2, "error: missing.yaml: no such file\n"),
        (["shape"], 2, "error: no model given\n"),
        (["run", "-l", "ReLU"], 2, "error: no input shape\n"),
        (
            ["shape", "-i", "1,3,a", "-l", "ReLU"],
            2,
            "error: --input: input shape '1,3,a' is not a list of integers\n",
        ),
        (
            ["shape", "-i", "1,3,8,8", "-l", "Conv2D(3, 8, 3)"],
            2,
            "error: --layer 'Conv2D(3, 8, 3)', layers[0]: unknown layer type 'Conv2D'\n  hint: did you mean Conv2d?\n",
        ),
        (
            ["shape", "-i", "1,3,8,8", "-l", "Conv2d(3, 8, kernal_size=3)"],
            2,
            "error: --layer 'Conv2d(3, 8, kernal_size=3)', layers[0].kernal_size: Conv2d has no argument 'kernal_size'\n  hint: did you mean kernel_size?\n",
        ),
        (
            ["layers", "Conv2D"],
            2,
            "error: unknown layer type 'Conv2D'\n  hint: did you mean Conv2d?\n",
        ),
    ],
)
def test_unreadable_input_exits_2_without_traceback(args, code, message):
    result = run(*args)
    assert result.exit_code == code
    assert result.output.startswith(message)
    assert "Traceback" not in result.output


def test_stdin():
    result = run("shape", "-", input=Path(LENET).read_text())
    assert result.exit_code == 0 and "→ output (1, 10)" in result.output


def test_layers_command():
    out = run("layers").output
    assert (
        "Conv2d(in_channels=<from input>, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True, padding_mode='zeros')"
        in out
    )
    one = json.loads(run("layers", "MaxPool2d", "-f", "json").output)
    assert [a["name"] for a in one[0]["args"]] == [
        "kernel_size",
        "stride",
        "padding",
        "dilation",
        "return_indices",
        "ceil_mode",
    ]


def test_python_dash_m_and_console_script():
    result = subprocess.run(
        [sys.executable, "-m", "convcalc", "shape", LENET64], capture_output=True, text=True
    )
    assert result.returncode == 1 and "expects 400 input features" in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize("code", [0, 1, 2])
def test_the_process_ends_with_its_whole_output_and_exit_code(tmp_path, code):
    """The entry point ends the process without tearing down the model object by object:
    every byte of a long output still arrives, and the exit code is the report's."""
    layers = ["Conv2d(3, 8, 3, padding=1)"] + ["ReLU()"] * 3000
    if code == 1:
        layers.append("Linear(5, 2)")
    body = "\n".join(f"  - {layer}" for layer in layers)
    path = tmp_path / "long.yaml"
    path.write_text(
        ("input: [1, 3, 8, 8]\n" if code != 2 else "input: [1, 3, 8]x\n") + f"layers:\n{body}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "convcalc", "shape", str(path), "--format", "json"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == code
    data = json.loads(result.stdout)
    assert len(data["layers"]) == (len(layers) if code != 2 else 0)
    assert data["ok"] is (code == 0)


def test_shape_does_not_import_numpy_or_rich():
    code = (
        "import sys; from convcalc.cli import main\n"
        f"try:\n    main(['shape', {LENET!r}])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('numpy', 'rich', 'rich.console') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.splitlines()[-1] == "[]"


def test_json_reports_unreadable_input_as_json_too():
    result = run("shape", "-i", "1,3,8,8", "-l", "Conv2D(3, 8, 3)", "-f", "json")
    assert result.exit_code == 2
    data = json.loads(result.output[: result.output.index("\nerror:") + 1])
    assert data["ok"] is False and data["layers"] == [] and data["output_shape"] is None
    (error,) = data["errors"]
    assert error["message"] == "--layer 'Conv2D(3, 8, 3)', layers[0]: unknown layer type 'Conv2D'"
    assert error["hint"] == "did you mean Conv2d?"


def test_an_internal_error_exits_3_with_one_line(monkeypatch, capsys):
    """A bug in convcalc is neither the model's fault (1) nor the input's (2): exit 3, no traceback."""
    analysis = sys.modules["convcalc.analysis"]

    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(analysis, "analyze", broken)
    monkeypatch.delenv("CONVCALC_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        main(["shape", str(ROOT / "examples" / "lenet.yaml")])
    assert exit_info.value.code == 3
    err = capsys.readouterr().err
    assert err.splitlines()[0] == "internal error: ZeroDivisionError: division by zero"
    assert "Traceback" not in err


def test_version_imports_nothing_heavy():
    """`convcalc --version` loads neither the layer types nor yaml, numpy or rich."""
    code = (
        "import sys; from convcalc.cli import main\n"
        "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
        "heavy = ('convcalc.analysis', 'convcalc.layers', 'yaml', 'numpy', 'rich')\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.splitlines() == [f"convcalc, version {__version__}", "[]"]


def test_click_rich_and_yaml_each_have_one_importer():
    """The cli package is the only importer of click, render.py of rich; spec.py reads yaml and
    yamlwrite.py writes it (type-only imports under TYPE_CHECKING aside)."""
    import ast

    owners = {"click": {"cli/"}, "rich": {"render.py"}, "yaml": {"spec.py", "yamlwrite.py"}}
    found: dict[str, set[str]] = {name: set() for name in owners}
    for path in sorted((ROOT / "convcalc").rglob("*.py")):
        tree = ast.parse(path.read_text())
        typing_only = {
            id(n)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for n in ast.walk(node)
        }
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top in found:
                    owner = path.parent.name + "/" if path.parent.name == "cli" else path.name
                    found[top].add(owner)
    assert found == owners
