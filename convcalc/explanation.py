"""explain(spec, input_shape, row) → Explanation: one layer's output shape, parameters and
MACs worked out step by step with the numbers written in (each layer class's ``explain``),
up to the rule that fails, if one does. Rendering is explainout.py's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import ConvcalcError, ShapeError, SpecError
from .layers.base import did_you_mean
from .layers.steps import Step
from .model import LayerSpec, Spec
from .shape import Shape


@dataclass(frozen=True)
class Explanation:
    index: int
    name: str
    type: str
    #: the layer as a PyTorch call, non-default arguments only
    call: str
    #: the shape the layer reads (a merge: the tuple of its inputs' shapes)
    input_shape: Any
    #: None when the layer fails
    output_shape: Shape | None
    steps: tuple[Step, ...]
    #: the rule that fails, after the steps that went before it
    error: ConvcalcError | None = None

    @property
    def exit_code(self) -> int:
        return 0 if self.error is None else self.error.exit_code


def explain(
    spec: Spec, input_shape: Shape | None, row: str | None, last: bool = False
) -> Explanation:
    """The explanation of ``row`` of ``spec`` (a layer name or index; None: the only layer,
    or with ``last`` the last one), reading the shape the layers before it give it.

    Raises :class:`SpecError` for a row that does not exist and a missing input shape, and
    the first failing layer's error when it comes before ``row``.
    """
    from .analysis import analyze

    entry = _find(spec, row, last)
    report = analyze(spec, input_shape, size_hints=False)
    if report.input_shape is None:
        raise SpecError(
            "explain needs an input shape",
            hint="pass --input N,C,H,W (or give input: in the file)",
        )
    x = report.rows[entry.index].input_shape
    if x is None:
        first = report.errors[0]
        raise ShapeError(
            f"layer {entry.index} '{entry.name}' is not reached: layer {first.index} "
            f"'{first.name}' fails first: {first.message}",
            hint=f"explain that one: convcalc explain … {first.name}",
        )
    return explain_layer(entry, x)


def explain_layer(entry: LayerSpec, x: Any) -> Explanation:
    """``entry``'s steps for input ``x``, and the error of the rule that fails, if one does."""
    layer = entry.layer
    steps: list[Step] = []
    output: Shape | None = None
    error: ConvcalcError | None = None
    try:
        layer.check()
        steps.extend(layer.explain(x))
        output = layer.out_shape(x)
    except ShapeError as exc:
        error = exc.at_layer(entry.index, entry.name, layer.type_name)
        error.at_location(entry.location(exc.argument))
    return Explanation(
        entry.index,
        entry.name,
        layer.type_name,
        layer.call_string(),
        x,
        output,
        tuple(steps),
        error,
    )


def _find(spec: Spec, row: str | None, last: bool) -> LayerSpec:
    """The layer ``row`` names: its name, else its index."""
    layers = spec.layers
    if not layers:
        raise SpecError("the model has no layers")
    if row is None:
        if len(layers) == 1 or last:
            return layers[-1]
        raise SpecError(
            "name the layer to explain",
            hint=f"add its name or index, e.g. convcalc explain FILE {layers[0].name}",
        )
    for entry in layers:
        if entry.name == row:
            return entry
    if row.lstrip("-").isdigit():
        index = int(row)
        if 0 <= index < len(layers):
            return layers[index]
        raise SpecError(
            f"no layer {index}: the model's layers are 0 to {len(layers) - 1}", argument="row"
        )
    names = [entry.name for entry in layers]
    raise SpecError(
        f"no layer named {row!r}",
        argument="row",
        got=row,
        hint=did_you_mean(row, names) or "`convcalc shape FILE` lists the layers' names",
    )
