"""PyTorch as the oracle for VALUES: the random valid configurations of tests/oracle_cases.py,
run by torch (eval mode, float64, with non-trivial buffers) and by convcalc's NumPy kernels
with torch's own parameters. Outputs must agree within 1e-9 relative (float64) and the float32
run within 1e-4 of the float64 reference.
"""

from __future__ import annotations

import itertools
import os
import random
import warnings
from typing import Any

import numpy as np
import pytest
from oracle_cases import ACTIVATIONS, GENERATORS
from torch_bridge import torch_layer

from convcalc import analyze, spec_from_strings
from convcalc.errors import ConvcalcError
from convcalc.forward import run_forward
from convcalc.kernels import Config, Run, conv, conv_transpose, path_of
from convcalc.kernels.transposed import in_slabs

#: cases per type (valid ones are kept; invalid ones are the shape oracle's business)
CASES = int(os.environ.get("CONVCALC_FORWARD_CASES", "24"))
#: draws allowed per case wanted, and the share of CASES that must be compared
MAX_DRAWS = 10
MIN_COMPARED = 0.75
SPECIALS = [float("nan"), float("inf"), -float("inf"), 0.0, -0.0]


@pytest.fixture(scope="module")
def torch() -> Any:
    return pytest.importorskip("torch")


def _randomize_buffers(torch: Any, module: Any, rng: random.Random) -> None:
    """Running statistics and affine parameters away from their defaults, so they matter."""
    gen = torch.Generator().manual_seed(rng.randrange(1 << 30))
    for name, buf in module.named_buffers():
        if name.endswith("running_mean"):
            buf.copy_(torch.rand(buf.shape, generator=gen, dtype=buf.dtype) - 0.5)
        elif name.endswith("running_var"):
            buf.copy_(torch.rand(buf.shape, generator=gen, dtype=buf.dtype) + 0.5)
    if "Norm" in type(module).__name__:  # affine weights away from 1, biases away from 0
        for p in module.parameters():
            p.data.copy_(torch.rand(p.shape, generator=gen, dtype=p.dtype) + 0.5)


@pytest.mark.parametrize("type_name", sorted(GENERATORS))
def test_forward_values_agree_with_torch(torch: Any, type_name: str) -> None:
    _compare(torch, type_name)


#: thresholds that pick a convolution's kernel path, forced each way (see convcalc.kernels)
KERNEL_PATHS = {
    # per-tap BLAS products (grouped: batched over the groups), columns gathered cropped,
    # strided depthwise gathered cropped
    "direct": Config(
        tap_gemm_min=1,
        tap_gemm_min_length=1,
        exact_min_width=1,
        strided_depthwise_exact_min_width=1,
        grouped_direct_min=1,
        grouped_pointer_min_length=1,
        shifted_depthwise=False,
    ),
    # NumPy's matmul only, columns and depthwise taps as flat runs, cropped afterwards
    "flat": Config(
        direct_gemm=False,
        exact_min_width=1 << 30,
        strided_depthwise_exact_min_width=1 << 30,
        strided_depthwise_exact_max_taps=0,
        shifted_depthwise=False,
    ),
}
CONV_TYPES = [t for t in sorted(GENERATORS) if "Conv" in t]


@pytest.mark.parametrize("type_name", CONV_TYPES)
@pytest.mark.parametrize("path", sorted(KERNEL_PATHS))
def test_every_conv_kernel_path_agrees_with_torch(torch: Any, type_name: str, path: str) -> None:
    _compare(torch, type_name, config=KERNEL_PATHS[path])


#: the element-wise and pooling types, also run on inputs holding nan, ±inf and ±0
SPECIAL_TYPES = [
    t for t in sorted(GENERATORS) if t in ACTIVATIONS or ("Pool" in t and not t.startswith("Lazy"))
]


@pytest.mark.parametrize("type_name", SPECIAL_TYPES)
def test_nan_inf_and_signed_zeros_go_through_as_in_torch(torch: Any, type_name: str) -> None:
    _compare(torch, type_name, special=True)


def _compare(
    torch: Any, type_name: str, special: bool = False, config: Config | None = None
) -> None:
    rng = random.Random(f"forward:{type_name}" + (":special" if special else ""))
    failures = []
    ran = 0
    drawn = 0
    # draw until CASES cases were compared (a draw that convcalc or torch refuses is the
    # shape oracle's business, not this one's), within a bound on the draws
    while ran < CASES and drawn < MAX_DRAWS * CASES:
        drawn += 1
        text, x_shape = GENERATORS[type_name](rng)
        try:
            spec = spec_from_strings([f"m={text}"], x_shape)
        except ConvcalcError:
            continue
        layer = spec.layers[0].layer
        padding = layer.args.get("padding")
        if (
            type_name.startswith("CircularPad")
            and min(padding if isinstance(padding, tuple) else (padding,)) < 0
        ):
            # cropping and wrapping at once: torch's copies read memory it never wrote
            continue
        report = analyze(spec, size_hints=False)
        if not report.ok or any(s == 0 for s in report.output_shape or ()) or 0 in x_shape:
            continue
        with warnings.catch_warnings(), torch.no_grad(), torch.backends.mkldnn.flags(enabled=False):
            warnings.simplefilter("ignore")
            try:
                module = torch_layer(torch, text, x_shape).double().eval()
            except Exception:  # noqa: BLE001 - torch rejects: the shape oracle covers it
                continue
            if type_name.startswith("Lazy"):  # parameters exist after a first forward pass
                try:
                    module(torch.zeros(x_shape, dtype=torch.float64))
                except Exception:  # noqa: BLE001
                    continue
            _randomize_buffers(torch, module, rng)
            x = torch.randn(
                *x_shape, dtype=torch.float64, generator=torch.Generator().manual_seed(ran)
            )
            if special:  # about one element in eight replaced by nan, ±inf or ±0
                flat = x.view(-1)
                for i in range(flat.numel()):
                    if rng.random() < 0.125:
                        flat[i] = rng.choice(SPECIALS)
            try:
                y = module(x.clone())  # inplace=True would overwrite x
            except Exception:  # noqa: BLE001
                continue
            if isinstance(y, tuple):  # return_indices=True
                y = y[0]
        weights = {f"m.{k}": v.numpy() for k, v in module.state_dict().items()}
        expected = y.numpy()
        # the tolerance scales with the finite values (a window over padding alone is -inf,
        # and infinities must then match exactly)
        finite = np.abs(expected[np.isfinite(expected)])
        scale = float(finite.max()) if finite.size else 1.0
        checks = [("float64", 1e-9), ("float32", 1e-4)]
        if type_name == "RMSNorm" and layer.args["eps"] is None:
            checks = checks[:1]  # eps = the dtype's machine epsilon: float32 has its own answer
        for dtype, rtol in checks:
            try:
                result = run_forward(
                    spec, weights=weights, input_data=x.numpy(), dtype=dtype, config=config
                )
            except ConvcalcError as exc:
                failures.append(f"  {text} on {x_shape} [{dtype}]: {exc}")
                break
            got = result.output
            if got is None or got.shape != expected.shape:
                failures.append(
                    f"  {text} on {x_shape} [{dtype}]: shape {None if got is None else got.shape} vs {expected.shape}"
                )
                break
            bad = ~np.isclose(
                got.astype(np.float64),
                expected,
                rtol=rtol,
                atol=rtol * max(scale, 1e-30),
                equal_nan=True,
            )
            if bad.any():
                err = float(np.nanmax(np.abs(got.astype(np.float64) - expected)))
                failures.append(
                    f"  {text} on {x_shape} [{dtype}]: max abs error {err:.3g} (scale {scale:.3g})"
                )
                break
        ran += 1
    assert not failures, (
        f"{type_name}: {len(failures)} of {ran} cases differ from torch\n" + "\n".join(failures[:8])
    )
    # an oracle that compares nothing proves nothing: most draws must reach a comparison
    assert ran >= MIN_COMPARED * CASES, (
        f"{type_name}: only {ran} of {drawn} drawn cases were compared with torch "
        f"(at least {MIN_COMPARED * CASES:g} wanted)"
    )


@pytest.mark.parametrize("shifted", [True, False], ids=["flat shifts", "same-width layout"])
def test_same_grid_depthwise_agrees_with_torch(torch: Any, shifted: bool) -> None:
    """Stride-1 depthwise convolution whose output grid is the input's: gathered by flat
    shifts of the input (zeroing what crosses an edge), or, that path off, from the layout
    without padding columns. Every kernel shape, dilation, 'same' padding of even kernels
    (padded more on the right), depth multiplier, batch and width, down to rows of one
    column, against torch in float64."""
    # blocks of a few planes
    config = Config(shifted_depthwise=shifted, depthwise_block=7 * 12 * 8 * 5)
    path = "depthwise-shifted" if shifted else "depthwise-same-width"
    used = []
    rng = np.random.default_rng(0)
    cases = 0
    for (kh, kw), (dy, dx), m, n, width in itertools.product(
        [(3, 3), (5, 5), (1, 3), (3, 1), (2, 2), (4, 3)],
        [(1, 1), (2, 1), (1, 2)],
        [1, 2],
        [1, 3],
        [1, 7, 12],
    ):
        c, height = 4, 7
        x = rng.standard_normal((n, c, height, width))
        w = rng.standard_normal((c * m, 1, kh, kw))
        b = rng.standard_normal(c * m)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = torch.nn.functional.conv2d(
                *map(torch.from_numpy, (x, w, b)), 1, "same", (dy, dx), c
            ).numpy()
        reach = [dy * (kh - 1), dx * (kw - 1)]
        pads = [(r // 2, r - r // 2) for r in reach]
        with Run(config):
            used.append(path_of(x, w, b, (1, 1), (dy, dx), c, 1 << 30, pads))
            got = conv(x, w, b, (1, 1), (dy, dx), c, 1 << 30, pads)
        np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-12)
        cases += 1
    assert used == [path] * cases and cases == 216


def test_depthwise_in_row_slabs_agrees_with_torch(torch: Any) -> None:
    """A depthwise plane whose gathered taps exceed the budget runs in slabs of output rows:
    strides, dilation, padding on either edge (slabs wholly inside it too), depth
    multipliers, 1-3 dimensions, against torch."""
    used = []
    rng = np.random.default_rng(2)
    cases = 0
    for spatial, kernel, stride, dilation, pad in [
        ((17, 20), (1, 3), (3, 3), (2, 1), (2, 1)),
        ((9, 8), (3, 3), (1, 1), (1, 1), (1, 1)),
        ((12, 5), (3, 2), (2, 1), (2, 1), (2, 0)),
        ((7, 7), (5, 5), (2, 2), (1, 1), (2, 2)),
        ((23,), (4,), (2,), (3,), (2,)),
        ((6, 5, 4), (3, 3, 3), (1, 2, 1), (1, 1, 2), (1, 1, 2)),
    ]:
        for m, budget, dtype in itertools.product((1, 2), (1, 100), (np.float64, np.float32)):
            c = 3
            x = rng.standard_normal((2, c, *spatial)).astype(dtype)
            w = rng.standard_normal((c * m, 1, *kernel)).astype(dtype)
            b = rng.standard_normal(c * m).astype(dtype)
            torch_conv = getattr(torch.nn.functional, f"conv{len(spatial)}d")
            ref = torch_conv(*map(torch.from_numpy, (x, w, b)), stride, pad, dilation, c).numpy()
            pads = [(p, p) for p in pad]
            used.append(path_of(x, w, b, stride, dilation, c, budget, pads))
            got = conv(x, w, b, stride, dilation, c, budget, pads)
            tol = 1e-9 if dtype == np.float64 else 1e-5
            np.testing.assert_allclose(got, ref, rtol=tol, atol=tol)
            cases += 1
    assert cases == 48 and used == ["depthwise-slabs"] * cases


def test_transposed_convolution_in_input_slabs_agrees_with_torch(torch: Any) -> None:
    """A transposed convolution too large for its budget, in slabs of input rows added into
    the output: strides, dilation, padding, output padding, groups, 1-3 dimensions."""
    used = []
    rng = np.random.default_rng(4)
    cases = 0
    for spatial, kernel, stride, dilation, pad, extra, groups in [
        ((9, 7), (3, 3), (2, 2), (1, 1), (1, 1), (1, 0), 1),
        ((8, 5), (4, 3), (1, 2), (2, 1), (2, 0), (0, 1), 2),
        ((11,), (5,), (3,), (1,), (2,), (2,), 1),
        ((5, 4, 3), (3, 2, 2), (2, 1, 2), (1, 1, 1), (1, 0, 1), (1, 0, 0), 2),
        ((6, 6), (1, 1), (3, 3), (1, 1), (0, 0), (2, 2), 1),
    ]:
        for budget, dtype in itertools.product((1, 300), (np.float64, np.float32)):
            x = rng.standard_normal((2, 2 * groups, *spatial)).astype(dtype)
            w = rng.standard_normal((2 * groups, 3, *kernel)).astype(dtype)
            b = rng.standard_normal(3 * groups).astype(dtype)
            torch_conv = getattr(torch.nn.functional, f"conv_transpose{len(spatial)}d")
            ref = torch_conv(
                *map(torch.from_numpy, (x, w, b)), stride, pad, extra, groups, dilation
            )
            args = (stride, pad, extra, dilation, groups)
            used.append(in_slabs(x.shape, w.shape, *args, x.itemsize, budget))
            got = conv_transpose(x, w, b, *args, budget)
            tol = 1e-9 if dtype == np.float64 else 1e-5
            np.testing.assert_allclose(got, ref.numpy(), rtol=tol, atol=tol)
            cases += 1
    assert cases == 20 and used == [True] * cases


def test_mode_padded_convolution_in_slabs_agrees_with_torch(torch: Any, monkeypatch: Any) -> None:
    """A convolution with reflect, replicate or circular padding whose padded copy would
    overrun the budget, padded slab by slab from the rows each reads: every mode, strides,
    dilation, groups, 1-3 dimensions and a batch, against torch's module."""
    from convcalc import kernels
    from convcalc.spec import spec_from_strings

    calls = []
    real = kernels.padded_rows
    monkeypatch.setattr(kernels, "padded_rows", lambda *a: calls.append(1) or real(*a))
    rng = np.random.default_rng(6)
    cases = 0
    for call, shape in [
        ("Conv2d(4, 6, 3, padding=2, padding_mode='{}')", (2, 4, 9, 7)),
        (
            "Conv2d(4, 4, (3, 2), stride=2, padding=(2, 1), dilation=(2, 1), groups=2, padding_mode='{}')",
            (1, 4, 11, 6),
        ),
        ("Conv1d(2, 3, 4, padding=3, dilation=1, padding_mode='{}')", (2, 2, 8)),
        ("Conv3d(2, 2, 3, stride=(2, 1, 1), padding=1, padding_mode='{}')", (1, 2, 6, 4, 3)),
        ("Conv2d(3, 3, 3, padding='same', groups=3, padding_mode='{}')", (1, 3, 5, 5)),
    ]:
        for mode in ("reflect", "replicate", "circular"):
            layer = spec_from_strings([call.format(mode)], shape).layers[0].layer
            module = eval("torch.nn." + call.format(mode)).double()  # noqa: S307 - literal calls above
            x = rng.standard_normal(shape)
            weights = {k: v.detach().numpy() for k, v in module.state_dict().items()}
            ref = module(torch.from_numpy(x)).detach().numpy()
            before = len(calls)
            got = layer.forward(x, weights, 1)
            assert len(calls) > before, call.format(mode)
            np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-12)
            cases += 1
    assert cases == 15


def test_flat_shift_depthwise_in_1d_and_3d_agrees_with_torch(torch: Any) -> None:
    """The flat-shift gather in one and three dimensions: symmetric and 'same' padding, a
    kernel reaching past a whole plane (all of a tap in the padding), no bias, float32 too."""
    config = Config(depthwise_block=256)  # a plane or two per block
    used = []
    rng = np.random.default_rng(1)
    cases = 0
    for spatial, kernel, dilation in [
        ((9,), (3,), (1,)),
        ((5,), (4,), (3,)),
        ((2,), (7,), (1,)),
        ((4, 5, 6), (3, 3, 3), (1, 1, 1)),
        ((3, 4, 2), (2, 3, 1), (2, 1, 1)),
        ((2, 2, 2), (5, 3, 3), (1, 2, 1)),
    ]:
        for dtype, bias, m in itertools.product((np.float64, np.float32), (True, False), (1, 3)):
            c, n = 3, 2
            x = rng.standard_normal((n, c, *spatial)).astype(dtype)
            w = rng.standard_normal((c * m, 1, *kernel)).astype(dtype)
            b = rng.standard_normal(c * m).astype(dtype) if bias else None
            torch_conv = getattr(torch.nn.functional, f"conv{len(spatial)}d")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ref = torch_conv(
                    torch.from_numpy(x),
                    torch.from_numpy(w),
                    None if b is None else torch.from_numpy(b),
                    1,
                    "same",
                    dilation,
                    c,
                ).numpy()
            reach = [d * (k - 1) for k, d in zip(kernel, dilation)]
            pads = [(r // 2, r - r // 2) for r in reach]
            ones = (1,) * len(spatial)
            with Run(config):
                used.append(path_of(x, w, b, ones, dilation, c, 1 << 30, pads))
                got = conv(x, w, b, ones, dilation, c, 1 << 30, pads)
            tol = 1e-9 if dtype == np.float64 else 1e-5
            np.testing.assert_allclose(got, ref, rtol=tol, atol=tol)
            cases += 1
    assert used == ["depthwise-shifted"] * cases and cases == 48
