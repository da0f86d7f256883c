"""Pooling layers: MaxPool, AvgPool, AdaptiveAvgPool, AdaptiveMaxPool (1d/2d/3d).

Every expected value in these tables was produced by running torch 2.13 (CPU):
``torch.nn.<Type>(*args, **kwargs)(torch.randn(*shape))`` for shapes and errors,
``F.adaptive_max_pool1d(arange, out, return_indices=True)`` for bin boundaries and
``F.max_pool1d(arange, ..., return_indices=True)`` for which input elements the
windows reach. torch is not imported here.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import pytest

from convcalc.analysis import analyze
from convcalc.errors import ShapeError, SpecError
from convcalc.layers.base import REGISTRY, Layer, lookup
from convcalc.shape import adaptive_bins, pool_out
from convcalc.spec import spec_from_strings

Shape = tuple[int, ...]

POOL_TYPES = [
    f"{kind}{nd}d"
    for kind in ("MaxPool", "AvgPool", "AdaptiveAvgPool", "AdaptiveMaxPool")
    for nd in (1, 2, 3)
]


def build(name: str, *args: Any, **kwargs: Any) -> Layer:
    return lookup(name).build(args, kwargs)


def shape_of(name: str, args: Sequence[Any], kwargs: dict[str, Any], x: Shape) -> Shape:
    layer = lookup(name).build(args, kwargs)
    layer.check()
    return layer.out_shape(x)


def error_of(name: str, args: Sequence[Any], kwargs: dict[str, Any], x: Shape) -> ShapeError:
    layer = lookup(name).build(args, kwargs)
    with pytest.raises(ShapeError) as info:
        layer.check()
        layer.out_shape(x)
    return info.value


# ------------------------------------------------------------------ registry
@pytest.mark.parametrize("name", POOL_TYPES)
def test_registered_with_summary(name: str) -> None:
    cls = REGISTRY[name]
    assert cls.type_name == name
    assert cls.summary


# inspect.signature(torch.nn.<Type>.__init__), torch 2.13
SIGNATURES = {
    "MaxPool": [
        ("kernel_size", "required"),
        ("stride", "None"),
        ("padding", "0"),
        ("dilation", "1"),
        ("return_indices", "False"),
        ("ceil_mode", "False"),
    ],
    "AvgPool1d": [
        ("kernel_size", "required"),
        ("stride", "None"),
        ("padding", "0"),
        ("ceil_mode", "False"),
        ("count_include_pad", "True"),
    ],
    "AvgPool": [
        ("kernel_size", "required"),
        ("stride", "None"),
        ("padding", "0"),
        ("ceil_mode", "False"),
        ("count_include_pad", "True"),
        ("divisor_override", "None"),
    ],
    "AdaptiveAvgPool": [("output_size", "required")],
    "AdaptiveMaxPool": [("output_size", "required"), ("return_indices", "False")],
}


@pytest.mark.parametrize("name", POOL_TYPES)
def test_args_in_torch_order_with_torch_defaults(name: str) -> None:
    key = name if name in SIGNATURES else name[:-2]
    got = [(a.name, a.describe_default()) for a in REGISTRY[name].ARGS]
    assert got == SIGNATURES[key]


@pytest.mark.parametrize("name", POOL_TYPES)
def test_no_parameters_no_macs(name: str) -> None:
    args = (1,) if "Adaptive" in name else (2,)
    nd = int(name[-2])
    x = (2, 3) + (6,) * nd
    layer = lookup(name).build(args, {})
    y = layer.out_shape(x)
    assert layer.weights(x) == {}
    assert layer.buffers(x) == {}
    assert layer.macs(x, y) == 0
    report = analyze(spec_from_strings([f"{name}{args}".replace(",)", ")")], x))
    assert report.ok
    assert report.totals.params == 0 and report.totals.macs == 0


# ------------------------------------------------------------ worked 5×5 table
# (kernel_size, stride, padding, ceil_mode) → (H, W) out for a (1, 1, 5, 5) input;
# torch gives the same for MaxPool2d and AvgPool2d. None = torch raises
# "pad should be at most half of effective kernel size".
WORKED_5x5 = [
    (2, 1, 0, False, (4, 4)),
    (2, 1, 0, True, (4, 4)),
    (2, 1, 1, False, (6, 6)),
    (2, 1, 1, True, (6, 6)),
    (2, 1, 2, False, None),
    (2, 1, 2, True, None),
    (2, 2, 0, False, (2, 2)),
    (2, 2, 0, True, (3, 3)),
    (2, 2, 1, False, (3, 3)),
    (2, 2, 1, True, (3, 3)),
    (2, 2, 2, False, None),
    (2, 2, 2, True, None),
    (3, 1, 0, False, (3, 3)),
    (3, 1, 0, True, (3, 3)),
    (3, 1, 1, False, (5, 5)),
    (3, 1, 1, True, (5, 5)),
    (3, 1, 2, False, None),
    (3, 1, 2, True, None),
    (3, 2, 0, False, (2, 2)),
    (3, 2, 0, True, (2, 2)),  # (5 - 3) / 2 + 1 = 2 exactly: ceil_mode changes nothing
    (3, 2, 1, False, (3, 3)),
    (3, 2, 1, True, (3, 3)),
    (3, 2, 2, False, None),
    (3, 2, 2, True, None),
]


@pytest.mark.parametrize("kind", ["MaxPool2d", "AvgPool2d"])
@pytest.mark.parametrize("k, s, p, ceil, want", WORKED_5x5)
def test_worked_5x5(kind: str, k: int, s: int, p: int, ceil: bool, want: Shape | None) -> None:
    if want is None:
        err = error_of(kind, (k, s, p), {"ceil_mode": ceil}, (1, 1, 5, 5))
        assert err.argument == "padding"
        assert err.expected == f"at most {k // 2}" and err.got == p
    else:
        assert shape_of(kind, (k, s, p), {"ceil_mode": ceil}, (1, 1, 5, 5)) == (1, 1) + want
        assert pool_out(5, k, s, p, 1, ceil) == want[0]


# ------------------------------------------------------ the ceil_mode rule
# (L, k, s, p, floor-mode out, ceil-mode out) from torch MaxPool1d / AvgPool1d: in every
# row the plain ceil formula ceil((L + 2p - k) / s) + 1 is one more than torch, because
# that last window would start in the right padding.
CEIL_RULE = [
    (3, 2, 2, 1, 2, 2),
    (5, 2, 2, 1, 3, 3),
    (7, 2, 2, 1, 4, 4),
    (9, 2, 2, 1, 5, 5),
    (4, 4, 3, 2, 2, 2),
    (10, 4, 4, 2, 3, 3),
    (2, 1, 2, 0, 1, 1),
    (3, 1, 3, 0, 1, 1),
]


@pytest.mark.parametrize("kind", ["MaxPool1d", "AvgPool1d"])
@pytest.mark.parametrize("L, k, s, p, floor, ceil", CEIL_RULE)
def test_ceil_window_may_not_start_in_right_padding(
    kind: str, L: int, k: int, s: int, p: int, floor: int, ceil: int
) -> None:
    naive = -(-(L + 2 * p - k) // s) + 1
    assert naive == ceil + 1
    assert shape_of(kind, (k, s, p), {}, (1, 1, L)) == (1, 1, floor)
    assert shape_of(kind, (k, s, p), {"ceil_mode": True}, (1, 1, L)) == (1, 1, ceil)


# (L, k, s, p, d, ceil_mode, out) from torch MaxPool1d; 0 = "Output size is too small"
DILATION = [
    (10, 3, 1, 0, 2, False, 6),
    (10, 3, 1, 1, 2, False, 8),
    (10, 2, 2, 1, 3, False, 5),
    (7, 3, 1, 0, 3, False, 1),
    (6, 3, 1, 0, 3, False, 0),
    (6, 3, 1, 1, 3, False, 2),
    (10, 3, 3, 0, 2, True, 3),
    (10, 3, 3, 0, 2, False, 2),
    (5, 2, 1, 0, 4, False, 1),
    (5, 2, 1, 1, 4, False, 3),
    (13, 3, 2, 1, 2, True, 6),
]


@pytest.mark.parametrize("L, k, s, p, d, ceil, out", DILATION)
def test_max_pool_dilation(L: int, k: int, s: int, p: int, d: int, ceil: bool, out: int) -> None:
    kwargs = {"dilation": d, "ceil_mode": ceil}
    if out == 0:
        err = error_of("MaxPool1d", (k, s, p), kwargs, (1, 1, L))
        assert err.argument == "kernel_size" and err.dim == 2
    else:
        assert shape_of("MaxPool1d", (k, s, p), kwargs, (1, 1, L)) == (1, 1, out)


# (type, args, kwargs, input, output) from torch
SHAPES = [
    (
        "MaxPool2d",
        [(3, 2)],
        {"stride": (2, 1), "padding": (1, 0), "dilation": (2, 1)},
        (2, 4, 11, 8),
        (2, 4, 5, 7),
    ),
    ("MaxPool2d", [(2, 3)], {}, (1, 3, 7, 9), (1, 3, 3, 3)),
    ("AvgPool2d", [(2, 3)], {}, (1, 3, 7, 9), (1, 3, 3, 3)),
    ("MaxPool2d", [3], {"stride": 2, "padding": 1}, (1, 64, 112, 112), (1, 64, 56, 56)),
    ("MaxPool2d", [3], {"stride": 2, "ceil_mode": True}, (1, 64, 55, 55), (1, 64, 27, 27)),
    ("MaxPool2d", [3], {"stride": 2}, (1, 64, 55, 55), (1, 64, 27, 27)),
    ("MaxPool2d", [2], {"stride": 2, "ceil_mode": True}, (1, 256, 75, 75), (1, 256, 38, 38)),
    ("AvgPool2d", [2], {"stride": 2, "ceil_mode": True}, (1, 256, 75, 75), (1, 256, 38, 38)),
    # a one-element kernel_size list is repeated; an empty stride means kernel_size
    ("MaxPool2d", [(1, 3)], {"stride": ()}, (1, 1, 4, 10), (1, 1, 4, 3)),
    ("AvgPool2d", [(1, 3)], {"stride": ()}, (1, 1, 4, 10), (1, 1, 4, 3)),
    ("MaxPool2d", [(3,)], {}, (3, 10, 10), (3, 3, 3)),
    (
        "MaxPool2d",
        [2],
        {"stride": (1,), "padding": (1,), "dilation": (2,)},
        (1, 1, 5, 5),
        (1, 1, 5, 5),
    ),
    ("MaxPool3d", [2], {"stride": None}, (1, 1, 5, 5, 5), (1, 1, 2, 2, 2)),
    # ceil_mode: a window larger than the input still gives one output if it starts inside
    ("MaxPool1d", [3, 2], {"ceil_mode": True}, (1, 1, 2), (1, 1, 1)),
    ("AvgPool1d", [3, 2], {"ceil_mode": True}, (1, 1, 2), (1, 1, 1)),
    ("MaxPool2d", [4], {"stride": 3, "ceil_mode": True}, (1, 1, 2, 2), (1, 1, 1, 1)),
    # 1d
    ("MaxPool1d", [3], {}, (2, 4, 10), (2, 4, 3)),
    ("AvgPool1d", [3], {}, (2, 4, 10), (2, 4, 3)),
    ("MaxPool1d", [3, 2, 1], {}, (4, 10), (4, 5)),
    ("AvgPool1d", [3, 2, 1], {}, (4, 10), (4, 5)),
    ("MaxPool1d", [4], {"stride": 1, "padding": 2}, (1, 1, 5), (1, 1, 6)),
    ("AvgPool1d", [4], {"stride": 1, "padding": 2}, (1, 1, 5), (1, 1, 6)),
    ("MaxPool1d", [2], {"ceil_mode": True}, (1, 2, 7), (1, 2, 4)),
    ("AvgPool1d", [2], {"ceil_mode": True}, (1, 2, 7), (1, 2, 4)),
    # 3d
    ("MaxPool3d", [2], {}, (1, 2, 4, 5, 6), (1, 2, 2, 2, 3)),
    ("AvgPool3d", [2], {}, (1, 2, 4, 5, 6), (1, 2, 2, 2, 3)),
    (
        "MaxPool3d",
        [(1, 3, 3)],
        {"stride": (1, 2, 2), "padding": (0, 1, 1)},
        (2, 8, 16, 28, 28),
        (2, 8, 16, 14, 14),
    ),
    (
        "AvgPool3d",
        [(1, 3, 3)],
        {"stride": (1, 2, 2), "padding": (0, 1, 1)},
        (2, 8, 16, 28, 28),
        (2, 8, 16, 14, 14),
    ),
    ("MaxPool3d", [3], {"stride": 2, "ceil_mode": True}, (1, 1, 6, 7, 8), (1, 1, 3, 3, 4)),
    ("AvgPool3d", [3], {"stride": 2, "ceil_mode": True}, (1, 1, 6, 7, 8), (1, 1, 3, 3, 4)),
    ("MaxPool3d", [(2, 3, 3)], {"stride": 1, "padding": 1}, (3, 3, 7, 7), (3, 4, 7, 7)),
    ("AvgPool3d", [(2, 3, 3)], {"stride": 1, "padding": 1}, (3, 3, 7, 7), (3, 4, 7, 7)),
    ("MaxPool3d", [3], {"padding": 1}, (1, 1, 2, 4, 4), (1, 1, 1, 2, 2)),
    ("AvgPool3d", [3], {"padding": 1}, (1, 1, 3, 3, 3), (1, 1, 1, 1, 1)),
    # the batch size may be 0
    ("MaxPool2d", [1], {}, (0, 1, 5, 5), (0, 1, 5, 5)),
    ("AvgPool2d", [2], {"divisor_override": -3}, (1, 1, 5, 5), (1, 1, 2, 2)),
    # adaptive: None keeps an axis, out > in is allowed, 0 gives an empty output
    ("AdaptiveAvgPool2d", [(None, 7)], {}, (1, 3, 5, 9), (1, 3, 5, 7)),
    ("AdaptiveMaxPool2d", [(None, 7)], {}, (1, 3, 5, 9), (1, 3, 5, 7)),
    ("AdaptiveAvgPool2d", [7], {}, (1, 3, 5, 5), (1, 3, 7, 7)),
    ("AdaptiveMaxPool2d", [7], {}, (1, 3, 5, 5), (1, 3, 7, 7)),
    ("AdaptiveAvgPool2d", [(3, 4)], {}, (2, 3, 5, 10), (2, 3, 3, 4)),
    ("AdaptiveMaxPool2d", [(3, 4)], {"return_indices": True}, (2, 3, 5, 10), (2, 3, 3, 4)),
    ("AdaptiveAvgPool2d", [(None, None)], {}, (3, 4, 5), (3, 4, 5)),
    ("AdaptiveMaxPool2d", [(None, None)], {}, (3, 4, 5), (3, 4, 5)),
    ("AdaptiveAvgPool2d", [(2, 1)], {}, (1, 3, 5, 1), (1, 3, 2, 1)),
    ("AdaptiveAvgPool1d", [3], {}, (2, 5), (2, 3)),
    ("AdaptiveMaxPool1d", [3], {}, (2, 5), (2, 3)),
    ("AdaptiveAvgPool1d", [7], {}, (1, 2, 5), (1, 2, 7)),
    ("AdaptiveMaxPool1d", [7], {}, (1, 2, 5), (1, 2, 7)),
    ("AdaptiveAvgPool1d", [(4,)], {}, (1, 2, 9), (1, 2, 4)),
    ("AdaptiveMaxPool1d", [(4,)], {}, (1, 2, 9), (1, 2, 4)),
    ("AdaptiveAvgPool3d", [(None, 2, 1)], {}, (1, 2, 5, 6, 7), (1, 2, 5, 2, 1)),
    ("AdaptiveMaxPool3d", [(None, 2, 1)], {}, (1, 2, 5, 6, 7), (1, 2, 5, 2, 1)),
    ("AdaptiveAvgPool2d", [0], {}, (1, 3, 5, 5), (1, 3, 0, 0)),
    ("AdaptiveMaxPool2d", [0], {}, (1, 3, 5, 5), (1, 3, 0, 0)),
    ("AdaptiveAvgPool2d", [(0, None)], {}, (1, 3, 5, 5), (1, 3, 0, 5)),
    # AdaptiveAvgPool with an all-1 output is a mean over the last dims: any rank ≥ nd
    # (≥ nd + 1 when output_size is a tuple), and empty inputs are fine
    ("AdaptiveAvgPool2d", [1], {}, (4, 5), (1, 1)),
    ("AdaptiveAvgPool2d", [1], {}, (2, 3, 4, 5, 6), (2, 3, 4, 1, 1)),
    ("AdaptiveAvgPool2d", [(None, 1)], {}, (2, 2, 2, 1, 4), (2, 2, 2, 1, 1)),
    ("AdaptiveAvgPool3d", [1], {}, (3, 4, 5), (1, 1, 1)),
    ("AdaptiveAvgPool3d", [(1, 1, 1)], {}, (2, 3, 4, 5, 6), (2, 3, 1, 1, 1)),
    ("AdaptiveAvgPool2d", [1], {}, (1, 1, 0, 0), (1, 1, 1, 1)),
    ("AdaptiveAvgPool1d", [1], {}, (1, 1, 0), (1, 1, 1)),
    # channels may be 0 for AdaptiveAvgPool1d/2d, and for every adaptive type when unbatched
    ("AdaptiveAvgPool2d", [2], {}, (1, 0, 5, 5), (1, 0, 2, 2)),
    ("AdaptiveMaxPool2d", [2], {}, (0, 5, 5), (0, 2, 2)),
    ("AdaptiveAvgPool3d", [2], {}, (0, 5, 5, 5), (0, 2, 2, 2)),
]


@pytest.mark.parametrize("name, args, kwargs, x, y", SHAPES)
def test_shapes(name: str, args: list[Any], kwargs: dict[str, Any], x: Shape, y: Shape) -> None:
    assert shape_of(name, args, kwargs, x) == y


# ------------------------------------------------------------ adaptive bins
# (in, out, bins) from torch: argmax / argmin indices of adaptive_max_pool1d over arange(in)
BINS = [
    (5, 3, [(0, 2), (1, 4), (3, 5)]),
    (5, 7, [(0, 1), (0, 2), (1, 3), (2, 3), (2, 4), (3, 5), (4, 5)]),
    (10, 4, [(0, 3), (2, 5), (5, 8), (7, 10)]),
    (7, 7, [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6), (6, 7)]),
    (13, 6, [(0, 3), (2, 5), (4, 7), (6, 9), (8, 11), (10, 13)]),
    (5, 4, [(0, 2), (1, 3), (2, 4), (3, 5)]),
    (2, 5, [(0, 1), (0, 1), (0, 2), (1, 2), (1, 2)]),
    (12, 3, [(0, 4), (4, 8), (8, 12)]),
]


@pytest.mark.parametrize("n, out, bins", BINS)
def test_adaptive_bins(n: int, out: int, bins: list[tuple[int, int]]) -> None:
    assert adaptive_bins(n, out) == bins


# ------------------------------------------------------------------- notes
def notes_of(name: str, args: Sequence[Any], kwargs: dict[str, Any], x: Shape) -> list[str]:
    layer = lookup(name).build(args, kwargs)
    layer.check()
    return layer.notes(x, layer.out_shape(x))


# (L, k, s, p, d, out, input elements after the last window) from torch: the largest
# index max_pool1d returns for an increasing input is the last element a window reaches
UNCOVERED = [
    (5, 2, 2, 0, 1, 2, 1),
    (5, 3, 3, 0, 1, 1, 2),
    (7, 3, 2, 0, 1, 3, 0),
    (5, 2, 2, 1, 1, 3, 0),  # the one uncovered element of the padded input is padding
    (7, 2, 2, 1, 1, 4, 0),
    (10, 3, 4, 0, 1, 2, 3),
    (10, 2, 3, 0, 2, 3, 1),
    (8, 3, 3, 1, 1, 3, 0),
]


@pytest.mark.parametrize("L, k, s, p, d, out, lost", UNCOVERED)
def test_note_floor_mode_drops_trailing_input(
    L: int, k: int, s: int, p: int, d: int, out: int, lost: int
) -> None:
    notes = notes_of("MaxPool1d", (k, s, p, d), {}, (1, 1, L))
    exact = (L + 2 * p - d * (k - 1) - 1) / s + 1
    if lost:
        assert notes == [f"L: {exact:g} → {out}, last {lost} not covered"]
    else:
        assert notes == []


def test_note_2d_names_the_axis() -> None:
    # torch: MaxPool2d((2, 3)) on 7×9 → 3×3; H reaches rows 0-5, W reaches all 9 columns
    assert notes_of("MaxPool2d", ((2, 3),), {}, (1, 3, 7, 9)) == ["H: 3.5 → 3, last 1 not covered"]


# (L, k, s, d, floor out, ceil out): ceil_mode adds a window that runs past the end;
# torch's last index shows where it starts being cut off (1 position past the end each)
PARTIAL = [
    (5, 2, 2, 1, 2, 3),
    (2, 3, 2, 1, 0, 1),
    (10, 3, 3, 2, 2, 3),
    (6, 4, 3, 1, 1, 2),
]


@pytest.mark.parametrize("L, k, s, d, floor, ceil", PARTIAL)
def test_note_ceil_mode_partial_window(
    L: int, k: int, s: int, d: int, floor: int, ceil: int
) -> None:
    notes = notes_of("MaxPool1d", (k, s, 0, d), {"ceil_mode": True}, (1, 1, L))
    exact = (L - d * (k - 1) - 1) / s + 1
    assert notes == [
        f"L: {exact:g} → {ceil} with ceil_mode, the last window is partial (1 of its {k} positions past the end of the input)"
    ]


def test_note_ceil_mode_adds_no_window_in_padding() -> None:
    # torch: MaxPool2d(2, 2, 1, ceil_mode=True) on 5×5 → 3×3, not 4×4
    assert notes_of("MaxPool2d", (2, 2, 1), {"ceil_mode": True}, (1, 1, 5, 5)) == [
        "H: 3.5 → 3, ceil_mode adds no window: it would start in the right padding",
        "W: 3.5 → 3, ceil_mode adds no window: it would start in the right padding",
    ]
    # torch: MaxPool1d(1, 3, ceil_mode=True) on 3 → 1: elements 1 and 2 are never read
    assert notes_of("MaxPool1d", (1, 3), {"ceil_mode": True}, (1, 1, 3)) == [
        "L: 1.66667 → 1, last 2 not covered (ceil_mode adds no window: it would start in the right padding)"
    ]


def test_no_notes_when_exact() -> None:
    assert notes_of("MaxPool2d", (2,), {}, (1, 3, 4, 4)) == []
    assert notes_of("AvgPool2d", (3, 2), {"ceil_mode": True}, (1, 3, 5, 5)) == []
    assert notes_of("AdaptiveAvgPool2d", (7,), {}, (1, 3, 224, 224)) == []
    assert notes_of("AdaptiveAvgPool2d", ((None, 2),), {}, (1, 3, 5, 4)) == []


def test_notes_adaptive() -> None:
    # bins from BINS above: 5 → 3 has bins of 2, 3, 2 elements; 5 → 4 all of 2; 5 → 7 of 1-2
    assert notes_of("AdaptiveAvgPool2d", ((3, 4),), {}, (1, 3, 5, 5)) == [
        "H: 5 → 3, bins of 2–3 elements, overlapping",
        "W: 5 → 4, bins of 2 elements, overlapping",
    ]
    assert notes_of("AdaptiveMaxPool1d", (7,), {}, (1, 3, 5)) == [
        "L: 5 → 7 (out > in: input elements repeat), bins of 1–2 elements, overlapping"
    ]
    assert notes_of("AdaptiveAvgPool2d", ((0, None),), {}, (1, 3, 5, 5)) == [
        "H: output size 0, the output is empty"
    ]


def test_note_return_indices() -> None:
    for name, args in (("MaxPool2d", (2,)), ("AdaptiveMaxPool2d", (2,))):
        notes = notes_of(name, args, {"return_indices": True}, (1, 3, 4, 4))
        assert notes == [
            "return_indices=True returns (output, indices): in nn.Sequential the next layer receives a tuple"
        ]


# ------------------------------------------------------------------ errors
# (type, args, kwargs, input, argument, dim); torch raises for every row (message in the comment)
ERRORS = [
    ("MaxPool2d", [0], {}, (1, 1, 5, 5), "kernel_size", None),  # stride should not be zero
    # torch: kernel size should be greater than zero
    ("MaxPool2d", [-1], {}, (1, 1, 5, 5), "kernel_size", None),
    # torch: max_pool1d() kernel_size must be greater than zero
    ("MaxPool1d", [0], {}, (1, 1, 5), "kernel_size", None),
    ("AvgPool2d", [0], {}, (1, 1, 5, 5), "kernel_size", None),
    ("AvgPool3d", [(2, 0, 2)], {}, (1, 1, 5, 5, 5), "kernel_size", None),
    ("MaxPool2d", [2, 0], {}, (1, 1, 5, 5), "stride", None),  # stride should not be zero
    # torch: stride should be greater than zero
    ("MaxPool2d", [2, (1, -1)], {}, (1, 1, 5, 5), "stride", None),
    ("AvgPool2d", [2, -1], {}, (1, 1, 5, 5), "stride", None),
    ("AvgPool1d", [2, 0], {}, (1, 1, 5), "stride", None),
    # torch: dilation should be greater than zero
    ("MaxPool2d", [2], {"dilation": 0}, (1, 1, 5, 5), "dilation", None),
    ("MaxPool3d", [2], {"dilation": -1}, (1, 1, 5, 5, 5), "dilation", None),
    ("MaxPool2d", [2], {"padding": -1}, (1, 1, 5, 5), "padding", None),  # pad must be non-negative
    ("AvgPool2d", [3], {"padding": -1}, (1, 1, 5, 5), "padding", None),
    # torch: pad should be at most half of ...
    ("MaxPool2d", [2], {"padding": 2}, (1, 1, 5, 5), "padding", None),
    ("MaxPool2d", [(3, 2)], {"padding": (1, 2)}, (1, 1, 5, 5), "padding", None),
    ("AvgPool2d", [2], {"padding": 2}, (1, 1, 5, 5), "padding", None),
    ("AvgPool1d", [1], {"padding": 1}, (1, 1, 5), "padding", None),
    # the padding limit uses the plain kernel, even when dilation makes the window wider
    ("MaxPool2d", [2], {"padding": 2, "dilation": 3}, (1, 1, 9, 9), "padding", None),
    ("MaxPool1d", [1], {"padding": 1, "dilation": 3}, (1, 1, 9), "padding", None),
    ("MaxPool1d", [3], {"padding": 2, "dilation": 2}, (1, 1, 9), "padding", None),
    # torch: divisor must be not zero
    ("AvgPool2d", [2], {"divisor_override": 0}, (1, 1, 5, 5), "divisor_override", None),
    ("AvgPool3d", [2], {"divisor_override": 0}, (1, 1, 5, 5, 5), "divisor_override", None),
    # Output size is too small (max_pool1d: Invalid computed output size: 0)
    ("MaxPool2d", [6], {}, (1, 1, 5, 5), "kernel_size", 2),
    ("MaxPool2d", [3], {"dilation": 3}, (1, 1, 5, 5), "kernel_size", 2),
    ("MaxPool2d", [(1, 6)], {}, (1, 1, 5, 5), "kernel_size", 3),
    ("MaxPool2d", [4], {"stride": 2, "ceil_mode": True}, (1, 1, 2, 2), "kernel_size", 2),
    ("MaxPool1d", [6], {}, (1, 1, 5), "kernel_size", 2),
    ("MaxPool1d", [6], {"return_indices": True}, (1, 1, 5), "kernel_size", 2),
    ("AvgPool1d", [6], {}, (1, 1, 5), "kernel_size", 2),
    ("MaxPool3d", [6], {}, (1, 5, 5, 5), "kernel_size", 1),
    # AvgPool3d: input (T, H, W) smaller than kernel size, even with padding
    ("AvgPool3d", [3], {"padding": 1}, (1, 1, 2, 4, 4), "kernel_size", 2),
    ("AvgPool3d", [(1, 3, 3)], {"padding": (0, 1, 1)}, (1, 1, 1, 2, 2), "kernel_size", 3),
    ("AvgPool3d", [3], {"padding": 1, "ceil_mode": True}, (1, 2, 2, 2), "kernel_size", 1),
    # wrong rank
    ("MaxPool1d", [2], {}, (5,), "input", None),
    ("MaxPool1d", [2], {}, (1, 1, 5, 5), "input", None),
    ("MaxPool2d", [2], {}, (5, 5), "input", None),
    ("MaxPool2d", [2], {}, (1, 1, 1, 5, 5), "input", None),
    ("MaxPool3d", [2], {}, (5, 5, 5), "input", None),
    ("AvgPool1d", [2], {}, (1, 1, 1, 5), "input", None),
    ("AvgPool2d", [2], {}, (1, 1, 1, 5, 5), "input", None),
    ("AvgPool2d", [1], {}, (5, 5), "input", None),  # torch: IndexError
    ("AvgPool3d", [2], {}, (5, 5, 5), "input", None),
    ("AdaptiveAvgPool1d", [1], {}, (1, 1, 1, 5), "input", None),
    ("AdaptiveAvgPool1d", [3], {}, (5,), "input", None),
    ("AdaptiveAvgPool2d", [2], {}, (5, 5), "input", None),
    ("AdaptiveAvgPool2d", [2], {}, (2, 3, 4, 5, 6), "input", None),
    # torch: Input dimension should be at least 3
    ("AdaptiveAvgPool2d", [(1, 1)], {}, (5, 5), "input", None),
    ("AdaptiveAvgPool2d", [(None, 1)], {}, (2, 2, 2, 2, 4), "input", None),
    ("AdaptiveAvgPool3d", [1], {}, (5, 5), "input", None),  # torch: IndexError
    ("AdaptiveAvgPool3d", [2], {}, (3, 4, 5), "input", None),
    ("AdaptiveMaxPool2d", [1], {}, (4, 5), "input", None),
    ("AdaptiveMaxPool2d", [1], {}, (1, 2, 3, 5, 5), "input", None),
    ("AdaptiveMaxPool3d", [1], {}, (3, 4, 5), "input", None),
    # negative output sizes (0 is allowed)
    ("AdaptiveAvgPool2d", [-1], {}, (1, 1, 5, 5), "output_size", None),
    ("AdaptiveMaxPool2d", [(2, -3)], {}, (1, 1, 5, 5), "output_size", None),
    ("AdaptiveAvgPool1d", [-2], {}, (1, 1, 5), "output_size", None),
    ("AdaptiveMaxPool3d", [(None, -1, 2)], {}, (1, 1, 5, 5, 5), "output_size", None),
    # zero sizes other than the batch size (they can come from an earlier layer)
    ("MaxPool2d", [1], {}, (1, 0, 5, 5), "input", 1),
    ("MaxPool2d", [1], {}, (0, 5, 5), "input", 0),
    ("AvgPool3d", [1], {}, (1, 1, 0, 5, 5), "input", 2),
    ("AdaptiveMaxPool2d", [2], {}, (1, 0, 5, 5), "input", 1),
    ("AdaptiveAvgPool3d", [2], {}, (1, 0, 5, 5, 5), "input", 1),
    ("AdaptiveAvgPool2d", [2], {}, (1, 1, 0, 5), "input", 2),
    ("AdaptiveMaxPool1d", [1], {}, (1, 1, 0), "input", 2),
]


@pytest.mark.parametrize("name, args, kwargs, x, argument, dim", ERRORS)
def test_errors(
    name: str, args: list[Any], kwargs: dict[str, Any], x: Shape, argument: str, dim: int | None
) -> None:
    err = error_of(name, args, kwargs, x)
    assert err.argument == argument
    assert err.dim == dim
    assert "\n" not in str(err)


def test_construction_errors_come_from_check() -> None:
    """Rules that do not depend on the input are found before any shape is known."""
    for name, args, kwargs in [
        ("MaxPool2d", (0,), {}),
        ("MaxPool2d", (2,), {"padding": 2}),
        ("AvgPool2d", (2,), {"divisor_override": 0}),
        ("AdaptiveAvgPool2d", (-1,), {}),
    ]:
        with pytest.raises(ShapeError):
            build(name, *args, **kwargs).check()


def test_error_messages() -> None:
    err = error_of("MaxPool2d", [2], {"padding": 2, "dilation": 3}, (1, 1, 9, 9))
    assert str(err) == (
        "padding must be at most half the kernel size: H has padding 2 with kernel_size 2 "
        "(the limit uses the undilated kernel_size, even with dilation)"
    )
    assert err.expected == "at most 1" and err.got == 2
    assert err.hint == "use padding 1 or less, or a kernel_size of at least 4"

    err = error_of("MaxPool2d", [6], {}, (1, 1, 5, 5))
    assert str(err) == (
        "output size is too small: input (5, 5) gives (0, 0); on H the window spans 6, "
        "the padded input is 5 + 2·0 = 5"
    )
    assert err.expected == "H of at least 6" and err.got == 5
    assert err.hint

    # with ceil_mode a window of 4 with stride 3 fits a 2-element input (torch: 1×1)
    err = error_of("MaxPool2d", [4], {"stride": 2, "ceil_mode": True}, (1, 1, 2, 2))
    assert err.expected == "H of at least 3"

    # the smallest working input, found without trying every size (instant for any kernel)
    err = error_of("MaxPool1d", [10**8], {"dilation": 10**8}, (1, 1, 9))
    assert err.expected == f"L of at least {10**8 * (10**8 - 1) + 1}"
    for k, s, p, d, ceil in itertools.product([2, 3, 5], [1, 2, 3], [0, 1], [1, 2], [False, True]):
        if p > k // 2 or pool_out(1, k, s, p, d, ceil) >= 1:
            continue
        smallest = next(m for m in range(1, 64) if pool_out(m, k, s, p, d, ceil) >= 1)
        err = error_of(
            "MaxPool1d",
            [k],
            {"stride": s, "padding": p, "dilation": d, "ceil_mode": ceil},
            (1, 1, 1),
        )
        assert err.expected == f"L of at least {smallest}"

    err = error_of("AvgPool3d", [3], {"padding": 1}, (1, 1, 2, 4, 4))
    assert str(err) == (
        "input smaller than kernel_size: D is 2, kernel_size 3 "
        "(AvgPool3d requires this even with padding or ceil_mode)"
    )

    err = error_of("AvgPool2d", [2], {"divisor_override": 0}, (1, 1, 4, 4))
    assert str(err) == "divisor_override must not be zero" and err.hint

    err = error_of("MaxPool2d", [2], {"stride": (1, 0)}, (1, 1, 4, 4))
    assert str(err) == "stride must be positive, got (1, 0)"

    err = error_of("AdaptiveAvgPool2d", [(2, -1)], {}, (1, 1, 4, 4))
    assert str(err) == "output_size must be non-negative, got (2, -1)"

    err = error_of("MaxPool2d", [2], {}, (5, 5))
    assert str(err) == "expects a 3D (C, H, W) or 4D (N, C, H, W) input, receives 2D (5, 5)"

    err = error_of("MaxPool2d", [1], {}, (1, 0, 5, 5))
    assert (
        str(err) == "expects non-zero sizes except the batch size, receives (1, 0, 5, 5) with C = 0"
    )


# (type, args, kwargs): forms torch rejects with a TypeError or an argument-form error
BAD_VALUES = [
    ("MaxPool2d", [2.0], {}, "kernel_size"),
    ("MaxPool2d", [True], {}, "kernel_size"),
    ("MaxPool2d", [(2, 2, 2)], {}, "kernel_size"),
    ("MaxPool2d", [()], {}, "kernel_size"),
    ("MaxPool1d", [(2, 2)], {}, "kernel_size"),
    ("MaxPool2d", [2], {"padding": ()}, "padding"),
    ("MaxPool2d", [2], {"dilation": ()}, "dilation"),
    ("MaxPool2d", [2], {"stride": 1.5}, "stride"),
    ("MaxPool2d", [2], {"ceil_mode": 1}, "ceil_mode"),
    ("AvgPool2d", [2], {"count_include_pad": 0}, "count_include_pad"),
    ("AvgPool2d", [2], {"divisor_override": 2.0}, "divisor_override"),
    ("AvgPool2d", [2], {"divisor_override": True}, "divisor_override"),
    ("AvgPool1d", [2], {"divisor_override": 2}, "divisor_override"),  # AvgPool1d has none
    ("AdaptiveAvgPool2d", [None], {}, "output_size"),
    ("AdaptiveAvgPool2d", [(3,)], {}, "output_size"),
    ("AdaptiveAvgPool2d", [(2, 2, 2)], {}, "output_size"),
    ("AdaptiveAvgPool1d", [None], {}, "output_size"),
    ("AdaptiveAvgPool1d", [(None,)], {}, "output_size"),
    ("AdaptiveMaxPool3d", [2.0], {}, "output_size"),
    ("AdaptiveAvgPool2d", [True], {}, "output_size"),
]


@pytest.mark.parametrize("name, args, kwargs, argument", BAD_VALUES)
def test_bad_values_are_spec_errors(
    name: str, args: list[Any], kwargs: dict[str, Any], argument: str
) -> None:
    with pytest.raises(SpecError) as info:
        lookup(name).build(args, kwargs)
    assert info.value.argument == argument


def test_missing_and_unknown_arguments() -> None:
    with pytest.raises(SpecError) as info:
        lookup("MaxPool2d").build((), {})
    assert info.value.argument == "kernel_size"
    with pytest.raises(SpecError) as info:
        lookup("AdaptiveAvgPool2d").build((), {})
    assert info.value.argument == "output_size"
    with pytest.raises(SpecError):
        lookup("AdaptiveAvgPool2d").build((7, True), {})  # no return_indices
    with pytest.raises(SpecError):
        lookup("MaxPool2d").build((2, 2, 0, 1, False, False, "extra"), {})


# ----------------------------------------------------------- through the spec
def test_call_strings_and_analyze() -> None:
    spec = spec_from_strings(
        [
            "Conv2d(3, 8, 3)",
            "nn.MaxPool2d(2, ceil_mode=True)",
            "AvgPool2d(kernel_size=(2, 2), stride=None, divisor_override=3)",
            "AdaptiveMaxPool2d((None, 1), return_indices=False)",
            "Flatten()",
        ],
        (1, 3, 9, 9),
    )
    report = analyze(spec)
    assert report.ok
    # torch: (1, 8, 7, 7) → MaxPool2d(2, ceil_mode=True) → (1, 8, 4, 4) → AvgPool2d(2) → (1, 8, 2, 2)
    #        → AdaptiveMaxPool2d((None, 1)) → (1, 8, 2, 1) → Flatten → (1, 16)
    assert [r.output_shape for r in report.rows] == [
        (1, 8, 7, 7),
        (1, 8, 4, 4),
        (1, 8, 2, 2),
        (1, 8, 2, 1),
        (1, 16),
    ]
    assert [r.params for r in report.rows[1:4]] == [0, 0, 0]
    assert [r.macs for r in report.rows[1:4]] == [0, 0, 0]
    assert report.rows[1].notes == (
        "H: 3.5 → 4 with ceil_mode, the last window is partial (1 of its 2 positions past the end of the input)",
        "W: 3.5 → 4 with ceil_mode, the last window is partial (1 of its 2 positions past the end of the input)",
    )


def test_analyze_reports_pool_error_with_location() -> None:
    report = analyze(
        spec_from_strings(["Conv2d(3, 8, 3)", "MaxPool2d(2)", "MaxPool2d(4)"], (1, 3, 9, 9))
    )
    assert not report.ok
    (problem,) = report.errors
    assert problem.index == 2 and problem.argument == "kernel_size"
    assert "output size is too small" in problem.message
    assert problem.hint and "10×10" in problem.hint  # torch: 10×10 → 8 → 4 → 1


def test_resize_hint_from_adaptive_pool() -> None:
    report = analyze(spec_from_strings(["AdaptiveAvgPool1d(3)", "Linear(5, 2)"], (1, 4, 10)))
    (problem,) = report.errors
    assert problem.hint and "set output_size: 5 in layer 0 '0'" in problem.hint


def test_call_string_round_trip() -> None:
    assert (
        build("MaxPool2d", 3, 2, 1).call_string() == "MaxPool2d(kernel_size=3, stride=2, padding=1)"
    )
    assert build("MaxPool2d", (3,), stride=()).call_string() == "MaxPool2d(kernel_size=3)"
    assert (
        build("AdaptiveAvgPool2d", [None, 7]).call_string()
        == "AdaptiveAvgPool2d(output_size=(None, 7))"
    )
    assert build("AvgPool3d", (1, 2, 2), divisor_override=4).call_string() == (
        "AvgPool3d(kernel_size=(1, 2, 2), divisor_override=4)"
    )


@pytest.mark.parametrize("name", ["MaxPool2d", "AvgPool2d", "LPPool2d"])
def test_resolved_arguments_spell_the_stride_out(name: str) -> None:
    """torch stores a stride left out as the kernel size: MaxPool2d(2) is MaxPool2d(2, 2)."""
    lead = (2.0,) if name == "LPPool2d" else ()
    left_out = build(name, *lead, (2, 3)).resolved_args()
    written = build(name, *lead, (2, 3), (2, 3)).resolved_args()
    assert left_out["stride"] == (2, 3) and left_out == written
    assert build(name, *lead, 2, 1).resolved_args()["stride"] == (1, 1)


def test_resolved_arguments_fill_in_what_comes_from_the_input() -> None:
    conv = build("LazyConv2d", 8, 3)
    assert conv.resolved_args((1, 5, 9, 9))["in_channels"] == 5
    assert conv.resolved_args().get("in_channels") is None
    assert build("Conv2d", 4, 8, 3).resolved_args((1, 5, 9, 9))["in_channels"] == 4
