"""Random layer configurations for the PyTorch oracle (tests/oracle/test_shape_oracle.py).

``GENERATORS`` maps every layer type name to ``function(rng) -> (call_string, input_shape)``.
The calls are written the way a user writes them (positional or keyword arguments,
ints or tuples, sometimes ``nn.``-prefixed) and deliberately include configurations
PyTorch rejects, so that about a third of all cases are errors. Nothing here imports
torch: a generator only draws a configuration; PyTorch decides what it means.

``INFERRED`` names, per type, the constructor argument that a convcalc call may omit
(it is then taken from the input, as PyTorch's Lazy modules do) and the input
dimension it comes from.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import Any

from convcalc.layers.arguments import is_int

Shape = tuple[int, ...]
Case = tuple[str, Shape]
Generator = Callable[[random.Random], Case]

GENERATORS: dict[str, Generator] = {}

#: type name -> (argument name, function(input shape) -> value torch needs)
INFERRED: dict[str, tuple[str, Callable[[Shape], int]]] = {}


def _channel_of(nd: int) -> Callable[[Shape], int]:
    """The channel size of a (C, *spatial) or (N, C, *spatial) input; 1 for a rank too small."""

    def channel(x: Shape) -> int:
        return x[len(x) - nd - 1] if len(x) >= nd + 1 else 1

    return channel


def _batch_channel(x: Shape) -> int:
    return x[1] if len(x) >= 2 else 1


# ------------------------------------------------------------------ helpers
def lit(value: Any) -> str:
    """A Python literal, as a user would type it."""
    if isinstance(value, tuple) and len(value) == 1:
        return f"({lit(value[0])},)"
    if isinstance(value, tuple):
        return "(" + ", ".join(lit(v) for v in value) + ")"
    if isinstance(value, float) and math.isinf(value):
        return "1e999" if value > 0 else "-1e999"
    if isinstance(value, list):
        return "[" + ", ".join(lit(v) for v in value) + "]"
    return repr(value)


def call(rng: random.Random, type_name: str, order: Sequence[str], values: dict[str, Any]) -> str:
    """``type_name(...)`` with ``values``: a random leading run positional, the rest keywords.

    ``order`` is PyTorch's positional order; names in ``values`` that are not in it
    (arguments the type does not take) are passed as keywords.
    """
    prefix = 0
    for name in order:
        if name not in values:
            break
        prefix += 1
    values = _odd_value(rng, values) if maybe(rng, 0.04) else values
    k = rng.randint(0, prefix)
    names = [n for n in order if n in values] + [n for n in values if n not in order]
    parts = [lit(values[n]) for n in names[:k]] + [f"{n}={lit(values[n])}" for n in names[k:]]
    prefix_text = rng.choice(["", "", "", "", "", "", "", "", "nn.", "torch.nn."])
    return f"{prefix_text}{type_name}({', '.join(parts)})"


def _odd_value(rng: random.Random, values: dict[str, Any]) -> dict[str, Any]:
    """One integer argument made 0, negative or a float (torch decides what that means)."""
    names = [
        n
        for n, v in values.items()
        if is_int(v) or (isinstance(v, (tuple, list)) and v and all(is_int(i) for i in v))
    ]
    if not names:
        return values
    name = rng.choice(names)
    value = values[name]
    # a float num_features/num_channels "works" in torch only when no tensor of that size is
    # ever allocated (affine=False, no running stats); convcalc rejects it, deliberately
    odd = rng.choice([0, -1] if name in ("num_features", "num_channels") else [0, -1, "float"])
    if isinstance(value, (tuple, list)):
        items = list(value)
        i = rng.randrange(len(items))
        items[i] = float(items[i]) if odd == "float" else odd
        new: Any = type(value)(items)
    else:
        new = float(value) if odd == "float" else odd
    return {**values, name: new}


def ints(rng: random.Random, values: Sequence[int]) -> Any:
    """An int when all ``values`` are equal (mostly), else a tuple (sometimes a list)."""
    values = list(values)
    if len(set(values)) == 1 and rng.random() < 0.6:
        return values[0]
    if rng.random() < 0.1:
        return values
    return tuple(values)


def maybe(rng: random.Random, p: float) -> bool:
    return rng.random() < p


def spatial_sizes(rng: random.Random, nd: int, lo: int = 1, hi: int | None = None) -> list[int]:
    hi = hi or {1: 24, 2: 12, 3: 7}[nd]
    if maybe(rng, 0.5):
        return [rng.randint(lo, hi)] * nd
    return [rng.randint(lo, hi) for _ in range(nd)]


def nd_input(
    rng: random.Random,
    nd: int,
    channels: int,
    *,
    hi: int | None = None,
    lo: int = 1,
    wrong_rank: float = 0.08,
    unbatched: float = 0.25,
) -> Shape:
    """(N, C, *spatial), or (C, *spatial), or (rarely) a rank that fits no nd."""
    sizes = spatial_sizes(rng, nd, lo, hi)
    if maybe(rng, wrong_rank):
        sizes = sizes[:-1] if nd > 1 and maybe(rng, 0.5) else sizes + [rng.randint(1, 4)]
    batch = [] if maybe(rng, unbatched) else [rng.randint(1, 3)]
    return tuple(batch + [channels] + sizes)


def any_input(rng: random.Random, lo_rank: int = 1, hi_rank: int = 5) -> Shape:
    rank = rng.randint(lo_rank, hi_rank)
    hi = {1: 12, 2: 8, 3: 6, 4: 5, 5: 4}.get(rank, 3)
    return tuple(rng.randint(1, hi) for _ in range(rank))


def register(*names: str) -> Callable[[Callable[..., Case]], Callable[..., Case]]:
    def wrap(fn: Callable[..., Case]) -> Callable[..., Case]:
        for name in names:
            GENERATORS[name] = (lambda n: lambda rng: fn(rng, n))(name)
        return fn

    return wrap


def nd_of(name: str) -> int:
    return int(name[-2])


# -------------------------------------------------------------- convolution
CONV_ORDER = (
    "in_channels",
    "out_channels",
    "kernel_size",
    "stride",
    "padding",
    "dilation",
    "groups",
    "bias",
    "padding_mode",
)
CONVT_ORDER = (
    "in_channels",
    "out_channels",
    "kernel_size",
    "stride",
    "padding",
    "output_padding",
    "groups",
    "bias",
    "dilation",
    "padding_mode",
)


def _groups_channels(rng: random.Random) -> tuple[int, int, int]:
    groups = rng.choice([1, 1, 1, 2, 3, 4])
    c_in = groups * rng.randint(1, 3)
    c_out = groups * rng.randint(1, 3)
    if maybe(rng, 0.15):
        groups = c_in  # depthwise
        c_out = c_in * rng.randint(1, 2)
    if maybe(rng, 0.06):
        c_in += 1  # not divisible (unless groups == 1)
    if maybe(rng, 0.06):
        c_out += 1
    if maybe(rng, 0.02):
        groups = rng.choice([0, -1])
    return c_in, c_out, groups


@register("Conv1d", "Conv2d", "Conv3d")
def gen_conv(rng: random.Random, name: str) -> Case:
    nd = nd_of(name)
    c_in, c_out, groups = _groups_channels(rng)
    k = (
        [rng.randint(1, 4 if nd < 3 else 3) for _ in range(nd)]
        if maybe(rng, 0.4)
        else [rng.randint(1, 5)] * nd
    )
    values: dict[str, Any] = {
        "in_channels": c_in,
        "out_channels": c_out,
        "kernel_size": ints(rng, k),
    }
    stride = (
        [rng.randint(1, 3) for _ in range(nd)]
        if maybe(rng, 0.2)
        else [rng.choice([1, 1, 2, 3])] * nd
    )
    if stride != [1] * nd or maybe(rng, 0.1):
        values["stride"] = ints(rng, stride)
    r = rng.random()
    if r < 0.12:
        values["padding"] = "same"
    elif r < 0.17:
        values["padding"] = "valid"
    elif r < 0.6:
        values["padding"] = ints(
            rng,
            [rng.randint(0, 3) for _ in range(nd)] if maybe(rng, 0.3) else [rng.randint(0, 3)] * nd,
        )
    if maybe(rng, 0.25):
        values["dilation"] = ints(rng, [rng.randint(1, 3)] * nd)
    if groups != 1 or maybe(rng, 0.1):
        values["groups"] = groups
    if maybe(rng, 0.3):
        values["bias"] = rng.choice([True, False])
    if maybe(rng, 0.25):
        values["padding_mode"] = rng.choice(["zeros", "reflect", "replicate", "circular"])
    if maybe(rng, 0.01):
        values["kernel_size"] = tuple(k + [3])  # a tuple of the wrong length
    if maybe(rng, 0.3):
        del values["in_channels"]
    channels = c_in if not maybe(rng, 0.08) else c_in + rng.choice([-1, 1, 2]) or 1
    return call(rng, name, CONV_ORDER, values), nd_input(rng, nd, channels)


@register("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d")
def gen_conv_transpose(rng: random.Random, name: str) -> Case:
    nd = nd_of(name)
    c_in, c_out, groups = _groups_channels(rng)
    k = [rng.randint(1, 4) for _ in range(nd)] if maybe(rng, 0.3) else [rng.randint(1, 5)] * nd
    values: dict[str, Any] = {
        "in_channels": c_in,
        "out_channels": c_out,
        "kernel_size": ints(rng, k),
    }
    s = rng.choice([1, 1, 2, 2, 3])
    d = rng.choice([1, 1, 1, 2, 3])
    if s != 1 or maybe(rng, 0.1):
        values["stride"] = ints(rng, [s] * nd)
    if maybe(rng, 0.5):
        values["padding"] = ints(rng, [rng.randint(0, 3)] * nd)
    if maybe(rng, 0.03):
        values["padding"] = rng.choice(["same", "valid"])
    if maybe(rng, 0.4):
        values["output_padding"] = ints(rng, [rng.randint(0, max(s, d))] * nd)
    if groups != 1 or maybe(rng, 0.1):
        values["groups"] = groups
    if maybe(rng, 0.3):
        values["bias"] = rng.choice([True, False])
    if d != 1 or maybe(rng, 0.1):
        values["dilation"] = ints(rng, [d] * nd)
    if maybe(rng, 0.05):
        values["padding_mode"] = rng.choice(["zeros", "reflect"])
    if maybe(rng, 0.3):
        del values["in_channels"]
    channels = c_in if not maybe(rng, 0.08) else c_in + rng.choice([-1, 1, 2]) or 1
    hi = {1: 12, 2: 6, 3: 4}[nd]
    return call(rng, name, CONVT_ORDER, values), nd_input(rng, nd, channels, hi=hi)


# ------------------------------------------------------------------ pooling
def _pool_window(rng: random.Random, nd: int) -> dict[str, Any]:
    """kernel_size, and maybe stride (or None) and padding, as max and average pooling take."""
    k = [rng.randint(1, 4) for _ in range(nd)] if maybe(rng, 0.3) else [rng.randint(1, 4)] * nd
    values: dict[str, Any] = {"kernel_size": ints(rng, k)}
    if maybe(rng, 0.5):
        values["stride"] = ints(rng, [rng.randint(1, 3)] * nd) if maybe(rng, 0.9) else None
    if maybe(rng, 0.5):
        values["padding"] = ints(rng, [rng.randint(0, 2)] * nd)
    return values


@register("MaxPool1d", "MaxPool2d", "MaxPool3d")
def gen_max_pool(rng: random.Random, name: str) -> Case:
    nd = nd_of(name)
    values = _pool_window(rng, nd)
    if maybe(rng, 0.3):
        values["dilation"] = ints(rng, [rng.randint(1, 3)] * nd)
    if maybe(rng, 0.1):
        values["return_indices"] = rng.choice([True, False])
    if maybe(rng, 0.5):
        values["ceil_mode"] = rng.choice([True, False])
    order = ("kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode")
    return call(rng, name, order, values), nd_input(
        rng, nd, rng.randint(1, 4), hi={1: 16, 2: 9, 3: 6}[nd]
    )


@register("AvgPool1d", "AvgPool2d", "AvgPool3d")
def gen_avg_pool(rng: random.Random, name: str) -> Case:
    nd = nd_of(name)
    values = _pool_window(rng, nd)
    if maybe(rng, 0.5):
        values["ceil_mode"] = rng.choice([True, False])
    if maybe(rng, 0.2):
        values["count_include_pad"] = rng.choice([True, False])
    if maybe(rng, 0.2 if nd > 1 else 0.04):
        values["divisor_override"] = rng.choice([None, 0, 1, 3])  # AvgPool1d has none
    order = (
        "kernel_size",
        "stride",
        "padding",
        "ceil_mode",
        "count_include_pad",
        "divisor_override",
    )
    return call(rng, name, order, values), nd_input(
        rng, nd, rng.randint(1, 4), hi={1: 16, 2: 9, 3: 6}[nd]
    )


@register("LPPool1d", "LPPool2d", "LPPool3d")
def gen_lp_pool(rng: random.Random, name: str) -> Case:
    """Power-average pooling: no padding argument; a fractional p on negative inputs is nan;
    p = ±inf is the window's largest (smallest) magnitude."""
    nd = nd_of(name)
    values = _pool_window(rng, nd)
    values.pop("padding", None)
    norm_type = rng.choice([1, 2, 2.0, 3, 1.5, 4, math.inf, -math.inf])
    values = {"norm_type": norm_type, **values}
    if maybe(rng, 0.5):
        values["ceil_mode"] = rng.choice([True, False])
    order = ("norm_type", "kernel_size", "stride", "ceil_mode")
    return call(rng, name, order, values), nd_input(
        rng, nd, rng.randint(1, 4), hi={1: 16, 2: 9, 3: 6}[nd]
    )


@register(
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveAvgPool3d",
    "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
    "AdaptiveMaxPool3d",
)
def gen_adaptive_pool(rng: random.Random, name: str) -> Case:
    nd = nd_of(name)
    sizes: list[int | None] = [rng.randint(1, 7) for _ in range(nd)]
    if nd > 1 and maybe(rng, 0.2):
        sizes[rng.randrange(nd)] = None
    if maybe(rng, 0.04):
        sizes[0] = 0
    if maybe(rng, 0.05):
        sizes.append(2)  # one size too many
    values: dict[str, Any] = {
        "output_size": sizes[0]
        if nd == 1 or (len(set(sizes)) == 1 and maybe(rng, 0.5))
        else tuple(sizes)
    }
    order: tuple[str, ...] = ("output_size",)
    if name.startswith("AdaptiveMax"):
        order = ("output_size", "return_indices")
        if maybe(rng, 0.2):
            values["return_indices"] = rng.choice([True, False])
    x = nd_input(rng, nd, rng.randint(1, 4), hi={1: 16, 2: 9, 3: 6}[nd], wrong_rank=0.15)
    return call(rng, name, order, values), x


# ------------------------------------------------------- linear, reshaping
@register("Linear")
def gen_linear(rng: random.Random, name: str) -> Case:
    n_in = rng.randint(1, 12)
    values: dict[str, Any] = {"in_features": n_in, "out_features": rng.randint(1, 12)}
    if maybe(rng, 0.3):
        values["bias"] = rng.choice([True, False])
    if maybe(rng, 0.3):
        del values["in_features"]
    x = list(any_input(rng, 1, 4))
    x[-1] = n_in if not maybe(rng, 0.35) else rng.randint(1, 12)
    return call(rng, name, ("in_features", "out_features", "bias"), values), tuple(x)


@register("Flatten")
def gen_flatten(rng: random.Random, name: str) -> Case:
    values: dict[str, Any] = {}
    if maybe(rng, 0.7):
        values["start_dim"] = rng.randint(-4, 3)
    if maybe(rng, 0.6):
        values["end_dim"] = rng.randint(-4, 3)
    return call(rng, name, ("start_dim", "end_dim"), values), any_input(rng, 1, 5)


@register("Unflatten")
def gen_unflatten(rng: random.Random, name: str) -> Case:
    x = list(any_input(rng, 1, 4))
    dim = rng.randrange(len(x))
    x[dim] = rng.choice([1, 2, 4, 6, 8, 12, 24])
    size = x[dim]
    parts = []
    while size > 1 and len(parts) < 3:
        f = rng.choice([f for f in range(1, size + 1) if size % f == 0])
        parts.append(f)
        size //= f
    parts.append(size)
    rng.shuffle(parts)
    if maybe(rng, 0.3):
        parts[rng.randrange(len(parts))] = -1
    if maybe(rng, 0.15):
        parts[rng.randrange(len(parts))] += 1
    if maybe(rng, 0.03):
        parts = [-1, -1]
    unflat: Any = tuple(parts) if maybe(rng, 0.7) else list(parts)
    if maybe(rng, 0.03):
        unflat = parts[0]  # an int: torch wants a tuple or list
    if maybe(rng, 0.02):
        unflat = ()
    d = dim - len(x) if maybe(rng, 0.3) else dim
    if maybe(rng, 0.05):
        d = len(x) + 1
    return call(
        rng, name, ("dim", "unflattened_size"), {"dim": d, "unflattened_size": unflat}
    ), tuple(x)


@register("Identity")
def gen_identity(rng: random.Random, name: str) -> Case:
    args = rng.choice(["", "54", "unused_argument1=0.1", "3, 4, foo='bar'"])
    return f"{name}({args})", any_input(rng)


# ---------------------------------------------------------------- norms
NORM_ORDER = ("num_features", "eps", "momentum", "affine", "track_running_stats")


@register("BatchNorm1d", "BatchNorm2d", "BatchNorm3d")
def gen_batch_norm(rng: random.Random, name: str) -> Case:
    nd = nd_of(name)
    c = rng.randint(1, 6)
    values: dict[str, Any] = {"num_features": c}
    if maybe(rng, 0.2):
        values["eps"] = rng.choice([1e-3, 1e-3, 0.0, -1e-5])  # torch: ≥ 0, > 0 on batch stats
    if maybe(rng, 0.2):
        values["momentum"] = rng.choice([0.1, None])
    if maybe(rng, 0.4):
        values["affine"] = rng.choice([True, False])
    if maybe(rng, 0.4):
        values["track_running_stats"] = rng.choice([True, False])
    if maybe(rng, 0.3):
        del values["num_features"]
    channels = c if not maybe(rng, 0.1) else c + 1
    if nd == 1:
        x: Shape = (rng.randint(1, 3), channels) + ((rng.randint(1, 6),) if maybe(rng, 0.6) else ())
        if maybe(rng, 0.08):
            x = rng.choice([(channels,), x + (2, 2)])
    else:
        x = nd_input(rng, nd, channels, hi=5, unbatched=0.1, wrong_rank=0.1)
        if maybe(rng, 0.15):
            x = (1, channels) + (1,) * nd  # a single value per channel
    return call(rng, name, NORM_ORDER, values), x


@register("SyncBatchNorm")
def gen_sync_batch_norm(rng: random.Random, name: str) -> Case:
    """BatchNorm of (N, C, *) of any rank: the channels are always dim 1."""
    text, x = gen_batch_norm(rng, "BatchNorm2d")
    channels = x[1] if len(x) > 1 else x[0]
    rank = rng.choice([1, 2, 3, 4, 5, 6]) if maybe(rng, 0.9) else 1
    x = (rng.randint(1, 3), channels) + tuple(rng.randint(1, 4) for _ in range(rank - 2))
    if rank == 1:
        x = (channels,)
    return text.replace("BatchNorm2d", name, 1), x


@register("InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d")
def gen_instance_norm(rng: random.Random, name: str) -> Case:
    nd = nd_of(name)
    c = rng.randint(1, 6)
    values: dict[str, Any] = {"num_features": c}
    if maybe(rng, 0.2):
        values["eps"] = 1e-3
    if maybe(rng, 0.4):
        values["affine"] = rng.choice([True, False])
    if maybe(rng, 0.4):
        values["track_running_stats"] = rng.choice([True, False])
    if maybe(rng, 0.3):
        del values["num_features"]
    channels = c if not maybe(rng, 0.15) else c + 1
    x = nd_input(rng, nd, channels, hi=5, wrong_rank=0.1)
    if maybe(rng, 0.1):
        x = x[: len(x) - nd] + (1,) * nd  # a single spatial element
    return call(rng, name, NORM_ORDER, values), x


@register("GroupNorm")
def gen_group_norm(rng: random.Random, name: str) -> Case:
    g = rng.randint(1, 4)
    c = g * rng.randint(1, 3)
    values: dict[str, Any] = {"num_groups": g, "num_channels": c if not maybe(rng, 0.1) else c + 1}
    if maybe(rng, 0.2):
        values["eps"] = 1e-3
    if maybe(rng, 0.3):
        values["affine"] = rng.choice([True, False])
    channels = c if not maybe(rng, 0.1) else c + 1
    x = (rng.randint(1, 3), channels) + tuple(rng.randint(1, 4) for _ in range(rng.randint(0, 3)))
    if maybe(rng, 0.1):
        x = (channels,) + x[2:]
    return call(rng, name, ("num_groups", "num_channels", "eps", "affine"), values), x


@register("LayerNorm", "RMSNorm")
def gen_layer_norm(rng: random.Random, name: str) -> Case:
    x = any_input(rng, 1, 4)
    n = rng.randint(1, len(x))
    shape = list(x[len(x) - n :])
    if maybe(rng, 0.15):
        shape[rng.randrange(n)] += 1
    if maybe(rng, 0.05):
        shape = [1] + shape + [1] * (5 - len(shape))  # longer than the input
    norm: Any = (
        shape[0]
        if len(shape) == 1 and maybe(rng, 0.5)
        else (tuple(shape) if maybe(rng, 0.7) else shape)
    )
    values: dict[str, Any] = {"normalized_shape": norm}
    if maybe(rng, 0.2):
        values["eps"] = 1e-6
    if maybe(rng, 0.3):
        values["elementwise_affine"] = rng.choice([True, False])
    if maybe(rng, 0.3) and name == "LayerNorm":
        values["bias"] = rng.choice([True, False])
    order = ("normalized_shape", "eps", "elementwise_affine", "bias")
    return call(rng, name, order if name == "LayerNorm" else order[:3], values), x


@register("LocalResponseNorm")
def gen_lrn(rng: random.Random, name: str) -> Case:
    values: dict[str, Any] = {"size": rng.randint(1, 5)}
    if maybe(rng, 0.3):
        values["alpha"] = 1e-3
    if maybe(rng, 0.3):
        values["beta"] = 0.5
    if maybe(rng, 0.3):
        values["k"] = 2.0
    return call(rng, name, ("size", "alpha", "beta", "k"), values), any_input(rng, 1, 5)


# ------------------------------------------------------------ activations
# name -> (positional order, function(rng) -> keyword values)
def _none(rng: random.Random) -> dict[str, Any]:
    return {}


def _inplace(rng: random.Random) -> dict[str, Any]:
    return {"inplace": rng.choice([True, False])} if maybe(rng, 0.2) else {}


def _with(**choices: Sequence[Any]) -> Callable[[random.Random], dict[str, Any]]:
    def draw(rng: random.Random) -> dict[str, Any]:
        return {k: rng.choice(list(v)) for k, v in choices.items() if maybe(rng, 0.5)}

    return draw


def _dim(rng: random.Random) -> dict[str, Any]:
    return {"dim": rng.choice([None, -1, 0, 1, 2, 3, -3, 5])} if maybe(rng, 0.8) else {}


def _hardtanh(rng: random.Random) -> dict[str, Any]:
    values = _with(min_val=[-1.0, -2.0, 0.5], max_val=[1.0, 2.0, 0.0])(rng)
    return {**values, **_inplace(rng)}


def _prelu(rng: random.Random) -> dict[str, Any]:
    return {"num_parameters": rng.choice([1, 1, 2, 3, 4])} if maybe(rng, 0.7) else {}


def _gelu(rng: random.Random) -> dict[str, Any]:
    return {"approximate": rng.choice(["none", "tanh", "tanh", "exact"])} if maybe(rng, 0.5) else {}


def _threshold(rng: random.Random) -> dict[str, Any]:
    return {"threshold": rng.choice([0.0, 0.5, -1.0]), "value": rng.choice([0.0, -2.0, 3.5])}


ACTIVATIONS: dict[str, tuple[tuple[str, ...], Callable[[random.Random], dict[str, Any]]]] = {
    "ReLU": (("inplace",), _inplace),
    "ReLU6": (("inplace",), _inplace),
    "LeakyReLU": (
        ("negative_slope", "inplace"),
        _with(negative_slope=[0.01, 0.2], inplace=[False, True]),
    ),
    "PReLU": (("num_parameters", "init"), _prelu),
    "ELU": (("alpha", "inplace"), _with(alpha=[1.0, 0.5], inplace=[False])),
    "CELU": (("alpha", "inplace"), _with(alpha=[1.0, 2.0], inplace=[False])),
    "SELU": (("inplace",), _inplace),
    "GELU": (("approximate",), _gelu),
    "SiLU": (("inplace",), _inplace),
    "Mish": (("inplace",), _inplace),
    "Sigmoid": ((), _none),
    "Tanh": ((), _none),
    "Hardtanh": (("min_val", "max_val", "inplace"), _hardtanh),
    "Hardswish": (("inplace",), _inplace),
    "Hardsigmoid": (("inplace",), _inplace),
    "Softplus": (("beta", "threshold"), _with(beta=[1.0, 2.0], threshold=[20.0, 5.0])),
    "Softsign": ((), _none),
    "Tanhshrink": ((), _none),
    "Softmax": (("dim",), _dim),
    "LogSoftmax": (("dim",), _dim),
    "Softmax2d": ((), _none),
    "LogSigmoid": ((), _none),
    "Softmin": (("dim",), _dim),
    "GLU": (("dim",), _with(dim=[-1, 0, 1, 2, -2])),
    "Hardshrink": (("lambd",), _with(lambd=[0.5, 0.0, 1.2, -0.3])),
    "Softshrink": (("lambd",), _with(lambd=[0.5, 0.0, 1.2, -0.3])),
    "Threshold": (("threshold", "value", "inplace"), _threshold),
    "RReLU": (
        ("lower", "upper", "inplace"),
        _with(lower=[0.125, 0.05, 0.9], upper=[1 / 3, 0.5]),
    ),
}


def gen_activation(rng: random.Random, name: str) -> Case:
    order, draw = ACTIVATIONS[name]
    x = any_input(rng, 1, 5)
    if name == "Softmax2d" and maybe(rng, 0.6):
        x = any_input(rng, 3, 4)
    if name == "PReLU" and len(x) >= 2 and maybe(rng, 0.5):
        x = x[:1] + (rng.choice([1, 2, 3, 4]),) + x[2:]
    return call(rng, name, order, draw(rng)), x


for _name in ACTIVATIONS:
    register(_name)(gen_activation)


# ----------------------------------------------------------------- dropout
@register("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout")
def gen_dropout(rng: random.Random, name: str) -> Case:
    values: dict[str, Any] = {}
    if maybe(rng, 0.7):
        values["p"] = rng.choice([0.0, 0.1, 0.5, 1.0, 1.5, -0.1]) if maybe(rng, 0.5) else 0.5
    if maybe(rng, 0.2):
        values["inplace"] = rng.choice([True, False])
    return call(rng, name, ("p", "inplace"), values), any_input(rng, 1, 6)


# ---------------------------------------------------------------- resizing
UPSAMPLE_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "nearest-exact")


def _resize_values(rng: random.Random, nd: int) -> dict[str, Any]:
    values: dict[str, Any] = {}
    r = rng.random()
    if r < 0.45 or r > 0.97:
        sizes = (
            [rng.randint(1, 9) for _ in range(nd)] if maybe(rng, 0.3) else [rng.randint(1, 9)] * nd
        )
        values["size"] = ints(rng, sizes) if maybe(rng, 0.9) else tuple(sizes + [2])
    if r >= 0.45:
        scales = [rng.choice([0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 0.3])] * nd
        if maybe(rng, 0.2):
            scales = [rng.choice([0.5, 1.0, 2.0, 1.7]) for _ in range(nd)]
        values["scale_factor"] = (
            scales[0] if len(set(scales)) == 1 and maybe(rng, 0.6) else tuple(scales)
        )
        if maybe(rng, 0.1):
            values["scale_factor"] = rng.choice([2, 3])  # an int
    if maybe(rng, 0.03):
        values.pop("size", None)
        values.pop("scale_factor", None)
    return values


@register("Upsample")
def gen_upsample(rng: random.Random, name: str) -> Case:
    nd = rng.choice([1, 2, 2, 3])
    values = _resize_values(rng, nd)
    if maybe(rng, 0.7):
        mode = (
            {1: "linear", 2: "bilinear", 3: "trilinear"}[nd]
            if maybe(rng, 0.5)
            else rng.choice(UPSAMPLE_MODES)
        )
        values["mode"] = mode
    if maybe(rng, 0.25):
        values["align_corners"] = rng.choice([True, False, None])
    if maybe(rng, 0.1):
        values["recompute_scale_factor"] = rng.choice([True, False, None])
    x = nd_input(
        rng, nd, rng.randint(1, 3), hi={1: 12, 2: 7, 3: 4}[nd], unbatched=0.05, wrong_rank=0.1
    )
    order = ("size", "scale_factor", "mode", "align_corners", "recompute_scale_factor")
    return call(rng, name, order, values), x


@register("UpsamplingNearest2d", "UpsamplingBilinear2d")
def gen_upsampling2d(rng: random.Random, name: str) -> Case:
    values = _resize_values(rng, 2)
    x = nd_input(rng, 2, rng.randint(1, 3), hi=7, unbatched=0.1, wrong_rank=0.15)
    return call(rng, name, ("size", "scale_factor"), values), x


@register(
    *[
        f"{kind}Pad{nd}d"
        for kind in ("Zero", "Constant", "Reflection", "Replication", "Circular")
        for nd in (1, 2, 3)
    ]
)
def gen_pad(rng: random.Random, name: str) -> Case:
    nd = nd_of(name)
    hi = {1: 10, 2: 7, 3: 5}[nd]
    pads = [rng.randint(0, 4) for _ in range(2 * nd)]
    if maybe(rng, 0.2):
        pads[rng.randrange(2 * nd)] = -rng.randint(1, 6)  # cropping, sometimes to nothing
    values: dict[str, Any] = {
        "padding": pads[0] if len(set(pads)) == 1 and maybe(rng, 0.7) else tuple(pads)
    }
    if maybe(rng, 0.03):
        values["padding"] = tuple(pads[:-1])  # the wrong length
    if maybe(rng, 0.15):
        values["padding"] = rng.randint(0, 3)
    order: tuple[str, ...] = ("padding",)
    if name.startswith("Constant"):
        order = ("padding", "value")
        values["value"] = rng.choice([0.0, 1.5, -1])
    x = nd_input(rng, nd, rng.randint(1, 3), hi=hi, wrong_rank=0.2)
    return call(rng, name, order, values), x


@register("PixelShuffle")
def gen_pixel_shuffle(rng: random.Random, name: str) -> Case:
    r = rng.randint(1, 3)
    c = r * r * rng.randint(1, 3) + (1 if maybe(rng, 0.15) else 0)
    x = (c,) + tuple(rng.randint(1, 5) for _ in range(2))
    x = tuple(rng.randint(1, 2) for _ in range(rng.choice([0, 1, 1, 2]))) + x
    if maybe(rng, 0.08):
        x = x[-2:]
    return call(rng, name, ("upscale_factor",), {"upscale_factor": r}), x


@register("PixelUnshuffle")
def gen_pixel_unshuffle(rng: random.Random, name: str) -> Case:
    r = rng.randint(1, 3)
    h, w = r * rng.randint(1, 3), r * rng.randint(1, 3)
    if maybe(rng, 0.2):
        h += 1
    x = (rng.randint(1, 4), h, w)
    x = tuple(rng.randint(1, 2) for _ in range(rng.choice([0, 1, 1, 2]))) + x
    if maybe(rng, 0.08):
        x = x[-2:]
    return call(rng, name, ("downscale_factor",), {"downscale_factor": r}), x


@register("ChannelShuffle")
def gen_channel_shuffle(rng: random.Random, name: str) -> Case:
    g = rng.randint(1, 4)
    c = g * rng.randint(1, 3) + (1 if maybe(rng, 0.15) else 0)
    x = (rng.randint(1, 2), c) + tuple(
        rng.randint(1, 4) for _ in range(rng.choice([0, 1, 2, 2, 3]))
    )
    if maybe(rng, 0.05):
        x = (c,)
    return call(rng, name, ("groups",), {"groups": g}), x


for _name in ("Conv", "ConvTranspose"):
    for _nd in (1, 2, 3):
        INFERRED[f"{_name}{_nd}d"] = ("in_channels", _channel_of(_nd))
for _nd in (1, 2, 3):
    INFERRED[f"BatchNorm{_nd}d"] = ("num_features", _batch_channel)
    INFERRED[f"InstanceNorm{_nd}d"] = ("num_features", _channel_of(_nd))
INFERRED["SyncBatchNorm"] = ("num_features", _batch_channel)
INFERRED["Linear"] = ("in_features", lambda x: x[-1])


# ----------------------------------------------------------------- stacks
def gen_stack(rng: random.Random) -> tuple[list[str], Shape]:
    """A random conv/pool/bn/relu/flatten/linear chain; in_channels mostly inferred."""
    c = rng.randint(1, 4)
    size = rng.randint(6, 24)
    x: Shape = (rng.randint(1, 2), c, size, size)
    layers: list[str] = []
    for _ in range(rng.randint(1, 5)):
        kind = rng.choice(["conv", "conv", "pool", "bn", "relu"])
        out = rng.randint(1, 8)
        k = rng.randint(1, 5)
        if kind == "conv":
            explicit = maybe(rng, 0.3)
            c_in = (c if not maybe(rng, 0.1) else c + 1) if explicit else None
            args = f"{c_in}, {out}, {k}" if explicit else f"out_channels={out}, kernel_size={k}"
            extra = rng.choice(
                ["", ", stride=2", ", padding=1", f", padding={k // 2}", ", padding='same'"]
            )
            layers.append(f"Conv2d({args}{extra})")
            c = out
        elif kind == "pool":
            layers.append(
                rng.choice(
                    [
                        "MaxPool2d(2)",
                        "MaxPool2d(3, stride=2, padding=1)",
                        "AvgPool2d(2)",
                        "MaxPool2d(2, ceil_mode=True)",
                    ]
                )
            )
        elif kind == "bn":
            layers.append("BatchNorm2d()" if maybe(rng, 0.5) else f"BatchNorm2d({c})")
        else:
            layers.append("ReLU()")
    if maybe(rng, 0.7):
        layers.append("Flatten()")
        layers.append(rng.choice(["Linear(out_features=10)", "Linear(16, 10)"]))
        if maybe(rng, 0.5):
            layers.append("ReLU()")
            layers.append("Linear(out_features=3)")
    return layers, x


# -------------------------------------------------------------- lazy modules
def _lazy(base: str, inferred: str) -> Generator:
    """torch's Lazy<base>: the base type's cases with the inferred argument taken out."""
    import ast

    def draw(rng: random.Random) -> Case:
        while True:
            text, x = GENERATORS[base](rng)
            node = ast.parse(text.strip(), mode="eval").body
            assert isinstance(node, ast.Call)
            args = [ast.unparse(a) for a in node.args]
            keywords = [(k.arg, ast.unparse(k.value)) for k in node.keywords if k.arg != inferred]
            if args and len(node.keywords) == len(keywords):  # given positionally: it comes first
                args = args[1:]
            parts = args + [f"{k}={v}" for k, v in keywords]
            lazy = f"Lazy{base}({', '.join(parts)})"
            if not _lazy_transposed_quirk(base, lazy):
                return lazy, x

    return draw


def _lazy_transposed_quirk(base: str, text: str) -> bool:
    """torch's LazyConvTranspose skips the out_channels % groups check and quietly builds
    (out_channels // groups) · groups channels; convcalc reports the error: not a comparison."""
    import ast

    if not base.startswith("ConvTranspose"):
        return False
    node = ast.parse(text, mode="eval").body
    assert isinstance(node, ast.Call)
    order = ("out_channels", "kernel_size", "stride", "padding", "output_padding", "groups")
    values = dict(zip(order, (ast.literal_eval(a) for a in node.args)))
    values.update({k.arg: ast.literal_eval(k.value) for k in node.keywords})
    out, groups = values.get("out_channels"), values.get("groups", 1)
    return isinstance(out, int) and isinstance(groups, int) and groups > 0 and out % groups != 0


for _base, _arg in (
    *((f"Conv{n}d", "in_channels") for n in (1, 2, 3)),
    *((f"ConvTranspose{n}d", "in_channels") for n in (1, 2, 3)),
    *((f"BatchNorm{n}d", "num_features") for n in (1, 2, 3)),
    *((f"InstanceNorm{n}d", "num_features") for n in (1, 2, 3)),
    ("Linear", "in_features"),
):
    GENERATORS[f"Lazy{_base}"] = _lazy(_base, _arg)
