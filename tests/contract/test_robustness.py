"""Bad input never escapes as a Python exception: every layer type, fed odd argument values and ranks,
either works or raises a ConvcalcError (exit 1 or 2) with a message."""

from __future__ import annotations

import random

import pytest

from convcalc import ConvcalcError, analyze, spec_from_data
from convcalc.layers import REGISTRY

VALUES = [
    0, 1, -1, 2, 3, 7, 1000, 10**12, 2.5, -0.5, True, False, None, "same", "valid", "zeros", "reflect",
    "abc", "", [1], [1, 2], [2, 2, 2], [0, 0], [-1, 3], [None, 2], [[1]], {"a": 1}, float("nan"), float("inf"),
]  # fmt: skip


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_odd_arguments_give_messages_not_tracebacks(name):
    rng = random.Random(name)
    cls = REGISTRY[name]
    for _ in range(150):
        args = {a.name: rng.choice(VALUES) for a in cls.ARGS if rng.random() < 0.6}
        shape = [rng.choice([1, 2, 3, 4, 5, 8]) for _ in range(rng.randint(1, 6))]
        try:
            report = analyze(spec_from_data({"input": shape, "layers": [dict(type=name, **args)]}))
        except ConvcalcError as exc:
            assert exc.exit_code == 2 and exc.message
            continue
        for problem in report.errors:
            assert problem.message.startswith("layer 0 ")


def test_a_config_nested_too_deeply_is_an_input_error(tmp_path):
    from convcalc import SpecError, load_spec

    path = tmp_path / "deep.yaml"
    path.write_text("input: [1, 3]\nlayers:\n  - " + "[" * 400 + "{type: ReLU}" + "]" * 400 + "\n")
    with pytest.raises(SpecError, match="nested too deeply") as info:
        load_spec(str(path))
    assert info.value.exit_code == 2
