"""Loaded config data → layer objects wired into a graph.

Reads the plain data that spec.py loads from YAML (or that code builds): the
layer entries (constructor-call strings or mappings), ``from:`` references,
``repeat:``, ``when:``, and reusable ``blocks:`` with ``$parameters``, which
are expanded here into a flat list of layers with dotted names
(``layer1.0.conv1``), each knowing which earlier outputs it reads.
Nothing here imports yaml; nothing is evaluated with ``eval`` (see expr.py).
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .blocks import MAX_BLOCK_DEPTH, BlockDef, bind, most_layers, type_of
from .errors import ConvcalcError, SpecError, clip
from .expr import NAME_HINT, interpolate, parse_call, substitute, unprintable
from .layers import lookup
from .layers.base import REGISTRY, did_you_mean
from .model import INPUT, Call, LayerSpec, Spec, Spot, place, spot_where
from .shape import Shape

#: keys of a layer mapping that are not constructor arguments
LAYER_KEYS = ("type", "name", "trainable", "from", "repeat", "when")
#: the most layers a model may expand to (the largest real CNNs have a few thousand; this many
#: are read in about a second): blocks and repeat counts that would make more are refused
#: before they are expanded
MAX_LAYERS = 50_000
#: problems of one file collected before reading stops (every one up to this is reported)
MAX_ERRORS = 100
#: what a name that failed to build stands for, so that what reads it is skipped quietly
_FAILED = "\0failed"


@dataclass(frozen=True)
class _Scope:
    """One list being expanded: the top-level layers, or a block's inside its user."""

    #: what the names of its layers start with (``layer1.0.``)
    prefix: str = ""
    #: the block's bound ``$parameters``
    params: Mapping[str, Any] = field(default_factory=dict)
    #: the output its first layer reads
    input_ref: str = INPUT
    #: enclosing block instances, outermost first: ((name, block type), ...)
    path: tuple[tuple[str, str], ...] = ()
    #: the block types being expanded, outermost first (a block that uses itself is an error)
    stack: tuple[str, ...] = ()
    yaml_prefix: str = "layers"
    trainable: bool = True
    #: for a block's layers: the spot of the entry in the model's own list that uses it
    used_at: Spot | None = None


@dataclass(frozen=True)
class _Site:
    """Where one entry of a list is, for its layer and its errors."""

    raw: Any
    where: str | None
    spot: Spot
    arg_where: Mapping[str, str | None]
    yaml_path: str


@dataclass
class _Entry:
    """One config entry, read: what it builds and how it is wired."""

    type_name: str
    positional: tuple[Any, ...]
    keywords: dict[str, Any]
    name: str
    trainable: bool
    sources: list[str] | None
    repeat: int
    when: bool


class Builder:
    """Expands config entries (and blocks) into LayerSpecs with resolved inputs."""

    def __init__(self, blocks: Mapping[str, BlockDef] | None = None) -> None:
        self.blocks = dict(blocks or {})
        self.layers: list[LayerSpec] = []
        self.index: dict[str, LayerSpec] = {}
        #: full names that stand for another output: block instances, left-out layers
        self.aliases: dict[str, str] = {}
        #: problems found so far, in the order of the file
        self.errors: list[ConvcalcError] = []
        #: the model grew past MAX_LAYERS: reading stops (every later entry would too)
        self.too_big = False
        self.seen: set[tuple[str, str | None]] = set()
        #: full names of entries that could not be built
        self.failed: set[str] = set()
        #: entries expanded so far, left-out ones included (a block of layers that are all
        #: left out, repeated without end, makes no layer but takes time)
        self.visits = 0
        #: per block: the most layers one use of it can make (see :func:`most_layers`)
        self.most: dict[str, int] = {}

    # -- one scope: the top-level list, or a block's layers -------------------
    def scope(
        self,
        entries: Sequence[Any],
        at: Callable[[int | None], str | None],
        item_lines: Sequence[int | None],
        ctx: _Scope | None = None,
    ) -> str:
        """Build every entry of one list; return the name of the scope's output.

        An entry that cannot be read is recorded in ``errors`` and left out, and reading
        goes on, so that one run reports every problem of the file; entries that read a
        left-out one are left out quietly."""
        ctx = ctx or _Scope()
        prefix = ctx.prefix
        local: dict[str, str] = {INPUT: ctx.input_ref}
        later = {self._entry_name(e, i) for i, e in enumerate(entries)}
        cols: Sequence[int] = getattr(entries, "item_cols", ())
        prev = ctx.input_ref
        for pos, raw in enumerate(entries):
            if len(self.errors) >= MAX_ERRORS or self.too_big:
                break
            self.visits += 1
            line = item_lines[pos] if pos < len(item_lines) else None
            site = _Site(
                raw,
                at(line),
                (at, line, cols[pos] if pos < len(cols) else None, raw),
                _ArgPlaces(raw, at) if hasattr(raw, "key_lines") else {},
                f"{ctx.yaml_prefix}[{pos}]",
            )
            try:
                e = self._read(raw, pos, ctx.params)
                if e.when is False:
                    # a layer left out is the identity: its name, and the next layer's
                    # default input, stand for what it would have read
                    prev = self._resolve(e.sources[0], local, later, prefix) if e.sources else prev
                    local[e.name] = prev
                    later.discard(e.name)
                    continue
                inputs = (
                    [self._resolve(s, local, later, prefix) for s in e.sources]
                    if e.sources is not None
                    else [prev]
                )
            except (SpecError, _Skip) as exc:
                name = self._entry_name(raw, pos)
                if isinstance(exc, SpecError):
                    self._fail(exc, site, prefix + name, type_of(raw))
                local[name] = _FAILED
                self.failed.add(prefix + name)
                later.discard(name)
                continue
            out = self._copies(e, inputs, local, site, ctx)
            later.discard(e.name)
            local[e.name] = out
            if out is _FAILED:
                self.failed.add(prefix + e.name)
                continue
            if prefix + e.name != out:
                self.aliases[prefix + e.name] = out
            prev = out
        return prev

    def _copies(
        self, e: _Entry, inputs: list[str], local: dict[str, str], site: _Site, ctx: _Scope
    ) -> str:
        """Build the ``repeat`` copies of an entry, each reading the one before; the name of
        the last one's output, or _FAILED when one could not be built."""
        prev = ""
        trainable = ctx.trainable and e.trainable
        each = most_layers(self.blocks, e.type_name, self.most, MAX_LAYERS)
        if e.repeat * each > MAX_LAYERS - len(self.layers) or self.visits > 2 * MAX_LAYERS:
            self.too_big = True
            error = SpecError(
                _too_many(e, each, len(self.layers)),
                argument="repeat" if e.repeat > 1 else None,
                hint="check repeat: counts (a CNN anyone runs has a few thousand layers at most)",
            )
            self._fail(error, site, ctx.prefix + e.name, e.type_name)
            return _FAILED
        self.visits += e.repeat
        for r in range(e.repeat):
            inst = _instance_name(e.name, r, e.repeat)
            full = ctx.prefix + inst
            reads = inputs if r == 0 else [prev]
            first_error = len(self.errors)
            try:
                if e.type_name in self.blocks:
                    used_at = ctx.used_at if ctx.used_at is not None else site.spot
                    out = self._block(e, full, reads, ctx, trainable, used_at)
                else:
                    out = self._layer(e, full, reads, site, ctx, trainable)
            except SpecError as exc:
                self._used_here(first_error, site.spot)
                self._fail(exc, site, full, e.type_name)
                self.failed.add(full)
                return _FAILED
            self._used_here(first_error, site.spot)
            if len(self.errors) > first_error:
                return _FAILED  # a block with problems: its other copies have them too
            local[inst] = out
            if out != full:
                self.aliases[full] = out
            prev = out
        return prev

    def _used_here(self, first: int, spot: Spot) -> None:
        """Problems found inside a block: at the line that uses it (their own line becomes
        ``defined_at``)."""
        if len(self.errors) > first:
            where = spot_where(spot)
            for error in self.errors[first:]:
                error.at_place(where)

    def _fail(self, exc: SpecError, site: _Site, name: str, type_name: str | None) -> None:
        """Record ``exc`` (and the others found with it) for this entry, each problem once:
        a block used many times has its problems reported at its first use. The entry's
        name and type go with it, and the index its layer would have (known while no
        earlier entry has failed)."""
        index = len(self.layers) if not self.errors else None
        where = spot_where(site.spot)
        for error in [exc, *exc.others]:
            error.others = []
            _located(error, site.raw, where, site.arg_where, site.yaml_path)
            if error.name is None:
                error.index, error.name, error.type = index, name, type_name
            key = (error.fact, error.location)
            if key not in self.seen and len(self.errors) < MAX_ERRORS:
                self.seen.add(key)
                self.errors.append(error)

    def _entry_name(self, raw: Any, pos: int) -> str:
        if isinstance(raw, dict):
            if "type" in raw and isinstance(raw.get("name", pos), (str, int)):
                return str(raw.get("name", pos))
            if len(raw) == 1:
                return str(next(iter(raw)))
        return str(pos)

    def _read(
        self,
        raw: Any,
        pos: int,
        params: Mapping[str, Any],
    ) -> _Entry:
        if isinstance(raw, str):
            type_name, positional, keywords = _call(raw, params)
            e = _Entry(type_name, positional, keywords, str(pos), True, None, 1, True)
        elif isinstance(raw, dict) and "type" not in raw and len(raw) == 1:
            ((name_key, value),) = raw.items()
            if not isinstance(value, str):
                raise SpecError(
                    "a layer mapping needs a 'type' key",
                    hint="write {type: Conv2d, ...}, a call string 'Conv2d(3, 8, 3)' or 'name: Conv2d(3, 8, 3)'",
                )
            type_name, positional, keywords = _call(value, params)
            e = _Entry(type_name, positional, keywords, str(name_key), True, None, 1, True)
        elif isinstance(raw, dict):
            e = _read_mapping(raw, pos, params)
        else:
            raise SpecError(
                f"a layer must be a string or a mapping, got {raw!r}",
                hint="write Conv2d(3, 8, 3) or {type: Conv2d, in_channels: 3, out_channels: 8, kernel_size: 3}",
            )
        self._check_entry(e)
        return e

    def _check_entry(self, e: _Entry) -> None:
        """An entry's name may be used, and its type is a layer type or a block."""
        name, type_name = e.name, e.type_name
        if name == INPUT:
            raise SpecError("the name 'input' is reserved for the model input", argument="name")
        if not name or any(not part for part in name.split(".")):
            raise SpecError(f"layer name {name!r} is not a valid name", argument="name")
        bad = unprintable(name)
        if bad is not None:
            raise SpecError(
                f"layer name {clip(name)} holds the control character {bad!r}",
                argument="name",
                hint=NAME_HINT,
            )
        if type_name not in self.blocks:
            try:
                lookup(type_name)  # unknown type: an error now, with a did-you-mean
            except SpecError as exc:  # over layers and blocks
                exc.hint = did_you_mean(type_name, [*REGISTRY, *self.blocks]) or exc.hint
                raise

    def _resolve(self, ref: str, local: Mapping[str, str], later: set[str], prefix: str) -> str:
        if ref in local:
            if local[ref] is _FAILED:
                raise _Skip
            return local[ref]
        if ref in self.index:
            return ref
        if ref in self.aliases:  # a block instance outside this scope, by its full name
            return self.aliases[ref]
        parts = ref.split(".")
        if any(".".join(parts[: i + 1]) in self.failed for i in range(len(parts))):
            raise _Skip
        if ref in later:
            raise SpecError(
                f"from: {ref!r} comes later in the list; a layer can only read earlier outputs",
                argument="from",
                hint="move the layer after the ones it reads (cycles are not possible)",
            )
        known = [n for n in local if n != INPUT] + [INPUT]
        everything = known + list(self.index) + list(self.aliases)
        raise SpecError(
            f"from: unknown name {ref!r}",
            argument="from",
            hint=did_you_mean(ref, everything)
            or f"names here: {', '.join(known[-8:])} (outside this block, use full dotted names)",
        )

    def _layer(
        self, e: _Entry, full: str, reads: list[str], site: _Site, ctx: _Scope, trainable: bool
    ) -> str:
        cls = lookup(e.type_name)
        layer = cls.build(e.positional, e.keywords)
        multi = cls.multi_input
        if multi:
            layer.sources = tuple(reads)
        elif len(reads) != 1:
            raise SpecError(
                f"{e.type_name} reads one input, from lists {len(reads)}",
                argument="from",
                hint="merge them first with Add, Mul or Concat",
            )
        if full in self.index:
            first = self.index[full]
            raise SpecError(
                f"layer name {full!r} is used twice: {first.yaml_path} and {site.yaml_path}",
                argument="name",
                hint="give each layer a unique name",
            )
        if len(self.layers) >= MAX_LAYERS:
            self.too_big = True
            raise SpecError(
                f"the model expands to more than {MAX_LAYERS:,} layers", hint="check repeat: counts"
            )
        spec = LayerSpec(
            len(self.layers),
            full,
            layer,
            trainable,
            site.where,
            site.arg_where,
            tuple(reads),
            ctx.path,
            site.yaml_path,
            site.spot,
            ctx.used_at,
        )
        self.layers.append(spec)
        self.index[full] = spec
        return full

    def _block(
        self,
        e: _Entry,
        full: str,
        reads: list[str],
        ctx: _Scope,
        trainable: bool,
        used_at: Spot | None = None,
    ) -> str:
        block = self.blocks[e.type_name]
        stack = ctx.stack
        if e.type_name in stack or len(stack) >= MAX_BLOCK_DEPTH:
            chain = " → ".join(stack + (e.type_name,))
            raise SpecError(
                f"block {e.type_name} uses itself: {chain}",
                hint="a block cannot contain itself, directly or through another block",
            )
        if len(reads) != 1:
            raise SpecError(
                f"block {e.type_name} reads one input, from lists {len(reads)}", argument="from"
            )
        bound = bind(block, e.positional, e.keywords)
        lines = getattr(block.layers, "item_lines", [])
        inner = _Scope(
            prefix=full + ".",
            params=bound,
            input_ref=reads[0],
            path=ctx.path + ((full, e.type_name),),
            stack=stack + (e.type_name,),
            yaml_prefix=f"blocks.{block.name}.layers",
            trainable=trainable,
            used_at=used_at,
        )
        return self.scope(block.layers, block.where, lines, inner)

    def unused(self) -> list[str]:
        """Layers whose output nothing reads (but the model's last)."""
        read = {name for spec in self.layers for name in spec.inputs}
        last = self.layers[-1].name if self.layers else None
        return [s.name for s in self.layers if s.name not in read and s.name != last]


def _call(text: str, params: Mapping[str, Any]) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    """A constructor call's type name and arguments: a :class:`Call` already read gives its
    own, any other text is parsed."""
    if isinstance(text, Call):
        return text.type_name, text.positional, dict(text.keywords)
    return parse_call(text, params)


def _read_mapping(raw: dict[Any, Any], pos: int, params: Mapping[str, Any]) -> _Entry:
    """An entry written as a mapping with a ``type`` key and the layer keys beside it."""
    sources: list[str] | None = None
    if "type" not in raw:
        raise SpecError(
            "a layer mapping needs a 'type' key",
            hint=did_you_mean("type", [str(k) for k in raw])
            or "add type: Conv2d (or another layer type)",
        )
    type_name = substitute(raw["type"], params)
    if not isinstance(type_name, str):
        raise SpecError(f"type must be a layer type name, got {type_name!r}", argument="type")
    positional = ()
    keywords = {str(k): substitute(v, params) for k, v in raw.items() if k not in LAYER_KEYS}
    name_value = raw.get("name", pos)
    if not isinstance(name_value, (str, int)) or isinstance(name_value, bool):
        raise SpecError(f"name must be a string, got {name_value!r}", argument="name")
    name = interpolate(str(name_value), params)
    trainable = substitute(raw.get("trainable", True), params)
    if not isinstance(trainable, bool):
        raise SpecError(f"trainable must be true or false, got {trainable!r}", argument="trainable")
    if "from" in raw:
        value = substitute(raw["from"], params)
        sources = [value] if isinstance(value, str) else value
        if (
            not isinstance(sources, list)
            or not sources
            or not all(isinstance(s, str) for s in sources)
        ):
            raise SpecError(
                f"from must be a layer name or a list of names, got {raw['from']!r}",
                argument="from",
                hint="e.g. from: stem, or from: [a, b]",
            )
    repeat = substitute(raw.get("repeat", 1), params)
    if not isinstance(repeat, int) or isinstance(repeat, bool) or repeat < 1:
        raise SpecError(
            f"repeat must be a positive integer, got {raw['repeat']!r}",
            argument="repeat",
        )
    when = substitute(raw.get("when", True), params)
    if not isinstance(when, bool):
        raise SpecError(f"when must be true or false, got {raw['when']!r}", argument="when")
    return _Entry(type_name, positional, keywords, name, trainable, sources, repeat, when)


_INDEX = re.compile(r"\{i([+-]\d+)?\}")


def _too_many(e: _Entry, each: int, before: int) -> str:
    """Why expanding ``e`` (``each`` layers per copy at most) would pass MAX_LAYERS."""
    limit = f"the limit of {MAX_LAYERS:,} layers in a model"
    if each > MAX_LAYERS:
        times = f", {e.repeat:,} times," if e.repeat > 1 else ""
        return f"block {e.type_name}{times} expands to more than {limit}"
    if e.repeat * each > MAX_LAYERS:
        product = f" ({e.repeat:,} × {each:,})" if each > 1 else ""
        return (
            f"repeat: {e.repeat:,} of {e.type_name} makes up to "
            f"{e.repeat * each:,} layers{product}, beyond {limit}"
        )
    return (
        f"repeat: {e.repeat:,} of {e.type_name} takes the model past {limit} ({before:,} before it)"
    )


def _instance_name(name: str, r: int, repeat: int) -> str:
    """Copy ``r`` of a repeated entry: ``name.r``, or the name with ``{i}`` / ``{i+2}`` filled in
    (``features.{i+2}`` numbers copies as torchvision's flat ``features.2``, ``features.3``, …)."""
    if _INDEX.search(name):
        return _INDEX.sub(lambda m: str(r + int(m.group(1) or 0)), name)
    return name if repeat == 1 else f"{name}.{r}"


class _Skip(Exception):
    """An entry reads one that could not be built: left out, its problem already reported."""


class _ArgPlaces(Mapping[str, "str | None"]):
    """Where each key of a layer mapping is (``net.yaml:14``, with its column), worked out
    only when an error asks: reading a long file makes none of them."""

    __slots__ = ("raw", "at")

    def __init__(self, raw: Any, at: Callable[[int | None], str | None]) -> None:
        self.raw, self.at = raw, at

    def _key(self, key: str) -> Any:
        lines = self.raw.key_lines
        if key in lines:
            return key
        for k in lines:
            if str(k) == key:
                return k
        raise KeyError(key)

    def __getitem__(self, key: str) -> str | None:
        k = self._key(key)
        return place(self.at, self.raw.key_lines[k], getattr(self.raw, "key_cols", {}).get(k))

    def __iter__(self) -> Any:
        return (str(k) for k in self.raw.key_lines)

    def __len__(self) -> int:
        return len(self.raw.key_lines)


def _located(
    exc: ConvcalcError,
    raw: Any,
    where: str | None,
    arg_where: Mapping[str, str | None],
    yaml_path: str,
) -> ConvcalcError:
    """Add ``net.yaml:14, layers[5].kernel_size`` to an error raised for one entry."""
    keyed = isinstance(raw, dict) and "type" in raw
    arg = exc.argument if keyed or exc.argument not in LAYER_KEYS else None
    at = arg_where.get(arg, where) if arg else where
    if exc.location is None:
        exc.location = (
            (f"{at}, " if at else "") + yaml_path + (f".{arg}" if arg and arg != "input" else "")
        )
    exc.at_place(at)
    return exc


def build(
    entries: Sequence[Any],
    *,
    at: Callable[[int | None], str | None] = lambda line: None,
    item_lines: Sequence[int | None] = (),
    blocks: Mapping[str, BlockDef] | None = None,
    input_shape: Shape | None = None,
    name: str | None = None,
    source: str | None = None,
) -> Spec:
    builder = Builder(blocks)
    builder.scope(entries, at, item_lines)
    if builder.errors:
        first, *others = builder.errors
        raise first.with_others(others)
    warnings = tuple(unused_note(n) for n in builder.unused())
    return Spec(tuple(builder.layers), input_shape, name, source, warnings)


def unused_note(name: str) -> str:
    """The warning for a layer whose output nothing reads."""
    return f"the output of '{name}' is never used (an unused branch?)"


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
