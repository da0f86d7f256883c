"""Layer types, one module per family; importing this package fills the registry."""

from __future__ import annotations

from typing import Any, cast

from ..shape import Shape
from . import (
    activation,
    batch_norm,
    conv,
    dropout,
    linear,
    lp_pool,
    merge,
    norm,
    padding,
    pool,
    resize,
    shuffle,
    softmax,
)
from .arguments import Arg
from .base import REGISTRY, Layer, lookup

#: the order in which `convcalc layers` and docs/layers.md list the families (each module's
#: types in the order it registers them)
FAMILIES = (
    conv,
    linear,
    pool,
    lp_pool,
    batch_norm,
    norm,
    activation,
    softmax,
    dropout,
    resize,
    padding,
    shuffle,
    merge,
)


def catalog(type_name: str | None = None) -> list[dict[str, Any]]:
    """Every registered type (or one) with its arguments, forms, defaults and a worked example."""
    if type_name:
        types = [lookup(type_name)]
    else:
        order = {module.__name__: i for i, module in enumerate(FAMILIES)}
        types = sorted(REGISTRY.values(), key=lambda cls: order[cls.__module__])
    return [
        {
            "type": cls.type_name,
            "summary": cls.summary,
            "args": [
                {"name": a.name, "form": a.form, "default": a.describe_default()} for a in cls.ARGS
            ],
            "example": _example(cls),
        }
        for cls in types
    ]


def _example(cls: type[Layer]) -> dict[str, Any]:
    positional, keywords, x = cls.example()
    args = [repr(v) for v in positional] + [f"{k}={v!r}" for k, v in keywords.items()]
    return {
        "call": f"{cls.type_name}({', '.join(args)})",
        "input": list(x),
        # a merge's out_shape takes the shapes of its inputs, as its example gives them
        "output": list(cls.build(positional, keywords).out_shape(cast(Shape, x))),
    }


__all__ = ["REGISTRY", "Arg", "Layer", "catalog", "lookup"]
