"""What a config pins about its model: budgets (``limits:``) and figures (``expect:``).

``limits:`` caps the parameters, trainable parameters, MACs and peak activation memory;
``expect:`` pins the output shape, parameters, trainable parameters and MACs, so that a
change that alters one fails ``convcalc check`` with the old and the new value. Both are
read here, with the place of each value for messages and annotations; ``check`` compares.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import SpecError, Where
from .layers.base import did_you_mean
from .quantities import parse_bytes, parse_count

#: the budgets a config or ``check`` may set, and how their values read
LIMIT_KEYS = ("params", "trainable_params", "macs", "peak_memory")
#: the figures ``expect:`` may pin, in the order ``--update-expect`` writes them
EXPECT_KEYS = ("output_shape", "params", "trainable_params", "macs")


@dataclass(frozen=True)
class Pins:
    """A config's ``limits:`` and ``expect:`` (empty when it has none), with where each is."""

    limits: Mapping[str, int] = field(default_factory=dict)
    expect: Mapping[str, Any] = field(default_factory=dict)
    #: ``limits.params`` → its place in the file (and ``limits``, ``expect`` for the blocks)
    places: Mapping[str, Where | None] = field(default_factory=dict, compare=False)


NONE = Pins()


def read_limit(key: str, value: object, what: str) -> int:
    """One budget's value: a count (``5M``) or, for ``peak_memory``, a size (``200MiB``)."""
    if key == "peak_memory":
        return parse_bytes(value, what)
    return parse_count(value, what)


def read_pins(data: Mapping[str, Any], place: Any) -> Pins:
    """``limits:`` and ``expect:`` of a config's top level. ``place(line, column)`` makes a
    place in the file; each mapping's ``key_lines``/``key_cols`` give its keys' lines."""
    limits: dict[str, int] = {}
    expect: dict[str, Any] = {}
    places: dict[str, Where | None] = {}
    top_lines = getattr(data, "key_lines", {})
    for block, keys in (("limits", LIMIT_KEYS), ("expect", EXPECT_KEYS)):
        if block not in data or data[block] is None:
            continue
        where = place(top_lines.get(block), None)
        places[block] = where
        raw = data[block]
        if not isinstance(raw, dict):
            raise SpecError(
                f"{block} must be a mapping of {', '.join(keys)}",
                location=where,
                hint=f"write e.g. {block}: {{{keys[1]}: 5000000}}",
            )
        lines, cols = getattr(raw, "key_lines", {}), getattr(raw, "key_cols", {})
        for key, value in raw.items():
            at = place(lines.get(key), cols.get(key))
            if key not in keys:
                raise SpecError(
                    f"unknown key {key!r} in {block}",
                    location=at,
                    hint=did_you_mean(str(key), keys) or f"the keys are: {', '.join(keys)}",
                )
            places[f"{block}.{key}"] = at
            try:
                if block == "limits":
                    limits[key] = read_limit(key, value, f"{block}.{key}")
                else:
                    expect[key] = _expected(key, value)
            except SpecError as exc:
                raise exc.at_location(at) from None
    return Pins(limits, expect, places)


def _expected(key: str, value: object) -> Any:
    if key == "output_shape":
        if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value
        ):
            raise SpecError(
                f"expect.output_shape must be a list of sizes, got {value!r:.60}",
                hint="write it like [1, 1000]",
            )
        return tuple(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SpecError(
            f"expect.{key} must be a whole number, got {value!r:.60}",
            hint="`convcalc check --update-expect` writes the block from the model",
        )
    return value


__all__ = ["EXPECT_KEYS", "LIMIT_KEYS", "NONE", "Pins", "read_limit", "read_pins"]
