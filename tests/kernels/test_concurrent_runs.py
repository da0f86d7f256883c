"""A run's settings and state belong to it: two forward passes at once on two threads, with
different thread limits, each get their own results, as run one after the other."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import numpy as np
import pytest

from convcalc import load_spec
from convcalc.forward import run_forward
from convcalc.kernels import Config, Run, current, scratch, split_run

ROOT = Path(__file__).resolve().parents[2]
ZOO = ROOT / "convcalc" / "models" / "zoo"


def test_two_forward_passes_at_once_do_not_interfere():
    """ResNet-18 at one thread and MobileNetV2 at two, started together on two threads and
    repeated: each output is bit for bit the one it gives run alone."""
    jobs = {
        "resnet18": dict(threads=1, input_shape=(2, 3, 64, 64)),
        "mobilenet_v2": dict(threads=2, input_shape=(1, 3, 96, 96)),
    }
    specs = {name: load_spec(str(ZOO / f"{name}.yaml")) for name in jobs}
    alone = {
        name: run_forward(specs[name], dtype="float64", **kw).output for name, kw in jobs.items()
    }
    together: dict[str, list[np.ndarray]] = {name: [] for name in jobs}
    start = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            start.wait()
            for _ in range(2):
                result = run_forward(specs[name], dtype="float64", **jobs[name])
                together[name].append(result.output)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(name,)) for name in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for name, outputs in together.items():
        assert len(outputs) == 2
        for got in outputs:
            assert got is not None and np.array_equal(got, alone[name]), name


def test_a_run_is_current_in_its_thread_only():
    seen: dict[str, Config] = {}
    inside = threading.Event()
    done = threading.Event()

    def other() -> None:
        with Run(Config(threads=1, parallel_min=7)):
            seen["other"] = current().config
            inside.set()
            done.wait(5)

    t = threading.Thread(target=other)
    t.start()
    inside.wait(5)
    with Run(Config(threads=2)) as mine:
        seen["mine"] = current().config
        assert current() is mine
    done.set()
    t.join()
    assert seen["other"] == Config(threads=1, parallel_min=7)
    assert seen["mine"] == Config(threads=2)
    assert current().config == Config()


def test_worker_threads_see_the_run_that_started_them():
    """Layer code that asks for scratch on a worker thread gets its run's, not a fresh one."""
    runs = []
    with Run(Config(threads=2, parallel_min=1)) as run:

        def part(piece: slice) -> None:
            runs.append(current())
            scratch("test", (piece.stop - piece.start,), np.float32)

        split_run(part, 8, 1)
        assert len(runs) == 2 and all(r is run for r in runs)
        # kept by the run, per worker thread that ran a part (one or both)
        assert 1 <= len(run.scratch_kept.kept) <= 2 and run.scratch_kept.held() > 0
    assert run.scratch_kept.held() == 0


def test_the_configuration_is_frozen_and_its_threads_bounded():
    config = Config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.threads = 3  # type: ignore[misc]
    assert Config(threads=1).workers == 1
    assert Config(threads=8).workers == 2
    assert 1 <= Config().workers <= 2


def test_a_run_is_entered_once():
    run = Run()
    with run, pytest.raises(RuntimeError):
        run.__enter__()
