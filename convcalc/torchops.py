"""Which layer type computes a traced function or method call (``torch.cat`` → Concat,
``F.relu`` → ReLU, ``x.view(x.size(0), -1)`` → Flatten), with its arguments under the
layer's names. torch is imported only inside :func:`op_layer`."""

from __future__ import annotations

import functools
import importlib
import operator
import re
from typing import Any

from .shape import Shape, prod


class OpError(Exception):
    """The call has no layer type, or arguments no layer type takes."""


#: function name → (layer type, the function's parameters after the input)
_ACTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "relu": ("ReLU", ("inplace",)),
    "relu6": ("ReLU6", ("inplace",)),
    "leaky_relu": ("LeakyReLU", ("negative_slope", "inplace")),
    "elu": ("ELU", ("alpha", "inplace")),
    "celu": ("CELU", ("alpha", "inplace")),
    "selu": ("SELU", ("inplace",)),
    "gelu": ("GELU", ("approximate",)),
    "silu": ("SiLU", ("inplace",)),
    "mish": ("Mish", ("inplace",)),
    "hardswish": ("Hardswish", ("inplace",)),
    "hardsigmoid": ("Hardsigmoid", ("inplace",)),
    "hardtanh": ("Hardtanh", ("min_val", "max_val", "inplace")),
    "sigmoid": ("Sigmoid", ()),
    "tanh": ("Tanh", ()),
    "softplus": ("Softplus", ("beta", "threshold")),
    "softsign": ("Softsign", ()),
    "logsigmoid": ("LogSigmoid", ()),
    "softmax": ("Softmax", ("dim", "_stacklevel", "dtype")),
    "log_softmax": ("LogSoftmax", ("dim", "_stacklevel", "dtype")),
    "softmin": ("Softmin", ("dim", "_stacklevel", "dtype")),
    "glu": ("GLU", ("dim",)),
    "pixel_shuffle": ("PixelShuffle", ("upscale_factor",)),
    "pixel_unshuffle": ("PixelUnshuffle", ("downscale_factor",)),
    "channel_shuffle": ("ChannelShuffle", ("groups",)),
    "dropout": ("Dropout", ("p", "training", "inplace")),
    "dropout1d": ("Dropout1d", ("p", "training", "inplace")),
    "dropout2d": ("Dropout2d", ("p", "training", "inplace")),
    "dropout3d": ("Dropout3d", ("p", "training", "inplace")),
    "alpha_dropout": ("AlphaDropout", ("p", "training", "inplace")),
    "interpolate": (
        "Upsample",
        ("size", "scale_factor", "mode", "align_corners", "recompute_scale_factor", "antialias"),
    ),
}
_MAX = ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices")
_AVG = ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override")
for _n in (1, 2, 3):
    _ACTS[f"max_pool{_n}d"] = (f"MaxPool{_n}d", _MAX)
    _ACTS[f"avg_pool{_n}d"] = (f"AvgPool{_n}d", _AVG if _n > 1 else _AVG[:-1])
    _ACTS[f"adaptive_avg_pool{_n}d"] = (f"AdaptiveAvgPool{_n}d", ("output_size",))
    _ACTS[f"adaptive_max_pool{_n}d"] = (f"AdaptiveMaxPool{_n}d", ("output_size", "return_indices"))

#: function arguments that are no layer's: the value they must have (else the call is refused)
_FIXED: dict[str, Any] = {"training": False, "dtype": None, "antialias": False, "_stacklevel": None}

#: the in-place forms of a function (``torch.relu_``, ``x.relu_()``)
_INPLACE = re.compile(r"^(\w+?)_$")


@functools.cache
def _functions() -> dict[Any, str]:
    """The functions of torch and torch.nn.functional that have a row, by identity."""
    torch = importlib.import_module("torch")
    functional = importlib.import_module("torch.nn.functional")
    found: dict[Any, str] = {}
    for name in _ACTS:
        for owner in (functional, torch):
            # F.max_pool2d dispatches to F._max_pool2d; torch.relu_ is relu in place
            for spelled, meaning in ((name, name), (f"_{name}", name), (f"{name}_", f"{name}_")):
                fn = getattr(owner, spelled, None)
                if callable(fn):
                    found.setdefault(fn, meaning)
    for fn in (operator.add, operator.iadd, torch.add):
        found[fn] = "add"
    for fn in (operator.mul, operator.imul, torch.mul):
        found[fn] = "mul"
    for fn in (torch.cat, torch.concat, torch.concatenate):
        found[fn] = "cat"
    found[torch.flatten] = "flatten"
    found[torch.reshape] = "reshape"
    found[functional.pad] = "pad"
    found[torch.mean] = "mean"
    for fn in (torch.permute, torch.transpose, torch.swapaxes, torch.swapdims, torch.t):
        found[fn] = fn.__name__
    return found


#: functions of other libraries that torch.fx keeps as calls (``torch.fx.wrap``), by
#: (module, name): torchvision's stochastic depth (EfficientNet's residual branches)
_LIBRARY = {("torchvision.ops.stochastic_depth", "stochastic_depth"): "stochastic_depth"}


def _stochastic_depth(
    name: str, args: tuple[Any, ...], kwargs: dict[str, Any], x: Shape, out: Shape
) -> list[OpLayer]:
    """torchvision's ``stochastic_depth(x, p, mode, training)``: ``x`` itself unless training
    (what an eval-mode model passes), so no layer; in training it drops, which no layer does."""
    values = _bound(("p", "mode", "training"), args, kwargs)
    if values.get("training", True) is not False and values.get("p") != 0:
        raise OpError("training is not False: it drops branches, where no layer does")
    return []


#: a layer an op becomes: (layer type, its arguments, the layer's base name)
OpLayer = tuple[str, dict[str, Any], str]


def op_layer(node: Any, inputs: list[Shape | None], out: Shape) -> list[OpLayer]:
    """The layers a function or method node becomes, each reading the one before (the first
    reads the node's inputs): one layer, or none for a call that changes nothing
    (``x.contiguous()``), or two where one op is two layers (a mean without keepdim: the
    pooling, then the Flatten that drops its dims of size 1). Raises :class:`OpError`."""
    if node.op == "call_method":
        name = str(node.target)
        args = node.args[1:]
    else:
        target = node.target
        found = _functions().get(target) or _LIBRARY.get(
            (str(getattr(target, "__module__", "")), str(getattr(target, "__name__", "")))
        )
        if found is None:
            raise OpError("this call has no convcalc layer type")
        name, args = found, node.args[1:]
    kwargs = dict(node.kwargs)
    tensors = [s for s in inputs if s is not None]
    if name in _SHAPED:
        return _SHAPED[name](name, args, kwargs, tensors[0], out)
    one = _one_layer(name, node, args, kwargs, tensors, out)
    return [] if one is None else [one]


def _one_layer(
    name: str,
    node: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    tensors: list[Shape],
    out: Shape,
) -> OpLayer | None:
    if name in ("add", "add_", "iadd", "mul", "mul_", "imul"):
        return _merge(name.strip("_").removeprefix("i"), node, tensors, kwargs)
    if name in ("cat", "concat", "concatenate"):
        if len(tensors) == 1:  # torch.cat([x]): a copy of x, no merge
            return None
        dim = kwargs.pop("dim", args[0] if args else 0)
        return "Concat", {"dim": dim}, "cat"
    if name in ("view", "reshape", "flatten"):
        return _flatten(name, tensors[0], out)
    if name == "contiguous":
        return None
    inplace = _INPLACE.match(name)
    if inplace and inplace.group(1) in _ACTS:
        kwargs["inplace"] = True
        name = inplace.group(1)
    if name not in _ACTS:
        raise OpError("this call has no convcalc layer type")
    type_name, params = _ACTS[name]
    values = _bound(params, args, kwargs)
    if "training" in params and values.get("training", True) is not False:
        raise OpError(
            "training is not False (the function's default is True): it drops at inference too, "
            "where a Dropout layer passes its input on"
        )
    for key, wanted in _FIXED.items():
        if key in values:
            got = values.pop(key)
            if got != wanted and key != "_stacklevel":
                raise OpError(f"{key}={got!r} has no layer form")
    if type_name.startswith("AvgPool") and "stride" not in values:
        values["stride"] = None
    return type_name, values, name


def _bound(
    params: tuple[str, ...], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    if len(args) > len(params):
        raise OpError(f"takes {len(args)} arguments after the input; its layer has {len(params)}")
    values = dict(zip(params, args))
    for key, value in kwargs.items():
        if key not in params:
            raise OpError(f"argument {key!r} has no layer form")
        values[key] = value
    return {k: _value(v) for k, v in values.items()}


def _value(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(_value(i) for i in v)
    if isinstance(v, (int, float, str, bool, tuple)) or v is None:
        return v
    raise OpError(f"an argument computed at run time ({v}) has no layer form")


def _merge(
    kind: str, node: Any, tensors: list[Shape], kwargs: dict[str, Any]
) -> tuple[str, dict[str, Any], str]:
    operands = [a for a in node.args if a is not None]
    if len(tensors) != 2 or len(operands) != 2:
        raise OpError(
            f"{'adds' if kind == 'add' else 'multiplies'} a constant: only tensors computed by layers merge"
        )
    if kwargs:
        raise OpError(f"argument {next(iter(kwargs))!r} has no layer form")
    if kind == "add":
        if tensors[0] != tensors[1]:
            raise OpError(f"adds shapes {tensors[0]} and {tensors[1]}: Add takes equal shapes")
        return "Add", {}, "add"
    return "Mul", {}, "mul"


def _flatten(name: str, x: Shape, out: Shape) -> tuple[str, dict[str, Any], str] | None:
    """A view, reshape or flatten that flattens trailing dims: Flatten(start_dim)."""
    if out == x:
        return None
    for start in range(len(x)):
        if tuple(x[:start]) + (prod(x[start:]),) == tuple(out):
            return "Flatten", {"start_dim": start}, "flatten"
    for start in range(len(x)):
        for end in range(start + 1, len(x)):
            if tuple(x[:start]) + (prod(x[start : end + 1]),) + tuple(x[end + 1 :]) == tuple(out):
                return "Flatten", {"start_dim": start, "end_dim": end}, "flatten"
    raise OpError(f"reshapes {x} to {out}: only flattening dims has a layer type (Flatten)")


# ------------------------------------------------------------ pad, mean, permute
#: F.pad's modes → the padding family that computes each (constant: ZeroPad or ConstantPad)
_PAD_TYPES = {"reflect": "ReflectionPad", "replicate": "ReplicationPad", "circular": "CircularPad"}


def _pad(
    name: str, args: tuple[Any, ...], kwargs: dict[str, Any], x: Shape, out: Shape
) -> list[OpLayer]:
    """``F.pad(x, pad, mode, value)``: the padding type of its mode, in as many dims as ``pad``
    has (left, right) pairs: ZeroPad2d for a constant 0, ConstantPad2d for another value."""
    values = _bound(("pad", "mode", "value"), args, kwargs)
    pad, mode, value = values["pad"], values.get("mode", "constant"), values.get("value")
    if not isinstance(pad, tuple) or not all(isinstance(p, int) for p in pad):
        raise OpError(f"pad={pad!r} is not a list of integers")
    nd = min(max(len(pad) // 2, 1), 3)
    if mode == "constant":
        if value is None or value == 0:
            return [(f"ZeroPad{nd}d", {"padding": pad}, "pad")]
        return [(f"ConstantPad{nd}d", {"padding": pad, "value": float(value)}, "pad")]
    if mode not in _PAD_TYPES:
        raise OpError(f"mode={mode!r} has no padding layer type")
    return [(f"{_PAD_TYPES[mode]}{nd}d", {"padding": pad}, "pad")]


def _dims(value: Any, rank: int) -> tuple[int, ...]:
    """Dimension numbers as non-negative ints, sorted."""
    dims = value if isinstance(value, tuple) else (value,)
    if not dims or not all(isinstance(d, int) and -rank <= d < rank for d in dims):
        raise OpError(f"dim={value!r} is not a dimension of the {rank}D input")
    return tuple(sorted({d % rank for d in dims}))


def _mean(
    name: str, args: tuple[Any, ...], kwargs: dict[str, Any], x: Shape, out: Shape
) -> list[OpLayer]:
    """``x.mean(dim, keepdim)`` over the last 1 to 3 dims (the spatial ones): the adaptive
    average pooling to 1 of that many dims; without keepdim, then a Flatten that merges the
    dims of size 1 left into the one before them (so that they are gone, as in torch)."""
    values = _bound(("dim", "keepdim", "dtype"), args, kwargs)
    if values.get("dtype") is not None:
        raise OpError(f"dtype={values['dtype']!r} has no layer form")
    rank = len(x)
    if values.get("dim") is None:
        raise OpError("takes the mean of every element: no layer type gives a single number")
    dims = _dims(values["dim"], rank)
    k = len(dims)
    if dims != tuple(range(rank - k, rank)) or k > 3 or rank not in (k + 1, k + 2):
        raise OpError(
            f"takes the mean over dims {dims} of a {rank}D tensor: only the mean over the last "
            "1 to 3 dims of a batch (the spatial ones) has a layer type, AdaptiveAvgPool<k>d(1)"
        )
    pool: OpLayer = (f"AdaptiveAvgPool{k}d", {"output_size": (1,) * k}, "mean")
    if values.get("keepdim", False):
        return [pool]
    return [pool, ("Flatten", {"start_dim": rank - k - 1}, "mean_flatten")]


def _permute(
    name: str, args: tuple[Any, ...], kwargs: dict[str, Any], x: Shape, out: Shape
) -> list[OpLayer]:
    """A permute or transpose that keeps every dim in its place changes nothing; any other has
    no layer type (convcalc's layers never reorder dims)."""
    rank = len(x)
    if name == "permute":
        given = args[0] if len(args) == 1 and isinstance(args[0], (tuple, list)) else args
        order = tuple(_value(given)) if given else tuple(_value(kwargs.get("dims", ())))
        moved = [d for i, d in enumerate(order) if isinstance(d, int) and d % max(rank, 1) != i]
    else:
        pair = _bound(("dim0", "dim1"), args, kwargs) if name != "t" else {"dim0": 0, "dim1": 1}
        first, second = (_dims(pair.get(k, 0), rank) for k in ("dim0", "dim1"))
        moved = [] if first == second or rank < 2 else [first[0], second[0]]
    if not moved:
        return []
    raise OpError(
        f"reorders the dims of a {rank}D tensor {tuple(x)} to {tuple(out)}: convcalc has no "
        "layer type that permutes or transposes dims"
    )


_SHAPED = {
    "stochastic_depth": _stochastic_depth,
    "pad": _pad,
    "mean": _mean,
    **{name: _permute for name in ("permute", "transpose", "swapaxes", "swapdims", "t")},
}
