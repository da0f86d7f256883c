"""convcalc: shapes, parameters and MACs of convolutional networks, with PyTorch's semantics.

The public names are loaded on first use, so that ``import convcalc`` (and ``--version``)
costs nothing: the layer types, yaml and numpy come in only with what needs them. (The
analysis lives in ``convcalc.analysis``, so that no submodule hides ``convcalc.analyze``.)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import ConvcalcError, ShapeError, SpecError

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .analysis import Report, analyze
    from .forward import run_forward
    from .model import Spec
    from .spec import load_spec, spec_from_data, spec_from_strings
    from .torchexport import to_torch_source
    from .torchimport import from_torch

#: public name → the module that defines it
_LAZY = {
    "Report": "analysis",
    "analyze": "analysis",
    "Spec": "model",
    "load_spec": "spec",
    "spec_from_data": "spec",
    "spec_from_strings": "spec",
    "run_forward": "forward",  # imports numpy
    "to_torch_source": "torchexport",
    "from_torch": "torchimport",  # imports torch when called
}

__all__ = [
    "ConvcalcError",
    "Report",
    "ShapeError",
    "Spec",
    "SpecError",
    "__version__",
    "analyze",
    "from_torch",
    "load_spec",
    "run_forward",
    "spec_from_data",
    "spec_from_strings",
    "to_torch_source",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'convcalc' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
