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
    """A storage the pickle refers to: its elements as a flat array, read once."""

    def __init__(self, data: np.ndarray, kind: str) -> None:
        self.data = data
        self.kind = kind


def _rebuild_tensor(
    storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...], *_: Any
) -> np.ndarray:
    """A tensor as ``torch._utils._rebuild_tensor_v2`` makes it: ``size`` elements of the
    storage from ``offset``, ``stride`` apart (in elements), copied out as a C-ordered array."""
    size = tuple(int(s) for s in size)
    stride = tuple(int(s) for s in stride)
    flat = storage.data
    if len(size) != len(stride) or any(s < 0 for s in size) or offset < 0:
        raise pickle.UnpicklingError(f"a tensor of size {size} and stride {stride}")
    if 0 not in size:
        last = offset + sum((n - 1) * st for n, st in zip(size, stride))
        if any(st < 0 for st in stride) or last >= flat.size:
            raise pickle.UnpicklingError(
                f"a tensor of size {size} reads past its storage of {flat.size} elements"
            )
        view = np.lib.stride_tricks.as_strided(
            flat[offset:], shape=size, strides=[st * flat.itemsize for st in stride]
        )
        array = np.array(view, copy=True, order="C")
    else:
        array = np.zeros(size, dtype=flat.dtype)
    if storage.kind == "BFloat16Storage":
        array = (array.astype(np.uint32) << 16).view(np.float32)
    return array


def _rebuild_parameter(data: np.ndarray, *_: Any) -> np.ndarray:
    return data


class _Refused(Exception):
    """A global the closed list does not allow (becomes a SpecError naming it)."""


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: Any, archive: zipfile.ZipFile, prefix: str) -> None:
        super().__init__(file)
        self.archive = archive
        self.prefix = prefix
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
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
            raw = self.archive.read(f"{self.prefix}data/{key}")
            dtype = STORAGES[kind]
            if len(raw) < int(numel) * dtype.itemsize:
                raise pickle.UnpicklingError(f"storage {key} is shorter than its {numel} elements")
            data = np.frombuffer(raw, dtype=dtype, count=int(numel))
            self.storages[key] = _Storage(data, kind)
        return self.storages[key]


def read(path: str) -> Any:
    """The object ``torch.save`` wrote to ``path``, its tensors as NumPy arrays (dicts, lists
    and tuples of them as they were). Raises SpecError on any other file."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            pickles = [n for n in names if _is_pickle(n)]
            if not pickles:
                raise SpecError(f"{path}: not a file written by torch.save", hint=SAVE_HINT)
            prefix = pickles[0][: -len("data.pkl")]
            if prefix + "byteorder" in names and archive.read(prefix + "byteorder") != b"little":
                raise SpecError(f"{path}: saved on a big-endian machine", hint=SAVE_HINT)
            with archive.open(pickles[0]) as file:
                return _Unpickler(file, archive, prefix).load()
    except SpecError:
        raise
    except _Refused as exc:
        raise SpecError(f"{path}: {exc}", hint=SAVE_HINT) from None
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file", hint="check the path") from None
    except Exception as exc:  # a damaged archive or pickle fails in many ways; all are input errors
        raise SpecError(f"{path}: not a readable torch.save file ({exc})", hint=SAVE_HINT) from None
