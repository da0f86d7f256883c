"""`convcalc import`: a torch model traced into a config gives torch's parameter count, its
FlopCounterMode/2 and, with its state_dict, its output. The models are built here with
torchvision's module names and structure (torchvision's wheels need not match the torch CI
pins); where torchvision imports, its own models are held to the same."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from clirun import run as cli

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

from convcalc import analyze, load_spec, run_forward, to_torch_source  # noqa: E402
from convcalc.torchimport import import_yaml  # noqa: E402

HERE = Path(__file__).resolve()


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Any:
    """Small models: torch's thread pool only costs time on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ------------------------------------------------------------------ the models
def _conv_bn(
    cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, act: Any = nn.ReLU6
) -> Any:
    """torchvision's Conv2dNormActivation: a Sequential of conv, BN and activation."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        act(inplace=True),
    )


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, c: int, stride: int = 1, downsample: Any = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, c, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.downsample = downsample

    def forward(self, x: Any) -> Any:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, c: int, stride: int = 1, downsample: Any = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, c, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.conv3 = nn.Conv2d(c, c * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(c * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Any) -> Any:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    def __init__(self, block: Any, layers: list[int], num_classes: int = 10) -> None:
        super().__init__()
        self.inplanes = 16
        self.conv1 = nn.Conv2d(3, 16, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(block, 16, layers[0])
        self.layer2 = self._make_layer(block, 32, layers[1], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(32 * block.expansion, num_classes)

    def _make_layer(self, block: Any, c: int, blocks: int, stride: int = 1) -> Any:
        downsample = None
        if stride != 1 or self.inplanes != c * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, c * block.expansion, 1, stride, bias=False),
                nn.BatchNorm2d(c * block.expansion),
            )
        layers = [block(self.inplanes, c, stride, downsample)]
        self.inplanes = c * block.expansion
        layers += [block(self.inplanes, c) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: Any) -> Any:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer2(self.layer1(x))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


def resnet_basic(num_classes: int = 10) -> Any:
    return ResNet(BasicBlock, [2, 2], num_classes)


def resnet_bottleneck() -> Any:
    return ResNet(Bottleneck, [2, 3])


class VGG(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(True), nn.MaxPool2d(2, 2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(True), nn.MaxPool2d(2, 2),
        )  # fmt: skip
        self.avgpool = nn.AdaptiveAvgPool2d((2, 2))
        self.classifier = nn.Sequential(
            nn.Linear(64, 32), nn.ReLU(True), nn.Dropout(p=0.5), nn.Linear(32, 10)
        )

    def forward(self, x: Any) -> Any:
        x = self.avgpool(self.features(x))
        return self.classifier(x.view(x.size(0), -1))


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, t: int) -> None:
        super().__init__()
        hidden = cin * t
        self.use_res_connect = stride == 1 and cin == cout
        layers: list[Any] = [] if t == 1 else [_conv_bn(cin, hidden, 1)]
        layers += [
            _conv_bn(hidden, hidden, 3, stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: Any) -> Any:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            _conv_bn(3, 16, 3, 2),
            InvertedResidual(16, 8, 1, 1),
            InvertedResidual(8, 12, 2, 6),
            InvertedResidual(12, 12, 1, 6),
            _conv_bn(12, 32, 1),
        )
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(32, 10))

    def forward(self, x: Any) -> Any:
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


class _DenseLayer(nn.Module):
    def __init__(self, cin: int, growth: int) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(cin)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(cin, 4 * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(4 * growth)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(4 * growth, growth, 3, padding=1, bias=False)

    def forward(self, inputs: Any) -> Any:
        prev = [inputs] if isinstance(inputs, torch.Tensor) else inputs
        concatenated = torch.cat(prev, 1)
        return self.conv2(self.relu2(self.norm2(self.conv1(self.relu1(self.norm1(concatenated))))))


class _DenseBlock(nn.ModuleDict):
    def __init__(self, n: int, cin: int, growth: int) -> None:
        super().__init__()
        for i in range(n):
            self.add_module(f"denselayer{i + 1}", _DenseLayer(cin + i * growth, growth))

    def forward(self, x: Any) -> Any:
        features = [x]
        for _, layer in self.items():
            features.append(layer(features))
        return torch.cat(features, 1)


class DenseNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            OrderedDict(
                [
                    ("conv0", nn.Conv2d(3, 16, 7, 2, 3, bias=False)),
                    ("norm0", nn.BatchNorm2d(16)),
                    ("relu0", nn.ReLU(inplace=True)),
                    ("pool0", nn.MaxPool2d(3, 2, 1)),
                    ("denseblock1", _DenseBlock(3, 16, 8)),
                    ("norm5", nn.BatchNorm2d(40)),
                ]
            )
        )
        self.classifier = nn.Linear(40, 10)

    def forward(self, x: Any) -> Any:
        out = F.relu(self.features(x), inplace=True)
        out = torch.flatten(F.adaptive_avg_pool2d(out, (1, 1)), 1)
        return self.classifier(out)


class BasicConv2d(nn.Module):
    def __init__(self, cin: int, cout: int, **kwargs: Any) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: Any) -> Any:
        return F.relu(self.bn(self.conv(x)), inplace=True)


class Inception(nn.Module):
    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch1 = BasicConv2d(cin, 8, kernel_size=1)
        self.branch2 = nn.Sequential(
            BasicConv2d(cin, 4, kernel_size=1), BasicConv2d(4, 8, kernel_size=3, padding=1)
        )
        self.branch3 = nn.Sequential(
            BasicConv2d(cin, 4, kernel_size=1), BasicConv2d(4, 8, kernel_size=3, padding=1)
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True), BasicConv2d(cin, 8, kernel_size=1)
        )

    def forward(self, x: Any) -> Any:
        outputs = [self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)]
        return torch.cat(outputs, 1)


class InceptionNet(nn.Module):
    """GoogLeNet's shape: an auxiliary head the eval forward never calls."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = BasicConv2d(3, 16, kernel_size=3, stride=2, padding=1)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = Inception(16)
        self.inception3b = Inception(32)
        self.aux1 = nn.Sequential(nn.Conv2d(32, 8, 1), nn.Flatten(), nn.LazyLinear(10))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(32, 10)

    def forward(self, x: Any) -> Any:
        x = self.maxpool1(self.conv1(x))
        x = self.inception3a(x)
        if self.training:
            self.aux1(x)
        x = self.inception3b(x)
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(self.dropout(x))


def inception_net() -> Any:
    model = InceptionNet()
    model.aux1 = nn.Sequential(nn.Conv2d(32, 8, 1), nn.Flatten(), nn.Linear(8 * 8 * 8, 10))
    return model


class UNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.enc1 = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(inplace=True)
        )
        self.pool = nn.MaxPool2d(2)
        self.enc2 = nn.Sequential(
            nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(inplace=True)
        )
        self.up = nn.ConvTranspose2d(16, 8, 2, stride=2)
        self.dec = nn.Sequential(nn.Conv2d(16, 8, 3, padding=1), nn.ReLU(inplace=True))
        self.head = nn.Conv2d(8, 2, 1)

    def forward(self, x: Any) -> Any:
        e1 = self.enc1(x)
        e2 = self.enc2(self.pool(e1))
        d = self.dec(torch.cat([self.up(e2), e1], dim=1))
        return torch.sigmoid(self.head(d))


class PadMean(nn.Module):
    """F.pad in each mode, and means over the spatial dims with and without keepdim."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3)
        self.conv2 = nn.Conv2d(8, 8, 3)
        self.conv3 = nn.Conv2d(8, 4, 1)
        self.fc = nn.Linear(4, 5)

    def forward(self, x: Any) -> Any:
        x = self.conv1(F.pad(x, (1, 2, 0, 1), mode="reflect"))
        x = F.pad(x, (1, 1, 1, 1), value=0.5)
        x = nn.functional.pad(x, [2, 0, 1, 1], mode="circular")
        x = F.pad(self.conv2(x), (0, 1))
        x = F.pad(x, (1, 1, 1, 1), mode="replicate")
        x = self.conv3(x * x.mean((2, 3), keepdim=True))
        return self.fc(torch.mean(x, dim=[-2, -1]))


class PadMean1d(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(3, 6, 3)
        self.fc = nn.Linear(6, 2)

    def forward(self, x: Any) -> Any:
        x = F.pad(self.conv(x), (2, 1), mode="reflect")
        x = F.pad(x, (1, 1), mode="circular")
        return self.fc(x.mean(-1))


class PadMean3d(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv3d(2, 4, 3)
        self.fc = nn.Linear(4, 3)

    def forward(self, x: Any) -> Any:
        x = self.conv(F.pad(x, (1, 1, 0, 1, 2, 0), mode="replicate"))
        x = torch.mean(x, (2, 3, 4), True)
        return self.fc(x.mean((-3, -2, -1)))


class Unit(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x: Any) -> Any:
        return F.relu(self.bn(self.conv(x)) + x)


class Stage(nn.Module):
    """Units inside a stage inside the model: blocks three deep, with a repeat inside one."""

    def __init__(self, cin: int, c: int) -> None:
        super().__init__()
        self.down = nn.Conv2d(cin, c, 3, stride=2, padding=1)
        self.units = nn.Sequential(Unit(c), Unit(c), Unit(c))

    def forward(self, x: Any) -> Any:
        return self.units(self.down(x))


class Stages(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stage1 = Stage(3, 8)
        self.stage2 = Stage(8, 16)
        self.head = nn.Linear(16, 4)

    def forward(self, x: Any) -> Any:
        return self.head(torch.flatten(F.adaptive_avg_pool2d(self.stage2(self.stage1(x)), 1), 1))


MODELS = {
    "resnet_basic": (resnet_basic, (2, 3, 32, 32)),
    "resnet_bottleneck": (resnet_bottleneck, (1, 3, 32, 32)),
    "vgg": (VGG, (2, 3, 16, 16)),
    "mobilenet_v2": (MobileNetV2, (1, 3, 32, 32)),
    "densenet": (DenseNet, (1, 3, 32, 32)),
    "inception": (inception_net, (1, 3, 32, 32)),
    "unet": (UNet, (1, 3, 16, 16)),
    "stages": (Stages, (1, 3, 16, 16)),
    "pad_mean": (PadMean, (2, 3, 12, 12)),
    "pad_mean_1d": (PadMean1d, (2, 3, 10)),
    "pad_mean_3d": (PadMean3d, (1, 2, 6, 6, 6)),
}


# ------------------------------------------------------------------ the oracle
def _randomised(model: Any) -> Any:
    """Eval mode, with running statistics that are not the identity."""
    torch.manual_seed(0)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 1.5)
    return model.eval()


def _flops(model: Any, shape: tuple[int, ...]) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(shape))
    return int(counter.get_total_flops())


def held_to_torch(model: Any, shape: tuple[int, ...], flat: bool) -> str:
    """Import ``model``; assert the config's totals and output are torch's. Returns the YAML."""
    model = _randomised(model)
    text = import_yaml(model, shape, flat=flat)
    spec = load_spec("<import>", text)
    report = analyze(spec)
    assert report.ok
    # the parameters of the modules the forward calls (those it never calls are left out)
    skipped = tuple(f"{name}." for name in spec.ignore_weights)
    called = [p for k, p in model.named_parameters() if not k.startswith(skipped)]
    assert len(called) == len(list(model.parameters())) or spec.ignore_weights
    assert report.totals.params == sum(p.numel() for p in called)
    assert 2 * report.totals.macs == _flops(model, shape)
    model = model.double()
    x = torch.randn(shape, dtype=torch.float64)
    with torch.no_grad():
        y = model(x).numpy()
    weights = {k: v.numpy() for k, v in model.state_dict().items()}
    result = run_forward(spec, weights=weights, input_data=x.numpy(), dtype="float64")
    assert result.output is not None and result.output.shape == y.shape
    np.testing.assert_allclose(result.output, y, rtol=1e-9, atol=1e-12 * float(np.abs(y).max()))
    return text


@pytest.mark.parametrize("flat", [True, False], ids=["flat", "blocks"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_imported_models_are_torchs(name: str, flat: bool) -> None:
    factory, shape = MODELS[name]
    held_to_torch(factory(), shape, flat)


def test_a_module_called_twice_is_two_layers_and_functions_are_layers() -> None:
    text = held_to_torch(resnet_basic(), (1, 3, 32, 32), flat=True)
    lines = text.splitlines()
    assert "- layer1.0.relu: ReLU(inplace=True)" in lines
    assert "- layer1.0.relu_1: ReLU(inplace=True)" in lines
    assert "- {type: Add, name: layer1.0.add, from: [layer1.0.bn2, maxpool]}" in lines
    assert (
        "- {type: Conv2d, name: layer2.0.downsample.0, from: layer1.1.relu_1, in_channels: 16, "
        "out_channels: 32, kernel_size: [1, 1], stride: [2, 2], bias: false}"
    ) in lines
    assert "- flatten: Flatten()" in lines
    vgg = held_to_torch(VGG(), (1, 3, 16, 16), flat=True)
    assert "- flatten: Flatten()" in vgg.splitlines()  # x.view(x.size(0), -1)


def test_repeated_modules_import_as_blocks_with_repeat() -> None:
    text = held_to_torch(resnet_bottleneck(), (1, 3, 32, 32), flat=False)
    lines = text.splitlines()
    assert "  Bottleneck:" in lines and "  Bottleneck_2:" in lines  # with and without downsample
    assert (
        "- {type: Bottleneck_2, name: 'layer2.{i+1}', repeat: 2, conv1_in_channels: 128, "
        "conv1_out_channels: 32}"
    ) in lines
    assert "    - {type: Add, name: add, from: [bn3, input]}" in lines
    spec = load_spec("<import>", text)
    flat = load_spec("<import>", held_to_torch(resnet_bottleneck(), (1, 3, 32, 32), flat=True))
    assert [(e.name, e.inputs, e.layer.args) for e in spec.layers] == [
        (e.name, e.inputs, e.layer.args) for e in flat.layers
    ]


def _expands_as_flat(text: str, flat: str) -> None:
    spec, flat_spec = load_spec("<import>", text), load_spec("<import>", flat)
    assert [(e.name, e.type, e.inputs, e.layer.args) for e in spec.layers] == [
        (e.name, e.type, e.inputs, e.layer.args) for e in flat_spec.layers
    ]


def test_nested_modules_import_as_blocks_inside_blocks() -> None:
    """Inception's branches are BasicConv2d modules: the Inception block uses the BasicConv2d
    block, with the values that differ between the two Inception modules its parameters."""
    text = held_to_torch(inception_net(), (1, 3, 32, 32), flat=False)
    lines = text.splitlines()
    assert lines.index("  BasicConv2d:") < lines.index("  Inception:")
    assert (
        "    - {type: BasicConv2d, name: branch2.0, from: input, conv_in_channels: "
        "$branch1_conv_in_channels, conv_out_channels: 4, conv_kernel_size: [1, 1], "
        "conv_stride: 1, conv_padding: 0}"
    ) in lines
    assert (
        "    - {type: Concat, name: cat, from: [branch1, branch2.1, branch3.1, branch4.1]}" in lines
    )
    assert "- {type: Inception, name: inception3b, branch1_conv_in_channels: 32}" in lines
    _expands_as_flat(text, held_to_torch(inception_net(), (1, 3, 32, 32), flat=True))


def test_repeated_inner_blocks_repeat_inside_their_block() -> None:
    text = held_to_torch(Stages(), (1, 3, 16, 16), flat=False)
    lines = text.splitlines()
    stage = lines[lines.index("  Stage:") :]
    assert (
        "    - {type: Unit, name: 'units.{i}', repeat: 3, conv_in_channels: $down_out_channels}"
        in stage
    )
    assert "- {type: Stage, name: stage2, down_in_channels: 8, down_out_channels: 16}" in lines
    _expands_as_flat(text, held_to_torch(Stages(), (1, 3, 16, 16), flat=True))


def test_uncalled_modules_are_left_out_and_their_weights_ignored(tmp_path: Path) -> None:
    model = _randomised(inception_net())
    text = held_to_torch(model, (1, 3, 32, 32), flat=True)
    assert "ignore_weights: [aux1]" in text.splitlines()
    assert "aux1." not in text.split("layers:", 1)[1]
    spec = load_spec("<import>", text)
    assert spec.ignore_weights == ("aux1",)
    assert any("aux1" in note for note in analyze(spec).notes)


def test_run_weights_loads_the_state_dict_and_skips_uncalled_modules(tmp_path: Path) -> None:
    """As a user would: import, save the model's state_dict (aux1 included) and its output,
    run the config with them."""
    model = _randomised(inception_net())
    (tmp_path / "net.yaml").write_text(import_yaml(model, (1, 3, 32, 32)))
    torch.save(model.state_dict(), tmp_path / "w.pt")
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        np.save(tmp_path / "y.npy", model(x).numpy())
    np.save(tmp_path / "x.npy", x.numpy())
    result = cli(
        "run", str(tmp_path / "net.yaml"), "--weights", str(tmp_path / "w.pt"),
        "--input-data", str(tmp_path / "x.npy"), "--compare", str(tmp_path / "y.npy"),
        "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    import json

    report = json.loads(result.stdout)
    assert report["comparison"]["match"] is True
    assert any("aux1" in note for note in report["notes"])


class Clash(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.relu = nn.Sigmoid()

    def forward(self, x: Any) -> Any:
        return self.relu(F.relu(self.conv(x)))


def test_a_function_layer_never_takes_a_module_name() -> None:
    text = held_to_torch(Clash(), (1, 3, 8, 8), flat=True)
    assert text.splitlines()[-2:] == ["- relu_1: ReLU()", "- relu: Sigmoid()"]


def test_from_torch_is_the_library_call() -> None:
    import convcalc

    spec = convcalc.from_torch(_randomised(VGG()), (1, 3, 16, 16))
    assert spec.layers[0].name == "features.0"
    assert analyze(spec).totals.params == sum(p.numel() for p in VGG().parameters())


# ------------------------------------------------------------------ errors
class Unsupported(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x: Any) -> Any:
        return torch.sin(self.conv(x))


class Shared(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x: Any) -> Any:
        return self.conv(F.relu(self.conv(x)))


class Tied(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)
        self.b.weight = self.a.weight

    def forward(self, x: Any) -> Any:
        return self.b(self.a(x))


class Branching(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x: Any) -> Any:
        if x.sum() > 0:
            return self.conv(x)
        return x


class Permuted(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x: Any) -> Any:
        x = self.conv(x).permute(0, 1, 2, 3).transpose(2, 2)  # no change: no layer
        return x.permute(0, 2, 3, 1)


class Transposed(nn.Module):
    def forward(self, x: Any) -> Any:
        return torch.transpose(F.relu(x), 1, 2)


class ChannelMean(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x: Any) -> Any:
        return self.conv(x).mean(1, keepdim=True)


class WholeMean(nn.Module):
    def forward(self, x: Any) -> Any:
        return torch.mean(F.relu(x))


def _line(cls: type, text: str) -> int:
    """The line of ``text`` in this file, in ``cls``'s forward."""
    import inspect

    lines, start = inspect.getsourcelines(cls.forward)
    return start + next(i for i, line in enumerate(lines) if text in line)


@pytest.mark.parametrize(
    "factory,shape,words,code",
    [
        ("Unsupported", "1,3,8,8", ["torch.sin", "no convcalc layer type"], "torch.sin("),
        (
            "Shared",
            "1,4,8,8",
            ["'conv'", "is called again", "parameter used by two layers"],
            "self.conv(F.relu",
        ),
        ("Tied", "2,4", ["'b'", "parameters of layer 'a' (weight)"], "self.b(self.a(x))"),
        ("Branching", "1,3,8,8", ["torch.fx cannot trace"], "if x.sum() > 0"),
        (
            "Permuted",
            "1,3,8,8",
            ["Tensor.permute", "(1, 4, 6, 6) to (1, 6, 6, 4)", "permutes or transposes"],
            "x.permute(0, 2, 3, 1)",
        ),
        ("Transposed", "1,3,4,5", ["torch.transpose", "permutes or transposes"], "transpose("),
        (
            "ChannelMean",
            "1,3,8,8",
            ["Tensor.mean", "the mean over dims (1,) of a 4D tensor", "AdaptiveAvgPool<k>d(1)"],
            ".mean(1",
        ),
        ("WholeMean", "1,3,8,8", ["torch.mean", "the mean of every element"], "torch.mean("),
    ],
)
def test_what_import_cannot_express_is_exit_2_with_the_op_and_line(
    factory: str, shape: str, words: list[str], code: str
) -> None:
    result = cli("import", f"{HERE}:{factory}", "--input", shape)
    assert result.exit_code == 2, result.output
    first = result.stderr.splitlines()[0]
    for word in words:
        assert word in first
    cls = globals()[factory]
    assert f"test_torch_import.py:{_line(cls, code)}" in first


# ------------------------------------------------------------------ the command
def test_import_command_writes_the_config_to_a_file_with_kwargs(tmp_path: Path) -> None:
    out = tmp_path / "r.yaml"
    result = cli(
        "import", f"{HERE}:resnet_basic", "--input", "1,3,32,32", "--kwargs", '{"num_classes": 7}',
        "-o", str(out), "--flat",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    model = resnet_basic(7)
    shape = cli("shape", str(out), "--format", "json")
    import json

    report = json.loads(shape.stdout)
    assert report["totals"]["params"] == sum(p.numel() for p in model.parameters())
    assert report["output_shape"] == [1, 7]


def test_import_through_a_package_module_source() -> None:
    result = cli("import", "torch.nn:Identity", "--input", "1,3")
    assert result.exit_code == 0, result.output
    spec = load_spec("<import>", result.stdout)
    assert [e.type for e in spec.layers] == ["Identity"]


@pytest.mark.parametrize(
    "source,words",
    [
        ("nowhere_at_all_pkg:model", "cannot import nowhere_at_all_pkg"),
        ("torch.nn:NoSuchThing", "torch.nn has no 'NoSuchThing'"),
        ("torch.nn", "names no factory"),
    ],
)
def test_a_source_that_names_no_model_is_exit_2(source: str, words: str) -> None:
    result = cli("import", source, "--input", "1,3")
    assert result.exit_code == 2
    assert words in result.stderr


def test_without_torch_import_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "torch", None)
    result = cli("import", "torchvision.models:resnet18", "--input", "1,3,224,224")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        "error: convcalc import needs torch: pip install 'convcalc[torch]'"
    )


# ------------------------------------------------------------------ torchvision's own
TORCHVISION = {
    "resnet18": (1, 3, 64, 64),
    "resnet50": (1, 3, 64, 64),
    "vgg11": (1, 3, 32, 32),
    "mobilenet_v2": (1, 3, 64, 64),
    "densenet121": (1, 3, 64, 64),
    "googlenet": (1, 3, 64, 64),
    "efficientnet_b0": (1, 3, 64, 64),
    "inception_v3": (1, 3, 75, 75),
    "mobilenet_v3_large": (1, 3, 64, 64),
    "mnasnet1_0": (1, 3, 64, 64),  # x.mean([2, 3]) before its classifier
    "regnet_y_400mf": (1, 3, 64, 64),
}


def _torchvision_models() -> Any:
    try:
        import torchvision.models as models
    except (
        Exception
    ) as exc:  # absent, or a wheel built for another torch (its ops fail to register)
        pytest.skip(f"torchvision does not import: {type(exc).__name__}: {exc}")
    return models


@pytest.mark.torchvision
@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_torchvision_models_import_as_torch_computes_them(name: str) -> None:
    models = _torchvision_models()
    kwargs: dict[str, Any] = (
        {"init_weights": False} if "inception" in name or name == "googlenet" else {}
    )
    model = getattr(models, name)(weights=None, **kwargs)
    text = held_to_torch(model, TORCHVISION[name], flat=False)
    if name == "googlenet":
        assert "ignore_weights: [aux1, aux2]" in text.splitlines()
    if name == "inception_v3":
        assert "ignore_weights: [AuxLogits]" in text.splitlines()
    # and back: the import exported loads the model's state_dict strictly (but for the modules
    # its forward never calls) and computes its output
    spec = load_spec("<import>", text)
    namespace: dict[str, Any] = {}
    exec(compile(to_torch_source(spec, "Net"), "exported.py", "exec"), namespace)
    exported = namespace["Net"]().double().eval()
    skipped = tuple(f"{m}." for m in spec.ignore_weights)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith(skipped)}
    exported.load_state_dict(state, strict=True)
    x = torch.randn(TORCHVISION[name], dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(exported(x), model(x), rtol=1e-12, atol=1e-12)


@pytest.mark.torchvision
def test_resnet50_from_torchvision_as_a_user_would(tmp_path: Path) -> None:
    """The commands of docs/torch.md: import torchvision's ResNet-50 at 224×224, its totals
    through `shape` (torch's parameter count and FlopCounterMode/2, which torchvision publishes
    as 25,557,032 and 4.09 GFLOPS), then `run --weights` with its state_dict against its output."""
    import json

    model = _randomised(_torchvision_models().resnet50(weights=None))
    config, weights = str(tmp_path / "r50.yaml"), str(tmp_path / "r50.pt")
    result = cli("import", "torchvision.models:resnet50", "--input", "1,3,224,224", "-o", config)
    assert result.exit_code == 0, result.output
    totals = json.loads(cli("shape", config, "--format", "json").stdout)["totals"]
    params = sum(p.numel() for p in model.parameters())
    assert (totals["params"], 2 * totals["macs"]) == (params, _flops(model, (1, 3, 224, 224)))
    assert (totals["params"], totals["macs"]) == (25_557_032, 4_089_184_256)
    torch.save(model.state_dict(), weights)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        np.save(tmp_path / "y.npy", model(x).numpy())
    np.save(tmp_path / "x.npy", x.numpy())
    result = cli(
        "run", config, "--weights", weights, "--input-data", str(tmp_path / "x.npy"),
        "--compare", str(tmp_path / "y.npy"), "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["comparison"]["match"] is True
