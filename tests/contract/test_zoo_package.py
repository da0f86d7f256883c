"""The zoo and the block library ship inside the package: read by name, listed by `convcalc zoo`,
found by a copied zoo file's `import: ../blocks.yaml`, completed by the shell, and present in the
wheel."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest
from clirun import run

from convcalc import SpecError, analyze, load_spec
from convcalc.shape import fmt_shape

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "convcalc" / "models"
ZOO = MODELS / "zoo"
NAMES = sorted(path.stem for path in ZOO.glob("*.yaml"))
LENET = (ROOT / "examples" / "lenet.yaml").read_text()


def _figures(report):
    return report.input_shape, report.output_shape, report.totals.params, report.totals.macs


# ------------------------------------------------------------------ by name
def test_a_name_that_is_no_file_reads_the_built_in_model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    report = analyze(load_spec("resnet50"))
    assert _figures(report) == ((1, 3, 224, 224), (1, 1000), 25_557_032, 4_089_184_256)
    assert _figures(report) == _figures(analyze(load_spec(str(ZOO / "resnet50.yaml"))))


def test_a_file_of_that_name_wins(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "resnet50").write_text(LENET)
    report = analyze(load_spec("resnet50"))
    assert (report.model, report.totals.params) == ("lenet", 61_706)


@pytest.mark.parametrize(
    ("path", "hint"),
    [
        ("resnet5", "did you mean resnet50 (a built-in model)?"),
        ("VGG16", "did you mean vgg16 (a built-in model)?"),
        ("examples/zoo/resnet50.yaml", "the built-in model is read by its name alone: resnet50"),
        ("mobilenet_v2.yml", "the built-in model is read by its name alone: mobilenet_v2"),
        ("nets/resnt50.yaml", "check the path; `convcalc zoo` lists the built-in models"),
        ("qqqqqq", "check the path; `convcalc zoo` lists the built-in models"),
    ],
)
def test_neither_a_file_nor_a_zoo_model(tmp_path, monkeypatch, path, hint):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert (info.value.message, info.value.hint, info.value.exit_code) == (
        f"{path}: no such file",
        hint,
        2,
    )


def test_cli_reads_a_zoo_model_by_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("shape", "lenet5", "-f", "json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert (data["model"], data["totals"]["params"], data["totals"]["macs"]) == (
        "lenet5",
        61_706,
        416_520,
    )
    result = run("shape", "resnet5")
    assert result.exit_code == 2
    assert result.output == (
        "error: resnet5: no such file\n  hint: did you mean resnet50 (a built-in model)?\n"
    )


# ------------------------------------------------------------------ block library
@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v1", "resnext50_32x4d"])
def test_a_zoo_file_copied_anywhere_finds_the_block_library(tmp_path, name):
    text = (ZOO / f"{name}.yaml").read_text()
    assert "import: ../blocks.yaml" in text
    copy = tmp_path / "nets" / f"{name}.yaml"
    copy.parent.mkdir()
    copy.write_text(text)
    assert not (tmp_path / "blocks.yaml").exists()
    report = analyze(load_spec(str(copy)))
    assert report.ok
    assert _figures(report) == _figures(analyze(load_spec(name)))


def test_a_blocks_yaml_that_exists_wins_over_the_library(tmp_path):
    (tmp_path / "blocks.yaml").write_text(
        "blocks:\n  BasicBlock:\n    layers:\n      - Conv2d(3, 5, 1)\n"
    )
    net = tmp_path / "net.yaml"
    net.write_text("input: [1, 3, 4, 4]\nimport: blocks.yaml\nlayers:\n  - {type: BasicBlock}\n")
    report = analyze(load_spec(str(net)))
    assert (report.output_shape, report.totals.params) == ((1, 5, 4, 4), 20)


def test_the_library_is_found_from_standard_input():
    text = "input: [1, 8, 6, 6]\nimport: ../blocks.yaml\nlayers:\n  - {type: BasicBlock, c: 8}\n"
    report = analyze(load_spec("-", text))
    # two 3×3 convolutions of 8 → 8 without bias and two batch norms
    assert report.ok and report.totals.params == 2 * 8 * 8 * 9 + 2 * 2 * 8


def test_a_missing_import_of_another_name_is_still_an_error(tmp_path):
    net = tmp_path / "net.yaml"
    net.write_text("input: [1, 3, 4, 4]\nimport: ../my-blocks.yaml\nlayers:\n  - ReLU()\n")
    with pytest.raises(SpecError) as info:
        load_spec(str(net))
    assert info.value.message == (
        f"{net}:2: import '../my-blocks.yaml': no such file ({tmp_path.parent / 'my-blocks.yaml'})"
    )
    assert info.value.hint == "import paths are relative to the importing file"


# ------------------------------------------------------------------ convcalc zoo
def test_zoo_lists_every_model_with_its_figures():
    result = run("zoo")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["name", "input", "params", "MACs"]
    assert [line.split()[0] for line in lines[1:]] == NAMES
    assert max(len(line) for line in lines) <= 80
    for name, line in zip(NAMES, lines[1:]):
        report = analyze(load_spec(str(ZOO / f"{name}.yaml")))
        expected = (
            f"{fmt_shape(report.input_shape)} {report.totals.params:,} {report.totals.macs:,}"
        )
        assert " ".join(line.split()[1:]) == expected, name


def test_zoo_json_and_markdown():
    data = json.loads(run("zoo", "-f", "json").output)
    assert [entry["name"] for entry in data] == NAMES
    audio = data[NAMES.index("audio1d")]
    first = (ZOO / "audio1d.yaml").read_text().splitlines()[0]
    assert audio == {
        "name": "audio1d",
        "model": "m5-audio",
        "description": first[2:],
        "input_shape": [1, 1, 8000],
        "output_shape": [1, 10],
        "params": 559_114,
        "macs": 67_427_328,
    }
    lines = run("zoo", "-f", "markdown").output.splitlines()
    assert lines[:2] == ["| name | input | params | MACs |", "|---|---|---:|---:|"]
    assert lines[2 + NAMES.index("vgg16")] == (
        "| `vgg16` | (1, 3, 224, 224) | 138,357,544 | 15,470,264,320 |"
    )


def test_zoo_name_prints_the_yaml_verbatim_as_a_starting_point(tmp_path, monkeypatch):
    result = run("zoo", "resnet50")
    assert result.exit_code == 0
    assert result.output == (ZOO / "resnet50.yaml").read_text()
    monkeypatch.chdir(tmp_path)
    Path("resnet50.yaml").write_text(result.output)
    report = analyze(load_spec("resnet50.yaml"))
    assert (report.totals.params, report.totals.macs) == (25_557_032, 4_089_184_256)


def test_zoo_unknown_name_is_an_input_error_with_a_suggestion():
    result = run("zoo", "resnt50")
    assert result.exit_code == 2
    assert result.output == (
        "error: 'resnt50' is not a built-in model\n  hint: did you mean resnet50?\n"
    )
    result = run("zoo", "zzzz")
    assert result.output.endswith("  hint: `convcalc zoo` lists the built-in models\n")


def test_zoo_does_not_import_numpy_or_rich():
    code = (
        "import sys; from convcalc.cli import main\n"
        "try:\n    main(['zoo'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('numpy', 'rich', 'rich.console') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.splitlines()[-1] == "[]"


# ------------------------------------------------------------------ bare convcalc, completion
def _convcalc(*args, env=None, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "convcalc", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


def test_bare_convcalc_prints_the_help_and_succeeds():
    result = _convcalc()
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout == _convcalc("--help").stdout
    assert result.stdout.startswith("Usage: convcalc [OPTIONS] [COMMAND] [ARGS]...")
    assert "  zoo " in result.stdout


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "complete -o nosort -F _convcalc_completion convcalc"),
        ("zsh", "#compdef convcalc"),
        ("fish", "complete --no-files --command convcalc"),
    ],
)
def test_completion_scripts(shell, marker):
    result = _convcalc(env={"_CONVCALC_COMPLETE": f"{shell}_source"})
    assert result.returncode == 0
    assert marker in result.stdout
    assert f"_CONVCALC_COMPLETE={shell}_complete" in result.stdout


def _complete(words: str) -> list[str]:
    result = _convcalc(
        env={
            "_CONVCALC_COMPLETE": "bash_complete",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
        }
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_file_completes_as_a_path_and_as_a_zoo_name():
    resnets = [name for name in NAMES if name.startswith("res")]
    assert resnets == ["resnet101", "resnet18", "resnet34", "resnet50", "resnext50_32x4d"]
    assert _complete("convcalc shape res") == ["file,res", *(f"plain,{n}" for n in resnets)]
    assert _complete("convcalc run vg") == ["file,vg", "plain,vgg16"]
    assert _complete("convcalc shape examples/") == ["file,examples/"]
    assert _complete("convcalc zoo mobilenet_v") == [
        "plain,mobilenet_v1",
        "plain,mobilenet_v2",
        "plain,mobilenet_v3_large",
    ]


# ------------------------------------------------------------------ the wheel
@pytest.mark.skipif(
    bool(os.environ.get("CONVCALC_SKIP_WHEEL_TEST")), reason="CONVCALC_SKIP_WHEEL_TEST is set"
)
def test_the_wheel_carries_the_zoo(tmp_path):
    """Build the wheel, install it alone into a fresh venv, and ask for the zoo from an empty folder.

    Nothing is downloaded: the wheel is built with this environment's setuptools, installed
    without dependencies, and the fresh venv sees this environment's packages (click, PyYAML,
    …) through a .pth line, after its own site-packages, so the installed convcalc is the wheel's.
    """
    import importlib.util

    if not any(
        importlib.util.find_spec(name) for name in ("setuptools.command.bdist_wheel", "wheel")
    ):
        pytest.skip("building a wheel offline needs setuptools>=70.1 (the test extra)")
    source = tmp_path / "source"
    shutil.copytree(
        ROOT / "convcalc", source / "convcalc", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    wheels = tmp_path / "wheels"
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(source)],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("convcalc-*.whl")

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / ("Scripts" if os.name == "nt" else "bin") / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "outer.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [*pip, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
    )

    empty = tmp_path / "empty"
    empty.mkdir()
    script = python.parent / "convcalc"

    def convcalc(*args):
        result = subprocess.run([str(script), *args], capture_output=True, text=True, cwd=empty)
        assert (result.returncode, result.stderr) == (0, ""), args
        return result.stdout

    where = subprocess.run(
        [str(python), "-c", "import convcalc; print(convcalc.__file__)"],
        capture_output=True,
        text=True,
        cwd=empty,
        check=True,
    ).stdout
    assert Path(where.strip()).is_relative_to(site)  # the wheel's copy, not the source tree
    shape = convcalc("shape", "resnet50", "--depth", "0")
    assert shape.startswith("resnet50: input (1, 3, 224, 224) → output (1, 1000)\n")
    assert "params: 25,557,032 (25.56 M)" in shape
    listing = convcalc("zoo").splitlines()
    assert [line.split()[0] for line in listing[1:]] == NAMES
    (empty / "net.yaml").write_text(convcalc("zoo", "resnet18"))
    assert "params: 11,689,512 (11.69 M)" in convcalc("shape", "net.yaml")
    assert list(empty.iterdir()) == [empty / "net.yaml"]


def test_the_zoo_folder_is_listed_once() -> None:
    from convcalc import zoo

    zoo._listing.cache_clear()
    assert zoo.find("resnet50") is not None and zoo.find("resnet5") is None
    source, text = zoo.read("lenet5")
    assert source.endswith("lenet5.yaml") and text.startswith("#")
    assert "lenet5" in zoo.names()
    assert zoo._listing.cache_info().misses == 1
    models = zoo.catalog()
    assert [m["name"] for m in models] == zoo.names()
    lenet = next(m for m in models if m["name"] == "lenet5")
    assert (lenet["input_shape"], lenet["output_shape"], lenet["params"]) == (
        [1, 1, 32, 32], [1, 10], 61706,
    )  # fmt: skip
