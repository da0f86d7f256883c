"""The "not covered" note of a convolution against torch's gradient: the trailing input rows no
window reads are those whose gradient is zero with positive weights. Rows of padding that the last
window leaves out are no input (a stride-2 3×3 convolution with padding 1 on 56 rows reads every row)."""

from __future__ import annotations

import random
import re

import pytest

from convcalc import analyze, spec_from_strings


def _noted(note: str) -> int:
    """How many trailing rows the note says are left out (0 without a note)."""
    match = re.search(r"the last (?:(\d+) rows|row)\b", note)
    if match is None:
        return 0
    return int(match.group(1) or 1)


@pytest.mark.parametrize("seed", range(200))
def test_trailing_rows_no_window_reads(seed: int) -> None:
    torch = pytest.importorskip("torch")
    rng = random.Random(seed)
    k, s, p, d = rng.randint(1, 5), rng.randint(1, 5), rng.randint(0, 3), rng.randint(1, 3)
    n = rng.randint(d * (k - 1) + 1, 40)
    p = min(p, (d * (k - 1) + 1) // 2)  # torch: padding at most half the effective kernel
    call = (
        f"Conv2d(1, 1, ({k}, 1), stride=({s}, 1), padding=({p}, 0), dilation=({d}, 1), bias=False)"
    )
    report = analyze(spec_from_strings([call], (1, 1, n, 3)))
    assert report.ok
    conv = torch.nn.Conv2d(1, 1, (k, 1), (s, 1), (p, 0), (d, 1), bias=False)
    torch.nn.init.ones_(conv.weight)
    x = torch.ones(1, 1, n, 3, requires_grad=True)
    conv(x).sum().backward()
    read = (x.grad[0, 0, :, 0] != 0).tolist()
    trailing = len(read) - (max(i for i, r in enumerate(read) if r) + 1)
    assert _noted("; ".join(report.rows[0].notes)) == trailing, (call, n)
