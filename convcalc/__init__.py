"""convcalc: shapes, parameters and MACs of convolutional networks, with PyTorch's semantics.

Reading files (yaml) and running networks (numpy) are loaded on first use: ``import
convcalc`` brings in the layer types and the analysis only. (``analyze`` is imported
eagerly: a lazy one would be hidden by the submodule of the same name once imported.)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .analyze import Report, analyze
from .errors import ConvcalcError, ShapeError, SpecError

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .forward import run_forward
    from .model import Spec
    from .spec import load_spec, spec_from_data, spec_from_strings

#: public name → the module that defines it
_LAZY = {
    "Spec": "model",
    "load_spec": "spec",
    "spec_from_data": "spec",
    "spec_from_strings": "spec",
    "run_forward": "forward",  # imports numpy
}

__all__ = [
    "ConvcalcError",
    "Report",
    "ShapeError",
    "Spec",
    "SpecError",
    "__version__",
    "analyze",
    "load_spec",
    "run_forward",
    "spec_from_data",
    "spec_from_strings",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'convcalc' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
