"""A layer's constructor arguments: :class:`Arg` (PyTorch's name, a converter, the default)
and the converters that check a written value and give it its form (an int, a tuple per
axis, one of a few choices)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar, cast

from ..errors import ShapeError

REQUIRED: Any = type("REQUIRED", (), {"__repr__": lambda self: "required"})()


class BadValue(Exception):
    """Raised by a converter: the value is not of the form the argument takes."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


T_co = TypeVar("T_co", covariant=True)
T = TypeVar("T")


class Converter(Protocol[T_co]):
    """Checks a written value and returns it in its form (raising :class:`BadValue`);
    ``form`` says how the value is written, for messages and `convcalc layers`."""

    form: str

    def __call__(self, v: Any, /) -> T_co: ...


class Arg:
    """One constructor argument: PyTorch's name, a converter, the default."""

    __slots__ = ("name", "convert", "default", "infer", "form")

    def __init__(
        self,
        name: str,
        convert: Converter[Any],
        default: Any = REQUIRED,
        *,
        infer: bool = False,
        form: str = "",
    ) -> None:
        self.name = name
        self.convert = convert
        self.default = default
        #: may be omitted: taken from the incoming shape, as PyTorch's Lazy modules do
        self.infer = infer
        #: how the value is written, for `convcalc layers`
        self.form = form or convert.form

    def describe_default(self) -> str:
        if self.default is REQUIRED:
            return "from input" if self.infer else "required"
        return repr(self.default)


# ----------------------------------------------------------------- converters
def is_int(v: Any) -> bool:
    """An int and not a bool (YAML's true is an int to Python)."""
    return type(v) is int or (isinstance(v, int) and not isinstance(v, bool))


#: torch takes integer arguments as 64-bit ("Overflow when unpacking long long" beyond)
INT64_LIMIT = 1 << 63


def beyond_int64(v: Any) -> int | None:
    """The first integer in ``v`` (or its lists) that 64 bits cannot hold, else None."""
    if is_int(v):
        return v if not -INT64_LIMIT <= v < INT64_LIMIT else None
    if isinstance(v, (list, tuple)):
        for item in v:  # a plain loop: this runs for every argument of every layer
            huge = beyond_int64(item)
            if huge is not None:
                return huge
    return None


def converter_form(text: str) -> Callable[[Callable[[Any], T]], Converter[T]]:
    """Make a function a :class:`Converter` of the form it accepts ("int or (int, int)"),
    for error messages and the layer reference; converters in every layer module use it."""

    def wrap(fn: Callable[[Any], T]) -> Converter[T]:
        converter = cast("Converter[T]", fn)
        converter.form = text
        return converter

    return wrap


@converter_form("int")
def to_int(v: Any) -> int:
    if not is_int(v):
        raise BadValue("an integer")
    return int(v)


@converter_form("int or None")
def to_opt_int(v: Any) -> int | None:
    return None if v is None else to_int(v)


@converter_form("bool")
def to_bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise BadValue("true or false")
    return v


@converter_form("float")
def to_float(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise BadValue("a number")
    return float(v)


@converter_form("float or None")
def to_opt_float(v: Any) -> float | None:
    return None if v is None else to_float(v)


class Repeated(tuple[int, ...]):
    """Per-axis values written as a list of one, repeated to every axis as torch's
    convolution and pooling kernels do (the few places that refuse that form check for it)."""


def refuse_repeated(name: str, value: Any, n: int, why: str) -> None:
    """Where torch takes ``name`` as written (``why``), a list of one is not one value per
    axis of the ``n``: a ShapeError."""
    if isinstance(value, Repeated) and n > 1:
        raise ShapeError(
            f"{name} must be an integer or a list of {n} ({why}), got {[value[0]]}",
            argument=name,
            expected=f"an integer or a list of {n}",
            got=[value[0]],
            hint=f"write {name}={value[0]}",
        )


def to_ints(n: int, allow_none: bool = False, repeat: bool = False) -> Converter[Any]:
    """An int, or a list/tuple of ``n`` ints, returned as an ``n``-tuple; with ``repeat``, a
    list of one too (a :class:`Repeated`), as torch's convolutions take stride & co."""
    what = "an integer" if n == 1 else f"an integer or a list of {n} integers"
    if repeat and n > 1:
        what += " (or of one)"

    @converter_form("int" if n == 1 else f"int or ({', '.join(['int'] * n)})")
    def convert(v: Any) -> Any:
        if v is None and allow_none:
            return None
        if is_int(v):
            return (int(v),) * n
        if isinstance(v, (list, tuple)) and all(is_int(i) for i in v):
            if len(v) == n:
                return tuple(int(i) for i in v)
            if repeat and len(v) == 1:
                return Repeated((int(v[0]),) * n)
        raise BadValue(what)

    if allow_none:
        convert.form += " or None"
    return convert


def to_choice(*choices: Any) -> Converter[Any]:
    @converter_form(" | ".join(repr(c) for c in choices))
    def convert(v: Any) -> Any:
        if v not in choices or isinstance(v, bool) != any(
            isinstance(c, bool) for c in choices if c == v
        ):
            raise BadValue("one of " + ", ".join(repr(c) for c in choices))
        return v

    return convert


@converter_form("int or list of int")
def to_int_list(v: Any) -> tuple[int, ...]:
    if is_int(v):
        return (int(v),)
    if isinstance(v, (list, tuple)) and all(is_int(i) for i in v):
        return tuple(int(i) for i in v)
    raise BadValue("an integer or a list of integers")


def same_value(value: Any, default: Any) -> bool:
    if isinstance(value, tuple) and not isinstance(default, tuple):
        return all(v == default for v in value)
    return bool(value == default)


def compact(value: Any) -> str:
    if isinstance(value, tuple) and value and all(v == value[0] for v in value):
        return repr(value[0])
    return repr(value)
