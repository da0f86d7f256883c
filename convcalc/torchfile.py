"""Reading what ``torch.save`` writes, without torch: tensors come back as NumPy arrays.

``torch.save`` (since PyTorch 1.6) writes a zip archive: ``<name>/data.pkl`` pickles the object,
each tensor's storage a raw little-endian file ``<name>/data/<key>`` that the pickle refers to
by key. The pickle is read with a closed list of the globals a saved state_dict or tensor
uses (an ordered dict, the tensor rebuilders, the typed storages); anything else (a whole
pickled ``nn.Module``, arbitrary code) is refused before it is built, so reading a file
never runs code from it. Older files (PyTorch's legacy format) are refused with a hint.
"""

from __future__ import annotations

import collections
import pickle
import zipfile
from typing import Any

import numpy as np

from .errors import SpecError
from .stored import Stored, TooMany, materialised

#: torch's typed storages → the NumPy dtype of their elements (bfloat16 is read as its 16-bit
#: pattern and widened to float32, which holds every bfloat16 value exactly)
STORAGES: dict[str, np.dtype[Any]] = {
    "DoubleStorage": np.dtype("<f8"),
    "FloatStorage": np.dtype("<f4"),
    "HalfStorage": np.dtype("<f2"),
    "BFloat16Storage": np.dtype("<u2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}

#: what to save instead (the reader serves weights, input data and references alike)
SAVE_HINT = (
    "save tensors only: a model's weights as torch.save(model.state_dict(), path), "
    "a tensor as torch.save(x, path)"
)


def is_torch_file(path: str) -> bool:
    """Whether ``path`` is a zip archive as ``torch.save`` writes it (an .npz is a zip too, of
    .npy members; a torch file has a ``data.pkl``)."""
    try:
        if not zipfile.is_zipfile(path):
            return False
        with zipfile.ZipFile(path) as archive:
            return any(_is_pickle(name) for name in archive.namelist())
    except Exception:  # unreadable or damaged: not recognisably one (the caller reports it)
        return False


def _is_pickle(name: str) -> bool:
    return name == "data.pkl" or name.endswith("/data.pkl")


class _Storage:
    """A storage the pickle refers to: ``numel`` elements of ``dtype`` in the archive's member
    ``member``, read only when a tensor on it is."""

    def __init__(self, archive: _Archive, member: str, kind: str, numel: int) -> None:
        self.archive = archive
        self.member = member
        self.kind = kind
        self.dtype = STORAGES[kind]
        self.numel = numel

    def elements(self, count: int) -> np.ndarray:
        """The storage's first ``count`` elements (only those bytes are read, or inflated)."""
        with zipfile.ZipFile(self.archive.path) as archive:
            size = archive.getinfo(self.member).file_size
            wanted = count * self.dtype.itemsize
            if size < wanted:
                raise SpecError(
                    f"{self.archive.path}: storage {self.member!r} holds {size} bytes, "
                    f"its tensors read {wanted}",
                    hint="save the file again",
                )
            with archive.open(self.member) as f:
                raw = f.read(wanted)
        if len(raw) < wanted:
            raise SpecError(f"{self.archive.path}: storage {self.member!r} is cut short")
        return np.frombuffer(raw, dtype=self.dtype, count=count)


class _Archive:
    """The file a pickle's storages are read from (opened again for each tensor read)."""

    def __init__(self, path: str, prefix: str, members: dict[str, int]) -> None:
        self.path = path
        self.prefix = prefix
        #: member name → uncompressed size the archive declares
        self.members = members


def _rebuild_tensor(
    storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...], *_: Any
) -> Stored:
    """A tensor as ``torch._utils._rebuild_tensor_v2`` makes it: ``size`` elements of the
    storage from ``offset``, ``stride`` apart (in elements), to be copied out as a C-ordered
    array when read. Only the declaration is checked here; nothing is read."""
    size = tuple(int(s) for s in size)
    stride = tuple(int(s) for s in stride)
    offset = int(offset)
    if len(size) != len(stride) or any(s < 0 for s in size) or offset < 0:
        raise pickle.UnpicklingError(f"a tensor of size {size} and stride {stride}")
    last = offset - 1
    if 0 not in size:
        last = offset + sum((n - 1) * st for n, st in zip(size, stride))
        if any(st < 0 for st in stride) or last >= storage.numel:
            raise pickle.UnpicklingError(
                f"a tensor of size {size} reads past its storage of {storage.numel} elements"
            )
    bf16 = storage.kind == "BFloat16Storage"
    dtype = np.dtype(np.float32) if bf16 else storage.dtype

    def read() -> np.ndarray:
        if last < offset:  # no elements
            return np.zeros(size, dtype=dtype)
        flat = storage.elements(last + 1)
        view = np.lib.stride_tricks.as_strided(
            flat[offset:], shape=size, strides=[st * flat.itemsize for st in stride]
        )
        array = np.array(view, copy=True, order="C")
        return (array.astype(np.uint32) << 16).view(np.float32) if bf16 else array

    return Stored(size, dtype, storage.archive.path, read)


def _rebuild_parameter(data: Stored, *_: Any) -> Stored:
    return data


class _Refused(Exception):
    """A global the closed list does not allow (becomes a SpecError naming it)."""


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: Any, archive: _Archive, max_tensors: int | None) -> None:
        super().__init__(file)
        self.archive = archive
        self.storages: dict[str, _Storage] = {}
        self.max_tensors = max_tensors
        self.tensors = 0

    def _tensor(self, *args: Any) -> Stored:
        """A tensor, counted: past ``max_tensors`` the reading stops."""
        self.tensors += 1
        if self.max_tensors is not None and self.tensors > self.max_tensors:
            raise TooMany(self.max_tensors, exact=False)
        return _rebuild_tensor(*args)

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return self._tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in STORAGES:
            return name
        if module == "torch" and name.endswith("Storage"):
            raise _Refused(f"holds a tensor of {name}, not of real numbers (float, int or bool)")
        raise _Refused(f"holds a pickled {module}.{name}, not a state_dict of tensors")

    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"an unknown reference {pid!r}")
        _, kind, key, _location, numel = pid
        if kind not in STORAGES:
            raise pickle.UnpicklingError(f"a storage of type {kind!r}")
        key = str(key)
        if key not in self.storages:
            member = f"{self.archive.prefix}data/{key}"
            if member not in self.archive.members:
                raise pickle.UnpicklingError(f"no storage {key} in the archive")
            dtype = STORAGES[kind]
            if self.archive.members[member] < int(numel) * dtype.itemsize:
                raise pickle.UnpicklingError(f"storage {key} is shorter than its {numel} elements")
            self.storages[key] = _Storage(self.archive, member, kind, int(numel))
        return self.storages[key]


#: the largest pickle read (a state_dict's is kilobytes: names and shapes, never the data)
MAX_PICKLE_BYTES = 64 << 20

#: the most bytes of pickle an entry of a state_dict takes (its name, the call that rebuilds
#: its tensor, its module's version record: a few hundred at most), and the pickle's own
PICKLE_ENTRY_BYTES = 1 << 10
PICKLE_BASE_BYTES = 64 << 10

#: members of a torch.save archive besides its tensors' storages (data.pkl, version,
#: byteorder, .data/serialization_id, …), with room to spare
OTHER_MEMBERS = 16


def read(path: str) -> Any:
    """The object ``torch.save`` wrote to ``path``, its tensors as NumPy arrays (dicts, lists
    and tuples of them as they were). Raises SpecError on any other file."""
    return materialised(declared(path))


def declared(path: str, max_tensors: int | None = None) -> Any:
    """As :func:`read`, with every tensor a :class:`~convcalc.stored.Stored`: its shape and
    dtype known, its data not read yet. Raises :class:`~convcalc.stored.TooMany` once the
    archive or its pickle holds more than ``max_tensors`` tensors (or storages)."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            if max_tensors is not None and len(infos) > max_tensors + OTHER_MEMBERS:
                raise TooMany(len(infos))
            members = {info.filename: info.file_size for info in infos}
            pickles = [n for n in members if _is_pickle(n)]
            if not pickles:
                raise SpecError(f"{path}: not a file written by torch.save", hint=SAVE_HINT)
            prefix = pickles[0][: -len("data.pkl")]
            if prefix + "byteorder" in members and archive.read(prefix + "byteorder") != b"little":
                raise SpecError(f"{path}: saved on a big-endian machine", hint=SAVE_HINT)
            if members[pickles[0]] > MAX_PICKLE_BYTES:
                raise SpecError(
                    f"{path}: its pickle declares {members[pickles[0]]:,} bytes, more than the "
                    f"{MAX_PICKLE_BYTES >> 20} MiB of a state_dict's names and shapes",
                    hint=SAVE_HINT,
                )
            if max_tensors is not None:
                most = PICKLE_BASE_BYTES + PICKLE_ENTRY_BYTES * max_tensors
                if members[pickles[0]] > most:  # many entries of one shared tensor, say
                    raise TooMany(
                        max_tensors,
                        what=f"its pickle takes {members[pickles[0]]:,} bytes, more than "
                        f"{max_tensors:,} entries take ({most:,})",
                    )
            with archive.open(pickles[0]) as file:
                state = _Unpickler(file, _Archive(path, prefix, members), max_tensors).load()
            if max_tensors is not None and isinstance(state, dict) and len(state) > max_tensors:
                raise TooMany(len(state))
            return state
    except (SpecError, TooMany):
        raise
    except _Refused as exc:
        raise SpecError(f"{path}: {exc}", hint=SAVE_HINT) from None
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file", hint="check the path") from None
    except Exception as exc:  # a damaged archive or pickle fails in many ways; all are input errors
        raise SpecError(f"{path}: not a readable torch.save file ({exc})", hint=SAVE_HINT) from None
