"""Layer types, one module per family; importing this package fills the registry."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Type

# registration order is the order `convcalc layers` and the README list them in
from . import conv, linear, pool, norm, activation, resize  # noqa: F401,I001
from .base import REGISTRY, Arg, Layer, lookup


def catalog(type_name: Optional[str] = None) -> List[Dict[str, Any]]:
    """Every registered type (or one) with its arguments, forms, defaults and a worked example."""
    types = [lookup(type_name)] if type_name else list(REGISTRY.values())
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


def _example(cls: Type[Layer]) -> Dict[str, Any]:
    positional, keywords, x = cls.example()
    args = [repr(v) for v in positional] + [f"{k}={v!r}" for k, v in keywords.items()]
    return {
        "call": f"{cls.type_name}({', '.join(args)})",
        "input": list(x),
        "output": list(cls.build(positional, keywords).out_shape(x)),
    }


__all__ = ["REGISTRY", "Arg", "Layer", "catalog", "lookup"]
