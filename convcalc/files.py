"""Reading what users give ``convcalc run`` from files: one array (``--input-data``,
``--compare``) or a state_dict (``--weights``), whatever format it was saved in.

The formats themselves live beside this module: :mod:`.torchfile` (``torch.save``'s zip)
and :mod:`.safetensorsfile`; NumPy reads .npy and .npz. Every failure is a SpecError (exit
code 2) that names the file and says how to save it instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import safetensorsfile, torchfile
from .errors import SpecError


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


def load_array(path: str, what: str) -> np.ndarray:
    """An .npy file, or a tensor saved with ``torch.save``; else a clear SpecError."""
    if torchfile.is_torch_file(path):
        array = torchfile.read(path)
        if not isinstance(array, np.ndarray):
            raise SpecError(
                f"{path}: holds {_described(array)}, not one tensor",
                hint=f"save the {what} alone: torch.save(x, path)",
            )
    else:
        try:
            array = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            raise SpecError(f"{path}: no such file", hint=f"check the path of the {what}") from None
        except Exception as exc:  # a damaged file fails in many ways; all are input errors
            raise _unreadable(path, ".npy", exc, "save it with numpy.save") from None
    if not isinstance(array, np.ndarray):
        raise SpecError(f"{path}: holds several arrays; --input-data takes one .npy array")
    if array.dtype.kind not in "fiub":
        raise SpecError(f"{path}: the array has dtype {array.dtype}, not numbers")
    return array


def _described(value: Any) -> str:
    """What a loaded object is, for a message: a tensor's shape, a dict's size, a type."""
    if isinstance(value, np.ndarray):
        return f"one tensor of shape {tuple(value.shape)}"
    if isinstance(value, dict):
        return f"a dict of {len(value)} entr{'y' if len(value) == 1 else 'ies'}"
    return f"an object of type {type(value).__name__}"


def _is_state_dict(value: Any, empty: bool = False) -> bool:
    """Names to arrays (an empty dict counts only when ``empty``: a parameter-free model's)."""
    return (
        isinstance(value, dict)
        and (empty or bool(value))
        and all(isinstance(k, str) and isinstance(v, np.ndarray) for k, v in value.items())
    )


def load_weights(path: str) -> dict[str, np.ndarray]:
    """A state_dict saved with ``torch.save(model.state_dict(), path)``, as safetensors, or as
    .npz (``numpy.savez(path, **{k: v.numpy() ...})``): key → array."""
    if torchfile.is_torch_file(path):
        state = torchfile.read(path)
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
        return safetensorsfile.read(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not hasattr(archive, "files"):
                raise SpecError(
                    f"{path}: not an .npz archive of named arrays", hint="save it with numpy.savez"
                )
            return {key: archive[key] for key in archive.files}
    except SpecError:
        raise
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file", hint="check the path of the weights") from None
    except Exception as exc:  # a damaged file fails in many ways; all are input errors
        raise _unreadable(
            path, ".npz", exc, "save it with torch.save(model.state_dict(), path) or numpy.savez"
        ) from None


__all__ = ["load_array", "load_weights"]
