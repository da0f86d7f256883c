"""The layer classes keep their contract: every type is written out in convcalc/layers as a
class statement of its PyTorch name (so that searching for ``class Conv2d`` finds it), and the
capabilities a class declares match the methods it defines."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import convcalc.layers
from convcalc.layers import REGISTRY
from convcalc.layers.base import Layer
from convcalc.layers.pointwise import Pointwise
from convcalc.spec import spec_from_strings

LAYERS_DIR = Path(convcalc.layers.__file__).resolve().parent


def _class_statements() -> dict[str, list[Path]]:
    """Top-level class names in convcalc/layers, each with the files that define it."""
    found: dict[str, list[Path]] = {}
    for path in sorted(LAYERS_DIR.glob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef):
                found.setdefault(node.name, []).append(path)
    return found


CLASSES = _class_statements()


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_type_is_a_class_statement_of_its_name(name):
    cls = REGISTRY[name]
    assert CLASSES.get(name) == [Path(inspect.getsourcefile(cls)).resolve()]
    assert cls.__name__ == cls.__qualname__ == name
    source = inspect.getsource(cls)
    assert source.startswith(("@register\nclass " + name + "(", "class " + name + "("))


def test_every_registered_class_is_found():
    """The search above covers the 107 types, lazy variants included."""
    assert len(REGISTRY) == 107
    assert sum(1 for name in REGISTRY if name.startswith("Lazy")) == 13
    assert all(name in CLASSES for name in REGISTRY)


def _owner(cls: type, method: str) -> type:
    """The class in ``cls``'s MRO that defines ``method``."""
    return next(c for c in cls.__mro__ if method in vars(c))


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_a_type_that_reuses_its_input_writes_into_it_with_its_own_forward(name):
    """REUSES_INPUT makes the runner call forward_into instead of forward: both must be the
    same computation, so the class that defines forward defines forward_into too."""
    cls = REGISTRY[name]
    if cls.REUSES_INPUT:
        assert _owner(cls, "forward") is _owner(cls, "forward_into")
        assert _owner(cls, "forward_into") is not Layer
    else:
        assert _owner(cls, "forward_into") is Layer or _owner(cls, "forward") is not _owner(
            cls, "forward_into"
        )


POINTWISE = sorted(name for name, cls in REGISTRY.items() if issubclass(cls, Pointwise))


@pytest.mark.parametrize("name", POINTWISE)
def test_a_pointwise_type_declares_the_kernel_it_defines(name):
    cls = REGISTRY[name]
    defined = {hook for hook in ("fn", "into", "chain") if _owner(cls, hook) is not Pointwise}
    if cls.REUSES_INPUT:  # forward runs the declared hook
        assert cls.KERNEL in defined
        assert defined <= {cls.KERNEL, "fn"}  # a chain may fall back on fn, never the reverse


def test_pointwise_kernels_are_declared_by_kind():
    kinds = {name: REGISTRY[name].KERNEL for name in POINTWISE}
    assert sorted(n for n, k in kinds.items() if k == "into") == [
        "Hardtanh",
        "ReLU",
        "ReLU6",
        "Tanh",
    ]
    assert sorted(n for n, k in kinds.items() if k == "chain") == [
        "GELU",
        "Hardsigmoid",
        "Hardswish",
        "LeakyReLU",
        "SiLU",
        "Sigmoid",
    ]


@pytest.mark.parametrize(
    ("call", "inferred"),
    [
        ("Conv2d(3, 8, 3)", ()),
        ("Conv2d(out_channels=8, kernel_size=3)", ("in_channels",)),
        ("Conv2d(None, 8, 3)", ("in_channels",)),
        ("LazyConv2d(8, 3)", ("in_channels",)),
        ("LazyConvTranspose1d(8, 3)", ("in_channels",)),
        ("Linear(out_features=4)", ("in_features",)),
        ("LazyLinear(4)", ("in_features",)),
        ("BatchNorm2d(8)", ()),
        ("LazyBatchNorm2d()", ("num_features",)),
        ("LazyInstanceNorm3d()", ("num_features",)),
        ("ReLU()", ()),
    ],
)
def test_inferred_args_names_what_comes_from_the_input(call, inferred):
    layer = spec_from_strings([call], (1, 3, 8, 8)).layers[0].layer
    assert layer.inferred_args() == inferred
