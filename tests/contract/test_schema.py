"""`convcalc schema`: the config's JSON Schema, checked with the jsonschema package against every
example and zoo file, against the reader itself value by value, and for the mistakes an editor
should mark."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from clirun import run
from jsonschema import Draft202012Validator

from convcalc import spec_from_data
from convcalc.errors import SpecError
from convcalc.graph import LAYER_KEYS
from convcalc.layers import REGISTRY
from convcalc.layers.arguments import REQUIRED
from convcalc.schema import SCHEMA_DRAFT, config_schema
from convcalc.toplevel import TOP_KEYS

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "convcalc" / "models"
CONFIGS = sorted((ROOT / "examples").glob("*.yaml")) + sorted((MODELS / "zoo").glob("*.yaml"))
SCHEMA = config_schema()
VALIDATOR = Draft202012Validator(SCHEMA)
#: the same definitions, validating one layer entry
LAYER = Draft202012Validator({"$defs": SCHEMA["$defs"], "$ref": "#/$defs/layer"})


def errors(data):
    """(path, message) of every error the schema finds in ``data``."""
    return sorted((list(e.absolute_path), e.message) for e in VALIDATOR.iter_errors(data))


def test_the_schema_is_a_valid_2020_12_schema():
    Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == SCHEMA_DRAFT == "https://json-schema.org/draft/2020-12/schema"
    assert SCHEMA["$id"] == "urn:convcalc:config"
    assert SCHEMA["title"] == "convcalc config"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_example_and_zoo_config_is_valid(path):
    data = yaml.safe_load(path.read_text())
    assert errors(data) == []
    assert data["layers"]


def test_the_block_library_holds_blocks_only_and_is_valid():
    """blocks.yaml is no model (it has no layers: `shape` refuses it) but a file to import; the
    schema takes it, since a file of blocks is written with it too."""
    data = yaml.safe_load((MODELS / "blocks.yaml").read_text())
    assert "layers" not in data and len(data["blocks"]) == 9
    assert errors(data) == []
    with pytest.raises(SpecError, match="no layers"):
        spec_from_data(data)


# ------------------------------------------------------------- what it rejects
def conv(**arguments):
    return {"layers": [{"type": "Conv2d", "out_channels": 8, "kernel_size": 3, **arguments}]}


def test_a_misspelt_argument_is_rejected():
    data = conv()
    del data["layers"][0]["kernel_size"]
    data["layers"][0]["kernal_size"] = 3
    assert errors(data) == [
        (["layers", 0], "'kernel_size' is a required property"),
        (["layers", 0], "Additional properties are not allowed ('kernal_size' was unexpected)"),
    ]


def test_a_value_of_the_wrong_type_is_rejected():
    assert errors(conv(kernel_size="three")) == [
        (["layers", 0, "kernel_size"], "'three' is not valid under any of the given schemas")
    ]
    assert errors(conv(bias="no")) == [
        (["layers", 0, "bias"], "'no' is not valid under any of the given schemas")
    ]
    assert [path for path, _ in errors(conv(padding_mode="zero"))] == [
        ["layers", 0, "padding_mode"]
    ]


def test_a_misspelt_top_level_key_is_rejected():
    assert errors({"layes": ["ReLU"]}) == [
        ([], "Additional properties are not allowed ('layes' was unexpected)")
    ]


def test_expect_wants_integers():
    assert errors({"layers": ["ReLU"], "expect": {"params": "5M"}}) == [
        (["expect", "params"], "'5M' is not of type 'integer'")
    ]
    assert errors({"layers": ["ReLU"], "expect": {"output_shape": [1, "10"]}}) == [
        (["expect", "output_shape", 1], "'10' is not of type 'integer'")
    ]
    assert [p for p, _ in errors({"layers": ["ReLU"], "expect": {"param": 1}})] == [["expect"]]


def test_limits_reject_what_is_no_count_or_size():
    found = errors({"layers": ["ReLU"], "limits": {"params": "lots", "peak_memory": "200 apples"}})
    assert [path for path, _ in found] == [["limits", "params"], ["limits", "peak_memory"]]


def test_a_block_named_as_a_layer_type_is_rejected():
    found = errors({"blocks": {"Conv2d": ["ReLU"]}})
    assert [path for path, _ in found] == [["blocks"]]


def test_an_unreadable_layer_entry_is_rejected():
    assert [p for p, _ in errors({"layers": [3]})] == [["layers", 0]]
    # a mapping of several keys needs a type (one key is name: Call(...))
    assert errors({"layers": [{"name": "fc", "out_features": 10}]}) == [
        (["layers", 0], "'type' is a required property")
    ]
    assert [p for p, _ in errors({"layers": [{"fc": 10}]})] == [["layers", 0, "fc"]]


# ------------------------------------------------------------- what it accepts
def test_a_parameter_expression_goes_where_a_number_goes():
    data = {
        "blocks": {
            "B": {
                "params": {"k": 3, "c": None, "flag": True},
                "layers": [
                    {"type": "Conv2d", "out_channels": "$c", "kernel_size": "$k"},
                    {"type": "Conv2d", "out_channels": "$c", "kernel_size": ["$k", 1]},
                    {"type": "MaxPool2d", "kernel_size": 2, "padding": "$k // 2", "when": "$flag"},
                ],
            }
        },
        "layers": [{"type": "B", "c": 8}],
    }
    assert errors(data) == []
    spec_from_data(copy.deepcopy(data) | {"input": [1, 3, 8, 8]})  # and convcalc reads it


def test_strings_block_uses_and_unknown_types_are_accepted_as_they_are():
    data = {
        "input": "1,3,32,32",
        "blocks": {"Stem": {"params": ["c"], "layers": ["Conv2d(3, $c, 3)", "ReLU"]}},
        "layers": [
            "Conv2d(3, 6, 5)",
            "conv1=Conv2d(6, 6, 1)",
            "ReLU",
            {"conv2": "Conv2d(6, 16, kernel_size=(5, 5))"},
            {"type": "Stem", "name": "stem", "c": 8, "repeat": 2},
            {"type": "MyBlock", "anything": [1, "x"], "from": ["stem", "input"]},
        ],
    }
    assert errors(data) == []


def test_limits_take_counts_and_sizes_with_units():
    data = {
        "layers": ["ReLU"],
        "limits": {
            "params": "5M",
            "trainable_params": 1000,
            "macs": "1.2G",
            "peak_memory": "200MiB",
        },
        "expect": {"output_shape": [1, 10], "params": 61706, "trainable_params": 0, "macs": 0},
    }
    assert errors(data) == []
    for count in ("25.6k", "5M", "1.2G", "12"):
        assert errors({"limits": {"macs": count}}) == []
    for size in ("1.5GiB", "512KiB", "200MiB", "1024"):
        assert errors({"limits": {"peak_memory": size}}) == []
    # an empty block is no block
    empty = {"layers": ["ReLU"], "limits": None, "expect": None}
    assert errors(empty) == [] and spec_from_data(empty).layers


def test_a_bare_list_of_layers_is_a_config():
    assert errors(["Conv2d(3, 8, 3)", {"type": "ReLU", "inplace": True}]) == []
    assert [p for p, _ in errors(["ReLU", {"type": "ReLU", "inplce": True}])] == [[1]]


# ------------------------------------------------------------- over the registry
def test_every_layer_type_and_argument_is_described():
    defs = SCHEMA["$defs"]
    assert sorted(k.removeprefix("type.") for k in defs if k.startswith("type.")) == sorted(
        REGISTRY
    )
    assert defs["key.type"]["anyOf"][0]["enum"] == sorted(REGISTRY)
    for name, cls in REGISTRY.items():
        typed = defs[f"type.{name}"]
        assert typed["description"] == cls.summary and cls.summary
        assert typed["title"] == name
        properties = typed["properties"]
        assert list(properties) == [*LAYER_KEYS, *(a.name for a in cls.ARGS), *cls.IGNORED]
        for arg in cls.ARGS:
            entry = properties[arg.name]
            description = entry["description"]
            assert "\n" not in description and re.fullmatch(r"[A-Z(].{10,}\.", description), (
                name,
                arg.name,
                description,
            )
            assert arg.form in description
            if arg.default is REQUIRED:
                assert "default" not in entry
            else:
                default = arg.default
                assert entry["default"] == (
                    list(default) if isinstance(default, tuple) else default
                )
        required = [a.name for a in cls.ARGS if a.default is REQUIRED and not a.infer]
        assert typed["required"] == ["type", *required]
        assert typed["additionalProperties"] is cls.accepts_anything


def test_the_layer_keys_and_top_level_keys_are_the_readers():
    from convcalc.pins import EXPECT_KEYS, LIMIT_KEYS

    assert list(SCHEMA["$defs"]["layerMapping"]["properties"]) == list(LAYER_KEYS)
    assert list(SCHEMA["properties"]) == list(TOP_KEYS)
    assert list(SCHEMA["properties"]["limits"]["properties"]) == list(LIMIT_KEYS)
    assert list(SCHEMA["properties"]["expect"]["properties"]) == list(EXPECT_KEYS)


#: values tried for each key of limits: and expect: (none past 10^18, which a pattern cannot
#: see, nor a whole number written 3.0, which JSON Schema takes for an integer)
PIN_CANDIDATES = [
    0, 5, -1, 2.5, 1.5e6 + 0.5, True, None, [], {}, 10**19, [1, 10], [1, -1], [1, 2.5], [],
    "5M", "5m", "1.2G", "25.6k", "5e6", "5E6", ".5k", "1.", "12", " 5 M ", "5MB", "5 apples",
    "200MiB", "200mib", "1.5GiB", "512KiB", "512K", "200 MB", "200b", "1.5 g", "lots", "",
]  # fmt: skip


def test_limits_and_expect_take_exactly_what_check_reads():
    """Each value of each key of limits: and expect: is valid to the schema exactly when
    convcalc reads it."""
    compared = 0
    for block, keys in SCHEMA["properties"].items():
        if block not in ("limits", "expect"):
            continue
        for key in keys["properties"]:
            for value in PIN_CANDIDATES:
                data = {"layers": ["ReLU"], block: {key: value}}
                valid = VALIDATOR.is_valid(data)
                try:
                    spec_from_data(data)
                    read = True
                except SpecError:
                    read = False
                assert valid == read, (block, key, value, valid)
                compared += 1
    assert compared == 8 * len(PIN_CANDIDATES)


#: values tried for every argument of every type (strings apart: see below)
CANDIDATES = [
    0, 3, -1, 2.5, True, False, None,
    [], [3], [3, 3], [3, 3, 3], [3, 3, 3, 3], [3, None], [None, 3, 3], [2.5], [2.5, 2.5], [True],
    {"a": 1},
]  # fmt: skip


def as_yaml(value):
    """A value as YAML gives it: tuples are lists."""
    return [as_yaml(v) for v in value] if isinstance(value, tuple) else value


def example_keywords(cls):
    """The type's documented example, every argument by name."""
    positional, keywords, _ = cls.example()
    names = [a.name for a in cls.ARGS]
    return {k: as_yaml(v) for k, v in (dict(zip(names, positional)) | keywords).items()}


def reads(entry) -> bool:
    try:
        spec_from_data({"layers": [entry]})
    except SpecError:
        return False
    return True


def test_the_schema_takes_exactly_the_values_the_reader_takes():
    """For every argument of every type and each candidate value, the schema accepts the layer
    mapping exactly when convcalc reads it; a string the schema accepts is one convcalc reads
    (convcalc reads padding: 'three' and rejects it later, in the model's check, which the
    schema does at once)."""
    compared = 0
    for name, cls in sorted(REGISTRY.items()):
        base = {"type": name, **example_keywords(cls)}
        assert LAYER.is_valid(base) and reads(base), name
        # the type's own definition, which the layer's dispatch on type leads to (and 100 times faster)
        typed = Draft202012Validator({"$defs": SCHEMA["$defs"], "$ref": f"#/$defs/type.{name}"})
        for arg in cls.ARGS:
            choices = re.findall(r"'([^']*)'", arg.form)
            for value in [*CANDIDATES, *choices, "three"]:
                entry = base | {arg.name: value}
                valid = typed.is_valid(entry)
                if isinstance(value, str) and value not in choices:
                    assert not valid or reads(entry), (name, arg.name, value)
                else:
                    assert valid == reads(entry), (name, arg.name, value, valid)
                compared += 1
    assert compared > 6000


# ------------------------------------------------------------- the command
def test_schema_prints_the_schema_as_stable_indented_json():
    result = run("schema")
    assert result.exit_code == 0
    assert result.stdout == json.dumps(SCHEMA, indent=2, ensure_ascii=False) + "\n"
    assert json.loads(result.stdout) == SCHEMA
    assert run("schema").stdout == result.stdout
    types = [k for k in json.loads(result.stdout)["$defs"] if k.startswith("type.")]
    assert types == sorted(types) and len(types) == len(REGISTRY)


def test_schema_writes_a_file(tmp_path):
    target = tmp_path / "convcalc.schema.json"
    result = run("schema", "-o", str(target))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == (
        f"wrote {target}; a config whose first line is "
        "`# yaml-language-server: $schema=<its path>` is checked by the editor as it is typed\n"
    )
    assert json.loads(target.read_text(encoding="utf-8")) == SCHEMA
    assert target.read_text(encoding="utf-8") == run("schema").stdout


def test_schema_to_a_folder_or_nowhere_exits_2(tmp_path):
    result = run("schema", "-o", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: {tmp_path}: is a folder",
        "  hint: give -o a file name, e.g. convcalc.schema.json",
    ]
    missing = tmp_path / "no" / "such.json"
    result = run("schema", "-o", str(missing))
    assert result.exit_code == 2
    assert (
        result.stderr == f"error: {missing}: cannot write the schema (No such file or directory)\n"
    )


def test_schema_loads_neither_numpy_nor_yaml_nor_rich():
    code = (
        "import sys; from convcalc.cli import main\n"
        "try:\n    main(['schema'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('numpy', 'yaml', 'rich') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0
    assert result.stdout.splitlines()[-1] == "[]"


def test_a_config_that_names_its_schema_still_reads(tmp_path):
    """The editor's comment is a YAML comment: convcalc reads the file as before."""
    from convcalc import load_spec

    text = (ROOT / "examples" / "lenet.yaml").read_text()
    path = tmp_path / "net.yaml"
    path.write_text("# yaml-language-server: $schema=./convcalc.schema.json\n" + text)
    assert len(load_spec(str(path)).layers) == len(
        load_spec(str(ROOT / "examples/lenet.yaml")).layers
    )


def test_the_documented_configs(tmp_path):
    """The config docs/editors.md shows is one the schema takes and convcalc reads, with the
    output shape it pins; the one with mistakes has those it says are marked."""
    from convcalc import analyze

    page = (ROOT / "docs" / "editors.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", page, re.S)
    good, bad = [b for b in blocks if "layers:" in b]
    data = yaml.safe_load(good)
    assert errors(data) == []
    # the mistakes the page shows marked, each where it says
    assert errors(yaml.safe_load(bad)) == [
        ([], "Additional properties are not allowed ('layes' was unexpected)"),
        (["layers", 0], "'kernel_size' is a required property"),
        (["layers", 0], "Additional properties are not allowed ('kernal_size' was unexpected)"),
        (["layers", 1, "mode"], "'bilnear' is not valid under any of the given schemas"),
    ]
    report = analyze(spec_from_data(data))
    assert report.ok and list(report.output_shape) == data["expect"]["output_shape"] == [1, 10]
    # and convcalc check passes it: within its limits, with the figures it pins
    path = tmp_path / "small.yaml"
    path.write_text(good)
    result = run("check", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"✓ {path}  ")


#: what draft-07 already had, and $defs (2019-09), which a draft-07 reader reaches by its pointer
DRAFT_07_KEYWORDS = {
    "$schema", "$id", "$ref", "$defs", "title", "description", "default", "type", "enum",
    "const", "properties", "additionalProperties", "required", "items", "minItems", "maxItems",
    "minProperties", "maxProperties", "pattern", "propertyNames", "minimum", "maximum", "anyOf", "allOf",
    "not", "if", "then", "else",
}  # fmt: skip


def keywords(schema, found):
    """Every keyword used in ``schema`` and its subschemas."""
    found.update(schema)
    for key, value in schema.items():
        if key in ("properties", "$defs"):
            for sub in value.values():
                keywords(sub, found)
        elif key in ("anyOf", "allOf"):
            for sub in value:
                keywords(sub, found)
        elif isinstance(value, dict) and key not in ("default", "const"):
            keywords(value, found)
    return found


def test_the_schema_uses_only_what_draft_07_editors_read():
    """docs/editors.md says so: an editor whose YAML support stops at draft-07 checks as much."""
    used = keywords(SCHEMA, set())
    assert used <= DRAFT_07_KEYWORDS, used - DRAFT_07_KEYWORDS
    assert {"if", "then", "const", "additionalProperties", "pattern"} <= used


def test_every_argument_has_its_line_and_every_line_an_argument():
    from convcalc.layers.argdocs import DOCS, FAMILY_DOCS, TYPE_DOCS, arg_doc, family

    used = set()
    for name, cls in REGISTRY.items():
        for arg in cls.ARGS:
            assert arg_doc(cls, arg), (name, arg.name)
            used |= {arg.name, (family(cls), arg.name), (name, arg.name)}
    assert set(DOCS) <= used and set(FAMILY_DOCS) <= used and set(TYPE_DOCS) <= used


def test_each_call_builds_a_schema_of_its_own():
    """Changing one schema changes neither the next nor the module's own parts."""
    first = config_schema()
    first["$defs"]["expression"]["pattern"] = "changed"
    first["$defs"]["key.repeat"]["anyOf"][0]["minimum"] = 7
    again = config_schema()
    assert again == SCHEMA
    assert again["$defs"]["expression"]["pattern"] == r"\$[A-Za-z_]"
