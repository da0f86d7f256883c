"""export → import gives back the model: every built-in model and every example that export
can write, exported as PyTorch source, run as Python, built and imported again with
``convcalc.from_torch``, has the same expanded layers (names, types, arguments as the layer
uses them, ``from``) and the same totals (parameters, MACs). Blocks and ``$expressions`` need
not survive, nor the name of a merge (Add, Mul, Concat): torch has no module for it, so the
import names it by its op under the module whose forward computes it (``add``, ``mul``,
``cat``); merges are matched by position and every ``from`` that reads one is compared
through that match. What export cannot write is listed with the reason, which is asserted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_zoo_forward import small_input

from convcalc import analyze, from_torch, load_spec, to_torch_source
from convcalc.errors import ConvcalcError
from convcalc.layers.merge import Merge
from convcalc.model import INPUT, Spec
from convcalc.shape import Shape
from convcalc.torchexport import eager_type

torch = pytest.importorskip("torch")

from torch_bridge import built, on_one_thread  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted((ROOT / "convcalc" / "models" / "zoo").glob("*.yaml")) + sorted(
    (ROOT / "examples").glob("*.yaml")
)

#: the configs export cannot write, and the first words of why (asserted)
NOT_EXPRESSIBLE = {
    # the example shows convcalc's error for a wrong model: there is no model to write
    "lenet-64": "layer 7 'fc1' (Linear): expects 400 input features, receives 2704",
}


@pytest.fixture(autouse=True)
def one_thread() -> Any:
    yield from on_one_thread(torch)


def exported_module(spec: Spec, shape: Shape) -> Any:
    """The module export writes for ``spec``, built by running its source."""
    return built(to_torch_source(spec, "Exported", shape), "Exported")


def expanded(spec: Spec, shape: Shape) -> tuple[list[tuple[Any, ...]], int | None, int | None]:
    """The expanded layers (name, type, every argument resolved, what it reads, whether it is
    a merge) and the totals at ``shape``. A Lazy type is the type it stands for."""
    report = analyze(spec, shape)
    assert report.ok, report.errors
    layers = []
    for entry, row in zip(spec.layers, report.rows):
        eager = eager_type(type(entry.layer))
        resolved = entry.layer.resolved_args(row.input_shape)
        args = {a.name: resolved.get(a.name) for a in eager.ARGS}
        merge = isinstance(entry.layer, Merge)
        layers.append((entry.name, eager.type_name, args, entry.inputs, merge))
    return layers, report.totals.params, report.totals.macs


def renamed(back: list[tuple[Any, ...]], want: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The import's layers with each merge named as the config names the merge at its place
    (and every read of it renamed so)."""
    names = {INPUT: INPUT}
    for got, expected in zip(back, want):
        names[got[0]] = expected[0] if got[4] and expected[4] else got[0]
    return [
        (names[name], type_name, args, tuple(names.get(i, i) for i in inputs), merge)
        for name, type_name, args, inputs, merge in back
    ]


EXPRESSIBLE = [p for p in CONFIGS if p.stem not in NOT_EXPRESSIBLE]


@pytest.mark.parametrize("path", EXPRESSIBLE, ids=[p.stem for p in EXPRESSIBLE])
def test_export_then_import_gives_the_same_model(path: Path) -> None:
    spec = load_spec(str(path))
    shape = small_input(spec)
    want, params, macs = expanded(spec, shape)
    back, back_params, back_macs = expanded(from_torch(exported_module(spec, shape), shape), shape)
    assert len(back) == len(want)
    got = renamed(back, want)
    for layer, expected in zip(got, want):
        assert layer == expected
    assert (back_params, back_macs) == (params, macs)
    assert params == sum(p.numel() for p in exported_module(spec, shape).parameters())


@pytest.mark.parametrize("stem", sorted(NOT_EXPRESSIBLE))
def test_what_export_cannot_write_says_why(stem: str) -> None:
    path = next(p for p in CONFIGS if p.stem == stem)
    spec = load_spec(str(path))
    with pytest.raises(ConvcalcError) as caught:
        to_torch_source(spec)
    assert str(caught.value).startswith(NOT_EXPRESSIBLE[stem])


def test_every_config_is_tried() -> None:
    """The two lists cover every config, and every reason names a config that exists."""
    assert set(NOT_EXPRESSIBLE) <= {p.stem for p in CONFIGS}
    assert len(EXPRESSIBLE) + len(NOT_EXPRESSIBLE) == len(CONFIGS) >= 30
