"""Reading what users give ``convcalc run`` from files: one array (``--input-data``,
``--compare``) or a state_dict (``--weights``), whatever format it was saved in.

The formats themselves live beside this module: :mod:`.torchfile` (``torch.save``'s zip)
and :mod:`.safetensorsfile`; NumPy reads .npy and .npz. Every failure is a SpecError (exit
code 2) that names the file and says how to save it instead.
"""

from __future__ import annotations

import functools
import math
import os
import stat
import struct
import zipfile
from typing import IO, Any

import numpy as np

from . import safetensorsfile, torchfile
from .budget import size_text
from .errors import SpecError
from .stored import Stored, TooMany, total_bytes


def _is_pickle(path: str) -> bool:
    """Whether the file is a bare pickle (PyTorch's legacy format, or pickled NumPy)."""
    return _starts_with(path, b"\x80")


def _starts_with(path: str, magic: bytes) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(magic)) == magic
    except OSError:
        return False


def _unreadable(path: str, what: str, exc: Exception, hint: str) -> SpecError:
    if _starts_with(path, b"PK"):
        # torch.save and numpy.savez both write zip archives: a cut or damaged one
        return SpecError(f"{path}: a damaged zip archive ({exc})", hint="save the file again")
    if _is_pickle(path):
        return SpecError(
            f"{path}: a bare pickle, which is not read (unpickling can run code)",
            hint="save it with torch.save in PyTorch ≥ 1.6 (its zip format), or with NumPy",
        )
    return SpecError(f"{path}: not a NumPy {what} file ({exc})", hint=hint)


#: the members an archive holding one tensor may have besides torch's own (a tensor and the
#: views of it a pickle may name)
ONE_TENSOR_MEMBERS = 16


def _is_zip(path: str) -> bool:
    """Whether ``path`` is a zip archive (torch.save's, an .npz). The standard library's own
    test raises on some damaged end records (a multi-disk one): that is a damaged file."""
    try:
        return zipfile.is_zipfile(path)
    except (zipfile.BadZipFile, ValueError, OverflowError, EOFError) as exc:
        raise SpecError(f"{path}: a damaged zip archive ({exc})") from None


def load_array(path: str, what: str, max_bytes: int | None = None) -> np.ndarray:
    """An .npy file, or a tensor saved with ``torch.save``; else a clear SpecError. A tensor
    whose declared size is above ``max_bytes`` is refused before it is read."""
    _regular(path, what)
    if _is_zip(path):  # one tensor: a few members; count them before any is read
        count = _zip_entries(path)
        if count is not None and count > ONE_TENSOR_MEMBERS + torchfile.OTHER_MEMBERS:
            raise SpecError(
                f"{path}: an archive of {count:,} entries; the {what} is one tensor",
                hint=f"save the {what} alone: numpy.save(path, x) or torch.save(x, path)",
            )
    if torchfile.is_torch_file(path):
        try:
            found = torchfile.declared(path, ONE_TENSOR_MEMBERS)
        except TooMany as exc:
            raise SpecError(
                f"{path}: {exc.text()}; the {what} is one tensor",
                hint=f"save the {what} alone: torch.save(x, path)",
            ) from None
        if not isinstance(found, Stored):
            raise SpecError(
                f"{path}: holds {_described(found)}, not one tensor",
                hint=f"save the {what} alone: torch.save(x, path)",
            )
        _check_size(path, found.nbytes, max_bytes, what)
        array = found.read()
    elif _is_zip(path):  # a zip that is not torch's: an .npz of several arrays
        raise SpecError(
            f"{path}: an .npz archive of several arrays; the {what} is one array",
            hint="save it with numpy.save (or torch.save(x, path))",
        )
    else:
        array = _read_npy(path, what, max_bytes)
    if array.dtype.kind not in "fiub":
        raise SpecError(f"{path}: the array has dtype {array.dtype}, not numbers")
    return array


def _read_npy(path: str, what: str, max_bytes: int | None) -> np.ndarray:
    try:
        with open(path, "rb") as f:
            shape, dtype = _npy_header(f)
            _check_size(path, math.prod(shape) * dtype.itemsize, max_bytes, what)
            f.seek(0)
            array: np.ndarray = np.lib.format.read_array(f, allow_pickle=False)
            return array
    except SpecError:
        raise
    except Exception as exc:  # a damaged file fails in many ways; all are input errors
        raise _unreadable(path, ".npy", exc, "save it with numpy.save") from None


def _npy_header(f: IO[bytes]) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """The shape and dtype an .npy stream declares (its header only is read)."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(f)
    else:  # 2.0 and 3.0 differ only in the header's encoding, ASCII for every real dtype
        shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    return tuple(int(n) for n in shape), dtype


def _regular(path: str, what: str) -> None:
    """Refuse what is not a regular file (a folder, a device such as /dev/zero, a pipe): it
    has no size to check, and reading it may never end."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file", hint=f"check the path of the {what}") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read it ({exc.strerror})") from None
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
        raise SpecError(f"{path}: {kind}", hint=f"give the {what} as a saved file")


def _check_size(path: str, size: int, max_bytes: int | None, what: str) -> None:
    if max_bytes is not None and size > max_bytes:
        raise SpecError(
            f"{path}: the {what} take {size_text(size)}, more than the memory limit of "
            f"{size_text(max_bytes)}",
            hint="raise --max-memory if the machine has the memory, or check the file",
            expected=max_bytes,
            got=size,
        )


def _npz(path: str, max_entries: int | None) -> dict[str, Stored]:
    """The arrays of an .npz archive as their headers declare them; none is read (or
    inflated) yet. More than ``max_entries`` members are refused (TooMany) before any is."""
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        if max_entries is not None and len(names) > max_entries:
            raise TooMany(len(names))
        found: dict[str, Stored] = {}
        for name in names:
            if not name.endswith(".npy"):
                raise SpecError(
                    f"{path}: holds {name!r}, which is not a .npy array",
                    hint="save it with numpy.savez",
                )
            with archive.open(name) as f:
                shape, dtype = _npy_header(f)
            if dtype.hasobject:
                raise SpecError(f"{path}: array {name[:-4]!r} holds Python objects, not numbers")
            found[name[:-4]] = Stored(
                shape, dtype, path, functools.partial(_npz_member, path, name)
            )
    return found


def _npz_member(path: str, name: str) -> np.ndarray:
    with zipfile.ZipFile(path) as archive, archive.open(name) as f:
        array: np.ndarray = np.lib.format.read_array(f, allow_pickle=False)
        return array


def _described(value: Any) -> str:
    """What a loaded object is, for a message: a tensor's shape, a dict's size, a type."""
    if isinstance(value, (np.ndarray, Stored)):
        return f"one tensor of shape {tuple(value.shape)}"
    if isinstance(value, dict):
        return f"a dict of {len(value)} entr{'y' if len(value) == 1 else 'ies'}"
    return f"an object of type {type(value).__name__}"


def _is_state_dict(value: Any, empty: bool = False) -> bool:
    """Names to arrays (an empty dict counts only when ``empty``: a parameter-free model's)."""
    return (
        isinstance(value, dict)
        and (empty or bool(value))
        and all(isinstance(k, str) and isinstance(v, Stored) for k, v in value.items())
    )


def most_entries(expected: int) -> int:
    """The entries a weight file may hold for a model of ``expected`` state_dict entries:
    twice as many and 1,000 more (a state_dict may carry buffers no kernel reads, and the
    modules of a larger model that the run does not call); past that, a file is not this
    model's weights, and is refused before its entries are built."""
    return 2 * expected + 1000


def load_weights(
    path: str, max_bytes: int | None = None, expected: int | None = None
) -> dict[str, Stored]:
    """A state_dict saved with ``torch.save(model.state_dict(), path)``, as safetensors, or as
    .npz (``numpy.savez(path, **{k: v.numpy() ...})``): key → tensor, declared but not read
    (``np.asarray`` reads one), so that shapes are checked before any data is read. Tensors
    that together declare more than ``max_bytes`` are refused unread; so is a file of more
    entries than :func:`most_entries` allows a model of ``expected`` entries, as soon as its
    format tells (a zip's directory, a safetensors header, a pickle as it is read)."""
    try:
        weights = _declared_weights(path, None if expected is None else most_entries(expected))
    except TooMany as exc:
        assert expected is not None
        raise SpecError(
            f"{path}: {exc.text()}; the model has {expected:,} weights",
            hint=f"a state_dict of this model holds at most {most_entries(expected):,} "
            "entries: check that the file holds this model's weights",
            expected=most_entries(expected),
            got=exc.count,
        ) from None
    _check_size(path, total_bytes(weights), max_bytes, "weights")
    return weights


def _zip_entries(path: str) -> int | None:
    """The number of members a zip archive's end record declares, read from its last bytes
    before anything parses its directory (None: no end record found there)."""
    with open(path, "rb") as f:
        size = f.seek(0, 2)
        tail = min(size, 22 + 0xFFFF)  # the end record, and a comment of at most 64 KiB
        f.seek(size - tail)
        data = f.read(tail)
        at = data.rfind(b"PK\x05\x06")
        if at < 0 or len(data) - at < 22:
            return None
        count: int = struct.unpack_from("<H", data, at + 10)[0]
        if at >= 20 and data[at - 20 : at - 16] == b"PK\x06\x07":  # ZIP64: the count is there
            offset = struct.unpack_from("<Q", data, at - 12)[0]
            if offset > size:  # a damaged record: the zip reader says what is wrong
                return None
            f.seek(offset)
            record = f.read(56)
            if len(record) == 56 and record[:4] == b"PK\x06\x06":
                count = struct.unpack_from("<Q", record, 32)[0]
        return count


def _declared_weights(path: str, max_entries: int | None) -> dict[str, Stored]:
    _regular(path, "weights")
    if max_entries is not None and _is_zip(path):
        count = _zip_entries(path)
        if count is not None and count > max_entries + torchfile.OTHER_MEMBERS:
            raise TooMany(count)
    if torchfile.is_torch_file(path):
        state = torchfile.declared(path, max_entries)
        if _is_state_dict(state, empty=True):
            return dict(state)
        # a checkpoint: {"model": state_dict, "epoch": …} — name where the weights are
        inner = (
            [k for k, v in state.items() if _is_state_dict(v)] if isinstance(state, dict) else []
        )
        raise SpecError(
            f"{path}: holds {_described(state)}, not a state_dict of named tensors"
            + (f" (a checkpoint? its {inner[0]!r} entry is one)" if inner else ""),
            hint=(
                f"save that entry alone: torch.save(checkpoint[{inner[0]!r}], path)"
                if inner
                else torchfile.SAVE_HINT
            ),
        )
    if safetensorsfile.is_safetensors_file(path):
        return safetensorsfile.declared(path, max_entries)
    try:
        return _npz(path, max_entries)
    except (SpecError, TooMany):
        raise
    except Exception as exc:  # a damaged file fails in many ways; all are input errors
        raise _unreadable(
            path, ".npz", exc, "save it with torch.save(model.state_dict(), path) or numpy.savez"
        ) from None


__all__ = ["load_array", "load_weights", "most_entries"]
