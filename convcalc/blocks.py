"""Reusable blocks: the ``blocks:`` mapping of a config, read into definitions, and the
binding of a block's ``$parameters`` where a layer list uses it (graph.py expands it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import SpecError
from .expr import substitute
from .layers.base import REGISTRY, did_you_mean
from .model import place

BLOCK_KEYS = ("params", "layers")
#: how deeply blocks may use blocks
MAX_BLOCK_DEPTH = 32


@dataclass(frozen=True)
class BlockDef:
    name: str
    params: dict[str, Any]
    layers: list[Any]
    where: Callable[[int | None], str | None]
    line: int | None = None


_REQUIRED = object()


def read_blocks(
    data: Any, at: Callable[[int | None], str | None], line: int | None = None
) -> dict[str, BlockDef]:
    """The ``blocks:`` mapping: name → {params: {...}, layers: [...]} (or just a list of layers)."""
    if not isinstance(data, dict):
        raise SpecError(
            "blocks must be a mapping of block names to definitions", location=place(at, line)
        )
    lines = getattr(data, "key_lines", {})
    cols = getattr(data, "key_cols", {})
    blocks = {}
    for name, body in data.items():
        where = place(at, lines.get(name), cols.get(name))
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_]\w*", name):
            raise SpecError(f"block name {name!r} must be an identifier", location=where)
        if name in REGISTRY:
            raise SpecError(
                f"block name {name!r} is a layer type", location=where, hint="choose another name"
            )
        if isinstance(body, list):
            body = {"layers": body}
        if not isinstance(body, dict):
            raise SpecError(
                f"block {name} must be a mapping with 'params' and 'layers'", location=where
            )
        for key in body:
            if key not in BLOCK_KEYS:
                raise SpecError(
                    f"block {name} has an unknown key {key!r}",
                    location=place(
                        at,
                        getattr(body, "key_lines", {}).get(key),
                        getattr(body, "key_cols", {}).get(key),
                    ),
                    hint=did_you_mean(str(key), BLOCK_KEYS) or "a block has params and layers",
                )
        params = body.get("params") or {}
        if isinstance(params, list) and all(isinstance(p, str) for p in params):
            params = {p: None for p in params}
        if not isinstance(params, dict) or not all(
            isinstance(p, str) and p.isidentifier() for p in params
        ):
            raise SpecError(
                f"block {name}: params must map parameter names to defaults (null: required)",
                location=where,
            )
        layers = body.get("layers")
        if not isinstance(layers, list) or not layers:
            raise SpecError(f"block {name} needs a non-empty 'layers' list", location=where)
        defaults = {p: (_REQUIRED if v is None else v) for p, v in params.items()}
        blocks[name] = BlockDef(name, defaults, layers, at, lines.get(name))
    return blocks


def bind(block: BlockDef, positional: Sequence[Any], keywords: Mapping[str, Any]) -> dict[str, Any]:
    names = list(block.params)
    if len(positional) > len(names):
        raise SpecError(
            f"block {block.name} takes {len(names)} parameter{'s' if len(names) != 1 else ''} "
            f"({', '.join(names) or 'none'}), {len(positional)} given positionally"
        )
    bound = dict(zip(names, positional))
    for key, value in keywords.items():
        if key not in block.params:
            raise SpecError(
                f"block {block.name} has no parameter {key!r}",
                argument=key,
                hint=did_you_mean(key, names)
                or f"its parameters are: {', '.join(names) or 'none'}",
            )
        if key in bound:
            raise SpecError(f"block {block.name} got {key} twice", argument=key)
        bound[key] = value
    for key, default in block.params.items():
        if key not in bound:
            if default is _REQUIRED:
                raise SpecError(
                    f"block {block.name} needs parameter {key}",
                    argument=key,
                    hint=f"add {key}: <value>",
                )
            # a default may be computed from the parameters before it: {k: 3, p: $k // 2}
            bound[key] = substitute(
                default, {n: bound[n] for n in names[: names.index(key)] if n in bound}
            )
    return {n: bound[n] for n in names}


def most_layers(
    blocks: Mapping[str, BlockDef],
    name: str,
    memo: dict[str, int],
    limit: int,
    stack: tuple[str, ...] = (),
) -> int:
    """The most layers one use of ``name`` can make, counted before expanding it (1 for a
    layer type): each entry of a block its literal ``repeat:`` times (a ``$parameter`` count
    once: it is checked when bound), a block inside by its own count; above ``limit``, just
    ``limit + 1`` (the product can grow without bound). A block that uses itself counts once
    (that is an error of its own). ``memo`` keeps each block's count."""
    if name not in blocks or name in stack or len(stack) >= MAX_BLOCK_DEPTH:
        return 1
    if name in memo:
        return memo[name]
    total = 0
    for raw in blocks[name].layers:
        repeat = raw.get("repeat", 1) if isinstance(raw, dict) else 1
        if not isinstance(repeat, int) or isinstance(repeat, bool) or repeat < 1:
            repeat = 1
        total += repeat * most_layers(blocks, type_of(raw) or "", memo, limit, stack + (name,))
        if total > limit:
            total = limit + 1
            break
    memo[name] = total
    return total


def type_of(raw: Any) -> str | None:
    """The type an entry names, if it can be told without reading it."""
    text = raw
    if isinstance(raw, dict):
        text = raw.get("type") if "type" in raw else next(iter(raw.values()), None)
    if not isinstance(text, str):
        return None
    match = re.match(r"\s*(?:[A-Za-z_]\w*\.)*([A-Za-z_]\w*)", text)
    return match.group(1) if match else None
