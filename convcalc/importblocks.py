"""Repeated structure of an import as blocks."""

from __future__ import annotations

from typing import Any

from .yamlwrite import Block


def with_blocks(layers: list[Any]) -> tuple[list[dict[str, Any]], dict[str, Block]]:
    from .torchimport import entry

    return [entry(layer) for layer in layers], {}
