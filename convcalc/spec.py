"""Reading a layer stack: YAML files, constructor-call strings and --layer flags.

The only module that imports yaml. YAML is loaded safely (no Python tags) with
the C loader when there is one, and every mapping and list remembers the lines
its entries came from, so that errors can cite ``net.yaml:14``.
"""

from __future__ import annotations

import ast
import functools
import gc
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import ConvcalcError, SpecError
from .layers import Layer, lookup
from .layers.base import did_you_mean
from .shape import Shape

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_ScalarNode = yaml.ScalarNode
_MappingNode = yaml.MappingNode
_SequenceNode = yaml.SequenceNode
_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"

#: keys of a layer mapping that are not constructor arguments
LAYER_KEYS = ("type", "name", "trainable")
TOP_KEYS = ("name", "input", "layers")


@dataclass(frozen=True)
class LayerSpec:
    """One entry of the stack: the layer object and where it came from."""

    index: int
    name: str
    layer: Layer
    trainable: bool = True
    #: "net.yaml:14" or "--layer 3"; None when built in code
    where: str | None = None
    arg_where: Mapping[str, str] = field(default_factory=dict)

    @property
    def type(self) -> str:
        return self.layer.type_name

    def location(self, argument: str | None = None) -> str | None:
        """``net.yaml:14, layers[5].in_features``."""
        where = self.arg_where.get(argument, self.where) if argument else self.where
        path = f"layers[{self.index}]" + (f".{argument}" if argument else "")
        return f"{where}, {path}" if where else None


@dataclass(frozen=True)
class Spec:
    layers: tuple[LayerSpec, ...]
    input_shape: Shape | None = None
    name: str | None = None
    source: str | None = None


# ------------------------------------------------------------------ YAML
class _LineDict(dict):
    line = 0
    key_lines: dict[Any, int]


class _LineList(list):
    line = 0
    item_lines: list[int]


class _Loader(_Base):
    """The safe loader, with scalar tag resolution memoised per document.

    A layer stack repeats the same few scalars (``Conv2d``, ``64``, ``true``)
    thousands of times; resolving a plain scalar depends only on its text and
    on how it was written (no path resolvers are registered), so the answer is
    cached instead of running the implicit-resolver regexes each time.
    """

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._scalar_tags: dict[tuple[str, Any], str] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is _ScalarNode:
            key = (value, implicit)
            tag = self._scalar_tags.get(key)
            if tag is None:
                tag = self._scalar_tags[key] = super().resolve(kind, value, implicit)
            return tag
        return super().resolve(kind, value, implicit)


def _expect(node: Any, kind: Any, what: str) -> None:
    """``!!map foo``: PyYAML's own message rather than a Python exception."""
    if not isinstance(node, kind):
        raise yaml.constructor.ConstructorError(
            None, None, f"expected a {what} node, but found {node.id}", node.start_mark
        )


def _construct_map(loader: Any, node: Any) -> _LineDict:
    _expect(node, _MappingNode, "mapping")
    loader.flatten_mapping(node)
    data = _LineDict()
    data.line = node.start_mark.line + 1
    data.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "found an unhashable key", key_node.start_mark
            ) from None
        if key in data:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        data[key] = loader.construct_object(value_node, deep=True)
        data.key_lines[key] = key_node.start_mark.line + 1
    return data


def _construct_seq(loader: Any, node: Any) -> _LineList:
    _expect(node, _SequenceNode, "sequence")
    data = _LineList(loader.construct_object(child, deep=True) for child in node.value)
    data.line = node.start_mark.line + 1
    data.item_lines = [child.start_mark.line + 1 for child in node.value]
    return data


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def _load_yaml(text: str) -> Any:
    """``yaml.load(text, Loader=_Loader)``, with a faster construction of the common nodes.

    The C parser composes the node tree; plain mappings, lists and strings are then
    built here directly (same objects, same line numbers, same errors as
    :func:`_construct_map` / :func:`_construct_seq`), other scalars once per
    distinct (tag, text), and anything else (tags, sets, ...) by PyYAML itself.
    Both paths share PyYAML's bookkeeping, so anchors, aliases and recursive
    nodes behave exactly as with ``yaml.load``.
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        return None if node is None else _construct_document(loader, node)
    finally:
        loader.dispose()


def _construct_document(loader: Any, root: Any) -> Any:
    scalars: dict[tuple[str, str], Any] = {}
    data = _build(root, loader, loader.constructed_objects, loader.recursive_objects, scalars)
    while loader.state_generators:
        generators, loader.state_generators = loader.state_generators, []
        for generator in generators:
            for _ in generator:
                pass
    loader.constructed_objects = {}
    loader.recursive_objects = {}
    return data


def _build(
    node: Any,
    loader: Any,
    constructed: dict[Any, Any],
    recursive: dict[Any, None],
    scalars: dict[tuple[str, str], Any],
) -> Any:
    """One node, as :func:`_construct_map`, :func:`_construct_seq` or PyYAML would build it.

    A plain function (not a closure that refers to itself): no reference cycle, so the
    node tree is freed by reference counting as soon as the document is built.
    """
    data: Any
    tag = node.tag
    cls = node.__class__
    if cls is _ScalarNode:
        if tag == _STR_TAG:
            return node.value
        key = (tag, node.value)
        if key in scalars:
            return scalars[key]
        value = scalars[key] = loader.construct_object(node, deep=True)
        return value
    if node in constructed:
        return constructed[node]
    if cls is _MappingNode and tag == _MAP_TAG:
        if node in recursive:
            raise yaml.constructor.ConstructorError(
                None, None, "found unconstructable recursive node", node.start_mark
            )
        recursive[node] = None
        loader.flatten_mapping(node)
        data = _LineDict()
        data.line = node.start_mark.line + 1
        key_lines = data.key_lines = {}
        for key_node, value_node in node.value:
            key = _build(key_node, loader, constructed, recursive, scalars)
            try:
                hash(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None, None, "found an unhashable key", key_node.start_mark
                ) from None
            if key in data:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            data[key] = _build(value_node, loader, constructed, recursive, scalars)
            key_lines[key] = key_node.start_mark.line + 1
    elif cls is _SequenceNode and tag == _SEQ_TAG:
        if node in recursive:
            raise yaml.constructor.ConstructorError(
                None, None, "found unconstructable recursive node", node.start_mark
            )
        recursive[node] = None
        children = node.value
        data = _LineList(
            [_build(child, loader, constructed, recursive, scalars) for child in children]
        )
        data.line = node.start_mark.line + 1
        data.item_lines = [child.start_mark.line + 1 for child in children]
    else:
        return loader.construct_object(node, deep=True)
    constructed[node] = data
    del recursive[node]
    return data


def _read_text(path: str) -> str:
    import sys

    if path == "-":
        return sys.stdin.read()
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file", hint="check the path") from None
    except IsADirectoryError:
        raise SpecError(f"{path}: is a directory, not a YAML file") from None
    except UnicodeDecodeError:
        raise SpecError(f"{path}: not a text file (it is not UTF-8)") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read it ({exc.strerror})") from None


class gc_paused:
    """Hold off the cyclic garbage collector while a long stack is read or analysed.

    Reading builds many long-lived objects and no garbage cycles; the collector would
    walk them again and again (a full collection every time the heap grows by a
    quarter), which makes a 100k-layer file cost twice as much per layer as a
    1k-layer one. Reference counting still frees everything as usual; the collector
    is switched back on afterwards, unless it was already off.
    """

    __slots__ = ("enabled",)

    def __enter__(self) -> None:
        self.enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: Any) -> None:
        if self.enabled:
            gc.enable()


def load_spec(path: str, text: str | None = None) -> Spec:
    """Read a YAML config file (``-`` is standard input)."""
    source = "<stdin>" if path == "-" else path
    if text is None:
        text = _read_text(path)
    with gc_paused():
        return _spec_from_text(text, source)


def _spec_from_text(text: str, source: str) -> Spec:
    try:
        data = _load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc)
        if "could not determine a constructor" in str(exc):
            problem = "YAML tags are not allowed (only plain values, lists and mappings)"
        context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and context_mark is not None and mark is not None and context_mark.line != mark.line:
            problem += f" ({context} at line {context_mark.line + 1})"
        raise SpecError(f"invalid YAML: {problem}", location=where) from None
    return spec_from_data(data, source)


def spec_from_data(data: Any, source: str | None = None) -> Spec:
    """Build a :class:`Spec` from loaded YAML (or an equivalent dict)."""

    def at(line: int | None) -> str | None:
        if source is None:
            return None
        return f"{source}:{line}" if line else source

    if data is None:
        raise SpecError(
            "the file is empty", location=at(None), hint="see examples/lenet.yaml for the format"
        )
    if isinstance(data, list):
        data = {"layers": data}
    if not isinstance(data, dict):
        raise SpecError(
            "expected a mapping with 'input' and 'layers'",
            location=at(getattr(data, "line", None)),
            hint="see examples/lenet.yaml for the format",
        )
    lines = getattr(data, "key_lines", {})
    for key in data:
        if key not in TOP_KEYS:
            raise SpecError(
                f"unknown top-level key {key!r}",
                location=at(lines.get(key)),
                hint=did_you_mean(str(key), TOP_KEYS) or f"the keys are: {', '.join(TOP_KEYS)}",
            )
    name = data.get("name")
    if name is not None and not isinstance(name, (str, int)):
        raise SpecError("name must be a string", location=at(lines.get("name")))
    input_shape = None
    if data.get("input") is not None:
        input_shape = shape_from_value(data["input"], location=at(lines.get("input")))
    layers = data.get("layers")
    if layers is None:
        raise SpecError("no layers", location=at(None), hint="add a 'layers:' list")
    if not isinstance(layers, list):
        raise SpecError("layers must be a list", location=at(lines.get("layers")))
    item_lines = getattr(layers, "item_lines", [None] * len(layers))
    entries = [
        layer_from_entry(entry, index, at(line), _arg_lines(entry, source))
        for index, (entry, line) in enumerate(zip(layers, item_lines))
    ]
    _check_names(entries)
    return Spec(tuple(entries), input_shape, None if name is None else str(name), source)


def _arg_lines(entry: Any, source: str | None) -> dict[str, Any]:
    """``{"in_features": "net.yaml:14", ...}`` for a mapping entry (None without a source)."""
    key_lines = getattr(entry, "key_lines", None)
    if not key_lines:
        return {}
    if source is None:
        return dict.fromkeys(map(str, key_lines))
    return {str(k): f"{source}:{v}" if v else source for k, v in key_lines.items()}


def _check_names(entries: Sequence[LayerSpec]) -> None:
    seen: dict[str, LayerSpec] = {}
    for entry in entries:
        if entry.name in seen:
            first = seen[entry.name]
            raise SpecError(
                f"layer name {entry.name!r} is used twice: layers[{first.index}] and layers[{entry.index}]",
                location=entry.location("name"),
                hint="give each layer a unique name",
            )
        seen[entry.name] = entry


def layer_from_entry(
    entry: Any, index: int, where: str | None = None, arg_where: dict[str, str] | None = None
) -> LayerSpec:
    """One entry of ``layers``: a string or a mapping."""
    arg_where = arg_where or {}
    path = f"layers[{index}]"
    try:
        if isinstance(entry, str):
            type_name, positional, keywords = parse_call(entry)
            name, trainable = str(index), True
        elif isinstance(entry, dict):
            if "type" not in entry and len(entry) == 1:
                ((name_key, value),) = entry.items()
                if not isinstance(value, str):
                    raise SpecError(
                        "a layer mapping needs a 'type' key",
                        hint="write {type: Conv2d, ...}, a call string 'Conv2d(3, 8, 3)' or 'name: Conv2d(3, 8, 3)'",
                    )
                type_name, positional, keywords = parse_call(value)
                name, trainable = str(name_key), True
            else:
                if "type" not in entry:
                    raise SpecError(
                        "a layer mapping needs a 'type' key",
                        hint=did_you_mean("type", [str(k) for k in entry])
                        or "add type: Conv2d (or another layer type)",
                    )
                type_name = entry["type"]
                if not isinstance(type_name, str):
                    raise SpecError(
                        f"type must be a layer type name, got {type_name!r}", argument="type"
                    )
                positional = ()
                keywords = {str(k): v for k, v in entry.items() if k not in LAYER_KEYS}
                name = entry.get("name", index)
                if not isinstance(name, (str, int)) or isinstance(name, bool):
                    raise SpecError(f"name must be a string, got {name!r}", argument="name")
                name = str(name)
                trainable = entry.get("trainable", True)
                if not isinstance(trainable, bool):
                    raise SpecError(
                        f"trainable must be true or false, got {trainable!r}", argument="trainable"
                    )
        else:
            raise SpecError(
                f"a layer must be a string or a mapping, got {entry!r}",
                hint="write Conv2d(3, 8, 3) or {type: Conv2d, in_channels: 3, out_channels: 8, kernel_size: 3}",
            )
        if name == "input":
            raise SpecError("the name 'input' is reserved for the model input", argument="name")
        layer = lookup(type_name).build(positional, keywords)
    except SpecError as exc:
        if exc.location is None:
            keyed = isinstance(entry, dict) and "type" in entry
            arg = exc.argument if keyed or exc.argument not in LAYER_KEYS else None
            at = arg_where.get(arg, where) if arg else where
            exc.location = (
                (f"{at}, " if at else "") + path + (f".{arg}" if arg and arg != "input" else "")
            )
        raise
    return LayerSpec(index, name, layer, trainable, where, arg_where)


# ---------------------------------------------------- constructor-call strings
_CALL_HINT = (
    "write a PyTorch constructor call with literal arguments, e.g. Conv2d(6, 16, 5, padding=2)"
)


@functools.lru_cache(maxsize=4096)
def parse_call(text: str) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    """``"Conv2d(6, 16, kernel_size=(5, 5))"`` → ("Conv2d", (6, 16), {"kernel_size": (5, 5)}).

    Parsed with :mod:`ast`; arguments must be literals. Nothing is evaluated.
    ``nn.Conv2d(...)`` and ``torch.nn.Conv2d(...)`` are accepted too.
    """
    stripped = text.strip()
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", stripped):
        return stripped, (), {}
    try:
        node = ast.parse(stripped, mode="eval").body
    except SyntaxError as exc:
        raise SpecError(f"cannot read {text!r}: {exc.msg}", hint=_CALL_HINT) from None
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
    try:
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise ValueError("*args")
            positional.append(ast.literal_eval(arg))
        for kw in node.keywords:
            if kw.arg is None:
                raise ValueError("**kwargs")
            keywords[kw.arg] = ast.literal_eval(kw.value)
    except ValueError:
        raise SpecError(
            f"cannot read {text!r}: arguments must be literal values (numbers, strings, tuples, True/False/None)",
            hint=_CALL_HINT,
        ) from None
    return type_name, tuple(positional), keywords


def spec_from_strings(
    layers: Sequence[str], input_shape: Shape | None = None, name: str | None = None
) -> Spec:
    """The stack given as constructor-call strings (``--layer`` flags)."""
    entries = []
    for index, text in enumerate(layers):
        where = f"--layer {text!r}"
        match = re.fullmatch(r"\s*([A-Za-z_][\w.]*)\s*[:=]\s*(\S.*)", text)
        if match and "(" not in match.group(1):
            entry: Any = {match.group(1): match.group(2)}
        else:
            entry = text
        entries.append(layer_from_entry(entry, index, where))
    _check_names(entries)
    return Spec(tuple(entries), input_shape, name, None)


# ---------------------------------------------------------------- shapes
def shape_from_value(value: Any, location: str | None = None) -> Shape:
    """An input shape from YAML (a list of ints) or text ("1,3,64,64", "1x3x64x64")."""
    if isinstance(value, str):
        text = value.strip().strip("[]()").strip()
        if not re.fullmatch(r"-?\d+(\s*[,x×\s]\s*-?\d+)*,?", text):
            raise SpecError(
                f"input shape {value!r} is not a list of integers",
                location=location,
                hint="write it as N,C,H,W, e.g. 1,3,224,224",
            )
        value = [int(p) for p in re.split(r"[\s,x×]+", text) if p]
    elif isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if (
        not isinstance(value, (list, tuple))
        or not value
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        raise SpecError(
            f"input shape must be a list of integers, got {value!r}",
            location=location,
            hint="e.g. input: [1, 3, 224, 224]",
        )
    if any(v < 1 for v in value):
        raise SpecError(
            f"input shape {tuple(value)} has a size below 1",
            location=location,
            hint="every size must be a positive integer",
        )
    return tuple(value)


__all__ = [
    "ConvcalcError",
    "LayerSpec",
    "Spec",
    "load_spec",
    "parse_call",
    "shape_from_value",
    "spec_from_data",
    "spec_from_strings",
]
