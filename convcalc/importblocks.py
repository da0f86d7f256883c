"""An import's repeated structure as ``blocks:``: the modules of one class of the model's own
(torchvision's BasicBlock, Bottleneck, InvertedResidual) become one block definition per
layer structure, its arguments that differ between the instances its parameters; runs of
identical instances that read each other become one entry with ``repeat``. Blocks nest as
the modules do (an InvertedResidual's Conv2dNormActivation, an Inception's BasicConv2d): the
inner instances are defined first, and an outer block uses them, the values that differ
between the outer instances its parameters. torch.nn's containers are never blocks.

A module becomes a block use only when its layers are consecutive, read one value from
outside, and nothing outside reads them but their last one (the block's output): a
block's layers are then the flat layers under the same names. The caller checks that the
expansion equals the flat import and writes the flat one otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .layers import REGISTRY
from .layers.arguments import REQUIRED
from .model import INPUT
from .yamlwrite import Block, Config

if TYPE_CHECKING:
    from .torchimport import Imported, Layer


@dataclass
class _Instance:
    """One module's layers (``first`` … ``end`` of the flat list), with the instances of
    blocks inside it; ``source`` is the one outside value it reads."""

    path: str
    cls: str
    first: int
    end: int
    source: str
    children: list[_Instance] = field(default_factory=list)
    #: the structure, as a hashable key: equal keys share one block definition
    key: Any = None
    #: the name of its last layer (the one value read from outside)
    output: str = ""


def _local(name: str, path: str) -> str:
    return name[len(path) + 1 :] if path else name


def _instance(
    layers: Sequence[Layer], start: int, path: str, cls: str, readers: Mapping[str, int]
) -> _Instance | None:
    """The instance of module ``path`` starting at ``start``, if its layers form a block:
    consecutive, one value read from outside, and only the last one read from outside."""
    prefix = path + "."
    end = start
    while end < len(layers) and layers[end].name.startswith(prefix):
        end += 1
    run = list(layers[start:end])
    names = {layer.name for layer in run}
    outside: set[str] = set()
    prev = layers[start - 1].name if start else INPUT
    for layer in run:
        outside |= {r for r in _reads(layer, prev) if r not in names}
        prev = layer.name
    if len(outside) != 1:
        return None
    for layer in run[:-1]:
        if readers.get(layer.name, 0) > _reads_inside(run, layer.name):
            return None
    return _Instance(path, cls, start, end, outside.pop(), output=run[-1].name)


def _reads(layer: Layer, prev: str) -> tuple[str, ...]:
    return layer.sources if layer.sources is not None else (prev,)


def _reads_inside(run: Sequence[Layer], name: str) -> int:
    count = 0
    for i, layer in enumerate(run):
        if layer.sources is None:
            count += 1 if i > 0 and run[i - 1].name == name else 0
        else:
            count += sum(1 for s in layer.sources if s == name)
    return count


def _readers(layers: Sequence[Layer]) -> dict[str, int]:
    counts: dict[str, int] = {}
    prev = INPUT
    for layer in layers:
        for s in _reads(layer, prev):
            counts[s] = counts.get(s, 0) + 1
        prev = layer.name
    return counts


class _Finder:
    """The block instances of a flat import, nested as the modules nest."""

    def __init__(self, layers: Sequence[Layer], classes: Mapping[str, tuple[str, bool]]) -> None:
        self.layers, self.classes = layers, classes
        self.readers = _readers(layers)

    def within(self, lo: int, hi: int, scope: str) -> list[_Instance]:
        """The outermost instances among layers ``lo`` … ``hi`` (all under ``scope``), each
        with its own inner ones found."""
        found: list[_Instance] = []
        i = lo
        depth = len(scope.split(".")) if scope else 0
        while i < hi:
            chosen = self._at(i, depth, hi)
            if chosen is None:
                i += 1
                continue
            chosen.children = self.within(chosen.first, chosen.end, chosen.path)
            found.append(chosen)
            i = chosen.end
        return found

    def _at(self, i: int, depth: int, hi: int) -> _Instance | None:
        """The outermost instance deeper than ``depth`` that starts at layer ``i``."""
        layers = self.layers
        parts = layers[i].name.split(".")
        for d in range(depth + 1, len(parts)):
            path = ".".join(parts[:d])
            cls, torch_own = self.classes.get(path, ("", True))
            if torch_own or (i > 0 and layers[i - 1].name.startswith(path + ".")):
                continue
            inst = _instance(layers, i, path, cls, self.readers)
            if inst is not None and inst.end <= hi:
                return inst
        return None


def _kept(found: list[_Instance], counts: Mapping[str, int]) -> list[_Instance]:
    """The instances of classes that occur more than once; the inner ones of an instance left
    out take its place."""
    out: list[_Instance] = []
    for inst in found:
        inst.children = _kept(inst.children, counts)
        out.extend([inst] if counts[inst.cls] > 1 else inst.children)
    return out


def _count(found: list[_Instance], counts: dict[str, int]) -> dict[str, int]:
    for inst in found:
        counts[inst.cls] = counts.get(inst.cls, 0) + 1
        _count(inst.children, counts)
    return counts


def _post_order(found: list[_Instance]) -> list[_Instance]:
    out: list[_Instance] = []
    for inst in found:
        out += _post_order(inst.children)
        out.append(inst)
    return out


_WORD = re.compile(r"[^0-9A-Za-z_]")


def _param_name(local: str, arg: str, taken: set[str]) -> str:
    base = _WORD.sub("_", f"{local}_{arg}")
    if base[0].isdigit():
        base = "l" + base
    name, k = base, 2
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


@dataclass
class _Item:
    """One entry of a scope: a layer, or the use of a block (an inner instance)."""

    name: str
    type: str
    #: its arguments, or the use's parameter values
    args: dict[str, Any]
    #: (argument, default) in the order they are written (a use's parameters have none)
    order: list[tuple[str, Any]]
    #: the full names it reads
    reads: tuple[str, ...]
    layer: Layer | None = None


class _Blocks:
    """Block definitions for the kept instances, inner ones first, and each instance's use."""

    def __init__(self, layers: Sequence[Layer]) -> None:
        self.layers = layers
        self.blocks: dict[str, Block] = {}
        #: id of an instance → (its block's name, the parameter values of its use)
        self.uses: dict[int, tuple[str, dict[str, Any]]] = {}

    def items(self, lo: int, hi: int, inner: list[_Instance]) -> list[_Item]:
        """Layers ``lo`` … ``hi`` as entries: the layers outside ``inner``, and a use of each
        instance of ``inner`` (whose block is defined)."""
        at = {inst.first: inst for inst in inner}
        out: list[_Item] = []
        i = lo
        prev = self.layers[lo - 1].name if lo else INPUT
        while i < hi:
            inst = at.get(i)
            if inst is None:
                layer = self.layers[i]
                order = [(a.name, a.default) for a in REGISTRY[layer.type].ARGS]
                reads = _reads(layer, prev)
                out.append(_Item(layer.name, layer.type, layer.args, order, reads, layer))
                prev = layer.name
                i += 1
                continue
            block, values = self.uses[id(inst)]
            order = [(k, REQUIRED) for k in values]
            out.append(_Item(inst.path, block, values, order, (inst.source,)))
            prev = inst.output
            i = inst.end
        return out

    def structure(
        self, inst: _Instance, kind: Callable[[_Instance], Any]
    ) -> list[tuple[str, Any, tuple[str, ...]]]:
        """(local name, type, local reads) per entry of ``inst``, an inner instance's type
        given by ``kind``: what its structure is."""
        layers = self.layers
        names = {layer.name for layer in layers[inst.first : inst.end]}
        outputs = {child.output: child.path for child in inst.children}

        def local(read: str) -> str:
            return _local(outputs.get(read, read), inst.path) if read in names else INPUT

        at = {child.first: child for child in inst.children}
        out: list[tuple[str, Any, tuple[str, ...]]] = []
        i = inst.first
        prev = layers[i - 1].name if i else INPUT
        while i < inst.end:
            child = at.get(i)
            if child is not None:
                out.append((_local(child.path, inst.path), kind(child), (local(child.source),)))
                prev, i = child.output, child.end
                continue
            layer = layers[i]
            reads = tuple(local(r) for r in _reads(layer, prev))
            out.append((_local(layer.name, inst.path), layer.type, reads))
            prev, i = layer.name, i + 1
        return out

    def define(self, group: list[_Instance], name: str) -> None:
        """The block of instances of one structure, and each instance's parameter values."""
        vectors: dict[tuple[str, ...], str] = {}
        taken: set[str] = set()
        where: dict[tuple[int, str], str] = {}
        first = group[0]
        per_inst = [self.items(i.first, i.end, i.children) for i in group]
        structure = self.structure(first, lambda child: self.uses[id(child)][0])
        written: list[dict[str, list[Any]]] = []
        for j, item in enumerate(per_inst[0]):
            args = {
                a: [items[j].args.get(a, default) for items in per_inst]
                for a, default in item.order
                if any(a in items[j].args for items in per_inst)
            }
            written.append(args)
            for arg, column in args.items():
                values = tuple(repr(v) for v in column)
                if len(set(values)) == 1:
                    continue
                if values not in vectors:
                    vectors[values] = _param_name(structure[j][0], arg, taken)
                where[(j, arg)] = vectors[values]
        entries: list[dict[str, Any]] = []
        for j, item in enumerate(per_inst[0]):
            local, _, reads = structure[j]
            previous = structure[j - 1][0] if j else INPUT
            params = {arg: f"${where[(j, arg)]}" for arg in written[j] if (j, arg) in where}
            if reads == (previous,) and not params and item.layer is not None:
                entries.append({local: call_text(item.layer)})
                continue
            entry: dict[str, Any] = {"type": item.type, "name": local}
            if reads != (previous,):
                entry["from"] = reads[0] if len(reads) == 1 else list(reads)
            entry.update({arg: params.get(arg, column[0]) for arg, column in written[j].items()})
            entries.append(entry)
        names = sorted(set(where.values()), key=list(where.values()).index)
        self.blocks[name] = Block(
            {n: None for n in names}, _repeats(entries), f"{first.cls} as the model defines it"
        )
        for k, inst in enumerate(group):
            chosen = {p: written[j][arg][k] for (j, arg), p in where.items()}
            self.uses[id(inst)] = (name, {n: chosen[n] for n in names})


def _key(inst: _Instance, blocks: _Blocks) -> Any:
    """The structure of an instance, inner instances by their own structure."""
    for child in inst.children:
        _key(child, blocks)
    inst.key = (inst.cls, tuple(blocks.structure(inst, lambda child: child.key)))
    return inst.key


def _repeat_name(paths: Sequence[str]) -> str | None:
    """``layer1.{i+1}`` for layer1.1, layer1.2, …; None unless they count up under one parent."""
    parents = {p.rpartition(".")[0] for p in paths}
    tails = [p.rpartition(".")[2] for p in paths]
    if len(parents) != 1 or not all(t.isdigit() for t in tails):
        return None
    start = int(tails[0])
    if [int(t) for t in tails] != list(range(start, start + len(tails))):
        return None
    parent = parents.pop()
    index = "{i}" if start == 0 else f"{{i+{start}}}"
    return f"{parent}.{index}" if parent else None


def _repeats(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Runs of block uses that are equal but for their names, each reading the one before
    (no ``from``), whose names count up under one parent: one entry with ``repeat``."""
    out: list[dict[str, Any]] = []
    i = 0
    while i < len(entries):
        first = entries[i]
        j = i + 1
        if "type" in first and "name" in first and first["type"] not in REGISTRY:
            rest = {k: v for k, v in first.items() if k != "name"}
            rest.pop("from", None)
            while (
                j < len(entries)
                and "from" not in entries[j]
                and entries[j].get("type") == first["type"]
            ):
                if {k: v for k, v in entries[j].items() if k != "name"} != rest:
                    break
                j += 1
        run = entries[i:j]
        label = _repeat_name([e["name"] for e in run]) if len(run) > 1 else None
        if label is None:
            out.append(first)
            i += 1
            continue
        merged = {"type": first["type"], "name": label}
        if "from" in first:
            merged["from"] = first["from"]
        merged["repeat"] = len(run)
        merged.update({k: v for k, v in first.items() if k not in ("type", "name", "from")})
        out.append(merged)
        i = j
    return out


def with_blocks(
    layers: Sequence[Layer], classes: Mapping[str, tuple[str, bool]]
) -> tuple[list[dict[str, Any]], dict[str, Block]]:
    """The config's layer entries and block definitions for ``layers``: a block for each
    structure of a module class of the model's own that occurs more than once, inner blocks
    used inside outer ones where the modules nest."""
    finder = _Finder(layers, classes)
    found = finder.within(0, len(layers), "")
    top = _kept(found, _count(found, {}))
    blocks = _Blocks(layers)
    ordered = _post_order(top)
    groups: dict[Any, list[_Instance]] = {}
    for inst in top:
        _key(inst, blocks)
    for inst in ordered:
        groups.setdefault(inst.key, []).append(inst)
    per_class: dict[str, int] = {}
    for group in groups.values():
        cls = group[0].cls
        k = per_class[cls] = per_class.get(cls, 0) + 1
        name = cls if cls not in REGISTRY else f"{cls}Block"
        blocks.define(group, name if k == 1 else f"{name}_{k}")
    out: list[dict[str, Any]] = []
    prev = INPUT
    for item in blocks.items(0, len(layers), top):
        if item.layer is not None:
            out.append(entry(item.layer))
            prev = item.layer.name
            continue
        use: dict[str, Any] = {"type": item.type, "name": item.name}
        if item.reads[0] != prev:
            use["from"] = item.reads[0]
        use.update(item.args)
        out.append(use)
        prev = next(i.output for i in top if i.path == item.name)
    return _repeats(out), blocks.blocks


# ------------------------------------------------------------------ to a config
def call_text(layer: Layer) -> str:
    """``Conv2d(3, 64, kernel_size=(7, 7), stride=(2, 2), bias=False)``: required arguments
    positional, the others by keyword."""
    cls = REGISTRY[layer.type]
    parts = []
    keyword = False
    for arg in cls.ARGS:
        if arg.name not in layer.args:
            keyword = keyword or arg.default is not REQUIRED
            continue
        value = repr(layer.args[arg.name])
        if arg.default is REQUIRED and not keyword:
            parts.append(value)
        else:
            keyword = True
            parts.append(f"{arg.name}={value}")
    return f"{layer.type}({', '.join(parts)})"


def entry(
    layer: Layer, name: str | None = None, sources: Sequence[str] | None = None
) -> dict[str, Any]:
    """The layer as a config entry, under ``name`` reading ``sources`` (default: its own)."""
    name = layer.name if name is None else name
    sources = layer.sources if sources is None else sources
    if sources is None:
        return {name: call_text(layer)}
    return {
        "type": layer.type,
        "name": name,
        "from": sources[0] if len(sources) == 1 else list(sources),
        **layer.args,
    }


def config_of(imported: Imported, *, flat: bool = False, source: str | None = None) -> Config:
    """The config of an import: flat, or with blocks where module classes repeat."""
    comments = [
        f"{source or imported.name}, imported with torch.fx at {tuple(imported.input_shape)}: "
        f"{imported.params:,} parameters; layer names are the state_dict keys"
    ]
    if imported.uncalled:
        comments.append(
            "the forward never calls " + ", ".join(imported.uncalled) + ": left out, and their "
            "state_dict keys ignored (ignore_weights)"
        )
    if not flat:
        layers, blocks = with_blocks(imported.layers, imported.classes)
    else:
        layers, blocks = [entry(layer) for layer in imported.layers], {}
    return Config(layers, imported.name, imported.input_shape, comments, blocks, imported.uncalled)
