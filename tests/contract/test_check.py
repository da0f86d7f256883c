"""`convcalc check`: discovery, outcomes, budgets, pinned figures, --strict, the formats
and the exit code over many files, against the figures the analysis itself gives."""

from __future__ import annotations

import json
import os
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from clirun import run

from convcalc.analysis import analyze
from convcalc.check import Options, check_one, discover
from convcalc.errors import SpecError
from convcalc.expectations import rewrite
from convcalc.quantities import parse_bytes, parse_count
from convcalc.spec import load_spec
from convcalc.toplevel import not_a_config

ROOT = Path(__file__).resolve().parents[2]
LENET = (ROOT / "examples" / "lenet.yaml").read_text()
LENET64 = (ROOT / "examples" / "lenet-64.yaml").read_text()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with a good config, a broken one, a foreign YAML file, and dot-folders."""
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "lenet.yaml").write_text(LENET)
    (tmp_path / "models" / "lenet64.yml").write_text(LENET64)
    (tmp_path / "ci.yaml").write_text("on: push\njobs:\n  test: {runs-on: ubuntu-latest}\n")
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "x.yaml").write_text("on: push\n")
    (tmp_path / ".pre-commit-config.yaml").write_text("repos: []\n")
    (tmp_path / "notes.txt").write_text("not yaml\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


# ------------------------------------------------------------------ which files


def test_discover_walks_folders_without_dot_files_and_keeps_order(repo: Path) -> None:
    assert discover(["."]) == ["ci.yaml", "models/lenet.yaml", "models/lenet64.yml"]
    assert discover(["models/lenet64.yml", "models", "resnet18"]) == [
        "models/lenet64.yml",
        "models/lenet.yaml",
        "resnet18",
    ]
    assert discover(["models/*.yml"]) == ["models/lenet64.yml"]
    assert discover(["**/*.yaml"]) == ["ci.yaml", "models/lenet.yaml"]
    assert discover(["nothing/*.yaml"]) == ["nothing/*.yaml"]  # checked, and said missing


@pytest.mark.parametrize(
    ("data", "foreign"),
    [
        ({"input": [1, 3], "layers": ["ReLU"]}, False),
        ({"layers": ["ReLU"], "jobs": 1}, False),  # has layers: a config with a mistake
        ({"layes": ["ReLU"], "input": [1, 3]}, False),  # near misses: a config with a typo
        ({"inputs": [1, 3], "layers": ["ReLU"]}, False),
        ({"blocks": {}}, False),
        (["ReLU", "Conv2d(3, 6, 5)", {"type": "Linear"}, {"fc": "Linear(3, 4)"}], False),
        ({"repos": []}, True),
        ({"on": "push", "jobs": {}}, True),
        ({"name": "action", "inputs": {}, "runs": {}}, True),  # a GitHub action.yml
        ([1, 2, 3], True),
        ([{"hosts": "all", "tasks": []}], True),
        ("a string", True),
        (None, True),
    ],
)
def test_which_yaml_documents_are_configs(data: object, foreign: bool) -> None:
    assert (not_a_config(data) is not None) == foreign


# ------------------------------------------------------------------ outcomes and exit codes


def test_a_repository_is_gated_by_the_worst_exit_code(repo: Path) -> None:
    result = run("check")
    assert result.exit_code == 2  # ci.yaml is foreign and not skipped
    lines = result.stdout.splitlines()
    assert lines[0].startswith(
        "✗ ci.yaml:1  not a convcalc config: a YAML mapping without 'layers'"
    )
    assert lines[1] == "✓ models/lenet.yaml  61.71 K params · 416.52 K MACs"
    assert lines[2] == (
        "✗ models/lenet64.yml:12  layer 7 'fc1' (Linear): expects 400 input features, "
        "receives 2704 (= 16×13×13 after Flatten of (1, 16, 13, 13))"
    )
    assert lines[3] == "1 passed, 1 failed, 1 unreadable"

    result = run("check", "--skip-foreign")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0].startswith("- ci.yaml  skipped: not a convcalc config")
    assert result.stdout.splitlines()[-1] == "1 passed, 1 failed, 1 skipped"

    assert run("check", "models/lenet.yaml", "lenet5").exit_code == 0


def test_a_near_miss_is_an_error_even_when_foreign_files_are_skipped(repo: Path) -> None:
    Path("typo.yaml").write_text("input: [1, 3]\nlayes: [ReLU]\n")
    result = run("check", "--skip-foreign", "typo.yaml")
    assert result.exit_code == 2
    assert result.stdout.splitlines()[0] == "✗ typo.yaml:2  unknown top-level key 'layes'"


def test_a_bug_exits_3_and_the_other_files_are_still_checked(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import convcalc.analysis

    real = convcalc.analysis.analyze

    def broken(spec, *args, **kwargs):  # type: ignore[no-untyped-def]
        if spec.source.endswith("lenet.yaml"):
            raise ZeroDivisionError("boom")
        return real(spec, *args, **kwargs)

    monkeypatch.setattr(convcalc.analysis, "analyze", broken)
    result = run("check", "models", "--format", "json")
    assert result.exit_code == 3
    data = json.loads(result.stdout)
    assert [f["status"] for f in data["files"]] == ["bug", "failed"]
    assert data["files"][0]["findings"][0]["message"] == "internal error: ZeroDivisionError: boom"
    assert data["summary"]["exit_code"] == 3


def test_a_block_library_is_read_and_passes(repo: Path) -> None:
    (repo / "blocks.yaml").write_text((ROOT / "convcalc" / "models" / "blocks.yaml").read_text())
    outcome = check_one("blocks.yaml", Options())
    assert outcome.status == "passed"
    assert outcome.summary.startswith("block library: ")
    (repo / "bad_blocks.yaml").write_text("blocks:\n  B: {layers: 3}\n")
    assert check_one("bad_blocks.yaml", Options()).status == "error"


def test_jobs_give_the_outcomes_of_one_process(repo: Path) -> None:
    one = json.loads(run("check", "models", "lenet5", "resnet18", "-f", "json").stdout)
    two = json.loads(run("check", "models", "lenet5", "resnet18", "-f", "json", "-j", "2").stdout)
    strip = lambda d: [{k: v for k, v in f.items() if k != "seconds"} for f in d["files"]]  # noqa: E731
    assert strip(one) == strip(two)


# ------------------------------------------------------------------ budgets


@pytest.mark.parametrize(
    ("text", "value"),
    [("5M", 5_000_000), ("1.2G", 1_200_000_000), ("25.6k", 25_600), ("0", 0), (" 7 ", 7), (12, 12)],
)
def test_parse_count(text: object, value: int) -> None:
    assert parse_count(text, "limits.params") == value


@pytest.mark.parametrize(
    ("text", "value"),
    [("200MiB", 200 << 20), ("512K", 512 << 10), ("1.5GiB", 3 << 29), ("2G", 2 << 30), (100, 100)],
)
def test_parse_bytes(text: object, value: int) -> None:
    assert parse_bytes(text, "limits.peak_memory") == value


@pytest.mark.parametrize("text", ["5Q", "", "-3", "1e999", "nan", True, [1], "1" * 20_000 + "x"])
def test_counts_that_are_no_counts_are_refused(text: object) -> None:
    with pytest.raises(SpecError):
        parse_count(text, "--max-params")


def test_a_budget_names_the_figure_the_limit_and_the_layer_that_contributes_most() -> None:
    result = run("check", "resnet50", "--max-params", "20M", "--max-macs", "5G")
    assert result.exit_code == 1
    report = analyze(load_spec("resnet50"))
    top = max(report.rows, key=lambda r: r.params or 0)
    share = 100 * top.params / report.totals.params
    assert result.stdout.splitlines()[0] == (
        f"✗ resnet50  params {report.totals.params:,} (25.56 M) over the budget of 20,000,000 "
        f"(20.00 M) (--max-params); the most in layer {top.index} '{top.name}' ({top.type}): "
        f"{top.params:,} (2.36 M), {share:.1f} %"
    )
    assert run("check", "resnet50", "--max-params", "26M", "--max-macs", "5G").exit_code == 0


def _write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip())
    return path


SMALL = """
    # a small model
    input: [1, 3, 32, 32]
    layers:
      - Conv2d(3, 6, 5)
      - ReLU()
    limits:
      params: 400   # too few on purpose
      macs: 1M
    """


def test_limits_in_the_file_and_flags_that_override_them(tmp_path: Path) -> None:
    path = _write(tmp_path / "small.yaml", SMALL)
    result = run("check", str(path))
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == (
        f"✗ {path}:7  params 456 over the budget of 400 (limits.params); "
        "the most in layer 0 '0' (Conv2d): 456, 100.0 %"
    )
    assert run("check", str(path), "--max-params", "1k").exit_code == 0  # the flag wins
    assert run("check", str(path), "--max-params", "1k", "--max-macs", "100k").exit_code == 1


def test_peak_memory_budget_at_the_dtype(tmp_path: Path) -> None:
    # lenet5: input 1x1x32x32, conv1 6x28x28, tanh1 6x28x28 (not in place): both outputs alive
    # while tanh1 runs, the input already freed: 2 x 4,704 elements
    memory = analyze(load_spec("lenet5")).memory
    assert memory is not None and (memory.peak_bytes, memory.peak_index) == (2 * 4704 * 4, 1)
    assert run("check", "lenet5", "--max-peak-memory", "37632").exit_code == 0
    result = run("check", "lenet5", "--max-peak-memory", "37631")
    assert result.exit_code == 1
    assert "peak memory 36.75 KiB (37,632 bytes) over the budget of 36.75 KiB" in result.stdout
    assert run("check", "lenet5", "--max-peak-memory", "20000", "--dtype", "float16").exit_code == 0


@pytest.mark.parametrize(
    ("layers", "itemsize", "expected"),
    [
        # a chain: the input dies after its reader; each step holds its input and output
        (["Conv2d(1, 2, 1)", "Conv2d(2, 4, 1)"], 1, (2 * 16 + 4 * 16, 1)),
        # in place and views allocate nothing
        (
            ["Conv2d(1, 2, 1)", "ReLU(inplace=True)", "Flatten()", "Identity()"],
            4,
            ((16 + 32) * 4, 0),
        ),
        # a residual: the block input stays alive until the Add reads it
        (
            [
                {
                    "name": "a",
                    "type": "Conv2d",
                    "in_channels": 1,
                    "out_channels": 1,
                    "kernel_size": 1,
                },
                {"name": "b", "type": "ReLU"},
                {"name": "c", "type": "Add", "from": ["a", "b"]},
            ],
            1,
            (3 * 16, 2),
        ),
    ],
)
def test_peak_memory_table(layers: list[object], itemsize: int, expected: tuple[int, int]) -> None:
    from convcalc.spec import spec_from_data

    spec = spec_from_data({"input": [1, 1, 4, 4], "layers": layers})
    dtype = {1: "int8", 4: "float32"}[itemsize]
    memory = analyze(spec, dtype=dtype).memory
    assert memory is not None and (memory.peak_bytes, memory.peak_index) == expected


# ------------------------------------------------------------------ pinned figures


PINNED = """
    input: [1, 3, 32, 32]
    layers:
      - Conv2d(3, 6, 5)
      - MaxPool2d(2)
    expect:
      output_shape: [1, 6, 14, 14]  # after the pool
      params: 450
      # MACs below
      macs: 352800
    """


def test_a_changed_figure_fails_with_the_old_and_new_value(tmp_path: Path) -> None:
    path = _write(tmp_path / "pinned.yaml", PINNED)
    result = run("check", str(path))
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == (
        f"✗ {path}:7  expect.params: pinned 450, the model now gives 456 (+6, +1.3 %)"
    )
    assert len(result.stdout.splitlines()) == 2  # the other pins hold


def test_update_expect_changes_only_the_values(tmp_path: Path) -> None:
    path = _write(tmp_path / "pinned.yaml", PINNED)
    before = path.read_text()
    result = run("check", str(path), "--update-expect")
    assert result.exit_code == 0
    assert (
        result.stdout.splitlines()[0] == f"✓ {path}  456 params · 352.80 K MACs  (expect: updated)"
    )
    assert path.read_text() == before.replace("params: 450", "params: 456")
    assert run("check", str(path)).exit_code == 0
    assert "updated" not in run("check", str(path), "--update-expect").stdout  # nothing to change


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # no block: one is added at the end, every figure pinned
        (
            "input: [1, 2]\nlayers: [ReLU]",
            "input: [1, 2]\nlayers: [ReLU]\nexpect:\n  params: 0\n  macs: 0\n",
        ),
        # a flow mapping is replaced by a block; what follows stays
        (
            "layers: [ReLU]\nexpect: {params: 3}\n\n# end\nname: x\n",
            "layers: [ReLU]\nexpect:\n  params: 0\n  macs: 0\n\n# end\nname: x\n",
        ),
        # a block that pins other keys is written anew with the indentation it had
        (
            "expect:\n    params: 1\nlayers: [ReLU]\n",
            "expect:\n    params: 0\n    macs: 0\nlayers: [ReLU]\n",
        ),
        # line endings are kept
        (
            "expect:\r\n  params: 1  # c\r\n  macs: 9\r\n",
            "expect:\r\n  params: 0  # c\r\n  macs: 0\r\n",
        ),
    ],
)
def test_rewrite_table(text: str, expected: str) -> None:
    assert rewrite(text, {"params": 0, "macs": 0}) == expected


def test_update_expect_refuses_a_built_in_model() -> None:
    result = run("check", "lenet5", "--update-expect")
    assert result.exit_code == 2
    assert "--update-expect rewrites a config file" in result.stdout


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("expect: {params: many}", "expect.params must be a whole number"),
        ("expect: {shape: [1]}", "unknown key 'shape' in expect"),
        ("limits: {params: 5Q}", "limits.params '5Q' is not a count"),
        ("limits: [1]", "limits must be a mapping"),
    ],
)
def test_pins_that_cannot_be_read(tmp_path: Path, block: str, message: str) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(f"input: [1, 3]\nlayers: [ReLU]\n{block}\n")
    result = run("check", str(path))
    assert result.exit_code == 2
    assert message in result.stdout


# ------------------------------------------------------------------ --strict


STRICT = """
    input: [1, 3, 33, 33]
    layers:
      - {name: spare, type: Conv2d, in_channels: 3, out_channels: 2, kernel_size: 1}
      - {type: Conv2d, in_channels: 3, out_channels: 4, kernel_size: 3, stride: 2, from: input}
    """


def test_strict_fails_on_notes_that_are_usually_mistakes(tmp_path: Path) -> None:
    path = _write(tmp_path / "m.yaml", STRICT.replace("33, 33", "34, 34"))
    assert run("check", str(path)).exit_code == 0
    result = run("check", str(path), "--strict")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[:2] == [
        f"✗ {path}:4  layer 1 '1' (Conv2d): H, W: 16.5 → 16: the last row and column are not covered",
        f"    {path}:3  the output of 'spare' is never used (an unused branch?)",
    ]


# ------------------------------------------------------------------ formats


def test_json_holds_each_report_as_shape_gives_it(repo: Path) -> None:
    data = json.loads(run("check", "models", "-f", "json").stdout)
    assert data["summary"] == {
        "passed": 1, "failed": 1, "error": 0, "skipped": 0, "bug": 0, "exit_code": 1,
        "seconds": data["summary"]["seconds"],
    }  # fmt: skip
    for entry in data["files"]:
        shape = json.loads(run("shape", entry["file"], "-f", "json").stdout)
        assert entry["report"] == shape
    assert data["files"][1]["findings"][0] | {"message": None} == {
        "level": "error", "kind": "model", "message": None,
        "hint": "set in_features: 2704, use a 32×32 input (sizes 32–35 work), or add AdaptiveAvgPool2d((5, 5)) before Flatten",
        "file": "models/lenet64.yml", "line": 12, "column": 31,
    }  # fmt: skip
    unread = json.loads(run("check", "ci.yaml", "-f", "json").stdout)["files"][0]
    assert unread["status"] == "error" and unread["report"]["ok"] is False


def test_github_annotations_mark_the_failing_line(repo: Path, tmp_path: Path) -> None:
    path = _write(tmp_path / "m.yaml", STRICT)
    result = run("check", "models", str(path), "-f", "github")
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "::error file=models/lenet64.yml,line=12,col=31,title=convcalc%3A the model is wrong::"
        "layer 7 'fc1' (Linear): expects 400 input features, receives 2704 (= 16×13×13 after "
        "Flatten of (1, 16, 13, 13)) (hint: set in_features: 2704, use a 32×32 input (sizes "
        "32–35 work), or add AdaptiveAvgPool2d((5, 5)) before Flatten)"
    )
    rel = os.path.relpath(path)
    assert (
        f"::warning file={rel},line=3,col=5,title=convcalc%3A note::the output of 'spare' is never used (an unused branch?)"
        in lines
    )
    assert lines[-1] == "2 passed, 1 failed"
    assert result.exit_code == 1


def test_github_escapes_what_would_end_a_field() -> None:
    from convcalc.check import Finding, Outcome
    from convcalc.checkout import github_lines

    outcome = Outcome(
        "a,b:c.yaml", "failed", (Finding("50% off\nnext", file="a,b:c.yaml", line=2),)
    )
    assert github_lines(outcome) == [
        "::error file=a%2Cb%3Ac.yaml,line=2,title=convcalc%3A the model is wrong::50%25 off%0Anext"
    ]


def test_junit_counts_add_up_as_gitlab_and_jenkins_read_them(repo: Path) -> None:
    result = run("check", "models", "ci.yaml", "lenet5", "-f", "junit")
    root = ET.fromstring(result.stdout)
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    for element in (root, suite):
        assert int(element.get("tests")) == len(cases) == 4
        assert int(element.get("failures")) == len(suite.findall("testcase/failure")) == 1
        assert int(element.get("errors")) == len(suite.findall("testcase/error")) == 1
        assert float(element.get("time")) == pytest.approx(
            sum(float(c.get("time")) for c in cases), abs=1e-9
        )
    assert [c.get("name") for c in cases] == [
        "models/lenet.yaml",
        "models/lenet64.yml",
        "ci.yaml",
        "lenet5",
    ]
    assert all(c.get("classname") for c in cases)
    failure = cases[1].find("failure")
    assert failure.get("message").startswith("layer 7 'fc1' (Linear): expects 400 input features")
    assert "models/lenet64.yml:12" in failure.text
    assert cases[2].find("error").get("message").startswith("not a convcalc config")
    with_skip = ET.fromstring(run("check", "ci.yaml", "-f", "junit", "--skip-foreign").stdout)
    assert (
        with_skip.get("skipped") == "1" and with_skip.find("testsuite/testcase/skipped") is not None
    )


def test_no_configs_at_all_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("check")
    assert result.exit_code == 2
    assert "no YAML configs in this folder" in result.stderr


def test_on_a_terminal_lines_wrap_between_words_and_keep_figures_whole() -> None:
    from convcalc.cli.options import wrapped as _wrapped

    line = (
        "✗ models/pinned.yaml:12  macs 362,928 (362.93 K) over the budget of 100,000 (100.00 K) "
        "(limits.macs); the most in layer 0 '0' (Conv2d): 352,800 (352.80 K), 97.2 %"
    )
    for width in range(40, 100, 3):
        lines = _wrapped(line, width).split("\n")
        assert all(len(part) <= width for part in lines)
        assert all(part.startswith("    ") for part in lines[1:])
        assert not any(part.lstrip().startswith(("K)", "%", "M)")) for part in lines)
        assert " ".join(part.strip() for part in lines) == line


def test_links_to_folders_are_not_followed_and_deep_folders_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "g" / "sub").mkdir(parents=True)
    (tmp_path / "g" / "a.yaml").write_text(LENET)
    (tmp_path / "g" / "sub" / "b.yml").write_text(LENET)
    os.symlink(".", tmp_path / "g" / "loop")
    os.symlink("..", tmp_path / "g" / "sub" / "up")
    assert discover(["g"]) == ["g/a.yaml", "g/sub/b.yml"]
    assert discover(["g/**"]) == ["g/a.yaml", "g/sub/b.yml"]
    assert discover(["g/**/*.yml"]) == ["g/sub/b.yml"]
    assert discover(["g/*.yaml"]) == ["g/a.yaml"]  # * stays within a folder
    deep = tmp_path / "deep"
    path = deep
    for _ in range(300):  # deeper than any repository: no recursion error, no config found
        path = path / "d"
    path.mkdir(parents=True)
    (path / "m.yaml").write_text(LENET)
    result = run("check", "deep", "-f", "json")
    assert result.exit_code == 2


def test_junit_reports_options_that_cannot_be_read(tmp_path: Path) -> None:
    result = run("check", str(tmp_path), "--max-params", "lots", "-f", "junit")
    assert result.exit_code == 2
    root = ET.fromstring(result.stdout)
    assert root.get("errors") == "1" and root.get("tests") == "1"
    error = root.find("testsuite/testcase/error")
    assert error is not None and "--max-params 'lots' is not a count" in error.get("message")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dtype", "int4"], "Invalid value for '--dtype': 'int4' is not one of"),
        (["-j", "abc"], "Invalid value for '-j'"),
    ],
)
def test_junit_reports_options_click_refuses(args: list[str], message: str) -> None:
    """click's own usage errors (a choice, a number) come before check reads anything: the
    XML a CI job reads still says why nothing was checked."""
    result = run("check", "lenet5", *args, "-f", "junit")
    assert result.exit_code == 2
    root = ET.fromstring(result.stdout)
    assert root.get("errors") == "1" and root.get("tests") == "1"
    error = root.find("testsuite/testcase/error")
    assert error is not None and message in error.get("message", "")
