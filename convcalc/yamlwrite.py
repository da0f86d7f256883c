"""The one writer of configs: what ``shape --to-yaml`` and ``convcalc import`` print.

A config is written as its reader (spec.py) reads it: comment lines, ``name``, ``input``,
``blocks`` (each with ``params`` and ``layers``), then ``layers``. A layer that reads the
previous one is one ``name: Call(...)`` line; a layer with ``from:`` (or a block use) is a
one-line flow mapping ``{type: Add, name: add, from: [bn2, input]}``. A config written here
and read back gives the same expanded layers, which the round trip of ``export`` relies on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

#: no line is ever folded
_WIDE = 1 << 20


@dataclass(frozen=True)
class Block:
    """A block definition: its parameters (None: required) and its layers, as for a config."""

    params: Mapping[str, Any]
    layers: Sequence[Mapping[str, Any]]
    comment: str | None = None


@dataclass(frozen=True)
class Config:
    """What a written config holds. ``layers`` and a block's layers are entries: a one-key
    mapping ``{name: "Conv2d(...)"}``, or a mapping with ``type`` and the layer's keys."""

    layers: Sequence[Mapping[str, Any]]
    name: str | None = None
    input_shape: Sequence[int] | None = None
    comments: Sequence[str] = ()
    blocks: Mapping[str, Block] = field(default_factory=dict)
    #: the top-level ``ignore_weights:`` list (module names whose state_dict keys a run skips)
    ignore_weights: Sequence[str] = ()


def _plain(value: Any) -> Any:
    """Tuples as lists, for YAML."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _flow(value: Any) -> str:
    text: str = yaml.safe_dump(
        _plain(value), default_flow_style=True, allow_unicode=True, width=_WIDE, sort_keys=False
    )
    return text.removesuffix("\n...\n").rstrip("\n")


def entry_line(entry: Mapping[str, Any]) -> str:
    """One layer entry on one line (without the list's ``- ``)."""
    if len(entry) == 1 and "type" not in entry:
        text: str = yaml.safe_dump(
            {str(k): str(v) for k, v in entry.items()},
            default_flow_style=False,
            allow_unicode=True,
            width=_WIDE,
        )
        return text.rstrip("\n")
    return _flow(entry)


def dump_config(config: Config) -> str:
    """The config's YAML text."""
    lines = [f"# {c}" for c in config.comments]
    if config.name is not None:
        lines.append(yaml.safe_dump({"name": config.name}, width=_WIDE).rstrip("\n"))
    if config.input_shape is not None:
        lines.append(f"input: [{', '.join(map(str, config.input_shape))}]")
    if config.ignore_weights:
        lines.append(f"ignore_weights: {_flow(list(config.ignore_weights))}")
    if config.blocks:
        lines.append("blocks:")
        for block_name, block in config.blocks.items():
            if block.comment:
                lines.append(f"  # {block.comment}")
            lines.append(f"  {block_name}:")
            if block.params:
                lines.append(f"    params: {_flow(dict(block.params))}")
            lines.append("    layers:")
            lines += [f"    - {entry_line(e)}" for e in block.layers]
    lines.append("layers:")
    lines += [f"- {entry_line(e)}" for e in config.layers]
    return "\n".join(lines) + "\n"


__all__ = ["Block", "Config", "dump_config", "entry_line"]
