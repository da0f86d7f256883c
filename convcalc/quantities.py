"""Counts and sizes as people write them: ``5M`` parameters, ``1.2G`` MACs, ``200MiB``.

A count takes k, M, G or T (powers of 1,000, as a parameter count is said); a size in bytes
takes K, M, G or T with an optional ``i`` and ``B`` (powers of 1,024, as ``--max-memory``
has always read them). Both are written so that no part of the pattern can match the same
digits two ways: a hostile 20,000-digit value is refused in linear time.
"""

from __future__ import annotations

import re

from .errors import SpecError, clip

_NUMBER = r"((?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:e[0-9]+)?)"
_COUNT = re.compile(r"\s*" + _NUMBER + r"\s*([kmgt]?)\s*")
_SIZE = re.compile(r"\s*" + _NUMBER + r"\s*([kmgt]?)(i?b)?\s*")

#: a count or size past this is no budget any machine or model has (10^18)
MOST = 10**18


def parse_count(value: object, what: str) -> int:
    """``5M`` → 5,000,000; ``1.2G`` → 1,200,000,000; an integer as it is."""
    return _parse(value, what, _COUNT, 1000, "count", 0, "write it like 5M, 1.2G or 25600000")


def parse_bytes(value: object, what: str, least: int = 0) -> int:
    """``200MiB`` → 209,715,200; ``2G`` → 2,147,483,648; an integer is bytes."""
    return _parse(value, what, _SIZE, 1024, "size", least, "write it like 512M, 2G or 200MiB")


def _parse(
    value: object,
    what: str,
    pattern: re.Pattern[str],
    base: int,
    noun: str,
    least: int,
    hint: str,
) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise SpecError(f"{what} must be a {noun}, got {clip(str(value), 40)}", hint=hint)
    shown = clip(str(value), 40)
    if isinstance(value, int):
        scaled: float = value
    else:
        match = pattern.fullmatch(str(value).lower())
        if match is None:
            raise SpecError(f"{what} {shown} is not a {noun}", hint=hint)
        scaled = float(match.group(1)) * base ** " kmgt".index(match.group(2) or " ")
    if not least <= scaled <= MOST:  # nan and inf too
        raise SpecError(
            f"{what} {shown} is out of range: a {noun} from {least:,} to 10^18", hint=hint
        )
    return round(scaled)


__all__ = ["MOST", "parse_bytes", "parse_count"]
