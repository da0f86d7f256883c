"""Zoo part B: MobileNetV2, MobileNetV3-Large, EfficientNet-B0, SqueezeNet 1.0, GoogLeNet, DenseNet-121.

At 1×3×224×224 each file must reproduce torchvision's published parameter count and the
exact conv+linear MACs (bias excluded, = torch.utils.flop_counter total / 2). The
state_dict figures (number of keys, including BatchNorm's num_batches_tracked, and a few
sample keys with their shapes) were taken from reference models built in torch 2.13
after torchvision's source; they check that the layer names map onto torchvision's
state_dict keys. No torch here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from convcalc import analyze, load_spec

ZOO = Path(__file__).resolve().parents[2] / "convcalc" / "models" / "zoo"

#: model file → (params, MACs) at 1×3×224×224: torchvision's published figures
PUBLISHED = {
    "mobilenet_v2": (3_504_872, 300_774_272),
    "mobilenet_v3_large": (5_483_032, 216_589_760),
    "efficientnet_b0": (5_288_548, 385_814_752),
    "squeezenet1_0": (1_248_424, 818_924_576),
    "googlenet": (6_624_904, 1_498_376_192),
    "densenet121": (7_978_856, 2_834_161_664),
}

#: model file → (number of state_dict keys, sample keys with their shapes), from torch
STATE_DICT = {
    "mobilenet_v2": (
        314,
        {
            "features.0.0.weight": (32, 3, 3, 3),
            "features.1.conv.0.0.weight": (32, 1, 3, 3),
            "features.1.conv.1.weight": (16, 32, 1, 1),
            "features.2.conv.0.0.weight": (96, 16, 1, 1),
            "features.2.conv.1.0.weight": (96, 1, 3, 3),
            "features.17.conv.3.running_var": (320,),
            "features.18.0.weight": (1280, 320, 1, 1),
            "classifier.1.weight": (1000, 1280),
        },
    ),
    "mobilenet_v3_large": (
        312,
        {
            "features.0.0.weight": (16, 3, 3, 3),
            "features.1.block.0.0.weight": (16, 1, 3, 3),
            "features.1.block.1.1.running_mean": (16,),
            "features.4.block.1.0.weight": (72, 1, 5, 5),
            "features.4.block.2.fc1.weight": (24, 72, 1, 1),
            "features.4.block.2.fc2.bias": (72,),
            "features.4.block.3.0.weight": (40, 72, 1, 1),
            "features.14.block.2.fc1.weight": (240, 960, 1, 1),
            "features.16.0.weight": (960, 160, 1, 1),
            "classifier.0.weight": (1280, 960),
            "classifier.3.weight": (1000, 1280),
        },
    ),
    "efficientnet_b0": (
        360,
        {
            "features.0.0.weight": (32, 3, 3, 3),
            "features.1.0.block.0.0.weight": (32, 1, 3, 3),
            "features.1.0.block.1.fc1.weight": (8, 32, 1, 1),
            "features.1.0.block.2.0.weight": (16, 32, 1, 1),
            "features.2.0.block.0.0.weight": (96, 16, 1, 1),
            "features.3.0.block.1.0.weight": (144, 1, 5, 5),
            "features.3.0.block.2.fc1.weight": (6, 144, 1, 1),
            "features.6.3.block.2.fc2.bias": (1152,),
            "features.7.0.block.3.1.running_var": (320,),
            "features.8.0.weight": (1280, 320, 1, 1),
            "classifier.1.weight": (1000, 1280),
        },
    ),
    "squeezenet1_0": (
        52,
        {
            "features.0.weight": (96, 3, 7, 7),
            "features.3.squeeze.weight": (16, 96, 1, 1),
            "features.3.expand3x3.weight": (64, 16, 3, 3),
            "features.12.expand1x1.bias": (256,),
            "classifier.1.weight": (1000, 512, 1, 1),
        },
    ),
    "googlenet": (
        344,
        {
            "conv1.conv.weight": (64, 3, 7, 7),
            "conv1.bn.num_batches_tracked": (),
            "inception3a.branch1.conv.weight": (64, 192, 1, 1),
            "inception3a.branch2.1.conv.weight": (128, 96, 3, 3),
            "inception3a.branch3.1.conv.weight": (32, 16, 3, 3),
            "inception3a.branch4.1.bn.running_var": (32,),
            "inception5b.branch4.1.conv.weight": (128, 832, 1, 1),
            "fc.weight": (1000, 1024),
        },
    ),
    "densenet121": (
        727,
        {
            "features.conv0.weight": (64, 3, 7, 7),
            "features.denseblock1.denselayer1.norm1.weight": (64,),
            "features.denseblock1.denselayer6.conv1.weight": (128, 224, 1, 1),
            "features.denseblock3.denselayer24.conv2.weight": (32, 128, 3, 3),
            "features.transition3.conv.weight": (512, 1024, 1, 1),
            "features.denseblock4.denselayer16.norm1.running_mean": (992,),
            "features.norm5.weight": (1024,),
            "classifier.weight": (1000, 1024),
        },
    ),
}


@pytest.fixture(scope="module", params=sorted(PUBLISHED))
def model(request):
    spec = load_spec(str(ZOO / f"{request.param}.yaml"))
    return request.param, spec, analyze(spec)


def test_the_file_says_what_it_is(model):
    name, spec, _ = model
    first = (ZOO / f"{name}.yaml").read_text().splitlines()[0]
    params, macs = PUBLISHED[name]
    assert first.startswith("# ")
    assert f"{params:,}" in first and f"{macs:,}" in first
    assert spec.name == name
    assert spec.input_shape == (1, 3, 224, 224)


def test_published_params_and_macs(model):
    name, _, report = model
    assert report.ok, report.errors
    assert report.output_shape == (1, 1000)
    assert (report.totals.params, report.totals.macs) == PUBLISHED[name]
    assert report.totals.trainable_params == report.totals.params


def test_no_unused_branches(model):
    _, spec, _ = model
    assert spec.warnings == ()


def test_state_dict_keys_are_torchvisions(model):
    name, spec, report = model
    keys = {}
    for entry, row in zip(spec.layers, report.rows):
        shapes = {**entry.layer.weights(row.input_shape), **entry.layer.buffers(row.input_shape)}
        for suffix, shape in shapes.items():
            keys[f"{entry.name}.{suffix}"] = tuple(shape)
    count, samples = STATE_DICT[name]
    assert len(keys) == count
    for key, shape in samples.items():
        assert keys.get(key) == shape, key
