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


@pytest.mark.parametrize(
    "call",
    [
        "Conv2d(3, 6, 3, stride=2**62, padding=1)",
        "Conv2d(3, 6, 3, stride=(1, 2**40), padding=1)",
        "Conv2d(3, 3, 3, stride=2**62, groups=3)",
        "Conv1d(3, 4, 2, stride=2**62, dilation=3)",
        "Conv2d(3, 6, 1, stride=9)",
        "Conv2d(3, 6, 3, stride=(7, 1), padding=(2, 1))",
        "Conv2d(3, 6, 3, stride=100, padding=5)",
        "Conv2d(3, 6, (5, 2), stride=(9, 9), padding=(3, 0), dilation=(2, 1))",
        "Conv2d(3, 3, 2, stride=10, padding=1, groups=3)",
        "Conv2d(3, 6, 3, stride=(20, 2), padding=(4, 1), padding_mode='reflect')",
        "Conv1d(3, 4, 3, stride=30, padding=8)",
    ],
)
def test_a_stride_past_the_input_gives_torchs_one_position(call: str) -> None:
    """Along an axis with one output position torch computes the first window only; so does the
    kernel, from the input cropped to it, without a 2**62-sized step (padding included)."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = eval("torch.nn." + call, {"torch": torch}).double()  # our own constructor strings
    x = (
        torch.randn(2, 3, 8, 9, dtype=torch.float64)[..., 0, :]
        if "1d" in call
        else torch.randn(2, 3, 8, 9, dtype=torch.float64)
    )
    with torch.no_grad():
        want = module(x).numpy()
    weights = {f"0.{k}": v.detach().numpy() for k, v in module.state_dict().items()}
    spec = spec_from_strings(
        [call.replace("2**62", str(2**62)).replace("2**40", str(2**40))], tuple(x.shape)
    )
    result = run_forward(spec, weights=weights, input_data=x.numpy(), dtype="float64")
    assert result.verified
    np.testing.assert_allclose(result.output, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["Avg", "Max"])
@pytest.mark.parametrize(
    ("shape", "size"), [((2, 3, 2, 500), (37, 9)), ((1, 2, 300, 3, 7), (4, 11, 2))]
)
def test_adaptive_pooling_that_grows_one_axis_and_shrinks_another_is_torchs(
    kind: str, shape: tuple[int, ...], size: tuple[int, ...]
) -> None:
    torch = pytest.importorskip("torch")
    nd = len(size)
    call = f"Adaptive{kind}Pool{nd}d({size})"
    x = torch.randn(*shape, dtype=torch.float64)
    want = eval("torch.nn." + call, {"torch": torch})(x).numpy()  # our own constructor strings
    result = run_forward(spec_from_strings([call], shape), input_data=x.numpy(), dtype="float64")
    np.testing.assert_allclose(result.output, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("call", "shape"),
    [
        ("ConvTranspose1d(2, 3, 1, stride=100000)", (1, 2, 3)),
        ("ConvTranspose2d(2, 2, 2, stride=300, padding=1, output_padding=5)", (2, 2, 2, 3)),
        ("ConvTranspose2d(2, 4, 63, groups=2, padding=3)", (1, 2, 2, 2)),
        ("ConvTranspose3d(1, 2, (2, 1, 3), stride=(50, 60, 70), dilation=(3, 1, 2))", (1, 1, 2, 2, 2)),
        ("Conv2d(2, 3, 100, stride=50, padding=1000)", (1, 2, 1, 1)),
        ("Conv2d(2, 2, 61, groups=2, padding=(2, 5))", (1, 2, 64, 66)),
        ("Conv2d(2, 4, (1, 60), groups=2)", (1, 2, 5, 62)),
        ("Conv2d(3, 3, (2, 40), groups=3, padding=(1, 0))", (2, 3, 4, 43)),
        ("Conv1d(2, 2, 1500, stride=7, padding=20)", (2, 2, 1600)),
        ("Conv2d(3, 2, 1, stride=100)", (1, 3, 250, 301)),
        ("Conv2d(2, 4, (2, 3), stride=(90, 77), dilation=(4, 2), padding=(1, 2))", (1, 2, 300, 200)),
        ("Conv3d(1, 2, 1, stride=100, padding=300, padding_mode='replicate')", (1, 1, 1, 2, 1)),
        ("Conv2d(2, 2, (2, 3), stride=(40, 3), dilation=(5, 1), padding=(60, 2), padding_mode='replicate')", (1, 2, 3, 9)),
        ("Conv2d(2, 2, 3, stride=(50, 1), padding=(6, 1), padding_mode='reflect')", (2, 2, 7, 8)),
        ("Conv1d(2, 2, 2, stride=9, dilation=2, padding=4, padding_mode='circular')", (1, 2, 5)),
        ("Conv2d(2, 2, (2, 3), stride=(40, 1), padding=(1, 1), padding_mode='circular')", (1, 2, 90, 5)),
    ],
)  # fmt: skip
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_huge_geometries_with_little_work_are_torchs(
    call: str, shape: tuple[int, ...], dtype: str
) -> None:
    """Huge strides (transposed: phases without a tap; forward: gaps no window reads), windows
    that read only padding, kernels with more taps than the output has positions: computed
    from the little that matters, as torch computes them."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(1)
    tdtype = getattr(torch, dtype)
    module = eval("torch.nn." + call, {"torch": torch}).to(tdtype)  # our own constructor strings
    x = torch.randn(*shape, dtype=tdtype)
    with torch.no_grad():
        want = module(x).numpy()
    weights = {f"0.{k}": v.detach().numpy() for k, v in module.state_dict().items()}
    start = time.monotonic()
    result = run_forward(
        spec_from_strings([call], shape), weights=weights, input_data=x.numpy(), dtype=dtype
    )
    assert time.monotonic() - start < 5
    tol = 1e-10 if dtype == "float64" else 1e-4
    np.testing.assert_allclose(
        result.output, want, rtol=tol, atol=tol * max(1.0, np.abs(want).max())
    )


def test_a_transposed_convolution_too_large_for_the_budget_adds_into_its_output() -> None:
    """A stride of 7 and a dilation of 10⁶: 2·10⁶ output positions from 23 input ones, added
    tap by tap into the (cropped, padded) output, as torch computes them."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(2)
    call = "ConvTranspose1d(2, 3, 3, stride=7, dilation=1000000, padding=5, output_padding=3)"
    module = eval("torch.nn." + call, {"torch": torch}).double()  # our own constructor string
    x = torch.randn(1, 2, 23, dtype=torch.float64)
    with torch.no_grad():
        want = module(x).numpy()
    weights = {f"0.{k}": v.detach().numpy() for k, v in module.state_dict().items()}
    result = run_forward(
        spec_from_strings([call], (1, 2, 23)),
        weights=weights,
        input_data=x.numpy(),
        dtype="float64",
        max_memory=64 << 20,
    )
    np.testing.assert_allclose(result.output, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["Avg", "Max"])
@pytest.mark.parametrize(
    ("shape", "size", "memory"),
    [((2, 3, 1, 200000), (3, 7), 1 << 30), ((1, 4, 1, 1000000), (7, 7), 64 << 20)],
)
def test_adaptive_pooling_into_few_long_bins_is_torchs_and_quick(
    kind: str, shape: tuple[int, ...], size: tuple[int, int], memory: int
) -> None:
    """A million-element axis into 7 bins, within a limit that splits the output into blocks:
    each bin was summed one offset at a time (142,858 steps in every block: 105 s); each is
    one reduction now."""
    torch = pytest.importorskip("torch")
    call = f"Adaptive{kind}Pool2d({size})"
    x = torch.randn(*shape, dtype=torch.float64)
    want = eval("torch.nn." + call, {"torch": torch})(x).numpy()  # our own constructor strings
    start = time.process_time()
    result = run_forward(
        spec_from_strings([call], shape), input_data=x.numpy(), dtype="float64", max_memory=memory
    )
    assert time.process_time() - start < 5
    np.testing.assert_allclose(result.output, want, rtol=1e-12, atol=1e-12)
