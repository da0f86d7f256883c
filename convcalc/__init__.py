"""convcalc: shapes, parameters and MACs of convolutional networks, with PyTorch's semantics."""

from __future__ import annotations

from typing import Any

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
    "run_forward",
    "spec_from_data",
    "spec_from_strings",
]


def __getattr__(name: str) -> Any:
    """``convcalc.run_forward`` imports numpy on first use, so ``convcalc shape`` never pays for it."""
    if name == "run_forward":
        from .forward import run_forward

        return run_forward
    raise AttributeError(f"module 'convcalc' has no attribute {name!r}")
