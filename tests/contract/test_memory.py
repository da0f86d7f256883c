"""The memory figures of `shape`: per dtype, the table's line and column, and --batch-for,
against sums worked out by hand."""

from __future__ import annotations

import json

import pytest
from clirun import run

from convcalc import analyze, spec_from_data
from convcalc.batch import largest_batch

# input 1x1x4x4 (16 elements); conv 1->2, 1x1 (2x4x4 = 32 elements, 4 params); BatchNorm2d(2)
# (4 params, buffers 2 + 2 floats and an int64); ReLU in place; Flatten a view
SMALL = {
    "input": [1, 1, 4, 4],
    "layers": ["Conv2d(1, 2, 1)", "BatchNorm2d(2)", "ReLU(inplace=True)", "Flatten()"],
}


@pytest.mark.parametrize(
    ("dtype", "size"),
    [("float32", 4), ("float16", 2), ("bfloat16", 2), ("float64", 8), ("int8", 1)],
)
def test_figures_at_each_dtype(dtype: str, size: int) -> None:
    report = analyze(spec_from_data(SMALL), dtype=dtype)
    m = report.memory
    assert m is not None
    assert (m.param_bytes, m.buffer_bytes) == (8 * size, 4 * size + 8)
    assert [r.output_bytes for r in report.rows] == [32 * size, 32 * size, 0, 0]
    assert m.activation_bytes == 64 * size
    # while the BatchNorm runs: the conv's output and its own; the input died after the conv
    assert (m.peak_bytes, m.peak_index) == (64 * size, 1)


def test_batch_for_inference_and_training() -> None:
    spec = spec_from_data(SMALL)
    # per item: peak 256 bytes; fixed: params 32 + buffers 24 = 56
    fit = largest_batch(spec, (1, 1, 4, 4), 56 + 256 * 10)
    assert (fit.batch, fit.need, fit.next_need) == (10, 56 + 2560, 56 + 2816)
    assert dict(fit.parts) == {"params": 32, "buffers": 24, "peak": 2560}
    assert largest_batch(spec, (1, 1, 4, 4), 56 + 255).batch == 0
    # training with Adam: params 32 + buffers 24 + gradients 32 + two copies 64; activations 256
    fit = largest_batch(spec, (1, 1, 4, 4), 152 + 256 * 7 + 100, training=True)
    assert fit.batch == 7 and dict(fit.parts)["optimizer"] == 64
    sgd = largest_batch(spec, (1, 1, 4, 4), 152 + 256 * 7 + 100, training=True, optimizer="sgd")
    assert sgd.batch == 7 and dict(sgd.parts)["optimizer"] == 0
    # the input alone: 3 floats an item
    flat = spec_from_data({"input": [1, 3], "layers": ["Identity()"]})
    assert largest_batch(flat, (1, 3), 1 << 20).batch == (1 << 20) // 12


def test_the_command_line() -> None:
    result = run("shape", "resnet18", "--dtype", "float16", "--batch-for", "1GiB", "-f", "json")
    data = json.loads(result.stdout)
    assert data["memory"]["dtype"] == "float16"
    assert data["memory"]["param_bytes"] == 11_689_512 * 2
    fit = data["batch_for"]
    assert fit["mode"] == "inference" and fit["bytes"] <= 1 << 30 < fit["next_bytes"]
    assert fit["bytes"] == sum(fit["parts"].values())
    text = run("shape", "resnet18", "--columns", "name,memory").stdout
    assert (
        " conv1  " in text and "6.12 MiB" in text and "memory (float32): params 44.59 MiB" in text
    )
    assert run("shape", "resnet18", "--batch-for", "lots").exit_code == 2
