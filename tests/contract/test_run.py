"""The runner: weights, input, memory guard, shape verification, and the `run` command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from clirun import run as cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convcalc import ShapeError, SpecError, analyze, budget, load_spec, spec_from_strings
from convcalc.cli import parse_size
from convcalc.forward import run_forward

ROOT = Path(__file__).resolve().parents[2]
LENET = str(ROOT / "examples" / "lenet.yaml")
LENET64 = str(ROOT / "examples" / "lenet-64.yaml")


def lenet_weights(seed=3):
    """A state_dict for examples/lenet.yaml, as the export snippet of docs/running.md writes it."""
    rng = np.random.default_rng(seed)
    shapes = {
        "conv1.weight": (6, 1, 5, 5), "conv1.bias": (6,), "conv2.weight": (16, 6, 5, 5), "conv2.bias": (16,),
        "fc1.weight": (120, 400), "fc1.bias": (120,), "fc2.weight": (84, 120), "fc2.bias": (84,),
        "fc3.weight": (10, 84), "fc3.bias": (10,),
    }  # fmt: skip
    return {k: rng.standard_normal(s) * 0.1 for k, s in shapes.items()}


def test_lenet_runs_and_verifies():
    result = run_forward(load_spec(LENET))
    assert result.verified and result.exit_code == 0
    assert [r.actual_shape for r in result.layers] == [
        row.output_shape for row in result.report.rows
    ]
    assert result.output.shape == (1, 10) and result.output.dtype == np.float32
    assert all(r.time_ms >= 0 for r in result.layers)


def test_seed_makes_runs_repeatable_and_dtype_is_kept():
    a = run_forward(load_spec(LENET), seed=7, dtype="float64")
    b = run_forward(load_spec(LENET), seed=7, dtype="float64")
    c = run_forward(load_spec(LENET), seed=8, dtype="float64")
    assert a.output.dtype == np.float64
    assert np.array_equal(a.output, b.output) and not np.array_equal(a.output, c.output)


def test_lenet_64_fails_before_computing_with_the_shape_diagnosis():
    result = run_forward(load_spec(LENET64))
    assert not result.verified and result.exit_code == 1 and result.layers == ()
    assert result.report.errors == analyze(load_spec(LENET64)).errors


def test_default_init_follows_torch_distributions():
    spec = spec_from_strings(
        ["Conv2d(16, 32, 3)", "Linear(out_features=50)", "BatchNorm2d(32)"], (2, 16, 8, 8)
    )
    report = analyze(spec)
    rng = np.random.default_rng(0)
    conv = spec.layers[0].layer.init(report.rows[0].input_shape, rng)
    bound = 1 / np.sqrt(16 * 9)
    assert conv["weight"].shape == (32, 16, 3, 3)
    assert np.abs(conv["weight"]).max() <= bound and np.abs(conv["weight"]).max() > 0.9 * bound
    assert np.abs(conv["bias"]).max() <= bound
    lin = spec.layers[1].layer.init(report.rows[1].input_shape, rng)
    assert lin["weight"].shape == (50, 6) and np.abs(lin["weight"]).max() <= 1 / np.sqrt(6)
    bn = spec.layers[2].layer.init(report.rows[2].input_shape, rng)
    assert np.all(bn["weight"] == 1) and np.all(bn["bias"] == 0)
    assert np.all(bn["running_mean"] == 0) and np.all(bn["running_var"] == 1)


def test_given_weights_and_input_are_used():
    weights = lenet_weights()
    x = np.random.default_rng(0).standard_normal((2, 1, 32, 32))
    a = run_forward(load_spec(LENET), weights=weights, input_data=x, dtype="float64")
    b = run_forward(load_spec(LENET), weights=weights, input_data=x, dtype="float64", seed=99)
    assert a.report.input_shape == (2, 1, 32, 32) and a.output.shape == (2, 10)
    assert np.array_equal(a.output, b.output)  # the seed plays no part


@pytest.mark.parametrize(
    "change,message",
    [
        (
            lambda w: w.pop("fc1.bias"),
            "layer 7 'fc1' (Linear): the weights have no 'fc1.bias' (expected shape (120,))",
        ),
        (
            lambda w: w.update({"fc9.weight": np.zeros(3)}),
            "the weights have 1 unexpected key: 'fc9.weight'",
        ),
        (
            lambda w: w.update({"conv1.weight": np.zeros((6, 1, 3, 3))}),
            "layer 0 'conv1' (Conv2d): weight 'conv1.weight' has shape (6, 1, 3, 3), expected (6, 1, 5, 5)",
        ),
        (
            lambda w: w.update({"fc3.bias": np.full(10, "a")}),
            "layer 11 'fc3' (Linear): weight 'fc3.bias' holds text (<U1), not real numbers",
        ),
        (
            lambda w: w.update({"fc3.bias": np.zeros(10, complex)}),
            "layer 11 'fc3' (Linear): weight 'fc3.bias' holds complex numbers (complex128), "
            "not real numbers",
        ),
    ],
)
def test_weight_file_errors_name_the_key_and_shapes(change, message):
    weights = lenet_weights()
    change(weights)
    with pytest.raises(SpecError) as info:
        run_forward(load_spec(LENET), weights=weights)
    assert info.value.exit_code == 2
    assert info.value.message == message


@pytest.mark.parametrize("prefix", ["module.", "model.backbone."])
def test_a_wrapped_models_prefix_is_named(prefix):
    """DataParallel's state_dict: every key is the config's, behind one prefix."""
    weights = {prefix + k: v for k, v in lenet_weights().items()}
    with pytest.raises(SpecError) as info:
        run_forward(load_spec(LENET), weights=weights)
    error = info.value
    assert error.message == (
        "layer 0 'conv1' (Conv2d): the weights have no 'conv1.weight' (expected shape (6, 1, 5, 5))"
    )
    assert error.hint.startswith(f"every key carries the prefix {prefix!r}")
    assert error.others[-1].message.startswith("the weights have 10 unexpected keys")
    assert error.others[-1].hint == error.hint
    # a key the config lacks is not taken for a prefix
    weights = lenet_weights()
    weights["extra.conv1.weight"] = weights["conv1.weight"]
    del weights["conv1.weight"]
    with pytest.raises(SpecError) as info:
        run_forward(load_spec(LENET), weights=weights)
    assert "prefix" not in info.value.hint


def test_every_weight_problem_is_reported_at_once():
    """As torch's load_state_dict: each missing key and wrong shape at its layer, then the keys
    no layer has; the first raised, carrying the others."""
    weights = lenet_weights()
    weights.pop("conv2.bias")
    weights["fc2.weight"] = np.zeros((84, 100))
    weights["head.weight"] = np.zeros(3)
    weights["head.bias"] = np.zeros(3)
    with pytest.raises(SpecError) as info:
        run_forward(load_spec(LENET), weights=weights)
    problems = [info.value, *info.value.others]
    assert [p.message for p in problems] == [
        "layer 3 'conv2' (Conv2d): the weights have no 'conv2.bias' (expected shape (16,))",
        "layer 9 'fc2' (Linear): weight 'fc2.weight' has shape (84, 100), expected (84, 120)",
        "the weights have 2 unexpected keys: 'head.bias', 'head.weight'",
    ]
    assert [p.argument for p in problems] == ["conv2.bias", "fc2.weight", None]
    assert problems[1].expected == (84, 120) and problems[1].got == (84, 100)
    assert problems[2].hint == "no layer is named 'head'"


def test_cli_prints_every_weight_problem(tmp_path):
    weights = lenet_weights()
    weights.pop("conv2.bias")
    weights["fc2.weight"] = np.zeros((84, 100))
    path = tmp_path / "w.npz"
    np.savez(path, **weights)
    result = cli("run", LENET, "--weights", str(path))
    assert result.exit_code == 2
    assert [line for line in result.output.splitlines() if line.startswith("error:")] == [
        "error: layer 3 'conv2' (Conv2d): the weights have no 'conv2.bias' (expected shape (16,))",
        "error: layer 9 'fc2' (Linear): weight 'fc2.weight' has shape (84, 100), expected (84, 120)",
    ]
    data = json.loads(cli("run", LENET, "--weights", str(path), "-f", "json").stdout)
    assert [(e["index"], e["argument"]) for e in data["errors"]] == [
        (3, "conv2.bias"),
        (9, "fc2.weight"),
    ]


def test_the_kernels_one_time_set_up_is_not_timed_as_the_first_layer(monkeypatch):
    """Finding OpenBLAS costs about a millisecond once per process: done before any layer's
    clock starts, so that a single run's time_ms of the first layer is its kernel's."""
    from convcalc import kernels
    from convcalc.layers.conv import ConvNd

    events = []
    monkeypatch.setattr(kernels, "prepare", lambda: events.append("prepare"))
    real = ConvNd.forward
    monkeypatch.setattr(
        ConvNd, "forward", lambda self, *a, **k: events.append("conv") or real(self, *a, **k)
    )
    run_forward(load_spec(LENET))
    assert events == ["prepare", "conv", "conv"]


def test_unexpected_key_suggests_the_layer():
    weights = lenet_weights()
    weights["fc_1.weight"] = weights.pop("fc1.weight")
    with pytest.raises(SpecError) as info:
        run_forward(load_spec(LENET), weights=weights)
    assert "no 'fc1.weight'" in info.value.message
    assert info.value.hint == "did you mean fc_1.weight?"


def test_num_batches_tracked_is_accepted_and_ignored():
    spec = spec_from_strings(["bn=BatchNorm2d(3)"], (2, 3, 4, 4))
    w = {
        "bn.weight": np.ones(3),
        "bn.bias": np.zeros(3),
        "bn.running_mean": np.zeros(3),
        "bn.running_var": np.ones(3),
    }
    assert run_forward(spec, weights=w).verified
    assert run_forward(spec, weights={**w, "bn.num_batches_tracked": np.array(5)}).verified


def test_memory_guard_stops_before_computing():
    spec = spec_from_strings(["big=Conv2d(3, 64, 3, padding=1)"], (8, 3, 256, 256))
    with pytest.raises(ShapeError) as info:
        run_forward(spec, max_memory=100 << 20)
    message = info.value.message
    assert message.startswith(
        "layer 0 'big' (Conv2d): the output (8, 64, 256, 256) alone needs 128.00 MiB (134,217,728 bytes)"
    )
    assert "over the memory limit of 100.00 MiB" in message
    assert info.value.hint == "use a smaller batch or input, or raise --max-memory"


def test_small_memory_limit_still_gives_the_same_numbers():
    spec = spec_from_strings(
        ["Conv2d(8, 16, 3, padding=1)", "MaxPool2d(2)", "Flatten", "Linear(out_features=10)"],
        (4, 8, 32, 32),
    )
    a = run_forward(spec, dtype="float64", max_memory=1 << 30)
    b = run_forward(spec, dtype="float64", max_memory=2 << 20)
    assert np.allclose(a.output, b.output, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "text,value",
    [("1GiB", 1 << 30), ("512M", 512 << 20), ("2g", 2 << 30), ("1000", 1000), ("1.5K", 1536)],
)
def test_parse_size(text, value):
    assert parse_size(text) == value


LAYERS = st.sampled_from(
    [
        "Conv2d(out_channels=4, kernel_size=3, padding=1)", "Conv2d(out_channels=6, kernel_size=2, stride=2)",
        "Conv2d(out_channels=4, kernel_size=3, groups=2, padding='same')", "ConvTranspose2d(out_channels=4, kernel_size=2, stride=2)",
        "MaxPool2d(2, ceil_mode=True)", "AvgPool2d(3, stride=1, padding=1)", "AdaptiveAvgPool2d((3, None))",
        "BatchNorm2d(num_features=None)", "ReLU", "GELU", "Upsample(scale_factor=1.5)", "ZeroPad2d((1, 0, 2, 1))",
        "Dropout2d(0.3)", "Identity",
    ]
)  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    layers=st.lists(LAYERS, min_size=1, max_size=6),
    size=st.integers(4, 12),
    channels=st.sampled_from([2, 4]),
)
def test_property_real_shapes_equal_the_predictions(layers, size, channels):
    layers = [text.replace("num_features=None", "") for text in layers]
    spec = spec_from_strings(layers, (2, channels, size, size))
    report = analyze(spec)
    if not report.ok:
        return
    result = run_forward(spec)
    assert result.verified, [
        (r.actual_shape, row.output_shape) for r, row in zip(result.layers, report.rows)
    ]


# ---------------------------------------------------------------- the command
def test_run_command_table_and_json(tmp_path):
    out = cli("run", LENET)
    assert out.exit_code == 0, out.output
    assert "verified: every layer's real output shape is the predicted one" in out.output
    data = json.loads(cli("run", LENET, "-f", "json", "--repeat", "2").output)
    assert data["verified"] is True and data["repeat"] == 2 and data["dtype"] == "float32"
    assert all(
        layer["match"] is True and layer["actual_shape"] == layer["output_shape"]
        for layer in data["layers"]
    )
    assert all(isinstance(layer["time_ms"], float) for layer in data["layers"])


def test_threads_limit_the_kernels_and_are_reported(monkeypatch):
    """--threads N holds the kernels (ours and BLAS's) to N threads for the run, as
    torch.set_num_threads does, and restores the limit afterwards; the output does not
    depend on it."""
    from convcalc import kernels
    from convcalc.layers.conv import ConvNd

    seen = []
    real = ConvNd.forward

    def spy(self, *a, **k):
        seen.append((kernels.current().config.threads, kernels.current().config.workers))
        return real(self, *a, **k)

    monkeypatch.setattr(ConvNd, "forward", spy)
    data = json.loads(cli("run", LENET, "-f", "json", "--threads", "1").output)
    assert data["verified"] is True and data["threads"] == 1
    # no run holds the kernels once it is over: the defaults again
    assert seen and set(seen) == {(1, 1)} and kernels.current().config == kernels.Config()
    assert json.loads(cli("run", LENET, "-f", "json").output)["threads"] is None
    table = cli("run", LENET, "--threads", "1").output
    assert "forward pass (float32, seed 0, 1 thread):" in table
    assert "seed 0, 2 threads)" in cli("run", LENET, "--threads", "2").output
    spec = load_spec(LENET)
    one = run_forward(spec, dtype="float64", threads=1).output
    two = run_forward(spec, dtype="float64", threads=2).output
    np.testing.assert_allclose(one, two, rtol=1e-12, atol=1e-15)
    out = cli("run", LENET, "--threads", "0")
    assert out.exit_code == 2 and "'--threads': 0 is not in the range x>=1" in out.output
    with pytest.raises(SpecError, match="threads must be at least 1, got 0"):
        run_forward(spec, threads=0)


def test_run_command_files(tmp_path):
    weights, x, y = tmp_path / "w.npz", tmp_path / "x.npy", tmp_path / "y.npy"
    np.savez(weights, **lenet_weights())
    np.save(x, np.random.default_rng(1).standard_normal((3, 1, 32, 32)))
    out = cli(
        "run",
        LENET,
        "--weights",
        str(weights),
        "--input-data",
        str(x),
        "--save-output",
        str(y),
        "--dtype",
        "float64",
    )
    assert out.exit_code == 0, out.output
    saved = np.load(y)
    assert saved.shape == (3, 10) and saved.dtype == np.float64


@pytest.mark.parametrize(
    "args,message",
    [
        (["--weights", "missing.npz"], "error: missing.npz: no such file\n"),
        (["--input-data", "missing.npy"], "error: missing.npy: no such file\n"),
        (["--max-memory", "lots"], "error: --max-memory 'lots' is not a size\n"),
        (["--input", "1,1,28,28", "--input-data", "X"], None),
    ],
)
def test_run_command_unreadable_inputs_exit_2(tmp_path, args, message):
    if "X" in args:
        path = tmp_path / "x.npy"
        np.save(path, np.zeros((1, 1, 32, 32)))
        args = [str(path) if a == "X" else a for a in args]
        message = "error: --input 1,1,28,28 disagrees with --input-data of shape (1, 1, 32, 32)\n"
    out = cli("run", LENET, *args)
    assert out.exit_code == 2
    assert out.output.startswith(message)


def test_run_command_model_error_exits_1():
    out = cli("run", LENET64)
    assert out.exit_code == 1
    assert "error: layer 7 'fc1' (Linear): expects 400 input features, receives 2704" in out.output


def test_the_same_seed_gives_the_same_weights_in_both_dtypes():
    a = run_forward(load_spec(LENET), seed=5, dtype="float32")
    b = run_forward(load_spec(LENET), seed=5, dtype="float64")
    np.testing.assert_allclose(a.output, b.output, rtol=1e-4, atol=1e-6)


def _reuse_graph():
    """A Flatten view of a tensor that a later layer still reads, fed to element-wise layers
    that may write over their input: the view must not be overwritten."""
    from convcalc import spec_from_data

    return spec_from_data(
        {
            "input": [2, 3, 6, 6],
            "layers": [
                {
                    "type": "Conv2d",
                    "name": "conv",
                    "in_channels": 3,
                    "out_channels": 4,
                    "kernel_size": 3,
                },
                {"type": "BatchNorm2d", "name": "bn", "num_features": 4},
                {"type": "Flatten", "name": "flat"},
                {"type": "ReLU", "name": "relu"},
                {"type": "Tanh", "name": "tanh"},
                {"type": "GELU", "name": "gelu"},
                {"type": "Flatten", "name": "again", "from": "bn"},
                {"type": "Add", "name": "sum", "from": ["gelu", "again"]},
                {"type": "ReLU6", "name": "out"},
            ],
        }
    )


def test_element_wise_layers_write_over_dead_inputs_only(monkeypatch):
    from convcalc import forward

    spec = _reuse_graph()
    x = np.random.default_rng(5).standard_normal((2, 3, 6, 6)).astype(np.float32)
    before = x.copy()
    decisions = {}
    real = forward._reusable

    def spy(entry, *args):
        decisions[entry.name] = real(entry, *args)
        return decisions[entry.name]

    monkeypatch.setattr(forward, "_reusable", spy)
    result = run_forward(spec, input_data=x, seed=2)
    monkeypatch.setattr(forward, "_reusable", lambda *a: False)
    fresh = run_forward(spec, input_data=x, seed=2)
    np.testing.assert_array_equal(x, before)  # the caller's input is never written
    np.testing.assert_array_equal(result.output, fresh.output)
    assert result.verified
    # bn writes over conv's output; relu may not write over flat (a view of bn's output,
    # which "again" reads later); tanh, gelu and the last ReLU6 write over dead inputs
    assert decisions == {
        "conv": False,
        "bn": True,
        "flat": False,
        "relu": False,
        "tanh": True,
        "gelu": True,
        "again": False,
        "sum": False,
        "out": True,
    }


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_reuse_decisions(dtype):
    from convcalc import forward

    spec = _reuse_graph()
    last = budget.last_use(spec)
    a = np.zeros((2, 144), dtype=dtype)
    view = a.reshape(2, 4, 6, 6)
    relu, gelu = spec.layers[3], spec.layers[5]
    # relu reads "flat" (a view of bn's output, still needed): refused
    assert not forward._reusable(relu, 3, a, {"flat": a, "bn": view}, last, (2, 144))
    # once nothing else shares its memory: allowed
    assert forward._reusable(relu, 3, a, {"flat": a}, last, (2, 144))
    # a different output shape, a non-contiguous input or the caller's input: refused
    assert not forward._reusable(relu, 3, a, {"flat": a}, last, (2, 145))
    assert not forward._reusable(relu, 3, a[:, ::2], {"flat": a}, last, (2, 72))
    assert forward._reusable(gelu, 5, a, {"tanh": a}, last, (2, 144))
    conv = spec.layers[0]
    assert not forward._reusable(conv, 0, a, {"input": a}, last, (2, 144))


def test_a_run_keeps_no_temporaries_after_it_and_none_over_its_share_during_it(monkeypatch):
    from convcalc.kernels import Config
    from convcalc.kernels.memory import Scratch

    kept = []
    stores = set()
    real = Scratch.get

    def spy(self, purpose, shape, dtype):
        buf = real(self, purpose, shape, dtype)
        kept.append(self.largest())
        stores.add(self)
        return buf

    monkeypatch.setattr(Scratch, "get", spy)
    spec = load_spec(str(ROOT / "convcalc" / "models" / "zoo" / "resnet18.yaml"))
    limit = 64 << 20
    result = run_forward(spec, input_shape=(1, 3, 64, 64), max_memory=limit)
    assert result.verified
    assert kept and max(kept) <= limit // 16
    # one run's store, bounded by its share of the limit, emptied when the run ends
    assert len(stores) == 1 and [s.keep for s in stores] == [limit // 16]
    assert all(s.held() == 0 for s in stores)
    assert Config().scratch_keep == 16 << 20


def test_element_wise_work_split_between_threads_gives_the_same_numbers():
    from convcalc.kernels import Config

    spec = _reuse_graph()
    x = np.random.default_rng(6).standard_normal((2, 3, 6, 6))
    expected = run_forward(spec, input_data=x, seed=4, dtype="float64").output
    split = Config(threads=2, parallel_min=0)
    got = run_forward(spec, input_data=x, seed=4, dtype="float64", config=split).output
    np.testing.assert_array_equal(got, expected)


# ------------------------------------------------------------ inference folding
def _norm_weights(spec, rng):
    """Weights for every layer, the norms' running statistics and affine terms away from
    their defaults (so that a wrong fold shows)."""
    report = analyze(spec)
    weights = {}
    for entry, row in zip(spec.layers, report.rows):
        for suffix, value in entry.layer.init(row.input_shape, rng).items():
            if suffix == "running_var" or (suffix == "weight" and "Norm" in entry.type):
                value = rng.uniform(0.5, 1.5, value.shape)
            elif suffix in ("running_mean", "bias"):
                value = rng.uniform(-0.5, 0.5, value.shape)
            weights[f"{entry.name}.{suffix}"] = value
    return weights


FOLDABLE = [
    # (layers, input shape, the folded layers: index → the index it is folded into)
    (
        ["c=Conv2d(3, 8, 3, padding=1, bias=False)", "bn=BatchNorm2d(8)", "ReLU"],
        (2, 3, 12, 12),
        {1: 0},
    ),
    (["c=Conv2d(8, 8, 3, groups=8)", "bn=BatchNorm2d(8, affine=False)"], (1, 8, 12, 12), {1: 0}),
    (
        ["c=Conv2d(8, 16, 1, groups=4)", "bn=BatchNorm2d(16)", "bn2=BatchNorm2d(16)"],
        (1, 8, 9, 9),
        {1: 0},
    ),
    (["c=Conv1d(4, 6, 5, dilation=2)", "bn=BatchNorm1d(6)"], (3, 4, 40), {1: 0}),
    (["c=Conv3d(2, 4, 3)", "bn=BatchNorm3d(4)"], (1, 2, 6, 7, 8), {1: 0}),
    (
        ["c=Conv2d(3, 4, 3)", "n=InstanceNorm2d(4, track_running_stats=True)"],
        (2, 3, 10, 10),
        {1: 0},
    ),
    (
        ["c=Conv2d(3, 4, 3, padding=1, padding_mode='reflect')", "bn=BatchNorm2d(4)"],
        (2, 3, 9, 9),
        {1: 0},
    ),
    (["c=LazyConv2d(6, 3, stride=2, dilation=2)", "bn=LazyBatchNorm2d()"], (1, 3, 20, 20), {1: 0}),
    (["c=Conv2d(3, 4, 3)", "bn=SyncBatchNorm(4)"], (2, 3, 10, 10), {1: 0}),
    # transposed convolutions: the weights are (C_in, C_out/g, *k)
    (["c=ConvTranspose2d(3, 4, 3, stride=2)", "bn=BatchNorm2d(4)"], (1, 3, 9, 9), {1: 0}),
    (
        ["c=ConvTranspose2d(4, 6, 3, stride=2, groups=2, bias=False)", "bn=BatchNorm2d(6)"],
        (2, 4, 7, 7),
        {1: 0},
    ),
    (
        [
            "c=ConvTranspose1d(6, 9, 4, stride=3, groups=3, output_padding=1, dilation=2)",
            "bn=BatchNorm1d(9)",
        ],
        (2, 6, 11),
        {1: 0},
    ),
    (["c=ConvTranspose3d(2, 3, 2, stride=2)", "bn=BatchNorm3d(3)"], (1, 2, 3, 4, 5), {1: 0}),
    # Linear → BatchNorm1d on (N, features)
    (["l=Linear(5, 6)", "bn=BatchNorm1d(6)"], (64, 5), {1: 0}),
    (["l=Linear(5, 6, bias=False)", "bn=BatchNorm1d(6, affine=False)"], (64, 5), {1: 0}),
    # batch statistics (no running ones): nothing to fold
    (["c=Conv2d(3, 4, 3)", "bn=BatchNorm2d(4, track_running_stats=False)"], (2, 3, 10, 10), {}),
    (["c=Conv2d(3, 4, 3)", "n=InstanceNorm2d(4)"], (2, 3, 10, 10), {}),
    # not after a layer with per-channel outputs
    (["ReLU", "bn=BatchNorm2d(3)"], (1, 3, 8, 8), {}),
    # on (N, C, L), BatchNorm1d's channels are C, not the Linear's features
    (["l=Linear(5, 6)", "bn=BatchNorm1d(3)"], (40, 3, 5), {}),
    # unbatched: the convolution's channels are axis 0, the norm's axis 1 is the length
    (["c=Conv1d(4, 6, 3)", "bn=BatchNorm1d(18)"], (4, 20), {}),
    (["c=ConvTranspose1d(4, 6, 3)", "bn=BatchNorm1d(22)"], (4, 20), {}),
    # the weights outweigh the activations: folding would cost more than it saves
    (["c=Conv2d(64, 64, 3)", "bn=BatchNorm2d(64)"], (1, 64, 4, 4), {}),
]


@pytest.mark.parametrize("layers,shape,folds", FOLDABLE, ids=lambda v: str(v)[:40])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_folding_gives_the_unfolded_numbers(layers, shape, folds, dtype):
    spec = spec_from_strings(layers, shape)
    weights = _norm_weights(spec, np.random.default_rng(len(layers)))
    x = np.random.default_rng(1).standard_normal(shape)
    plain = run_forward(spec, weights=weights, input_data=x, dtype=dtype, fold=False)
    folded = run_forward(spec, weights=weights, input_data=x, dtype=dtype)
    assert {
        i: r.folded_into for i, r in enumerate(folded.layers) if r.folded_into is not None
    } == folds
    assert all(r.folded_into is None for r in plain.layers)
    tol = 1e-12 if dtype == "float64" else 1e-5
    scale = float(np.abs(plain.output).max())
    np.testing.assert_allclose(folded.output, plain.output, rtol=tol, atol=tol * scale)
    assert folded.verified and folded.output.dtype == np.dtype(dtype)


def test_repeats_make_folding_pay():
    """One pass over the weights against one over the activations per repeat."""
    spec = spec_from_strings(["c=Conv2d(16, 16, 3)", "bn=BatchNorm2d(16)"], (1, 16, 10, 10))
    # 2,320 weights and biases against 1,024 activations: folded from 5 repeats on
    assert run_forward(spec, repeat=4).layers[1].folded_into is None
    assert run_forward(spec, repeat=5).layers[1].folded_into == 0


def test_a_convolution_read_elsewhere_keeps_its_norm_apart(tmp_path):
    """The convolution's own output is needed by the Add: nothing may change it."""
    path = tmp_path / "net.yaml"
    path.write_text(
        "input: [1, 4, 16, 16]\n"
        "layers:\n"
        "  - c: Conv2d(4, 4, 3, padding=1)\n"
        "  - bn: BatchNorm2d(4)\n"
        "  - {type: Add, name: add, from: [bn, c]}\n"
    )
    spec = load_spec(str(path))
    weights = _norm_weights(spec, np.random.default_rng(0))
    result = run_forward(spec, weights=weights)
    assert [r.folded_into for r in result.layers] == [None, None, None]
    plain = run_forward(spec, weights=weights, fold=False)
    np.testing.assert_array_equal(result.output, plain.output)


def test_cli_shows_folded_layers_and_no_fold_runs_them(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text(
        "input: [1, 3, 32, 32]\n"
        "layers:\n"
        "  - c: Conv2d(3, 8, 3, padding=1, bias=False)\n"
        "  - bn: BatchNorm2d(8)\n"
    )
    table = cli("run", str(path)).output
    assert "in #0" in table
    assert "1 BatchNorm layer folded into the layer before" in table
    data = json.loads(cli("run", str(path), "-f", "json").stdout)
    assert [layer["folded_into"] for layer in data["layers"]] == [None, 0]
    csv_rows = cli("run", str(path), "-f", "csv").stdout.splitlines()
    assert csv_rows[0].split(",")[10] == "folded_into" and csv_rows[2].split(",")[10] == "0"
    apart = json.loads(cli("run", str(path), "--no-fold", "-f", "json").stdout)
    assert [layer["folded_into"] for layer in apart["layers"]] == [None, None]
    assert "folded" not in cli("run", str(path), "--no-fold").output


# ---------------------------------------------------------------- --compare
def _reference(tmp_path, change=None, name="ref.npy"):
    """LeNet's own float64 output on a fixed input (as torch's would be), maybe altered."""
    x = np.random.default_rng(5).standard_normal((3, 1, 32, 32))
    np.save(tmp_path / "x.npy", x)
    weights = lenet_weights()
    np.savez(tmp_path / "w.npz", **weights)
    ref = run_forward(load_spec(LENET), weights=weights, input_data=x, dtype="float64").output
    ref = ref if change is None else change(ref.copy())
    np.save(tmp_path / name, ref)
    return [
        "run",
        LENET,
        "--weights",
        str(tmp_path / "w.npz"),
        "--input-data",
        str(tmp_path / "x.npy"),
    ]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_compare_accepts_the_reference_within_the_dtypes_tolerance(tmp_path, dtype):
    args = _reference(tmp_path)
    out = cli(*args, "--dtype", dtype, "--compare", str(tmp_path / "ref.npy"), "-f", "json")
    assert out.exit_code == 0, out.output
    c = json.loads(out.stdout)["comparison"]
    assert c["match"] is True and c["reference_shape"] == c["output_shape"] == [3, 10]
    assert c["rtol"] == {"float32": 1e-4, "float64": 1e-9}[dtype]
    assert c["atol"] == pytest.approx(c["rtol"] * c["reference_scale"])
    assert c["max_abs_diff"] < {"float32": 1e-5, "float64": 1e-12}[dtype]
    text = cli(*args, "--dtype", dtype, "--compare", str(tmp_path / "ref.npy")).output
    assert "output vs reference: max abs diff" in text and "· matches" in text


def test_compare_fails_on_a_different_output_and_names_it(tmp_path):
    def nudge(ref):
        ref[1, 4] += 1e-3
        return ref

    args = _reference(tmp_path, nudge)
    out = cli(*args, "--compare", str(tmp_path / "ref.npy"))
    assert out.exit_code == 1
    assert "· DIFFERS" in out.output
    # a tolerance wide enough lets it pass: |diff| ≤ atol + rtol·|ref|
    assert cli(*args, "--compare", str(tmp_path / "ref.npy"), "--atol", "2e-3").exit_code == 0
    data = json.loads(cli(*args, "--compare", str(tmp_path / "ref.npy"), "-f", "json").stdout)
    assert data["verified"] is True and data["comparison"]["match"] is False
    assert data["comparison"]["max_abs_diff"] == pytest.approx(1e-3, rel=1e-2)


def test_compare_with_another_shape_fails_without_a_difference(tmp_path):
    args = _reference(tmp_path, lambda ref: ref[:2])
    out = cli(*args, "--compare", str(tmp_path / "ref.npy"), "-f", "json")
    assert out.exit_code == 1
    c = json.loads(out.stdout)["comparison"]
    assert (c["output_shape"], c["reference_shape"], c["max_abs_diff"]) == ([3, 10], [2, 10], None)
    text = cli(*args, "--compare", str(tmp_path / "ref.npy")).output
    assert "output vs reference: shape (3, 10), the reference's is (2, 10) · DIFFERS" in text


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--compare", "missing.npy"], "missing.npy: no such file"),
        (["--compare", "REF", "--rtol", "-1"], "--rtol must be a finite non-negative number"),
        (["--compare", "REF", "--atol", "nan"], "--atol must be a finite non-negative number"),
    ],
)
def test_compare_input_errors(tmp_path, extra, message):
    args = _reference(tmp_path)
    extra = [str(tmp_path / "ref.npy") if e == "REF" else e for e in extra]
    out = cli(*args, *extra)
    assert out.exit_code == 2 and message in out.output


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_random_input_is_drawn_in_pieces_with_the_same_values(dtype, monkeypatch):
    """The seeded input is drawn a piece at a time (a large one then costs its own bytes),
    and its values are exactly those of one draw of the whole tensor."""
    from convcalc import weights

    monkeypatch.setattr(weights, "DRAW_PIECE", 7)
    shape = (2, 3, 5, 4)  # 120 elements: 17 pieces, the last one short
    got = weights.standard_normal(np.random.default_rng([3, 1]), shape, np.dtype(dtype))
    whole = np.random.default_rng([3, 1]).standard_normal(shape).astype(dtype)
    assert got.dtype == np.dtype(dtype) and np.array_equal(got, whole)


@pytest.mark.parametrize("inplace", [False, True])
def test_an_in_place_activation_changes_what_other_branches_read_as_in_torch(inplace):
    """torch's ReLU(inplace=True) writes over its input: a branch that reads that tensor later
    (here the input, through the Identity that passes it on) gets the result."""
    from convcalc import spec_from_data

    x = np.array([[-2.0, -1.0, 0.5, 3.0]])
    data = {
        "input": [1, 4],
        "layers": [
            {"type": "Identity", "name": "same"},
            {"type": "ReLU", "name": "relu", "inplace": inplace},
            {"type": "Add", "name": "sum", "from": ["relu", "same"]},
        ],
    }
    result = run_forward(spec_from_data(data), input_data=x, dtype="float64")
    relu = np.maximum(x, 0)
    np.testing.assert_array_equal(result.output, 2 * relu if inplace else relu + x)


@pytest.mark.parametrize(
    "text,message",
    [
        ("1" * 20_000 + "x", "is not a size"),  # no backtracking: refused at once
        ("9" * 400, "is out of range: a size from 1 to 10^18"),  # beyond a float: inf
        ("1e999", "is out of range: a size from 1 to 10^18"),
        ("0.5", "is out of range: a size from 1 to 10^18"),
        ("", "is not a size"),
        ("1..5M", "is not a size"),
    ],
)
def test_parse_size_refuses_what_is_no_size_quickly(text, message):
    import time

    from convcalc.errors import SpecError

    start = time.perf_counter()
    with pytest.raises(SpecError) as info:
        parse_size(text)
    assert time.perf_counter() - start < 0.1
    assert message in info.value.message
    assert info.value.exit_code == 2
    assert len(info.value.message) < 120


def test_progress_counts_the_weights_bound_before_the_first_layer_runs(monkeypatch):
    """The progress callback moves while the weights are drawn (one step per layer), before
    any kernel runs: a large network's drawing is the run's first long step."""
    from convcalc.layers.conv import ConvNd

    spec = load_spec(LENET)
    steps = len(spec.layers)
    calls: list[tuple[int, int]] = []
    at_first_layer: list[list[tuple[int, int]]] = []
    real = ConvNd.forward
    monkeypatch.setattr(
        ConvNd, "forward", lambda *a, **k: at_first_layer.append(list(calls)) or real(*a, **k)
    )
    result = run_forward(spec, repeat=2, progress=lambda done, total: calls.append((done, total)))
    assert result.verified
    assert at_first_layer[0] == [(i, 3 * steps) for i in range(1, steps + 1)]
    assert calls == [(i, 3 * steps) for i in range(1, 3 * steps + 1)]
    # given weights are bound, and counted, the same way
    calls.clear()
    run_forward(spec, weights=lenet_weights(), progress=lambda d, t: calls.append((d, t)))
    assert calls == [(i, 2 * steps) for i in range(1, 2 * steps + 1)]


def test_progress_bar_shows_the_steps_once_the_run_lasts():
    """The bar appears from SHOW_PROGRESS_AFTER on (here the test passes its thread's delay at once),
    with the steps done so far; a run that ends before then shows none."""
    from convcalc.render import progress_bar

    assert progress_bar(False).__enter__() is None
    shown = progress_bar(True, after=3600.0)
    with shown as update:
        assert update is not None
        update(3, 10)
        assert shown.bar is None  # not yet
        shown.later(0.0)  # the bar's thread, its delay passed
        assert (shown.bar.tasks[0].completed, shown.bar.tasks[0].total) == (3, 10)
        update(7, 10)
        assert shown.bar.tasks[0].completed == 7
    assert shown.closed and not shown.bar.live.is_started
    quick = progress_bar(True, after=3600.0)
    with quick as update:
        update(1, 2)
    quick.later(0.0)  # the bar's thread, its delay passed after the run: nothing
    quick.show()
    assert quick.bar is None and quick.closed
