"""YAML 1.1's plain scalars, as PyYAML's safe loader reads them: the text of a scalar node
with its resolved tag → its value (``0x1f`` → 31, ``1:30`` → 90, ``Off`` → False,
``2001-12-14`` → a date). spec.py composes the nodes and calls these.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Callable
from typing import Any

TAG = "tag:yaml.org,2002:"
STR_TAG = TAG + "str"


_BOOLS = {"yes": True, "no": False, "true": True, "false": False, "on": True, "off": False}


def _bool(text: str) -> bool:
    return _BOOLS[text.lower()]


def _signed(text: str) -> tuple[int, str]:
    """The sign of a YAML 1.1 number and its digits (underscores left out)."""
    text = text.replace("_", "")
    sign = -1 if text[0] == "-" else 1
    return sign, text[1:] if text[0] in "+-" else text


def _sexagesimal(parts: list[Any]) -> Any:
    """``1:30:00`` (base 60), the parts already numbers."""
    value = 0
    for part in parts:
        value = value * 60 + part
    return value


def _int(text: str) -> int:
    """YAML 1.1 integers: ``0b1010``, ``0x1f``, ``017`` (octal), ``1_000``, ``1:30``."""
    sign, digits = _signed(text)
    if digits == "0":
        return 0
    if digits.startswith("0b"):
        return sign * int(digits[2:], 2)
    if digits.startswith("0x"):
        return sign * int(digits[2:], 16)
    if digits[0] == "0":
        return sign * int(digits, 8)
    if ":" in digits:
        return sign * int(_sexagesimal([int(p) for p in digits.split(":")]))
    return sign * int(digits)


def _float(text: str) -> float:
    """YAML 1.1 floats: ``1.5e-3``, ``.inf``, ``-.Inf``, ``.nan``, ``1_000.5``, ``1:30.5``."""
    sign, digits = _signed(text.lower())
    if digits == ".inf":
        return sign * math.inf
    if digits == ".nan":
        return math.nan
    if ":" in digits:
        return sign * float(_sexagesimal([float(p) for p in digits.split(":")]))
    return sign * float(digits)


_TIMESTAMP = re.compile(
    r"""(?P<year>[0-9]{4})-(?P<month>[0-9]{1,2})-(?P<day>[0-9]{1,2})
    (?:(?:[Tt]|[ \t]+)(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})
    (?:\.(?P<fraction>[0-9]*))?
    (?:[ \t]*(?P<tz>Z|(?P<tz_sign>[-+])(?P<tz_hour>[0-9]{1,2})(?::(?P<tz_minute>[0-9]{2}))?))?)?""",
    re.X,
)


def _timestamp(text: str) -> datetime.date:
    """YAML 1.1 dates (``2001-12-14``) and times (``2001-12-14t21:59:43.10-05:00``)."""
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        raise ValueError("not a date")
    v = match.groupdict()
    year, month, day = int(v["year"]), int(v["month"]), int(v["day"])
    if not v["hour"]:
        return datetime.date(year, month, day)
    fraction = int((v["fraction"] or "")[:6].ljust(6, "0"))
    tz: datetime.tzinfo | None = None
    if v["tz_sign"]:
        delta = datetime.timedelta(hours=int(v["tz_hour"]), minutes=int(v["tz_minute"] or 0))
        tz = datetime.timezone(-delta if v["tz_sign"] == "-" else delta)
    elif v["tz"]:
        tz = datetime.timezone.utc
    hour, minute, second = int(v["hour"]), int(v["minute"]), int(v["second"])
    return datetime.datetime(year, month, day, hour, minute, second, fraction, tzinfo=tz)


#: YAML's plain scalars, by tag: what turns each one's text into its value
SCALARS: dict[str, Callable[[str], Any]] = {
    TAG + "null": lambda text: None,
    TAG + "bool": _bool,
    TAG + "int": _int,
    TAG + "float": _float,
    TAG + "timestamp": _timestamp,
    STR_TAG: str,
}
