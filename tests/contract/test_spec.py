"""Reading configs: call strings, YAML forms, and every kind of unreadable input (exit 2) with its location."""

import pytest

from convcalc import SpecError, load_spec, spec_from_data, spec_from_strings
from convcalc.spec import parse_call, shape_from_value


def write(tmp_path, text, name="net.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def error_of(fn, *args):
    with pytest.raises(SpecError) as info:
        fn(*args)
    assert info.value.exit_code == 2
    return info.value


@pytest.mark.parametrize(
    "text,expected",
    [
        ("ReLU", ("ReLU", (), {})),
        ("ReLU()", ("ReLU", (), {})),
        ("MaxPool2d(2)", ("MaxPool2d", (2,), {})),
        (
            "Conv2d(6, 16, kernel_size=(5, 5), stride=(1, 1))",
            ("Conv2d", (6, 16), {"kernel_size": (5, 5), "stride": (1, 1)}),
        ),
        ("nn.Conv2d(1, 2, 3, padding='same')", ("Conv2d", (1, 2, 3), {"padding": "same"})),
        ("torch.nn.Linear(4, 5, bias=False)", ("Linear", (4, 5), {"bias": False})),
        ("  Flatten(start_dim=0)  ", ("Flatten", (), {"start_dim": 0})),
        (
            "Upsample(scale_factor=2.5, mode='bilinear')",
            ("Upsample", (), {"scale_factor": 2.5, "mode": "bilinear"}),
        ),
        ("Unflatten(1, [2, -1])", ("Unflatten", (1, [2, -1]), {})),
    ],
)
def test_parse_call(text, expected):
    assert parse_call(text) == expected


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("Conv2d(3, 8", "cannot read 'Conv2d(3, 8'"),
        ("Conv2d(3, 8, k=os.system('x'))", "arguments must be literal values"),
        ("Conv2d(*args)", "arguments must be literal values"),
        ("Conv2d(**kw)", "arguments must be literal values"),
        ("__import__('os').system('x')", "not a layer constructor call"),
        ("3 + 4", "not a layer constructor call"),
    ],
)
def test_call_strings_are_parsed_never_evaluated(text, fragment):
    err = error_of(parse_call, text)
    assert fragment in err.message
    assert err.hint.startswith("write a PyTorch constructor call")


def test_the_config_contract_from_the_readme(tmp_path):
    path = write(
        tmp_path,
        """name: lenet
input: [1, 1, 32, 32]
layers:
  - {type: Conv2d, name: conv1, in_channels: 1, out_channels: 6, kernel_size: 5}
  - Conv2d(6, 16, kernel_size=(5, 5), stride=(1, 1))
  - fc: Linear(16, 4)
  - {type: Flatten, trainable: false}
""",
    )
    spec = load_spec(path)
    assert spec.name == "lenet"
    assert spec.input_shape == (1, 1, 32, 32)
    assert [e.name for e in spec.layers] == ["conv1", "1", "fc", "3"]
    assert [e.type for e in spec.layers] == ["Conv2d", "Conv2d", "Linear", "Flatten"]
    conv2 = spec.layers[1].layer
    assert (conv2.in_channels, conv2.out_channels, conv2.kernel_size, conv2.stride) == (
        6,
        16,
        (5, 5),
        (1, 1),
    )
    assert spec.layers[0].layer.in_channels == 1
    assert spec.layers[3].trainable is False
    assert spec.layers[1].where == f"{path}:5"


def test_a_bare_list_is_a_stack_without_input(tmp_path):
    spec = load_spec(write(tmp_path, "- Linear(3, 4)\n- Linear(4, 2)\n"))
    assert spec.input_shape is None and len(spec.layers) == 2


@pytest.mark.parametrize(
    "text,message,hint",
    [
        (
            "input: [1, 3, 8, 8]\nlayers:\n  - {type: Conv2d, out_channels: 8, kernal_size: 3}\n",
            "net.yaml:3, layers[0].kernal_size: Conv2d has no argument 'kernal_size'",
            "did you mean kernel_size?",
        ),
        (
            "input: [1, 3, 8, 8]\nlayers:\n  - Linear(3, 4)\n  - Conv2D(3, 8, 3)\n",
            "net.yaml:4, layers[1]: unknown layer type 'Conv2D'",
            "did you mean Conv2d?",
        ),
        (
            'input: [1, 3, 8, 8]\nlayers:\n  - {type: Conv2d, out_channels: 8,\n     kernel_size: "3"}\n',
            "net.yaml:4, layers[0].kernel_size: Conv2d argument kernel_size must be an integer or a list of 2 integers, got '3'",
            None,
        ),
        (
            "input: [1, 3, 8, 8]\nlayer:\n  - Linear(3, 4)\n",
            "net.yaml:2: unknown top-level key 'layer'",
            "did you mean layers?",
        ),
        (
            "input: [1, 3, 8, 8]\nlayers:\n  - {type: Linear, out_features: 2, out_features: 3}\n",
            "net.yaml:3: invalid YAML: duplicate key 'out_features'",
            None,
        ),
        (
            'input: [1, 3, 8, 8]\nlayers:\n  - !!python/object/apply:os.system ["echo hi"]\n',
            "net.yaml:3: invalid YAML: YAML tags are not allowed (only plain values, lists and mappings)",
            None,
        ),
        (
            "input: [1, 3, 8, 8]\nlayers:\n  - {type: Linear, out_features: 3\n",
            "net.yaml:4: invalid YAML: did not find expected ',' or '}' (while parsing a flow mapping at line 3)",
            None,
        ),
        (
            "input: [1, 3, 8, 8]\nlayers:\n  - {type: Linear, name: a, out_features: 3}\n  - {type: Linear, name: a, out_features: 3}\n",
            "net.yaml:4, layers[1].name: layer name 'a' is used twice: layers[0] and layers[1]",
            "give each layer a unique name",
        ),
        (
            "input: [1, 3, 8, 8]\nlayers:\n  - {type: Conv2d, kernel_size: 3}\n",
            "net.yaml:3, layers[0].out_channels: Conv2d needs out_channels",
            "add out_channels: <int>",
        ),
        (
            "input: [1, 3, 8, 8]\nlayers:\n  - Linear(3, 4, True, 5)\n",
            "net.yaml:3, layers[0]: Linear takes at most 3 positional arguments (in_features, out_features, bias), 4 given",
            "see `convcalc layers Linear` for its arguments",
        ),
        (
            "input: [1, 0, 8]\nlayers: []\n",
            "net.yaml:1: input shape (1, 0, 8) has a size below 1",
            "every size must be a positive integer",
        ),
        ("input: [1, 3, 8]\n", "net.yaml: no layers", "add a 'layers:' list"),
        ("", "net.yaml: the file is empty", "`convcalc zoo lenet5` prints a config to start from"),
        (
            "input: [1, 3]\nlayers:\n  - {name: x, out_features: 3}\n",
            "net.yaml:3, layers[0]: a layer mapping needs a 'type' key",
            "add type: Conv2d (or another layer type)",
        ),
        (
            "input: [1, 3]\nlayers:\n  - 42\n",
            "net.yaml:3, layers[0]: a layer must be a string or a mapping, got 42",
            None,
        ),
        (
            "input: [1, 3]\nlayers:\n  - {type: Linear, name: input, out_features: 2}\n",
            "net.yaml:3, layers[0].name: the name 'input' is reserved for the model input",
            None,
        ),
    ],
)
def test_unreadable_configs_say_where_and_why(tmp_path, text, message, hint):
    path = write(tmp_path, text)
    err = error_of(load_spec, path)
    assert err.message == message.replace("net.yaml", path)
    if hint is not None:
        assert err.hint == hint


def test_missing_file():
    err = error_of(load_spec, "no/such/file.yaml")
    assert err.message == "no/such/file.yaml: no such file"


@pytest.mark.parametrize(
    "text,shape",
    [("1,3,224,224", (1, 3, 224, 224)), ("1x3x32x32", (1, 3, 32, 32)), ("[1, 3, 8]", (1, 3, 8)),
     ("(2, 4)", (2, 4)), ("1 3 5 5", (1, 3, 5, 5)), ("16", (16,))],
)  # fmt: skip
def test_shape_from_text(text, shape):
    assert shape_from_value(text) == shape


@pytest.mark.parametrize("text", ["1,x,3", "a,b", "", "1,,3", "1.5,3", [1, True], [1, -3], "1,3,0"])
def test_bad_shapes(text):
    error_of(shape_from_value, text)


def test_flags_with_names_and_locations():
    spec = spec_from_strings(["conv1=Conv2d(3, 8, 3)", "relu: ReLU", "Flatten(0)"], (1, 3, 8, 8))
    assert [e.name for e in spec.layers] == ["conv1", "relu", "2"]
    err = error_of(spec_from_strings, ["Conv2d(3, 8, 3)", "Linear(4, 5, biass=True)"])
    assert (
        err.message
        == "--layer 'Linear(4, 5, biass=True)', layers[1].biass: Linear has no argument 'biass'"
    )
    assert err.hint == "did you mean bias?"


def test_spec_from_data_accepts_plain_dicts():
    spec = spec_from_data(
        {"input": [2, 8], "layers": ["Linear(8, 4)", {"type": "Linear", "out_features": 2}]}
    )
    assert spec.input_shape == (2, 8) and spec.source is None
    assert spec.layers[1].layer.in_features is None  # taken from the input when analysed


@pytest.mark.parametrize(
    "layer, argument",
    [
        ("Conv2d(3, 100000000000000000000, 3)", "out_channels"),
        ("Conv2d(3, 4, 3, padding=(1, 9223372036854775808))", "padding"),
        ("AvgPool2d(3, divisor_override=9223372036854775808)", "divisor_override"),
        ("Hardtanh(min_val=-9223372036854775809)", "min_val"),
    ],
)
def test_integers_beyond_64_bits_are_refused_as_torch_does(layer, argument):
    with pytest.raises(SpecError, match="beyond torch's 64-bit integers") as info:
        spec_from_strings([layer], (1, 3, 9, 9))
    assert info.value.argument == argument and info.value.exit_code == 2
    with pytest.raises(SpecError, match="beyond torch's 64-bit integers"):
        shape_from_value(f"1,{2**63}")
    assert shape_from_value([1, 2**63 - 1]) == (1, 2**63 - 1)


# ------------------------------------------------------- YAML through PyYAML's public API
def test_yaml_is_read_through_pyyamls_public_api_only():
    """spec.py composes the node tree with yaml.compose and builds the values itself: no
    private attribute of PyYAML, none of its constructor's internals."""
    import ast
    import inspect

    import convcalc.spec

    tree = ast.parse(inspect.getsource(convcalc.spec))
    used = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    internals = {"construct_object", "construct_document", "flatten_mapping", "add_constructor",
                 "constructed_objects", "recursive_objects", "state_generators", "yaml_constructors",
                 "get_single_node", "dispose"}  # fmt: skip
    assert not used & internals
    yaml_attrs = {
        n.attr
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "yaml"
    }
    assert not [a for a in yaml_attrs if a.startswith("_")]


def test_yaml_values_as_pyyaml_reads_them(tmp_path):
    import datetime

    from convcalc.spec import _load_yaml

    text = (
        "a: 0x1F\nb: 017\nc: 1_000\nd: 1:30\ne: -.Inf\nf: 1:30.5\ng: 2001-12-14\n"
        "h: 2001-12-14t21:59:43.10-05:00\ni: Off\nj: ~\nk: !!str 5\nl: !!int '7'\n"
        "base: &b {k: 1, s: 2}\nm: {<<: *b, z: 3}\nn: {<<: [{k: 9}, *b], z: 3}\no: *b\n"
    )
    data = _load_yaml(text)
    tz = datetime.timezone(-datetime.timedelta(hours=5))
    assert dict(data) == {
        "a": 31, "b": 15, "c": 1000, "d": 90, "e": float("-inf"), "f": 90.5,
        "g": datetime.date(2001, 12, 14),
        "h": datetime.datetime(2001, 12, 14, 21, 59, 43, 100000, tzinfo=tz),
        "i": False, "j": None, "k": "5", "l": 7, "base": {"k": 1, "s": 2},
        "m": {"k": 1, "s": 2, "z": 3}, "n": {"k": 9, "s": 2, "z": 3}, "o": {"k": 1, "s": 2},
    }  # fmt: skip
    assert (data.key_lines["m"], data["m"].key_lines["k"], data["m"].key_lines["z"]) == (14, 13, 14)
    assert data["o"] is data["base"]  # an alias is its anchor's value


@pytest.mark.parametrize(
    "value,problem",
    [
        ("!!set {x, y}", "YAML tags are not allowed (only plain values, lists and mappings)"),
        ("!!binary aGVsbG8=", "YAML tags are not allowed (only plain values, lists and mappings)"),
        ("!!map foo", "expected a mapping node, but found scalar"),
        ("!!int [1]", "expected a scalar node, but found sequence"),
        ("!!timestamp x", "cannot read 'x': not a date"),
        ("{<<: 5}", "expected a mapping or list of mappings for merging, but found scalar"),
        ("&a [*a]", "found unconstructable recursive node"),
    ],
)
def test_yaml_values_convcalc_does_not_read(tmp_path, value, problem):
    path = write(tmp_path, f"input: [1, 3, 8, 8]\nlayers:\n  - ReLU()\nname: {value}\n")
    assert error_of(load_spec, path).message == f"{path}:4: invalid YAML: {problem}"
