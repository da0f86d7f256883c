"""Random graphs (branches that read any earlier output, merges, shared inputs) run by convcalc
and, layer for layer, by torch with the same weights: the outputs must agree. This is what
catches a kernel that writes into an input another branch still reads."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest

from convcalc import analyze, spec_from_data
from convcalc.expr import parse_call
from convcalc.forward import run_forward
from convcalc.layers import lookup

#: shape-preserving layers on (N, C, H, W) with C channels; torch's in-place activations also
#: change what another branch reads (the layer's input, and whatever shares it: Identity,
#: Dropout and Flatten pass their input on as it is, or as a view)
UNARY = [
    "ReLU",
    "ReLU(inplace=True)",
    "LeakyReLU(0.2, inplace=True)",
    "Hardswish(inplace=True)",
    "Dropout(0.1, inplace=True)",
    "Sigmoid",
    "Identity",
    "Dropout(0.3)",
    "BatchNorm2d(num_features={c})",
    "Conv2d({c}, {c}, 3, padding=1)",
    "Conv2d({c}, {c}, 3, padding='same', groups={c})",
    "AvgPool2d(3, stride=1, padding=1)",
    "MaxPool2d(3, stride=1, padding=1)",
    "LeakyReLU(0.1)",
    "Hardswish",
    "GroupNorm(1, {c})",
    "ZeroPad2d(0)",
    "Flatten(0, 0)",
]


def random_graph(rng: random.Random, c: int) -> list[dict]:
    layers: list[dict] = []
    names = ["input"]
    for i in range(rng.randint(3, 12)):
        name = f"n{i}"
        kind = rng.random()
        if kind < 0.25 and len(names) >= 2:
            a, b = rng.sample(names, 2)
            merge = rng.choice(["Add", "Mul", "Concat"])
            if merge == "Concat":
                layers.append({"type": "Concat", "name": f"{name}.cat", "from": [a, b]})
                layers.append({"type": "Conv2d", "name": name, "out_channels": c, "kernel_size": 1})
            else:
                layers.append({"type": merge, "name": name, "from": [a, b]})
        else:
            text = rng.choice(UNARY).format(c=c)
            type_name = text.split("(")[0]
            layers.append(
                {
                    "type": type_name,
                    "name": name,
                    "from": rng.choice(names),
                    "_call": text[len(type_name) :],
                }
            )
        names.append(name)
    return layers


def to_data(layers: list[dict], shape: tuple[int, ...]) -> dict:
    """Config data: each layer's call-string arguments become mapping keys."""
    out = []
    for layer in layers:
        layer = dict(layer)
        call = layer.pop("_call", None)
        if call:
            _, positional, keywords = parse_call(layer["type"] + call)
            names = [a.name for a in lookup(layer["type"]).ARGS]
            layer.update(dict(zip(names, positional)))
            layer.update(keywords)
        out.append(layer)
    return {"input": list(shape), "layers": out}


@pytest.mark.parametrize("seed", range(int(os.environ.get("CONVCALC_GRAPH_CASES", "100"))))
def test_random_graphs_agree_with_torch(seed):
    torch = pytest.importorskip("torch")
    from torch_bridge import TorchModel

    rng = random.Random(seed)
    c = rng.choice([2, 3, 4])
    shape = (rng.randint(1, 2), c, rng.randint(3, 7), rng.randint(3, 7))
    spec = spec_from_data(to_data(random_graph(rng, c), shape))
    report = analyze(spec)
    assert report.ok, report.errors
    torch.manual_seed(seed)
    model = TorchModel(torch, spec, shape, dtype=torch.float64)
    for module in model.modules.values():  # running statistics that matter
        for name, buf in module.named_buffers():
            if name == "running_var":
                buf.uniform_(0.5, 1.5)
            elif name == "running_mean":
                buf.uniform_(-0.5, 0.5)
    x = torch.randn(*shape, dtype=torch.float64)
    with torch.no_grad():
        expected = model(x.clone()).numpy()
    result = run_forward(spec, weights=model.state_dict(), input_data=x.numpy(), dtype="float64")
    assert result.verified
    np.testing.assert_allclose(result.output, expected, rtol=1e-9, atol=1e-12)
