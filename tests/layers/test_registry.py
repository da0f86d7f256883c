"""Contract tests over the whole layer registry: every type is documented, has a working example, and oracle coverage."""

from __future__ import annotations

from pathlib import Path

import pytest
from oracle_cases import GENERATORS
from torch_bridge import TORCH_OPS

from convcalc import analyze, spec_from_data, spec_from_strings
from convcalc.layers import REGISTRY, catalog

LAYER_TABLE = (Path(__file__).resolve().parents[2] / "docs" / "layers.md").read_text()
TYPES = sorted(REGISTRY)


@pytest.mark.parametrize("name", TYPES)
def test_type_has_a_row_in_the_layer_table(name):
    assert f"| `{name}` |" in LAYER_TABLE


@pytest.mark.parametrize("name", TYPES)
def test_type_has_a_summary_and_a_working_example(name):
    (item,) = catalog(name)
    assert item["summary"]
    example = item["example"]
    if REGISTRY[name].multi_input:  # a merge: one branch per input shape
        shapes = [tuple(s) for s in example["input"]]
        assert len(set(shapes)) == 1
        branches = [
            {"type": "Identity", "name": f"b{i}", "from": "input"} for i in range(len(shapes))
        ]
        merge = {"type": name, "from": [b["name"] for b in branches]}
        spec = spec_from_data({"input": list(shapes[0]), "layers": [*branches, merge]})
    else:
        spec = spec_from_strings([example["call"]], tuple(example["input"]))
    report = analyze(spec)
    assert report.ok, report.errors
    assert list(report.output_shape) == example["output"]


@pytest.mark.parametrize("name", TYPES)
def test_type_has_oracle_coverage(name):
    assert name in GENERATORS or name in TORCH_OPS, (
        f"add a random-configuration generator for {name} to tests/oracle_cases.py"
    )


@pytest.mark.parametrize("name", TYPES)
def test_arguments_are_described(name):
    for arg in REGISTRY[name].ARGS:
        assert arg.form, f"{name}.{arg.name} has no form for `convcalc layers`"
