"""Graphs: from:, merges (Add, Mul, Concat), blocks, repeat, when, import — and PyTorch as the oracle for merges."""

from __future__ import annotations

import random
import textwrap

import numpy as np
import pytest
from torch_bridge import TORCH_OPS

from convcalc import ShapeError, SpecError, analyze, load_spec, spec_from_data
from convcalc.forward import run_forward


def merged(type_name, shapes, **args):
    """The merge layer itself, reading ``len(shapes)`` named branches."""
    from convcalc.layers import lookup

    layer = lookup(type_name).build((), args)
    layer.sources = tuple(f"b{i}" for i in range(len(shapes)))
    return layer


def random_shapes(rng, type_name):
    rank = rng.randint(1, 4)
    base = [rng.randint(1, 4) for _ in range(rank)]
    shapes = []
    for _ in range(rng.choice([2, 2, 3])):
        s = list(base)
        if type_name == "Mul":
            s = [1 if rng.random() < 0.3 else v for v in s]
            if rng.random() < 0.3:
                s = s[rng.randint(0, len(s) - 1) :]
        if type_name == "Concat":
            s[min(1, rank - 1)] = rng.randint(1, 4)
        if rng.random() < 0.15:
            s[rng.randint(0, len(s) - 1)] += 1
        shapes.append(tuple(s))
    return shapes


@pytest.mark.parametrize("type_name", sorted(TORCH_OPS))
def test_merges_agree_with_torch(type_name):
    torch = pytest.importorskip("torch")
    rng = random.Random(type_name)
    errors = 0
    for _ in range(200):
        shapes = random_shapes(rng, type_name)
        dim = min(1, len(shapes[0]) - 1)
        layer = merged(type_name, shapes, **({"dim": dim} if type_name == "Concat" else {}))
        tensors = [torch.randn(*s, dtype=torch.float64) for s in shapes]
        if type_name == "Add" and len(set(shapes)) > 1:
            # stricter than torch's +: broadcasting is Mul's job, Add wants equal shapes
            errors += 1
            with pytest.raises(ShapeError):
                layer.out_shape(tuple(shapes))
            continue
        try:
            if type_name == "Concat":
                expected = torch.cat(tensors, dim=dim)
            else:
                expected = tensors[0]
                for t in tensors[1:]:
                    expected = getattr(torch, TORCH_OPS[type_name])(expected, t)
        except RuntimeError:
            errors += 1
            with pytest.raises(ShapeError):
                layer.out_shape(tuple(shapes))
            continue
        assert layer.out_shape(tuple(shapes)) == tuple(expected.shape), shapes
        got = layer.forward([t.numpy() for t in tensors], {}, 1 << 30)
        np.testing.assert_allclose(got, expected.numpy(), rtol=1e-12)
    assert errors > 10  # invalid combinations were exercised


def spec_text(tmp_path, text, name="net.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


RESNET = """\
    name: tiny
    input: [1, 3, 16, 16]
    blocks:
      BasicBlock:
        params: {c: null, stride: 1, downsample: false}
        layers:
          - {type: Conv2d, name: conv1, out_channels: $c, kernel_size: 3, stride: $stride, padding: 1, bias: false}
          - {type: BatchNorm2d, name: bn1}
          - {type: ReLU, name: relu}
          - conv2: Conv2d($c, $c, 3, padding=$c // $c, bias=False)
          - {type: BatchNorm2d, name: bn2}
          - {type: Conv2d, name: downsample.0, from: input, out_channels: $c, kernel_size: 1, stride: $stride, bias: false, when: $downsample}
          - {type: BatchNorm2d, name: downsample.1, when: $downsample}
          - {type: Add, name: add, from: [bn2, downsample.1]}
          - {type: ReLU, name: relu2}
    layers:
      - conv1: Conv2d(3, 8, 3, padding=1, bias=False)
      - {type: BasicBlock, name: layer1, repeat: 2, c: 8}
      - {type: BasicBlock, name: layer2.0, c: 16, stride: 2, downsample: true}
      - {type: AdaptiveAvgPool2d, name: avgpool, output_size: 1}
      - {type: Flatten, name: flatten}
      - fc: Linear(16, 10)
"""


def test_blocks_expand_to_dotted_names_and_wire_the_graph(tmp_path):
    spec = load_spec(spec_text(tmp_path, RESNET))
    names = [e.name for e in spec.layers]
    assert names[:4] == ["conv1", "layer1.0.conv1", "layer1.0.bn1", "layer1.0.relu"]
    assert "layer1.0.downsample.0" not in names and "layer2.0.downsample.0" in names
    by = {e.name: e for e in spec.layers}
    assert by["layer1.0.add"].inputs == ("layer1.0.bn2", "conv1")  # no downsample: the block input
    assert by["layer1.1.conv1"].inputs == (
        "layer1.0.relu2",
    )  # repeat: each copy reads the previous
    assert by["layer2.0.add"].inputs == ("layer2.0.bn2", "layer2.0.downsample.1")
    assert by["layer2.0.downsample.0"].inputs == ("layer1.1.relu2",)
    assert by["layer1.0.conv1"].path == (("layer1.0", "BasicBlock"),)
    report = analyze(spec)
    assert report.ok and report.output_shape == (1, 10)
    # conv1 216 + 2 blocks of (576 + 16 + 576 + 16) + (1152 + 32 + 2304 + 32 + 128 + 32) + fc 170
    assert (
        report.totals.params
        == 216 + 2 * (576 + 16 + 576 + 16) + (1152 + 32 + 2304 + 32 + 128 + 32) + 170
    )


def test_graph_runs_and_matches_torch(tmp_path):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    spec = load_spec(spec_text(tmp_path, RESNET))

    class Block(nn.Module):
        def __init__(self, cin, c, stride, down):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, c, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(c)
            self.relu = nn.ReLU()
            self.conv2 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(c)
            self.downsample = (
                nn.Sequential(nn.Conv2d(cin, c, 1, stride, bias=False), nn.BatchNorm2d(c))
                if down
                else None
            )

        def forward(self, x):
            out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
            return torch.relu(out + (self.downsample(x) if self.downsample is not None else x))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
            self.layer1 = nn.Sequential(Block(8, 8, 1, False), Block(8, 8, 1, False))
            self.layer2 = nn.Sequential(Block(8, 16, 2, True))
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(16, 10)

        def forward(self, x):
            return self.fc(torch.flatten(self.avgpool(self.layer2(self.layer1(self.conv1(x)))), 1))

    torch.manual_seed(0)
    net = Net().double().eval()
    for m in net.modules():  # non-trivial running statistics
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
    state = {k: v.numpy() for k, v in net.state_dict().items()}
    x = torch.randn(2, 3, 16, 16, dtype=torch.float64)
    result = run_forward(spec, weights=state, input_data=x.numpy(), dtype="float64")
    assert result.verified
    with torch.no_grad():
        np.testing.assert_allclose(result.output, net(x).numpy(), rtol=1e-9, atol=1e-12)


def test_merge_mismatch_names_both_branches_and_the_fix(tmp_path):
    text = RESNET.replace(
        "{type: BasicBlock, name: layer2.0, c: 16, stride: 2, downsample: true}",
        "{type: BasicBlock, name: layer2.0, c: 16, stride: 2}",
    )
    report = analyze(load_spec(spec_text(tmp_path, text)))
    (problem,) = report.errors
    assert problem.name == "layer2.0.add" and problem.type == "Add"
    assert (
        "inputs (1, 16, 8, 8) from 'layer2.0.bn2' and (1, 8, 16, 16) from 'layer1.1.relu2' differ"
        in problem.message
    )
    assert problem.hint == (
        "the shortcut from 'layer1.1.relu2' needs a 1×1 Conv2d with stride 2 to 16 channels "
        "(and a BatchNorm2d) to match (1, 16, 8, 8)"
    )


@pytest.mark.parametrize(
    "layers,message",
    [
        ([{"type": "ReLU", "name": "a", "from": "nope"}], "from: unknown name 'nope'"),
        (
            [{"type": "ReLU", "name": "a", "from": "b"}, {"type": "ReLU", "name": "b"}],
            "from: 'b' comes later in the list",
        ),
        ([{"type": "Add", "name": "a", "from": "input"}], None),
        (
            [{"type": "ReLU", "name": "a", "from": ["input", "input"]}],
            "ReLU reads one input, from lists 2",
        ),
        ([{"type": "Blk", "name": "a"}], "unknown layer type 'Blk'"),
        ([{"type": "ReLU", "repeat": 0}], "repeat must be a positive integer, got 0"),
        ([{"type": "ReLU", "when": "yes"}], "when must be true or false, got 'yes'"),
    ],
)
def test_graph_errors(layers, message):
    data = {"input": [1, 4], "layers": layers}
    if message is None:
        assert not analyze(spec_from_data(data)).ok  # a merge with one input is a model error
        return
    with pytest.raises(SpecError) as info:
        spec_from_data(data)
    assert message in info.value.message


@pytest.mark.parametrize(
    "blocks,layers,message",
    [
        (
            {"A": {"layers": [{"type": "B"}]}, "B": {"layers": [{"type": "A"}]}},
            [{"type": "A"}],
            "block A uses itself: A → B → A",
        ),
        (
            {"A": {"params": {"c": None}, "layers": ["Linear(4, $c)"]}},
            [{"type": "A"}],
            "block A needs parameter c",
        ),
        (
            {"A": {"params": {"c": 2}, "layers": ["Linear(4, $c)"]}},
            [{"type": "A", "d": 3}],
            "block A has no parameter 'd'",
        ),
        (
            {"A": {"params": {"c": 2}, "layers": ["Linear(4, $cc)"]}},
            [{"type": "A"}],
            "unknown parameter 'cc'",
        ),
        (
            {"A": {"params": {"c": 2}, "lay": []}},
            [{"type": "A"}],
            "block A has an unknown key 'lay'",
        ),
        (
            {"Conv2d": {"layers": ["ReLU"]}},
            [{"type": "Conv2d"}],
            "block name 'Conv2d' is a layer type",
        ),
    ],
)
def test_block_errors(blocks, layers, message):
    with pytest.raises(SpecError) as info:
        spec_from_data({"input": [1, 4], "blocks": blocks, "layers": layers})
    assert message in info.value.message


def test_unused_branch_is_a_warning():
    spec = spec_from_data(
        {
            "input": [1, 4],
            "layers": [
                {"type": "ReLU", "name": "a"},
                {"type": "Tanh", "name": "b", "from": "input"},
            ],
        }
    )
    report = analyze(spec)
    assert report.ok
    assert "the output of 'a' is never used (an unused branch?)" in report.notes


def test_import_blocks_from_another_file(tmp_path):
    spec_text(
        tmp_path,
        "blocks:\n  Two:\n    params: {c: 4}\n    layers: ['Linear(out_features=$c)', ReLU]\n",
        "lib.yaml",
    )
    path = spec_text(
        tmp_path,
        "input: [2, 3]\nimport: lib.yaml\nlayers:\n  - Two(5)\n  - {type: Two, name: t, c: 6}\n",
    )
    spec = load_spec(path)
    assert [e.name for e in spec.layers] == ["0.0", "0.1", "t.0", "t.1"]
    assert analyze(spec).output_shape == (2, 6)
    missing = spec_text(tmp_path, "input: [2, 3]\nimport: nope.yaml\nlayers: [ReLU]\n", "bad.yaml")
    with pytest.raises(SpecError) as info:
        load_spec(missing)
    assert "import 'nope.yaml': no such file" in info.value.message


def test_depth_collapses_blocks(tmp_path):
    report = analyze(load_spec(spec_text(tmp_path, RESNET)))
    top = report.view(0)
    assert [r.name for r in top] == [
        "conv1",
        "layer1.0",
        "layer1.1",
        "layer2.0",
        "avgpool",
        "flatten",
        "fc",
    ]
    block = top[3]
    assert block.block and block.type == "BasicBlock"
    assert block.input_shape == (1, 8, 16, 16) and block.output_shape == (1, 16, 8, 8)
    members = [r for r in report.rows if r.path and r.path[0][0] == "layer2.0"]
    assert block.params == sum(r.params for r in members) and block.macs == sum(
        r.macs for r in members
    )
    assert sum(r.params for r in top) == report.totals.params
    tree = report.view()  # everything expanded, each block row before its layers
    assert [r.name for r in tree[:3]] == ["conv1", "layer1.0", "layer1.0.conv1"]
    assert [r.level for r in tree[:3]] == [0, 0, 1]
    assert len(tree) == len(report.rows) + 3


def test_repeat_names_copies_from_a_template():
    spec = spec_from_data(
        {
            "input": [1, 4],
            "layers": [
                {"type": "Linear", "name": "features.0", "out_features": 4},
                {"type": "ReLU", "name": "features.{i+1}", "repeat": 3},
                {"type": "Tanh", "name": "block", "repeat": 2},
            ],
        }
    )
    assert [e.name for e in spec.layers] == [
        "features.0", "features.1", "features.2", "features.3", "block.0", "block.1",
    ]  # fmt: skip
    assert spec.layers[4].inputs == ("features.3",)
