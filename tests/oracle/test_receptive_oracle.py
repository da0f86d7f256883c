"""Receptive fields measured in torch, not computed by the same formula.

The model runs in torch with positive weights (biases 0, batch norms the identity, max
pooling replaced by average pooling of the same geometry), so that an output element's
gradient with respect to the input is non-zero exactly on the region it reads. The test
back-propagates from single output elements near the centre of an input large enough that
their regions lie inside it, and reads per axis: the size (the support's extent), the jump
(the difference between neighbouring elements' regions) and the start (the region of the
chosen element minus its index times the jump); a global axis must cover the whole input.

CONVCALC_GRAPH_CASES sets the number of random stacks; CONVCALC_RF_ZOO the zoo models
measured layer by layer ("all" for resnet50, mobilenet_v2 and densenet121 as well).
"""

from __future__ import annotations

import os
import random
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from convcalc import analyze, load_spec, spec_from_data
from convcalc.model import INPUT

torch = pytest.importorskip("torch")

from torch_bridge import TorchModel, merge  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ZOO = ROOT / "convcalc" / "models" / "zoo"

ZOO_CI = ("resnet18",)
ZOO_ALL = ZOO_CI + ("vgg16", "resnet50", "mobilenet_v2", "densenet121")


# ------------------------------------------------------------------ measuring
def positive(model: TorchModel, dtype: Any = None) -> TorchModel:
    """Positive weights of mean 1/fan_in, biases 0, norms the identity, max pooling as average
    pooling of the same window, ReLU6 as ReLU: every element-wise layer passes a gradient."""
    nn = torch.nn
    gen = torch.Generator().manual_seed(0)
    for name, module in list(model.modules.items()):
        if isinstance(module, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)):
            assert all(d == 1 for d in torch.nn.modules.utils._pair(module.dilation))
            avg = {1: nn.AvgPool1d, 2: nn.AvgPool2d, 3: nn.AvgPool3d}[
                int(type(module).__name__[-2])
            ]
            module = avg(module.kernel_size, module.stride, module.padding, module.ceil_mode)
        elif isinstance(module, nn.AdaptiveMaxPool2d):
            module = nn.AdaptiveAvgPool2d(module.output_size)
        elif isinstance(module, (nn.ReLU6, nn.Hardtanh)):
            module = nn.ReLU()  # no ceiling: residual sums grow past 6, where ReLU6's gradient is 0
        with torch.no_grad():
            for pname, p in module.named_parameters():
                p.requires_grad_(False)  # the input's gradient alone is read
                if pname.endswith("weight") and p.dim() > 1:
                    fan_in = p[0].numel()
                    p.copy_((0.5 + torch.rand(p.shape, generator=gen, dtype=p.dtype)) / fan_in)
                elif pname.endswith("weight"):
                    p.fill_(1.0)
                else:
                    p.zero_()
            for bname, b in module.named_buffers():
                if bname == "running_mean":
                    b.zero_()
                elif bname == "running_var":
                    b.fill_(1.0)
        model.modules[name] = module.to(dtype or torch.float64).eval()
    return model


def values(model: TorchModel, x: Any) -> dict[str, Any]:
    """Every layer's output in torch."""
    out = {INPUT: x}
    for entry in model.spec.layers:
        xs = [out[name] for name in entry.inputs]
        if entry.type in ("Add", "Mul", "Concat"):
            out[entry.name] = merge(torch, entry, xs)
        else:
            out[entry.name] = model.modules[entry.name](xs[0])
    return out


def support(grad: Any, axis: int) -> tuple[int, int] | None:
    """The first and last input index along spatial ``axis`` where ``grad`` (one sample,
    (C, *spatial)) is non-zero."""
    other = [d for d in range(grad.dim()) if d != axis + 1]
    nz = torch.nonzero(grad.abs().sum(dim=other) > 0).flatten()
    if nz.numel() == 0:
        return None
    return int(nz[0]), int(nz[-1])


def measured(
    y: Any, x: Any, axes: list[int], centre: list[int], step: list[int]
) -> list[tuple[Any, ...]]:
    """Per axis in ``axes``: (size, jump, start, global) read off the gradient of the
    elements at ``centre`` (sample 0) and ``centre + step`` (sample 1; the two samples of
    ``x`` are equal), as the regions of neighbouring elements ``step`` apart."""
    loss = y[(0, slice(None), *centre)].sum()
    loss = loss + y[(1, slice(None), *[c + s for c, s in zip(centre, step)])].sum()
    (grad,) = torch.autograd.grad(loss, x, retain_graph=True)
    out = []
    for a in axes:
        n = x.shape[2 + a]
        first, second = support(grad[0], a), support(grad[1], a)
        assert first is not None and second is not None
        if first == (0, n - 1) and second == (0, n - 1):
            out.append((None, None, None, True))
            continue
        assert 0 < first[0] and first[1] < n - 1, f"region {first} not inside 0..{n - 1}"
        assert 0 < second[0] and second[1] < n - 1, f"region {second} not inside 0..{n - 1}"
        jump = Fraction(second[0] - first[0], step[a])
        size = max(first[1] - first[0], second[1] - second[0]) + 1
        out.append((size, jump, first[0] - centre[a] * jump, False))
    return out


def check_model(spec: Any, shape: tuple[int, ...], axes: list[int], dtype: Any = None) -> int:
    """Every layer of ``spec`` at input ``shape`` (two equal samples): convcalc's field equals
    torch's on ``axes``; returns the number of layers compared. float64 unless ``dtype``:
    in float32 the gradient at a deep region's edge, a product of one small weight per layer,
    underflows to 0 (DenseNet-121's denselayer14 of block 3 loses 4 elements that way)."""
    dtype = dtype or torch.float64
    report = analyze(spec, shape)
    assert report.ok, report.errors
    model = positive(TorchModel(torch, spec, shape, dtype=dtype), dtype)
    gen = torch.Generator().manual_seed(1)
    x = (0.5 + torch.rand(shape[1:], generator=gen, dtype=dtype)).expand(shape)
    x = x.clone().requires_grad_(True)
    outputs = values(model, x)
    compared = 0
    seen: set[int] = set()
    for row in report.rows:
        field = row.receptive_field
        if field is None or not field.layout or id(field) in seen:
            continue  # no spatial layout, or the same field as a layer already compared
        if not all(isinstance(j, int) for j in field.jump):
            continue  # uneven bins (adaptive pooling): test_single_layers measures a period
        seen.add(id(field))
        y = outputs[row.name]
        spatial = y.shape[2:]
        if any(s < 2 for a, s in enumerate(spatial) if a in axes and not field.whole[a]):
            continue  # a single element: no neighbour to measure the jump with
        centre = [s // 2 for s in spatial]
        step = [1 if c + 1 < s else -1 for c, s in zip(centre, spatial)]
        got = measured(y, x, axes, centre, step)
        for a, (size, jump, start, whole) in zip(axes, got):
            where = f"layer {row.index} '{row.name}' ({row.type}), axis {a}"
            assert field.whole[a] == whole, where
            if not whole:
                assert (field.size[a], field.jump[a], field.start[a]) == (size, jump, start), where
        compared += 1
    return compared


def shrunk(spec: Any, shape: tuple[int, ...], keep: Any = None) -> Any:
    """``spec``'s layers (those ``keep`` accepts) at input ``shape`` with 2 channels out of
    every convolution and no groups: the same windows at a fraction of the cost (the field
    is per position, whatever the channels)."""
    layers = []
    for e in spec.layers:
        if keep is not None and not keep(e):
            continue
        args = dict(e.layer.args)
        if "out_channels" in args:
            args.update(in_channels=None, out_channels=2, groups=1)
        for inferred in ("num_features", "in_features"):
            if inferred in args:
                args[inferred] = None
        layers.append({"type": e.type, "name": e.name, "from": list(e.inputs), **args})
    return spec_from_data({"input": list(shape), "layers": layers})


# ------------------------------------------------------------------ VGG-16
def test_vgg16_pool5_is_212_jump_32_start_minus_90():
    spec = load_spec(str(ZOO / "vgg16.yaml"))
    report = analyze(spec)
    pool5 = next(r for r in report.rows if r.name == "features.30")
    assert pool5.type == "MaxPool2d"
    field = pool5.receptive_field
    assert field is not None
    assert (field.size, field.jump, field.start, field.whole) == (
        (212, 212),
        (32, 32),
        (-90, -90),
        (False, False),
    )
    # and torch agrees, on an input of 320 (the neighbour of the centre element reads
    # beyond 224), the features alone
    shape = (2, 3, 320, 320)
    sub = shrunk(spec, shape, lambda e: e.name.startswith("features."))
    model = positive(TorchModel(torch, sub, shape))
    x = torch.full(shape, 1.0, dtype=torch.float64, requires_grad=True)
    y = values(model, x)["features.30"]
    assert measured(y, x, [0, 1], [5, 5], [1, 1]) == [(212, 32, -90, False)] * 2


# ------------------------------------------------------------------ random stacks
#: shape-preserving layers with a field of their own (c channels)
KEEP = [
    "Conv2d({c}, {c}, 3, padding=1)",
    "Conv2d({c}, {c}, 5, padding=2)",
    "Conv2d({c}, {c}, 3, padding=2, dilation=2)",
    "Conv2d({c}, {c}, (3, 1), padding=(1, 0))",
    "Conv2d({c}, {c}, 2, padding='same')",
    "Conv2d({c}, {c}, 4, padding='same', dilation=2, groups={c})",
    "AvgPool2d(3, stride=1, padding=1)",
    "MaxPool2d(3, stride=1, padding=1)",
    "ReLU",
    "BatchNorm2d({c})",
    "Hardswish",
    "Identity",
]
#: what starts a stage: a strided layer
STRIDED = [
    "Conv2d({c}, {c}, 3, stride=2, padding=1)",
    "Conv2d({c}, {c}, 2, stride=2)",
    "MaxPool2d(2)",
    "AvgPool2d(3, stride=2, padding=1)",
    "MaxPool2d(3, stride=(2, 1), padding=1, ceil_mode=True)",
    "Conv2d({c}, {c}, (1, 3), stride=(1, 3))",
]


def random_stack(rng: random.Random, c: int) -> list[dict[str, Any]]:
    """Stages, each opened by a strided layer (or an asymmetric ZeroPad2d and a 2×2 conv),
    then shape-preserving layers that read any output of the stage, merged at random."""
    layers: list[dict[str, Any]] = []
    last = INPUT
    for s in range(rng.randint(1, 3)):
        if rng.random() < 0.2:
            layers.append({"call": "ZeroPad2d((1, 0, 1, 0))", "name": f"s{s}.pad", "from": last})
            layers.append({"call": f"Conv2d({c}, {c}, 2)", "name": f"s{s}", "from": f"s{s}.pad"})
        else:
            layers.append({"call": rng.choice(STRIDED).format(c=c), "name": f"s{s}", "from": last})
        names = [f"s{s}"]
        for i in range(rng.randint(2, 6)):
            name = f"s{s}.{i}"
            if rng.random() < 0.3 and len(names) >= 2:
                a, b = rng.sample(names, 2)
                kind = rng.choice(["Add", "Mul", "Concat"])
                if kind == "Concat":
                    layers.append({"call": "Concat()", "name": f"{name}.cat", "from": [a, b]})
                    layers.append(
                        {"call": f"Conv2d({2 * c}, {c}, 1)", "name": name, "from": f"{name}.cat"}
                    )
                else:
                    layers.append({"call": f"{kind}()", "name": name, "from": [a, b]})
            else:
                call = rng.choice(KEEP).format(c=c)
                layers.append({"call": call, "name": name, "from": rng.choice(names)})
            names.append(name)
        last = names[-1]
    return layers


def spec_of(layers: list[dict[str, Any]], shape: tuple[int, ...]) -> Any:
    from convcalc.expr import parse_call
    from convcalc.layers import lookup

    out = []
    for layer in layers:
        type_name, positional, keywords = parse_call(layer["call"])
        names = [a.name for a in lookup(type_name).ARGS]
        out.append(
            {
                "type": type_name,
                "name": layer["name"],
                "from": layer["from"],
                **dict(zip(names, positional)),
                **keywords,
            }
        )
    return spec_from_data({"input": list(shape), "layers": out})


@pytest.mark.parametrize(
    "seed", range(max(1, int(os.environ.get("CONVCALC_GRAPH_CASES", "100")) // 10))
)
def test_random_stacks_with_branches_match_torch(seed):
    rng = random.Random(seed)
    c = rng.choice([1, 2, 3])
    layers = random_stack(rng, c)
    probe = analyze(spec_of(layers, (2, c, 64, 64)))
    assert probe.ok, probe.errors
    fields = [r.receptive_field for r in probe.rows if r.receptive_field is not None]
    # an input whose centre elements' regions lie well inside it
    need = max(max(f.size) + 4 * max(f.jump) for f in fields)
    n = int(max(24, need + 8))
    assert check_model(spec_of(layers, (2, c, n, n)), (2, c, n, n), [0, 1]) > 0


# ------------------------------------------------------------------ single layers
@pytest.mark.parametrize(
    "call, shape",
    [
        ("ConvTranspose2d(1, 1, 3, stride=2, padding=1)", (2, 1, 12, 12)),
        ("ConvTranspose2d(1, 1, 4, stride=2, padding=1)", (2, 1, 12, 12)),
        ("ConvTranspose2d(1, 1, 5, stride=3, padding=2, dilation=2)", (2, 1, 12, 12)),
        ("ConvTranspose2d(1, 1, 2, stride=3)", (2, 1, 12, 12)),
        ("Upsample(scale_factor=2, mode='nearest')", (2, 1, 12, 12)),
        ("Upsample(scale_factor=2, mode='bilinear')", (2, 1, 12, 12)),
        ("Upsample(scale_factor=3, mode='bicubic')", (2, 1, 12, 12)),
        ("Upsample(size=(52, 52), mode='bilinear', align_corners=True)", (2, 1, 35, 35)),
        ("PixelShuffle(2)", (2, 4, 10, 10)),
        ("PixelUnshuffle(2)", (2, 1, 20, 20)),
        ("AdaptiveAvgPool2d(15)", (2, 1, 69, 69)),
        ("ZeroPad2d((2, 1, 3, 0))", (2, 1, 12, 12)),
        ("Conv2d(1, 1, 3, padding=2, padding_mode='reflect')", (2, 1, 12, 12)),
    ],
)
def test_single_layers_match_torch(call, shape):
    """Over a whole period of output elements (the pattern of a transposed convolution or an
    upsampling repeats every stride outputs, every jump's denominator): the largest region
    is the size, and the elements at multiples of the period give the start and jump."""
    spec = spec_of([{"call": call, "name": "l", "from": INPUT}], shape)
    report = analyze(spec)
    field = report.rows[0].receptive_field
    assert field is not None
    model = positive(TorchModel(torch, spec, shape, dtype=torch.float64))
    x = torch.full(shape, 1.0, dtype=torch.float64, requires_grad=True)
    y = values(model, x)["l"]
    periods = [Fraction(j).denominator for j in field.jump]
    bases = [(n // 2) // p * p for n, p in zip(y.shape[2:], periods)]
    for a in (0, 1):
        period, base = periods[a], bases[a]
        sizes, los = [], {}
        for o in range(base, base + period + 1):
            index = list(bases)
            index[a] = o
            (grad,) = torch.autograd.grad(y[(0, slice(None), *index)].sum(), x, retain_graph=True)
            span = support(grad[0], a)
            if span is None:
                continue  # reads nothing (a transposed convolution's kernel shorter than its stride)
            assert 0 < span[0] and span[1] < x.shape[2 + a] - 1
            sizes.append(span[1] - span[0] + 1)
            los[o] = span[0]
        jump = Fraction(los[base + period] - los[base], period)
        assert field.size[a] == max(sizes), (call, a)
        assert field.jump[a] == jump, (call, a)
        assert field.start[a] == los[base] - base * jump, (call, a)


# ------------------------------------------------------------------ the zoo
def zoo_models() -> tuple[str, ...]:
    chosen = os.environ.get("CONVCALC_RF_ZOO", ",".join(ZOO_CI))
    return ZOO_ALL if chosen == "all" else tuple(m for m in chosen.split(",") if m)


@pytest.mark.parametrize("name", zoo_models())
def test_zoo_every_layer_matches_torch(name):
    """On an input large enough for the deepest layer's region, 2 channels per convolution."""
    spec = load_spec(str(ZOO / f"{name}.yaml"))
    report = analyze(spec)
    fields = [r.receptive_field for r in report.rows if r.receptive_field is not None]
    deep = max(f.size[0] + 4 * f.jump[0] for f in fields if not f.whole[0])
    jump = max(f.jump[0] for f in fields)
    h = int(-(-(deep + 16) // jump) * jump)
    shape = (2, spec.input_shape[1], h, h)
    assert check_model(shrunk(spec, shape), shape, [0, 1]) >= 10


# ------------------------------------------------------------------ resampling stacks
#: layers along H (W stays 1) whose neighbouring outputs are a fraction of an input element
#: apart, or whose regions differ in size from one output to the next
RESAMPLE = [
    "Upsample(scale_factor=({f}, 1.0), mode='{m}')",
    "ConvTranspose2d(1, 1, ({k}, 1), stride=({s}, 1), padding=({p}, 0), dilation=({d}, 1))",
    "AdaptiveAvgPool2d(({n}, 1))",
]
WINDOWS = [
    "Conv2d(1, 1, ({k}, 1), stride=({s}, 1), padding=({p}, 0), dilation=({d}, 1))",
    "AvgPool2d(({k}, 1), stride=({s}, 1), padding=({q}, 0))",
]
#: odd scales too: 1.02 keeps the size (torch copies), 2.04 doubles it (torch halves the
#: index), 0.575 and 1.025 hit float32 rounding
SCALES = [2, 3, 1.5, 2.5, 0.5, 0.75, 1.7, 3.3, 0.45, 1.02, 2.04, 0.575, 1.025]
MODES = ["nearest", "nearest-exact", "bilinear", "bicubic"]


def resample_stack(rng: random.Random, n: int) -> list[dict[str, Any]]:
    """Three to six layers along H, some read by a residual Add of two windows of one input."""
    layers: list[dict[str, Any]] = []
    last, size = INPUT, n
    for i in range(rng.randint(3, 6)):
        k, s, d = rng.randint(1, 4), rng.randint(1, 3), rng.randint(1, 2)
        p = rng.randint(0, (k - 1) * d)
        q = rng.randint(0, k // 2)
        if rng.random() < 0.5:
            template = rng.choice(RESAMPLE)
        else:
            template = rng.choice(WINDOWS)
        call = template.format(
            f=rng.choice(SCALES),
            m=rng.choice(MODES),
            k=k,
            s=s,
            p=p,
            d=d,
            q=q,
            n=rng.randint(max(2, size // 3), max(2, size + 3)),
        )
        layers.append({"call": call, "name": f"l{i}", "from": last})
        last = f"l{i}"
        probe = analyze(spec_of(layers, (1, 1, n, 1)))
        if not probe.ok:
            layers.pop()
            last = layers[-1]["name"] if layers else INPUT
            continue
        row = probe.rows[-1]
        if "bicubic" in call and row.output_shape[2] == size:
            # torch's bicubic backward copies the gradient when the size is kept, though its
            # forward interpolates: the gradient would not show what the output reads
            layers.pop()
            last = layers[-1]["name"] if layers else INPUT
            continue
        size = row.output_shape[2]
        if rng.random() < 0.3:
            layers.append(
                {"call": "Conv2d(1, 1, (3, 1), padding=(1, 0))", "name": f"a{i}", "from": last}
            )
            layers.append({"call": "Conv2d(1, 1, (1, 1))", "name": f"b{i}", "from": last})
            layers.append({"call": "Add()", "name": f"m{i}", "from": [f"a{i}", f"b{i}"]})
            last = f"m{i}"
    return layers


@pytest.mark.parametrize("seed", range(int(os.environ.get("CONVCALC_RESAMPLE_CASES", "12"))))
def test_resampling_stacks_match_torch_element_by_element(seed):
    """Every output element's region along H, measured, equals the one the field's pattern
    gives it (not only the largest size, the jump and the start)."""
    from convcalc.receptive import axis_map

    rng = random.Random(seed)
    n = 48
    layers = resample_stack(rng, n)
    shape = (1, 1, n, 1)
    spec = spec_of(layers, shape)
    report = analyze(spec)
    assert report.ok, report.errors
    model = positive(TorchModel(torch, spec, shape, dtype=torch.float64))
    x = torch.full(shape, 1.0, dtype=torch.float64, requires_grad=True)
    outputs = values(model, x)
    compared = 0
    unknown: set[str] = set()
    for row in report.rows:
        field = row.receptive_field
        y = outputs[row.name]
        if field is None:
            # a pattern longer than periodic.LIMIT (uneven adaptive bins after an odd
            # scale, say) is not followed: unknown from the layer that makes it on; or the
            # output reads nothing (a stride that picks only a transposed convolution's gaps)
            (grad,) = torch.autograd.grad(y.sum(), x, retain_graph=True)
            resampling = row.type in ("Upsample", "ConvTranspose2d", "AdaptiveAvgPool2d")
            reads = support(grad[0], 0) is not None
            assert resampling or not reads or unknown & set(row.inputs), row.name
            unknown.add(row.name)
            continue
        assert not field.whole[0], row.name
        pattern = axis_map(field, 0)
        for o in range(y.shape[2]):
            lo, hi = pattern.at(o)
            if lo <= 0 or hi >= n - 1:
                continue  # the region meets the border, where torch clamps or pads
            (grad,) = torch.autograd.grad(y[0, :, o, 0].sum(), x, retain_graph=True)
            span = support(grad[0], 0)
            if lo > hi:  # reads nothing (a transposed convolution's gap)
                assert span is None, (row.name, o)
            else:
                assert span == (lo, hi), (row.name, row.type, o)
            compared += 1
        sizes = [h - l_ + 1 for l_, h in (pattern.at(o) for o in range(pattern.period)) if l_ <= h]
        assert field.size[0] == max(sizes)
    assert compared > 0
