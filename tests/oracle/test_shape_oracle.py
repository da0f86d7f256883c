"""PyTorch is the oracle: random layer configurations, analysed by convcalc and run by torch.

For every layer type, a few dozen seeded random configurations (tests/oracle_cases.py,
about a third of them invalid) are built twice: by convcalc, from the call string
(``spec_from_strings`` + ``analyze``), and by torch (``torch.nn.<type>(*args, **kwargs)``
run in eval mode on a real random CPU tensor). They must agree on whether the layer
is an error, and otherwise on the output shape, the parameter count
(``sum(p.numel())``) and the MACs (``FlopCounterMode`` total // 2).

Types that have a generator but are not registered yet are skipped; a type registered
without a generator fails ``test_every_registered_type_has_a_generator``.

Run with ``CONVCALC_ORACLE_SCALE=10`` for ten times as many cases.
"""

from __future__ import annotations

import functools
import importlib
import os
import random
import warnings
from collections.abc import Sequence
from typing import Any

import pytest
from oracle_cases import GENERATORS, Shape, gen_stack
from torch_bridge import TORCH_OPS, Outcome, counted, parse_call_text, torch_layer

from convcalc import SpecError, analyze, spec_from_strings
from convcalc.layers import REGISTRY

# where the analysis finds what to say about an error (the working-size search among it)
diagnosis_module = importlib.import_module("convcalc.diagnosis")

#: Types known to disagree with PyTorch, with the reason. Keep this minimal.
XFAIL: dict[str, str] = {}

SCALE = int(os.environ.get("CONVCALC_ORACLE_SCALE", "1"))
#: cases per type; the families with many arguments get more
CASES: dict[str, int] = {}
for _name in GENERATORS:
    if _name.startswith(("Conv", "MaxPool", "AvgPool")):
        CASES[_name] = 110
    elif _name.startswith(("Adaptive", "BatchNorm", "InstanceNorm", "Upsampl", "Linear")):
        CASES[_name] = 60
    elif _name in ("Flatten", "Unflatten", "LayerNorm", "GroupNorm"):
        CASES[_name] = 60
    else:
        CASES[_name] = 25
STACKS = 60
MAX_SHOWN = 8


# ------------------------------------------------------------------- torch
@pytest.fixture(scope="module")
def torch() -> Any:
    return pytest.importorskip("torch")


def torch_outcome(torch: Any, text: str, x: Shape) -> Outcome:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            module = torch_layer(torch, text, x)
        except Exception as exc:  # noqa: BLE001 - any rejection is the oracle's answer
            return (
                False,
                None,
                None,
                None,
                f"construction: {type(exc).__name__}: {_first_line(exc)}",
            )
        try:
            return counted(torch, [module], x)
        except Exception as exc:  # noqa: BLE001
            return False, None, None, None, f"forward: {type(exc).__name__}: {_first_line(exc)}"


def torch_stack_outcome(torch: Any, texts: Sequence[str], x: Shape) -> Outcome:
    """A stack: each layer is built when its input shape is known (for the inferred arguments)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        modules = []
        shape = x
        for text in texts:
            try:
                module = torch_layer(torch, text, shape)
                modules.append(module)
                shape = counted(torch, [module], shape)[1]  # type: ignore[assignment]
            except Exception as exc:  # noqa: BLE001
                return False, None, None, None, f"{text}: {type(exc).__name__}: {_first_line(exc)}"
        return counted(torch, modules, x)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else ""


# ---------------------------------------------------------------- convcalc
@pytest.fixture(autouse=True, scope="module")
def _quick_hints() -> Any:
    """The working-size search in error hints has a 0.25 s budget per error; cut it short here.

    The oracle checks numbers, not hints, but the hint code still runs (it must not crash).
    """
    original = diagnosis_module._working_sizes
    diagnosis_module._working_sizes = functools.partial(original, budget_s=0.002)
    yield
    diagnosis_module._working_sizes = original


def convcalc_outcome(texts: Sequence[str], x: Shape) -> Outcome:
    """convcalc's verdict; any exception other than SpecError is reported as a disagreement."""
    try:
        spec = spec_from_strings(list(texts), x)
        report = analyze(spec)
    except SpecError as exc:
        return False, None, None, None, f"SpecError: {exc}"
    except Exception as exc:  # noqa: BLE001 - an escaping Python exception is always a bug
        return None, None, None, None, f"UNEXPECTED {type(exc).__name__}: {exc}"  # type: ignore[return-value]
    if not report.ok:
        return False, None, None, None, "; ".join(e.message for e in report.errors)
    return True, report.output_shape, report.totals.params, report.totals.macs, ""


# ------------------------------------------------------------------ compare
def _describe(o: Outcome) -> str:
    ok, shape, params, macs, detail = o
    if ok is None:
        return detail
    if not ok:
        return f"error ({detail})"
    return f"shape {shape}, params {params}, MACs {macs}"


def _mismatch(expected: Outcome, got: Outcome) -> str | None:
    if got[0] is None:
        return "exception"
    if expected[0] != got[0]:
        return "ok" if expected[0] else "error"
    if expected[0] and expected[1:4] != got[1:4]:
        return ", ".join(
            what
            for what, a, b in zip(("shape", "params", "MACs"), expected[1:4], got[1:4])
            if a != b
        )
    return None


def _report(title: str, failures: list[str], total: int) -> str:
    shown = "\n\n".join(failures[:MAX_SHOWN])
    more = f"\n\n... and {len(failures) - MAX_SHOWN} more" if len(failures) > MAX_SHOWN else ""
    return f"{title}: {len(failures)} of {total} cases disagree with PyTorch\n\n{shown}{more}"


def _compare(texts: Sequence[str], x: Shape, expected: Outcome) -> str | None:
    """None when convcalc agrees with torch's ``expected``, else the failure's description."""
    got = convcalc_outcome(texts, x)
    what = _mismatch(expected, got)
    if not what:
        return None
    layers = " → ".join(texts)
    return (
        f"  {layers}  on input {x}: {what} differs\n"
        f"    torch:    {_describe(expected)}\n"
        f"    convcalc: {_describe(got)}"
    )


def cases(type_name: str, n: int) -> list[tuple[str, Shape]]:
    rng = random.Random(f"oracle:{type_name}")
    return [GENERATORS[type_name](rng) for _ in range(n * SCALE)]


# -------------------------------------------------------------------- tests
def test_every_registered_type_has_a_generator() -> None:
    # merges have their own torch oracle (tests/layers/test_merge.py)

    missing = sorted(set(REGISTRY) - set(GENERATORS) - set(TORCH_OPS))
    assert not missing, (
        f"layer types without an oracle generator in tests/oracle_cases.py: {missing}"
    )


def test_generators_produce_parseable_calls() -> None:
    for type_name in GENERATORS:
        for text, x in cases(type_name, 3):
            assert parse_call_text(text)[0] == type_name, text
            assert all(isinstance(v, int) and v >= 1 for v in x), (text, x)


@pytest.mark.parametrize("type_name", sorted(GENERATORS))
def test_layer_matches_torch(torch: Any, type_name: str) -> None:
    if type_name not in REGISTRY:
        pytest.skip(f"{type_name} is not registered in convcalc.layers yet")
    if type_name in XFAIL:
        pytest.xfail(XFAIL[type_name])
    generated = cases(type_name, CASES[type_name])
    failures = []
    for text, x in generated:
        failure = _compare([text], x, torch_outcome(torch, text, x))
        if failure:
            failures.append(failure)
    assert not failures, _report(type_name, failures, len(generated))


def test_stacks_match_torch(torch: Any) -> None:
    needed = {"Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm2d", "ReLU", "Flatten", "Linear"}
    if not needed <= set(REGISTRY):
        pytest.skip(f"not registered yet: {sorted(needed - set(REGISTRY))}")
    rng = random.Random("oracle:stacks")
    failures = []
    for _ in range(STACKS * SCALE):
        texts, x = gen_stack(rng)
        failure = _compare(texts, x, torch_stack_outcome(torch, texts, x))
        if failure:
            failures.append(failure)
    assert not failures, _report("stacks", failures, STACKS * SCALE)
