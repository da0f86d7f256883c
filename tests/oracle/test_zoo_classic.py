"""The zoo's classic CNNs (LeNet-5, AlexNet, VGG-16, ResNet-18/34/50/101, Wide ResNet-50-2, ResNeXt-50,
MobileNetV1) and the block library.

Params are torchvision's published counts; MACs are the exact conv + linear MACs
(bias excluded) = torch.utils.flop_counter's total / 2. Every number below was
checked against a torch model built from torchvision's source (params, MACs,
output shape, and state_dict keys and shapes); the tests themselves need no torch.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from convcalc import analyze, load_spec
from convcalc.forward import expected_entries, run_forward

ROOT = Path(__file__).resolve().parents[2]
ZOO = ROOT / "convcalc" / "models" / "zoo"
BLOCKS = ROOT / "convcalc" / "models" / "blocks.yaml"
DEMO = ROOT / "examples" / "blocks-demo.yaml"

# model: (input, params, MACs, output shape)
TABLE = {
    "lenet5": ((1, 1, 32, 32), 61_706, 416_520, (1, 10)),
    "alexnet": ((1, 3, 224, 224), 61_100_840, 714_188_480, (1, 1000)),
    "vgg16": ((1, 3, 224, 224), 138_357_544, 15_470_264_320, (1, 1000)),
    "resnet18": ((1, 3, 224, 224), 11_689_512, 1_814_073_344, (1, 1000)),
    "resnet34": ((1, 3, 224, 224), 21_797_672, 3_663_761_408, (1, 1000)),
    "resnet50": ((1, 3, 224, 224), 25_557_032, 4_089_184_256, (1, 1000)),
    "resnet101": ((1, 3, 224, 224), 44_549_160, 7_801_405_440, (1, 1000)),
    "wide_resnet50_2": ((1, 3, 224, 224), 68_883_240, 11_398_021_120, (1, 1000)),
    "resnext50_32x4d": ((1, 3, 224, 224), 25_028_904, 4_230_479_872, (1, 1000)),
    "mobilenet_v1": ((1, 3, 224, 224), 4_231_976, 568_740_352, (1, 1000)),
}


def _spec(name: str):
    return load_spec(str(ZOO / f"{name}.yaml"))


@pytest.mark.parametrize("name", sorted(TABLE))
def test_zoo_model_reproduces_the_published_figures(name):
    shape, params, macs, out = TABLE[name]
    report = analyze(_spec(name))
    assert report.ok, report.errors
    assert report.input_shape == shape
    assert report.output_shape == out
    assert (report.totals.params, report.totals.trainable_params) == (params, params)
    assert report.totals.macs == macs
    assert not report.notes  # no unused branch, nothing left uncounted


@pytest.mark.parametrize("name", sorted(TABLE))
def test_zoo_file_header(name):
    lines = (ZOO / f"{name}.yaml").read_text().splitlines()
    assert lines[0].startswith("# ") and len(lines[0]) > 20
    assert f"{TABLE[name][1]:,}" in lines[0]  # the comment states the params
    assert lines[1] == f"name: {name}"
    assert lines[2].startswith("input: ")


def _state_dict(spec) -> dict[str, tuple[int, ...]]:
    report = analyze(spec)
    return {
        f"{entry.name}.{suffix}": tuple(shape)
        for entry, row in zip(spec.layers, report.rows)
        for suffix, shape in expected_entries(entry, row.input_shape).items()
    }


def _bn(prefix: str, c: int) -> dict[str, tuple[int, ...]]:
    return {
        f"{prefix}.weight": (c,),
        f"{prefix}.bias": (c,),
        f"{prefix}.running_mean": (c,),
        f"{prefix}.running_var": (c,),
        f"{prefix}.num_batches_tracked": (),
    }


def test_resnet18_weights_are_torchvisions_state_dict():
    """torchvision.models.resnet18().state_dict(): the same keys and shapes, no renaming."""
    want: dict[str, tuple[int, ...]] = {"conv1.weight": (64, 3, 7, 7), **_bn("bn1", 64)}
    c_in = 64
    for stage, c in enumerate((64, 128, 256, 512), start=1):
        for i in range(2):
            p = f"layer{stage}.{i}"
            first_in = c_in if i == 0 else c
            want[f"{p}.conv1.weight"] = (c, first_in, 3, 3)
            want.update(_bn(f"{p}.bn1", c))
            want[f"{p}.conv2.weight"] = (c, c, 3, 3)
            want.update(_bn(f"{p}.bn2", c))
            if i == 0 and stage > 1:
                want[f"{p}.downsample.0.weight"] = (c, c_in, 1, 1)
                want.update(_bn(f"{p}.downsample.1", c))
        c_in = c
    want.update({"fc.weight": (1000, 512), "fc.bias": (1000,)})
    assert len(want) == 122
    assert _state_dict(_spec("resnet18")) == want


def test_resnet50_downsample_and_bottleneck_names():
    keys = _state_dict(_spec("resnet50"))
    assert len(keys) == 320  # torchvision's resnet50().state_dict(), with num_batches_tracked
    assert keys["layer1.0.downsample.0.weight"] == (256, 64, 1, 1)  # layer1 widens 64 → 256
    assert keys["layer2.0.conv2.weight"] == (128, 128, 3, 3)  # v1.5: the stride is on conv2
    assert keys["layer4.2.conv3.weight"] == (2048, 512, 1, 1)
    assert "layer1.1.downsample.0.weight" not in keys


def test_resnext_bottlenecks_are_grouped_as_torchvisions():
    """width = c · base_width / 64 · groups: 32 groups of 4 channels in layer1, of 32 in layer4."""
    keys = _state_dict(_spec("resnext50_32x4d"))
    assert len(keys) == 320  # the same keys as ResNet-50
    assert keys["layer1.0.conv1.weight"] == (128, 64, 1, 1)
    assert keys["layer1.0.conv2.weight"] == (128, 4, 3, 3)
    assert keys["layer4.2.conv2.weight"] == (1024, 32, 3, 3)
    assert keys["layer4.2.conv3.weight"] == (2048, 1024, 1, 1)


@pytest.mark.parametrize(
    ("name", "keys", "sample"),
    [
        ("resnet34", 218, {"layer3.5.conv2.weight": (256, 256, 3, 3), "fc.weight": (1000, 512)}),
        ("resnet101", 626, {"layer3.22.conv3.weight": (1024, 256, 1, 1)}),
        ("wide_resnet50_2", 320, {"layer1.0.conv2.weight": (128, 128, 3, 3)}),
    ],
)
def test_deeper_and_wider_resnets_have_torchvisions_keys(name, keys, sample):
    """Numbers of state_dict keys (with num_batches_tracked) and sample shapes, from torch
    models built after torchvision's resnet.py."""
    got = _state_dict(_spec(name))
    assert len(got) == keys
    assert {k: got[k] for k in sample} == sample


def test_residual_wiring():
    """The Add reads bn2 and the block input, or the downsample branch when there is one."""
    inputs = {entry.name: entry.inputs for entry in _spec("resnet18").layers}
    assert inputs["layer1.0.add"] == ("layer1.0.bn2", "maxpool")
    assert inputs["layer1.1.add"] == ("layer1.1.bn2", "layer1.0.relu2")
    assert inputs["layer2.0.downsample.0"] == ("layer1.1.relu2",)
    assert inputs["layer2.0.add"] == ("layer2.0.bn2", "layer2.0.downsample.1")
    assert inputs["avgpool"] == ("layer4.1.relu2",)


def test_alexnet_and_vgg_use_torchvisions_sequential_indices():
    alex = _state_dict(_spec("alexnet"))
    assert alex["features.10.weight"] == (256, 256, 3, 3)
    assert alex["classifier.1.weight"] == (4096, 9216)
    assert alex["classifier.6.weight"] == (1000, 4096)
    vgg = _state_dict(_spec("vgg16"))
    assert len(vgg) == 32
    assert vgg["features.28.weight"] == (512, 512, 3, 3)
    assert vgg["classifier.0.weight"] == (4096, 25088)
    assert vgg["classifier.6.weight"] == (1000, 4096)


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("lenet5", (1, 1, 32, 32)),
        ("resnet18", (1, 3, 32, 32)),
        ("resnet50", (1, 3, 32, 32)),
        ("mobilenet_v1", (1, 3, 193, 193)),  # the smallest input AvgPool2d(7) accepts
    ],
)
def test_zoo_model_runs(name, shape):
    result = run_forward(_spec(name), input_shape=shape)
    assert result.verified


def test_mobilenet_v1_too_small_input_is_a_model_error():
    report = analyze(_spec("mobilenet_v1"), (1, 3, 192, 192))
    assert not report.ok
    assert report.errors[0].name == "model.14"


# ------------------------------------------------------------------ blocks
BLOCK_TYPES = {
    "ConvBNReLU",
    "ConvBNReLU6",
    "SepConv",
    "DilConv",
    "SkipConnect",
    "DepthwiseSeparable",
    "BasicBlock",
    "Bottleneck",
    "InvertedResidual",
}


def test_block_library_demo_uses_every_block():
    spec = load_spec(str(DEMO))
    used = {block for entry in spec.layers for _, block in entry.path}
    assert used == BLOCK_TYPES
    report = analyze(spec)
    assert report.ok and not report.notes
    assert report.output_shape == (1, 10)
    # checked against the same network built in torch (DARTS' SepConv/DilConv, torchvision's blocks)
    assert (report.totals.params, report.totals.macs) == (91_290, 10_925_312)


def test_block_library_demo_runs():
    assert run_forward(load_spec(str(DEMO))).verified


def _one_block(tmp_path, entry: str, shape: tuple[int, ...]):
    path = tmp_path / "net.yaml"
    path.write_text(f"input: {list(shape)}\nimport: {BLOCKS}\nlayers:\n  - {entry}\n")
    spec = load_spec(str(path))
    return spec, analyze(spec)


@pytest.mark.parametrize(
    ("args", "params", "macs", "out", "first_key", "last_inputs"),
    [
        # torchvision's InvertedResidual(32, 16, 1, expand_ratio=1): no expansion (its keys start at conv.0)
        (
            "c_in: 32, c_out: 16, t: 1, expand: false",
            896,
            204_800,
            (1, 16, 16, 16),
            "b.conv.1.0.weight",
            ("b.conv.2",),
        ),
        # InvertedResidual(16, 24, 2, 6): stride 2, no residual
        (
            "c_in: 16, c_out: 24, stride: 2",
            5_136,
            595_968,
            (1, 24, 8, 8),
            "b.conv.0.0.weight",
            ("b.conv.2",),
        ),
        # InvertedResidual(24, 24, 1, 6): the residual Add
        (
            "c_in: 24, c_out: 24, residual: true",
            8_832,
            2_101_248,
            (1, 24, 16, 16),
            "b.conv.0.0.weight",
            ("b.conv.3", "input"),
        ),
    ],
)
def test_inverted_residual(tmp_path, args, params, macs, out, first_key, last_inputs):
    c_in = int(args.split(",")[0].split(":")[1])
    spec, report = _one_block(
        tmp_path, f"{{type: InvertedResidual, name: b, {args}}}", (1, c_in, 16, 16)
    )
    assert report.ok
    assert (report.totals.params, report.totals.macs, report.output_shape) == (params, macs, out)
    assert first_key in _state_dict(spec)
    assert spec.layers[-1].inputs == last_inputs


def test_basic_block_without_downsample_adds_its_input(tmp_path):
    spec, report = _one_block(tmp_path, "{type: BasicBlock, name: b, c: 8}", (1, 8, 6, 6))
    assert report.ok
    add = next(entry for entry in spec.layers if entry.name == "b.add")
    assert add.inputs == ("b.bn2", "input")
    assert not any("downsample" in entry.name for entry in spec.layers)


def test_basic_block_shortcut_mismatch_is_reported(tmp_path):
    """Stride 2 without the downsample branch: the Add's inputs differ."""
    _, report = _one_block(tmp_path, "{type: BasicBlock, name: b, c: 16, stride: 2}", (1, 8, 8, 8))
    assert not report.ok
    assert report.errors[0].name == "b.add"
