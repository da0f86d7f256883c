"""Every example: a one-line comment saying what it shows, a golden JSON report, and PyTorch's agreement.

Regenerate the golden files with ``pytest tests/contract/test_examples.py --regen-golden`` and
review the diff; the torch test below is what proves the numbers.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from convcalc import analyze, load_spec
from convcalc.render import to_json

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
GOLDEN = ROOT / "tests" / "golden"
FAILING = {"lenet-64"}  # examples that show a diagnosis: they exit 1


def ids(paths):
    return [p.stem for p in paths]


def check_golden(request, name: str, text: str) -> None:
    path = GOLDEN / name
    if request.config.getoption("--regen-golden") or not path.exists():
        path.write_text(text)
        if not request.config.getoption("--regen-golden"):
            pytest.fail(f"{name} did not exist; written now — review it and run again")
    assert text == path.read_text(), (
        f"{name} differs; rerun with --regen-golden after checking the change"
    )


def test_there_are_examples():
    assert len(EXAMPLES) >= 12


@pytest.mark.parametrize("path", EXAMPLES, ids=ids(EXAMPLES))
def test_example_starts_with_a_one_line_comment(path):
    lines = path.read_text().splitlines()
    assert lines[0].startswith("# ") and len(lines[0]) > 20
    assert not lines[1].startswith("#")


@pytest.mark.parametrize("path", EXAMPLES, ids=ids(EXAMPLES))
def test_example_golden_json(request, path):
    report = analyze(load_spec(str(path.relative_to(ROOT))))
    assert report.ok == (path.stem not in FAILING)
    check_golden(request, f"{path.stem}.json", to_json(report))


def test_size_table_script(request):
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "size_table.py")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    check_golden(request, "size_table.txt", out)
    assert "2×2     2       1        3.5                   3×3" in out


def test_separable_block_beats_the_standard_conv():
    standard = analyze(load_spec(str(ROOT / "examples" / "standard-conv.yaml")))
    separable = analyze(load_spec(str(ROOT / "examples" / "separable-conv.yaml")))
    assert standard.output_shape == separable.output_shape == (1, 256, 8, 8)
    assert (standard.totals.params, separable.totals.params) == (19200, 75 + 768)
    assert (standard.totals.macs, separable.totals.macs) == (1_228_800, 4_800 + 49_152)


# ------------------------------------------------------------------ PyTorch
@pytest.mark.parametrize("path", EXAMPLES, ids=ids(EXAMPLES))
def test_example_agrees_with_torch(path):
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode
    from torch_bridge import MERGES, merge, torch_module

    spec = load_spec(str(path))
    report = analyze(spec)
    values = {"input": torch.randn(*report.input_shape)}
    for entry, row in zip(spec.layers, report.rows):
        xs = [values[name] for name in entry.inputs]
        if entry.type in MERGES:  # torch operations, not modules
            y = merge(torch, entry, xs)
            assert row.output_shape == tuple(y.shape), entry.name
            values[entry.name] = y
            continue
        (x,) = xs
        module = torch_module(torch, entry, tuple(x.shape))
        assert row.params == sum(p.numel() for p in module.parameters()), entry.name
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                with FlopCounterMode(display=False) as counter, torch.no_grad():
                    y = module(x)
            except Exception as exc:  # torch rejects: convcalc must have reported this layer
                assert row.output_shape is None and report.errors[0].index == entry.index, (
                    f"{entry.name}: {exc}"
                )
                return
        assert row.output_shape == tuple(y.shape), entry.name
        assert row.macs == counter.get_total_flops() // 2, entry.name
        values[entry.name] = y
    assert report.ok
