"""The JSON Schema (draft 2020-12) of a config, generated from the layer registry, for editors:
with ``# yaml-language-server: $schema=./convcalc.schema.json`` as a config's first line, an
editor completes and checks layer types and their arguments as they are typed.

What it checks: the top-level keys; the mapping form of every built-in layer type fully (its
argument names and the types of their values, from each argument's form, with the common keys
``name``, ``from``, ``repeat``, ``when`` and ``trainable`` beside them); blocks, ``import``,
``limits`` and ``expect``. What it cannot: inside a constructor string (``Conv2d(3, 8, 3)``) or
a ``$expression``, and a file's own block names, so it accepts those as they are.

Only keywords that draft-07 editors read too are used (``if``/``then``/``else``, ``const``,
``enum``, ``anyOf``, ``$ref`` into ``$defs``), so an editor that knows only the older draft
checks as much. No yaml and no numpy here: the schema is plain data, turned into JSON by the
command line.
"""

from __future__ import annotations

import copy
from typing import Any

from .blocks import BLOCK_KEYS
from .graph import LAYER_KEYS
from .layers import REGISTRY, Layer
from .layers.argdocs import arg_doc
from .layers.arguments import REQUIRED, Arg, BadValue
from .pins import EXPECT_KEYS, LIMIT_KEYS
from .quantities import MOST
from .toplevel import TOP_KEYS

SCHEMA_DRAFT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "urn:convcalc:config"

Schema = dict[str, Any]

EXPRESSION: Schema = {"$ref": "#/$defs/expression"}
LAYER: Schema = {"$ref": "#/$defs/layer"}
#: a block name, as blocks.py takes one (the schema's regular expressions are an editor's)
IDENTIFIER = "^[A-Za-z_][A-Za-z0-9_]*$"


# ----------------------------------------------------------- argument forms
_ATOMS: dict[str, Schema] = {
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "bool": {"type": "boolean"},
    "None": {"type": "null"},
}
_SEPARATORS = (" | ", ", or ", " or ")


def alternatives(form: str) -> list[str]:
    """The alternatives of an argument's form, split outside parentheses:
    ``"int or (int, int) | 'same'"`` → ``["int", "(int, int)", "'same'"]``."""
    parts: list[str] = []
    depth = start = i = 0
    while i < len(form):
        if form[i] in "()":
            depth += 1 if form[i] == "(" else -1
        elif depth == 0:
            sep = next((s for s in _SEPARATORS if form.startswith(s, i)), None)
            if sep is not None:
                parts.append(form[start:i])
                i = start = i + len(sep)
                continue
        i += 1
    return [p.strip() for p in parts + [form[start:]]]


def _element(text: str) -> Schema:
    """One item of a list or tuple: ``int``, ``int or None``, ``float``; or a $expression."""
    return {"anyOf": [_atom(alt) for alt in alternatives(text)] + [EXPRESSION]}


def _atom(text: str) -> Schema:
    if text not in _ATOMS:
        raise ValueError(f"no JSON type for {text!r}")
    return _ATOMS[text]


def _accepts(arg: Arg, value: Any) -> bool:
    try:
        arg.convert(value)
    except BadValue:
        return False
    return True


def _lengths(arg: Arg, element: str, most: int) -> list[int]:
    """The lengths of list that ``arg`` takes (a list of one where torch repeats it to every
    axis, an empty one where it means the default), found by asking its converter."""
    sample = 1 if "int" in element else 1.5
    return [n for n in range(most + 2) if _accepts(arg, [sample] * n)]


def _arrays(element: Schema, lengths: list[int]) -> list[Schema]:
    """Array schemas of ``element`` for ``lengths``, one per run of consecutive lengths."""
    runs: list[list[int]] = []
    for n in lengths:
        if runs and runs[-1][-1] == n - 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    arrays = []
    for run in runs:
        array: Schema = {"type": "array", "items": element}
        if run[0] > 0:
            array["minItems"] = run[0]
        array["maxItems"] = run[-1]
        arrays.append(array)
    return arrays


def _tuple(arg: Arg, text: str) -> list[Schema]:
    """``(int, int)``: lists of 2 (and of any other length the converter takes); ``(int, ...)``:
    lists of any length."""
    items = [i.strip() for i in text[1:-1].split(",")]
    if items[-1] == "...":
        return [{"type": "array", "items": _element(items[0])}]
    if len(set(items)) != 1:
        raise ValueError(f"{arg.name}: a tuple of mixed items, {text}")
    return _arrays(_element(items[0]), _lengths(arg, items[0], len(items)))


def value_schemas(arg: Arg) -> list[Schema]:
    """The schemas of the values ``arg`` takes, read from its form (``int or (int, int)``),
    with the lists its converter takes beside, null where null means the default or "from
    the input", and a $expression wherever a value goes. A form it cannot read is a
    ValueError (a test over the registry meets every one)."""
    schemas: list[Schema] = []
    choices: list[str] = []
    has_list = False
    for alt in alternatives(arg.form):
        if alt.startswith("'") and alt.endswith("'"):
            choices.append(alt[1:-1])
        elif alt.startswith("list of "):
            schemas.append({"type": "array", "items": _element(alt.removeprefix("list of "))})
            has_list = True
        elif alt.startswith("(") and alt.endswith(")"):
            schemas += _tuple(arg, alt)
            has_list = True
        else:
            try:
                schemas.append(_atom(alt))
            except ValueError:
                raise ValueError(f"{arg.name}: no JSON type for the form {arg.form!r}") from None
    if not has_list:  # Conv1d's kernel_size takes [3] as well as 3
        schemas += _arrays(_element("int"), _lengths(arg, "int", 3))
    if choices:
        schemas.append({"enum": choices})
    if _ATOMS["None"] not in schemas and (arg.default is None or arg.infer):
        schemas.append(_ATOMS["None"])
    return schemas + [EXPRESSION]


def _json(value: Any) -> Any:
    """A default as JSON writes it: tuples become lists."""
    if isinstance(value, tuple):
        return [_json(v) for v in value]
    return value


def describe(cls: type[Layer], arg: Arg) -> str:
    """One line: what the argument does, its form and its default."""
    doc = arg_doc(cls, arg)
    if arg.default is not REQUIRED:
        when = f"default {arg.describe_default()}"
    else:
        when = "left out or null: taken from the input" if arg.infer else "required"
    return f"{doc[:1].upper()}{doc[1:]}: {arg.form}; {when}."


def argument_schema(cls: type[Layer], arg: Arg) -> Schema:
    schema: Schema = {"description": describe(cls, arg), "anyOf": value_schemas(arg)}
    if arg.default is not REQUIRED:
        schema["default"] = _json(arg.default)
    return schema


# ------------------------------------------------------------------ layers
#: the keys a layer mapping may hold besides its arguments (graph.py's LAYER_KEYS)
_LAYER_KEYS: dict[str, Schema] = {
    "type": {
        "description": "A torch.nn layer type, or a block's name (from blocks: or an import).",
        "anyOf": [
            {"enum": sorted(REGISTRY)},
            {"type": "string"},
        ],
    },
    "name": {
        "description": "The layer's name (default: its index, as nn.Sequential names it); "
        "unique; with repeat:, {i} or {i+1} numbers the copies.",
        "type": ["string", "integer"],
    },
    "from": {
        "description": "The output this layer reads (default: the previous layer's; "
        "input is the model input), or a list of them for Add, Mul and Concat.",
        "anyOf": [
            {"type": "string"},
            {"type": "array", "items": {"type": "string"}, "minItems": 1},
        ],
    },
    "repeat": {
        "description": "Stack this many copies, each reading the one before (names name.0, "
        "name.1, …); default 1.",
        "anyOf": [{"type": "integer", "minimum": 1}, EXPRESSION],
        "default": 1,
    },
    "when": {
        "description": "false leaves the layer out: its name then stands for what it reads "
        "(in a block, when: $flag); default true.",
        "anyOf": [{"type": "boolean"}, EXPRESSION],
        "default": True,
    },
    "trainable": {
        "description": "false counts the layer's parameters as frozen; default true.",
        "anyOf": [{"type": "boolean"}, EXPRESSION],
        "default": True,
    },
}


def _key_defs() -> dict[str, Schema]:
    """Each key of LAYER_KEYS as a definition of its own (a new key without one is a KeyError)."""
    return {f"key.{key}": _LAYER_KEYS[key] for key in LAYER_KEYS}


def type_schema(cls: type[Layer]) -> Schema:
    """The mapping form of one layer type: its arguments beside the common keys, nothing else."""
    properties: dict[str, Schema] = {
        "type": {"const": cls.type_name, "description": f"{cls.type_name}: {cls.summary}."}
    }
    properties.update({key: {"$ref": f"#/$defs/key.{key}"} for key in LAYER_KEYS if key != "type"})
    for arg in cls.ARGS:
        properties[arg.name] = argument_schema(cls, arg)
    for name in cls.IGNORED:
        properties[name] = {
            "description": "Accepted and ignored: it changes nothing convcalc reports."
        }
    required = [a.name for a in cls.ARGS if a.default is REQUIRED and not a.infer]
    return {
        "title": cls.type_name,
        "description": cls.summary,
        "type": "object",
        "properties": properties,
        "required": ["type", *required],
        "additionalProperties": cls.accepts_anything,
    }


def _layer_defs() -> dict[str, Schema]:
    types = sorted(REGISTRY)
    return {
        "expression": {
            "description": "A $parameter expression of a block ($k, $k // 2), read when the "
            "block is used.",
            "type": "string",
            "pattern": r"\$[A-Za-z_]",
        },
        "layer": {
            "description": "A layer: a constructor call (Conv2d(3, 8, 3)), a bare type name "
            "(ReLU), name: Call(...), or a mapping with type: and the arguments by name.",
            "type": ["string", "object"],
            "if": {"type": "object", "required": ["type"]},
            "then": {"$ref": "#/$defs/layerMapping"},
            "else": {"$ref": "#/$defs/namedCall"},
        },
        "namedCall": {
            "description": "name: Call(...), a named constructor call.",
            "if": {"minProperties": 2},
            "then": {"required": ["type"]},
            "else": {
                "minProperties": 1,
                "additionalProperties": {
                    "type": "string",
                    "description": "A constructor call, Conv2d(3, 8, 3), or a type name.",
                },
            },
        },
        "layerMapping": {
            "description": "A layer written as a mapping: type, the arguments by name, and the "
            "keys name, from, repeat, when, trainable. A block's use passes its params.",
            "type": "object",
            "required": ["type"],
            "properties": {key: {"$ref": f"#/$defs/key.{key}"} for key in LAYER_KEYS},
            "allOf": [
                {
                    "if": {"properties": {"type": {"const": name}}, "required": ["type"]},
                    "then": {"$ref": f"#/$defs/type.{name}"},
                }
                for name in types
            ],
        },
        **_key_defs(),
        **{f"type.{name}": type_schema(REGISTRY[name]) for name in types},
    }


# -------------------------------------------------------------- the config
#: a number as quantities.py reads one (3, 1.5, .5, 2e9), in either case
_NUMBER = r"([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][0-9]+)?"
#: a count of limits: 5M, 1.2G, 25.6k (k, M, G, T: powers of 1,000)
COUNT_PATTERN = r"^\s*" + _NUMBER + r"\s*[kKmMgGtT]?\s*$"
#: a size of limits.peak_memory: 200MiB, 1.5GiB, 512K (powers of 1,024)
SIZE_PATTERN = r"^\s*" + _NUMBER + r"\s*[kKmMgGtT]?([iI]?[bB])?\s*$"
#: an input shape written as text: 1,3,224,224 or 1x3x224x224
SHAPE_PATTERN = r"^\s*[\[(]?\s*[0-9]+(\s*[,x×]\s*[0-9]+|\s+[0-9]+)*\s*,?\s*[\])]?\s*$"


def _quantity(description: str, pattern: str) -> Schema:
    """A budget: a number (up to 10^18, as quantities.py takes) or a text with a unit."""
    return {
        "description": description,
        "anyOf": [
            {"type": "number", "minimum": 0, "maximum": MOST},
            {"type": "string", "pattern": pattern},
        ],
    }


#: the budgets of ``limits:`` (pins.py's LIMIT_KEYS)
_LIMITS = {
    "params": _quantity("The most parameters: a count, or 5M, 1.2G, 25.6k.", COUNT_PATTERN),
    "trainable_params": _quantity(
        "The most trainable parameters: a count, or 5M, 1.2G, 25.6k.", COUNT_PATTERN
    ),
    "macs": _quantity("The most multiply-accumulates: a count, or 5M, 1.2G, 25.6k.", COUNT_PATTERN),
    "peak_memory": _quantity(
        "The most activation memory at once, for the --dtype checked: bytes, or 200MiB, "
        "1.5GiB, 512KiB.",
        SIZE_PATTERN,
    ),
}
#: the figures of ``expect:`` (pins.py's EXPECT_KEYS)
_EXPECT = {
    "output_shape": {
        "description": "The model's output shape, pinned.",
        "type": "array",
        "items": {"type": "integer", "minimum": 0},
    },
    "params": {"description": "The parameter count, pinned.", "type": "integer", "minimum": 0},
    "trainable_params": {
        "description": "The trainable parameter count, pinned.",
        "type": "integer",
        "minimum": 0,
    },
    "macs": {"description": "The multiply-accumulates, pinned.", "type": "integer", "minimum": 0},
}


def _block_defs() -> dict[str, Schema]:
    assert set(BLOCK_KEYS) == {"params", "layers"}, BLOCK_KEYS
    layers: Schema = {
        "description": "The block's layers; $name fills in a parameter.",
        "type": "array",
        "items": LAYER,
        "minItems": 1,
    }
    return {
        "block": {
            "description": "A block: params and layers (or just the list of layers).",
            "type": ["object", "array"],
            "items": LAYER,
            "minItems": 1,
            "properties": {
                "params": {
                    "description": "Parameter names and their defaults (null: required), or a "
                    "list of names; the layers read them as $name.",
                    "type": ["object", "array", "null"],
                    "propertyNames": {"pattern": IDENTIFIER},
                    "items": {"type": "string", "pattern": IDENTIFIER},
                },
                "layers": layers,
            },
            "required": ["layers"],
            "additionalProperties": False,
        }
    }


def _top_level() -> dict[str, Schema]:
    """The keys of a config, in toplevel.py's order (a new key without a schema is a KeyError)."""
    keys: dict[str, Schema] = {
        "name": {
            "description": "The model's name (optional).",
            "type": ["string", "integer", "null"],
        },
        "input": {
            "description": "The full input shape with the batch: (N, C, L) 1d, (N, C, H, W) 2d, "
            "(N, C, D, H, W) 3d; --input overrides it.",
            "anyOf": [
                {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 1},
                {"type": "integer", "minimum": 1},
                {"type": "string", "pattern": SHAPE_PATTERN},
                {"type": "null"},
            ],
        },
        "layers": {
            "description": "The layers, in order: each reads the previous one unless from: says.",
            "type": ["array", "null"],
            "items": LAYER,
        },
        "blocks": {
            "description": "Reusable blocks by name, used like a layer type.",
            "type": ["object", "null"],
            "propertyNames": {"pattern": IDENTIFIER, "not": {"enum": sorted(REGISTRY)}},
            "additionalProperties": {"$ref": "#/$defs/block"},
        },
        "import": {
            "description": "Files whose blocks this one uses (blocks.yaml is the built-in library).",
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "string"}},
                {"type": "null"},
            ],
        },
        "limits": {
            "description": "Budgets `convcalc check` holds the model to (a flag overrides one).",
            "type": ["object", "null"],
            "properties": {key: _LIMITS[key] for key in LIMIT_KEYS},
            "additionalProperties": False,
        },
        "expect": {
            "description": "Pinned figures: `convcalc check` fails when the model no longer has "
            "them (--update-expect rewrites them).",
            "type": ["object", "null"],
            "properties": {key: _EXPECT[key] for key in EXPECT_KEYS},
            "additionalProperties": False,
        },
    }
    return {key: keys[key] for key in TOP_KEYS}


def config_schema() -> Schema:
    """The JSON Schema of a config: a mapping of the top-level keys, or a bare list of layers
    (a fresh copy: parts that recur, such as the $expression, are shared while it is built)."""
    schema = {
        "$schema": SCHEMA_DRAFT,
        "$id": SCHEMA_ID,
        "title": "convcalc config",
        "description": "A network for convcalc: its layers with PyTorch's names, arguments and "
        "defaults (convcalc layers lists them), blocks, imports, limits and pinned figures.",
        "type": ["object", "array"],
        "items": LAYER,
        "properties": _top_level(),
        "additionalProperties": False,
        "$defs": {**_layer_defs(), **_block_defs()},
    }
    return copy.deepcopy(schema)


__all__ = ["SCHEMA_DRAFT", "SCHEMA_ID", "config_schema", "value_schemas"]
