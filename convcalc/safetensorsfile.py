"""Reading the safetensors format (Hugging Face, timm) without its library.

A file is an 8-byte little-endian header length, a JSON header naming each tensor's dtype,
shape and ``data_offsets`` (begin, end) into the bytes that follow, and those bytes. Nothing
in it is code; the reader checks every offset and size against the file before it reads.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

from .errors import SpecError

#: safetensors dtype names → NumPy (BF16 is read as its 16-bit pattern and widened to float32,
#: which holds every bfloat16 value exactly)
DTYPES: dict[str, np.dtype[Any]] = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}

HINT = "write it with safetensors.torch.save_file(model.state_dict(), path)"


def _header(path: str) -> tuple[int, bytes] | None:
    """The header's length and text, when ``path`` looks like a safetensors file."""
    try:
        with open(path, "rb") as f:
            head = f.read(9)
            if len(head) < 9 or head[8:9] != b"{":
                return None
            (length,) = struct.unpack("<Q", head[:8])
            f.seek(0, 2)
            if length > f.tell() - 8:
                return None
            f.seek(8)
            return length, f.read(length)
    except OSError:
        return None


def is_safetensors_file(path: str) -> bool:
    return _header(path) is not None


def read(path: str) -> dict[str, np.ndarray]:
    """The tensors of a safetensors file, by name, as C-ordered NumPy arrays."""
    try:
        return _read(path)
    except SpecError:
        raise
    except Exception as exc:  # a damaged file fails in many ways; all are input errors
        raise SpecError(f"{path}: not a readable safetensors file ({exc})", hint=HINT) from None


def _read(path: str) -> dict[str, np.ndarray]:
    found = _header(path)
    if found is None:
        raise SpecError(f"{path}: not a safetensors file", hint=HINT)
    length, text = found
    try:
        header = json.loads(text)
    except ValueError as exc:
        raise SpecError(f"{path}: the safetensors header is not JSON ({exc})", hint=HINT) from None
    if not isinstance(header, dict):
        raise SpecError(f"{path}: the safetensors header is not a table of tensors", hint=HINT)
    with open(path, "rb") as f:
        f.seek(8 + length)
        data = f.read()
    tensors: dict[str, np.ndarray] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            kind, shape = entry["dtype"], tuple(int(s) for s in entry["shape"])
            begin, end = (int(v) for v in entry["data_offsets"])
        except (TypeError, KeyError, ValueError):
            raise SpecError(f"{path}: tensor {name!r} has a malformed entry", hint=HINT) from None
        if kind not in DTYPES:
            raise SpecError(
                f"{path}: tensor {name!r} has dtype {kind}, which is not read",
                hint=f"save it as one of {', '.join(DTYPES)}",
            )
        dtype = DTYPES[kind]
        size = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if min(shape, default=0) < 0 or not 0 <= begin <= end <= len(data):
            raise SpecError(f"{path}: tensor {name!r} lies outside the file", hint=HINT)
        if end - begin != size * dtype.itemsize:
            raise SpecError(
                f"{path}: tensor {name!r} of shape {shape} ({kind}) needs "
                f"{size * dtype.itemsize} bytes, the file gives {end - begin}",
                hint=HINT,
            )
        if size == 0:
            array = np.zeros(shape, dtype=dtype)
        else:
            array = np.frombuffer(data, dtype=dtype, count=size, offset=begin).reshape(shape).copy()
        if kind == "BF16":
            array = (array.astype(np.uint32) << 16).view(np.float32)
        tensors[str(name)] = array
    return tensors
