"""--max-memory bounds what a run holds, not only each layer's output: the process's peak
resident memory stays within the limit plus its own baseline after imports plus 64 MiB, or the
run stops before allocating, naming what does not fit (the model input, the weights, a layer's
share) and by how much. Measured on real processes (their peak resident set, from wait4)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

SLACK = 64 << 20


def _peak(args: list[str]) -> tuple[int, int, str]:
    """(exit code, peak resident bytes, stderr) of ``convcalc ARGS`` in a process of its own."""
    code = "import sys; from convcalc.cli import main; main(sys.argv[1:])"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss * 1024, err  # ru_maxrss is in KiB on Linux


@pytest.fixture(scope="module")
def baseline() -> int:
    """A run of nothing: the interpreter, numpy and convcalc loaded."""
    code, peak, err = _peak(["run", "-i", "1,1", "-l", "Identity"])
    assert code == 0, err
    return peak


@pytest.mark.parametrize(
    "args",
    [
        ["resnet18", "--max-memory", "128M"],
        ["densenet121", "--max-memory", "160M"],
        ["-i", "1,64,512,512", "-l", "Conv2d(64, 64, 3, padding=1)", "-l", "ReLU", "--max-memory", "130M"],
        ["-i", "4,32,256,256", "-l", "Conv2d(32, 32, 3, padding=1, groups=32)", "-l", "BatchNorm2d(32)", "--max-memory", "96M"],
        ["-i", "1,32,128,128", "-l", "ConvTranspose2d(32, 16, 4, stride=2, padding=1)", "-l", "Softmax(1)", "--max-memory", "80M"],
        ["-i", "2,8,512,512", "-l", "Upsample(scale_factor=2, mode='bilinear')", "-l", "AvgPool2d(2)", "--max-memory", "200M"],
    ],
)  # fmt: skip
def test_a_run_that_fits_stays_within_its_limit(baseline: int, args: list[str]) -> None:
    code, peak, err = _peak(["run", *args])
    assert code == 0, err
    limit = {"M": 1 << 20}[args[-1][-1]] * int(args[-1][:-1])
    assert peak <= limit + baseline + SLACK, (peak >> 20, limit >> 20, baseline >> 20)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["-i", "1,1,24000,24000", "-l", "AdaptiveAvgPool2d(1)", "--max-memory", "64M"],
            "error: the run needs 2.15 GiB (2,304,005,120 bytes) before its first layer (the model input 2.15 GiB (2,304,000,000 bytes), the records of its 1 layer 5.00 KiB (5,120 bytes)), over the memory limit of 64.00 MiB (67,108,864 bytes)",
        ),
        (
            ["-i", "1,4096,8,8", "-l", "Conv2d(4096, 4096, 7, padding=3)", "--max-memory", "64M"],
            "error: the run needs 3.06 GiB (3,289,404,416 bytes) before its first layer (the weights 3.06 GiB (3,288,350,720 bytes), the model input 1.00 MiB (1,048,576 bytes), the records of its 1 layer 5.00 KiB (5,120 bytes)), over the memory limit of 64.00 MiB (67,108,864 bytes)",
        ),
        (
            ["-i", "1,1,100000,100000", "-l", "ReLU"],
            "error: the run needs 37.25 GiB (40,000,005,120 bytes) before its first layer (the model input 37.25 GiB (40,000,000,000 bytes), the records of its 1 layer 5.00 KiB (5,120 bytes)), over the memory limit of 1.00 GiB (1,073,741,824 bytes)",
        ),
        (
            ["-i", "1,64,512,512", "-l", "Conv2d(64, 64, 3, padding=1)", "-l", "Conv2d(64, 64, 3, padding=1)", "--max-memory", "150M"],
            "error: layer 1 '1' (Conv2d): needs 192.29 MiB (201,632,256 bytes) at this layer (its output (1, 64, 512, 512) 64.00 MiB (67,108,864 bytes), the outputs later layers read 64.00 MiB (67,108,864 bytes), the weights, input, loaded data and records 64.29 MiB (67,414,528 bytes)), over the memory limit of 150.00 MiB (157,286,400 bytes)",
        ),
    ],
)  # fmt: skip
def test_a_run_that_cannot_fit_stops_before_allocating(
    baseline: int, args: list[str], message: str
) -> None:
    code, peak, err = _peak(["run", *args])
    assert code == 1
    assert err.splitlines()[0] == message
    assert peak <= baseline + (8 << 20)  # nothing of it was allocated


def test_a_kernel_nearly_as_large_as_its_input_stays_within_the_limit(baseline: int) -> None:
    """Conv2d(1, 1, 511) on 512×512: four output positions, 261,121 taps; the flat column
    matrix of one row would be 512 MiB, the cropped one 4 MiB."""
    code, peak, err = _peak(
        [
            "run",
            "-i",
            "1,1,512,512",
            "-l",
            "Conv2d(1, 1, 511)",
            "--max-memory",
            "64M",
            "--threads",
            "1",
        ]
    )
    assert code == 0, err
    assert peak <= (64 << 20) + baseline + SLACK, peak >> 20


@pytest.mark.parametrize("kind", ["Avg", "Max"])
def test_adaptive_pooling_shrinks_before_it_grows(baseline: int, kind: str) -> None:
    """1×1,000,000 to 100×100: growing H first held 100×1,000,000 in between (1.2 GB)."""
    code, peak, err = _peak(
        [
            "run",
            "-i",
            "1,1,1,1000000",
            "-l",
            f"Adaptive{kind}Pool2d(100)",
            "--max-memory",
            "64M",
            "--threads",
            "1",
        ]
    )
    assert code == 0, err
    assert peak <= (64 << 20) + baseline + SLACK, peak >> 20


@pytest.mark.parametrize(
    ("shape", "layer"),
    [
        ("1,1,2", "ConvTranspose1d(1, 1, 1, stride=10000000)"),
        ("1,1,2,2", "ConvTranspose2d(1, 1, 1, stride=3000)"),
        ("1,1,1,1", "Conv2d(1, 1, 1000, stride=500, padding=100000)"),
        ("1,1,2,2", "ConvTranspose2d(1, 1, 1023)"),
        ("1,2,512,512", "Conv2d(2, 2, 511, groups=2)"),
        ("1,1,2000,2000", "Conv2d(1, 1, 1, stride=1000)"),
        ("1,1,1,1,1", "Conv3d(1, 1, 1, stride=1000, padding=3000, padding_mode='replicate')"),
        ("1,1,1,100,100", "Conv3d(1, 1, (1, 100, 100), padding=(0, 30, 30))"),
        ("1,4,1272,1", "ConvTranspose2d(4, 2, (6, 330), stride=(1, 3), groups=2)"),
        ("1,1,23", "ConvTranspose1d(1, 1, 3, stride=7, dilation=7000000)"),
        ("1,2,23,240", "ConvTranspose2d(2, 2, 3, stride=7, dilation=1000)"),
    ],
)
def test_little_work_in_a_huge_geometry_is_quick_and_small(
    baseline: int, shape: str, layer: str
) -> None:
    """A stride of 10⁷ (10⁷ phases for one tap), 201×201 windows over a padded input of
    200,001² of which 2×2 read the pixel, a 1023×1023 transposed kernel on 2×2, a grouped
    511×511 kernel: each a few million MACs at most, done in about the time and memory that
    takes (they took up to 40 s and 4 GB). A stride with a dilation of 7·10⁶ added its taps
    into the output in slabs of input rows, each slab's output as tall as the kernel's reach:
    a second output-sized array (206 MB under a 64M limit)."""
    start = time.monotonic()
    code, peak, err = _peak(
        ["run", "-i", shape, "-l", layer, "--max-memory", "64M", "--threads", "1"]
    )
    assert code == 0, err
    assert time.monotonic() - start < 10
    assert peak <= (64 << 20) + baseline + SLACK, peak >> 20


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        ("Upsample(size=(16000000,), mode='linear')", "1,1,8"),
        ("Upsample(size=(16000000,), mode='nearest')", "1,1,8"),
        ("Upsample(size=(4000, 4000), mode='bicubic')", "1,1,8,8"),
        ("Upsample(size=(4000, 4000), mode='area')", "1,1,8,8"),
        ("AdaptiveAvgPool2d(4000)", "1,1,8,8"),
        ("AdaptiveMaxPool2d(4000)", "1,1,8,8"),
        ("AdaptiveAvgPool1d(16000000)", "1,1,8"),
    ],
)
def test_resizing_to_a_large_output_keeps_its_temporaries_within_the_limit(
    baseline: int, layer: str, shape: str
) -> None:
    """A 61 MiB output from a tiny input: the taps, weights, gathers and intermediates of the
    whole output at once were 3-12 times its size (792 MB for the linear one); computed a
    block at a time, they stay within what is left of the limit."""
    code, peak, err = _peak(
        ["run", "-i", shape, "-l", layer, "--max-memory", "64M", "--threads", "1"]
    )
    assert code == 0, err
    assert peak <= (64 << 20) + baseline + SLACK, peak >> 20
