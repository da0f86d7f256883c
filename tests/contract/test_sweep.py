"""`convcalc sweep`: the sizes that work against a brute-force analysis at every size, the
--sizes table against analyze per size, the parsing of --sizes, the JSON, the command line
and its exit codes, and torch accepting a size found valid and refusing one found invalid."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pytest
from clirun import run

from convcalc import analyze, load_spec, spec_from_strings
from convcalc.diagnosis import to_ranges
from convcalc.errors import SpecError
from convcalc.model import Spec
from convcalc.shape import Shape
from convcalc.sweep import (
    MAX_SIZES,
    parse_range,
    parse_sizes,
    sweep_sizes,
    valid_hw,
    valid_sizes,
    with_sizes,
)
from convcalc.sweepout import ranges_text

#: strided and ceil_mode pooling: sizes that work come and go
POOLS = spec_from_strings(
    [
        "Conv2d(3, 8, 3, stride=2)",
        "MaxPool2d(3, stride=2, ceil_mode=True)",
        "ReLU()",
        "AvgPool2d(2, ceil_mode=True, padding=1)",
        "Conv2d(8, 8, 3, stride=3)",
    ],
    (1, 3, 32, 32),
)

#: H and W meet at the Linear: (H - 2) // 2 × (W - 2) // 2 must be 12
PRODUCT = spec_from_strings(
    ["Conv2d(1, 4, 3)", "MaxPool2d(2)", "Flatten()", "Linear(48, 10)"], (1, 1, 10, 14)
)


def brute(spec: Spec, shapes: Iterable[tuple[int, Shape]]) -> tuple[list[int], list[int]]:
    """The sizes whose full analysis works, and those of them with no "not covered" note."""
    works, covered = [], []
    for n, x in shapes:
        report = analyze(spec, x, size_hints=False)
        if report.ok:
            works.append(n)
            if not any("not covered" in note for row in report.rows for note in row.notes):
                covered.append(n)
    return works, covered


# ------------------------------------------------------------------ --valid
@pytest.mark.parametrize(
    "name, hi", [("lenet5", 80), ("resnet18", 70), ("unet_small", 80), ("pools", 90)]
)
def test_valid_ranges_equal_a_brute_force_analysis(name: str, hi: int) -> None:
    spec = POOLS if name == "pools" else load_spec(name)
    x0 = spec.input_shape
    assert x0 is not None
    result = valid_sizes(spec, 1, hi)
    works, covered = brute(spec, [(n, with_sizes(x0, (n, n))) for n in range(1, hi + 1)])
    assert result.works == tuple(to_ranges(works))
    assert result.covered == tuple(to_ranges(covered))
    assert result.exit_code == (0 if works else 1)


def test_valid_values_of_known_models() -> None:
    assert valid_sizes(load_spec("lenet5"), 1, 1024).works == ((32, 35),)
    assert valid_sizes(load_spec("lenet5"), 1, 1024).covered == ((32, 32),)
    unet = valid_sizes(load_spec("unet_small"), 1, 64)
    assert unet.works == ((8, 8), (16, 16), (24, 24), (32, 32), (40, 40), (48, 48), (56, 56), (64, 64))  # fmt: skip
    # ResNet: the stride-2 1×1 downsampling convolutions leave the last row out of an even
    # size (their 3×3 neighbours only leave out padding): 32k+1 to 32k+4 keep every row
    assert valid_sizes(load_spec("resnet50"), 1, 100).covered == (
        (1, 4), (33, 36), (65, 68), (97, 100),
    )  # fmt: skip


def test_nothing_works_exits_1() -> None:
    result = valid_sizes(load_spec("lenet5"), 1, 20)
    assert result.works == () and result.covered == () and result.exit_code == 1


# ------------------------------------------------------------------ --valid-hw
def test_independent_axes_equal_every_pair_of_a_brute_force_grid() -> None:
    result = valid_hw(POOLS, 1, 30)
    assert result.independent and result.coupling is None
    x0 = POOLS.input_shape
    assert x0 is not None
    grid = [(h, w) for h in range(1, 31) for w in range(1, 31)]
    works, covered = brute(POOLS, [((h, w), with_sizes(x0, (h, w))) for h, w in grid])  # type: ignore[misc]
    hs = {h for lo, hi in result.h for h in range(lo, hi + 1)}
    ws = {w for lo, hi in result.w for w in range(lo, hi + 1)}
    assert set(works) == {(h, w) for h in hs for w in ws}
    hc = {h for lo, hi in result.h_covered for h in range(lo, hi + 1)}
    wc = {w for lo, hi in result.w_covered for w in range(lo, hi + 1)}
    assert set(covered) == {(h, w) for h in hc for w in wc}


def _pairs(groups: Iterable[tuple[tuple[int, int], tuple[tuple[int, int], ...]]]) -> set[tuple[int, int]]:  # fmt: skip
    return {
        (h, w)
        for (h_lo, h_hi), ws in groups
        for h in range(h_lo, h_hi + 1)
        for lo, hi in ws
        for w in range(lo, hi + 1)
    }


@pytest.mark.parametrize("spec_name", ["product", "lenet5"])
def test_coupled_axes_list_the_pairs_of_a_brute_force_grid(spec_name: str) -> None:
    spec = PRODUCT if spec_name == "product" else load_spec("lenet5")
    hi = 40 if spec_name == "product" else 36
    result = valid_hw(spec, 1, hi)
    assert not result.independent
    assert result.coupling is not None and result.coupling.type == "Flatten"
    x0 = spec.input_shape
    assert x0 is not None
    grid = [(h, w) for h in range(1, hi + 1) for w in range(1, hi + 1)]
    works, covered = brute(spec, [((h, w), with_sizes(x0, (h, w))) for h, w in grid])  # type: ignore[misc]
    assert _pairs(result.pairs) == set(works)
    assert _pairs(result.covered_pairs) == set(covered)
    if spec_name == "product":
        # (H - 2) // 2 · (W - 2) // 2 = 12: 1×12, 2×6, 3×4, 4×3, 6×2, 12×1
        assert ((8, 9), ((10, 11),)) in result.pairs
        assert {((h - 2) // 2) * ((w - 2) // 2) for h, w in works} == {12}


# ------------------------------------------------------------------ --sizes
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_size_table_equals_analyze_at_each_size(dtype: str) -> None:
    spec = load_spec("lenet5")
    table = sweep_sizes(spec, parse_sizes("28:40:2,32x34,64", 2), dtype=dtype)
    assert [r.size for r in table.rows][-2:] == [(32, 34), (64, 64)]
    for row in table.rows:
        report = analyze(spec, row.input_shape, size_hints=False, dtype=dtype)
        assert row.output_shape == report.output_shape
        # a size that fails has no MACs (the analysis sums those of the layers before)
        assert row.macs == (None if report.errors else report.totals.macs)
        assert report.memory is not None
        assert row.peak_bytes == report.memory.peak_bytes
        assert row.error == (report.errors[0] if report.errors else None)
        notes = [n for r in report.rows for n in r.notes]
        assert row.covered == (
            None if report.errors else not any("not covered" in n for n in notes)
        )
    assert [r.error is None for r in table.rows][:7] == [
        False,
        False,
        True,
        True,
        False,
        False,
        False,
    ]
    assert table.exit_code == 1


def test_size_table_of_resnet_with_branches_equals_analyze() -> None:
    spec = load_spec("resnet18")
    table = sweep_sizes(spec, parse_sizes("1:9:4,224x160,320x240", 2), dtype="bfloat16")
    assert table.ok and table.exit_code == 0
    for row in table.rows:
        report = analyze(spec, row.input_shape, dtype="bfloat16")
        assert report.memory is not None
        assert (row.output_shape, row.macs, row.peak_bytes) == (
            report.output_shape, report.totals.macs, report.memory.peak_bytes,
        )  # fmt: skip


def test_a_layer_wrong_whatever_the_size_fails_every_size() -> None:
    spec = spec_from_strings(["Conv2d(3, 8, 3, groups=2)"], (1, 3, 8, 8))
    table = sweep_sizes(spec, [(8, 8), (9, 9)])
    assert all(r.error is not None and "groups" in r.error.message for r in table.rows)
    assert valid_sizes(spec, 1, 10).works == ()


# ------------------------------------------------------------------ parsing
@pytest.mark.parametrize(
    "text, nd, sizes",
    [
        ("160:512:32", 2, [(n, n) for n in range(160, 513, 32)]),
        ("160:170", 2, [(n, n) for n in range(160, 171)]),
        ("224x160,320x240", 2, [(224, 160), (320, 240)]),
        ("224×160, 7", 2, [(224, 160), (7, 7)]),
        ("100:110:5", 1, [(100,), (105,), (110,)]),
        ("8x16x12,4", 3, [(8, 16, 12), (4, 4, 4)]),
        ("5:5", 2, [(5, 5)]),
    ],
)
def test_parse_sizes(text: str, nd: int, sizes: list[Shape]) -> None:
    assert parse_sizes(text, nd) == sizes


@pytest.mark.parametrize(
    "text, message",
    [
        ("5:1", "--sizes: '5:1' starts after it stops"),
        ("3:9:0", "--sizes: the step must be at least 1, got 0"),
        ("3:9:-2", "--sizes: the step must be at least 1, got -2"),
        ("0:9", "--sizes: sizes start at 1, got 0"),
        ("a", "--sizes: 'a' is not a whole number"),
        ("1:2:3:4", "--sizes: '1:2:3:4' is not START:STOP[:STEP]"),
        ("3x4x5", "--sizes: '3x4x5' gives 3 sizes, the input has 2 spatial axes (H×W)"),
        ("4,,5", "--sizes: '4,,5' has an empty item"),
        ("1:200000", f"--sizes: 200,000 sizes, more than the {MAX_SIZES:,} a sweep takes"),
        ("4x4:8", "--sizes: '4x4:8': a range is of square sizes, write it alone"),
    ],
)
def test_parse_sizes_errors(text: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_sizes(text, 2)
    assert caught.value.message == message
    assert caught.value.exit_code == 2


def test_parse_range() -> None:
    assert parse_range("1:1024", "--valid", step=False) == range(1, 1025)
    with pytest.raises(SpecError, match="is not LO:HI"):
        parse_range("1:10:2", "--valid", step=False)


# ------------------------------------------------------------------ JSON
def test_sizes_json_fields() -> None:
    result = run("sweep", "lenet5", "--sizes", "32,36", "-f", "json")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert list(data) == ["model", "dtype", "ok", "sizes"]
    assert (data["model"], data["dtype"], data["ok"]) == ("lenet5", "float32", False)
    ok, bad = data["sizes"]
    report = analyze(load_spec("lenet5"), (1, 1, 32, 32))
    assert report.memory is not None
    assert ok == {
        "size": [32, 32],
        "input_shape": [1, 1, 32, 32],
        "output_shape": [1, 10],
        "macs": report.totals.macs,
        "peak_bytes": report.memory.peak_bytes,
        "covered": True,
        "error": None,
    }
    assert bad["output_shape"] is None and bad["covered"] is None
    assert bad["error"]["name"] == "c5" and bad["error"]["index"] == 7
    assert bad["error"]["message"].startswith("layer 7 'c5' (Linear): expects 400 input features")


def test_valid_json_fields() -> None:
    result = run("sweep", "lenet5", "--valid", "1:100", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.output) == {
        "model": "lenet5",
        "input_shape": [1, 1, 32, 32],
        "range": [1, 100],
        "works": [[32, 35]],
        "works_count": 4,
        "covered": [[32, 32]],
        "covered_count": 1,
    }
    data = json.loads(run("sweep", "lenet5", "--valid-hw", "1:40", "-f", "json").output)
    assert data["independent"] is False
    assert data["coupling"] == {"index": 6, "name": "flatten", "type": "Flatten", "dim": 1}
    assert data["pairs"] == [{"h": [32, 35], "w": [[32, 35]]}]
    assert data["covered_pairs"] == [{"h": [32, 32], "w": [[32, 32]]}]


# ------------------------------------------------------------------ the command line
def test_sizes_text() -> None:
    result = run("sweep", "lenet5", "--sizes", "30:34:2")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == "lenet5: input (1, 1, H, W), float32"
    assert lines[2].split()[:7] == ["size", "input", "output", "MACs", "peak", "memory", "covered"]
    assert lines[2].endswith("fails at")
    assert lines[3].startswith("30×30  (1, 1, 30, 30)  —")
    assert "layer 7 'c5' (Linear): expects 400 input features, receives 256" in lines[3]
    assert lines[4].split()[:4] == ["32×32", "(1,", "1,", "32,"]
    assert lines[-1] == "3 sizes: 2 work, 1 fails"


def test_sizes_all_working_exit_0_and_csv() -> None:
    result = run("sweep", "resnet18", "--sizes", "224x160,64", "-f", "csv")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == "size,input_shape,output_shape,macs,peak_bytes,covered,error"
    assert lines[1].startswith("224×160,1×3×224×160,1×1000,1295912960,")


def test_valid_text_and_exit_codes() -> None:
    result = run("sweep", "lenet5", "--valid", "1:1024")
    assert result.exit_code == 0
    assert result.output == (
        "lenet5: square inputs 1×1 to 1024×1024, input (1, 1, S, S)\n"
        "works (4 sizes): 32–35\n"
        "every row and column covered (1 size): 32\n"
    )
    none = run("sweep", "lenet5", "--valid", "1:20")
    assert none.exit_code == 1
    assert none.output.splitlines()[1] == "no size from 1 to 20 works"


def test_valid_hw_text() -> None:
    result = run("sweep", "resnet18", "--valid-hw", "1:40")
    assert result.exit_code == 0
    assert result.output.splitlines()[1:4] == [
        "H and W are independent (no layer mixes them): any H below works with any W below",
        "H: 1–40",
        "W: 1–40",
    ]
    coupled = run("sweep", "lenet5", "--valid-hw", "1:128").output.splitlines()
    assert coupled[1].startswith("H and W are not independent: layer 6 'flatten' (Flatten)")
    assert coupled[2:5] == ["  H 16–19: W 112–115", "  H 32–35: W 32–35", "  H 112–115: W 16–19"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["lenet5"], "give one of --sizes LIST, --valid LO:HI or --valid-hw LO:HI"),
        (["lenet5", "--sizes", "32", "--valid", "1:5"], "(2 given)"),
        (["lenet5", "--sizes", "5:1"], "'5:1' starts after it stops"),
        (["lenet5", "--valid", "9:1"], "'9:1' starts after it stops"),
        (["lenet5", "--valid", "1:100001"], "more than the 100,000 a sweep takes"),
        (["examples/conv1d.yaml", "--valid-hw", "1:9"], "needs an input of two spatial axes"),
        (["-l", "Linear(4, 2)", "--sizes", "3"], "a sweep needs an input shape"),
        (["-l", "Linear(4, 2)", "-i", "1,4", "--sizes", "3"], "has no spatial axes"),
        (["lenet5", "--valid", "1:5", "-f", "csv"], "--format csv is for --sizes' table"),
    ],
)
def test_bad_input_exits_2(args: list[str], message: str) -> None:
    result = run("sweep", *args)
    assert result.exit_code == 2
    assert message in result.output


def test_json_errors_for_bad_input() -> None:
    result = run("sweep", "lenet5", "--sizes", "0", "-f", "json")
    assert result.exit_code == 2
    (error,) = json.loads(result.stdout)["errors"]
    assert (error["message"], error["argument"]) == ("--sizes: sizes start at 1, got 0", "--sizes")


# ------------------------------------------------------------------ torch
@pytest.mark.parametrize("name, good, bad", [("lenet5", 34, 36), ("unet_small", 48, 44)])
def test_torch_accepts_a_valid_size_and_rejects_an_invalid_one(
    name: str, good: int, bad: int
) -> None:
    torch = pytest.importorskip("torch")
    from torch_bridge import TorchModel

    spec = load_spec(name)
    x0 = spec.input_shape
    assert x0 is not None
    found = valid_sizes(spec, 1, 64)
    ok = {n for lo, hi in found.works for n in range(lo, hi + 1)}
    assert good in ok and bad not in ok
    model = TorchModel(torch, spec, with_sizes(x0, (good, good)))
    with torch.no_grad():
        y = model(torch.zeros(with_sizes(x0, (good, good))))
        (row,) = sweep_sizes(spec, [(good, good)]).rows
        assert tuple(y.shape) == row.output_shape
        with pytest.raises(RuntimeError):
            model(torch.zeros(with_sizes(x0, (bad, bad))))


@pytest.mark.parametrize(
    "ranges, text",
    [
        ((), "none"),
        (((32, 35),), "32–35"),
        (((32, 35), (64, 67), (96, 99)), "32–35, 64–67, 96–99"),
        (tuple((n, n) for n in range(8, 257, 8)), "8, 16, …, 256 (every 8)"),
        (
            tuple((n + a, n + a) for n in range(0, 512, 32) for a in (1, 3)),
            "1, 3, 33, 35, …, 481, 483 (every 32)",
        ),
        (
            ((1, 2), (5, 5), (9, 9), (13, 13), (17, 17), (21, 21), (25, 25)),
            "1–2, 5, 9, 13, 17, 21, 25",
        ),
    ],
)
def test_ranges_text_shows_a_repeating_list_by_its_period(ranges: Any, text: str) -> None:
    assert ranges_text(ranges) == text
