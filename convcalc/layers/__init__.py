"""Layer types, one module per family; importing this package fills the registry."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from . import activation, conv, linear, norm, pool, resize  # noqa: F401  (registration)
from .base import REGISTRY, Arg, Layer, lookup


def catalog(type_name: Optional[str] = None) -> List[Dict[str, Any]]:
    """Every registered type (or one) with its arguments, forms and defaults, in registry order."""
    types = [lookup(type_name)] if type_name else list(REGISTRY.values())
    return [
        {
            "type": cls.type_name,
            "summary": cls.summary,
            "args": [
                {"name": a.name, "form": a.form, "default": a.describe_default()} for a in cls.ARGS
            ],
        }
        for cls in types
    ]


__all__ = ["REGISTRY", "Arg", "Layer", "catalog", "lookup"]
