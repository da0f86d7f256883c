"""Reading a layer stack: YAML files, constructor-call strings and --layer flags.

The only module that imports yaml. YAML is loaded safely (no Python tags) with
the C loader when there is one, and every mapping and list remembers the lines
its entries came from, so that errors can cite ``net.yaml:14``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import yaml

from .blocks import BlockDef, read_blocks
from .errors import BlockLibrary, ConvcalcError, NotAConfig, SpecError
from .errors import clip as _clip
from .expr import MAX_INT_BITS, NAME_HINT, parse_call, unprintable
from .graph import MAX_LAYERS, build, gc_paused
from .layers.arguments import INT64_LIMIT, beyond_int64
from .layers.base import did_you_mean
from .model import LayerSpec, Places, Spec, place
from .pins import read_pins
from .printout import is_printout, read_printout, spec_from_printout
from .scalars import SCALARS, STR_TAG, TAG
from .shape import Shape
from .sources import Files, read_import, read_model, read_text
from .toplevel import TOP_KEYS, not_a_config
from .yamlwrite import Config, dump_config

if TYPE_CHECKING:
    _Base = yaml.SafeLoader
else:  # the C parser when there is one
    _Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_ScalarNode = yaml.ScalarNode
_MappingNode = yaml.MappingNode
_SequenceNode = yaml.SequenceNode

_MAP_TAG = TAG + "map"
_SEQ_TAG = TAG + "seq"
_MERGE_TAG = TAG + "merge"
_VALUE_TAG = TAG + "value"


# ------------------------------------------------------------------ YAML
class _LineDict(dict[Any, Any]):
    line = 0
    column = 0
    key_lines: dict[Any, int]
    key_cols: dict[Any, int]
    #: a mapping of one key (``conv1: Conv2d(3, 8, 3)``): the value's line and column
    value_at: tuple[int, int] | None = None


class _LineList(list[Any]):
    line = 0
    column = 0
    item_lines: list[int]
    item_cols: list[int]


class _Loader(_Base):
    """The safe loader, with scalar tag resolution memoised per document.

    A layer stack repeats the same few scalars (``Conv2d``, ``64``, ``true``)
    thousands of times; resolving a plain scalar depends only on its text and
    on how it was written (no path resolvers are registered), so the answer is
    cached instead of running the implicit-resolver regexes each time. Only its
    parser, composer and resolver are used: :func:`_load_yaml` builds the values.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.scalar_tags: dict[tuple[str, Any], str] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        resolve: Callable[[Any, Any, Any], str] = super().resolve  # untyped in the stubs
        if kind is _ScalarNode:
            key = (value, implicit)
            tag = self.scalar_tags.get(key)
            if tag is None:
                tag = self.scalar_tags[key] = resolve(kind, value, implicit)
            return tag
        return resolve(kind, value, implicit)


class _YAMLValueError(yaml.MarkedYAMLError):
    """A node that is no value convcalc reads, at its place."""

    def __init__(self, problem: str, node: yaml.Node) -> None:
        super().__init__(problem=problem, problem_mark=node.start_mark)


def _load_yaml(text: str) -> Any:
    """The document in ``text`` as plain values: dicts and lists that remember the lines
    of their entries, strings, numbers, booleans, None, dates.

    PyYAML composes the node tree (``yaml.compose``, with the C parser when there is one);
    the nodes are turned into values here, as PyYAML's safe loader would, except that a
    tag beyond YAML's plain scalars, lists and mappings is an error. An alias is the
    value of its anchor; a node that contains itself is an error.
    """
    root = yaml.compose(text, Loader=_Loader)
    if root is None:
        return None
    return _Builder().build(root)


#: the most values a document may hold once its aliases are expanded: a 50,000-layer model
#: is about half a million; a few lines of anchors, each listing the previous one ten times
#: ("billion laughs"), would be billions for whatever walks the document
MAX_EXPANDED = 4_000_000


class _Builder:
    """Nodes → values, each node once (an alias shares its anchor's value)."""

    __slots__ = ("built", "open", "scalars", "sizes")

    def __init__(self) -> None:
        self.built: dict[yaml.Node, Any] = {}
        #: how many values a list or mapping holds with its aliases expanded (each node is
        #: counted once and its count reused, so this costs no more than building)
        self.sizes: dict[yaml.Node, int] = {}
        #: mappings and lists being built: met again inside themselves, a cycle
        self.open: set[yaml.Node] = set()
        self.scalars: dict[tuple[str, str], Any] = {}

    def build(self, node: yaml.Node) -> Any:
        tag = node.tag
        if node.__class__ is _ScalarNode:
            if tag == STR_TAG:
                return node.value
            key = (tag, node.value)
            if key in self.scalars:
                return self.scalars[key]
            value = self.scalars[key] = _scalar(node)
            return value
        if node in self.built:
            return self.built[node]
        if node in self.open:
            raise _YAMLValueError("found unconstructable recursive node", node)
        self.open.add(node)
        if tag == _MAP_TAG and node.__class__ is _MappingNode:
            data: Any = self.mapping(node)
        elif tag == _SEQ_TAG and node.__class__ is _SequenceNode:
            data = self.sequence(node)
        else:
            raise _YAMLValueError(_tag_problem(node), node)
        self.open.discard(node)
        self.built[node] = data
        self._count(node)
        return data

    def _count(self, node: yaml.Node) -> None:
        children = (
            [c for pair in node.value for c in pair]
            if isinstance(node, yaml.MappingNode)
            else node.value
        )
        size = 1 + sum(self.sizes.get(c, 1) for c in children)
        if size > MAX_EXPANDED:
            raise _YAMLValueError(
                f"this holds more than {MAX_EXPANDED:,} values once its aliases (*name) are "
                "expanded, more than any model needs",
                node,
            )
        self.sizes[node] = size

    def mapping(self, node: yaml.MappingNode) -> _LineDict:
        """A mapping node as a dict that remembers its keys' lines and columns."""
        data = _LineDict()
        mark = node.start_mark
        data.line = mark.line + 1
        data.column = mark.column + 1
        key_lines = data.key_lines = {}
        key_cols = data.key_cols = {}
        pairs = _merged(node)
        if len(pairs) == 1:
            mark = pairs[0][1].start_mark
            data.value_at = (mark.line + 1, mark.column + 1)
        for key_node, value_node in pairs:
            key = self.build(key_node)
            try:
                hash(key)
            except TypeError:
                raise _YAMLValueError("found an unhashable key", key_node) from None
            if key in data:
                raise _YAMLValueError(f"duplicate key {key!r}", key_node)
            data[key] = self.build(value_node)
            mark = key_node.start_mark
            key_lines[key] = mark.line + 1
            key_cols[key] = mark.column + 1
        return data

    def sequence(self, node: yaml.SequenceNode) -> _LineList:
        """A sequence node as a list that remembers its items' lines and columns."""
        children = node.value
        data = _LineList([self.build(c) for c in children])
        data.line = node.start_mark.line + 1
        data.column = node.start_mark.column + 1
        marks = [c.start_mark for c in children]
        data.item_lines = [m.line + 1 for m in marks]
        data.item_cols = [m.column + 1 for m in marks]
        return data


def _merged(node: yaml.MappingNode) -> list[tuple[yaml.Node, yaml.Node]]:
    """A mapping's (key, value) nodes with YAML's merge keys (``<<: *base``, ``<<: [*a, *b]``)
    replaced by the pairs they merge, which come first (of a key merged twice, the first);
    a ``=`` key is the text ``=``."""
    merge: list[tuple[yaml.Node, yaml.Node]] = []
    own: list[tuple[yaml.Node, yaml.Node]] = []
    merged_keys: set[Any] = set()
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE_TAG:
            sources = value_node.value if isinstance(value_node, _SequenceNode) else [value_node]
            for source in sources:
                if not isinstance(source, _MappingNode):
                    what = (
                        "a mapping" if source is not value_node else "a mapping or list of mappings"
                    )
                    raise _YAMLValueError(
                        f"expected {what} for merging, but found {_kind(source)}", source
                    )
                for pair in _merged(source):
                    key = pair[0].value if isinstance(pair[0], _ScalarNode) else pair[0]
                    if key not in merged_keys:
                        merged_keys.add(key)
                        merge.append(pair)
        elif key_node.tag == _VALUE_TAG:
            own.append((_ScalarNode(STR_TAG, key_node.value, key_node.start_mark), value_node))
        else:
            own.append((key_node, value_node))
    return merge + own


def _kind(node: yaml.Node) -> str:
    """``scalar``, ``sequence`` or ``mapping``, as PyYAML's messages name a node."""
    return type(node).__name__.removesuffix("Node").lower()


def _tag_problem(node: yaml.Node) -> str:
    """Why a node is not read: a tag YAML's plain values do not have, or one of theirs on
    the wrong kind of node (``!!map foo``, ``!!int [1]``)."""
    if node.tag in (_MAP_TAG, _SEQ_TAG):
        kind = "mapping" if node.tag == _MAP_TAG else "sequence"
        return f"expected a {kind} node, but found {_kind(node)}"
    if node.tag in SCALARS and not isinstance(node, _ScalarNode):
        return f"expected a scalar node, but found {_kind(node)}"
    return "YAML tags are not allowed (only plain values, lists and mappings)"


def _scalar(node: yaml.Node) -> Any:
    """A scalar as PyYAML's safe loader reads it, but a value it cannot read (a date that is
    none, ``!!int x``, a decimal number of more than 4,300 digits) or an integer beyond
    2**MAX_INT_BITS is a YAML error at its node, not an exception from deep inside."""
    convert = SCALARS.get(node.tag)
    if convert is None:
        raise _YAMLValueError(_tag_problem(node), node)
    try:
        value = convert(node.value)
    except Exception as exc:  # noqa: BLE001 - !!bool maybe: a KeyError; !!timestamp x: others
        problem = str(exc).split("\n", 1)[0]
        if "integer string conversion" in problem:
            problem = "too many digits"
        raise _YAMLValueError(f"cannot read {_clip(node.value)}: {problem}", node) from None
    if type(value) is int and value.bit_length() > MAX_INT_BITS:
        raise _YAMLValueError(f"{_clip(node.value)} is a number beyond 2**{MAX_INT_BITS}", node)
    return value


def load_spec(
    path: str,
    text: str | None = None,
    *,
    files: Files | None = None,
    max_bytes: int | None = None,
) -> Spec:
    """Read a YAML config file, or the text ``print(model)`` writes (``-`` is standard input;
    a name that is no file is a built-in model; ``files`` reads imports, at a git revision say;
    ``max_bytes``: the memory reading the YAML may take, refused before it is parsed).

    A file always wins: ``resnet50`` is the zoo's ResNet-50 only where no file of that name exists.
    """
    source = "<stdin>" if path == "-" else path
    if text is None:
        source, text = read_model(path)
    with gc_paused():
        if is_printout(text):
            return spec_from_printout(text, source)
        return _spec_from_text(text, source, files, max_bytes)


def printout_yaml(path: str, input_shape: Shape | None = None) -> str:
    """The YAML config equivalent to the ``print(model)`` text in ``path``, to edit further."""
    source = "<stdin>" if path == "-" else path
    text = read_text(path)
    if not is_printout(text):
        raise SpecError(
            f"{source} is not a print(model) printout",
            hint="--to-yaml converts the text print(model) writes; this file is read as YAML already",
        )
    printout = read_printout(text, source)
    shown = " ".join(os.path.basename(source).splitlines())
    comments = [f"{shown}, as print(model) wrote it; layer names are the state_dict keys"]
    comments += [f"note: {note}" for note in printout.notes]
    layers = [{name: str(call) for name, call in entry.items()} for entry in printout.layers]
    return dump_config(Config(layers, printout.name, input_shape, comments))


def _spec_from_text(
    text: str, source: str, files: Files | None = None, max_bytes: int | None = None
) -> Spec:
    try:
        return spec_from_data(_load_document(text, source, max_bytes), source, files)
    except RecursionError:
        raise SpecError(
            "the YAML is nested too deeply to read",
            location=Places(source).where(None),
            hint="a layer's arguments need a few levels of lists and mappings at most",
        ) from None


#: the most values a document may spell out (counted from its separators before it is
#: parsed: PyYAML builds about 300,000 values a second, and a 64 MiB file can spell 30 million)
MAX_WRITTEN = 1_000_000


#: what parsing a YAML document takes, at its peak, per value it spells out (PyYAML's nodes
#: and their marks, then the values; measured on 50,000 written-out layers: 700 bytes)
YAML_VALUE_BYTES = 700


def _load_document(text: str, source: str, max_bytes: int | None = None) -> Any:
    """Parsed YAML, or a SpecError that cites ``source:line``; a document whose parsing would
    take more than ``max_bytes`` is refused before it is parsed."""
    # every value after the first follows a comma, a line break or a key's colon
    written = text.count(",") + text.count("\n") + text.count(": ")
    if written > MAX_WRITTEN:
        raise SpecError(
            f"invalid YAML: the document spells out about {written:,} values, more than the "
            f"{MAX_WRITTEN:,} any model needs (a {MAX_LAYERS:,}-layer model is about half a million)",
            location=Places(source).where(None),
            hint="use repeat: and blocks: for long stacks",
        )
    if max_bytes is not None and written * YAML_VALUE_BYTES > max_bytes:
        raise SpecError(
            f"the document spells out about {written:,} values: reading them takes about "
            f"{written * YAML_VALUE_BYTES >> 20:,} MiB, over the memory limit of "
            f"{max_bytes >> 20:,} MiB",
            location=Places(source).where(None),
            hint="raise --max-memory, or use repeat: and blocks: for long stacks",
            argument="max-memory",
            expected=max_bytes,
            got=written * YAML_VALUE_BYTES,
        )
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
        context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if (
            context
            and context_mark is not None
            and mark is not None
            and context_mark.line != mark.line
        ):
            problem += f" ({context} at line {context_mark.line + 1})"
        raise SpecError(f"invalid YAML: {problem}", location=where) from None


def spec_from_data(data: Any, source: str | None = None, files: Files | None = None) -> Spec:
    """Build a :class:`Spec` from loaded YAML (or an equivalent dict); ``files`` reads imports."""

    at = Places(source)

    foreign = not_a_config(data)
    if foreign is not None:
        raise NotAConfig(
            foreign,
            location=place(at, getattr(data, "line", None)),
            hint="`convcalc zoo lenet5` prints a config to start from",
        )
    if isinstance(data, list):
        data = {"layers": data}
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
        if data.get("blocks") is not None:
            library = _blocks(data, source, at, (), {})  # read, so that its mistakes show
            raise BlockLibrary(
                "no layers",
                location=place(at, None),
                hint="this file only defines blocks: use them from a model with import: <this file>, or add a 'layers:' list",
                blocks=len(library),
            )
        raise SpecError("no layers", location=place(at, None), hint="add a 'layers:' list")
    if not isinstance(layers, list):
        raise SpecError(
            "layers must be a list", location=place(at, lines.get("layers"), cols.get("layers"))
        )
    pins = read_pins(data, lambda line, column: place(at, line, column))
    blocks = _blocks(data, source, at, (), {}, files)
    item_lines = getattr(layers, "item_lines", [])
    spec = build(
        layers,
        at=at,
        item_lines=item_lines,
        blocks=blocks,
        input_shape=input_shape,
        name=None if name is None else str(name),
        source=source,
    )
    ignored = _ignore_weights(data, at, lines, cols)
    if ignored:
        note = (
            f"run --weights skips the state_dict keys of {', '.join(ignored)} (ignore_weights: "
            "modules the model's forward never calls)"
        )
        return replace(spec, pins=pins, ignore_weights=ignored, warnings=(*spec.warnings, note))
    return replace(spec, pins=pins)


def _ignore_weights(data: dict[str, Any], at: Any, lines: Any, cols: Any) -> tuple[str, ...]:
    """The ``ignore_weights:`` list: module names."""
    value = data.get("ignore_weights")
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise SpecError(
            "ignore_weights must be a list of module names",
            location=place(at, lines.get("ignore_weights"), cols.get("ignore_weights")),
            hint="e.g. ignore_weights: [aux1, aux2]",
        )
    return tuple(value)


def _blocks(
    data: dict[str, Any],
    source: str | None,
    at: Any,
    seen: tuple[str, ...],
    done: dict[str, dict[str, BlockDef]],
    files: Files | None = None,
) -> dict[str, BlockDef]:
    """The blocks a config can use: those of its ``import:`` files, then its own (which win).
    ``seen`` is the chain of imports that led here (a cycle is an error); ``done`` the blocks
    of every file read so far, so that a file imported from many places is read once."""
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
        where = place(at, lines.get("import"), cols.get("import"))
        wanted = os.path.normpath(os.path.join(base, name))
        if wanted in seen:
            raise SpecError(f"import cycle: {' → '.join(seen + (wanted,))}", location=where)
        if wanted in done:
            blocks.update(done[wanted])
            continue
        path, text = read_import(name, base, where, files)
        imported = _load_document(text, path)

        at_import = Places(path)

        if not isinstance(imported, dict):
            raise SpecError(
                "an imported file must be a mapping with 'blocks'",
                location=Places(path).where(None),
            )
        done[wanted] = _blocks(imported, path, at_import, seen + (wanted,), done, files)
        blocks.update(done[wanted])
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
        at=lambda i: None if i is None else f"--layer {_clip(texts[i])}",
        item_lines=list(range(len(texts))),
        input_shape=input_shape,
        name=name,
    )


# ---------------------------------------------------------------- shapes
def shape_from_value(value: Any, location: str | None = None) -> Shape:
    """An input shape from YAML (a list of ints) or text ("1,3,64,64", "1x3x64x64")."""
    if isinstance(value, str):
        text = value.strip().strip("[]()").strip()
        # one separator between sizes, with no two ways to read a run of spaces (which would
        # make the match backtrack for as long as the run squared)
        if not re.fullmatch(r"-?\d+(?:(?:\s*[,x×]\s*|\s+)-?\d+)*,?", text):
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
