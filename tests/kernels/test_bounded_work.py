"""Arguments that ask for huge amounts of work where the result needs little: the kernels do
the little (the rule is checked against its closed form)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from convcalc import run_forward, spec_from_strings


@pytest.mark.parametrize("size", [2**20, 2**31, 2**62])
def test_a_local_response_window_wider_than_the_channels_costs_what_the_channels_do(
    size: int,
) -> None:
    """Every channel's window holds all of them: x / (k + alpha·Σx²/size)^beta."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4, 5))
    spec = spec_from_strings([f"LocalResponseNorm({size}, alpha=0.5, beta=0.75, k=2.0)"])
    start = time.monotonic()
    result = run_forward(spec, input_data=x, dtype="float64")
    assert time.monotonic() - start < 5
    total = np.square(x).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(result.output, x / (2.0 + 0.5 * total / size) ** 0.75, rtol=1e-12)
