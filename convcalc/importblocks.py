"""An import's repeated structure as ``blocks:``: the modules of one class of the model's own
(torchvision's BasicBlock, Bottleneck, InvertedResidual) become one block definition per
layer structure, its arguments that differ between the instances its parameters; runs of
identical instances that read each other become one entry with ``repeat``.

A module becomes a block use only when its layers are consecutive, read one value from
outside, and nothing outside reads them but their last one (the block's output): a
block's layers are then the flat layers under the same names. The caller checks that the
expansion equals the flat import and writes the flat one otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .layers import REGISTRY
from .layers.arguments import REQUIRED
from .model import INPUT
from .yamlwrite import Block, Config

if TYPE_CHECKING:
    from .torchimport import Imported, Layer


@dataclass
class _Instance:
    """One module's layers, with what they read in its own terms (``input`` for the outside)."""

    path: str
    cls: str
    first: int
    layers: list[Layer]
    source: str  # the outside value it reads
    #: (local name, type, local sources or None, argument names), per layer
    shape: tuple[Any, ...] = ()

    def values(self) -> list[Any]:
        return [layer.args[k] for layer in self.layers for k in sorted(layer.args)]


def _local(name: str, path: str) -> str:
    return name[len(path) + 1 :]


def _instance(
    layers: Sequence[Layer], start: int, path: str, cls: str, readers: Mapping[str, int]
) -> _Instance | None:
    """The instance of module ``path`` starting at ``start``, if its layers form a block."""
    prefix = path + "."
    end = start
    while end < len(layers) and layers[end].name.startswith(prefix):
        end += 1
    run = list(layers[start:end])
    names = {layer.name for layer in run}
    outside: set[str] = set()
    prev = layers[start - 1].name if start else INPUT
    shapes = []
    for layer in run:
        reads = layer.sources if layer.sources is not None else (prev,)
        local_reads = []
        for r in reads:
            if r in names:
                local_reads.append(_local(r, path))
            else:
                outside.add(r)
                local_reads.append(INPUT)
        prev = layer.name
        shapes.append((_local(layer.name, path), layer.type, tuple(local_reads)))
    if len(outside) != 1:
        return None
    # nothing outside reads a layer of the block but its last one
    for layer in run[:-1]:
        if readers.get(layer.name, 0) > _reads_inside(run, layer.name):
            return None
    return _Instance(path, cls, start, run, outside.pop(), tuple(shapes))


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
        for s in layer.sources if layer.sources is not None else (prev,):
            counts[s] = counts.get(s, 0) + 1
        prev = layer.name
    return counts


def _instances(layers: Sequence[Layer], classes: Mapping[str, tuple[str, bool]]) -> list[_Instance]:
    """The block candidates, outermost first, in order; a class needs two instances."""
    readers = _readers(layers)
    found: list[_Instance] = []
    i = 0
    while i < len(layers):
        parts = layers[i].name.split(".")
        chosen = None
        for depth in range(1, len(parts)):
            path = ".".join(parts[:depth])
            cls, torch_own = classes.get(path, ("", True))
            if torch_own or (i > 0 and layers[i - 1].name.startswith(path + ".")):
                continue
            inst = _instance(layers, i, path, cls, readers)
            if inst is not None:
                chosen = inst
                break
        if chosen is None:
            i += 1
            continue
        found.append(chosen)
        i += len(chosen.layers)
    counts: dict[str, int] = {}
    for inst in found:
        counts[inst.cls] = counts.get(inst.cls, 0) + 1
    return [inst for inst in found if counts[inst.cls] > 1]


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


def _definition(group: list[_Instance]) -> tuple[Block, list[dict[str, Any]]]:
    """The block of instances of one structure, and each instance's parameter values."""
    vectors: dict[tuple[Any, ...], str] = {}
    taken: set[str] = set()
    where: dict[tuple[int, str], str] = {}
    first = group[0]
    #: per layer, every argument some instance writes, in the type's order, with each value
    written: list[dict[str, list[Any]]] = []
    for j, layer in enumerate(first.layers):
        args: dict[str, list[Any]] = {}
        for a in REGISTRY[layer.type].ARGS:
            if any(a.name in inst.layers[j].args for inst in group):
                args[a.name] = [inst.layers[j].args.get(a.name, a.default) for inst in group]
        written.append(args)
        for arg, column in args.items():
            values = tuple(repr(v) for v in column)
            if len(set(values)) == 1:
                continue
            if values not in vectors:
                vectors[values] = _param_name(_local(layer.name, first.path), arg, taken)
            where[(j, arg)] = vectors[values]
    layers = []
    for j, layer in enumerate(first.layers):
        local, _, reads = first.shape[j]
        previous = first.shape[j - 1][0] if j else INPUT
        params = {arg: f"${where[(j, arg)]}" for arg in written[j] if (j, arg) in where}
        if reads == (previous,) and not params:
            layers.append({local: call_text(layer)})
            continue
        entry: dict[str, Any] = {"type": layer.type, "name": local}
        if reads != (previous,):
            entry["from"] = reads[0] if len(reads) == 1 else list(reads)
        entry.update({arg: params.get(arg, column[0]) for arg, column in written[j].items()})
        layers.append(entry)
    names = sorted(set(where.values()), key=list(where.values()).index)
    uses = []
    for k in range(len(group)):
        chosen = {name: written[j][arg][k] for (j, arg), name in where.items()}
        uses.append({n: chosen[n] for n in names})
    return Block({n: None for n in names}, layers, f"{first.cls} as the model defines it"), uses


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


def with_blocks(
    layers: Sequence[Layer], classes: Mapping[str, tuple[str, bool]]
) -> tuple[list[dict[str, Any]], dict[str, Block]]:
    """The config's layer entries and block definitions for ``layers``."""
    found = _instances(layers, classes)
    groups: dict[tuple[str, Any], list[_Instance]] = {}
    for inst in found:
        groups.setdefault((inst.cls, inst.shape), []).append(inst)
    blocks: dict[str, Block] = {}
    use: dict[int, tuple[str, dict[str, Any], _Instance]] = {}
    per_class: dict[str, int] = {}
    for (cls, _), group in groups.items():
        k = per_class[cls] = per_class.get(cls, 0) + 1
        name = cls if cls not in REGISTRY else f"{cls}Block"
        name = name if k == 1 else f"{name}_{k}"
        blocks[name], per_use = _definition(group)
        for inst, v in zip(group, per_use):
            use[inst.first] = (name, v, inst)
    out: list[dict[str, Any]] = []
    i, prev = 0, INPUT
    while i < len(layers):
        if i not in use:
            out.append(entry(layers[i]))
            prev = layers[i].name
            i += 1
            continue
        name, given, inst = use[i]
        run = [inst]
        j = i + len(inst.layers)
        while (
            j in use
            and use[j][0] == name
            and use[j][1] == given
            and use[j][2].source == run[-1].layers[-1].name
        ):
            run.append(use[j][2])
            j += len(use[j][2].layers)
        label = _repeat_name([r.path for r in run]) if len(run) > 1 else None
        if len(run) > 1 and label is None:
            run = run[:1]
            j = i + len(inst.layers)
        item: dict[str, Any] = {"type": name, "name": label or inst.path}
        if inst.source != prev:
            item["from"] = inst.source
        if len(run) > 1:
            item["repeat"] = len(run)
        item.update(given)
        out.append(item)
        prev = run[-1].layers[-1].name
        i = j
    return out, blocks


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
