"""`convcalc diff`: the alignment of two models' layers, the totals and their percentages, the
text, Markdown and JSON, exit codes, and --git in a throwaway repository."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from clirun import run

from convcalc import analyze, load_spec, spec_from_data
from convcalc.diff import ModelDiff, diff_models
from convcalc.diffout import FOLD_AFTER, WIDTH, diff_markdown, diff_text

ROOT = Path(__file__).resolve().parents[2]
LENET = str(ROOT / "examples" / "lenet.yaml")
LENET64 = str(ROOT / "examples" / "lenet-64.yaml")

BASE = ["Conv2d(3, 8, 3)", "ReLU", "MaxPool2d(2)", "Conv2d(8, 16, 3)", "ReLU", "Flatten"]


def diff_of(a: list[Any], b: list[Any], shape: list[int] | None = None) -> ModelDiff:
    spec_a = spec_from_data({"input": shape or [1, 3, 16, 16], "layers": a})
    spec_b = spec_from_data({"input": shape or [1, 3, 16, 16], "layers": b})
    return diff_models(analyze(spec_a), analyze(spec_b), specs=(spec_a, spec_b))


def statuses(diff: ModelDiff) -> list[tuple[str, str | None, str | None]]:
    """(status, name in A, name in B) of every matched row."""
    return [
        (
            row.status,
            None if row.before is None else row.before.name,
            None if row.after is None else row.after.name,
        )
        for row in diff.layers
    ]


# ------------------------------------------------------------------ alignment
ALIGNMENT_CASES = {
    # an unnamed layer inserted: one insertion, the rest unchanged though their positions move
    "insertion": (
        BASE,
        BASE[:1] + ["BatchNorm2d(8)"] + BASE[1:],
        [("same", "0", "0"), ("added", None, "1"), ("same", "1", "2"), ("same", "2", "3"),
         ("same", "3", "4"), ("same", "4", "5"), ("same", "5", "6")],
    ),
    "deletion": (
        BASE,
        BASE[:1] + BASE[2:],
        [("same", "0", "0"), ("removed", "1", None), ("same", "2", "1"), ("same", "3", "2"),
         ("same", "4", "3"), ("same", "5", "4")],
    ),
    # the same type at the same place with another argument: changed, not removed and added
    "change of an argument": (
        BASE,
        BASE[:3] + ["Conv2d(8, 32, 3)"] + BASE[4:],
        [("same", "0", "0"), ("same", "1", "1"), ("same", "2", "2"), ("changed", "3", "3"),
         ("changed", "4", "4"), ("changed", "5", "5")],
    ),
    "renamed layer": (
        [{"conv": "Conv2d(3, 8, 3)"}, *BASE[1:]],
        [{"stem": "Conv2d(3, 8, 3)"}, *BASE[1:]],
        [("changed", "conv", "stem"), ("same", "1", "1"), ("same", "2", "2"), ("same", "3", "3"),
         ("same", "4", "4"), ("same", "5", "5")],
    ),
    "identical": (BASE, list(BASE), [("same", str(i), str(i)) for i in range(6)]),
    # named layers are matched by name wherever the unnamed ones around them move
    "named insertion among unnamed": (
        [{"c1": "Conv2d(3, 8, 3)"}, "ReLU", {"c2": "Conv2d(8, 8, 3)"}, "ReLU"],
        [{"c1": "Conv2d(3, 8, 3)"}, "ReLU", {"extra": "Conv2d(8, 8, 1)"}, "ReLU",
         {"c2": "Conv2d(8, 8, 3)"}, "ReLU"],
        [("same", "c1", "c1"), ("same", "1", "1"), ("added", None, "extra"),
         ("added", None, "3"), ("same", "c2", "c2"), ("same", "3", "5")],
    ),
    # a stretch replaced: a layer of the same type pairs up, one of another type does not
    "replaced stretch": (
        ["Conv2d(3, 8, 3)", "ReLU", "Conv2d(8, 8, 3)"],
        ["Conv2d(3, 8, 3)", "Tanh", "Conv2d(8, 8, 5)"],
        [("same", "0", "0"), ("removed", "1", None), ("added", None, "1"),
         ("changed", "2", "2")],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", ALIGNMENT_CASES, ids=list(ALIGNMENT_CASES))
def test_alignment(case: str) -> None:
    a, b, expected = ALIGNMENT_CASES[case]
    assert statuses(diff_of(a, b)) == expected


def test_long_stretches_that_share_little_are_paired_by_position(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Aligning thousands of unnamed layers of a few types costs the product of their
    counts: past MAX_ALIGN_WORK pairs of equal keys, the layers pair up by position."""
    import convcalc.diff

    a, b = ["ReLU", "Tanh", "ReLU", "Tanh"], ["Tanh", "ReLU", "Tanh", "ReLU"]
    assert statuses(diff_of(a, b)) == [
        ("added", None, "0"), ("same", "0", "1"), ("same", "1", "2"), ("same", "2", "3"),
        ("removed", "3", None),
    ]  # fmt: skip
    monkeypatch.setattr(convcalc.diff, "MAX_ALIGN_WORK", 7)  # the alignment needs 8
    assert statuses(diff_of(a, b)) == [
        ("removed", "0", None), ("added", None, "0"), ("removed", "1", None),
        ("added", None, "1"), ("removed", "2", None), ("added", None, "2"),
        ("removed", "3", None), ("added", None, "3"),
    ]  # fmt: skip
    # a model's first and last layers in common are matched before, at no cost
    a, b, aligned = ALIGNMENT_CASES["insertion"]
    assert statuses(diff_of(a, b)) == aligned
    assert convcalc.diff._work(["x", "y", "y"], ["y", "y", "z"]) == 4


def test_a_changed_argument_lists_what_it_changed() -> None:
    diff = diff_of(BASE, BASE[:3] + ["Conv2d(8, 32, 3)"] + BASE[4:])
    conv = diff.layers[3]
    assert conv.changes == ("call", "output_shape", "params", "trainable_params", "macs")
    assert conv.before is not None and conv.after is not None
    assert conv.before.call == "Conv2d(in_channels=8, out_channels=16, kernel_size=3)"
    assert conv.after.call == "Conv2d(in_channels=8, out_channels=32, kernel_size=3)"
    # a 7×7 input, a 3×3 kernel: 5×5 outputs; weight 32·8·3·3 + bias 32
    assert conv.after.output_shape == (1, 32, 5, 5)
    assert conv.params.after == 32 * 8 * 9 + 32 and conv.params.before == 16 * 8 * 9 + 16
    assert conv.macs.after == 32 * 5 * 5 * 8 * 9
    # the layers after it change only their shapes
    assert [row.changes for row in diff.layers[4:]] == [("output_shape",), ("output_shape",)]


def test_a_renamed_layer_changes_its_name_only() -> None:
    a, b, _ = ALIGNMENT_CASES["renamed layer"]
    assert diff_of(a, b).layers[0].changes == ("name",)


def test_identical_models_have_no_changes() -> None:
    diff = diff_of(BASE, list(BASE))
    assert diff.identical and diff.shown() == ()
    assert diff.counts == {"added": 0, "removed": 0, "changed": 0, "same": 6}
    assert diff.params.delta == 0 and diff.params.percent == 0


def test_resnet18_to_resnet34_adds_whole_blocks_matched_by_name() -> None:
    a, b = load_spec("resnet18"), load_spec("resnet34")
    ra, rb = analyze(a), analyze(b)
    diff = diff_models(ra, rb, specs=(a, b))
    added = ["layer1.2", "layer2.2", "layer2.3", "layer3.2", "layer3.3", "layer3.4",
             "layer3.5", "layer4.2"]  # fmt: skip
    assert [row.side.name for row in diff.shown()] == added
    assert all(row.status == "added" and row.side.layers == 7 for row in diff.shown())
    # every other layer of ResNet-34 is ResNet-18's layer of the same name, unchanged
    for row in diff.layers:
        if row.status == "added":
            assert row.side.name.rsplit(".", 1)[0] in added
        else:
            assert row.status == "same" and row.before and row.after
            assert row.before.name == row.after.name
    assert diff.counts == {"added": 56, "removed": 0, "changed": 0, "same": len(ra.rows)}
    # a block's row holds its layers' sums, as the report's block rows do
    view = {r.name: r for r in rb.view() if r.block}
    for row in diff.blocks:
        assert row.side.params == view[row.side.name].params
        assert row.side.macs == view[row.side.name].macs
    assert sum(row.params.after or 0 for row in diff.blocks) == diff.params.delta


def test_resnet34_to_resnet18_removes_the_same_blocks() -> None:
    a, b = load_spec("resnet34"), load_spec("resnet18")
    diff = diff_models(analyze(a), analyze(b), specs=(a, b))
    assert [(r.status, r.side.name) for r in diff.shown()][:2] == [
        ("removed", "layer1.2"),
        ("removed", "layer2.2"),
    ]
    assert diff.counts["removed"] == 56 and diff.counts["added"] == 0


def test_without_specs_layers_are_compared_without_arguments() -> None:
    a = spec_from_data({"input": [1, 3, 8, 8], "layers": ["Conv2d(3, 8, 3)"]})
    b = spec_from_data({"input": [1, 3, 8, 8], "layers": ["Conv2d(3, 8, 3, padding=1)"]})
    diff = diff_models(analyze(a), analyze(b))
    assert diff.layers[0].before is not None and diff.layers[0].before.call is None
    assert diff.layers[0].changes == ("output_shape", "macs")


# ------------------------------------------------------------------ totals
def test_totals_and_percentages_are_the_reports() -> None:
    ra, rb = analyze(load_spec("resnet18")), analyze(load_spec("resnet34"))
    diff = diff_models(ra, rb)
    for count, which in ((diff.params, "params"), (diff.macs, "macs")):
        before, after = getattr(ra.totals, which), getattr(rb.totals, which)
        assert (count.before, count.after, count.delta) == (before, after, after - before)
        assert count.percent == pytest.approx(100 * (after - before) / before)
    # the figures torchvision publishes
    assert (diff.params.before, diff.params.after) == (11_689_512, 21_797_672)
    assert diff.trainable_params.after == rb.totals.trainable_params
    assert diff.input_shape == ((1, 3, 224, 224), (1, 3, 224, 224))
    assert diff_text(diff).splitlines()[4] == "params     11.69 M → 21.80 M  (+86.5 %)"


def test_a_percentage_of_nothing_is_the_change_itself() -> None:
    diff = diff_of(["ReLU"], ["Conv2d(3, 3, 1)"], [1, 3, 4, 4])
    assert diff.params.before == 0 and diff.params.percent is None
    assert "params     0 →  12  (+12)" in diff_text(diff).splitlines()  # under MACs 0 → 144


def test_unknown_figures_without_an_input_shape() -> None:
    a = spec_from_data({"layers": ["Conv2d(3, 8, 3)"]})
    b = spec_from_data({"layers": ["Conv2d(3, 16, 3)"]})
    diff = diff_models(analyze(a), analyze(b), specs=(a, b))
    assert diff.macs.before is None and diff.macs.delta is None and diff.macs.percent is None
    assert diff.params.delta == (16 - 8) * 28
    lines = diff_text(diff).splitlines()
    assert lines[2:4] == ["input      ?", "output     ?"]
    assert lines[6] == "MACs       ?"


# ------------------------------------------------------------------ CLI text
def write(path: Path, layers: list[str], shape: str = "[1, 3, 16, 16]") -> str:
    body = "".join(f"  - {layer}\n" for layer in layers)
    path.write_text(f"input: {shape}\nlayers:\n{body}")
    return path.name


def test_text_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    a = write(tmp_path / "a.yaml", BASE)
    b = write(
        tmp_path / "b.yaml", [BASE[0], "BatchNorm2d(8)", *BASE[1:3], "Conv2d(8, 32, 3)", *BASE[4:]]
    )
    result = run("diff", a, b)
    assert result.exit_code == 0
    # params: 8·3·9 + 8 = 224, + 16·8·9 + 16 = 1,168 → 1,392; B: 224 + 16 (BatchNorm) + 2,336
    assert result.output == (
        "a.yaml → b.yaml\n"
        "\n"
        "input      (1, 3, 16, 16)\n"
        "output     (1, 400) → (1, 800)\n"
        "params      1.39 K →  2.58 K  (+85.1 %)\n"
        "trainable   1.39 K →  2.58 K  (+85.1 %)\n"
        "MACs       71.14 K → 99.94 K  (+40.5 %)\n"
        "\n"
        "layers: 1 added, 3 changed, 3 unchanged\n"
        "\n"
        "+ 1  BatchNorm2d\n"
        "    BatchNorm2d(num_features=8)\n"
        "    output (1, 8, 14, 14) · params 16 · MACs 0\n"
        "~ 4  Conv2d\n"
        "    layer     Conv2d(in_channels=8, out_channels=16, kernel_size=3)\n"
        "            → Conv2d(in_channels=8, out_channels=32, kernel_size=3)\n"
        "    output    (1, 16, 5, 5) → (1, 32, 5, 5)\n"
        "    params    1.17 K → 2.34 K  (+100.0 %)\n"
        "    MACs      28.80 K → 57.60 K  (+100.0 %)\n"
        "~ 5  ReLU\n"
        "    output    (1, 16, 5, 5) → (1, 32, 5, 5)\n"
        "~ 6  Flatten\n"
        "    output    (1, 400) → (1, 800)\n"
    )
    assert (224 + 1168, 224 + 16 + 2336) == (1392, 2576)
    # MACs: 8·14·14·3·9 = 42,336, then 16·5·5·8·9 = 28,800 (B: 57,600); the rest count none
    assert (42_336 + 28_800, 42_336 + 57_600) == (71_136, 99_936)
    assert f"{100 * (99_936 - 71_136) / 71_136:.1f}" == "40.5"
    assert all(len(line) <= WIDTH for line in result.output.splitlines())


def test_text_fits_80_columns_on_a_long_model() -> None:
    result = run("diff", "resnet50", "wide_resnet50_2")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[4] == "params     25.56 M → 68.88 M  (+169.5 %)"
    assert max(len(line) for line in lines) <= WIDTH
    # a long call breaks at its spaces, the continuation under its start
    i = lines.index("    layer     Conv2d(out_channels=128, kernel_size=3, stride=2, padding=1,")
    assert lines[i + 1 : i + 4] == [
        "              bias=False)",
        "            → Conv2d(out_channels=256, kernel_size=3, stride=2, padding=1,",
        "              bias=False)",
    ]


@pytest.mark.parametrize(
    "pair", [("mobilenet_v2", "mobilenet_v3_large"), ("vgg16", "googlenet"), ("alexnet", "audio1d")]
)
def test_text_fits_80_columns_between_unlike_models(pair: tuple[str, str]) -> None:
    result = run("diff", *pair)
    assert result.exit_code == 0
    assert max(len(line) for line in result.output.splitlines()) <= WIDTH
    if pair[0] == "mobilenet_v2":  # the counts wrap after a comma, never inside one
        assert result.output.splitlines()[8:10] == [
            "layers: 94 added (in 14 blocks), 60 removed (in 9 blocks), 88 changed,",
            "        5 unchanged",
        ]


def test_a_wrong_model_still_shows_the_diff_and_says_which_fails() -> None:
    result = run("diff", LENET, LENET64)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == f"{LENET} → {LENET64}"
    assert lines[2] == "input      (1, 1, 32, 32) → (1, 1, 64, 64)"
    assert lines[3] == "output     (1, 10) → ?"
    assert "~ conv2  Conv2d" in lines
    assert f"{LENET64} is wrong:" in lines
    error = lines.index(f"{LENET64} is wrong:") + 1
    assert lines[error].startswith("error: layer 7 'fc1' (Linear): expects 400 input features")
    assert lines[error + 2].startswith("  hint: set in_features: 2704")
    # the other way round, A is the wrong one
    result = run("diff", LENET64, LENET)
    assert result.exit_code == 1 and f"{LENET64} is wrong:" in result.output.splitlines()


def test_input_overrides_both_models() -> None:
    result = run("diff", "resnet18", "resnet34", "-i", "1,3,112,112")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[2] == "input      (1, 3, 112, 112)"
    ra = analyze(load_spec("resnet18"), (1, 3, 112, 112))
    rb = analyze(load_spec("resnet34"), (1, 3, 112, 112))
    assert ra.totals.macs is not None and rb.totals.macs is not None
    percent = 100 * (rb.totals.macs - ra.totals.macs) / ra.totals.macs
    assert lines[6].endswith(f"(+{percent:.1f} %)")


# ------------------------------------------------------------------ exit codes
def test_exit_2_names_every_model_that_cannot_be_read(tmp_path: Path) -> None:
    result = run("diff", str(tmp_path / "gone.yaml"), str(tmp_path / "missing.yaml"))
    assert result.exit_code == 2
    assert result.output.splitlines()[0::2] == [
        f"error: {tmp_path / 'gone.yaml'}: no such file",
        f"error: {tmp_path / 'missing.yaml'}: no such file",
    ]
    broken = tmp_path / "broken.yaml"
    broken.write_text("layers:\n  - Conv2D(3, 8, 3)\n")
    result = run("diff", LENET, str(broken))
    assert result.exit_code == 2
    assert "unknown layer type 'Conv2D'" in result.output.splitlines()[0]


def test_diff_takes_two_models() -> None:
    result = run("diff", LENET)
    assert result.exit_code == 2
    assert "diff compares two models, 1 given" in result.output
    result = run("diff", LENET, LENET, LENET)
    assert result.exit_code == 2


def test_json_error_layout_when_a_model_cannot_be_read(tmp_path: Path) -> None:
    result = run("diff", LENET, str(tmp_path / "gone.yaml"), "-f", "json")
    assert result.exit_code == 2
    data = json.loads(result.output[: result.output.index("\nerror:") + 1])
    assert data["ok"] is False and data["layers"] == []
    assert data["errors"][0]["message"] == f"{tmp_path / 'gone.yaml'}: no such file"


# ------------------------------------------------------------------ markdown
def cells(line: str) -> list[str]:
    assert line.startswith("| ") and line.endswith(" |"), line
    return [c.strip() for c in line[1:-1].replace("\\|", "\0").split("|")]


def tables(text: str) -> list[list[list[str]]]:
    """Every table of a Markdown text as rows of cells (the separator row left out)."""
    found: list[list[list[str]]] = []
    previous = ""
    for line in text.splitlines():
        if line.startswith("|"):
            if not previous.startswith("|"):
                found.append([])
            if not set(line) <= set("|-: "):
                found[-1].append(cells(line))
        previous = line
    return found


def test_markdown_is_a_totals_table_then_the_layers() -> None:
    result = run("diff", "resnet18", "resnet34", "--format", "markdown")
    assert result.exit_code == 0
    text = result.output
    assert text.startswith("**resnet18 → resnet34**\n\n| | resnet18 | resnet34 | change |\n")
    totals, layers = tables(text)
    assert [row[0] for row in totals] == [
        "", "input", "output", "params", "trainable params", "MACs",
    ]  # fmt: skip
    assert totals[3] == ["params", "11.69 M", "21.80 M", "+10.11 M (+86.5 %)"]
    assert totals[5] == ["MACs", "1.81 G", "3.66 G", "+1.85 G (+102.0 %)"]
    assert layers[0] == ["", "layer", "type", "output", "params", "MACs"]
    assert layers[1] == [
        "added", "`layer1.2`", "BasicBlock, 7 layers", "(1, 64, 56, 56)", "73.98 K", "231.21 M",
    ]  # fmt: skip
    assert len(layers) == 1 + 8
    assert all(len(row) == 6 for row in layers) and all(len(row) == 4 for row in totals)
    assert "<details>" not in text  # 8 rows: shown open
    # the separator rows: as many columns as the header, figures aligned right
    lines = text.splitlines()
    assert lines[3] == "|---|---:|---:|---:|"
    assert "|---|---|---|---|---:|---:|" in lines


def test_markdown_folds_a_long_list_of_layers_and_ends_with_the_error() -> None:
    result = run("diff", LENET, LENET64, "--format", "markdown")
    assert result.exit_code == 1
    text = result.output
    (_, layers) = tables(text)
    assert len(layers) - 1 == 12 > FOLD_AFTER
    start = text.index("<details><summary>Layers that differ (12 rows)</summary>\n\n| |")
    end = text.index("\n\n</details>\n")
    assert start < text.index("| changed | `conv1` |") < end
    assert text[end:].split("\n\n")[2] == f"**{LENET64.replace('_', chr(92) + '_')} is wrong:**"
    assert "```text\nerror: layer 7 'fc1' (Linear): expects 400" in text


def test_markdown_cells_hold_pipes_and_markup_literally() -> None:
    a = spec_from_data({"name": "a|b", "input": [1, 3, 4, 4], "layers": [{"c_1*": "ReLU"}]})
    b = spec_from_data({"name": "a|b", "input": [1, 3, 4, 4], "layers": [{"c_1*": "Tanh"}]})
    text = diff_markdown(diff_models(analyze(a), analyze(b), specs=(a, b)))
    assert text.startswith("**a\\|b → a\\|b**")
    totals, layers = tables(text)
    assert totals[0] == ["", "a\0b", "a\0b", "change"]
    assert layers[1][:3] == ["changed", "`c_1*`", "`ReLU()`<br>→ `Tanh()`"]


def test_markdown_renders_as_tables() -> None:
    """What a GitHub comment shows: read by a CommonMark parser with GitHub's tables, every
    table row is a table row, the fold a <details> around the layers' table."""
    markdown_it = pytest.importorskip("markdown_it")
    render = markdown_it.MarkdownIt("commonmark").enable("table").render
    html = render(run("diff", LENET, LENET64, "--format", "markdown").output)
    assert html.count("<table>") == 2 and html.count("<tr>") == 6 + 13
    assert html.index("<details>") < html.index("<table>", html.index("<table>") + 1)
    assert "<code>conv1</code>" in html and '<pre><code class="language-text">error:' in html
    spec = ["Conv2d(3, 8, 3)", "ReLU"]
    a = spec_from_data({"input": [1, 3, 8, 8], "layers": spec})
    b = spec_from_data({"input": [1, 3, 8, 8], "layers": ["Conv2d(3, 8, 5)", "ReLU"]})
    html = render(diff_markdown(diff_models(analyze(a), analyze(b), specs=(a, b))))
    assert (
        "<td><code>Conv2d(in_channels=3, out_channels=8, kernel_size=3)</code><br>→ "
        "<code>Conv2d(in_channels=3, out_channels=8, kernel_size=5)</code></td>"
    ) in html


# ------------------------------------------------------------------ json
def test_json_fields() -> None:
    result = run("diff", LENET, LENET64, "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert list(data) == ["a", "b", "ok", "totals", "counts", "layers", "blocks"]
    assert data["ok"] is False
    assert data["a"] == {"label": LENET, "model": "lenet", "ok": True, "errors": [], "notes": []}
    assert data["b"]["ok"] is False and data["b"]["errors"][0]["name"] == "fc1"
    totals = data["totals"]
    assert totals["input_shape"] == {"before": [1, 1, 32, 32], "after": [1, 1, 64, 64]}
    assert totals["output_shape"] == {"before": [1, 10], "after": None}
    ra, rb = analyze(load_spec(LENET)), analyze(load_spec(LENET64))
    assert totals["macs"] == {
        "before": ra.totals.macs,
        "after": rb.totals.macs,
        "delta": rb.totals.macs - ra.totals.macs,  # type: ignore[operator]
        "percent": 100 * (rb.totals.macs - ra.totals.macs) / ra.totals.macs,  # type: ignore[operator]
    }
    assert totals["params"]["delta"] == 0 and totals["params"]["percent"] == 0
    assert data["counts"] == {"added": 0, "removed": 0, "changed": 12, "same": 0}
    assert sum(data["counts"].values()) == len(data["layers"])
    first = data["layers"][0]
    assert first["status"] == "changed" and first["changes"] == ["output_shape", "macs"]
    assert first["before"] == {
        "index": 0, "name": "conv1", "type": "Conv2d",
        "call": "Conv2d(in_channels=1, out_channels=6, kernel_size=5)",
        "output_shape": [1, 6, 28, 28], "params": 156, "trainable_params": 156, "macs": 117_600,
    }  # fmt: skip
    assert first["after"]["output_shape"] == [1, 6, 60, 60]
    assert first["after"]["macs"] == 6 * 60 * 60 * 25


def test_json_blocks_and_block_names() -> None:
    data = json.loads(run("diff", "resnet18", "resnet34", "-f", "json").output)
    assert [b["after"]["name"] for b in data["blocks"]][:2] == ["layer1.2", "layer2.2"]
    assert data["blocks"][0]["after"]["layers"] == 7
    added = [row["after"] for row in data["layers"] if row["status"] == "added"]
    assert added[0]["name"] == "layer1.2.conv1" and added[0]["blocks"] == ["layer1.2"]


# ------------------------------------------------------------------ --git
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

BLOCKS_AT_HEAD = """\
blocks:
  Stage:
    params: {c: 8}
    layers:
      - conv: Conv2d($c, $c, 3, padding=1)
      - act: ReLU()
"""

NET_AT_HEAD = """\
name: net
input: [1, 3, 16, 16]
import: lib/stages.yaml
layers:
  - stem: Conv2d(3, 8, 3, padding=1)
  - {type: Stage, name: s1, c: 8}
  - pool: AdaptiveAvgPool2d(1)
  - flat: Flatten()
  - fc: Linear(8, 10)
"""


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=convcalc", "-c", "user.email=convcalc@example.org", *args],
        cwd=repo, check=True, capture_output=True,
    )  # fmt: skip


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository with a config and its import committed, both changed since."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    root = tmp_path / "repo"
    (root / "models" / "lib").mkdir(parents=True)
    (root / "models" / "lib" / "stages.yaml").write_text(BLOCKS_AT_HEAD)
    (root / "models" / "net.yaml").write_text(NET_AT_HEAD)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "a model")
    (root / "models" / "lib" / "stages.yaml").write_text(
        BLOCKS_AT_HEAD.replace("$c, $c, 3, padding=1", "$c, $c, 5, padding=2")
    )
    (root / "models" / "net.yaml").write_text(
        NET_AT_HEAD.replace("Linear(8, 10)", "Linear(8, 100)")
    )
    monkeypatch.chdir(root / "models")
    return root


@needs_git
def test_git_compares_the_file_and_its_imports_at_a_revision(repo: Path) -> None:
    result = run("diff", "--git", "HEAD", "net.yaml")
    assert result.exit_code == 0, result.output
    # conv: 8·8·9 + 8 = 584 → 8·8·25 + 8 = 1,608 params; fc: 90 → 900
    assert result.output == (
        "net.yaml@HEAD → net.yaml\n"
        "\n"
        "input      (1, 3, 16, 16)\n"
        "output     (1, 10) → (1, 100)\n"
        "params          898 →   2.73 K  (+204.2 %)\n"
        "trainable       898 →   2.73 K  (+204.2 %)\n"
        "MACs       202.83 K → 465.70 K  (+129.6 %)\n"
        "\n"
        "layers: 2 changed, 4 unchanged\n"
        "\n"
        "~ s1.conv  Conv2d\n"
        "    layer     Conv2d(in_channels=8, out_channels=8, kernel_size=3, padding=1)\n"
        "            → Conv2d(in_channels=8, out_channels=8, kernel_size=5, padding=2)\n"
        "    params    584 → 1.61 K  (+175.3 %)\n"
        "    MACs      147.46 K → 409.60 K  (+177.8 %)\n"
        "~ fc  Linear\n"
        "    layer     Linear(in_features=8, out_features=10)\n"
        "            → Linear(in_features=8, out_features=100)\n"
        "    output    (1, 10) → (1, 100)\n"
        "    params    90 → 900  (+900.0 %)\n"
        "    MACs      80 → 800  (+900.0 %)\n"
    )
    assert (224 + 584 + 90, 224 + 1608 + 900) == (898, 2732)
    # MACs: stem 8·16·16·3·9 = 55,296; conv 8·16·16·8·9 = 147,456 → ·25 = 409,600; fc 80 → 800
    assert (55_296 + 147_456 + 80, 55_296 + 409_600 + 800) == (202_832, 465_696)
    # from another folder, the file's path as given
    os.chdir(repo)
    result = run("diff", "--git", "HEAD", "models/net.yaml", "-f", "json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["a"]["label"] == "models/net.yaml@HEAD"
    assert data["counts"] == {"added": 0, "removed": 0, "changed": 2, "same": 4}


@needs_git
def test_git_errors(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run("diff", "--git", "no-such-branch", "net.yaml")
    assert result.exit_code == 2
    assert result.output.splitlines()[0] == "error: --git no-such-branch: unknown revision"
    result = run("diff", "--git", "--help", "net.yaml")
    assert result.exit_code == 2 and "unknown revision" in result.output

    (repo / "models" / "new.yaml").write_text(NET_AT_HEAD)
    result = run("diff", "--git", "HEAD", "new.yaml")
    assert result.exit_code == 2
    assert result.output.splitlines()[:2] == [
        "error: new.yaml: not in HEAD",
        "  hint: git log --oneline -- new.yaml lists the commits that have it",
    ]

    outside = tmp_path / "outside.yaml"
    outside.write_text(NET_AT_HEAD)
    result = run("diff", "--git", "HEAD", str(outside))
    assert result.exit_code == 2
    assert result.output.splitlines()[0] == f"error: --git: {outside} is not in a git repository"

    result = run("diff", "--git", "HEAD", "net.yaml", "other.yaml")
    assert result.exit_code == 2 and "compares one FILE with its version at REV" in result.output

    result = run("diff", "--git", "HEAD", "-")
    assert result.exit_code == 2 and "give its path, not -" in result.output

    result = run("diff", "--git", "nope", "net.yaml", "-f", "json")
    data = json.loads(result.output[: result.output.index("\nerror:") + 1])
    assert data["errors"][0]["message"] == "--git nope: unknown revision"

    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = run("diff", "--git", "HEAD", "net.yaml")
    assert result.exit_code == 2
    assert result.output.splitlines()[0] == "error: --git: git is not installed (or not on PATH)"


@needs_git
def test_git_reads_imports_at_the_revision_only(repo: Path) -> None:
    """An import that the revision lacks is an error of the version at REV, never read from
    the working copy; the error says it is the version at REV."""
    (repo / "models" / "lib" / "extra.yaml").write_text(BLOCKS_AT_HEAD)  # never committed
    (repo / "models" / "net.yaml").write_text(NET_AT_HEAD.replace("lib/stages", "lib/extra"))
    git(repo, "add", "models/net.yaml")
    git(repo, "commit", "-q", "-m", "imports a file left out of the commit")
    result = run("diff", "--git", "HEAD", "net.yaml")
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        "error: net.yaml:3 (at HEAD): import 'lib/extra.yaml': no such file (lib/extra.yaml)",
        "  hint: import paths are relative to the importing file",
    ]
    # the revision before has the import it names
    assert run("diff", "--git", "HEAD~1", "net.yaml").exit_code == 0
    # an import that names a folder at the revision
    (repo / "models" / "net.yaml").write_text(NET_AT_HEAD.replace("lib/stages.yaml", "lib"))
    git(repo, "add", "models/net.yaml")
    git(repo, "commit", "-q", "-m", "imports a folder")
    result = run("diff", "--git", "HEAD", "net.yaml")
    assert result.exit_code == 2
    assert result.output.splitlines()[0] == (
        "error: net.yaml:3 (at HEAD): lib: a folder at HEAD, not a YAML file"
    )
