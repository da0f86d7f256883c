"""The top level of a config: the keys it may have, and whether a YAML document is a config
at all (``check --skip-foreign`` skips one that is not; a near miss of a config key is a
config with a typo, never a skip)."""

from __future__ import annotations

from typing import Any

from .layers.base import did_you_mean

TOP_KEYS = ("name", "input", "layers", "blocks", "import", "limits", "expect", "ignore_weights")


def not_a_config(data: Any) -> str | None:
    """Why a parsed YAML document is no convcalc config (None when it is one, or when it
    reads as a config with mistakes: every top-level key a config key or a near miss of one).

    A config is a mapping with ``layers`` (or only config keys), or a list of layers:
    strings, and mappings with ``type`` or a single ``name: call`` pair."""
    if data is None:
        return "the file is empty"
    if isinstance(data, list):
        if all(_layer_like(item) for item in data):
            return None
        return "a YAML list that is not a list of layers"
    if not isinstance(data, dict):
        return f"a YAML {type(data).__name__}, not a mapping with 'input' and 'layers'"
    if "layers" in data or all(key in TOP_KEYS or did_you_mean(str(key), TOP_KEYS) for key in data):
        return None
    keys = ", ".join(str(k) for k in list(data)[:4]) + (", …" if len(data) > 4 else "")
    return f"not a convcalc config: a YAML mapping without 'layers' (its keys: {keys})"


def _layer_like(item: Any) -> bool:
    if isinstance(item, str):
        return True
    return isinstance(item, dict) and ("type" in item or len(item) == 1)


__all__ = ["TOP_KEYS", "not_a_config"]
