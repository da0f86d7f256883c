"""``print(model)`` read as a config, with PyTorch as the oracle.

Torch modules are built from the random configurations of tests/oracle_cases.py, printed
by torch itself inside nested nn.Sequential / nn.ModuleList / nn.ModuleDict containers,
read back by convcalc, and held to torch's output shape, parameter count, MACs and
state_dict keys. Hand-built equivalents of torchvision's VGG-16 features, AlexNet and a
MobileNet-like stack print exactly as torchvision's do.
"""

from __future__ import annotations

import json
import random
import re
import time
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from clirun import run as cli
from oracle_cases import GENERATORS
from torch_bridge import counted, import_torchvision, torch_layer, with_batchnorm_statistics

from convcalc import analyze, load_spec
from convcalc.errors import SpecError
from convcalc.graph import MAX_LAYERS
from convcalc.layers import REGISTRY
from convcalc.printout import UNPRINTED, read_printout

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "vgg16-features.txt"
TORCHVISION = ROOT / "tests" / "fixtures" / "printout"
CASES_PER_TYPE = 14


@pytest.fixture(scope="module")
def torch() -> Any:
    return pytest.importorskip("torch")


def printed(tmp_path: Path, module: Any, name: str = "model.txt") -> Path:
    path = tmp_path / name
    path.write_text(repr(module) + "\n")
    return path


def spec_of(text: str, source: str = "model.txt") -> Any:
    return load_spec(source, text=text)


def convcalc_keys(spec: Any, report: Any) -> set[str]:
    """The state_dict keys convcalc gives: its layer names and each layer's weights and buffers."""
    keys = set()
    for entry, row in zip(spec.layers, report.rows):
        for part in (entry.layer.weights(row.input_shape), entry.layer.buffers(row.input_shape)):
            keys |= {f"{entry.name}.{suffix}" for suffix in part or {}}
    return keys


def torch_keys(module: Any) -> set[str]:
    return set(module.state_dict())


# ---------------------------------------------------------------- every layer type
def _wrap(torch: Any, module: Any, shape: int) -> tuple[Any, str]:
    """``module`` inside one of four container nestings; the dotted name it gets there."""
    nn = torch.nn
    if shape == 0:
        return nn.Sequential(module), "0"
    if shape == 1:
        return nn.Sequential(nn.Identity(), nn.Sequential(OrderedDict(body=module))), "1.body"
    if shape == 2:
        return nn.Sequential(nn.ModuleList([nn.Identity(), module])), "0.1"
    return nn.Sequential(OrderedDict(head=nn.ModuleDict({"blk": module}))), "head.blk"


def _hidden_value(module: Any, type_name: str) -> bool:
    """True when the module holds a non-default value of an argument torch never prints."""
    missing = object()
    return any(
        getattr(module, arg, missing) not in (missing, default)
        for arg, default in UNPRINTED.get(type_name, {}).items()
    )


TORCH_TYPES = sorted(t for t in GENERATORS if t in REGISTRY and t not in ("Add", "Mul", "Concat"))


def test_every_registered_torch_type_is_checked(torch: Any) -> None:
    missing = [t for t in REGISTRY if hasattr(torch.nn, t) and t not in TORCH_TYPES]
    assert not missing, f"registered types without a printout check: {missing}"


@pytest.mark.parametrize("type_name", TORCH_TYPES)
def test_printed_layer_matches_torch(torch: Any, type_name: str) -> None:
    rng = random.Random(f"printout:{type_name}")
    failures: list[str] = []
    compared = 0
    for n in range(CASES_PER_TYPE * 4):
        if compared >= CASES_PER_TYPE:
            break
        text, x = GENERATORS[type_name](rng)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                module = torch_layer(torch, text, x)
            except Exception:  # noqa: BLE001 - torch refused the configuration: nothing to print
                continue
        if _hidden_value(module, type_name):
            continue
        wrapper, name = _wrap(torch, module, n % 4)
        printout = repr(wrapper)  # before forward: a Lazy module prints its placeholder 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                expected = counted(torch, [module], x)
            except Exception as exc:  # noqa: BLE001 - torch's verdict: the model is wrong
                expected = (False, None, None, None, str(exc).splitlines()[0][:100])
        compared += 1
        try:
            spec = spec_of(printout)
        except SpecError as exc:  # an argument torch takes and convcalc refuses, say
            got: tuple[Any, ...] = (False, None, None, None)
            detail = str(exc)
        else:
            assert [entry.name for entry in spec.layers][-1] == name
            report = analyze(spec, x)
            got = (report.ok, report.output_shape, report.totals.params, report.totals.macs)
            detail = "; ".join(e.message for e in report.errors)
        if expected[0] != got[0] or (expected[0] and tuple(expected[1:4]) != got[1:]):
            failures.append(f"{printout} on {x}:\n  torch {expected}\n  convcalc {got} {detail}")
            continue
        if expected[0]:
            assert convcalc_keys(spec, report) == torch_keys(wrapper), printout
    assert compared >= CASES_PER_TYPE // 2, f"only {compared} cases of {type_name} compared"
    assert not failures, "\n".join(failures[:5])


# ------------------------------------------------------------------ real models
# torchvision's modules, built by hand: their printouts are the same text


VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")  # fmt: skip


def vgg16_features(torch: Any) -> Any:
    """``torchvision.models.vgg16().features``."""
    nn = torch.nn
    layers: list[Any] = []
    channels = 3
    for v in VGG16:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(channels, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            channels = v
    return nn.Sequential(*layers)


def alexnet(torch: Any) -> Any:
    """``torchvision.models.alexnet()`` as one Sequential: features, avgpool, the flatten of its
    forward, classifier (the same state_dict keys)."""
    nn = torch.nn
    features = nn.Sequential(
        nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(64, 192, kernel_size=5, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(192, 384, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(256, 256, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
    )
    classifier = nn.Sequential(
        nn.Dropout(p=0.5),
        nn.Linear(256 * 6 * 6, 4096),
        nn.ReLU(inplace=True),
        nn.Dropout(p=0.5),
        nn.Linear(4096, 4096),
        nn.ReLU(inplace=True),
        nn.Linear(4096, 1000),
    )
    return nn.Sequential(
        OrderedDict(
            features=features,
            avgpool=nn.AdaptiveAvgPool2d((6, 6)),
            flatten=nn.Flatten(),
            classifier=classifier,
        )
    )


def mobile(torch: Any, container: str = "Sequential") -> Any:
    """A MobileNet-like stack: a stem, depthwise-separable blocks (three identical ones in a
    row, which a ModuleList prints once as ``(1-3): 3 x``) and a head."""
    nn = torch.nn

    def block(cin: int, cout: int, stride: int) -> Any:
        return nn.Sequential(
            nn.Conv2d(cin, cin, 3, stride=stride, padding=1, groups=cin, bias=False),
            nn.BatchNorm2d(cin),
            nn.ReLU6(inplace=True),
            nn.Conv2d(cin, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU6(inplace=True),
        )

    blocks = [block(16, 32, 2)] + [block(32, 32, 1) for _ in range(3)] + [block(32, 64, 2)]
    body = nn.ModuleList(blocks) if container == "ModuleList" else nn.Sequential(*blocks)
    return nn.Sequential(
        OrderedDict(
            stem=nn.Sequential(
                nn.Conv2d(3, 16, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(16),
                nn.Hardswish(),
            ),
            blocks=body,
            head=nn.Sequential(
                nn.AdaptiveAvgPool2d(1),
                nn.Flatten(1),
                nn.Dropout(0.2, inplace=True),
                nn.Linear(64, 10),
            ),
        )
    )


def _chain(torch: Any, model: Any) -> Any:
    """The leaf modules in printed order, as one runnable Sequential (a ModuleList cannot run)."""
    return torch.nn.Sequential(*[m for m in model.modules() if not list(m.children())])


MODELS = {
    "vgg16-features": (vgg16_features, (1, 3, 64, 64)),
    "alexnet": (alexnet, (2, 3, 64, 64)),
    "mobile": (mobile, (2, 3, 64, 48)),
    "mobile-modulelist": (lambda torch: mobile(torch, "ModuleList"), (1, 3, 32, 32)),
}


def _rows(report: Any) -> list[tuple[Any, ...]]:
    return [
        (r.name, r.type, r.input_shape, r.output_shape, r.params, r.macs, r.notes)
        for r in report.rows
    ]


@pytest.mark.parametrize("model_name", sorted(MODELS))
def test_printed_model_matches_torch(torch: Any, model_name: str) -> None:
    from torch.utils.flop_counter import FlopCounterMode

    build, x = MODELS[model_name]
    model = build(torch).eval()
    spec = spec_of(repr(model))
    report = analyze(spec, x)
    assert report.ok, report.errors
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        y = _chain(torch, model)(torch.randn(*x))
    assert report.output_shape == tuple(y.shape)
    assert report.totals.params == sum(p.numel() for p in model.parameters())
    assert report.totals.macs == counter.get_total_flops() // 2
    assert convcalc_keys(spec, report) == set(model.state_dict())


def test_modulelist_repeat_is_expanded(torch: Any) -> None:
    model = mobile(torch, "ModuleList")
    text = repr(model)
    assert "(1-3): 3 x Sequential(" in text  # torch collapses the three identical blocks
    spec = spec_of(text)
    names = [entry.name for entry in spec.layers]
    assert [n for n in names if n.startswith("blocks.")] == [
        f"blocks.{b}.{i}" for b in range(5) for i in range(6)
    ]
    # every copy cites the lines of the one printed block
    line = text.splitlines().index("    (1-3): 3 x Sequential(") + 1
    where = {e.name: e.where for e in spec.layers}
    for i in range(6):
        assert {where[f"blocks.{b}.{i}"] for b in (1, 2, 3)} == {f"model.txt:{line + 1 + i}"}
    report = analyze(spec, (1, 3, 32, 32))
    assert any("'blocks' (ModuleList)" in note for note in report.notes)


def test_repeat_of_one_line_layers(torch: Any) -> None:
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(3, 8, 1), nn.ModuleList([nn.Conv2d(8, 8, 3, padding=1)] * 3))
    text = repr(model)
    assert "(0-2): 3 x Conv2d(8, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))" in text
    spec = spec_of(text)
    assert [e.name for e in spec.layers] == ["0", "1.0", "1.1", "1.2"]
    report = analyze(spec, (1, 3, 10, 10))
    assert report.totals.params == 3 * 8 + 8 + 3 * (8 * 8 * 9 + 8)
    assert report.output_shape == (1, 8, 10, 10)


def test_run_loads_the_state_dict_of_a_printed_model(torch: Any, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = with_batchnorm_statistics(torch, mobile(torch))
    path = printed(tmp_path, model)
    # the export docs/running.md shows
    state = model.state_dict()
    np.savez(tmp_path / "weights.npz", **{k: v.detach().cpu().numpy() for k, v in state.items()})
    x = torch.randn(2, 3, 64, 48, dtype=torch.float64)
    np.save(tmp_path / "x.npy", x.numpy())
    result = cli(
        "run", str(path), "--weights", str(tmp_path / "weights.npz"),
        "--input-data", str(tmp_path / "x.npy"), "--save-output", str(tmp_path / "y.npy"),
        "--dtype", "float64", "-f", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with torch.no_grad():
        expected = model.double()(x).numpy()
    got = np.load(tmp_path / "y.npy")
    assert got.shape == expected.shape == (2, 10)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9 * np.abs(expected).max())


# ------------------------------------------------------------- what is not Python
def test_unquoted_words_and_positional_arguments(torch: Any) -> None:
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding="same", padding_mode="reflect"),
        nn.GroupNorm(2, 8),
        nn.Identity(),
        nn.LayerNorm((8, 8)),
        nn.LPPool2d(float("inf"), 2),
        nn.Hardshrink(0.25),
        nn.ZeroPad2d((1, 0, 1, 0)),
        nn.GELU(approximate="tanh"),
    )
    text = repr(model)
    for printed_arg in ("padding=same", "padding_mode=reflect", "GroupNorm(2, 8, eps=1e-05",
                        "LayerNorm((8, 8), eps=1e-05", "norm_type=inf", "Hardshrink(0.25)"):  # fmt: skip
        assert printed_arg in text
    spec = spec_of(text)
    conv = spec.layers[0].layer
    assert (conv.padding, conv.padding_mode) == ("same", "reflect")
    assert spec.layers[4].layer.norm_type == float("inf")
    assert spec.layers[5].layer.lambd == 0.25
    assert spec.layers[7].layer.approximate == "tanh"
    report = analyze(spec, (1, 3, 8, 8))
    with torch.no_grad():
        y = model(torch.randn(1, 3, 8, 8))
    assert report.output_shape == tuple(y.shape)
    assert report.totals.params == sum(p.numel() for p in model.parameters())


def test_unprinted_arguments_are_torchs_defaults_with_a_note(torch: Any) -> None:
    nn = torch.nn
    model = nn.Sequential(nn.AvgPool2d(3, ceil_mode=True), nn.AvgPool2d(2))
    text = repr(model)
    assert "ceil_mode" not in text  # torch prints neither value
    report = analyze(spec_of(text), (1, 1, 7, 7))
    assert report.rows[0].output_shape == (1, 1, 2, 2)  # ceil_mode=False, as printed
    assert report.notes == (
        "AvgPool2d '0', '1': print(model) never shows ceil_mode, count_include_pad, "
        "divisor_override; read as torch's defaults ceil_mode=False, count_include_pad=True, "
        "divisor_override=None (a non-default value would not have shown)",
    )


# -------------------------------------------------------------- --to-yaml round trip
@pytest.mark.parametrize("model_name", sorted(MODELS))
def test_to_yaml_round_trips(torch: Any, tmp_path: Path, model_name: str) -> None:
    build, x = MODELS[model_name]
    path = printed(tmp_path, build(torch))
    shape = ",".join(map(str, x))
    result = cli("shape", str(path), "--to-yaml", "-i", shape)
    assert result.exit_code == 0, result.output
    (tmp_path / "model.yaml").write_text(result.stdout)
    from_yaml = analyze(load_spec(str(tmp_path / "model.yaml")))
    from_text = analyze(load_spec(str(path)), x)
    assert from_yaml.ok and from_yaml.input_shape == x
    assert _rows(from_yaml) == _rows(from_text)
    assert from_yaml.totals == from_text.totals
    # the printout's notes travel as comments
    for note in from_text.notes:
        assert f"# note: {note}\n" in result.stdout
    # and the table is the same, but for those notes
    table = cli("shape", str(tmp_path / "model.yaml")).stdout
    assert table == "".join(
        line
        for line in cli("shape", str(path), "-i", shape).stdout.splitlines(keepends=True)
        if not any(note in line for note in from_text.notes)
    )


def test_to_yaml_of_a_yaml_file_is_refused() -> None:
    result = cli("shape", str(ROOT / "examples" / "lenet.yaml"), "--to-yaml")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and "is not a print(model) printout" in result.stderr


def test_printout_from_stdin(torch: Any) -> None:
    nn = torch.nn
    result = cli(
        "shape", "-", "-i", "1,3,8,8", "-f", "json", input=repr(nn.Sequential(nn.Conv2d(3, 4, 3)))
    )
    assert result.exit_code == 0, result.output
    assert '"output_shape": [1, 4, 6, 6]' in result.stdout


# ----------------------------------------------------------------- what is refused
def test_a_module_with_its_own_forward_is_refused(torch: Any, tmp_path: Path) -> None:
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3)
            self.fc = nn.Linear(8, 2)

    class BasicBlock(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(8, 8, 3, padding=1)

    path = printed(tmp_path, Net())
    result = cli("shape", str(path), "-i", "1,3,8,8")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: {path}:1: Net is not an nn.Sequential, nn.ModuleList or nn.ModuleDict: its "
        "printout does not show what its forward does between its children",
        "  hint: write its wiring in YAML with from: and blocks:, or print its nn.Sequential "
        "parts (print(model.features)) and pass each with --input",
    ]
    nested = nn.Sequential(OrderedDict(stem=nn.Conv2d(3, 8, 3), layer1=nn.Sequential(BasicBlock())))
    path = printed(tmp_path, nested, "nested.txt")
    result = cli("shape", str(path), "-i", "1,3,8,8", "--to-yaml")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0].startswith(
        f"error: {path}:4: 'layer1.0' (BasicBlock) is not an nn.Sequential"
    )


VGG_TEXT = """Sequential(
  (0): Conv2d(3, 64, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
  (1): ReLU(inplace=True)
  (2): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
)
"""

HOSTILE = {
    "truncated": (
        "".join(VGG_TEXT.splitlines(keepends=True)[:3]),
        "model.txt:1: Sequential is never closed: the printout is cut short",
    ),
    "truncated mid-line": (
        VGG_TEXT[:120],
        "model.txt:4: expected a module such as Conv2d(...), found 'Max'",
    ),
    "unbalanced": (
        "Sequential(\n  (0): Conv2d(3, 64, kernel_size=(3, 3)\n)\n",
        "model.txt:2: cannot read 'Conv2d(3, 64, kernel_size=(3, 3)': its parentheses do not balance",
    ),
    "giant repeat": (
        "ModuleList(\n  (0-999999999): 1000000000 x ReLU()\n)\n",
        f"model.txt:2: (0-999999999) repeats a module more than {MAX_LAYERS:,} times",
    ),
    "huge numbers": (
        f"ModuleList(\n  (0-{'9' * 5000}): {'9' * 5000} x ReLU()\n)\n",
        f"model.txt:2: (0-999999999999999999999999999…) repeats a module more than {MAX_LAYERS:,} times",
    ),
    "huge argument": (
        f"Sequential(\n  (0): Conv2d({'9' * 5000}, 3, 3)\n)\n",
        "model.txt:2: cannot read 'Conv2d(99999999999",
    ),
    "nested repeats": (
        "ModuleList(\n  (0-1000): 1001 x ModuleList(\n    (0-999): 1000 x ReLU()\n  )\n)\n",
        f"model.txt:2: the printout expands to more than {MAX_LAYERS:,} layers",
    ),
    "wrong count": (
        "ModuleList(\n  (0-2): 5 x ReLU()\n)\n",
        "model.txt:2: (0-2): 5 x ...: the range holds 3 modules, not 5",
    ),
    "deep nesting": (
        "".join(f"{'  ' * i}{'(0): ' if i else ''}Sequential(\n" for i in range(5000)),
        "model.txt:101: containers are nested more than 100 deep",
    ),
    "deep parentheses": (
        "Sequential(\n  (0): Conv2d(" + "(" * 5000 + ")" * 5000 + ")\n)\n",
        "model.txt:2: cannot read 'Conv2d(((((((((((((((((((((((((((((((((((((((((((((((((((((…': "
        "arguments must be numbers, words, tuples and lists",
    ),
    "junk": (
        "Sequential(\n  (0): Conv2d(\x00\x01\x7f, 3)\n)\n",
        "model.txt:2: cannot read 'Conv2d(\\x00\\x01\\x7f, 3)': arguments must be numbers, words, tuples and lists",
    ),
    "junk line": (
        "Sequential(\n\x00\x02garbage\n)\n",
        "model.txt:2: cannot read '\\x00\\x02garbage' in Sequential",
    ),
    "text after": (
        VGG_TEXT + "Sequential(\n",
        "model.txt:6: unexpected text after the printout's last ')'",
    ),
    "dotted key": (
        "Sequential(\n  (a.b): ReLU()\n)\n",
        "model.txt:2: (a.b): a module name cannot be empty or contain '.'",
    ),
    "code": (
        "Sequential(\n  (0): Conv2d(__import__('os').getcwd())\n)\n",
        "model.txt:2: cannot read",
    ),
    "empty": ("Sequential()\n", "model.txt:1: the printout has no layers"),
    "unknown type": (
        "Sequential(\n  (0): Conv2D(3, 8, kernel_size=(3, 3), stride=(1, 1))\n)\n",
        "model.txt:2, 0: unknown layer type",
    ),
    "bad argument": (
        "Sequential(\n  (body): Sequential(\n    (0): Conv2d(3, 8, kernal_size=(3, 3))\n  )\n)\n",
        "model.txt:3, body.0.kernal_size: Conv2d has no argument 'kernal_size'",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_printouts_are_one_line_errors(tmp_path: Path, case: str) -> None:
    text, expected = HOSTILE[case]
    path = tmp_path / "model.txt"
    path.write_text(text)
    start = time.perf_counter()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)  # errors cite the path as given
        result = cli("shape", "model.txt", "-i", "1,3,8,8")
    assert time.perf_counter() - start < 5
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"error: {expected}"), lines[0]
    assert len(lines) <= 2 and all(line.startswith("  hint: ") for line in lines[1:])


def test_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.txt"
    path.write_bytes(b"Sequential(\n  (0): \xff\xfe\x00junk\n)\n")
    result = cli("shape", str(path))
    assert result.exit_code == 2
    assert result.stderr == f"error: {path}: not a text file (it is not UTF-8)\n"


def test_mangled_printouts_never_escape_as_exceptions() -> None:
    """A little fuzzing: characters of a real printout deleted, doubled or replaced."""
    rng = random.Random("printout-fuzz")
    alphabet = "()[]:,=x- 0123456789\n\tSequentialModuleListReLUConv2d'\"."
    outcomes = set()
    for _ in range(400):
        text = list(VGG_TEXT)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(text))
            action = rng.randrange(3)
            if action == 0:
                del text[i]
            elif action == 1:
                text.insert(i, text[i])
            else:
                text[i] = rng.choice(alphabet)
        try:
            report = analyze(spec_of("".join(text)), (1, 3, 16, 16))
            outcomes.add("ok" if report.ok else "model error")
        except SpecError as exc:
            assert "\n" not in exc.message
            assert re.match(r"model\.txt(:\d+)?", exc.message), exc.message
            outcomes.add("read error")
    assert outcomes == {"ok", "model error", "read error"}


def test_read_printout_gives_the_config_data() -> None:
    printout = read_printout(VGG_TEXT.replace("(2)", "(pool)"), "vgg.txt")
    assert printout.layers == [
        {"0": "Conv2d(3, 64, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"},
        {"1": "ReLU(inplace=True)"},
        {
            "pool": "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False, return_indices=False)"
        },
    ]
    assert printout.lines == [2, 3, 4]


# -------------------------------------------------------------------- the example
def test_example_is_torchs_printout(torch: Any) -> None:
    assert EXAMPLE.read_text() == repr(vgg16_features(torch)) + "\n"
    assert EXAMPLE.read_text() == (TORCHVISION / "vgg16-features.txt").read_text()


def test_printouts_are_told_from_yaml_by_their_first_line() -> None:
    from convcalc.printout import is_printout

    assert is_printout("Sequential(\n  (0): ReLU()\n)\n")
    assert is_printout("\n\n\ufeffModuleDict(\n")
    assert is_printout("Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1))\n")
    for path in [*ROOT.glob("examples/*.yaml"), *ROOT.glob("convcalc/models/zoo/*.yaml")]:
        assert not is_printout(path.read_text()), path
    assert not is_printout("- Conv2d(3, 8, 3)\n")


def test_empty_containers_run_nothing_and_a_lone_layer_is_layer_0(torch: Any) -> None:
    nn = torch.nn
    model = nn.Sequential(nn.Sequential(), nn.ModuleList(), nn.ReLU())
    spec = spec_of(repr(model))
    assert [(e.name, e.type) for e in spec.layers] == [("2", "ReLU")]
    spec = spec_of(repr(nn.Conv2d(3, 8, 3)))
    assert [(e.name, e.type) for e in spec.layers] == [("0", "Conv2d")]
    assert analyze(spec, (1, 3, 5, 5)).output_shape == (1, 8, 3, 3)


# ------------------------------------------------------ torchvision's own printouts
# tests/fixtures/make_printouts.py wrote each part of a torchvision model as print() shows
# it, with torch's figures at the input the part receives inside the model.

#: parts whose forward is not a chain, refused: (line, module, the zoo model the hint names)
TORCHVISION_REFUSED = {
    "resnet18-layer1": (2, "'0' (BasicBlock)", "resnet18"),
    "mobilenet_v2-features": (7, "'1' (InvertedResidual)", "mobilenet_v2"),
    "mobilenet_v3_large-features": (7, "'1' (InvertedResidual)", "mobilenet_v2"),
    "densenet121-features": (6, "'denseblock1' (_DenseBlock)", "densenet121"),
    "squeezenet1_0-features": (5, "'3' (Fire)", "squeezenet1_0"),
    "efficientnet_b0-features.1": (2, "'0' (MBConv)", "efficientnet_b0"),
}
TORCHVISION_PARTS = sorted(path.stem for path in TORCHVISION.glob("*.txt"))


def torchvision_figures(part: str) -> dict[str, Any]:
    figures: dict[str, Any] = json.loads((TORCHVISION / f"{part}.json").read_text())
    return figures


def test_torchvision_fixtures_are_all_there() -> None:
    assert set(TORCHVISION_REFUSED) < set(TORCHVISION_PARTS)
    for part in ("vgg16-features", "vgg16-classifier", "alexnet-features", "mobilenet_v2-features.0",
                 "densenet121-features.transition1", "squeezenet1_0-classifier",
                 "efficientnet_b0-features.0"):  # fmt: skip
        assert part in TORCHVISION_PARTS
    assert {path.stem for path in TORCHVISION.glob("*.json")} == set(TORCHVISION_PARTS)


@pytest.mark.parametrize("part", [p for p in TORCHVISION_PARTS if p not in TORCHVISION_REFUSED])
def test_torchvision_printout_matches_torch(part: str) -> None:
    expected = torchvision_figures(part)
    spec = load_spec(str(TORCHVISION / f"{part}.txt"))
    report = analyze(spec, tuple(expected["input_shape"]))
    assert report.ok, report.errors
    assert report.output_shape == tuple(expected["output_shape"])
    assert report.totals.params == expected["params"]
    assert report.totals.macs == expected["macs"]
    assert sorted(convcalc_keys(spec, report)) == expected["state_dict_keys"]


@pytest.mark.parametrize("part", sorted(TORCHVISION_REFUSED))
def test_torchvision_block_with_its_own_forward_is_refused(part: str) -> None:
    line, module, zoo_model = TORCHVISION_REFUSED[part]
    path = TORCHVISION / f"{part}.txt"
    result = cli(
        "shape", str(path), "-i", ",".join(map(str, torchvision_figures(part)["input_shape"]))
    )
    assert result.exit_code == 2, result.output
    error, hint = result.stderr.splitlines()
    assert error.startswith(f"error: {path}:{line}: {module} is not an nn.Sequential")
    assert f"; torchvision's {module.split('(')[1][:-1]} " in error
    assert hint.endswith(
        f"; `convcalc zoo {zoo_model}` writes a built-in model with that wiring to start from"
    )
    assert cli("zoo", zoo_model).exit_code == 0


def test_resnet_layer1_error_in_full() -> None:
    path = TORCHVISION / "resnet18-layer1.txt"
    result = cli("shape", str(path), "-i", "1,64,56,56")
    assert result.stderr.splitlines() == [
        f"error: {path}:2: '0' (BasicBlock) is not an nn.Sequential, nn.ModuleList or "
        "nn.ModuleDict: its printout does not show what its forward does between its children; "
        "torchvision's BasicBlock adds its input to its output",
        "  hint: write its wiring in YAML with from: and blocks:, or print its nn.Sequential "
        "parts (print(model.features)) and pass each with --input; `convcalc zoo resnet18` "
        "writes a built-in model with that wiring to start from",
    ]


def test_the_hint_names_the_sequential_parts_inside_the_refused_module() -> None:
    path = TORCHVISION / "mobilenet_v2-features.txt"
    hint = cli("shape", str(path), "-i", "1,3,224,224").stderr.splitlines()[1]
    assert hint.startswith("  hint: print its nn.Sequential parts ('1.conv') and pass each")
    vgg = (
        "VGG(\n  (features): Sequential(\n    (0): ReLU()\n  )\n"
        "  (avgpool): AdaptiveAvgPool2d(output_size=(7, 7))\n"
        "  (classifier): Sequential(\n    (0): Dropout(p=0.5, inplace=False)\n  )\n)\n"
    )
    result = cli("shape", "-", "-i", "1,3,8,8", input=vgg)
    assert result.stderr.splitlines() == [
        "error: <stdin>:1: VGG is not an nn.Sequential, nn.ModuleList or nn.ModuleDict: its "
        "printout does not show what its forward does between its children; torchvision's VGG "
        "flattens between avgpool and classifier",
        "  hint: print its nn.Sequential parts ('features', 'classifier') and pass each with "
        "--input, or write its wiring in YAML with from: and blocks:; `convcalc zoo vgg16` "
        "writes a built-in model with that wiring to start from",
    ]


def test_known_sequential_subclasses_are_read_as_sequential_with_a_note() -> None:
    path = TORCHVISION / "mobilenet_v2-features.2.conv.txt"
    text = path.read_text()
    assert "(0): Conv2dNormActivation(" in text
    spec = load_spec(str(path))
    assert [e.name for e in spec.layers][:4] == ["0.0", "0.1", "0.2", "1.0"]
    assert analyze(spec, (1, 16, 112, 112)).notes == (
        "Conv2dNormActivation '0', '1': read as an nn.Sequential, as "
        "torchvision.ops.misc.Conv2dNormActivation is (its forward runs its children in order)",
    )
    # a subclass printed at the top is the whole printout
    spec = load_spec("stem.txt", text="Conv2dNormActivation(\n  (0): ReLU()\n)\n")
    assert spec.warnings[-1].startswith(
        "Conv2dNormActivation (the whole printout): read as an nn.Sequential"
    )
    # any other class name stays an error, and so does a user's MLP with named children
    with pytest.raises(SpecError, match=r"mlp\.txt:1: MLP is not an nn\.Sequential"):
        load_spec("mlp.txt", text="MLP(\n  (fc1): Linear(4, 8)\n  (fc2): Linear(8, 2)\n)\n")
    spec = load_spec("mlp.txt", text="MLP(\n  (0): Linear(4, 8)\n  (1): ReLU()\n)\n")
    assert spec.warnings[-1].startswith("MLP (the whole printout): read as an nn.Sequential, as ")
    with pytest.raises(SpecError, match=r"stage\.txt:1: Stage is not an nn\.Sequential"):
        load_spec("stage.txt", text="Stage(\n  (0): ReLU()\n)\n")


@pytest.mark.torchvision
def test_torchvisions_sequential_subclasses_are_all_known(torch: Any) -> None:
    """The list is every nn.Sequential subclass of torchvision that keeps Sequential's forward,
    where torchvision is installed (the list was written from this check)."""
    torchvision = import_torchvision(torch)
    import importlib
    import pkgutil

    from convcalc.printout import SEQUENTIAL_SUBCLASSES

    found = {}
    for info in pkgutil.walk_packages(torchvision.__path__, "torchvision."):
        if ".prototype" in info.name or "._" in info.name:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                module = importlib.import_module(info.name)
            except Exception:  # noqa: BLE001 - an optional dependency of one submodule
                continue
        for cls in vars(module).values():
            if (
                isinstance(cls, type)
                and issubclass(cls, torch.nn.Sequential)
                and cls.__module__.startswith("torchvision.")
                and cls.forward is torch.nn.Sequential.forward
            ):
                found[cls.__name__] = cls.__module__
    assert found == SEQUENTIAL_SUBCLASSES


def test_a_printout_layer_error_carries_its_place_in_json(tmp_path: Path) -> None:
    """The JSON error fields name the printout's file and line, as they do for YAML."""
    import json

    path = tmp_path / "model.txt"
    path.write_text(
        "Sequential(\n"
        "  (0): Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1))\n"
        "  (1): Conv2d(5, 8, kernel_size=(3, 3), stride=(1, 1))\n"
        ")\n"
    )
    result = cli("shape", str(path), "-i", "1,3,8,8", "-f", "json")
    assert result.exit_code == 1
    error = json.loads(result.stdout)["errors"][0]
    assert (error["file"], error["line"]) == (str(path), 3)
    assert error["location"] == f"{path}:3, 1.in_channels"


# ------------------------------------------------------------- read once
def test_a_printouts_calls_are_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each call's arguments, read by the printout reader, are what parsing its text gives;
    the builder takes them as they are and parses nothing again."""
    from convcalc import graph
    from convcalc.expr import parse_call

    texts = [p.read_text() for p in sorted(TORCHVISION.glob("*.txt"))] + [EXAMPLE.read_text()]
    calls = []
    for text in texts:
        try:
            printout = read_printout(text)
        except SpecError:
            continue  # a part whose forward is its own (refused, and tested so above)
        calls += [call for entry in printout.layers for call in entry.values()]
    assert len(calls) > 200
    for call in calls:
        assert parse_call(str(call)) == (call.type_name, call.positional, dict(call.keywords))

    def refuse(*args: Any) -> None:
        raise AssertionError("parsed again")

    monkeypatch.setattr(graph, "parse_call", refuse)
    spec = spec_of(EXAMPLE.read_text())
    assert [e.type for e in spec.layers][:3] == ["Conv2d", "ReLU", "Conv2d"]


def test_a_printouts_integer_beyond_the_bound_is_refused_where_it_is() -> None:
    big = "9" * 100
    with pytest.raises(SpecError) as info:
        spec_of(f"Sequential(\n  (0): ReLU()\n  (1): Conv2d({big}, 3, 3)\n)\n")
    assert info.value.message == (
        f"model.txt:3: cannot read 'Conv2d({big[:52]}…': a number beyond 2**256"
    )
