"""convcalc: shapes, parameters and MACs of convolutional networks, with PyTorch's semantics."""

from __future__ import annotations

__version__ = "0.1.0"

from .analyze import Report, analyze
from .errors import ConvcalcError, ShapeError, SpecError
from .spec import Spec, load_spec, spec_from_data, spec_from_strings

__all__ = [
    "ConvcalcError",
    "Report",
    "ShapeError",
    "Spec",
    "SpecError",
    "__version__",
    "analyze",
    "load_spec",
    "spec_from_data",
    "spec_from_strings",
]
