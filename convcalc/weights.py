"""A run's weights: the given ones checked against the model and bound to its layers, or
drawn from PyTorch's initialisation distributions; eval BatchNorms folded into the layer
before them; the seeded standard-normal input."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .analysis import Report
from .errors import ConvcalcError, SpecError
from .layers.base import did_you_mean
from .shape import Shape, fmt_shape, prod
from .spec import LayerSpec, Spec
from .stored import Stored

#: buffers a state_dict may carry that no kernel reads
IGNORED_KEYS = ("num_batches_tracked",)


#: the most state_dict entries one layer has (a BatchNorm: weight, bias, running_mean,
#: running_var, num_batches_tracked), counted for a layer whose entries depend on its input
MOST_ENTRIES = 5


def state_dict_size(spec: Spec) -> int:
    """The number of state_dict entries (parameters and buffers) the model has, known before
    its shapes are: a layer whose entries depend on its input shape (an inferred in_channels)
    counts as MOST_ENTRIES."""
    count = 0
    for entry in spec.layers:
        weights, buffers = entry.layer.weights(None), entry.layer.buffers(None)
        count += MOST_ENTRIES if weights is None or buffers is None else len(weights) + len(buffers)
    return count


def expected_entries(entry: LayerSpec, x: Shape) -> dict[str, Shape]:
    shapes = dict(entry.layer.weights(x) or {})
    shapes.update(entry.layer.buffers(x) or {})
    return shapes


def bind_weights(
    spec: Spec,
    report: Report,
    given: Mapping[str, np.ndarray | Stored] | None,
    rng: Any,
    dtype: np.dtype,
    done: Callable[[int], None] | None = None,
) -> list[dict[str, np.ndarray]]:
    """Per layer: its parameters and buffers, from ``given`` (a state_dict, checked first by
    :func:`check_weights`) or drawn with ``rng``; ``done(i)`` after the first ``i`` layers."""
    if given is not None:
        check_weights(spec, report, given)
    bound: list[dict[str, np.ndarray]] = []
    for i, (entry, row) in enumerate(zip(spec.layers, report.rows)):
        assert row.input_shape is not None
        shapes = expected_entries(entry, row.input_shape)
        values: Mapping[str, np.ndarray | Stored]
        if given is None:
            try:
                values = entry.layer.init(row.input_shape, rng) if shapes else {}
            except NotImplementedError as exc:
                raise ConvcalcError(str(exc)).at_layer(
                    entry.index, entry.name, entry.type
                ) from None
        else:
            values = {
                suffix: given[f"{entry.name}.{suffix}"]
                for suffix in shapes
                if suffix not in IGNORED_KEYS
            }
        bound.append(
            {
                k: np.asarray(v, dtype=None if k in IGNORED_KEYS else dtype)
                for k, v in values.items()
            }
        )
        if done is not None:
            done(i + 1)
    return bound


#: the hint of a key no layer has
KEYS_HINT = (
    "keys are <layer name>.<parameter>, as in the state_dict of "
    "nn.Sequential(OrderedDict(name → module))"
)


#: what a weight that is not real numbers holds, by dtype kind
_KINDS = {"c": "complex numbers", "U": "text", "S": "bytes", "O": "Python objects"}


def check_weights(spec: Spec, report: Report, given: Mapping[str, np.ndarray | Stored]) -> None:
    """Every problem of a state_dict at once, as torch's ``load_state_dict`` reports them:
    each missing key and each wrong shape at its layer (key, expected and found shape), then
    the keys no layer has. Raises the first as a SpecError carrying the others."""
    expected: dict[str, tuple[LayerSpec, str, Shape]] = {}
    for entry, row in zip(spec.layers, report.rows):
        assert row.input_shape is not None
        for suffix, shape in expected_entries(entry, row.input_shape).items():
            expected[f"{entry.name}.{suffix}"] = (entry, suffix, shape)
    skipped = tuple(f"{name}." for name in spec.ignore_weights)
    strays = sorted(
        k
        for k in given
        if k not in expected and not k.endswith("." + IGNORED_KEYS[0]) and not k.startswith(skipped)
    )
    prefix = _wrapped_prefix(given, [k for k, e in expected.items() if e[1] not in IGNORED_KEYS])
    prefix_hint = (
        f"every key carries the prefix {prefix!r} (the state_dict of a wrapped model, as "
        "DataParallel's 'module.'): save the inner model's state_dict, or drop the prefix"
        if prefix
        else None
    )
    problems: list[ConvcalcError] = []
    for key, (entry, suffix, shape) in expected.items():
        if suffix in IGNORED_KEYS:
            continue
        if key not in given:
            error = SpecError(
                f"the weights have no {key!r} (expected shape {fmt_shape(shape)})",
                hint=prefix_hint or did_you_mean(key, strays) or KEYS_HINT,
                argument=key,
                expected=shape,
            )
        else:
            found, kind = _declared(given[key])
            if found == tuple(shape) and kind.kind not in "fiub":
                error = SpecError(
                    f"weight {key!r} holds {_KINDS.get(kind.kind, 'values')} ({kind}), "
                    "not real numbers",
                    hint="save the tensor's real values (float32 or float64)",
                    argument=key,
                    expected="real numbers",
                    got=str(kind),
                )
                problems.append(error.at_layer(entry.index, entry.name, entry.type))
                continue
            if found == tuple(shape):
                continue
            error = SpecError(
                f"weight {key!r} has shape {fmt_shape(found)}, expected {fmt_shape(shape)}",
                hint="check the layer's arguments against the model the weights come from",
                argument=key,
                expected=shape,
                got=found,
            )
        problems.append(error.at_layer(entry.index, entry.name, entry.type))
    if strays:
        names = {e.name for e in spec.layers}
        hint = None
        owner = strays[0].rsplit(".", 1)[0]
        if owner not in names:
            hint = did_you_mean(owner, sorted(names))
            hint = f"no layer is named {owner!r}" + (f"; {hint}" if hint else "")
        problems.append(
            SpecError(
                f"the weights have {len(strays)} unexpected key{'s' if len(strays) > 1 else ''}: "
                + ", ".join(repr(k) for k in strays[:5])
                + (" …" if len(strays) > 5 else ""),
                hint=prefix_hint or hint or "every key must belong to a layer parameter or buffer",
            )
        )
    if problems:
        raise problems[0].with_others(problems[1:])


def _declared(value: Any) -> tuple[Shape, np.dtype[Any]]:
    """A weight's shape and dtype, without reading a stored one (:class:`~convcalc.stored.Stored`)."""
    if isinstance(value, Stored):
        return value.shape, value.dtype
    value = np.asarray(value)
    return tuple(value.shape), value.dtype


def _wrapped_prefix(given: Mapping[str, Any], wanted: list[str]) -> str | None:
    """The prefix (``"module."``, ``"model."``, …) that every wanted key has in ``given``
    when none of them is there as it is: the keys of a wrapped model's state_dict."""
    if not wanted or any(k in given for k in wanted):
        return None
    for key in given:
        if key.endswith("." + wanted[0]):
            prefix = key[: -len(wanted[0])]
            if all(prefix + k in given for k in wanted):
                return prefix
    return None


# --------------------------------------------------------------------- run
#: an affine layer is folded when its activations (times the repeats) outnumber the weights
#: it is folded into this many times: a folded weight costs about a nanosecond (a new array),
#: an activation's two passes about 0.6 ns, of which a bias the convolution did not have
#: takes back a part; below the ratio, folding costs more than it saves
FOLD_RATIO = 2


def fold_affines(
    spec: Spec, report: Report, params: list[dict[str, np.ndarray]], repeat: int = 1
) -> dict[int, int]:
    """Inference folding, as torch's ``fuse_conv_bn_eval``: a layer that is a per-channel
    affine map at inference (an eval BatchNorm: :meth:`Layer.eval_affine`) whose one input is
    the output of a layer that can absorb it (a convolution, a transposed convolution or a
    Linear on (N, features): :meth:`Layer.absorb_affine`),
    read by nothing else, is folded into that layer's parameters (``params`` is updated); its
    own pass over the activations then disappears. Done where it pays: one pass over the
    producer's parameters, against its pass over the activations per repeat (FOLD_RATIO).

    Returns {folded layer index: the index of the layer that computes it}."""
    index = {e.name: k for k, e in enumerate(spec.layers)}
    readers: dict[str, int] = {}
    for entry in spec.layers:
        for name in entry.inputs:
            readers[name] = readers.get(name, 0) + 1
    folded: dict[int, int] = {}
    for i, (entry, row) in enumerate(zip(spec.layers, report.rows)):
        if len(entry.inputs) != 1 or row.input_shape is None:
            continue
        source = entry.inputs[0]
        j = index.get(source)
        if j is None or j in folded or readers[source] != 1:
            continue
        terms = entry.layer.eval_affine(row.input_shape, params[i])
        if terms is None:
            continue
        weights = sum(int(np.size(v)) for v in params[j].values())
        if repeat * prod(row.input_shape) < FOLD_RATIO * weights:
            continue
        absorbed = spec.layers[j].layer.absorb_affine(row.input_shape, params[j], *terms)
        if absorbed is not None:
            params[j] = absorbed
            folded[i] = j
    return folded


class Float32Draws:
    """The random draws a layer's init() makes, produced directly in float32 (half the time
    and memory of drawing float64 and casting: VGG-16 has 138 M weights)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def uniform(self, low: float, high: float, size: Any) -> np.ndarray:
        out: np.ndarray = self.rng.random(size, dtype=np.float32)
        out *= np.float32(high - low)
        out += np.float32(low)
        return out


#: elements of float64 draws made at a time for a random input
DRAW_PIECE = 1 << 20


def standard_normal(rng: np.random.Generator, shape: Shape, dtype: np.dtype) -> np.ndarray:
    """A seeded standard-normal tensor in ``dtype``: drawn in float64 as always (the same
    seed gives the same input in both dtypes), a piece at a time, so that a large input
    costs its own bytes and not two and a half times them."""
    out = np.empty(shape, dtype=dtype)
    flat = out.reshape(-1)
    piece = np.empty(min(flat.size, DRAW_PIECE))
    for start in range(0, flat.size, DRAW_PIECE):
        part = piece[: min(DRAW_PIECE, flat.size - start)]
        rng.standard_normal(out=part)
        flat[start : start + part.size] = part
    return out
