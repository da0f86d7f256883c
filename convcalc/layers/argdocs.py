"""One line on what each constructor argument does, in PyTorch's terms, for the config's
JSON Schema (`convcalc schema`), whose editors show it beside the argument.

Most names mean the same in every layer type that takes them; where a name means something
else in one family (``padding`` of the padding layers, ``size`` of LocalResponseNorm) or one
type (Softplus's ``threshold``), the family's or the type's line wins. A test over the
registry fails when an argument has no line.
"""

from __future__ import annotations

from .arguments import Arg
from .base import Layer

#: by argument name: what it means in most layer types
DOCS = {
    "affine": "learn a per-channel weight and bias",
    "align_corners": "align the corner pixels of input and output (linear modes only)",
    "alpha": "the α of the negative part",
    "approximate": "how GELU is computed: 'tanh' approximates the exact erf with tanh",
    "beta": "the β of log(1 + exp(β·x)) / β",
    "bias": "learn an additive bias",
    "ceil_mode": "round the output size up instead of down",
    "count_include_pad": "count the zero padding in the average's divisor",
    "dilation": "spacing between the kernel's elements",
    "dim": "the dimension the operation runs along",
    "divisor_override": "divide every window's sum by this instead of its size",
    "downscale_factor": "factor by which the spatial sizes shrink",
    "elementwise_affine": "learn a per-element weight (and bias)",
    "end_dim": "last dimension to flatten (inclusive)",
    "eps": "added to the variance for numerical stability",
    "groups": "split the channels into this many groups, each convolved on its own",
    "in_channels": "channels of the input",
    "in_features": "size of each input sample",
    "init": "initial value of the learned slope",
    "inplace": "overwrite the input with the result",
    "k": "the additive constant k",
    "kernel_size": "size of the kernel (the window)",
    "lambd": "the λ of the shrinkage",
    "lower": "lower bound of the random negative slope",
    "max_val": "upper end of the linear region",
    "max_value": "former name of max_val",
    "min_val": "lower end of the linear region",
    "min_value": "former name of min_val",
    "mode": "the interpolation algorithm",
    "momentum": "weight of each new batch in the running statistics (None: a plain average)",
    "negative_slope": "slope for negative inputs",
    "norm_type": "the power p of the power average",
    "normalized_shape": "the trailing dimensions normalised over",
    "num_channels": "channels of the input",
    "num_features": "channels C of the input",
    "num_groups": "groups the channels are split into",
    "num_parameters": "slopes learned: 1, or one per channel",
    "out_channels": "channels of the output",
    "out_features": "size of each output sample",
    "output_padding": "size added to one side of each output dimension",
    "output_size": "the output size (None keeps that dimension's size)",
    "p": "probability of an element being zeroed in training (no effect in eval)",
    "padding": "implicit zero padding added to both sides of each dimension",
    "padding_mode": "what the padding holds",
    "recompute_scale_factor": "recompute the scale factor from the computed output size",
    "return_indices": "also return the positions of the maxima",
    "scale_factor": "multiplier of the spatial sizes",
    "size": "the output's spatial size",
    "start_dim": "first dimension to flatten",
    "stride": "step of the window",
    "threshold": "inputs at or below it are replaced",
    "track_running_stats": "keep a running mean and variance (used in eval)",
    "unflattened_size": "the sizes the dimension is split into (one may be -1)",
    "upper": "upper bound of the random negative slope",
    "upscale_factor": "factor by which the spatial sizes grow",
    "value": "the value that replaces inputs at or below the threshold",
}

#: by (family module, argument name): where a name means something else in one family
FAMILY_DOCS = {
    ("conv", "padding"): "implicit padding on both sides of each dimension, or 'same' or 'valid'",
    ("norm", "alpha"): "the multiplicative factor α",
    ("norm", "beta"): "the exponent β",
    ("norm", "size"): "number of neighbouring channels summed over",
    ("padding", "padding"): "pad sizes: one for all sides, or (left, right, top, bottom, …)",
    ("padding", "value"): "the value the padding holds",
    ("pool", "stride"): "step of the window (None: kernel_size)",
    ("pool", "padding"): "implicit padding added to both sides of each dimension",
    ("shuffle", "groups"): "groups the channels are shuffled between",
    ("merge", "dim"): "the dimension to concatenate along",
    ("softmax", "dim"): "the dimension the softmax normalises over",
    ("linear", "dim"): "the dimension to unflatten",
}

#: by (type, argument name): where a name means something else in one type
TYPE_DOCS = {
    ("Softplus", "threshold"): "above β·x > threshold the result is x itself",
    ("CELU", "alpha"): "the α of α·(exp(x/α) - 1) for negative inputs",
    ("GLU", "dim"): "the dimension halved into value and gate",
    ("ELU", "alpha"): "the α of α·(exp(x) - 1) for negative inputs",
}


def family(cls: type[Layer]) -> str:
    """The module a layer type is defined in: ``conv`` for Conv2d."""
    return cls.__module__.rsplit(".", 1)[-1]


def arg_doc(cls: type[Layer], arg: Arg) -> str:
    """What ``arg`` of layer type ``cls`` does, in one line ("" when no line is written)."""
    return (
        TYPE_DOCS.get((cls.type_name, arg.name))
        or FAMILY_DOCS.get((family(cls), arg.name))
        or DOCS.get(arg.name, "")
    )
