"""Reading the text PyTorch prints for a module (``print(model)``) as a config.

A printout of an ``nn.Sequential`` (also ``nn.ModuleList`` and ``nn.ModuleDict``,
nested in any way) is a chain of layers whose names are the dotted module paths
(``features.0``, ``classifier.6``) -- the model's ``state_dict`` keys. It becomes the
same config data as a YAML file's ``layers:`` list (``{name: "Conv2d(...)"}``
entries), so the rest of the pipeline does not know where it came from.

The printout is not Python: strings are printed without quotes (``padding=same``),
some arguments are never printed (AvgPool's ``ceil_mode``), and a ModuleList prints
a run of identical children once (``(0-2): 3 x ReLU()``). Constructor calls are read
with :mod:`ast` after quoting bare words; nothing is evaluated. The printout of any
other module (torchvision's ``VGG``, a user's ``Net``) does not show what its
``forward`` does between its children, so it is refused rather than guessed.
"""

from __future__ import annotations

import ast
import math
import os
import re
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import SpecError, clip
from .expr import MAX_INT_BITS
from .graph import MAX_LAYERS, build
from .layers.base import REGISTRY
from .model import Call, Places, Spec

#: modules whose forward runs their children in order (ModuleList and ModuleDict have no
#: forward; a loop over them in the model's forward runs them in order)
CONTAINERS = ("Sequential", "ModuleList", "ModuleDict")
#: nn.Sequential subclasses that keep nn.Sequential's forward (their children run in order)
#: but print their own class name, by name, with the module that defines them. These are
#: every such class in torchvision 0.29 (``issubclass(c, nn.Sequential) and c.forward is
#: nn.Sequential.forward``); a class of the same name with a forward of its own would be
#: misread, so each use gets a note. Any other name stays an error.
SEQUENTIAL_SUBCLASSES: dict[str, str] = {
    "ConvNormActivation": "torchvision.ops.misc",
    "Conv2dNormActivation": "torchvision.ops.misc",
    "Conv3dNormActivation": "torchvision.ops.misc",
    "MLP": "torchvision.ops.misc",
    "MLPBlock": "torchvision.models.vision_transformer",
    "_Transition": "torchvision.models.densenet",
    "AnyStage": "torchvision.models.regnet",
    "BottleneckTransform": "torchvision.models.regnet",
    "SimpleStemIN": "torchvision.models.regnet",
    "BasicStem": "torchvision.models.video.resnet",
    "Conv2Plus1D": "torchvision.models.video.resnet",
    "R2Plus1dStem": "torchvision.models.video.resnet",
    "TemporalSeparableConv": "torchvision.models.video.s3d",
    "ASPPConv": "torchvision.models.segmentation.deeplabv3",
    "DeepLabHead": "torchvision.models.segmentation.deeplabv3",
    "FCNHead": "torchvision.models.segmentation.fcn",
    "FastRCNNConvFCHead": "torchvision.models.detection.faster_rcnn",
    "KeypointRCNNHeads": "torchvision.models.detection.keypoint_rcnn",
    "MaskRCNNHeads": "torchvision.models.detection.mask_rcnn",
    "MaskRCNNPredictor": "torchvision.models.detection.mask_rcnn",
}
_NESTING = frozenset((*CONTAINERS, *SEQUENTIAL_SUBCLASSES))
#: those whose children torchvision always numbers 0, 1, ... (``Sequential(*layers)``): a
#: printout of the name with named children (a user's ``MLP`` with ``fc1``) is another class
_NUMBERED = frozenset(
    ("ConvNormActivation", "Conv2dNormActivation", "Conv3dNormActivation", "MLP", "MLPBlock")
)

#: torchvision modules with a forward of their own: what it does that the printout does not
#: show, and the built-in model that writes that wiring out (``convcalc zoo NAME``)
TORCHVISION_BLOCKS: dict[str, tuple[str, str]] = {
    "BasicBlock": ("adds its input to its output", "resnet18"),
    "Bottleneck": ("adds its input to its output", "resnet50"),
    "InvertedResidual": (
        "adds its input to its output in MobileNet, and shuffles channels in ShuffleNet",
        "mobilenet_v2",
    ),
    "_DenseBlock": ("concatenates every layer's output with its input", "densenet121"),
    "_DenseLayer": ("concatenates its input before each layer", "densenet121"),
    "Fire": ("concatenates two branches", "squeezenet1_0"),
    "SqueezeExcitation": ("scales its input by a pooled branch", "efficientnet_b0"),
    "MBConv": ("adds its input to its output", "efficientnet_b0"),
    "BasicConv2d": ("applies a relu that is not one of its children", "googlenet"),
    "Inception": ("concatenates four branches", "googlenet"),
    "VGG": ("flattens between avgpool and classifier", "vgg16"),
    "AlexNet": ("flattens between avgpool and classifier", "alexnet"),
    "ResNet": ("flattens between avgpool and fc", "resnet50"),
    "DenseNet": ("applies relu and pooling after features", "densenet121"),
    "MobileNetV2": ("pools and flattens after features", "mobilenet_v2"),
    "MobileNetV3": ("flattens between avgpool and classifier", "mobilenet_v3_large"),
    "EfficientNet": ("flattens between avgpool and classifier", "efficientnet_b0"),
    "SqueezeNet": ("flattens after classifier", "squeezenet1_0"),
    "GoogLeNet": ("flattens between avgpool and dropout", "googlenet"),
}
#: containers nested deeper than this are refused (torch's own repr recurses too)
MAX_NESTING = 100

#: arguments torch never prints, with torch's defaults: a non-default value would not show
UNPRINTED: dict[str, dict[str, Any]] = {
    "AvgPool1d": {"ceil_mode": False, "count_include_pad": True},
    **{
        f"AvgPool{n}d": {"ceil_mode": False, "count_include_pad": True, "divisor_override": None}
        for n in (2, 3)
    },
    **{f"MaxPool{n}d": {"return_indices": False} for n in (1, 2, 3)},
    **{f"AdaptiveMaxPool{n}d": {"return_indices": False} for n in (1, 2, 3)},
    "PReLU": {"init": 0.25},
    "Upsample": {"align_corners": None, "recompute_scale_factor": None},
}

#: arguments torch prints that the constructor does not take (the class fixes them)
PRINTED_ONLY: dict[str, dict[str, Any]] = {
    "UpsamplingBilinear2d": {"mode": "bilinear"},
    "UpsamplingNearest2d": {"mode": "nearest"},
}

_CALL_START = re.compile(r"([A-Za-z_]\w*)\(")
_CHILD = re.compile(r"\((?P<key>[^()]+)\): (?P<rest>\S.*)")
_RANGE = re.compile(r"(\d+)-(\d+)")
_TIMES = re.compile(r"(\d+) x (\S.*)")
_TOKEN = re.compile(
    r"""(?P<space>\s+)
    |(?P<string>'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
    |(?P<number>(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][-+]?\d+)?)
    |(?P<name>[^\W\d]\w*)
    |(?P<open>[(\[{])
    |(?P<close>[)\]}])
    |(?P<other>.)""",
    re.X | re.S,
)
_KEEP_WORDS = frozenset({"True", "False", "None"})
_WHAT_TO_DO = (
    "write its wiring in YAML with from: and blocks:, or print its nn.Sequential parts "
    "(print(model.features)) and pass each with --input"
)


def is_printout(text: str) -> bool:
    """True when ``text`` starts (after blank lines) like a module's printout: ``Name(``.

    No config starts that way: a YAML document that does is a scalar or an unknown key.
    """
    return _CALL_START.match(text.lstrip("\ufeff \t\r\n")) is not None


@dataclass
class _Node:
    type_name: str
    line: int
    #: a leaf: the constructor call, as (positional, keywords)
    call: tuple[tuple[Any, ...], dict[str, Any]] | None = None
    #: a container: (key, child, copies) with the line of each child
    children: list[tuple[str, _Node, int]] = field(default_factory=list)
    #: how many layers the node expands to
    size: int = 0


@dataclass
class Printout:
    """A printout read as config data: ``{name: call}`` entries, their lines, and notes."""

    #: each call's text, with its arguments already read (see :class:`Call`)
    layers: list[dict[str, Call]]
    lines: list[int]
    notes: list[str]
    #: the model's name: the file's, without its extension (none for standard input)
    name: str | None = None


class _Reader:
    def __init__(self, text: str, source: str) -> None:
        self.lines = [line.rstrip("\r") for line in text.split("\n")]
        self.source = source
        self.i = 0

    def error(self, line: int, message: str, hint: str | None = None) -> SpecError:
        return SpecError(message, location=f"{self.source}:{line}", hint=hint)

    def read(self) -> _Node:
        while self.i < len(self.lines) and not self.lines[self.i].strip():
            self.i += 1
        if self.i == len(self.lines):
            raise SpecError("the printout is empty", location=self.source)
        first = self.lines[self.i].strip().lstrip("\ufeff")
        self.i += 1
        node = self.module(first, self.i, "", 0)
        for n in range(self.i, len(self.lines)):
            if self.lines[n].strip():
                raise self.error(
                    n + 1,
                    f"unexpected text after the printout's last ')': {_clip(self.lines[n])}",
                    hint="give one print(model) per file",
                )
        return node

    def module(self, text: str, line: int, path: str, depth: int) -> _Node:
        """One module, starting with ``text`` on ``line``; its further lines follow."""
        match = _CALL_START.match(text)
        if not match:
            raise self.error(
                line,
                f"expected a module such as Conv2d(...), found {_clip(text)}",
                hint="paste the text print(model) writes, unchanged",
            )
        type_name = match.group(1)
        where = f"'{path}' ({type_name})" if path else type_name
        if text != match.group(0):  # one line: a layer, or an empty container
            node = _Node(type_name, line)
            if type_name in _NESTING:
                if text[match.end() :].strip() != ")":
                    raise self.error(line, f"cannot read {_clip(text)}: expected {type_name}()")
                return node
            node.call = self.call(text, line)
            node.size = 1
            return node
        if type_name in REGISTRY:
            raise self.error(
                line,
                f"cannot read {where} over several lines: torch prints a layer on one line",
                hint="paste the text print(model) writes, unchanged",
            )
        if type_name not in _NESTING or (
            type_name in _NUMBERED and not all(k.isdigit() for k, _ in self.children_ahead())
        ):
            raise self.error(line, *_own_forward(where, type_name, self.sequential_parts(path)))
        if depth >= MAX_NESTING:
            raise self.error(line, f"containers are nested more than {MAX_NESTING} deep")
        node = _Node(type_name, line)
        while True:
            if self.i >= len(self.lines):
                raise self.error(
                    line,
                    f"{where} is never closed: the printout is cut short",
                    hint="paste the whole printout, down to its last ')'",
                )
            raw = self.lines[self.i].strip()
            self.i += 1
            if not raw:
                continue
            if raw == ")":
                return node
            child = _CHILD.fullmatch(raw)
            if not child:
                raise self.error(
                    self.i,
                    f"cannot read {_clip(raw)} in {where}: expected '(name): Module(...)' or ')'",
                    hint="paste the text print(model) writes, unchanged",
                )
            self.child(node, child.group("key"), child.group("rest"), path, depth)

    def children_ahead(self) -> list[tuple[str, str]]:
        """``(key, rest)`` of each child of the module whose first line was just read, looked
        up ahead (torch indents each level by two spaces), for a check or a hint."""
        indent = len(self.lines[self.i - 1]) - len(self.lines[self.i - 1].lstrip())
        children = []
        for raw in self.lines[self.i :]:
            depth = len(raw) - len(raw.lstrip())
            if raw.strip() and depth <= indent:
                break
            child = _CHILD.fullmatch(raw.strip())
            if child and depth == indent + 2:
                children.append((child.group("key"), child.group("rest")))
        return children

    def sequential_parts(self, path: str) -> list[str]:
        """The names of the containers among the children of the module just read."""
        parts = []
        for key, rest in self.children_ahead():
            call = _CALL_START.match(rest)
            if call and call.group(1) in _NESTING and rest == call.group():
                parts.append(f"{path}.{key}" if path else key)
        return parts

    def child(self, node: _Node, key: str, rest: str, path: str, depth: int) -> None:
        line = self.i
        copies = 1
        span = _RANGE.fullmatch(key)
        times = _TIMES.fullmatch(rest)
        if span and times:  # ModuleList's (0-2): 3 x Module(...)
            if max(len(span.group(1)), len(span.group(2)), len(times.group(1))) > len(
                str(MAX_LAYERS)
            ):
                raise self.error(
                    line,
                    f"({_clip(key, 30)[1:-1]}) repeats a module more than {MAX_LAYERS:,} times",
                )
            start, end, copies = int(span.group(1)), int(span.group(2)), int(times.group(1))
            if end - start + 1 != copies or copies < 2:
                raise self.error(
                    line,
                    f"({key}): {copies} x ...: the range holds {end - start + 1} modules, not {copies}",
                )
            if copies > MAX_LAYERS:
                raise self.error(line, f"({key}) repeats a module more than {MAX_LAYERS:,} times")
            rest = times.group(2)
            key = str(start)
        elif "." in key or not key.strip():
            raise self.error(line, f"({key}): a module name cannot be empty or contain '.'")
        name = f"{path}.{key}" if path else key
        sub = self.module(rest, line, name, depth + 1)
        node.size += sub.size * copies
        if node.size > MAX_LAYERS:
            raise self.error(line, f"the printout expands to more than {MAX_LAYERS:,} layers")
        node.children.append((key, sub, copies))

    def call(self, text: str, line: int) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """``Conv2d(3, 16, kernel_size=(3, 3), padding=same)`` → positional and keywords."""
        quoted = _quote_words(text)
        if quoted is None:
            raise self.error(
                line,
                f"cannot read {_clip(text)}: its parentheses do not balance",
                hint="paste the whole printout, unchanged",
            )
        bad = self.error(
            line,
            f"cannot read {_clip(text)}: arguments must be numbers, words, tuples and lists",
            hint="paste the text print(model) writes, unchanged",
        )
        try:
            node = ast.parse(quoted, mode="eval").body
            if (
                not isinstance(node, ast.Call)
                or any(isinstance(a, ast.Starred) for a in node.args)
                or any(k.arg is None for k in node.keywords)
            ):
                raise bad
            positional = tuple(_plain(ast.literal_eval(a)) for a in node.args)
            keywords = {k.arg: _plain(ast.literal_eval(k.value)) for k in node.keywords if k.arg}
        except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
            raise bad from None
        if any(_huge(v) for v in (*positional, *keywords.values())):
            raise self.error(
                line,
                f"cannot read {_clip(text)}: a number beyond 2**{MAX_INT_BITS}",
                hint="sizes are 64-bit integers in torch",
            )
        return positional, keywords


def _clip(text: str, width: int = 60) -> str:
    """A line of the printout, as errors.clip shows it, without its indentation."""
    return clip(text.strip(), width)


def _quote_words(text: str) -> str | None:
    """The call with its bare words quoted (``padding=same`` → ``padding='same'``), or None
    when its parentheses do not close exactly at its end."""
    out: list[str] = []
    depth = 0
    closed = False
    tokens = [(m.lastgroup, m.group()) for m in _TOKEN.finditer(text) if m.lastgroup != "space"]
    for n, (kind, value) in enumerate(tokens):
        if closed:
            return None
        if kind == "open":
            depth += 1
        elif kind == "close":
            depth -= 1
            closed = depth == 0
        elif kind == "name" and n > 0 and value not in _KEEP_WORDS:
            after = tokens[n + 1][1] if n + 1 < len(tokens) else ""
            if not (after == "=" and depth == 1):
                value = "1e999" if value == "inf" else repr(value)
        out.append(value)
    return " ".join(out) if closed else None


def _plain(value: Any) -> Any:
    """A literal of the forms a printout holds: numbers, strings, None, tuples and lists."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tuple, list)):
        return type(value)(_plain(v) for v in value)
    raise ValueError(value)


def _huge(value: Any) -> bool:
    """An integer of more than MAX_INT_BITS bits, or a tuple or list that holds one."""
    if isinstance(value, (tuple, list)):
        return any(_huge(v) for v in value)
    return type(value) is int and value.bit_length() > MAX_INT_BITS


def _literal(value: Any) -> str:
    """``value`` written back as the literal a constructor-call string takes."""
    if isinstance(value, float):
        if math.isinf(value):
            return "1e999" if value > 0 else "-1e999"
        return repr(value)
    if isinstance(value, tuple):
        inner = ", ".join(_literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return repr(value)


def _call(type_name: str, positional: tuple[Any, ...], keywords: dict[str, Any]) -> Call:
    """The constructor call convcalc reads, with its text: a Lazy module's placeholder 0
    dropped, the arguments torch does not print added with torch's defaults."""
    keywords = dict(keywords)
    if type_name.startswith("Lazy") and type_name[4:] in REGISTRY:
        inferred = REGISTRY[type_name[4:]].ARGS[0].name  # in_channels, in_features, ...
        if positional[:1] == (0,):
            positional = positional[1:]
        if keywords.get(inferred) == 0:
            keywords = {k: v for k, v in keywords.items() if k != inferred}
    for key, fixed in PRINTED_ONLY.get(type_name, {}).items():
        if keywords.get(key) == fixed:
            keywords = {k: v for k, v in keywords.items() if k != key}
    for key, default in UNPRINTED.get(type_name, {}).items():
        keywords.setdefault(key, default)
    args = [_literal(v) for v in positional] + [f"{k}={_literal(v)}" for k, v in keywords.items()]
    return Call(f"{type_name}({', '.join(args)})", type_name, positional, keywords)


def read_printout(text: str, source: str = "<printout>") -> Printout:
    """A printout as config data (raises :class:`SpecError`, citing ``source:line``)."""
    reader = _Reader(text, source)
    try:
        root = reader.read()
    except RecursionError:
        raise SpecError(
            f"containers are nested more than {MAX_NESTING} deep", location=source
        ) from None
    layers: list[dict[str, Call]] = []
    lines: list[int] = []
    unprinted: dict[str, list[str]] = {}
    loops: list[str] = []
    subclasses: dict[str, list[str]] = {}

    def walk(node: _Node, name: str) -> None:
        if node.call is not None:
            call = _call(node.type_name, *node.call)
            layers.append({name or "0": call})
            lines.append(node.line)
            if node.type_name in UNPRINTED:
                unprinted.setdefault(node.type_name, []).append(name or "0")
            return
        if node.type_name in SEQUENTIAL_SUBCLASSES:
            subclasses.setdefault(node.type_name, []).append(name)
        elif node.type_name != "Sequential" and node.children:
            loops.append(f"'{name}' ({node.type_name})" if name else node.type_name)
        for key, child, copies in node.children:
            if not child.size:  # an empty container: nothing to run, however often
                continue
            for r in range(copies):
                index = str(int(key) + r) if copies > 1 else key
                walk(child, f"{name}.{index}" if name else index)

    walk(root, "")
    if not layers:
        raise SpecError(
            "the printout has no layers",
            location=f"{source}:{root.line}",
            hint="print a model that holds layers",
        )
    notes = [_unprinted_note(t, names) for t, names in unprinted.items()]
    notes += [_subclass_note(t, names) for t, names in subclasses.items()]
    if loops:
        notes.append(
            f"{_some(loops)}: a ModuleList or ModuleDict has no forward of its own; its "
            "children are read as a chain in order, as `for m in ...: x = m(x)` runs them"
        )
    stem = os.path.splitext(os.path.basename(source))[0]
    name = stem if stem and not source.startswith("<") else None
    return Printout(layers, lines, notes, name)


def _some(names: list[str], shown: int = 3) -> str:
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {more} more" if more > 0 else "")


def _own_forward(where: str, type_name: str, parts: list[str]) -> tuple[str, str]:
    """The error (message, hint) for a module with a forward of its own, which is never
    guessed; ``parts`` are the containers among its children, which can be pasted."""
    message = (
        f"{where} is not an nn.Sequential, nn.ModuleList or nn.ModuleDict: its "
        "printout does not show what its forward does between its children"
    )
    hint = _WHAT_TO_DO
    if parts:
        hint = (
            f"print its nn.Sequential parts ({_some([repr(p) for p in parts])}) and pass each "
            "with --input, or write its wiring in YAML with from: and blocks:"
        )
    if type_name in TORCHVISION_BLOCKS:
        does, model = TORCHVISION_BLOCKS[type_name]
        message += f"; torchvision's {type_name} {does}"
        hint += f"; `convcalc zoo {model}` writes a built-in model with that wiring to start from"
    return message, hint


def _subclass_note(type_name: str, names: list[str]) -> str:
    where = SEQUENTIAL_SUBCLASSES[type_name]
    return (
        f"{type_name} {_some([repr(n) if n else '(the whole printout)' for n in names])}: "
        f"read as an nn.Sequential, as {where}.{type_name} is (its forward runs its children "
        "in order)"
    )


def _unprinted_note(type_name: str, names: list[str]) -> str:
    defaults = UNPRINTED[type_name]
    args = ", ".join(f"{k}={v!r}" for k, v in defaults.items())
    return (
        f"{type_name} {_some([repr(n) for n in names])}: print(model) never shows "
        f"{', '.join(defaults)}; read as torch's defaults {args} "
        "(a non-default value would not have shown)"
    )


def spec_from_printout(text: str, source: str = "<printout>") -> Spec:
    """A printout as a :class:`Spec`: each layer named by its module path, located at its line."""
    printout = read_printout(text, source)
    names = [next(iter(entry)) for entry in printout.layers]
    try:
        spec = build(
            printout.layers,
            at=Places(source),
            item_lines=printout.lines,
            name=printout.name,
            source=source,
        )
    except SpecError as exc:
        for problem in (exc, *exc.others):
            problem.location = _named(problem.location, names)
        raise
    layers = tuple(replace(layer, yaml_path=layer.name) for layer in spec.layers)
    return replace(spec, layers=layers, warnings=spec.warnings + tuple(printout.notes))


def _named(location: str | None, names: list[str]) -> str | None:
    """``model.txt:7, layers[3].kernel_size`` → ``model.txt:7, features.3.kernel_size``."""
    match = re.fullmatch(r"(.*?)layers\[(\d+)\](.*)", location or "", re.S)
    if not match or int(match.group(2)) >= len(names):
        return location
    return f"{match.group(1)}{names[int(match.group(2))]}{match.group(3)}"


__all__ = [
    "CONTAINERS",
    "SEQUENTIAL_SUBCLASSES",
    "TORCHVISION_BLOCKS",
    "UNPRINTED",
    "Printout",
    "is_printout",
    "read_printout",
    "spec_from_printout",
]
