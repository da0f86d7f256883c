"""The default thread count: one thread per idle core, measured from the machine's idle time."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from convcalc import cores, load_spec
from convcalc.cores import Sample, idle_cores, threads_for
from convcalc.forward import run_forward

ROOT = Path(__file__).resolve().parents[2]
LENET = str(ROOT / "examples" / "lenet.yaml")


@pytest.mark.parametrize(
    "idle, cpus, most, expected",
    [
        (None, 2, 2, 2),  # not measured: the machine's cores, at most two
        (None, 1, 2, 1),
        (None, 8, 2, 2),
        (None, 8, 4, 4),
        (2.0, 2, 2, 2),  # an idle machine
        (1.8, 2, 2, 2),  # a fifth of a core taken (or the measure's tick error)
        (1.7, 2, 2, 2),  # a core counts as idle from 0.7 of it free
        (1.69, 2, 2, 1),
        (1.0, 2, 2, 1),  # a busy loop on one core
        (1.3, 2, 2, 1),
        (0.2, 2, 2, 1),  # every core busy: one thread still
        (0.0, 2, 2, 1),
        (7.5, 8, 2, 2),  # never more than `most`
        (2.9, 8, 4, 3),
        (3.0, 2, 4, 2),  # nor than the cores
        (0.5, 1, 2, 1),
    ],
)
def test_threads_for_one_thread_per_idle_core(idle, cpus, most, expected):
    assert threads_for(idle, cpus, most) == expected


@pytest.mark.parametrize(
    "before, after, expected",
    [
        # 2 cores idle for 0.2 s; the process drew weights on one of them for 0.2 s
        (Sample(10.0, 100.0, 1.0), Sample(10.2, 100.2, 1.2), 2.0),
        # the same with a busy loop on the other core
        (Sample(10.0, 100.0, 1.0), Sample(10.2, 100.0, 1.2), 1.0),
        # nothing of ours ran: the idle time alone
        (Sample(5.0, 40.0, 0.5), Sample(5.5, 40.75, 0.5), 1.5),
        # too short an interval to tell
        (Sample(10.0, 100.0, 1.0), Sample(10.03, 100.06, 1.0), None),
        (Sample(10.0, 100.0, 1.0), Sample(10.0, 100.0, 1.0), None),
        # a counter that went back (a CPU taken offline): never below nothing idle
        (Sample(10.0, 100.0, 1.0), Sample(10.2, 99.0, 1.0), 0.0),
    ],
)
def test_idle_cores_counts_idle_time_and_our_own_as_idle(before, after, expected):
    got = idle_cores(before, after)
    assert got == (None if expected is None else pytest.approx(expected))


def test_sample_reads_the_idle_ticks_of_the_allowed_cores(tmp_path):
    allowed = sorted(os.sched_getaffinity(0))
    tick = os.sysconf("SC_CLK_TCK")
    # cpuN user nice system idle iowait irq softirq steal ...
    lines = ["cpu  900 0 90 9000 30 0 0 0 0 0"]
    lines += [f"cpu{n} 100 0 10 {1000 + n} 5 0 0 0 0 0" for n in allowed]
    lines += [f"cpu{max(allowed) + 1} 100 0 10 777777 5 0 0 0 0 0", "intr 12345 0 1", "ctxt 99"]
    stat = tmp_path / "stat"
    stat.write_text("\n".join(lines) + "\n")
    got = cores.sample(str(stat))
    assert got is not None
    assert got.idle == pytest.approx(sum(1000 + n + 5 for n in allowed) / tick)
    assert got.own > 0 and got.time > 0
    assert cores.sample(str(tmp_path / "missing")) is None


def test_idle_since_waits_for_the_shortest_interval_only_when_asked():
    start = cores.sample()
    if start is None:
        pytest.skip("no /proc/stat here")
    measured = cores.idle_since(start, wait=True)
    assert measured is not None and 0 <= measured <= cores.cpu_count() + 0.5
    assert cores.idle_since(None, wait=True) is None


def _workers_seen(monkeypatch, idle, **options):
    from convcalc import kernels
    from convcalc.kernels import blas
    from convcalc.layers.conv import ConvNd

    found = blas.openblas()
    before = found.get_threads() if found else None
    seen = []
    real = ConvNd.forward

    def forward(self, *args, **kwargs):
        # ours, and BLAS's: held to one as well when the load asks for one
        workers = kernels.current().config.workers
        seen.append(workers)
        if found and before >= 2:
            assert found.get_threads() == (1 if workers == 1 else before)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(ConvNd, "forward", forward)
    monkeypatch.setattr(cores, "cpu_count", lambda: 2)
    asked = []
    monkeypatch.setattr(cores, "idle_since", lambda start, wait: asked.append(wait) or idle)
    result = run_forward(load_spec(LENET), **options)
    assert result.verified and result.threads == options.get("threads")
    # restored, and no run current once it is over
    assert (found.get_threads() if found else None) == before
    assert kernels.current().config == kernels.Config()
    return set(seen), asked


def test_a_run_with_default_threads_uses_one_per_idle_core(monkeypatch):
    if os.cpu_count() == 1:
        pytest.skip("one core: one thread whatever the load")
    from convcalc.kernels import config

    monkeypatch.setattr(config, "default_threads", lambda: 2)
    assert _workers_seen(monkeypatch, 1.0) == ({1}, [False])  # a busy core: one thread
    assert _workers_seen(monkeypatch, 2.0) == ({2}, [False])
    assert _workers_seen(monkeypatch, None) == ({2}, [False])
    # named threads are the caller's: no measure
    assert _workers_seen(monkeypatch, 1.0, threads=2) == ({2}, [])
    # a long run waits for a measure (LeNet: 0.4 M MACs)
    import convcalc.forward

    monkeypatch.setattr(convcalc.forward, "MEASURE_MIN_MACS", 1_000_000)
    assert _workers_seen(monkeypatch, 1.0, repeat=3) == ({1}, [True])
    assert _workers_seen(monkeypatch, 1.0, repeat=2) == ({1}, [False])


def test_the_command_line_measures_from_its_start_so_a_run_need_not_wait(monkeypatch):
    """`convcalc run` samples the idle time when it starts (before numpy loads) and hands the
    sample to the run, which measures since then: one sample, taken by the command line."""
    from clirun import run as cli

    marker = cores.Sample(time=0.0, idle=0.0, own=0.0)
    taken, given = [], []
    monkeypatch.setattr(cores, "sample", lambda *a: taken.append(1) or marker)
    monkeypatch.setattr(cores, "idle_since", lambda start, wait: given.append(start) or 2.0)
    assert cli("run", str(LENET)).exit_code == 0
    assert taken == [1] and given == [marker]
    assert cli("run", str(LENET), "--threads", "1").exit_code == 0
    assert taken == [1]  # a named thread count: nothing measured
