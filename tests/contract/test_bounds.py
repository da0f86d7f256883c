"""Bounds that hold whatever the input asks for, measured on real processes: their CPU time
(user + system, from wait4, so that a loaded machine does not make them flaky) and, for
``run``, their peak resident memory against ``--max-memory`` + the baseline after imports +
64 MiB. Each case here once ran for seconds or minutes, or past its memory limit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from clirun import run

SLACK = 64 << 20


@dataclass(frozen=True)
class Outcome:
    code: int
    cpu: float
    peak: int
    stdout: str
    stderr: str


def measure(args: list[str], pass_fds: tuple[int, ...] = ()) -> Outcome:
    """``convcalc ARGS`` in a process of its own: exit code, CPU seconds, peak resident bytes."""
    code = "import sys; from convcalc.cli import main; main(sys.argv[1:])"
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", code, *args], stdout=out, stderr=err, pass_fds=pass_fds
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Outcome(
            proc.returncode,
            usage.ru_utime + usage.ru_stime,
            usage.ru_maxrss * 1024,  # KiB on Linux
            out.read().decode(),
            err.read().decode(),
        )


# ------------------------------------------------------------------ pipes
def test_a_named_pipe_nobody_writes_to_is_an_input_error(tmp_path: Path, monkeypatch) -> None:
    """Opening a FIFO waits for a writer, which may never come: the read stops after
    PIPE_WAIT seconds of silence (10 s; a fraction of a second here)."""
    from convcalc import sources

    monkeypatch.setattr(sources, "PIPE_WAIT", 0.3)
    path = tmp_path / "net.yaml"
    os.mkfifo(path)
    for command in (["shape"], ["run"], ["check"], ["diff", "lenet5"]):
        args = [command[0], str(path), *command[1:]]
        started = time.monotonic()
        result = run(*args, "-f", "json")
        assert time.monotonic() - started < 5
        assert result.exit_code == 2, (args, result.stdout)
        text = json.dumps(json.loads(result.stdout))
        assert f"{path}: a pipe that sent nothing for 0.3 s" in text
    result = run("shape", str(path))
    assert result.stderr.splitlines() == [
        f"error: {path}: a pipe that sent nothing for 0.3 s",
        "  hint: start what writes to it first, or save the config to a file",
    ]


def test_a_pipe_with_a_writer_is_read_as_a_file() -> None:
    """``convcalc shape <(cmd)``: the shell passes /dev/fd/N, a pipe whose writer is running;
    a writer that takes its time is waited for."""
    read, write = os.pipe()

    def writer() -> None:
        time.sleep(0.5)
        os.write(write, b"input: [1, 3, 8, 8]\n")
        time.sleep(0.5)
        os.write(write, b"layers:\n  - Conv2d(3, 4, 3)\n")
        os.close(write)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        outcome = measure(["shape", f"/dev/fd/{read}", "-q"], pass_fds=(read,))
    finally:
        thread.join()
        os.close(read)
    assert outcome.code == 0, outcome.stderr
    assert outcome.stdout == "model: (1, 3, 8, 8) → (1, 4, 6, 6) · params 112 · MACs 3.89 K\n"
    assert outcome.cpu < 2.5


def test_standard_input_is_still_read() -> None:
    result = run("shape", "-", "-q", input="input: [1, 3]\nlayers: [ReLU]\n")
    assert result.stdout == "model: (1, 3) → (1, 3) · params 0 · MACs 0\n"


# ------------------------------------------------------------------ work
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["-l", "Conv2d(8, 8, 255, padding=127)", "-i", "1,8,512,512"],
            "error: the run would take 1.09 T MACs of work, over the limit of 300.00 G (--max-work); the most in layer 0 '0' (Conv2d): 1.09 T, 100.0 %",
        ),
        (  # 3.2·10¹⁰ window elements: 14 s
            ["-l", "AvgPool1d(100000, stride=2)", "-i", "1,1,730958"],
            "error: the run would take 504.77 G MACs of work, over the limit of 300.00 G (--max-work); the most in layer 0 '0' (AvgPool1d): 504.77 G, 100.0 %",
        ),
        (  # 3.5·10¹⁰ window elements: 75 s
            ["-l", "LPPool1d(1, 100000, stride=16)", "-i", "1,1,5743592"],
            "error: the run would take 564.36 G MACs of work, over the limit of 300.00 G (--max-work); the most in layer 0 '0' (LPPool1d): 564.36 G, 100.0 %",
        ),
        (
            ["resnet18", "--repeat", "1000"],
            "error: the run would take 1.94 T MACs of work × 1,000 passes (--repeat), over the limit of 300.00 G (--max-work); the most in layer 0 'conv1' (Conv2d): 118.01 M a pass, 6.1 %",
        ),
        (
            # 62·62·8·27 = 830,304 MACs, and the ReLU's 16 × 30,752 element steps
            ["-l", "Conv2d(3, 8, 3)", "-l", "ReLU", "-i", "1,3,64,64", "--max-work", "1M"],
            "error: the run would take 1.32 M MACs of work, over the limit of 1.00 M (--max-work); the most in layer 0 '0' (Conv2d): 830.30 K, 62.8 %",
        ),
    ],
)  # fmt: skip
def test_a_run_that_asks_for_too_much_work_is_refused_before_computing(
    args: list[str], message: str
) -> None:
    """Within the memory limit, a convolution or a pooling can still ask for hours: the work
    of every pass is counted first (MACs; elements × window where a layer has none)."""
    outcome = measure(["run", *args, "--threads", "1"])
    assert outcome.code == 2, outcome.stderr
    assert outcome.stderr.splitlines()[0] == message
    assert outcome.stderr.splitlines()[1].startswith(
        "  hint: a limit of 300.00 G is about a minute on one core: to run it anyway, raise it (--max-work "
    )
    assert outcome.cpu < 2.5


def test_the_work_limit_is_json_when_json_is_asked() -> None:
    result = run("run", "-l", "ReLU", "-i", "1,3,8,8", "--max-work", "100", "-f", "json")
    assert result.exit_code == 2
    (error,) = json.loads(result.stdout)["errors"]
    assert (error["argument"], error["expected"], error["got"]) == ("max-work", 100, 3072)
    result = run("run", "-l", "ReLU", "-i", "1,3", "--max-work", "lots", "-f", "json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["errors"][0]["message"] == "--max-work 'lots' is not a count"


@pytest.mark.parametrize(
    ("call", "shape", "work"),
    [
        ("Conv2d(3, 8, 3)", (1, 3, 64, 64), 62 * 62 * 8 * 27),  # its MACs
        ("Linear(100, 10)", (4, 100), 16 * 400),  # 4,000 MACs, fewer than its 400 elements' steps
        ("Conv2d(8, 8, 3, groups=8)", (1, 8, 32, 32), 16 * 8 * 32 * 32),  # 9 MACs an element
        ("ReLU()", (2, 3, 5, 7), 16 * 210),
        ("MaxPool2d(3, stride=2)", (1, 4, 9, 9), 16 * 4 * 4 * 4 * 9),
        ("AvgPool1d(5, stride=1)", (1, 1, 10), 16 * 6 * 5),
        ("AdaptiveAvgPool2d((2, 3))", (1, 2, 7, 7), 16 * 2 * 6 * (5 * 4)),  # bins ⌈7/2⌉+1, ⌈7/3⌉+1
        ("Upsample(scale_factor=2, mode='bicubic')", (1, 1, 4, 4), 16 * 64 * 8),  # 4 taps, 2 axes
        ("Upsample(scale_factor=2)", (1, 1, 4, 4), 16 * 64 * 2),
        # a transposed convolution adds tap by tap: with one channel a group, each tap a pass
        # over the input and as many outputs (0.26 GMAC/s measured), 5 apiece
        (
            "ConvTranspose2d(2, 2, 63, dilation=2, groups=2)",
            (1, 2, 1169, 356),
            5 * 1169 * 356 * 63 * 63 * (2 + 2),
        ),
        ("ConvTranspose2d(512, 256, 4, 2, 1)", (1, 512, 4, 4), 16 * 512 * 256 * 16),  # its MACs
    ],
)
def test_the_work_of_a_layer(call: str, shape: tuple[int, ...], work: int) -> None:
    from convcalc import analyze, budget, spec_from_strings

    spec = spec_from_strings([call], shape)
    report = analyze(spec)
    assert budget.check_work(spec, report, 1, work) == work
    assert budget.check_work(spec, report, 3, 3 * work) == 3 * work
    with pytest.raises(Exception, match=r"over the limit of"):
        budget.check_work(spec, report, 1, work - 1)


# ------------------------------------------------------------------ long stacks
@pytest.fixture(scope="module")
def baseline() -> int:
    """A run of nothing: the interpreter, numpy and convcalc loaded."""
    outcome = measure(["run", "-i", "1,1", "-l", "Identity"])
    assert outcome.code == 0, outcome.stderr
    return outcome.peak


LONG = "input: [1, 3, 8, 8]\nlayers:\n  - {type: Conv2d, out_channels: 3, kernel_size: 1, repeat: 50000}\n"


def test_the_records_of_a_long_stack_count_against_the_memory_limit(
    tmp_path: Path, baseline: int
) -> None:
    """50,000 tiny convolutions under --max-memory 64M: their arrays are a few MB, their
    bookkeeping 130 MB (it ran to 224 MB); it is counted before the run, and refused."""
    path = tmp_path / "long.yaml"
    path.write_text(LONG)
    outcome = measure(["run", str(path), "--max-memory", "64M", "--threads", "1"])
    assert outcome.code == 2
    assert outcome.stderr.splitlines() == [
        "error: a run of 50,000 layers keeps about 244.14 MiB (256,000,000 bytes) of records "
        "(5 KiB a layer), over the memory limit of 64.00 MiB (67,108,864 bytes)",
        "  hint: raise --max-memory, or run a shorter stack",
    ]
    assert outcome.peak <= (64 << 20) + baseline + SLACK, outcome.peak >> 20
    assert outcome.cpu < 5


def test_a_long_run_within_its_limit_writes_its_json_as_it_goes(
    tmp_path: Path, baseline: int
) -> None:
    """The JSON of 50,000 layers is 21 MB: held as a list of dicts, then whole and encoded,
    it took 115 MB more than the CSV."""
    path = tmp_path / "long.yaml"
    path.write_text(LONG)
    outcome = measure(["run", str(path), "--max-memory", "256M", "--threads", "1", "-f", "json"])
    assert outcome.code == 0, outcome.stderr
    data = json.loads(outcome.stdout)
    assert data["verified"] and len(data["layers"]) == 50000
    assert data["layers"][-1]["actual_shape"] == [1, 3, 8, 8]
    assert outcome.peak <= (256 << 20) + baseline + SLACK, outcome.peak >> 20
    assert outcome.peak <= baseline + (160 << 20), outcome.peak >> 20  # 237 MB over it before


def test_a_config_too_large_to_parse_within_the_limit_is_refused_before_parsing(
    tmp_path: Path, baseline: int
) -> None:
    """50,000 layers each written out with a name and two inputs: PyYAML's nodes alone took
    250 MB, past --max-memory 64M before the run could count anything."""
    lines = ["input: [1, 3]", "layers:", "  - {name: l0, type: ReLU}"]
    lines += [f"  - {{name: l{i}, type: Add, from: [l{i - 1}, input]}}" for i in range(1, 50000)]
    path = tmp_path / "skip.yaml"
    path.write_text("\n".join(lines) + "\n")
    outcome = measure(["run", str(path), "--max-memory", "64M", "--eager-memory", "-f", "json"])
    assert outcome.code == 2
    (error,) = json.loads(outcome.stdout)["errors"]
    assert error["message"] == (
        f"{path}: the document spells out about 350,001 values: reading them takes about "
        "233 MiB, over the memory limit of 64 MiB"
    )
    assert error["hint"] == "raise --max-memory, or use repeat: and blocks: for long stacks"
    assert outcome.peak <= (64 << 20) + baseline + SLACK, outcome.peak >> 20
    assert outcome.cpu < 2.5
