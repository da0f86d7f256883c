"""The data model of an expanded network: its layers, what each reads, where each came from.

No dependency beyond the error and shape records: the reader (spec.py), the builder
(graph.py), the analysis and the forward pass all speak in these terms.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import Where, outer_place, place_fields
from .shape import Shape

if TYPE_CHECKING:
    from .layers import Layer
    from .pins import Pins

INPUT = "input"


@dataclass(frozen=True)
class LayerSpec:
    """One layer of the expanded model: the layer object, what it reads, where it came from."""

    index: int
    name: str
    layer: Layer
    trainable: bool = True
    #: "net.yaml:14" or "--layer 'ReLU'"; None when built in code
    where: str | None = None
    arg_where: Mapping[str, str | None] = field(default_factory=dict)
    #: the names of the outputs it reads ("input" is the model input)
    inputs: tuple[str, ...] = ()
    #: enclosing block instances, outermost first: ((name, block type), ...)
    path: tuple[tuple[str, str], ...] = ()
    #: where the entry sits in the config: "layers[5]" or "blocks.BasicBlock.layers[2]"
    yaml_path: str = ""
    #: where the entry is, to the column: (at, line, column, entry), see :func:`spot_where`
    spot: Spot | None = None
    #: for a layer inside a block: the spot of the entry in the model's own list that uses it
    used_at: Spot | None = None

    @property
    def type(self) -> str:
        return self.layer.type_name

    def location(self, argument: str | None = None) -> str | None:
        """``net.yaml:14, layers[5].in_features``."""
        where = self.arg_where.get(argument, self.where) if argument else self.where
        path = (self.yaml_path or f"layers[{self.index}]") + (f".{argument}" if argument else "")
        return f"{where}, {path}" if where else None

    def place(self, argument: str | None = None) -> dict[str, Any]:
        """file, line and column of the entry (of ``argument``'s key when it has one); inside
        a block, of the line that uses the block, with ``defined_at`` the layer's own."""
        where = self.arg_where.get(argument) if argument else None
        inner = where or spot_where(self.spot) or self.where
        return place_fields(*outer_place(inner, spot_where(self.used_at)))


@dataclass(frozen=True)
class Spec:
    layers: tuple[LayerSpec, ...]
    input_shape: Shape | None = None
    name: str | None = None
    source: str | None = None
    #: warnings found while reading (an unused branch, say)
    warnings: tuple[str, ...] = ()
    #: the config's ``limits:`` and ``expect:`` (None: it has neither)
    pins: Pins | None = None
    #: ``ignore_weights:``: modules of the source model that no layer stands for (its
    #: forward never calls them); ``run --weights`` skips their state_dict keys
    ignore_weights: tuple[str, ...] = ()


class Call(str):
    """A constructor call already read: its text (``Conv2d(3, 8, kernel_size=(3, 3))``), and
    its type name, positional and keyword arguments, which the builder takes as they are
    instead of parsing the text again (a printout's layers, read once by printout.py)."""

    type_name: str
    positional: tuple[Any, ...]
    keywords: Mapping[str, Any]

    def __new__(
        cls, text: str, type_name: str, positional: tuple[Any, ...], keywords: Mapping[str, Any]
    ) -> Call:
        self = super().__new__(cls, text)
        self.type_name, self.positional, self.keywords = type_name, positional, keywords
        return self


class Places:
    """The places of one file: called with a line, ``net.yaml:14`` (cheap: every entry gets
    one); :meth:`where` adds the column and keeps the parts, for an error's JSON fields."""

    __slots__ = ("source",)

    def __init__(self, source: str | None) -> None:
        self.source = source

    def __call__(self, line: int | None) -> str | None:
        if self.source is None:
            return None
        return f"{self.source}:{line}" if line else self.source

    def where(self, line: int | None, column: int | None = None) -> Where | None:
        if self.source is None:
            return None
        return Where(
            f"{self.source}:{line}" if line else self.source, self.source, line or None, column
        )


def place(
    at: Callable[[int | None], str | None], line: int | None, column: int | None = None
) -> str | None:
    """``at(line)``, as a :class:`Where` with the column when ``at`` is a file's :class:`Places`."""
    return at.where(line, column) if isinstance(at, Places) else at(line)


#: (at, line, column, entry): where an entry is, turned into a :class:`Where` only when
#: an error needs it
Spot = tuple[Callable[[int | None], "str | None"], "int | None", "int | None", Any]


def spot_where(spot: Spot | None) -> str | None:
    """The place of an entry; for ``name: Call(...)``, of its call string."""
    if spot is None:
        return None
    at, line, column, raw = spot
    text = at(line)
    if not isinstance(at, Places) or text is None:
        return text
    value_at = getattr(raw, "value_at", None)
    if value_at is not None and "type" not in raw:
        return Where(text, at.source, value_at[0], value_at[1])
    return Where(text, at.source, line or None, column)
