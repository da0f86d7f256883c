"""`convcalc export FILE --to torch` against torch: the written module, run in torch, has the
config's state_dict keys and shapes and parameter count, and computes what `convcalc run`
computes with the same weights (float64); the zoo's torchvision models load torchvision's own
state_dict with strict=True and give its output. The source imports only torch."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from clirun import run as cli
from test_zoo_forward import small_input
from torch_bridge import built, import_torchvision, on_one_thread, with_batchnorm_statistics

from convcalc import (
    analyze,
    load_spec,
    run_forward,
    spec_from_data,
    spec_from_strings,
    to_torch_source,
)
from convcalc.forward import expected_entries
from convcalc.layers import REGISTRY
from convcalc.layers.merge import Merge
from convcalc.torchexport import RESERVED, class_name_of, eager_type

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[2]
ZOO = ROOT / "convcalc" / "models" / "zoo"
EXAMPLES = ROOT / "examples"
#: run at their small input, weights drawn by torch; the largest (VGG-16's 138 M parameters
#: and their like) are held to torchvision below instead
HEAVY = {"vgg16", "alexnet", "wide_resnet50_2", "resnet101"}
#: the examples that work (the others show an error)
MODELS = [p for p in sorted(ZOO.glob("*.yaml")) if p.stem not in HEAVY] + [
    p for p in sorted(EXAMPLES.glob("*.yaml")) if analyze(load_spec(str(p))).ok
]


@pytest.fixture(autouse=True)
def one_thread() -> Any:
    yield from on_one_thread(torch)


def imports(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            found.add(node.module or "")
    return found


def check_against_run(spec: Any, shape: tuple[int, ...]) -> None:
    """Export ``spec`` at ``shape``, build it in torch and compare with convcalc's figures and run."""
    source = to_torch_source(spec, "Exported", shape)
    assert {name.split(".")[0] for name in imports(source)} == {"torch"}
    torch.manual_seed(0)
    model = with_batchnorm_statistics(torch, built(source, "Exported")).double()
    report = analyze(spec, shape)
    expected = {
        f"{entry.name}.{suffix}": tuple(s)
        for entry, row in zip(spec.layers, report.rows)
        for suffix, s in expected_entries(entry, row.input_shape).items()
    }
    state = model.state_dict()
    assert {k: tuple(v.shape) for k, v in state.items()} == expected
    assert sum(p.numel() for p in model.parameters()) == report.totals.params
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable == report.totals.trainable_params
    x = torch.randn(shape, dtype=torch.float64)
    with torch.no_grad():
        want = model(x).numpy()
    weights = {k: v.numpy() for k, v in state.items()}
    result = run_forward(spec, weights=weights, input_data=x.numpy(), dtype="float64")
    assert result.output is not None
    scale = max(float(np.abs(want).max()), 1.0)
    np.testing.assert_allclose(result.output, want, rtol=1e-9, atol=1e-9 * scale)


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_export_runs_as_convcalc_does(path: Path) -> None:
    spec = load_spec(str(path))
    check_against_run(spec, small_input(spec))


def test_every_layer_type_is_a_torch_module() -> None:
    for cls in REGISTRY.values():
        if not issubclass(cls, Merge):
            assert hasattr(torch.nn, eager_type(cls).type_name), cls.type_name


LAYER_TYPES = sorted(n for n, cls in REGISTRY.items() if not issubclass(cls, Merge))


@pytest.mark.parametrize("type_name", LAYER_TYPES)
def test_every_layer_type_exports(type_name: str) -> None:
    """Each layer type's documented example (`convcalc layers TYPE`), exported and run in torch."""
    positional, keywords, x = REGISTRY[type_name].example()
    args = [repr(v) for v in positional] + [f"{k}={v!r}" for k, v in keywords.items()]
    shape = tuple(x)  # type: ignore[arg-type]
    check_against_run(spec_from_strings([f"{type_name}({', '.join(args)})"], shape), shape)


def test_reserved_names_are_nn_module_attributes() -> None:
    """The names a child module cannot have are those of this torch's nn.Module."""
    public = {n for n in dir(torch.nn.ModuleDict) | vars(torch.nn.Module()).keys() if n[0] != "_"}
    assert public <= RESERVED


LAYER_CASES = {
    "lazy and inferred": (
        (2, 3, 12, 12),
        [
            "LazyConv2d(8, 3)",
            "BatchNorm2d()",
            "LazyBatchNorm2d()",
            "ReLU(inplace=True)",
            "Conv2d(out_channels=4, kernel_size=3, padding='same', padding_mode='reflect')",
            "Flatten()",
            "LazyLinear(5)",
            "Linear(out_features=3, bias=False)",
        ],
    ),
    "activations": (
        (2, 6),
        [
            "Hardtanh(-2.0, 2.0)",
            "Threshold(0.1, 20.0)",
            "Softplus(beta=2.0)",
            "PReLU(6)",
            "ELU(alpha=0.5)",
            "GELU(approximate='tanh')",
            "LayerNorm(6)",
            "Softmax(dim=1)",
        ],
    ),
    "one dimension and three": (
        (1, 2, 4, 6, 6),
        [
            "Conv3d(2, 4, 3, padding=1)",
            "GroupNorm(2, 4)",
            "MaxPool3d(2, ceil_mode=True)",
            "ConvTranspose3d(4, 2, 2, stride=2, output_padding=1)",
            "Upsample(scale_factor=0.5)",
            "ReplicationPad3d(1)",
            "Unflatten(1, (1, 2))",
            "Flatten(1, 2)",
        ],
    ),
}


@pytest.mark.parametrize("case", LAYER_CASES)
def test_layers_export_with_torch_arguments(case: str) -> None:
    shape, layers = LAYER_CASES[case]
    check_against_run(spec_from_strings(layers, shape), shape)


def test_merges_and_unnamed_layers() -> None:
    """Three-way Add, a broadcasting Mul, Concat along dim 1, layers named by their index."""
    spec = spec_from_data(
        {
            "input": [1, 4, 8, 8],
            "layers": [
                {"a": "Conv2d(4, 4, 3, padding=1)"},
                {"b": "ReLU()"},
                {"type": "Add", "name": "s", "from": ["a", "b", "input"]},
                "AdaptiveAvgPool2d((1, 1))",
                {"type": "Mul", "name": "m", "from": ["s", "3"]},
                {"type": "Concat", "name": "c", "from": ["m", "input"], "dim": 1},
                "Conv2d(8, 2, 1)",
            ],
        }
    )
    source = to_torch_source(spec, "Net")
    assert "s = a + b + x" in source and "m = s * x3" in source
    assert "c = torch.cat([m, x], dim=1)" in source
    assert "self.add_module('6', nn.Conv2d(8, 2, 1))" in source
    check_against_run(spec, (1, 4, 8, 8))


def test_frozen_layers_stay_frozen(tmp_path: Path) -> None:
    path = tmp_path / "net.yaml"
    path.write_text(
        "input: [1, 3, 8, 8]\nlayers:\n"
        "  - {type: Conv2d, name: stem, out_channels: 4, kernel_size: 3, trainable: false}\n"
        "  - head: Conv2d(4, 2, 1)\n"
    )
    spec = load_spec(str(path))
    source = to_torch_source(spec, "Net")
    assert "requires_grad_(False)" in source
    check_against_run(spec, (1, 3, 8, 8))


def test_blocks_become_classes_shared_by_their_uses() -> None:
    source = to_torch_source(load_spec(str(ZOO / "resnet18.yaml")))
    tree = ast.parse(source)
    classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
    # BasicBlock with and without its downsample, then the model
    assert classes == ["BasicBlock", "BasicBlock2", "Resnet18"]
    assert "self.layer1 = nn.Sequential(" in source
    assert "BasicBlock2(conv1_in_channels=64, conv1_out_channels=128)" in source
    assert "torch.cat" not in source


def test_a_block_read_from_inside_is_written_in_place(tmp_path: Path) -> None:
    """A block whose inner layer is read from outside cannot be one class: its layers are
    written in the model's class, under its name (a ModuleDict); its other uses are classes."""
    path = tmp_path / "net.yaml"
    path.write_text(
        "input: [1, 3, 8, 8]\n"
        "blocks:\n"
        "  Pair:\n"
        "    layers:\n"
        "      - a: Conv2d(3, 3, 3, padding=1)\n"
        "      - b: ReLU()\n"
        "layers:\n"
        "  - {type: Pair, name: p}\n"
        "  - {type: Add, name: s, from: [p.a, p.b]}\n"
        "  - {type: Pair, name: q, repeat: 2}\n"
    )
    spec = load_spec(str(path))
    source = to_torch_source(spec, "Net")
    assert "self.p = nn.ModuleDict({" in source
    assert "p_a = self.p['a'](x)" in source and "s = p_a + p_b" in source
    assert "self.q = nn.Sequential(\n            Pair(),\n            Pair(),\n        )" in source
    check_against_run(spec, (1, 3, 8, 8))


def test_class_names() -> None:
    assert class_name_of("mobilenet_v2") == "MobilenetV2"
    assert class_name_of("blocks-demo") == "BlocksDemo"
    assert class_name_of("3d-net") == "Model3dNet"
    assert class_name_of(None) == "Model"


# ------------------------------------------------------------------- the command
def test_cli_writes_the_source(tmp_path: Path) -> None:
    path = str(ZOO / "lenet5.yaml")
    result = cli("export", path, "--to", "torch", "--class-name", "LeNet")
    assert result.exit_code == 0, result.output
    assert result.stdout == to_torch_source(load_spec(path), "LeNet")
    out = tmp_path / "lenet.py"
    result = cli("export", path, "--to", "torch", "-o", str(out))
    assert result.exit_code == 0 and result.stdout == ""
    model = built(out.read_text(), "Lenet5")
    assert sum(p.numel() for p in model.parameters()) == 61_706


def test_cli_errors(tmp_path: Path) -> None:
    path = str(ZOO / "lenet5.yaml")
    result = cli("export", path, "--to", "torch", "--class-name", "3net")
    assert result.exit_code == 2
    assert "class name '3net' is not a Python identifier" in result.stderr
    result = cli("export", path)
    assert result.exit_code == 2 and "--to" in result.stderr
    result = cli("export", path, "--to", "torch", "--input", "1,1,8,8")
    assert result.exit_code == 1 and "error: layer" in result.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: [1, 3, 8, 8]\nlayers:\n  - forward: ReLU()\n")
    result = cli("export", str(bad), "--to", "torch")
    assert result.exit_code == 2
    assert "'forward' is an attribute of nn.Module" in result.stderr


# ----------------------------------------------------------------- torchvision
TORCHVISION = ["resnet18", "resnet50", "vgg16", "mobilenet_v2", "densenet121"]


@pytest.mark.torchvision
@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_state_dict_loads_strictly(name: str) -> None:
    models = import_torchvision(torch).models
    torch.manual_seed(0)
    reference = with_batchnorm_statistics(torch, models.get_model(name, weights=None)).double()
    spec = load_spec(str(ZOO / f"{name}.yaml"))
    source = to_torch_source(spec)
    model = built(source, class_name_of(spec.name)).double().eval()
    model.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(1, 3, 64, 64, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=1e-9, atol=1e-9)
