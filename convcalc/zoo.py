"""The built-in models (the zoo) and the block library, shipped inside the package.

``convcalc/models/zoo/NAME.yaml`` and ``convcalc/models/blocks.yaml`` are package
data, read with :mod:`importlib.resources` so that they are found wherever the
package is installed. A zoo model's ``import: ../blocks.yaml`` resolves inside
the package like any relative import.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
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


def names() -> list[str]:
    """Every built-in model's name (its file's stem), sorted."""
    folder = _models() / "zoo"
    if not folder.is_dir():  # an install without its package data
        return []
    return sorted(
        entry.name[: -len(".yaml")] for entry in folder.iterdir() if entry.name.endswith(".yaml")
    )


def find(name: str) -> Traversable | None:
    """The built-in model called ``name`` (``resnet50``), or None."""
    if name not in names():
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


@dataclass(frozen=True)
class ZooModel:
    """One built-in model and its figures at the input its file gives."""

    name: str
    model: str | None
    description: str
    input_shape: Shape | None
    output_shape: Shape | None
    params: int | None
    macs: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": self.model,
            "description": self.description,
            "input_shape": None if self.input_shape is None else list(self.input_shape),
            "output_shape": None if self.output_shape is None else list(self.output_shape),
            "params": self.params,
            "macs": self.macs,
        }


def catalog() -> list[ZooModel]:
    """Every built-in model, analysed at its own input shape."""
    from .analysis import analyze
    from .spec import load_spec

    models = []
    for name in names():
        source, text = read(name)
        first = text.split("\n", 1)[0]
        report = analyze(load_spec(source, text))
        models.append(
            ZooModel(
                name=name,
                model=report.model,
                description=first.removeprefix("#").strip(),
                input_shape=report.input_shape,
                output_shape=report.output_shape,
                params=report.totals.params,
                macs=report.totals.macs,
            )
        )
    return models
