"""A config's ``expect:`` block: the figures it pins, and rewriting it from the model
(``convcalc check --update-expect``) without touching the rest of the file.

The rewrite works on the text, not on parsed YAML, so that comments, key order, quoting
and blank lines survive: in a block written one key per line only the values change
(a comment after a value stays); any other form of the block is replaced by one; a file
without the block gets one at its end.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

from .errors import SpecError
from .pins import EXPECT_KEYS

if TYPE_CHECKING:
    from .model import Spec
    from .report import Report

_TOP = re.compile(r"expect\s*:")
_KEY_LINE = re.compile(
    r"(?P<lead>[ \t]+(?P<key>" + "|".join(EXPECT_KEYS) + r")[ \t]*:[ \t]*)"
    r"(?P<value>[^#\r\n]*?)(?P<tail>[ \t]+#.*)?"
)


def figures(report: Report) -> dict[str, Any]:
    """The figures ``expect:`` can pin, as the model gives them now (None where unknown)."""
    t = report.totals
    return {
        "output_shape": report.output_shape,
        "params": t.params,
        "trainable_params": t.trainable_params,
        "macs": t.macs,
    }


def _value(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)


def update_expect(target: str, spec: Spec, report: Report) -> bool:
    """Rewrite ``target``'s ``expect:`` block with the model's figures; whether the file
    changed. A block keeps the keys it pins; a new block pins every figure known."""
    if target == "-" or not os.path.isfile(target):
        raise SpecError(
            f"{target}: --update-expect rewrites a config file, and this is no file",
            hint="copy the model to a file first (convcalc zoo NAME > net.yaml)",
        )
    with open(target, encoding="utf-8", newline="") as handle:
        text = handle.read()
    now = {k: v for k, v in figures(report).items() if v is not None}
    pinned = spec.pins.expect if spec.pins is not None else {}
    keys = [k for k in EXPECT_KEYS if k in now and (not pinned or k in pinned)]
    new = rewrite(text, {k: now[k] for k in keys})
    if new == text:
        return False
    with open(target, "w", encoding="utf-8", newline="") as handle:
        handle.write(new)
    return True


def rewrite(text: str, values: dict[str, Any]) -> str:
    """``text`` with its top-level ``expect:`` block holding ``values``."""
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if _TOP.match(line)), None)
    if start is None:
        body = "".join(lines)
        if body and not body.endswith(("\n", "\r")):
            body += newline
        return body + _block(values, "  ", newline)
    end = start + 1
    while end < len(lines) and (lines[end][:1] in (" ", "\t") or not lines[end].strip()):
        end += 1
    while end > start + 1 and not lines[end - 1].strip():  # blank lines after it stay
        end -= 1
    head, inner = lines[start], lines[start + 1 : end]
    matches = [_KEY_LINE.fullmatch(line.rstrip("\r\n")) for line in inner]
    simple = head.split("#", 1)[0].strip().endswith(":") and all(
        m is not None or not line.strip() or line.strip().startswith("#")
        for m, line in zip(matches, inner)
    )
    if simple and {m.group("key") for m in matches if m} == set(values):
        out = [head]
        for m, line in zip(matches, inner):
            if m is None:
                out.append(line)
                continue
            ending = line[len(line.rstrip("\r\n")) :]
            out.append(
                m.group("lead") + _value(values[m.group("key")]) + (m.group("tail") or "") + ending
            )
        return "".join(lines[:start] + out + lines[end:])
    indent = next((m.group("lead")[: -len(m.group("lead").lstrip())] for m in matches if m), "  ")
    return "".join(lines[:start]) + _block(values, indent, newline) + "".join(lines[end:])


def _block(values: dict[str, Any], indent: str, newline: str) -> str:
    return (
        "expect:"
        + newline
        + "".join(f"{indent}{key}: {_value(value)}{newline}" for key, value in values.items())
    )


__all__ = ["figures", "rewrite", "update_expect"]
