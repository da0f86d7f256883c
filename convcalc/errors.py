"""Errors that convcalc reports to people.

One family: :class:`ConvcalcError`. A short fact is raised deep inside (a layer
rule, the spec reader) and the caller that knows the context -- the layer's
index, name and type, or the file and line -- adds it with :meth:`at_layer` or
:meth:`at_location` before it reaches the user.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

#: characters that would move the cursor, colour the terminal or reorder the line when
#: printed (C0 and C1 controls, and the bidirectional embeddings, overrides and isolates)
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escaped(match: re.Match[str]) -> str:
    return repr(match.group())[1:-1]


class Where(str):
    """A place in a config, written ``net.yaml:14`` (or ``--layer 'ReLU'``), that also keeps
    its parts -- file, 1-based line and column -- for the JSON output."""

    file: str | None
    line: int | None
    column: int | None

    def __new__(
        cls, text: str, file: str | None = None, line: int | None = None, column: int | None = None
    ) -> Where:
        self = super().__new__(cls, text)
        self.file, self.line, self.column = file, line, column
        return self


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
        branch: int | None = None,
        resizable: bool = True,
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
        #: which input of a merge (Add, Concat) the error is about
        self.branch = branch
        #: False when another input size is not the fix (a missing Flatten, say): the
        #: diagnosis does not look for one
        self.resizable = resizable
        self.location: str | None = None
        self.index: int | None = None
        self.name: str | None = None
        self.type: str | None = None
        #: the message starts with the layer (index, name, type): set by at_layer; an entry
        #: that could not be read keeps them for the JSON output only (its location says it)
        self.labelled = False
        self.context = ""
        #: further problems found by the same check (all of a weight file's, say), reported
        #: after this one
        self.others: list[ConvcalcError] = []
        #: where the problem is, as separate fields (1-based); for a layer inside a block,
        #: the line that uses the block, and ``defined_at`` the block definition's
        self.file: str | None = None
        self.line: int | None = None
        self.column: int | None = None
        self.defined_at: tuple[str | None, int | None] | None = None
        self.at_location(location)

    def at_layer(self, index: int, name: str, type_: str, context: str = "") -> ConvcalcError:
        self.index, self.name, self.type = index, name, type_
        self.context = context
        self.labelled = True
        return self

    def with_others(self, others: Sequence[ConvcalcError]) -> ConvcalcError:
        self.others = list(others)
        return self

    def at_location(self, location: str | None) -> ConvcalcError:
        if location and not self.location:
            self.location = location
            self.at_place(location)
        return self

    def at_place(self, where: str | None) -> ConvcalcError:
        """Take file, line and column from ``where`` (a :class:`Where`). A place already
        known is the innermost one: an outer place (the line that uses a block) takes its
        fields, and the inner one's file and line become ``defined_at``."""
        if not isinstance(where, Where) or (where.file is None and where.line is None):
            return self
        if self.file is not None or self.line is not None:
            if (self.file, self.line) == (where.file, where.line):
                return self
            if self.defined_at is None:
                self.defined_at = (self.file, self.line)
        self.file, self.line, self.column = where.file, where.line, where.column
        return self

    def place_dict(self) -> dict[str, Any]:
        """The structured fields of the JSON output."""
        return place_fields(self.file, self.line, self.column, self.defined_at) | {
            "expected": jsonable(self.expected),
            "got": jsonable(self.got),
        }

    @property
    def message(self) -> str:
        return self._shown(True)

    @property
    def unlocated(self) -> str:
        """The message without its location (for a line that says the place on its own)."""
        return self._shown(False)

    def _shown(self, located: bool) -> str:
        text = self.fact + self.context
        if self.labelled:
            text = f"layer {self.index} '{self.name}' ({self.type}): {text}"
        if self.location and located:
            text = f"{self.location}: {text}"
        # one line, and nothing the terminal would act on, whatever the input held
        return CONTROL.sub(_escaped, text) if not text.isprintable() else text

    def __str__(self) -> str:
        return self.message


def place_fields(
    file: str | None,
    line: int | None,
    column: int | None,
    defined_at: tuple[str | None, int | None] | None = None,
) -> dict[str, Any]:
    """file, line, column and defined_at as the JSON output writes them."""
    defined = None if defined_at is None else {"file": defined_at[0], "line": defined_at[1]}
    return {"file": file, "line": line, "column": column, "defined_at": defined}


def outer_place(
    inner: str | None, outer: str | None
) -> tuple[str | None, int | None, int | None, tuple[str | None, int | None] | None]:
    """(file, line, column, defined_at) of a place ``inner`` (a :class:`Where`) seen from
    ``outer`` (the line that uses its block): the outer place wins, and the inner one's file
    and line become ``defined_at``. Either may be None, or text without parts."""
    places = [w for w in (inner, outer) if isinstance(w, Where)]
    places = [w for w in places if w.file is not None or w.line is not None]
    if not places:
        return None, None, None, None
    first, last = places[0], places[-1]
    if (first.file, first.line) == (last.file, last.line):
        return first.file, first.line, first.column, None
    return last.file, last.line, last.column, (first.file, first.line)


def clip(text: str, width: int = 60) -> str:
    """``text`` quoted (as ``repr``, which shows control characters escaped), cut to about
    ``width`` characters: a message echoes what it is about, not a whole megabyte of it."""
    return repr(text if len(text) <= width else text[: width - 1] + "…")


#: integers up to this many bits are written out in full (others by their size)
PRINTED_INT_BITS = 1024


def number_text(n: int) -> str:
    """``n`` in decimal, or for a huge integer (which Python will not convert to text
    beyond 4,300 digits) how large it is: ``an integer of about 5,000 digits``."""
    if n.bit_length() <= PRINTED_INT_BITS:
        return str(n)
    digits = round(n.bit_length() * math.log10(2))
    return f"{'a negative' if n < 0 else 'an'} integer of about {digits:,} digits"


def jsonable(value: Any) -> Any:
    """``expected``/``got`` as JSON values: tuples become lists, anything else unusual its text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value.bit_length() <= PRINTED_INT_BITS else number_text(value)
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (tuple, list)):
        return [jsonable(v) for v in value]
    return str(value)


class SpecError(ConvcalcError):
    """The input cannot be read: a missing file, bad YAML, an unknown layer or argument."""

    exit_code = 2


class NotAConfig(SpecError):
    """A readable file that is no convcalc config (a CI workflow, say): ``check
    --skip-foreign`` skips it; any other command cannot read it."""


class BlockLibrary(SpecError):
    """A file that defines blocks for others to import and has no layers of its own: no
    model to analyse (``check`` counts it read once its blocks are)."""

    def __init__(self, message: str, *, blocks: int, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.blocks = blocks


class ShapeError(ConvcalcError):
    """The model is wrong: PyTorch would reject it at construction or in forward."""

    exit_code = 1
