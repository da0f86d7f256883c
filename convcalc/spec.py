"""Reading a layer stack: YAML files, constructor-call strings and --layer flags.

The only module that imports yaml. YAML is loaded safely (no Python tags) with
the C loader when there is one, and every mapping and list remembers the lines
its entries came from, so that errors can cite ``net.yaml:14``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

import yaml

from .errors import ConvcalcError, SpecError
from .errors import clip as _clip
from .expr import MAX_INT_BITS, NAME_HINT, parse_call, unprintable
from .graph import BlockDef, build, gc_paused, read_blocks
from .layers.arguments import INT64_LIMIT, beyond_int64
from .layers.base import did_you_mean
from .model import LayerSpec, Places, Spec, place
from .printout import is_printout, read_printout, spec_from_printout
from .shape import Shape

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_ScalarNode = yaml.ScalarNode
_MappingNode = yaml.MappingNode
_SequenceNode = yaml.SequenceNode
_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"

TOP_KEYS = ("name", "input", "layers", "blocks", "import")


# ------------------------------------------------------------------ YAML
class _LineDict(dict):
    line = 0
    column = 0
    key_lines: dict[Any, int]
    key_cols: dict[Any, int]
    #: a mapping of one key (``conv1: Conv2d(3, 8, 3)``): the value's line and column
    value_at: tuple[int, int] | None = None


class _LineList(list):
    line = 0
    column = 0
    item_lines: list[int]
    item_cols: list[int]


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


def _map_body(loader: Any, node: Any, child: Any) -> _LineDict:
    """A mapping node as a dict that remembers its keys' lines; ``child`` builds each node."""
    loader.flatten_mapping(node)
    data = _LineDict()
    mark = node.start_mark
    data.line = mark.line + 1
    data.column = mark.column + 1
    key_lines = data.key_lines = {}
    key_cols = data.key_cols = {}
    pairs = node.value
    if len(pairs) == 1:
        mark = pairs[0][1].start_mark
        data.value_at = (mark.line + 1, mark.column + 1)
    for key_node, value_node in pairs:
        key = child(key_node)
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
        data[key] = child(value_node)
        mark = key_node.start_mark
        key_lines[key] = mark.line + 1
        key_cols[key] = mark.column + 1
    return data


def _seq_body(node: Any, child: Any) -> _LineList:
    """A sequence node as a list that remembers its items' lines."""
    children = node.value
    data = _LineList([child(c) for c in children])
    data.line = node.start_mark.line + 1
    data.column = node.start_mark.column + 1
    marks = [c.start_mark for c in children]
    data.item_lines = [m.line + 1 for m in marks]
    data.item_cols = [m.column + 1 for m in marks]
    return data


def _construct_map(loader: Any, node: Any) -> _LineDict:
    _expect(node, _MappingNode, "mapping")
    return _map_body(loader, node, lambda n: loader.construct_object(n, deep=True))


def _construct_seq(loader: Any, node: Any) -> _LineList:
    _expect(node, _SequenceNode, "sequence")
    return _seq_body(node, lambda n: loader.construct_object(n, deep=True))


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


def _construct_scalar(loader: Any, node: Any) -> Any:
    """A scalar as PyYAML constructs it, but a value it cannot construct (a date that is
    none, ``!!int x``, a decimal number of more than 4,300 digits) or an integer beyond
    2**MAX_INT_BITS is a YAML error at its node, not an exception from deep inside."""
    try:
        value = loader.construct_object(node, deep=True)
    except yaml.YAMLError:
        raise  # PyYAML's own message (a tag it refuses, say), with its place
    except Exception as exc:  # noqa: BLE001 - !!bool maybe: a KeyError; !!timestamp x: others
        problem = str(exc).split("\n", 1)[0]
        if "integer string conversion" in problem:
            problem = "too many digits"
        raise yaml.constructor.ConstructorError(
            None, None, f"cannot read {_clip(node.value)}: {problem}", node.start_mark
        ) from None
    if type(value) is int and value.bit_length() > MAX_INT_BITS:
        raise yaml.constructor.ConstructorError(
            None,
            None,
            f"{_clip(node.value)} is a number beyond 2**{MAX_INT_BITS}",
            node.start_mark,
        )
    return value


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
        value = scalars[key] = _construct_scalar(loader, node)
        return value
    if node in constructed:
        return constructed[node]
    if cls is _MappingNode and tag == _MAP_TAG:
        if node in recursive:
            raise yaml.constructor.ConstructorError(
                None, None, "found unconstructable recursive node", node.start_mark
            )
        recursive[node] = None
        data = _map_body(loader, node, lambda n: _build(n, loader, constructed, recursive, scalars))
    elif cls is _SequenceNode and tag == _SEQ_TAG:
        if node in recursive:
            raise yaml.constructor.ConstructorError(
                None, None, "found unconstructable recursive node", node.start_mark
            )
        recursive[node] = None
        data = _seq_body(node, lambda n: _build(n, loader, constructed, recursive, scalars))
    else:
        return loader.construct_object(node, deep=True)
    constructed[node] = data
    del recursive[node]
    return data


#: the largest config read (a 100,000-layer stack is about 5 MB): a file that never ends
#: (``import: /dev/zero``) is an error, not all of the memory
MAX_FILE_CHARS = 64 << 20


def _read_text(path: str) -> str:
    import sys

    try:
        if path == "-":
            text = sys.stdin.read(MAX_FILE_CHARS + 1)
        else:
            with open(path, encoding="utf-8") as handle:
                text = handle.read(MAX_FILE_CHARS + 1)
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file", hint="check the path") from None
    except IsADirectoryError:
        raise SpecError(f"{path}: is a directory, not a YAML file") from None
    except UnicodeDecodeError:
        raise SpecError(f"{path}: not a text file (it is not UTF-8)") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read it ({exc.strerror})") from None
    if len(text) > MAX_FILE_CHARS:
        name = "<stdin>" if path == "-" else path
        raise SpecError(f"{name}: longer than {MAX_FILE_CHARS >> 20} MiB, too long for a config")
    return text


def _read_model(path: str) -> tuple[str, str]:
    """``(source, text)`` of FILE: a file, standard input, or else a built-in model of that name."""
    if path == "-":
        return "<stdin>", _read_text(path)
    if not os.path.lexists(path) or os.path.isdir(path):
        from . import zoo

        if (
            zoo.find(path) is not None
        ):  # a folder called resnet50 (of checkpoints, say) is no config
            return zoo.read(path)
        if not os.path.lexists(path):
            raise SpecError(f"{path}: no such file", hint=zoo.missing_file_hint(path))
    return path, _read_text(path)


def _read_import(name: str, base: str, location: str | None) -> tuple[str, str]:
    """``(path, text)`` of an ``import:``, relative to the importing file.

    A ``blocks.yaml`` that is not there is the built-in block library, so that a zoo
    model copied anywhere keeps working.
    """
    path = os.path.normpath(os.path.join(base, name))
    if os.path.exists(path):
        return path, _read_text(path)
    from . import zoo

    if os.path.basename(path) == zoo.BLOCKS:
        return zoo.block_library()
    raise SpecError(
        f"import {name!r}: no such file ({path})",
        location=location,
        hint="import paths are relative to the importing file",
    )


def load_spec(path: str, text: str | None = None) -> Spec:
    """Read a YAML config file, or the text ``print(model)`` writes (``-`` is standard input;
    a name that is no file is a built-in model).

    A file always wins: ``resnet50`` is the zoo's ResNet-50 only where no file of that name exists.
    """
    source = "<stdin>" if path == "-" else path
    if text is None:
        source, text = _read_model(path)
    with gc_paused():
        if is_printout(text):
            return spec_from_printout(text, source)
        return _spec_from_text(text, source)


def printout_yaml(path: str, input_shape: Shape | None = None) -> str:
    """The YAML config equivalent to the ``print(model)`` text in ``path``, to edit further."""
    source = "<stdin>" if path == "-" else path
    text = _read_text(path)
    if not is_printout(text):
        raise SpecError(
            f"{source} is not a print(model) printout",
            hint="--to-yaml converts the text print(model) writes; this file is read as YAML already",
        )
    printout = read_printout(text, source)
    shown = " ".join(os.path.basename(source).splitlines())
    lines = [f"# {shown}, as print(model) wrote it; layer names are the state_dict keys"]
    lines += [f"# note: {note}" for note in printout.notes]
    if printout.name is not None:
        lines.append(yaml.safe_dump({"name": printout.name}, width=1 << 20).rstrip("\n"))
    if input_shape is not None:
        lines.append(f"input: [{', '.join(map(str, input_shape))}]")
    body = yaml.safe_dump(
        {"layers": printout.layers},
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 20,
    )
    return "\n".join(lines) + "\n" + body


def _spec_from_text(text: str, source: str) -> Spec:
    try:
        return spec_from_data(_load_document(text, source), source)
    except RecursionError:
        raise SpecError(
            "the YAML is nested too deeply to read",
            location=Places(source).where(None),
            hint="a layer's arguments need a few levels of lists and mappings at most",
        ) from None


def _load_document(text: str, source: str) -> Any:
    """Parsed YAML, or a SpecError that cites ``source:line``."""
    try:
        return _load_yaml(text)
    except yaml.reader.ReaderError as exc:
        # a character YAML does not allow: PyYAML's own text spans lines and gives an offset
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        char = exc.character if isinstance(exc.character, int) else ord(exc.character[:1] or "\0")
        raise SpecError(
            f"invalid YAML: the character U+{char:04X} is not allowed in YAML",
            location=Places(source).where(line, column),
            hint="remove the control character (or write it as an escape inside double quotes)",
        ) from None
    except (ValueError, OverflowError) as exc:  # a value PyYAML itself could not construct
        problem = str(exc).split("\n", 1)[0]
        raise SpecError(f"invalid YAML: {problem}", location=Places(source).where(None)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = (
            Places(source).where(mark.line + 1, mark.column + 1)
            if mark is not None
            else Places(source).where(None)
        )
        problem = getattr(exc, "problem", None) or str(exc)
        if "could not determine a constructor" in str(exc):
            problem = "YAML tags are not allowed (only plain values, lists and mappings)"
        context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if (
            context
            and context_mark is not None
            and mark is not None
            and context_mark.line != mark.line
        ):
            problem += f" ({context} at line {context_mark.line + 1})"
        raise SpecError(f"invalid YAML: {problem}", location=where) from None


def spec_from_data(data: Any, source: str | None = None) -> Spec:
    """Build a :class:`Spec` from loaded YAML (or an equivalent dict)."""

    at = Places(source)

    if data is None:
        raise SpecError(
            "the file is empty",
            location=place(at, None),
            hint="`convcalc zoo lenet5` prints a config to start from",
        )
    if isinstance(data, list):
        data = {"layers": data}
    if not isinstance(data, dict):
        raise SpecError(
            "expected a mapping with 'input' and 'layers'",
            location=place(at, getattr(data, "line", None)),
            hint="`convcalc zoo lenet5` prints a config to start from",
        )
    lines = getattr(data, "key_lines", {})
    cols = getattr(data, "key_cols", {})
    for key in data:
        if key not in TOP_KEYS:
            raise SpecError(
                f"unknown top-level key {key!r}",
                location=place(at, lines.get(key), cols.get(key)),
                hint=did_you_mean(str(key), TOP_KEYS) or f"the keys are: {', '.join(TOP_KEYS)}",
            )
    name = data.get("name")
    if name is not None and not isinstance(name, (str, int)):
        raise SpecError(
            "name must be a string", location=place(at, lines.get("name"), cols.get("name"))
        )
    if isinstance(name, str) and unprintable(name) is not None:
        raise SpecError(
            f"the model's name {_clip(name)} holds the control character {unprintable(name)!r}",
            location=place(at, lines.get("name"), cols.get("name")),
            hint=NAME_HINT,
        )
    input_shape = None
    if data.get("input") is not None:
        input_shape = shape_from_value(
            data["input"], location=place(at, lines.get("input"), cols.get("input"))
        )
    layers = data.get("layers")
    if layers is None:
        hint = "add a 'layers:' list"
        if data.get("blocks") is not None:
            hint = "this file only defines blocks: use them from a model with import: <this file>, or add a 'layers:' list"
        raise SpecError("no layers", location=place(at, None), hint=hint)
    if not isinstance(layers, list):
        raise SpecError(
            "layers must be a list", location=place(at, lines.get("layers"), cols.get("layers"))
        )
    blocks = _blocks(data, source, at, ())
    item_lines = getattr(layers, "item_lines", [])
    return build(
        layers,
        at=at,
        item_lines=item_lines,
        blocks=blocks,
        input_shape=input_shape,
        name=None if name is None else str(name),
        source=source,
    )


def _blocks(
    data: dict[str, Any], source: str | None, at: Any, seen: tuple[str, ...]
) -> dict[str, BlockDef]:
    """The blocks a config can use: those of its ``import:`` files, then its own (which win)."""
    lines = getattr(data, "key_lines", {})
    cols = getattr(data, "key_cols", {})
    blocks: dict[str, BlockDef] = {}
    imports = data.get("import") or []
    if isinstance(imports, str):
        imports = [imports]
    if not isinstance(imports, list) or not all(isinstance(i, str) for i in imports):
        raise SpecError(
            "import must be a file name or a list of file names",
            location=place(at, lines.get("import"), cols.get("import")),
        )
    base = os.path.dirname(source) if source and source != "<stdin>" else ""
    for name in imports:
        path, text = _read_import(name, base, place(at, lines.get("import"), cols.get("import")))
        if path in seen:
            raise SpecError(
                f"import cycle: {' → '.join(seen + (path,))}",
                location=place(at, lines.get("import"), cols.get("import")),
            )
        imported = _load_document(text, path)

        at_import = Places(path)

        if not isinstance(imported, dict):
            raise SpecError(
                "an imported file must be a mapping with 'blocks'",
                location=Places(path).where(None),
            )
        blocks.update(_blocks(imported, path, at_import, seen + (path,)))
    if data.get("blocks") is not None:
        blocks.update(read_blocks(data["blocks"], at, lines.get("blocks")))
    return blocks


def spec_from_strings(
    layers: Sequence[str], input_shape: Shape | None = None, name: str | None = None
) -> Spec:
    """The stack given as constructor-call strings (``--layer`` flags); ``name=Call`` names a layer."""
    entries: list[Any] = []
    for text in layers:
        match = re.fullmatch(r"\s*([A-Za-z_][\w.]*)\s*[:=]\s*(\S.*)", text)
        if match and "(" not in match.group(1):
            entries.append({match.group(1): match.group(2)})
        else:
            entries.append(text)
    texts = list(layers)
    return build(
        entries,
        at=lambda i: None if i is None else f"--layer {texts[i]!r}",
        item_lines=list(range(len(texts))),
        input_shape=input_shape,
        name=name,
    )


# ---------------------------------------------------------------- shapes
def shape_from_value(value: Any, location: str | None = None) -> Shape:
    """An input shape from YAML (a list of ints) or text ("1,3,64,64", "1x3x64x64")."""
    if isinstance(value, str):
        text = value.strip().strip("[]()").strip()
        if not re.fullmatch(r"-?\d+(\s*[,x×\s]\s*-?\d+)*,?", text):
            raise SpecError(
                f"input shape {_clip(value)} is not a list of integers",
                location=location,
                hint="write it as N,C,H,W, e.g. 1,3,224,224",
            )
        parts = [p for p in re.split(r"[\s,x×]+", text) if p]
        if any(len(p.lstrip("-0")) > 19 for p in parts):  # 2**63 has 19 digits
            raise SpecError(
                f"input shape {_clip(value)} has a size beyond torch's 64-bit integers",
                location=location,
                hint=f"every size must be below 2**63 = {INT64_LIMIT}",
            )
        # leading zeros stripped: they count towards Python's limit of digits converted
        value = [(-1 if p[0] == "-" else 1) * int(p.lstrip("-").lstrip("0") or "0") for p in parts]
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
    if beyond_int64(value) is not None:
        raise SpecError(
            f"input shape {tuple(value)} has a size beyond torch's 64-bit integers",
            location=location,
            hint=f"every size must be below 2**63 = {INT64_LIMIT}",
        )
    return tuple(value)


__all__ = [
    "BlockDef",
    "ConvcalcError",
    "LayerSpec",
    "Spec",
    "load_spec",
    "parse_call",
    "printout_yaml",
    "shape_from_value",
    "spec_from_data",
    "spec_from_strings",
]
