"""A config as PyTorch source: ``convcalc export FILE --to torch`` and :func:`to_torch_source`.

The source defines an ``nn.Module`` subclass whose ``__init__`` builds the config's layers with
their names and torch's arguments (an argument taken from the input written out as its value,
a Lazy type as the type it stands for) and whose ``forward`` follows the graph: ``from``, and
the merges as the torch operations they stand for. A block of the config becomes its own
``nn.Module`` class where it is one unit (its layers named under its name, one input, read from
outside at its output only), else its layers are written in place. Instances of a block that
differ only in argument values share a class, whose ``__init__`` takes those values. Dotted names
become nested containers (``nn.Sequential`` for the names 0, 1, 2 …, ``nn.ModuleDict``
otherwise), so the module's state_dict keys and shapes are the config's, those ``run --weights``
reads. Nothing here imports torch: it writes text.
"""

from __future__ import annotations

import keyword
import math
import os
import re
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

from . import __version__
from .errors import ConvcalcError, ShapeError, SpecError
from .layers.arguments import REQUIRED, Arg, BadValue, same_value
from .layers.base import REGISTRY, Layer, Lazy
from .layers.merge import Merge
from .model import INPUT, LayerSpec, Spec
from .shape import Shape, fmt_shape

#: attributes of torch's nn.Module (and nn.ModuleDict's dict methods): a child module cannot
#: take one of these names (add_module refuses them)
RESERVED = frozenset(
    """T_destination add_module apply bfloat16 buffers call_super_init children clear compile cpu
    cuda double dump_patches eval extra_repr float forward get_buffer get_extra_state
    get_parameter get_submodule half ipu items keys load_state_dict modules mtia named_buffers
    named_children named_modules named_parameters parameters pop register_backward_hook
    register_buffer register_forward_hook register_forward_pre_hook register_full_backward_hook
    register_full_backward_pre_hook register_load_state_dict_post_hook
    register_load_state_dict_pre_hook register_module register_parameter
    register_state_dict_post_hook register_state_dict_pre_hook requires_grad_ set_extra_state
    set_submodule share_memory state_dict to to_empty train training type update values xpu
    zero_grad""".split()
)

#: names the generated code uses itself
OWN_NAMES = frozenset({"self", "x", "torch", "nn", "super"})

#: an instance of a block: the path prefix that names it (((name, block type), …), outermost first)
InstanceKey = tuple[tuple[str, str], ...]


@dataclass
class Leaf:
    """A module's construction, ``callee(args)``: an nn type, or a block class's instance."""

    callee: str
    #: (name, value, default): REQUIRED as the default is always written
    args: tuple[tuple[str, Any, Any], ...] = ()
    frozen: bool = False
    #: a block class's instance: (the class, the instance's index among its uses)
    instance: tuple[BlockClass, int] | None = None

    def key(self) -> tuple[Any, ...]:
        if self.instance is not None:
            return (self.callee,)
        return (self.callee, tuple(a[0] for a in self.args), self.frozen)

    def arguments(self) -> tuple[tuple[str, Any, Any], ...]:
        if self.instance is not None:
            cls, i = self.instance
            return tuple((name, value, REQUIRED) for name, value in cls.arguments(i))
        return self.args


Tree = dict[str, Union[Leaf, "Tree"]]


@dataclass
class Body:
    """A scope's modules (a tree of containers by dotted name) and its forward's lines."""

    tree: Tree
    lines: list[str]


@dataclass
class BlockClass:
    """One nn.Module class of the source: a block type's uses that share a forward and a
    module structure (the model is one too, used once)."""

    name: str
    doc: str
    bodies: list[Body] = field(default_factory=list)
    #: (leaf path, argument) → the parameter of __init__ that gives it (set by :meth:`finish`)
    slots: dict[tuple[tuple[str, ...], str], str] = field(default_factory=dict)
    params: list[str] = field(default_factory=list)
    values: list[dict[str, Any]] = field(default_factory=list)

    def finish(self) -> None:
        """Make each argument whose value differs between the uses a parameter of __init__
        (arguments with the same values in every use share one)."""
        by_values: dict[tuple[str, ...], str] = {}
        self.values = [{} for _ in self.bodies]
        leaves = [dict(_leaves(body.tree)) for body in self.bodies]
        for path, leaf in leaves[0].items():
            for name, _, _ in leaf.arguments():
                column = [_argument(use[path], name) for use in leaves]
                reprs = tuple(repr(v) for v in column)
                if len(set(reprs)) == 1:
                    continue
                param = by_values.get(reprs)
                if param is None:
                    param = _unique(_identifier("_".join((*path, name)), "m"), set(self.params))
                    by_values[reprs] = param
                    self.params.append(param)
                    for values, value in zip(self.values, column):
                        values[param] = value
                self.slots[path, name] = param

    def arguments(self, i: int) -> list[tuple[str, Any]]:
        return [(param, self.values[i][param]) for param in self.params]

    def source(self) -> str:
        body = self.bodies[0]
        lines = [f"class {self.name}(nn.Module):", f'    """{self.doc}"""', ""]
        lines.append(f"    def __init__({', '.join(['self', *self.params])}) -> None:")
        lines.append("        super().__init__()")
        for key, node in body.tree.items():
            expr = self._expression(node, (key,), 2)
            if _attribute(key):
                lines.append(f"        self.{key} = {expr}")
            else:
                lines.append(f"        self.add_module({key!r}, {expr})")
        lines += ["", "    def forward(self, x: torch.Tensor) -> torch.Tensor:"]
        lines += [f"        {line}" for line in body.lines]
        return "\n".join(lines) + "\n"

    def _expression(self, node: Leaf | Tree, path: tuple[str, ...], depth: int) -> str:
        if isinstance(node, Leaf):
            return self._call(node, path)
        pad, inner = "    " * depth, "    " * (depth + 1)
        keys = _sequence(node)
        if keys is not None:
            parts = [f"{inner}{self._expression(node[k], (*path, k), depth + 1)},\n" for k in keys]
            return "nn.Sequential(\n" + "".join(parts) + f"{pad})"
        parts = [
            f"{inner}{k!r}: {self._expression(v, (*path, k), depth + 1)},\n"
            for k, v in node.items()
        ]
        return "nn.ModuleDict({\n" + "".join(parts) + pad + "})"

    def _call(self, leaf: Leaf, path: tuple[str, ...]) -> str:
        """``nn.Conv2d(3, 64, (7, 7), stride=(2, 2), …)``: the leading required arguments by
        position (an nn type's), the others by keyword where they differ from the default."""
        parts: list[str] = []
        positional = leaf.instance is None
        for name, value, default in leaf.arguments():
            param = self.slots.get((path, name))
            if param is None and default is not REQUIRED and same_value(value, default):
                positional = False
                continue
            text = param if param is not None else literal(value)
            positional = positional and default is REQUIRED
            parts.append(text if positional else f"{name}={text}")
        call = f"{leaf.callee}({', '.join(parts)})"
        return f"{call}.requires_grad_(False)" if leaf.frozen else call


def _leaves(tree: Tree, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Leaf]]:
    for key, node in tree.items():
        if isinstance(node, Leaf):
            yield (*path, key), node
        else:
            yield from _leaves(node, (*path, key))


def _argument(leaf: Leaf, name: str) -> Any:
    return next(value for arg, value, _ in leaf.arguments() if arg == name)


def _tree_key(tree: Tree) -> tuple[Any, ...]:
    return tuple((k, v.key() if isinstance(v, Leaf) else _tree_key(v)) for k, v in tree.items())


def _sequence(tree: Tree) -> list[str] | None:
    """The keys in order when they are 0, 1, 2 … (an nn.Sequential's), else None."""
    keys = sorted(tree, key=lambda k: int(k) if k.isdigit() else -1)
    if keys == [str(i) for i in range(len(keys))]:
        return keys
    return None


def literal(value: Any) -> str:
    """A Python expression for an argument's value."""
    if value is None or isinstance(value, (bool, int, str)):
        return repr(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else f"float({str(value)!r})"
    if isinstance(value, (tuple, list)):
        items = [literal(v) for v in value]
        if isinstance(value, list):
            return f"[{', '.join(items)}]"
        return f"({', '.join(items)}{',' if len(items) == 1 else ''})"
    raise TypeError(f"no literal for {value!r}")


def _attribute(name: str) -> bool:
    """``self.<name>`` works for this child's name."""
    return name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("_")


def _identifier(text: str, lead: str) -> str:
    """``text`` as a Python identifier (``features.3`` → ``features_3``; ``3`` → ``<lead>3``)."""
    name = re.sub(r"\W", "_", text)
    if not name or not name.isidentifier() or not (name[0].isalpha() or name[0] == "_"):
        name = lead + name
    if keyword.iskeyword(name) or name in OWN_NAMES:
        name += "_"
    return name


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}{n}", n + 1
    taken.add(candidate)
    return candidate


def class_name_of(name: str | None) -> str:
    """A class name from a model's name: ``mobilenet_v2`` → ``MobilenetV2``."""
    parts = re.split(r"[^0-9A-Za-z]+", name or "")
    text = "".join(p[:1].upper() + p[1:] for p in parts)
    if not text:
        return "Model"
    return text if text[0].isalpha() else "Model" + text


def eager_type(cls: type[Layer]) -> type[Layer]:
    """The type a Lazy type stands for once its input is known (LazyConv2d → Conv2d)."""
    if not issubclass(cls, Lazy):
        return cls
    return next(
        c
        for c in cls.__mro__
        if issubclass(c, Layer) and not issubclass(c, Lazy) and REGISTRY.get(c.type_name) is c
    )


class _Exporter:
    """Builds the classes of one model's source."""

    def __init__(self, spec: Spec, inputs: Sequence[Shape | None], model_class: str) -> None:
        self.spec = spec
        self.inputs = inputs
        self.classes: list[BlockClass] = []
        self.by_key: dict[tuple[Any, ...], BlockClass] = {}
        self.taken = {model_class, "nn", "torch"}
        self.groups: dict[InstanceKey, list[LayerSpec]] = {}
        for entry in spec.layers:
            for depth in range(1, len(entry.path) + 1):
                self.groups.setdefault(entry.path[:depth], []).append(entry)
        self.names = sorted(e.name for e in spec.layers)
        self.name_set = set(self.names)
        self.readers: dict[str, list[int]] = {}
        for entry in spec.layers:
            for source in entry.inputs:
                self.readers.setdefault(source, []).append(entry.index)
        self.units = {key for key, group in self.groups.items() if self._unit(key[-1][0], group)}

    def _unit(self, name: str, group: list[LayerSpec]) -> bool:
        """A block instance can be its own class: its layers named under its name and no other
        layer so, one input from outside, and outside readers of its output only."""
        if not name or not all(e.name.startswith(name + ".") for e in group):
            return False
        # the names under it ("." sorts just before "/"), and itself
        under = bisect_left(self.names, name + "/") - bisect_left(self.names, name + ".")
        if under != len(group) or name in self.name_set:
            return False
        members = {e.index for e in group}
        for entry in group[:-1]:
            if any(i not in members for i in self.readers.get(entry.name, ())):
                return False
        inside = {e.name for e in group}
        outside = {i for e in group for i in e.inputs if i not in inside}
        return len(outside) == 1

    def items(self, entries: Sequence[LayerSpec], depth: int) -> list[Any]:
        """The entries of a scope at block depth ``depth``: each a layer, or the outermost
        unit block instance it is in (at that instance's last layer)."""
        out: list[Any] = []
        for entry in entries:
            key = next(
                (
                    entry.path[:k]
                    for k in range(depth + 1, len(entry.path) + 1)
                    if entry.path[:k] in self.units
                ),
                None,
            )
            if key is None:
                out.append(entry)
            elif entry is self.groups[key][-1]:
                out.append(key)
        return out

    def body(self, prefix: str, items: list[Any], source: str) -> tuple[Body, str]:
        """The modules and forward lines of a scope whose layers are named under ``prefix``
        and whose input is the output named ``source``; and the output it returns."""

        def rel(name: str) -> str:
            return name[len(prefix) + 1 :] if prefix else name

        tree: Tree = {}
        for item in items:
            if isinstance(item, tuple):
                _insert(tree, rel(item[-1][0]), self.instance(item))
            elif not isinstance(item.layer, Merge):
                _insert(tree, rel(item.name), self.leaf(item))
        names = {source: "x"}
        taken = set(OWN_NAMES)
        sequences: dict[int, bool] = {}
        lines: list[str] = []
        for item in items:
            if isinstance(item, tuple):
                group = self.groups[item]
                inside = {e.name for e in group}
                (outer,) = {i for e in group for i in e.inputs if i not in inside}
                var = _unique(_identifier(rel(item[-1][0]), "x"), taken)
                lines.append(
                    f"{var} = {_access(tree, rel(item[-1][0]), sequences)}({names[outer]})"
                )
                names[group[-1].name] = var
                continue
            var = _unique(_identifier(rel(item.name), "x"), taken)
            args = [names[i] for i in item.inputs]
            if isinstance(item.layer, Merge):
                lines.append(f"{var} = {item.layer.torch_expression(args)}")
            else:
                lines.append(f"{var} = {_access(tree, rel(item.name), sequences)}({args[0]})")
            names[item.name] = var
        last = items[-1]
        output = self.groups[last][-1].name if isinstance(last, tuple) else last.name
        lines.append(f"return {names[output]}")
        return Body(tree, lines), output

    def instance(self, key: InstanceKey) -> Leaf:
        """A unit block instance as a use of its class (made, or shared with earlier uses)."""
        group = self.groups[key]
        name, block_type = key[-1]
        inside = {e.name for e in group}
        (source,) = {i for e in group for i in e.inputs if i not in inside}
        body, _ = self.body(name, self.items(group, len(key)), source)
        signature = (block_type, tuple(body.lines), _tree_key(body.tree))
        cls = self.by_key.get(signature)
        if cls is None:
            cls_name = _unique(_identifier(block_type, "Block"), self.taken)
            cls = BlockClass(cls_name, f"The config's block {block_type}.")
            self.by_key[signature] = cls
            self.classes.append(cls)
        cls.bodies.append(body)
        return Leaf(cls.name, instance=(cls, len(cls.bodies) - 1))

    def leaf(self, entry: LayerSpec) -> Leaf:
        """A layer as its nn type's constructor call, with every argument's value."""
        layer = entry.layer
        eager = eager_type(type(layer))
        x = self.inputs[entry.index]
        inferred = layer.inferred_values(x) if x is not None else {}
        args = []
        for arg in eager.ARGS:
            value = layer.args.get(arg.name)
            if arg.infer and value is None:
                value = inferred.get(arg.name)
                if value is None:
                    raise SpecError(
                        f"{arg.name} is taken from the input, whose shape is not known",
                        argument=arg.name,
                        hint="give the input shape (input: in the file, or --input) to write it out",
                    ).at_layer(entry.index, entry.name, entry.type)
            args.append((arg.name, _short(arg, value), arg.default))
        return Leaf(f"nn.{eager.type_name}", tuple(args), frozen=not entry.trainable)


def _short(arg: Arg, value: Any) -> Any:
    """A per-axis value as one number where the argument reads that number as the same value,
    as torch's own calls are written (kernel_size=3 for (3, 3); LPPool1d takes no other)."""
    if not isinstance(value, tuple) or not value or any(v != value[0] for v in value):
        return value
    if isinstance(value[0], (tuple, list)):
        return value
    try:
        same = arg.convert(value[0]) == value
    except (BadValue, ConvcalcError, TypeError, ValueError):
        return value
    return value[0] if same else value


def _insert(tree: Tree, name: str, leaf: Leaf) -> None:
    parts = name.split(".")
    node = tree
    for i, part in enumerate(parts):
        if not part or part in RESERVED:
            raise SpecError(
                f"layer name {name!r} cannot name a torch module"
                + (f": {part!r} is an attribute of nn.Module" if part else ""),
                argument="name",
                hint="rename the layer",
            )
        if i == len(parts) - 1:
            if part in node:
                raise SpecError(
                    f"layer name {name!r} is also the name of a module that holds others",
                    argument="name",
                    hint="rename the layer",
                )
            node[part] = leaf
            return
        child = node.setdefault(part, {})
        if isinstance(child, Leaf):
            raise SpecError(
                f"layer name {name!r} puts a module inside the layer {'.'.join(parts[: i + 1])!r}",
                argument="name",
                hint="rename one of them",
            )
        node = child


def _access(tree: Tree, name: str, sequences: dict[int, bool]) -> str:
    """The expression that reaches the child module ``name`` (dotted) from ``self``;
    ``sequences`` keeps, by container, whether it is an nn.Sequential."""
    node: Tree | Leaf = tree
    text = "self"
    for i, part in enumerate(name.split(".")):
        assert not isinstance(node, Leaf)
        if i > 0 and id(node) not in sequences:
            sequences[id(node)] = _sequence(node) is not None
        if i == 0:
            text = f"self.{part}" if _attribute(part) else f"getattr(self, {part!r})"
        elif sequences[id(node)]:
            text += f"[{part}]"
        else:
            text += f"[{part!r}]"
        node = node[part]
    return text


def to_torch_source(
    spec: Spec, class_name: str | None = None, input_shape: Shape | None = None
) -> str:
    """PyTorch source of an nn.Module that is the model of ``spec``: its state_dict has the
    config's keys and shapes, its forward computes what ``run`` computes. The config is
    analysed at ``input_shape`` (default: its own), which must succeed: the arguments taken
    from the input are written out. Raises SpecError for a class name that is no Python
    identifier or a layer name no torch module can have, ShapeError for a wrong model."""
    from .analysis import analyze

    name = class_name or class_name_of(spec.name)
    if not name.isidentifier() or keyword.iskeyword(name) or name in ("nn", "torch"):
        raise SpecError(
            f"class name {name!r} is not a Python identifier",
            argument="--class-name",
            hint="use letters, digits and underscores, not starting with a digit",
        )
    if not spec.layers:
        raise SpecError("the model has no layers to export")
    report = analyze(spec, input_shape or spec.input_shape)
    if not report.ok:
        problem = report.errors[0]  # its message names the layer
        raise ShapeError(problem.message, hint=problem.hint, argument=problem.argument)
    exporter = _Exporter(spec, [row.input_shape for row in report.rows], name)
    body, _ = exporter.body("", exporter.items(spec.layers, 0), INPUT)
    what = spec.name or "The model"
    if report.totals.params is not None:
        what += f", {report.totals.params:,} parameters"
    if report.input_shape is not None:
        what += f" at input {fmt_shape(report.input_shape)}"
    model = BlockClass(name, f"{what}.", [body])
    classes = [*exporter.classes, model]
    for cls in classes:
        cls.finish()
    origin = f" from {os.path.basename(spec.source)}" if spec.source else ""
    header = [
        f'"""{spec.name or name}: written by convcalc {__version__}{origin}; imports only torch.',
        "",
        "Its state_dict keys and shapes are the config's, and its eval-mode output is what",
        "`convcalc run` computes with the same weights.",
        '"""',
        "",
        "import torch",
        "from torch import nn",
        "",
        "",
    ]
    if report.input_shape is not None:
        header += [f"INPUT_SHAPE = {literal(tuple(report.input_shape))}", "", ""]
    return "\n".join(header) + "\n" + "\n\n".join(cls.source() for cls in classes)
