"""Fuzzing the contract: whatever a file, a flag or a weight file says, convcalc answers with an
exit code of 0, 1 or 2 (3 is a bug of ours, and fails here), never a traceback, JSON when JSON is
asked, and within a time bound.

Four generators: YAML documents built from the config's own vocabulary with hostile values,
constructor calls of every layer type with hostile arguments, option values, and damaged or
crafted weight files. Hypothesis draws them (derandomised, so CI sees the same cases every
time); ``CONVCALC_FUZZ_EXAMPLES=2000`` runs a larger budget outside CI.
"""

from __future__ import annotations

import json
import os
import signal
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from clirun import run
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from convcalc.layers import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
WEIGHTS = ROOT / "tests" / "fixtures" / "weightfiles"
EXAMPLES = int(os.environ.get("CONVCALC_FUZZ_EXAMPLES", "60"))
#: seconds one command may take, whatever it is given (they take well under one)
BOUND = 10.0

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


class _TooLong(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _TooLong


def check(args: list[str], stdin: str | bytes | None = None) -> int:
    """Run ``convcalc ARGS`` in JSON; assert the contract; the exit code. A command still
    running after BOUND seconds is stopped (a failure, not a hang of the suite)."""
    started = time.monotonic()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, BOUND)
    try:
        result = run(*args, "--format", "json", input=stdin)
    except _TooLong:
        raise AssertionError(f"still running after {BOUND} s: {args[:8]}") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    took = time.monotonic() - started
    assert result.exit_code in (0, 1, 2), (args[:6], result.stderr[-800:])
    assert "Traceback" not in result.stderr, (args[:6], result.stderr[-800:])
    data = json.loads(result.stdout)
    json.dumps(data, allow_nan=False)
    assert data["ok"] is (result.exit_code == 0) or args[0] == "run", (args[:6], data["errors"])
    assert took < BOUND, (args[:6], took)
    return result.exit_code


# ------------------------------------------------------------------ values
INTS = [0, 1, 2, 3, -1, -7, 2**31, 2**62, 2**63, 2**64, 10**30, 10**400]
HOSTILE = st.one_of(
    st.sampled_from(INTS),
    st.integers(-5, 40),
    st.sampled_from([0.5, -0.0, 1e300, 1e999, float("nan"), True, False, None]),
    st.sampled_from(["", "a", "same", "valid", "reflect", "zeros", "$x", "$x * $x", "1 < 'a'"]),
    st.sampled_from(["-" * 300 + "1", "+".join(["1"] * 400), "(" * 90 + "1" + ",)" * 90]),
    st.lists(st.integers(-2, 9), max_size=4).map(tuple),
)


def literal(value: Any) -> str:
    """``value`` as a user would write it in a call (the 400-digit integer included)."""
    if isinstance(value, float) and value != value:
        return "float('nan')"
    if isinstance(value, str) and value.startswith(("-", "+", "(", "$", "1 <")):
        return value  # an expression, written out
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 1000:
        return "9" * 400
    return repr(value)


@st.composite
def calls(draw: Any) -> str:
    """A constructor call of any registered type, arguments by position and by name."""
    cls = REGISTRY[draw(st.sampled_from(sorted(REGISTRY)))]
    names = [a.name for a in cls.ARGS]
    positional = draw(st.lists(HOSTILE, max_size=min(3, len(names))))
    chosen = draw(st.lists(st.sampled_from(names or ["x"]), max_size=3, unique=True))
    keywords = {k: draw(HOSTILE) for k in chosen}
    parts = [literal(v) for v in positional] + [f"{k}={literal(v)}" for k, v in keywords.items()]
    return f"{cls.type_name}({', '.join(parts)})"


SHAPES = st.sampled_from(
    ["1,3,8,8", "2,4,5,7", "1,3,16", "1,2,4,4,4", "3,8,8", "1,12", "1,0,8,8", "1,3,1,1"]
)


@FUZZ
@given(st.lists(calls(), min_size=1, max_size=3), SHAPES)
def test_constructor_calls_keep_the_contract(layers: list[str], shape: str) -> None:
    flags = [flag for call in layers for flag in ("-l", call)]
    if check(["shape", "-i", shape, *flags]) == 0:
        check(["run", "-i", shape, *flags, "--max-memory", "64M", "--threads", "1"])


# ------------------------------------------------------------------ YAML documents
KEYS = ["input", "layers", "blocks", "import", "params", "repeat", "when", "from", "name", "type"]
SCALARS = st.one_of(
    HOSTILE.map(lambda v: v if not isinstance(v, tuple) else list(v)),
    st.sampled_from(
        ["ReLU", "Conv2d(3, 6, 3)", "Linear(4, 2)", "B", "B(c=3)", "input", "*a", "&a x"]
    ),
    st.sampled_from(["!!int abc", "!!bool maybe", "!!python/object:os.system x", "!!binary AA=="]),
)


def _yaml(value: Any, depth: int = 0) -> str:
    """A YAML text of ``value`` in flow style (strings left unquoted where they are YAML)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml(v, depth + 1)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_yaml(v, depth + 1) for v in value) + "]"
    if isinstance(value, str):
        return value if value.startswith(("!!", "*", "&")) else json.dumps(value)
    if isinstance(value, float):
        return ".nan" if value != value else ".inf" if value == float("inf") else repr(value)
    return json.dumps(value)


documents = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(KEYS + ["c", "B", "x"]), inner, max_size=4),
    ),
    max_leaves=14,
)


@st.composite
def configs(draw: Any) -> str:
    top = {
        "input": draw(st.sampled_from([[1, 3, 8, 8], [1, 3, 16, 16], "1,3,8,8", [2**63], []])),
        "layers": draw(st.lists(st.one_of(SCALARS, documents), min_size=1, max_size=4)),
    }
    if draw(st.booleans()):
        top["blocks"] = {
            "B": {
                "params": draw(st.one_of(st.just({"c": 3}), documents)),
                "layers": draw(st.lists(documents, min_size=1, max_size=3)),
            }
        }
    text = "\n".join(f"{k}: {_yaml(v)}" for k, v in top.items()) + "\n"
    if draw(st.booleans()):  # an anchor and aliases of it, as a bomb starts
        text = "base: &a [ReLU, ReLU]\n" + text.replace('"*a"', "*a")
    return text


@FUZZ
@given(configs())
def test_yaml_documents_keep_the_contract(text: str) -> None:
    check(["shape", "-"], stdin=text)


# ------------------------------------------------------------------ option values
OPTION_VALUES = st.one_of(
    st.sampled_from(["0", "-1", "1e999", "nan", "", "1" * 5000 + "x", "9" * 30, "1M", "2G", "0.5"]),
    st.text(max_size=12),
)


@FUZZ
@given(
    st.sampled_from(["--max-memory", "--seed", "--repeat", "--threads", "--input", "--dtype", "--columns", "--depth"]),
    OPTION_VALUES,
)  # fmt: skip
def test_option_values_keep_the_contract(option: str, value: str) -> None:
    command = "shape" if option in ("--depth", "--columns") and len(value) % 2 else "run"
    args = [command, "-l", "Conv2d(3, 4, 3)", "-l", "ReLU"]
    if option != "--input":
        args += ["-i", "1,3,8,8"]
    check([*args, option, value])


# ------------------------------------------------------------------ weight files
NET_LAYERS = ["-i", "2,1,8,8", "-l", "Conv2d(1, 4, 3)"]


def _crafted_npz(path: Path, shape: tuple[int, ...], descr: str, data: bytes) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("0.weight.npy", "w") as f:
            header = {"descr": descr, "fortran_order": False, "shape": shape}
            np.lib.format.write_array_header_1_0(f, header)
            f.write(data)


@FUZZ
@given(
    st.sampled_from(["net.pt", "net.safetensors", "dtypes.npz", "views.pt", "broadcast.pt"]),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6),
    st.integers(0, 100),
)
# a multi-disk ZIP64 end record, on which the standard library's is_zipfile itself raises
@example(name="broadcast.pt", changes=[(20645, 1)], cut=0)
def test_damaged_weight_files_keep_the_contract(
    tmp_path_factory: Any, name: str, changes: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray((WEIGHTS / name).read_bytes())
    for at, byte in changes:
        data[at % len(data)] = byte
    path = tmp_path_factory.mktemp("w") / name
    path.write_bytes(bytes(data[: max(1, len(data) * (100 - cut) // 100)]))
    check(["run", *NET_LAYERS, "--weights", str(path), "--max-memory", "64M"])


@FUZZ
@given(
    st.lists(st.sampled_from([0, 1, 3, 4, 2**20, 2**31, 2**40]), min_size=0, max_size=4).map(tuple),
    st.sampled_from(["<f4", "<f8", ">f4", "|b1", "<c8", "<U3", "|V4"]),
    st.binary(max_size=64),
)
def test_crafted_npz_headers_keep_the_contract(
    tmp_path_factory: Any, shape: tuple[int, ...], descr: str, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("w") / "w.npz"
    _crafted_npz(path, shape, descr, data)
    check(["run", *NET_LAYERS, "--weights", str(path), "--max-memory", "64M"])


# ------------------------------------------------------------------ check over many files
PIN_VALUES = st.sampled_from(
    [
        "5M",
        "1.2G",
        "0",
        "-1",
        "1e999",
        "nan",
        "'x'",
        "[1, 2]",
        "{a: 1}",
        "9" * 400,
        "200MiB",
        "1" * 5000 + "k",
    ]
)


@st.composite
def pinned_configs(draw: Any) -> str:
    """A generated config with limits: and expect: blocks of hostile values appended."""
    text = draw(configs())
    for block, keys in (
        ("limits", ["params", "trainable_params", "macs", "peak_memory", "parms"]),
        ("expect", ["output_shape", "params", "trainable_params", "macs", "shape"]),
    ):
        if draw(st.booleans()):
            chosen = draw(st.lists(st.sampled_from(keys), max_size=3, unique=True))
            text += f"\n{block}:\n" + "".join(f"  {k}: {draw(PIN_VALUES)}\n" for k in chosen)
    return text


@FUZZ
@given(
    texts=st.lists(pinned_configs(), min_size=1, max_size=3),
    options=st.lists(st.sampled_from(["--strict", "--skip-foreign", "--max-params", "--max-peak-memory"]), max_size=2),
    value=PIN_VALUES,
)  # fmt: skip
def test_check_keeps_the_contract_over_many_files(
    texts: list[str], options: list[str], value: str, tmp_path_factory: Any
) -> None:
    folder = tmp_path_factory.mktemp("configs")
    for i, text in enumerate(texts):
        (folder / f"m{i}.yaml").write_text(text)
    args = ["check", str(folder)]
    for option in options:
        args += [option, value] if option.startswith("--max") else [option]
    started = time.monotonic()
    result = run(*args, "--format", "json")
    assert result.exit_code in (0, 1, 2), (args, result.stderr[-800:])
    assert "Traceback" not in result.stderr
    data = json.loads(result.stdout)
    if "files" in data:  # else an option could not be read: the error layout
        assert len(data["files"]) == len(texts)
        assert data["summary"]["exit_code"] == result.exit_code
        assert max(f["exit_code"] for f in data["files"]) == result.exit_code
    else:
        assert result.exit_code == 2 and data["errors"]
    assert time.monotonic() - started < BOUND * len(texts)
