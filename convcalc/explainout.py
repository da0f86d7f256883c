"""An :class:`~convcalc.explanation.Explanation` as text (one line per step:
``what = formula = numbers = … = result``) or JSON; formats only, computes nothing."""

from __future__ import annotations

import json
from typing import Any

from .explanation import Explanation
from .layers.steps import Step
from .shape import fmt_shape


def explanation_text(e: Explanation) -> str:
    """The header (layer, call, input), a line per step, then the output shape."""
    lines = [f"layer {e.index} '{e.name}': {e.call}", f"input  {_shape_text(e.input_shape)}"]
    width = max((len(s.what) for s in e.steps), default=0)
    lines += [_step_line(step, width) for step in e.steps]
    if e.output_shape is not None:
        lines.append(f"output {fmt_shape(e.output_shape)}")
    return "\n".join(lines) + "\n"


def _step_line(step: Step, width: int) -> str:
    result = _result_text(step.result)
    parts = [step.formula] if step.formula else []
    for value in step.values:
        if value not in parts and value != result:
            parts.append(value)
    line = " = ".join([step.what.ljust(width), *parts, result])
    return f"{line}   ({step.note})" if step.note else line


def _result_text(result: Any) -> str:
    if isinstance(result, tuple):
        return fmt_shape(result)
    if isinstance(result, int):
        return f"{result:,}"
    return str(result)


def _shape_text(x: Any) -> str:
    """A shape, or a merge's shapes."""
    if x and isinstance(x[0], tuple):
        return ", ".join(fmt_shape(s) for s in x)
    return fmt_shape(x)


def explanation_json(e: Explanation) -> str:
    """The fields documented in docs/explain.md."""
    from .jsonout import error_data

    multi = bool(e.input_shape) and isinstance(e.input_shape[0], tuple)
    data = {
        "index": e.index,
        "name": e.name,
        "type": e.type,
        "call": e.call,
        "input_shape": [list(s) for s in e.input_shape] if multi else list(e.input_shape),
        "output_shape": None if e.output_shape is None else list(e.output_shape),
        "steps": [
            {
                "what": s.what,
                "formula": s.formula,
                "values": list(s.values),
                "result": list(s.result) if isinstance(s.result, tuple) else s.result,
                "dim": s.dim,
                "counts": s.counts,
                "note": s.note or None,
            }
            for s in e.steps
        ],
        "error": None if e.error is None else error_data(e.error)["errors"][0],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
