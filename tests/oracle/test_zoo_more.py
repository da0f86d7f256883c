"""The U-Net, DCGAN generator, M5 audio and R3D-18 video zoo models: exact figures, torch-free.

Every number below was measured on a torch 2.13 build of the same network (torch's
module names, `sum(p.numel())`, `FlopCounterMode` total // 2, `state_dict()`), and the
DCGAN and R3D-18 parameter counts are the published ones (PyTorch DCGAN tutorial,
torchvision's r3d_18).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from convcalc import analyze, load_spec
from convcalc.forward import expected_entries

ZOO = Path(__file__).resolve().parents[2] / "convcalc" / "models" / "zoo"

# file → input, output, params, MACs (at the file's own input)
PUBLISHED = {
    "dcgan_generator": ((1, 100, 1, 1), (1, 3, 64, 64), 3_576_704, 104_628_224),
    "unet_small": ((1, 3, 128, 128), (1, 2, 128, 128), 1_927_042, 2_305_294_336),
    "audio1d": ((1, 1, 8000), (1, 10), 559_114, 67_427_328),
    "video3d": ((1, 3, 16, 112, 112), (1, 400), 33_371_472, 40_696_553_472),
}

# file → another input (batch 2, non-square, short clips), its output and MACs, from torch
OTHER_INPUTS = {
    "dcgan_generator": ((2, 100, 1, 1), (2, 3, 64, 64), 209_256_448),
    "unet_small": ((1, 3, 48, 64), (1, 2, 48, 64), 432_242_688),
    "audio1d": ((2, 1, 2000), (2, 10), 29_915_136),
    "video3d": ((1, 3, 4, 32, 48), (1, 400), 1_320_722_432),
}

# file → state_dict entries (num_batches_tracked included), batch-norm running-statistic elements
STATE_DICT = {
    "dcgan_generator": (25, 1_920),
    "unet_small": (92, 2_816),
    "audio1d": (30, 2_048),
    "video3d": (122, 9_600),
}


def state_dict(stem: str, shape=None) -> dict[str, tuple[int, ...]]:
    spec = load_spec(str(ZOO / f"{stem}.yaml"))
    report = analyze(spec, shape)
    assert report.ok
    keys: dict[str, tuple[int, ...]] = {}
    for entry, row in zip(spec.layers, report.rows):
        for suffix, s in expected_entries(entry, row.input_shape).items():
            keys[f"{entry.name}.{suffix}"] = tuple(s)
    return keys


@pytest.mark.parametrize("stem", sorted(PUBLISHED))
def test_published_figures(stem):
    x, y, params, macs = PUBLISHED[stem]
    path = ZOO / f"{stem}.yaml"
    report = analyze(load_spec(str(path)))
    assert report.ok, report.errors
    assert report.input_shape == x
    assert report.output_shape == y
    assert report.totals.params == params
    assert report.totals.trainable_params == params
    assert report.totals.macs == macs
    # the one-line comment says what it is, with these figures
    first = path.read_text().splitlines()[0]
    assert first.startswith("# ") and f"{params:,} params" in first


@pytest.mark.parametrize("stem", sorted(OTHER_INPUTS))
def test_other_input_sizes(stem):
    x, y, macs = OTHER_INPUTS[stem]
    report = analyze(load_spec(str(ZOO / f"{stem}.yaml")), x)
    assert report.ok, report.errors
    assert report.output_shape == y
    assert report.totals.macs == macs
    assert report.totals.params == PUBLISHED[stem][2]


@pytest.mark.parametrize("stem", sorted(STATE_DICT))
def test_state_dict_keys(stem):
    entries, running = STATE_DICT[stem]
    keys = state_dict(stem)
    assert len(keys) == entries
    assert sum(s[0] for k, s in keys.items() if ".running_" in k) == running


def test_torch_module_names():
    dcgan = state_dict("dcgan_generator")
    assert dcgan["main.0.weight"] == (100, 512, 4, 4)
    assert dcgan["main.12.weight"] == (64, 3, 4, 4)
    assert "main.12.bias" not in dcgan  # bias=False, as in the tutorial
    assert dcgan["main.10.running_var"] == (64,)

    unet = state_dict("unet_small")
    assert unet["enc1.0.weight"] == (32, 3, 3, 3)
    assert unet["up3.weight"] == (256, 128, 2, 2)
    assert unet["dec3.0.weight"] == (128, 256, 3, 3)  # after the skip concat: 128 + 128 in
    assert unet["head.weight"] == (2, 32, 1, 1)

    m5 = state_dict("audio1d")
    assert m5["conv1.weight"] == (128, 1, 80)
    assert m5["conv4.weight"] == (512, 256, 3)
    assert m5["fc1.weight"] == (10, 512)

    r3d = state_dict("video3d")
    assert r3d["stem.0.weight"] == (64, 3, 3, 7, 7)
    assert r3d["layer1.0.conv1.0.weight"] == (64, 64, 3, 3, 3)
    assert r3d["layer2.0.downsample.0.weight"] == (128, 64, 1, 1, 1)
    assert r3d["layer4.1.conv2.1.running_mean"] == (512,)
    assert "layer1.0.downsample.0.weight" not in r3d
    assert r3d["fc.weight"] == (400, 512)


def test_dcgan_doubles_the_size_at_every_transposed_conv():
    report = analyze(load_spec(str(ZOO / "dcgan_generator.yaml")))
    sizes = [row.output_shape[1:] for row in report.rows if row.type == "ConvTranspose2d"]
    assert sizes == [(512, 4, 4), (256, 8, 8), (128, 16, 16), (64, 32, 32), (3, 64, 64)]


def test_unet_skip_concats():
    report = analyze(load_spec(str(ZOO / "unet_small.yaml")))
    cats = {row.name: (row.inputs, row.output_shape) for row in report.rows if row.type == "Concat"}
    assert cats == {
        "cat3": (("enc3.5", "up3"), (1, 256, 32, 32)),
        "cat2": (("enc2.5", "up2"), (1, 128, 64, 64)),
        "cat1": (("enc1.5", "up1"), (1, 64, 128, 128)),
    }


def test_unet_needs_a_multiple_of_8():
    """60×60: torch.cat fails (15 vs 14 after three poolings and one upsampling)."""
    report = analyze(load_spec(str(ZOO / "unet_small.yaml")), (1, 3, 60, 60))
    assert not report.ok
    (error,) = report.errors
    assert error.name == "cat3"
    assert "(1, 128, 15, 15)" in error.message and "(1, 128, 14, 14)" in error.message


def test_m5_shortest_clip():
    """torch: 1,772 samples is the shortest input M5 takes (1,771 leaves pool4 nothing)."""
    spec = load_spec(str(ZOO / "audio1d.yaml"))
    assert analyze(spec, (1, 1, 1772)).ok
    report = analyze(spec, (1, 1, 1771))
    assert [e.name for e in report.errors] == ["pool4"]


def test_r3d_18_takes_a_single_pixel_frame():
    """torch: every padded 3×3×3 stage keeps at least one voxel, so 1×1×1 runs."""
    report = analyze(load_spec(str(ZOO / "video3d.yaml")), (1, 3, 1, 1, 1))
    assert report.ok and report.output_shape == (1, 400)
