"""The built-in models (the zoo) and the block library, shipped inside the package.

``convcalc/models/zoo/NAME.yaml`` and ``convcalc/models/blocks.yaml`` are package
data, read with :mod:`importlib.resources` so that they are found wherever the
package is installed. A zoo model's ``import: ../blocks.yaml`` resolves inside
the package like any relative import.
"""

from __future__ import annotations

import functools
import os
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

from .errors import SpecError
from .layers.base import did_you_mean
from .shape import Shape

#: the base name that, when an ``import:`` path does not exist, means the built-in block library
BLOCKS = "blocks.yaml"


def _models() -> Traversable:
    return resources.files("convcalc") / "models"


@functools.cache
def _listing() -> tuple[str, ...]:
    """The zoo folder's models, listed once: the package's data does not change while it runs."""
    folder = _models() / "zoo"
    if not folder.is_dir():  # an install without its package data
        return ()
    return tuple(
        sorted(
            entry.name[: -len(".yaml")]
            for entry in folder.iterdir()
            if entry.name.endswith(".yaml")
        )
    )


def names() -> list[str]:
    """Every built-in model's name (its file's stem), sorted."""
    return list(_listing())


def find(name: str) -> Traversable | None:
    """The built-in model called ``name`` (``resnet50``), or None."""
    if name not in _listing():
        return None
    return _models() / "zoo" / f"{name}.yaml"


def read(name: str) -> tuple[str, str]:
    """``(source, text)`` of the built-in model ``name``; a SpecError with a did-you-mean otherwise."""
    model = find(name)
    if model is None:
        raise SpecError(
            f"{name!r} is not a built-in model",
            hint=did_you_mean(name, names()) or "`convcalc zoo` lists the built-in models",
        )
    return str(model), model.read_text(encoding="utf-8")


def block_library() -> tuple[str, str]:
    """``(source, text)`` of the built-in block library."""
    library = _models() / BLOCKS
    return str(library), library.read_text(encoding="utf-8")


def missing_file_hint(path: str) -> str:
    """What to say when ``path`` is neither a file nor a built-in model."""
    stem = os.path.basename(path)
    for suffix in (".yaml", ".yml"):
        stem = stem.removesuffix(suffix)
    known = names()
    if stem in known:
        return f"the built-in model is read by its name alone: {stem}"
    guess = did_you_mean(stem, known) if os.sep not in path and "/" not in path else None
    if guess:
        return f"{guess[:-1]} (a built-in model)?"
    return "check the path; `convcalc zoo` lists the built-in models"


def catalog() -> list[dict[str, Any]]:
    """Every built-in model, analysed at its own input shape: its name, the model's own
    name, the description its file starts with, input and output shape, params and MACs."""
    from .analysis import analyze
    from .spec import load_spec

    models = []
    for name in _listing():
        source, text = read(name)
        report = analyze(load_spec(source, text))
        models.append(
            {
                "name": name,
                "model": report.model,
                "description": text.split("\n", 1)[0].removeprefix("#").strip(),
                "input_shape": _listed(report.input_shape),
                "output_shape": _listed(report.output_shape),
                "params": report.totals.params,
                "macs": report.totals.macs,
            }
        )
    return models


def _listed(shape: Shape | None) -> list[int] | None:
    return None if shape is None else list(shape)
