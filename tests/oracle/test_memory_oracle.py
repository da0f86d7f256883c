"""The memory figures: the peak against an independent liveness simulation and against the
arrays a run in torch's eager manner really holds, on random graphs and the zoo; parameter and
buffer bytes against torch's own tensors at each dtype."""

from __future__ import annotations

import os
import random
from math import prod

import pytest
from test_graph_oracle import random_graph, to_data

from convcalc import analyze, load_spec, spec_from_data
from convcalc.forward import run_forward
from convcalc.liveness import DTYPE_BYTES
from convcalc.model import INPUT, Spec
from convcalc.report import Report


class _Tensor:
    """One allocation of the simulated eager pass."""

    def __init__(self, nbytes: int) -> None:
        self.nbytes = nbytes


def simulated_peak(spec: Spec, report: Report, itemsize: int) -> int:
    """The eager pass played step by step: names refer to tensor objects, a view or an in-place
    layer hands on its input's object, and after each layer the names no later layer reads
    are dropped; the peak is the most bytes of distinct objects referred to at once."""
    readers: dict[str, int] = {}
    for entry in spec.layers:
        for name in entry.inputs:
            readers[name] = readers.get(name, 0) + 1
    assert report.input_shape is not None
    live: dict[str, _Tensor] = {INPUT: _Tensor(prod(report.input_shape) * itemsize)}
    peak = live[INPUT].nbytes
    final = spec.layers[-1].name
    for entry, row in zip(spec.layers, report.rows):
        layer = entry.layer
        passes_on = len(entry.inputs) == 1 and (layer.SHARES_INPUT or layer.mutates_input())
        out = live[entry.inputs[0]] if passes_on else _Tensor(prod(row.output_shape) * itemsize)
        live[entry.name] = out
        peak = max(peak, sum(t.nbytes for t in {id(t): t for t in live.values()}.values()))
        for name in entry.inputs:
            readers[name] -= 1
            if readers[name] == 0 and name != final:
                live.pop(name, None)
        if readers.get(entry.name, 0) == 0 and entry.name != final:
            live.pop(entry.name)
    return peak


@pytest.mark.parametrize("seed", range(int(os.environ.get("CONVCALC_GRAPH_CASES", "100"))))
def test_the_peak_of_random_graphs(seed: int) -> None:
    rng = random.Random(1000 + seed)
    c = rng.choice([2, 3, 4])
    shape = (rng.randint(1, 2), c, rng.randint(3, 7), rng.randint(3, 7))
    spec = spec_from_data(to_data(random_graph(rng, c), shape))
    for dtype in ("float32", "float64"):
        report = analyze(spec, dtype=dtype)
        assert report.ok and report.memory is not None
        expected = simulated_peak(spec, report, DTYPE_BYTES[dtype])
        assert report.memory.peak_bytes == expected
        result = run_forward(spec, dtype=dtype, eager_memory=True, threads=1)
        assert result.verified and result.held_bytes == expected
        # with its own reuse a run holds no more than an eager pass would
        usual = run_forward(spec, dtype=dtype, threads=1)
        assert usual.held_bytes is not None and usual.held_bytes <= expected


@pytest.mark.parametrize(
    "name", ["lenet5", "resnet18", "mobilenet_v2", "densenet121", "googlenet", "unet_small"]
)
def test_the_peak_of_zoo_models_is_what_an_eager_run_holds(name: str) -> None:
    spec = load_spec(name)
    report = analyze(spec)
    result = run_forward(spec, eager_memory=True, threads=1)
    assert report.memory is not None
    assert result.held_bytes == report.memory.peak_bytes == simulated_peak(spec, report, 4)


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "lenet5", "squeezenet1_0"])
@pytest.mark.parametrize("dtype", ["float32", "float16", "float64", "bfloat16"])
def test_parameter_and_buffer_bytes_are_torchs(name: str, dtype: str) -> None:
    torch = pytest.importorskip("torch")
    from torch_bridge import TorchModel

    spec = load_spec(name)
    report = analyze(spec, dtype=dtype)
    model = TorchModel(torch, spec, report.input_shape, dtype=getattr(torch, dtype))
    modules = list(model.modules.values())
    params = sum(p.numel() * p.element_size() for m in modules for p in m.parameters())
    buffers = sum(b.numel() * b.element_size() for m in modules for b in m.buffers())
    assert report.memory is not None
    assert (report.memory.param_bytes, report.memory.buffer_bytes) == (params, buffers)
    outputs = sum(r.output_bytes for r in report.rows)
    assert report.memory.activation_bytes == outputs
