"""The safe evaluator: PyTorch constructor calls and ``$parameter`` arithmetic, read with
:mod:`ast` and never evaluated with ``eval``, within size bounds."""

from __future__ import annotations

import ast
import functools
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

from .errors import CONTROL, SpecError, clip
from .layers.base import did_you_mean

#: integers read from a file or computed from block parameters stay below 2**MAX_INT_BITS
#: (far beyond torch's 64 bits, so that those get their own message, and short to print)
MAX_INT_BITS = 256


_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Div: operator.truediv,
}
_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
NAME_HINT = "a name is printed in every table and message: use letters, digits, '_' and '-'"


def unprintable(text: str) -> str | None:
    """The first control character in ``text`` (a name), else None."""
    match = CONTROL.search(text)
    return None if match is None else match.group()


def _bounded(value: Any, text: str) -> Any:
    """``value``, unless it is an integer of more than MAX_INT_BITS bits: such a number is
    no size torch takes, and products of products of them grow without bound (a block that
    passes ``$a * $a`` to a block that does the same doubles the digits at every level)."""
    if type(value) is int and value.bit_length() > MAX_INT_BITS:
        raise SpecError(
            f"cannot read {clip(text)}: a number beyond 2**{MAX_INT_BITS}",
            hint="sizes are 64-bit integers in torch",
        )
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 20 else text[:19] + "…"


def _value(node: ast.AST, names: Mapping[str, Any], text: str) -> Any:
    """A literal, arithmetic on numbers, comparisons and not/and/or, and block parameters;
    nothing else (no calls, no attributes, no indexing)."""
    if isinstance(node, ast.Constant):
        return _bounded(node.value, text)
    if isinstance(node, (ast.Tuple, ast.List)):
        items = [_value(e, names, text) for e in node.elts]
        return tuple(items) if isinstance(node, ast.Tuple) else items
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _value(node.operand, names, text)
        if isinstance(operand, (int, float)) and not isinstance(operand, bool):
            return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _value(node.left, names, text), _value(node.right, names, text)
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left, right)):
            try:
                return _bounded(_BINOPS[type(node.op)](left, right), text)
            except ZeroDivisionError:
                raise SpecError(f"cannot read {text!r}: division by zero") from None
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
        left, right = _value(node.left, names, text), _value(node.comparators[0], names, text)
        try:
            return _COMPARE[type(node.ops[0])](left, right)
        except TypeError:  # 1 < 'a', (1, 2) < 3: no order between them
            raise SpecError(
                f"cannot read {clip(text)}: cannot compare {_short(left)} "
                f"({type(left).__name__}) with {_short(right)} ({type(right).__name__})"
            ) from None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return not _value(node.operand, names, text)
    if isinstance(node, ast.BoolOp):
        values = [_value(v, names, text) for v in node.values]
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.Name):
        if node.id in names:
            return names[node.id]
        if names:
            raise SpecError(
                f"cannot read {text!r}: unknown parameter {node.id!r}",
                hint=did_you_mean(node.id, list(names))
                or f"the parameters are: {', '.join(names)}",
            )
    raise SpecError(
        f"cannot read {text!r}: arguments must be literal values (numbers, strings, tuples, True/False/None)"
        + (" or integer arithmetic on block parameters" if names else ""),
        hint=_CALL_HINT,
    )


_CALL_HINT = (
    "write a PyTorch constructor call with literal arguments, e.g. Conv2d(6, 16, 5, padding=2)"
)
_PARAM = re.compile(r"\$([A-Za-z_]\w*)")


def _syntax(exc: SyntaxError | ValueError) -> str:
    """What ast.parse found wrong: its message, or that the text holds a character that is
    not text (a byte of a command line argument that is not UTF-8)."""
    if isinstance(exc, SyntaxError):
        return str(exc.msg)
    return "it holds a character that is not text (a byte that is not UTF-8)"


#: how deeply an expression may nest (a constructor call with a tuple of sums is a few levels;
#: Python's own parser gives up, with a RecursionError, somewhere near a thousand)
MAX_DEPTH = 100


#: expressions up to this long are parsed once per process (a block's calls are read at every
#: use, and ``check`` reads the same block library for every model); the trees are never changed
CACHED_SOURCE = 400


def _parsed(source: str, text: str, hint: str | None = None) -> ast.expr:
    """``source`` parsed as one expression, at most MAX_DEPTH levels deep, or a SpecError."""
    if len(source) <= CACHED_SOURCE:
        return _parsed_once(source, text, hint)
    return _parse(source, text, hint)


@functools.lru_cache(maxsize=4096)
def _parsed_once(source: str, text: str, hint: str | None) -> ast.expr:
    return _parse(source, text, hint)


def _parse(source: str, text: str, hint: str | None) -> ast.expr:
    try:
        node = ast.parse(source, mode="eval").body
    except (SyntaxError, ValueError) as exc:  # ValueError: a lone surrogate, from argv's bytes
        raise SpecError(f"cannot read {clip(text)}: {_syntax(exc)}", hint=hint) from None
    except (RecursionError, MemoryError):
        node = None
    if node is None or _depth(node) > MAX_DEPTH:
        raise SpecError(
            f"cannot read {clip(text)}: the expression is nested more than {MAX_DEPTH} levels deep",
            hint="write the value out, or split the arithmetic over block parameters",
        )
    return node


def _depth(root: ast.AST) -> int:
    """How many levels the tree has (counted without recursion)."""
    deepest, stack = 0, [(root, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth <= MAX_DEPTH:
            stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def expression(text: str, names: Mapping[str, Any]) -> Any:
    """``"$k // 2"`` with ``names={"k": 3}`` → 1."""
    source = _PARAM.sub(r"\1", text).strip()
    return _value(_parsed(source, text), names, text)


def interpolate(text: str, names: Mapping[str, Any]) -> str:
    """``"layer$i"`` → ``"layer2"``: parameters inside a name."""

    def one(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            raise SpecError(
                f"name {text!r}: unknown parameter {match.group(1)!r}",
                argument="name",
                hint=did_you_mean(match.group(1), list(names))
                or "only block parameters can appear in names",
            )
        return str(names[match.group(1)])

    return _PARAM.sub(one, text)


def substitute(value: Any, names: Mapping[str, Any]) -> Any:
    """Replace ``$expressions`` in a mapping value (strings, lists, tuples)."""
    if isinstance(value, str) and _PARAM.search(value):
        return expression(value, names)
    if isinstance(value, list):
        return [substitute(v, names) for v in value]
    if isinstance(value, tuple):
        return tuple(substitute(v, names) for v in value)
    return value


@functools.lru_cache(maxsize=4096)
def _parse_literal_call(text: str) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    return _parse_call(text, {})


def parse_call(
    text: str, names: Mapping[str, Any] | None = None
) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    """``"Conv2d(6, 16, kernel_size=(5, 5))"`` → ("Conv2d", (6, 16), {"kernel_size": (5, 5)}).

    Parsed with :mod:`ast`: arguments must be literals (inside a block, also
    ``$parameters`` and integer arithmetic on them). Nothing is evaluated with
    ``eval``. ``nn.Conv2d(...)`` and ``torch.nn.Conv2d(...)`` are accepted too.
    """
    if names:
        return _parse_call(text, names)
    return _parse_literal_call(text)


def _parse_call(text: str, names: Mapping[str, Any]) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    stripped = _PARAM.sub(r"\1", text).strip() if names else text.strip()
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", stripped):
        return stripped, (), {}
    node = _parsed(stripped, text, _CALL_HINT)
    func = node.func if isinstance(node, ast.Call) else node
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if not isinstance(func, ast.Name):
        raise SpecError(f"cannot read {text!r}: not a layer constructor call", hint=_CALL_HINT)
    type_name = parts[0] if parts else func.id
    if not isinstance(node, ast.Call):
        return type_name, (), {}
    positional = []
    keywords: dict[str, Any] = {}
    for arg in node.args:
        if isinstance(arg, ast.Starred):
            raise SpecError(
                f"cannot read {text!r}: arguments must be literal values (no *args)",
                hint=_CALL_HINT,
            )
        positional.append(_value(arg, names, text))
    for kw in node.keywords:
        if kw.arg is None:
            raise SpecError(
                f"cannot read {text!r}: arguments must be literal values (no **kwargs)",
                hint=_CALL_HINT,
            )
        if kw.arg in keywords:  # as Python itself refuses f(a=1, a=2)
            raise SpecError(
                f"cannot read {clip(text)}: keyword argument {kw.arg!r} repeated",
                argument=kw.arg,
                hint="give each argument once",
            )
        keywords[kw.arg] = _value(kw.value, names, text)
    return type_name, tuple(positional), keywords
