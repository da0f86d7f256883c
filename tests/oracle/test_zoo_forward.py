"""`run` executes every zoo model for real at a small input size and verifies every layer's shape.

Plus, when torch is installed: the U-Net, DCGAN generator, M5, R3D-18, ResNeXt-50 and EfficientNet-B0
zoo files, given the weights of an equivalent torch model exported with docs/running.md's snippet, give
torch's output.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
from clirun import run as cli
from torch_bridge import with_batchnorm_statistics

from convcalc import ShapeError, analyze, load_spec
from convcalc.forward import expected_entries, run_forward

ROOT = Path(__file__).resolve().parents[2]
ZOO = ROOT / "convcalc" / "models" / "zoo"
MODELS = sorted(ZOO.glob("*.yaml"))

#: the small input tried first, per number of spatial dimensions (never larger than the file's)
SMALL = {1: (2048,), 2: (64, 64), 3: (8, 32, 32)}


def _works(spec, shape: tuple[int, ...]) -> bool:
    """Whether ``shape`` goes through every layer (no diagnosis: analyze() searches for hints)."""
    outputs = {"input": shape}
    try:
        for entry in spec.layers:
            entry.layer.check()
            xs = [outputs[name] for name in entry.inputs]
            x = tuple(xs) if entry.layer.multi_input else xs[0]
            outputs[entry.name] = entry.layer.out_shape(x)
    except ShapeError:
        return False
    return True


def small_input(spec) -> tuple[int, ...]:
    """Batch 1 and a small spatial size that the model accepts.

    The file's own spatial size shrunk to SMALL; when the model rejects that (a fixed
    Linear after Flatten, too many stride-2 stages), the first size that works on the
    way back up to the file's own input, one step at a time.
    """
    full = spec.input_shape
    spatial = full[2:]
    target = SMALL.get(len(spatial), spatial)
    small = tuple(min(d, t) for d, t in zip(spatial, target))
    steps = max([d - s for d, s in zip(spatial, small)] + [0])
    for i in range(steps + 1):
        size = tuple(s + (d - s) * i // max(steps, 1) for s, d in zip(small, spatial))
        if _works(spec, (1, full[1]) + size):
            return (1, full[1]) + size
    return full


def cheap_weights(spec, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    """A full state_dict tiled from one small random pool.

    The default initialisation draws every parameter from the generator, which alone
    takes seconds for VGG-16's 138 M parameters; tiling keeps the whole file fast while
    every weight stays non-trivial (scaled by 1/sqrt(fan_in), so activations stay finite).
    """
    report = analyze(spec, shape)
    pool = np.random.default_rng(0).uniform(-1.0, 1.0, 65_537).astype(np.float32)
    state: dict[str, np.ndarray] = {}
    for entry, row in zip(spec.layers, report.rows):
        for suffix, s in expected_entries(entry, row.input_shape).items():
            if suffix == "num_batches_tracked":
                value = np.zeros(s, np.int64)
            elif suffix == "running_mean" or (suffix == "bias" and len(s) == 1):
                value = np.zeros(s, np.float32)
            elif len(s) == 1:  # running_var, a normalisation's scale, PReLU's slope
                value = np.ones(s, np.float32)
            else:
                fan_in = int(np.prod(s[1:]))
                value = np.resize(pool, s) * np.float32(np.sqrt(3.0 / fan_in))
            state[f"{entry.name}.{suffix}"] = value
    return state


def test_there_is_a_zoo():
    assert len(MODELS) >= 4


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_run_verifies_every_zoo_model(path):
    spec = load_spec(str(path))
    assert analyze(spec).ok, f"{path.name} fails at its own input"
    shape = small_input(spec)
    result = run_forward(spec, shape, weights=cheap_weights(spec, shape), dtype="float32", seed=1)
    assert result.report.ok, result.report.errors
    assert result.verified, [
        (row.name, row.output_shape, run.actual_shape)
        for row, run in zip(result.report.rows, result.layers)
        if not run.match
    ]
    assert result.output is not None
    assert np.isfinite(result.output).all()


def test_small_inputs_are_small():
    """The sizes the run test uses for the four models of this part (spatial sizes as chosen)."""
    expected = {
        "dcgan_generator": (1, 100, 1, 1),
        "unet_small": (1, 3, 64, 64),
        "audio1d": (1, 1, 2048),
        "video3d": (1, 3, 8, 32, 32),
    }
    for stem, shape in expected.items():
        assert small_input(load_spec(str(ZOO / f"{stem}.yaml"))) == shape


# ------------------------------------------------------------- against torch


def _double_conv(nn, cin, cout):
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
    )  # fmt: skip


def unet_small(torch):
    nn = torch.nn

    class UNet(nn.Module):
        def __init__(self, cin=3, classes=2, c=32):
            super().__init__()
            self.enc1, self.pool1 = _double_conv(nn, cin, c), nn.MaxPool2d(2)
            self.enc2, self.pool2 = _double_conv(nn, c, 2 * c), nn.MaxPool2d(2)
            self.enc3, self.pool3 = _double_conv(nn, 2 * c, 4 * c), nn.MaxPool2d(2)
            self.bottleneck = _double_conv(nn, 4 * c, 8 * c)
            self.up3, self.dec3 = (
                nn.ConvTranspose2d(8 * c, 4 * c, 2, stride=2),
                _double_conv(nn, 8 * c, 4 * c),
            )
            self.up2, self.dec2 = (
                nn.ConvTranspose2d(4 * c, 2 * c, 2, stride=2),
                _double_conv(nn, 4 * c, 2 * c),
            )
            self.up1, self.dec1 = (
                nn.ConvTranspose2d(2 * c, c, 2, stride=2),
                _double_conv(nn, 2 * c, c),
            )
            self.head = nn.Conv2d(c, classes, 1)

        def forward(self, x):
            e1 = self.enc1(x)
            e2 = self.enc2(self.pool1(e1))
            e3 = self.enc3(self.pool2(e2))
            b = self.bottleneck(self.pool3(e3))
            d3 = self.dec3(torch.cat([e3, self.up3(b)], 1))
            d2 = self.dec2(torch.cat([e2, self.up2(d3)], 1))
            d1 = self.dec1(torch.cat([e1, self.up1(d2)], 1))
            return self.head(d1)

    return UNet()


def dcgan_generator(torch, nz=100, ngf=64, nc=3):
    """The PyTorch DCGAN tutorial's Generator: its module is `main`, an nn.Sequential."""
    nn = torch.nn

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            chans = [nz, ngf * 8, ngf * 4, ngf * 2, ngf]
            layers: list = []
            for i in range(4):
                stride, padding = (1, 0) if i == 0 else (2, 1)
                layers += [
                    nn.ConvTranspose2d(chans[i], chans[i + 1], 4, stride, padding, bias=False),
                    nn.BatchNorm2d(chans[i + 1]),
                    nn.ReLU(True),
                ]
            layers += [nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh()]
            self.main = nn.Sequential(*layers)

        def forward(self, x):
            return self.main(x)

    return Generator()


def m5(torch, classes=10, c=128):
    nn = torch.nn
    chans = [1, c, c, 2 * c, 4 * c]
    mods: list = []
    for i in range(1, 5):
        k, s = (80, 4) if i == 1 else (3, 1)
        mods += [
            (f"conv{i}", nn.Conv1d(chans[i - 1], chans[i], k, stride=s)),
            (f"bn{i}", nn.BatchNorm1d(chans[i])),
            (f"relu{i}", nn.ReLU()),
            (f"pool{i}", nn.MaxPool1d(4)),
        ]
    mods += [
        ("avgpool", nn.AdaptiveAvgPool1d(1)),
        ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(4 * c, classes)),
    ]
    return nn.Sequential(OrderedDict(mods))


def r3d_18(torch, classes=400):
    """torchvision's r3d_18 structure and module names (BasicBlock with 3×3×3 convs)."""
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self, cin, c, stride):
            super().__init__()
            self.conv1 = nn.Sequential(
                nn.Conv3d(cin, c, 3, stride, 1, bias=False),
                nn.BatchNorm3d(c),
                nn.ReLU(inplace=True),
            )
            self.conv2 = nn.Sequential(nn.Conv3d(c, c, 3, 1, 1, bias=False), nn.BatchNorm3d(c))
            self.relu = nn.ReLU(inplace=True)
            self.downsample = None
            if stride != 1 or cin != c:
                self.downsample = nn.Sequential(
                    nn.Conv3d(cin, c, 1, stride, bias=False), nn.BatchNorm3d(c)
                )

        def forward(self, x):
            shortcut = x if self.downsample is None else self.downsample(x)
            return self.relu(self.conv2(self.conv1(x)) + shortcut)

    class R3D(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(
                nn.Conv3d(3, 64, (3, 7, 7), (1, 2, 2), (1, 3, 3), bias=False),
                nn.BatchNorm3d(64),
                nn.ReLU(True),
            )
            cin = 64
            for i, (c, s) in enumerate([(64, 1), (128, 2), (256, 2), (512, 2)], 1):
                setattr(self, f"layer{i}", nn.Sequential(Block(cin, c, s), Block(c, c, 1)))
                cin = c
            self.avgpool = nn.AdaptiveAvgPool3d((1, 1, 1))
            self.fc = nn.Linear(512, classes)

        def forward(self, x):
            x = self.stem(x)
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(self.avgpool(x).flatten(1))

    return R3D()


def resnext50_32x4d(torch):
    """torchvision's resnext50_32x4d (resnet.py's Bottleneck with groups 32, base width 4)."""
    nn = torch.nn

    class Bottleneck(nn.Module):
        def __init__(self, inplanes, planes, stride=1, downsample=None):
            super().__init__()
            width = int(planes * (4 / 64.0)) * 32
            self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.conv2 = nn.Conv2d(width, width, 3, stride, 1, groups=32, bias=False)
            self.bn2 = nn.BatchNorm2d(width)
            self.conv3 = nn.Conv2d(width, planes * 4, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(planes * 4)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = downsample

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.relu(self.bn2(self.conv2(out)))
            out = self.bn3(self.conv3(out))
            return self.relu(out + (x if self.downsample is None else self.downsample(x)))

    class ResNeXt(nn.Module):
        def __init__(self):
            super().__init__()
            self.inplanes = 64
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            self.layer1 = self._layer(64, 3, 1)
            self.layer2 = self._layer(128, 4, 2)
            self.layer3 = self._layer(256, 6, 2)
            self.layer4 = self._layer(512, 3, 2)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(2048, 1000)

        def _layer(self, planes, blocks, stride):
            down = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * 4, 1, stride, bias=False),
                nn.BatchNorm2d(planes * 4),
            )
            layers = [Bottleneck(self.inplanes, planes, stride, down)]
            self.inplanes = planes * 4
            layers += [Bottleneck(self.inplanes, planes) for _ in range(1, blocks)]
            return nn.Sequential(*layers)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    return ResNeXt()


def efficientnet_b0(torch):
    """torchvision's efficientnet_b0 (efficientnet.py: MBConv with squeeze-and-excitation, SiLU;
    stochastic depth is the identity in eval)."""
    nn = torch.nn

    def cna(cin, cout, k, stride=1, groups=1, act=True):
        pad = (k - 1) // 2
        layers = [nn.Conv2d(cin, cout, k, stride, pad, groups=groups, bias=False)]
        layers += [nn.BatchNorm2d(cout)] + ([nn.SiLU(inplace=True)] if act else [])
        return nn.Sequential(*layers)

    class SqueezeExcitation(nn.Module):
        def __init__(self, channels, squeeze):
            super().__init__()
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc1 = nn.Conv2d(channels, squeeze, 1)
            self.fc2 = nn.Conv2d(squeeze, channels, 1)
            self.activation = nn.SiLU(inplace=True)
            self.scale_activation = nn.Sigmoid()

        def forward(self, x):
            s = self.fc2(self.activation(self.fc1(self.avgpool(x))))
            return self.scale_activation(s) * x

    class MBConv(nn.Module):
        def __init__(self, t, k, stride, cin, cout):
            super().__init__()
            self.res = stride == 1 and cin == cout
            wide = cin * t
            layers = [] if t == 1 else [cna(cin, wide, 1)]
            layers += [cna(wide, wide, k, stride, groups=wide), SqueezeExcitation(wide, cin // 4)]
            self.block = nn.Sequential(*layers, cna(wide, cout, 1, act=False))

        def forward(self, x):
            out = self.block(x)
            return out + x if self.res else out

    stages = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
              (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1)]  # fmt: skip
    features = [cna(3, 32, 3, 2)]
    for t, k, s, cin, cout, n in stages:
        blocks = [MBConv(t, k, s if i == 0 else 1, cout if i else cin, cout) for i in range(n)]
        features.append(nn.Sequential(*blocks))
    features.append(cna(320, 1280, 1))

    class EfficientNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(*features)
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.classifier = nn.Sequential(nn.Dropout(0.2, inplace=True), nn.Linear(1280, 1000))

        def forward(self, x):
            return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))

    return EfficientNet()


# zoo file → (torch builder, input): a batch of 2 where cheap, non-square where the model allows
TORCH_MODELS = {
    "dcgan_generator": (dcgan_generator, (2, 100, 1, 1)),
    "unet_small": (unet_small, (1, 3, 48, 64)),
    "audio1d": (m5, (2, 1, 2000)),
    "video3d": (r3d_18, (1, 3, 4, 32, 48)),
    "resnext50_32x4d": (resnext50_32x4d, (1, 3, 64, 80)),
    "efficientnet_b0": (efficientnet_b0, (2, 3, 96, 80)),
}


@pytest.mark.parametrize("stem", sorted(TORCH_MODELS))
def test_zoo_model_gives_torchs_output(tmp_path, stem):
    torch = pytest.importorskip("torch")
    build, shape = TORCH_MODELS[stem]
    torch.manual_seed(0)
    model = with_batchnorm_statistics(torch, build(torch))

    # docs/running.md's snippet, on the float32 model (half the bytes of R3D-18's 33 M parameters);
    # float32 values are exact in float64, so both sides then compute with the same weights
    state = model.state_dict()
    np.savez(tmp_path / "weights.npz", **{k: v.detach().cpu().numpy() for k, v in state.items()})
    model = model.double()
    x = torch.randn(*shape, dtype=torch.float64)
    np.save(tmp_path / "x.npy", x.numpy())

    out = cli(
        "run", str(ZOO / f"{stem}.yaml"), "--weights", str(tmp_path / "weights.npz"),
        "--input-data", str(tmp_path / "x.npy"), "--save-output", str(tmp_path / "y.npy"),
        "--dtype", "float64", "-f", "json",
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    with torch.no_grad():
        expected = model(x).numpy()
    got = np.load(tmp_path / "y.npy")
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9 * np.abs(expected).max())
