"""Reading the safetensors format (Hugging Face, timm) without its library.

A file is an 8-byte little-endian header length, a JSON header naming each tensor's dtype,
shape and ``data_offsets`` (begin, end) into the bytes that follow, and those bytes. Nothing
in it is code; the reader checks every offset and size against the file before it reads.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import numpy as np

from .errors import SpecError
from .stored import Stored, TooMany

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


#: the largest header read (safetensors' own limit is 100 MB)
MAX_HEADER_BYTES = 100_000_000


def is_safetensors_file(path: str) -> bool:
    """Whether ``path`` looks like one: an 8-byte length, then a JSON object's ``{``."""
    try:
        with open(path, "rb") as f:
            head = f.read(9)
    except OSError:
        return False
    return len(head) == 9 and head[8:9] == b"{"


def read(path: str) -> dict[str, np.ndarray]:
    """The tensors of a safetensors file, by name, as C-ordered NumPy arrays."""
    return {name: stored.read() for name, stored in declared(path).items()}


def declared(path: str, max_entries: int | None = None) -> dict[str, Stored]:
    """The tensors of a safetensors file, by name, as the header declares them (each offset
    and size checked against the file); none is read yet. Raises
    :class:`~convcalc.stored.TooMany` when the header holds more than ``max_entries``
    tensors, before it is parsed where it can be told (each entry names its
    ``"data_offsets"``), else as soon as parsing passes that many."""
    try:
        return _declared(path, max_entries)
    except (SpecError, TooMany):
        raise
    except Exception as exc:  # a damaged file fails in many ways; all are input errors
        raise SpecError(f"{path}: not a readable safetensors file ({exc})", hint=HINT) from None


def _header(path: str, max_entries: int | None) -> tuple[int, int, Any]:
    """The header's length, the size of the data after it, and the parsed header (refused
    past ``max_entries`` tensors, see :func:`declared`)."""
    with open(path, "rb") as f:
        head = f.read(8)
        f.seek(0, 2)
        size = f.tell()
        (length,) = struct.unpack("<Q", head) if len(head) == 8 else (0,)
        if not 2 <= length <= min(size - 8, MAX_HEADER_BYTES):
            raise SpecError(
                f"{path}: the safetensors header declares {length:,} bytes, "
                + (
                    f"more than the file's {size:,}"
                    if length > size - 8
                    else "beyond the 100 MB a header may take"
                    if length > MAX_HEADER_BYTES
                    else "too few for a header"
                ),
                hint=HINT,
            )
        f.seek(8)
        text = f.read(length)
    if max_entries is not None:
        count = text.count(b'"data_offsets"')
        if count > max_entries:
            raise TooMany(count)
    try:
        return length, size - 8 - length, json.loads(text, object_pairs_hook=_Objects(max_entries))
    except ValueError as exc:
        raise SpecError(f"{path}: the safetensors header is not JSON ({exc})", hint=HINT) from None


class _Objects:
    """The JSON parser's maker of objects, counting them: past one per tensor, the header
    and its ``__metadata__``, parsing stops (TooMany), whatever the names hide."""

    def __init__(self, max_entries: int | None) -> None:
        self.most = None if max_entries is None else max_entries + 2
        self.count = 0

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        self.count += 1
        if self.most is not None and self.count > self.most:
            raise TooMany(self.most - 2, exact=False)
        return dict(pairs)


def _declared(path: str, max_entries: int | None) -> dict[str, Stored]:
    length, available, header = _header(path, max_entries)
    if not isinstance(header, dict):
        raise SpecError(f"{path}: the safetensors header is not a table of tensors", hint=HINT)
    entries = len(header) - ("__metadata__" in header)
    if max_entries is not None and entries > max_entries:
        raise TooMany(entries)
    tensors: dict[str, Stored] = {}
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
        if min(shape, default=0) < 0 or not 0 <= begin <= end <= available:
            raise SpecError(f"{path}: tensor {name!r} lies outside the file", hint=HINT)
        size = math.prod(shape)
        if end - begin != size * dtype.itemsize:
            raise SpecError(
                f"{path}: tensor {name!r} of shape {shape} ({kind}) needs "
                f"{size * dtype.itemsize} bytes, the file gives {end - begin}",
                hint=HINT,
            )
        tensors[str(name)] = _stored(path, 8 + length + begin, shape, kind)
    return tensors


def _stored(path: str, start: int, shape: tuple[int, ...], kind: str) -> Stored:
    dtype = DTYPES[kind]

    def read() -> np.ndarray:
        count = math.prod(shape)
        with open(path, "rb") as f:
            f.seek(start)
            array = np.fromfile(f, dtype=dtype, count=count) if count else np.zeros(0, dtype)
        if array.size != count:
            raise SpecError(f"{path}: the file is shorter than its header says", hint=HINT)
        array = array.reshape(shape)
        return (array.astype(np.uint32) << 16).view(np.float32) if kind == "BF16" else array

    return Stored(shape, np.dtype(np.float32) if kind == "BF16" else dtype, path, read)
