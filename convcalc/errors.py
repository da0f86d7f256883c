"""Errors that convcalc reports to people.

One family: :class:`ConvcalcError`. A short fact is raised deep inside (a layer
rule, the spec reader) and the caller that knows the context -- the layer's
index, name and type, or the file and line -- adds it with :meth:`at_layer` or
:meth:`at_location` before it reaches the user.
"""

from __future__ import annotations

from typing import Any


class ConvcalcError(Exception):
    """Base class. ``exit_code`` is what the command line exits with."""

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        argument: str | None = None,
        expected: Any = None,
        got: Any = None,
        dim: int | None = None,
        location: str | None = None,
    ) -> None:
        super().__init__(message)
        self.fact = message
        self.hint = hint
        self.argument = argument
        self.expected = expected
        self.got = got
        #: which dimension of the layer's input the error is about (for provenance)
        self.dim = dim
        self.location = location
        self.index: int | None = None
        self.name: str | None = None
        self.type: str | None = None
        self.context = ""
        #: further problems found by the same check (all of a weight file's, say), reported
        #: after this one
        self.others: list[ConvcalcError] = []

    def at_layer(self, index: int, name: str, type_: str, context: str = "") -> ConvcalcError:
        self.index, self.name, self.type = index, name, type_
        self.context = context
        return self

    def with_others(self, others: list[ConvcalcError]) -> ConvcalcError:
        self.others = list(others)
        return self

    def at_location(self, location: str | None) -> ConvcalcError:
        if location and not self.location:
            self.location = location
        return self

    @property
    def message(self) -> str:
        text = self.fact + self.context
        if self.index is not None:
            text = f"layer {self.index} '{self.name}' ({self.type}): {text}"
        if self.location:
            text = f"{self.location}: {text}"
        return text

    def __str__(self) -> str:
        return self.message


class SpecError(ConvcalcError):
    """The input cannot be read: a missing file, bad YAML, an unknown layer or argument."""

    exit_code = 2


class ShapeError(ConvcalcError):
    """The model is wrong: PyTorch would reject it at construction or in forward."""

    exit_code = 1
