"""Layer types, one module per family; importing this package fills the registry."""

from . import activation, conv, linear, norm, pool, resize  # noqa: F401  (registration)
from .base import REGISTRY, Arg, Layer, lookup

__all__ = ["REGISTRY", "Arg", "Layer", "lookup"]
