"""Every layer type is written out in convcalc/layers as a class statement of its PyTorch name,
so that searching the source for ``class Conv2d`` finds it."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import convcalc.layers
from convcalc.layers import REGISTRY

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
