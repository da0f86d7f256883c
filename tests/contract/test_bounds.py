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
