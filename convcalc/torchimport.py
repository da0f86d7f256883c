"""``convcalc import``: a live PyTorch module, traced with torch.fx, as a config.

torch is imported only inside these functions (``convcalc shape`` never loads it). The
module is put in eval mode and traced (``torch.fx.symbolic_trace``'s tracer, recording each
node's source line); a zero input of the given shape runs through the graph once
(``ShapeProp``) so that every node's shape is known. Each node then becomes a layer:

- a module call → the module's type with its constructor arguments read from its
  attributes (every argument of the type's ``ARGS`` that differs from its default), named by
  its qualified name, so that ``run --weights`` loads the model's state_dict unchanged; a
  second call of the same module → a second layer named as torch.fx names the node
  (``relu_1``);
- a function or method call → the layer type that computes it (:mod:`.torchops`), named
  by the enclosing module and the function (``layer1.0.add``);
- size arithmetic (``x.size(0)``) feeds a ``view``/``reshape``, which becomes a Flatten when
  its output is one.

Anything else (an op no layer type computes, a parameter read directly or by two layers,
control flow torch.fx cannot trace) is a :class:`SpecError` naming the op and its source line:
never a silently different model. Modules the traced forward never calls are left out, and
listed under ``ignore_weights:`` so that ``run --weights`` skips their state_dict keys.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import SpecError
from .layers import REGISTRY
from .layers.arguments import REQUIRED, same_value
from .shape import Shape
from .torchops import OpError, op_layer

NEEDS_TORCH = "convcalc import needs torch: pip install 'convcalc[torch]'"


def load_torch() -> Any:
    """torch, or the exit-2 error that says what to install."""
    try:
        return importlib.import_module("torch")
    except ImportError:
        raise SpecError(
            NEEDS_TORCH, hint="torch (CPU) is enough; convcalc itself never needs it"
        ) from None


# ------------------------------------------------------------------ the source
def resolve_source(source: str, kwargs: str | None = None) -> Any:
    """The module ``SOURCE`` names: ``package.module:factory`` or ``path/file.py:factory``,
    called with ``kwargs`` (a JSON object) or no arguments."""
    load_torch()
    where, sep, attr = source.rpartition(":")
    if not sep or not where or not attr:
        raise SpecError(
            f"SOURCE {source!r} names no factory",
            hint="write package.module:factory (torchvision.models:resnet50) or file.py:factory",
        )
    arguments = _kwargs(kwargs)
    holder = _module_of(where)
    factory: Any = holder
    for part in attr.split("."):
        if not hasattr(factory, part):
            raise SpecError(
                f"{where} has no {attr!r}", hint="the part after ':' names a callable in it"
            )
        factory = getattr(factory, part)
    if not callable(factory):
        raise SpecError(
            f"{source} is not callable", hint="name a function or class that builds the model"
        )
    try:
        model = factory(**arguments)
    except Exception as exc:  # the user's code: its own error, one line
        raise SpecError(
            f"{source}({_shown(arguments)}) raised {type(exc).__name__}: {exc}",
            hint="check --kwargs against the factory's arguments",
        ) from None
    torch = load_torch()
    if not isinstance(model, torch.nn.Module):
        raise SpecError(
            f"{source}() returned a {type(model).__name__}, not a torch.nn.Module",
            hint="the factory must build and return the model",
        )
    return model


def _kwargs(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(f"--kwargs is not JSON: {exc}", argument="--kwargs") from None
    if not isinstance(value, dict):
        raise SpecError(
            "--kwargs must be a JSON object",
            argument="--kwargs",
            hint="e.g. --kwargs '{\"num_classes\": 10}'",
        )
    return value


def _shown(arguments: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in arguments.items())


def _module_of(where: str) -> Any:
    if where.endswith(".py") or os.sep in where or "/" in where:
        path = os.path.abspath(where)
        if not os.path.isfile(path):
            raise SpecError(f"no file {where}", hint="SOURCE is path/file.py:factory")
        name = "_convcalc_import_" + os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise SpecError(f"{where} cannot be loaded as Python")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        loader = spec.loader
        _run_user(lambda: loader.exec_module(module), where)
        return module
    try:
        return importlib.import_module(where)
    except ImportError as exc:
        raise SpecError(
            f"cannot import {where}: {exc}",
            hint="install the package, or give a path to a .py file",
        ) from None


def _run_user(fn: Any, where: str) -> None:
    try:
        fn()
    except Exception as exc:
        raise SpecError(f"{where} raised {type(exc).__name__}: {exc}") from None


# --------------------------------------------------------------------- tracing
@dataclass
class Layer:
    """One layer of the import: its name, type and arguments (non-default, in ARGS order),
    what it reads (None: the layer before), and the module that holds it ('' at the top)."""

    name: str
    type: str
    args: dict[str, Any]
    sources: tuple[str, ...] | None
    owner: str = ""
    #: the owner's class name (for blocks), '' at the top
    owner_class: str = ""
    #: its output shape in the trace
    shape: Shape | None = None


@dataclass
class Imported:
    """The traced model: its layers in order, the uncalled modules and torch's totals."""

    layers: list[Layer]
    input_shape: Shape
    output_shape: Shape
    uncalled: list[str] = field(default_factory=list)
    params: int = 0
    name: str | None = None
    #: module path → (class name, whether torch.nn defines the class)
    classes: dict[str, tuple[str, bool]] = field(default_factory=dict)


def _source_line(node: Any) -> str:
    """``file.py:12: x = torch.sin(x)``: the innermost frame of the node's stack trace that
    is the model's code (torch's own frames left out)."""
    trace = getattr(node, "stack_trace", None) or ""
    lines = [line.strip() for line in trace.strip().splitlines() if line.strip()]
    found = "source line unknown"
    for i, head in enumerate(lines):
        match = _FRAME.match(head)
        if match is None or _is_torch(match.group(1)):
            continue
        code = lines[i + 1] if i + 1 < len(lines) and not _FRAME.match(lines[i + 1]) else ""
        found = f"{os.path.basename(match.group(1))}:{match.group(2)}" + (
            f": {code}" if code else ""
        )
    return found


_FRAME = re.compile(r'^File "(.*)", line (\d+), in ')


def _is_torch(path: str) -> bool:
    """A frame of torch's own code or of convcalc's, not the model's."""
    torch_file: str | None = getattr(sys.modules.get("torch"), "__file__", None)
    own = [os.path.dirname(os.path.abspath(__file__))]
    if torch_file:
        own.append(os.path.dirname(os.path.abspath(torch_file)))
    path = os.path.abspath(path)
    return any(path.startswith(d + os.sep) for d in own)


def _trace_error(exc: BaseException) -> SpecError:
    """An fx trace that failed (control flow on a traced value, say): the op and the user's line."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not _is_torch(f.filename)]
    where = (
        f"{os.path.basename(frames[-1].filename)}:{frames[-1].lineno}: {frames[-1].line}"
        if frames
        else "source line unknown"
    )
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return SpecError(
        f"torch.fx cannot trace the model at {where}: {first}",
        hint="control flow on a tensor's values (if x.sum() > 0) has no fixed graph: "
        "make the branch depend on arguments only, or import the part that traces",
    )


def trace(model: Any, input_shape: Shape) -> Imported:
    """``model`` traced at ``input_shape``: its layers, uncalled modules and totals."""
    torch = load_torch()
    fx = importlib.import_module("torch.fx")
    shape_prop = importlib.import_module("torch.fx.passes.shape_prop")
    model.eval()
    tracer = fx.Tracer()
    tracer.record_stack_traces = True
    try:
        graph = tracer.trace(model)
    except Exception as exc:
        raise _trace_error(exc) from None
    gm = fx.GraphModule(tracer.root, graph)
    try:
        with torch.no_grad():
            shape_prop.ShapeProp(gm).propagate(torch.zeros(tuple(input_shape)))
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SpecError(
            f"the model does not run on an input of shape {tuple(input_shape)}: {first}",
            hint="give the input shape the model takes with --input",
        ) from None
    walker = _Walker(gm, model)
    for node in gm.graph.nodes:
        walker.node(node)
    uncalled = walker.uncalled()
    skipped = tuple(f"{name}." for name in uncalled)
    params = sum(int(p.numel()) for k, p in model.named_parameters() if not k.startswith(skipped))
    return Imported(
        walker.layers,
        tuple(input_shape),
        walker.output_shape,
        uncalled,
        params,
        type(model).__name__,
        {
            name: (type(m).__name__, type(m).__module__.startswith("torch.nn"))
            for name, m in model.named_modules()
        },
    )


class _Walker:
    """Maps the graph's nodes to layers, in order."""

    def __init__(self, gm: Any, model: Any) -> None:
        self.gm, self.model = gm, model
        self.layers: list[Layer] = []
        #: node → the name of the layer whose output it is ("input" for the placeholder)
        self.value: dict[Any, str] = {}
        self.names: set[str] = {"input"}
        #: the model's module names: a function's layer never takes one (nor its keys)
        self.modules: set[str] = {name for name, _ in model.named_modules()}
        self.called: dict[str, int] = {}
        #: id of a parameter → the layer that holds it
        self.owners: dict[int, str] = {}
        self.output_shape: Shape = ()

    # -- the nodes ------------------------------------------------------------------
    def node(self, node: Any) -> None:
        if node.op == "placeholder":
            if "input" in self.value.values():
                raise SpecError(
                    f"the model takes more than one input ({node.name})",
                    hint="convcalc models read one input tensor",
                )
            self.value[node] = "input"
        elif node.op == "get_attr":
            raise SpecError(
                f"the model reads {node.target!r} directly at {_source_line(node)}: a parameter "
                "or buffer used outside its module has no layer type",
                hint="use the module that owns it, or import the part of the model without it",
            )
        elif node.op == "call_module":
            self._module(node)
        elif node.op in ("call_function", "call_method"):
            self._function(node)
        elif node.op == "output":
            self._output(node)

    def _tensor_meta(self, node: Any) -> Any:
        return node.meta.get("tensor_meta") if hasattr(node, "meta") else None

    def _shape(self, node: Any) -> Shape | None:
        meta = self._tensor_meta(node)
        shape = getattr(meta, "shape", None)
        return None if shape is None else tuple(int(d) for d in shape)

    def _inputs(self, node: Any) -> list[Any]:
        """The tensor nodes a node reads, in order (size arithmetic left out)."""
        fx = importlib.import_module("torch.fx")
        found: list[Any] = []

        def seen(n: Any) -> Any:
            found.append(n)
            return n

        fx.node.map_arg((node.args, node.kwargs), seen)
        return [n for n in found if n in self.value or self._shape(n) is not None]

    def _source(self, n: Any, node: Any) -> str:
        if n not in self.value:
            raise SpecError(
                f"{_op_name(node)} at {_source_line(node)} reads {n.name}, which no layer computes",
                hint="convcalc layers read tensors computed by layers",
            )
        return self.value[n]

    def _owner(self, node: Any) -> tuple[str, str]:
        """The module whose forward made the node: (qualified name, class name)."""
        stack = node.meta.get("nn_module_stack") or {}
        if not stack:
            return "", ""
        path, cls = list(stack.values())[-1]
        name = cls.__name__ if isinstance(cls, type) else str(cls).rsplit(".", 1)[-1]
        return str(path), name

    def _unique(self, name: str) -> str:
        taken = self.names | self.modules
        if name not in taken:
            return name
        k = 1
        while f"{name}_{k}" in taken:
            k += 1
        return f"{name}_{k}"

    def _add(self, node: Any, layer: Layer, last: bool = True) -> None:
        self.names.add(layer.name)
        layer.shape = self._shape(node) if last else None
        prev = self.layers[-1].name if self.layers else "input"
        if layer.sources == (prev,):
            layer.sources = None
        self.layers.append(layer)
        self.value[node] = layer.name

    # -- module calls ------------------------------------------------------------------
    def _module(self, node: Any) -> None:
        target = str(node.target)
        module = self.gm.get_submodule(target)
        type_name = type(module).__name__
        cls = REGISTRY.get(type_name)
        if cls is None or not type(module).__module__.startswith("torch.nn"):
            raise SpecError(
                f"module {target!r} ({type(module).__module__}.{type_name}) at {_source_line(node)} "
                "has no convcalc layer type",
                hint="`convcalc layers` lists the types convcalc computes",
            )
        inputs = self._inputs(node)
        if len(inputs) != 1 or len(node.args) + len(node.kwargs) != 1:
            raise SpecError(
                f"module {target!r} ({type_name}) at {_source_line(node)} is called with "
                f"{len(node.args) + len(node.kwargs)} arguments; its layer reads one tensor"
            )
        calls = self.called.get(target, 0)
        self.called[target] = calls + 1
        name = target if calls == 0 else self._unique(f"{target}_{calls}")
        for param_name, param in module.named_parameters():
            owner = self.owners.get(id(param))
            if owner is not None:
                again = (
                    "is called again"
                    if owner == target
                    else f"uses the parameters of layer {owner!r} ({param_name})"
                )
                raise SpecError(
                    f"module {target!r} ({type_name}) at {_source_line(node)} {again}: "
                    "a parameter used by two layers has no config form",
                    hint="a config's layers each own their weights; give the second use its own module",
                )
            self.owners[id(param)] = name
        owner, owner_class = self._owner(node)
        if owner == target:  # the stack ends at the module itself
            owner = target.rpartition(".")[0]
            owner_class = _class_at(self.model, owner)
        sources = (self._source(inputs[0], node),)
        self._add(
            node, Layer(name, type_name, module_args(module, cls), sources, owner, owner_class)
        )

    # -- function and method calls ----------------------------------------------------
    def _function(self, node: Any) -> None:
        shape = self._shape(node)
        if shape is None:
            if self._tensor_meta(node) is None:  # size arithmetic (x.size(0)), read by a view
                return
            raise SpecError(
                f"{_op_name(node)} at {_source_line(node)} returns several tensors: it has no "
                "convcalc layer type",
                hint="`convcalc layers` lists the types convcalc computes",
            )
        inputs = self._inputs(node)
        in_shapes = [self._shape(n) for n in inputs]
        try:
            op = op_layer(node, in_shapes, shape)
        except OpError as exc:
            raise SpecError(
                f"{_op_name(node)} at {_source_line(node)}: {exc}",
                hint="`convcalc layers` lists the types convcalc computes; rewrite the op with one "
                "of them, or import the part of the model without it",
            ) from None
        if not op:  # a no-op (contiguous): its value is its input's
            self.value[node] = self._source(inputs[0], node)
            return
        owner, owner_class = self._owner(node)
        sources = tuple(self._source(n, node) for n in inputs)
        for k, (type_name, args, base) in enumerate(op):
            name = self._unique(f"{owner}.{base}" if owner else base)
            cls = REGISTRY[type_name]
            layer = Layer(name, type_name, _non_default(cls, args), sources, owner, owner_class)
            # the layers of one op but its last have no shape of torch's to be held to
            self._add(node, layer, last=k == len(op) - 1)
            sources = (name,)

    def _output(self, node: Any) -> None:
        result = node.args[0]
        fx = importlib.import_module("torch.fx")
        if not isinstance(result, fx.Node) or result not in self.value:
            raise SpecError(
                "the model returns several values (or no tensor a layer computes)",
                hint="convcalc models have one output: import a model that returns one tensor",
            )
        self.output_shape = self._shape(result) or ()
        name = self.value[result]
        if not self.layers or name != self.layers[-1].name:
            self._add(result, Layer(self._unique("output"), "Identity", {}, (name,)))

    # -- modules never called -----------------------------------------------------------
    def uncalled(self) -> list[str]:
        """The outermost modules with state_dict entries of which no part was called."""
        called = list(self.called)
        keys = list(self.model.state_dict())
        out: list[str] = []
        for name, _ in self.model.named_modules():
            if not name or any(name.startswith(o + ".") for o in out):
                continue
            if any(c == name or c.startswith(name + ".") for c in called):
                continue
            if any(k.startswith(name + ".") for k in keys):
                out.append(name)
        return out


def _class_at(model: Any, name: str) -> str:
    if not name:
        return ""
    return type(model.get_submodule(name)).__name__


def _op_name(node: Any) -> str:
    if node.op == "call_method":
        return f"Tensor.{node.target}"
    target = node.target
    module = getattr(target, "__module__", None) or ""
    qual = getattr(target, "__name__", str(target))
    if module in ("_operator", "operator"):
        return f"operator.{qual}"
    if module.startswith("torch._C") or module == "torch":
        return f"torch.{qual}"
    return f"{module}.{qual}" if module else qual


# ------------------------------------------------------------------ module arguments
def module_args(module: Any, cls: Any) -> dict[str, Any]:
    """A module's constructor arguments, read from its attributes, where they differ from
    the type's defaults (``bias`` is whether the module has one)."""
    values: dict[str, Any] = {}
    for arg in cls.ARGS:
        if arg.name == "bias":
            affine = getattr(module, "affine", getattr(module, "elementwise_affine", True))
            if not affine:
                continue
            value: Any = getattr(module, "bias", None) is not None
        elif hasattr(module, arg.name):
            value = _plain(getattr(module, arg.name))
        else:
            continue
        values[arg.name] = value
    return _non_default(cls, values)


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v) for v in value)
    if hasattr(value, "item") and not isinstance(value, (int, float, str, bool)):
        return value.item()
    return value


def _non_default(cls: Any, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` in ARGS order, those equal to their default left out (required ones kept)."""
    out: dict[str, Any] = {}
    for arg in cls.ARGS:
        if arg.name not in values:
            continue
        value = values[arg.name]
        if arg.default is not REQUIRED:
            converted = arg.convert(value) if value is not None else None
            if same_value(converted, arg.convert(arg.default) if arg.default is not None else None):
                continue
        out[arg.name] = value
    return out


def from_torch(module: Any, input_shape: Sequence[int], *, flat: bool = False) -> Any:
    """``module`` traced at ``input_shape``, as a :class:`~convcalc.model.Spec` (its config's
    text is :func:`import_yaml`'s)."""
    from .spec import load_spec

    return load_spec("<import>", import_yaml(module, input_shape, flat=flat))


def import_yaml(
    module: Any, input_shape: Sequence[int], *, flat: bool = False, source: str | None = None
) -> str:
    """The config's YAML text for ``module`` at ``input_shape``: checked against the trace
    (every layer's output shape and the parameter count), and with blocks only where they
    expand to exactly the flat layers."""
    from .importblocks import config_of
    from .yamlwrite import dump_config

    imported = trace(module, tuple(input_shape))
    text = dump_config(config_of(imported, flat=True, source=source))
    _check(imported, text)
    if flat:
        return text
    blocked = dump_config(config_of(imported, flat=False, source=source))
    return blocked if _expanded(blocked) == _expanded(text) else text


def _expanded(text: str) -> list[tuple[Any, ...]]:
    from .spec import load_spec

    spec = load_spec("<import>", text)
    return [(e.name, e.type, e.inputs, e.layer.args) for e in spec.layers]


def _check(imported: Imported, text: str) -> None:
    """The written config computes the traced shapes and has the called modules' parameters."""
    from .analysis import analyze
    from .errors import ConvcalcError
    from .spec import load_spec

    report = analyze(load_spec("<import>", text))
    problem = None
    if not report.ok:
        problem = report.errors[0].message if report.errors else "the config does not analyse"
    else:
        for row, layer in zip(report.rows, imported.layers):
            if layer.shape is not None and tuple(row.output_shape or ()) != layer.shape:
                problem = f"layer {row.name!r} gives {row.output_shape}, torch {layer.shape}"
                break
    if problem is not None:
        raise ConvcalcError(f"the imported config differs from the traced model: {problem}")


__all__ = [
    "NEEDS_TORCH",
    "Imported",
    "Layer",
    "from_torch",
    "import_yaml",
    "load_torch",
    "module_args",
    "resolve_source",
    "trace",
]
