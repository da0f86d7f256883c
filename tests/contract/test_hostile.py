"""Hostile and careless input on the user-facing surfaces: the terminal table, the zoo by name,
analysis without an input shape, -q, print(model) text and the JSON errors.

The contract: exit 0, 1 or 2 for the user's input (3 only for a bug of ours), never a
traceback, one line per problem, bounded time and memory for whatever a file or flag says,
and with --format json a parseable JSON document for every outcome (no NaN: it is not JSON).
"""

from __future__ import annotations

import json
import math
import random
import re
import time
from pathlib import Path

import pytest
from clirun import run
from hypothesis import example, given, settings
from hypothesis import strategies as st

from convcalc import analyze, load_spec
from convcalc.errors import jsonable, number_text
from convcalc.layout import Column, cell_width, fit, lines
from convcalc.render import COLUMN_KEYS, to_text
from convcalc.table import merge_shapes
from convcalc.terminal import DROP_ORDER, terminal_table

ROOT = Path(__file__).resolve().parents[2]
ZOO = sorted((ROOT / "convcalc" / "models" / "zoo").glob("*.yaml"))
SOURCES = [
    *ZOO,
    *sorted((ROOT / "examples").glob("*.yaml")),
    ROOT / "examples" / "vgg16-features.txt",
]
FORMATS = ("table", "json", "markdown", "csv")
#: what stderr may hold after a failure: problems, each on one line, with their hints
PROBLEM_LINE = re.compile(r"(error: |  hint: |  at )")


def check_outcome(args: list[str]) -> dict[str, int]:
    """Run ``shape ARGS`` in every format and with -q; assert the contract; the exit codes."""
    codes = {}
    for fmt in FORMATS:
        result = run("shape", *args, "--format", fmt)
        codes[fmt] = result.exit_code
        assert result.exit_code in (0, 1, 2), (args, fmt, result.stderr)
        if fmt == "json":
            data = json.loads(result.stdout)
            json.dumps(data, allow_nan=False)  # no NaN or Infinity anywhere
            assert data["ok"] is (result.exit_code == 0)
            for error in data["errors"]:
                assert {"file", "line", "column", "defined_at", "expected", "got"} <= set(error)
        if fmt == "table" and result.exit_code:
            for line in result.stderr.splitlines():
                assert PROBLEM_LINE.match(line), (args, line)
    quick = run("shape", *args, "-q")
    codes["-q"] = quick.exit_code
    assert len(quick.stdout.splitlines()) <= 1, quick.stdout
    assert len(set(codes.values())) == 1, (args, codes)
    return codes


# ------------------------------------------------------------------ the fuzz loop
JUNK = [
    "(", ")", "[", "]", "{", "}", ":", ",", "-", " ", "\n", "0", "9" * 30, "-1", '"', "'", "#",
    "&a", "*a", "!!python/object", "\t", "\x00", "\x1b[31m", "漢", "🙂", "\u202e", "None",
    "1e999", ".nan", "(0-2): 3 x ", "Sequential(", "Conv2d(", "from: ", "repeat: 1000000",
    "0x" + "f" * 100, "2001-13-45", "!!int x",
]  # fmt: skip


def _mutate(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    for _ in range(rng.randint(1, 4)):
        if not lines:
            break
        i = rng.randrange(len(lines))
        op = rng.randrange(6)
        if op == 0:
            lines = lines[: rng.randrange(len(lines) + 1)]  # truncated
        elif op == 1:
            lines.insert(i, lines[i])  # a line twice
        elif op == 2:
            del lines[i]
        elif op == 3:
            j = rng.randrange(len(lines[i]) + 1)
            lines[i] = lines[i][:j] + rng.choice(JUNK) + lines[i][j:]
        elif op == 4 and lines[i]:
            j = rng.randrange(len(lines[i]))
            lines[i] = lines[i][:j] + lines[i][j + 1 :]
        else:
            k = rng.randrange(len(lines))
            lines[i], lines[k] = lines[k], lines[i]
    return "\n".join(lines)


def test_mutated_configs_and_printouts_keep_the_contract(tmp_path: Path) -> None:
    """Random damage to every shipped config and printout, for a few seconds: every outcome
    is an exit code of 0-2, the same in every format, valid JSON, one line per problem."""
    rng = random.Random(12)
    texts = {path: path.read_text() for path in SOURCES}
    deadline = time.monotonic() + 4
    cases = 0
    while time.monotonic() < deadline:
        source = rng.choice(SOURCES)
        path = tmp_path / f"case{cases}{source.suffix}"
        path.write_text(_mutate(texts[source], rng))
        extra = ["-i", "1,3,224,224"] if source.suffix == ".txt" else []
        start = time.monotonic()
        check_outcome([str(path), *extra])
        assert time.monotonic() - start < 10
        cases += 1
    assert cases >= 5


def test_the_terminal_table_at_every_width_and_choice_of_columns() -> None:
    """Widths 20-300 and random --columns: never an exception; from 80 columns up the default
    table fits; no figure is ever cut."""
    rng = random.Random(300)
    keys = ("name", "type", "from", "input", "output", "kernel", "params", "params%", "macs")
    for path in [ZOO[0], ROOT / "examples" / "lenet-64.yaml", *rng.sample(ZOO, 3)]:
        report = analyze(load_spec(str(path)))
        for width in range(20, 301, 7):
            columns = None if width % 2 else tuple(rng.sample(keys, rng.randint(1, len(keys))))
            lines = ["".join(t for t, _ in line) for line in terminal_table(report, width=width)]
            chosen = terminal_table(report, width=width, columns=columns)
            assert not any("…" in line for line in lines)
            assert chosen
            if width >= 80:
                assert max(cell_width(line) for line in lines) <= width, (path, width)


# ---------------------------------------------------------- names that move the cursor
@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("a\\e[31mred", "'a\\x1b[31mred' holds the control character '\\x1b'"),
        ("line\\nbreak", "'line\\nbreak' holds the control character '\\n'"),
        ("back\\rspace", "'back\\rspace' holds the control character '\\r'"),
        ("\\u202eevil", "'\\u202eevil' holds the control character '\\u202e'"),
        ("para\\u2028graph", "'para\\u2028graph' holds the control character '\\u2028'"),
    ],
)
def test_a_name_with_a_control_character_is_an_input_error(
    tmp_path: Path, name: str, shown: str
) -> None:
    path = tmp_path / "net.yaml"
    path.write_text(f'input: [1, 3, 8, 8]\nlayers:\n  - ReLU\n  - {{type: ReLU, name: "{name}"}}\n')
    result = run("shape", str(path))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: {path}:4, layers[1].name: layer name {shown}",
        "  hint: a name is printed in every table and message: use letters, digits, '_' and '-'",
    ]
    error = json.loads(run("shape", str(path), "-f", "json").stdout)["errors"][0]
    assert (error["line"], error["column"], error["argument"]) == (4, 18, "name")
    assert "\x1b" not in result.stderr and "\x1b" not in error["message"]


def test_a_model_name_with_a_control_character_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "net.yaml"
    path.write_text('name: "x\\e[2J"\ninput: [1, 3]\nlayers: [ReLU]\n')
    result = run("shape", str(path))
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        f"error: {path}:1: the model's name 'x\\x1b[2J' holds the control character '\\x1b'"
    )


def test_wide_and_combining_names_stay_one_aligned_line(tmp_path: Path) -> None:
    names = ["卷积层", "🙂", "naïve", "e\u0301", "zero\u200bwidth"]
    path = tmp_path / "net.yaml"
    layers = "".join(
        f"  - {{name: {n}, type: Conv2d, in_channels: 3, out_channels: 3, kernel_size: 1}}\n"
        for n in names
    )
    path.write_text("input: [1, 3, 4, 4]\nlayers:\n" + layers, encoding="utf-8")
    assert cell_width("zero\u200bwidth") == 9
    report = analyze(load_spec(str(path)))
    lines = ["".join(t for t, _ in line) for line in terminal_table(report, width=80)]
    rows = [line for line in lines if line[:1].isdigit()]
    assert len(rows) == 5
    assert len({cell_width(row[: row.index("Conv2d")]) for row in rows}) == 1


# ------------------------------------------------------------------- huge numbers
def test_a_yaml_control_character_is_one_line_with_its_place(tmp_path: Path) -> None:
    path = tmp_path / "net.yaml"
    path.write_text("input: [1, 3]\nlayers:\n  - Re\x1bLU\n")
    result = run("shape", str(path))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: {path}:3: invalid YAML: the character U+001B is not allowed in YAML",
        "  hint: remove the control character (or write it as an escape inside double quotes)",
    ]
    error = json.loads(run("shape", str(path), "-f", "json").stdout)["errors"][0]
    assert (error["file"], error["line"], error["column"]) == (str(path), 3, 7)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("9" * 5000, "cannot read '" + "9" * 59 + "…': too many digits"),
        ("2001-13-45", "cannot read '2001-13-45': month must be in 1..12"),
        ("0x" + "f" * 4000, "'0x" + "f" * 57 + "…' is a number beyond 2**256"),
        ("0b1" + "0" * 256, "'0b1" + "0" * 56 + "…' is a number beyond 2**256"),
    ],
)
def test_yaml_values_python_cannot_hold_are_input_errors(
    tmp_path: Path, value: str, message: str
) -> None:
    path = tmp_path / "net.yaml"
    path.write_text(f"input: [1, 3, 8, 8]\nlayers:\n  - {{type: Conv2d, in_channels: 3,\n"
                    f"     out_channels: {value}, kernel_size: 3}}\n")  # fmt: skip
    assert check_outcome([str(path)])["table"] == 2
    result = run("shape", str(path))
    assert result.stderr == f"error: {path}:4: invalid YAML: {message}\n"
    error = json.loads(run("shape", str(path), "-f", "json").stdout)["errors"][0]
    assert (error["line"], error["column"]) == (4, 20)


def test_an_integer_beyond_64_bits_is_named_by_its_value() -> None:
    result = run("shape", "-l", f"Conv2d(3, {2**64}, 3)", "-f", "json")
    assert result.exit_code == 2
    error = json.loads(result.stdout)["errors"][0]
    assert error["got"] == 2**64 and error["expected"] == "an integer within ±2**63"
    assert f"out_channels: {2**64} is beyond torch's 64-bit integers" in error["message"]


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ("1,3," + "9" * 5000, "input shape '1,3," + "9" * 55 + "…' has a size beyond torch's 64-bit integers"),
        ("1,3,9223372036854775808", "input shape (1, 3, 9223372036854775808) has a size beyond torch's 64-bit integers"),
        ("1,3,-" + "0" * 5000 + "8", "input shape (1, 3, -8) has a size below 1"),
    ],
)  # fmt: skip
def test_huge_input_sizes_are_input_errors(shape: str, message: str) -> None:
    result = run("shape", "-l", "ReLU", "-i", shape)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == f"error: --input: {message}"


@pytest.mark.parametrize(
    ("shape", "code"), [("1" + " " * 40_000 + "x", 2), ("1 , 3" + " " * 40_000 + "8", 0)]
)
def test_a_run_of_spaces_in_an_input_shape_reads_in_linear_time(shape: str, code: int) -> None:
    started = time.perf_counter()
    result = run("shape", "-l", "ReLU", "-i", shape, "-q")
    assert result.exit_code == code
    if code == 0:
        assert result.stdout == "model: (1, 3, 8) → (1, 3, 8) · params 0 · MACs 0\n"
    else:
        assert "is not a list of integers" in result.stderr
    assert time.perf_counter() - started < 5  # backtracking took minutes


def test_leading_zeros_do_not_count_as_digits() -> None:
    result = run("shape", "-l", "ReLU", "-i", "1,3," + "0" * 5000 + "8", "-q")
    assert result.stdout == "model: (1, 3, 8) → (1, 3, 8) · params 0 · MACs 0\n"


def test_block_arithmetic_cannot_grow_without_bound(tmp_path: Path) -> None:
    """Thirty blocks, each squaring its parameter for the next: 3**(2**29) would take minutes
    and gigabytes; it stops at the first number beyond 2**256."""
    lines = ["input: [1, 3, 8, 8]", "blocks:"]
    for i in range(30):
        inner = f'{{type: b{i + 1}, a: "$a * $a"}}' if i < 29 else "Conv2d(3, $a, 3)"
        lines += [f"  b{i}:", "    params: {a: null}", f"    layers: [{inner}]"]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join([*lines, "layers:", "  - {type: b0, a: 3}", ""]))
    start = time.monotonic()
    result = run("shape", str(path))
    assert time.monotonic() - start < 2
    assert result.exit_code == 2
    # 3 squared 8 times is 3**256 (406 bits): the eighth block's expression is the one
    assert result.stderr.splitlines()[0].endswith(
        "blocks.b7.layers[0]: cannot read '$a * $a': a number beyond 2**256"
    )


def _nested(depth: int) -> str:
    """Block b0 uses b1 twice, b1 uses b2 twice, …: 2**depth layers from a few lines."""
    lines = ["input: [1, 3, 8, 8]", "blocks:"]
    for i in range(depth):
        inner = f"[b{i + 1}, b{i + 1}]" if i < depth - 1 else "[ReLU, ReLU]"
        lines += [f"  b{i}:", f"    layers: {inner}"]
    return "\n".join([*lines, "layers: [b0]", ""])


LIMIT = "the limit of 50,000 layers in a model"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            "input: [1, 3, 8, 8]\nlayers:\n  - {type: ReLU, repeat: 1000001}\n",
            f"repeat: 1,000,001 of ReLU makes up to 1,000,001 layers, beyond {LIMIT}",
        ),
        (  # every copy left out: no layer made, but 10**18 entries to walk
            "input: [1, 3, 8, 8]\nblocks:\n  B:\n    layers:\n      - {type: ReLU, when: false}\n"
            "layers:\n  - {type: B, repeat: 1000000000000000000}\n",
            f"repeat: 1,000,000,000,000,000,000 of B makes up to 1,000,000,000,000,000,000 layers, beyond {LIMIT}",
        ),
        (_nested(20), f"block b0 expands to more than {LIMIT}"),
        (  # a count the block's parameter sets, checked once it is bound
            "input: [1, 3, 8, 8]\nblocks:\n  B:\n    params: {n: 2}\n    layers:\n"
            "      - {type: ReLU, repeat: $n}\nlayers:\n  - {type: B, repeat: 1000, n: 1000}\n",
            f"repeat: 1,000 of ReLU takes the model past {LIMIT} (50,000 before it)",
        ),
    ],
)  # fmt: skip
def test_an_expansion_past_the_layer_limit_is_refused_before_it_happens(
    tmp_path: Path, config: str, message: str
) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(config)
    start = time.monotonic()
    data = json.loads(run("shape", str(path), "-f", "json").stdout)
    assert time.monotonic() - start < 5  # 12 s and 700 MB, or never, when it expanded first
    (error,) = data["errors"]
    assert error["message"].endswith(": " + message)


def test_a_model_at_the_layer_limit_is_read() -> None:
    result = run(
        "shape", "-", "-q", input="input: [1, 3]\nlayers:\n  - {type: ReLU, repeat: 50000}\n"
    )
    assert result.exit_code == 0
    assert result.stdout == "model: (1, 3) → (1, 3) · params 0 · MACs 0\n"


def test_an_alias_bomb_is_refused_before_anything_walks_it(tmp_path: Path) -> None:
    """Nine anchors, each listing the one before ten times: 10**9 ReLUs in 1.5 KB."""
    lines = ["bomb:", "  a0: &a0 [ReLU, ReLU, ReLU, ReLU, ReLU, ReLU, ReLU, ReLU, ReLU, ReLU]"]
    lines += [f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join([*lines, "input: [1, 3, 8, 8]", "layers: *a8", ""]))
    start = time.monotonic()
    result = run("shape", str(path))
    assert time.monotonic() - start < 5
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        f"error: {path}:8: invalid YAML: this holds more than 4,000,000 values once its "
        "aliases (*name) are expanded, more than any model needs"
    )
    # aliases within reason are values like any other
    small = tmp_path / "small.yaml"
    small.write_text("relus: &r [ReLU, ReLU]\ninput: [1, 3]\nlayers: *r\n")
    assert run("shape", str(small), "-q").exit_code == 2  # 'relus' is no config key …
    small.write_text("input: &i [1, 3]\nlayers: [ReLU, {type: ReLU}]\n")
    assert run("shape", str(small), "-q").stdout == "model: (1, 3) → (1, 3) · params 0 · MACs 0\n"


def test_a_file_imported_from_many_places_is_read_once(tmp_path: Path, monkeypatch) -> None:
    """25 files, each importing the next twice: 2**24 reads when each import reads its file."""
    import convcalc.sources

    for i in range(25):
        imports = f"import: [f{i + 1}.yaml, f{i + 1}.yaml]\n" if i < 24 else ""
        (tmp_path / f"f{i}.yaml").write_text(f"{imports}blocks:\n  B{i}: [ReLU]\n")
    (tmp_path / "model.yaml").write_text("import: f0.yaml\ninput: [1, 3]\nlayers: [B0, B24]\n")
    reads: list[str] = []
    original = convcalc.sources.read_text
    monkeypatch.setattr(
        convcalc.sources, "read_text", lambda path: reads.append(path) or original(path)
    )
    result = run("shape", str(tmp_path / "model.yaml"), "-q")
    assert result.stdout == "model: (1, 3) → (1, 3) · params 0 · MACs 0\n"
    assert sorted(reads) == sorted(str(tmp_path / f"f{i}.yaml") for i in range(25)) + [
        str(tmp_path / "model.yaml")
    ]


def test_jsonable_keeps_json_valid() -> None:
    values = [(1, 2), b"\x00", math.nan, -math.inf, 10**5000, -(2**2000), {1, 2}, 2**64, 1.5]
    text = json.dumps([jsonable(v) for v in values], allow_nan=False)
    assert json.loads(text) == [
        [1, 2], "b'\\x00'", "nan", "-inf", "an integer of about 5,000 digits",
        "a negative integer of about 602 digits", "{1, 2}", 2**64, 1.5,
    ]  # fmt: skip
    assert number_text(2**1024) == "an integer of about 309 digits"  # 1.8e308
    assert number_text(2**1023) == str(2**1023)


# ------------------------------------------------------------------ wide merges
def _wide_concat(n: int, distinct: bool = False) -> str:
    lines = ["input: [1, 1, 4, 4]", "layers:"]
    for i in range(n):
        out = i % 3 + 1 if distinct else 1
        lines.append(f"  - {{name: b{i}, type: Conv2d, in_channels: 1, out_channels: {out}, "
                     "kernel_size: 1, from: input}")  # fmt: skip
    lines.append(
        "  - {name: cat, type: Concat, from: [" + ", ".join(f"b{i}" for i in range(n)) + "]}"
    )
    return "\n".join(lines) + "\n"


def test_a_wide_concat_lists_a_few_inputs_not_all(tmp_path: Path) -> None:
    """A 3,000-way Concat: its ``from`` and input cells list five and count the rest, so
    the table is not 3,000 rows each padded to a 20,000-character cell."""
    path = tmp_path / "cat.yaml"
    path.write_text(_wide_concat(3000, distinct=True))
    report = analyze(load_spec(str(path)))
    text = to_text(report)
    last = text.splitlines()[3003]
    assert "b0, b1, b2, b3, b4, … (3,000 in all)" in last
    # the inputs' shapes as on a terminal: the axis that differs, summed in place
    assert "(1, 1+2+3+1+2+… (3,000 in all), 4, 4)" in last
    assert len(text) < 3100 * 200
    lines = ["".join(t for t, _ in line) for line in terminal_table(report, width=None)]
    row = next(line for line in lines if " cat " in line)
    assert "#0 #1 #2 #3 #4 … (3,000 in all)" in row
    assert "(1, 1+2+3+1+2+… (3,000 in all), 4, 4)" in row
    assert max(map(len, lines)) < 300


def test_compact_shapes_of_many_distinct_inputs() -> None:
    shapes = [(1, i % 4 + 1, i) for i in range(1, 1001)]
    assert merge_shapes(shapes) == (
        "(1, 2, 1) + (1, 3, 2) + (1, 4, 3) + (1, 1, 4) + (1, 2, 5) + … (1,000 in all)"
    )
    assert merge_shapes([(1, 64, 8, 8), (1, 32, 8, 8), (1, 32, 8, 8)]) == "(1, 64+32×2, 8, 8)"


# -------------------------------------------------------------- zoo names and paths
@pytest.mark.parametrize(
    "name", ["../blocks", "../zoo/resnet50", "resnet50/", "/etc/passwd", "", ".", "blocks"]
)
def test_zoo_names_are_names_not_paths(name: str) -> None:
    result = run("zoo", name)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: {name!r} is not a built-in model\n")


# ------------------------------------------------------------- what never ends
@pytest.mark.parametrize("path", ["/dev/zero", "import"])
def test_a_file_that_never_ends_is_an_input_error(tmp_path: Path, path: str) -> None:
    if path == "import":
        config = tmp_path / "net.yaml"
        config.write_text("import: /dev/zero\ninput: [1, 3]\nlayers: [ReLU]\n")
        path = str(config)
    start = time.monotonic()
    result = run("shape", path)
    assert time.monotonic() - start < 5
    assert result.exit_code == 2
    if path == "/dev/zero":
        assert result.stderr == "error: /dev/zero: longer than 64 MiB, too long for a config\n"
    else:  # an import must be a regular file: it is not even opened
        assert result.stderr == (
            f"error: {path}:1: import '/dev/zero': /dev/zero is not a file\n  hint: import a YAML file\n"
        )


def test_a_bug_of_ours_is_json_too(monkeypatch) -> None:
    import importlib

    module = importlib.import_module("convcalc.analysis")

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(module, "analyze", broken)
    result = run("shape", "-l", "ReLU", "-i", "1,3", "-f", "json")
    assert result.exit_code == 3
    data = json.loads(result.stdout)
    assert data["ok"] is False
    assert [e["message"] for e in data["errors"]] == ["internal error: RuntimeError"]
    assert result.stderr.splitlines()[0] == "internal error: RuntimeError: boom"


def test_an_unknown_column_is_echoed_in_part() -> None:
    result = run("shape", "-l", "ReLU", "--columns", "name," + "x" * 100_000)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == "error: --columns: unknown column '" + "x" * 39 + "…'"


def test_unusual_names_in_a_pseudo_terminal(tmp_path: Path) -> None:
    """As a user sees it: wide, combining and zero-width characters in names, a failing
    layer; one line per layer, none wider than the terminal, nothing but colour escapes."""
    from test_terminal import ANSI, run_in_pty

    names = ["卷积层", "🙂", "e\u0301", "zero\u200bwidth", "末"]
    layers = "".join(
        f"  - {{name: {n}, type: Conv2d, in_channels: 3, out_channels: 3, kernel_size: {k}}}\n"
        for n, k in zip(names, [1, 1, 1, 1, 9], strict=True)
    )
    path = tmp_path / "net.yaml"
    path.write_text("input: [1, 3, 4, 4]\nlayers:\n" + layers, encoding="utf-8")
    out = run_in_pty(["shape", str(path)], 80)
    assert set(re.findall(r"\x1b\[[0-9;?]*([A-Za-z])", out)) <= {"m"}  # colour only
    lines = ANSI.sub("", out).replace("\r\n", "\n").splitlines()
    for i, name in enumerate(names):
        (row,) = [line for line in lines if line.startswith(f"{i} ")]
        assert name in row and "Conv2d" in row
    assert max(cell_width(line) for line in lines) <= 80


def test_bytes_that_are_not_utf8_on_the_command_line() -> None:
    """A command line is bytes: one that is not UTF-8 reaches Python as a lone surrogate.
    In a layer it is an input error, not a crash in the parser; in a path the JSON escapes it."""
    import subprocess
    import sys

    env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"}
    layer = subprocess.run(
        [sys.executable, "-m", "convcalc", "shape", "-l", b"\xff=ReLU", "-i", "1,2"],
        capture_output=True,
        env=env,
    )
    assert layer.returncode == 2
    assert layer.stderr.decode().splitlines()[0] == (
        "error: --layer '\\udcff=ReLU', layers[0]: cannot read '\\udcff=ReLU': it holds a "
        "character that is not text (a byte that is not UTF-8)"
    )
    path = subprocess.run(
        [sys.executable, "-m", "convcalc", "shape", b"\xff.yaml", "-f", "json"],
        capture_output=True,
        env=env,
    )
    assert path.returncode == 2
    error = json.loads(path.stdout.decode("utf-8"))["errors"][0]
    assert error["message"] == "\udcff.yaml: no such file"


def test_a_printout_name_with_an_escape_sequence_is_shown_escaped(tmp_path: Path) -> None:
    path = tmp_path / "model.txt"
    path.write_text("Sequential(\n  (a\x1b[31mb): ReLU()\n  (c): ReLU()\n)\n")
    result = run("shape", str(path), "-i", "1,3")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        f"error: {path}:2, a\\x1b[31mb: layer name 'a\\x1b[31mb' holds the control character '\\x1b'"
    )
    assert check_outcome([str(path), "-i", "1,3"])["json"] == 2


@pytest.mark.parametrize("settings", [{}, {"no_color": True}, {"color_system": None}])
def test_the_terminal_lines_print_as_rich_text_would(settings: dict) -> None:
    """print_rich writes segments, not a rich Text per line (four times faster on a long
    stack): byte for byte the same output, colour, NO_COLOR and a dumb terminal alike."""
    import io

    from rich.console import Console
    from rich.text import Text

    from convcalc.render import _Lines

    report = analyze(load_spec(str(ROOT / "examples" / "lenet-64.yaml")))
    lines = terminal_table(report, width=80)
    outputs = []
    for segments in (False, True):
        buffer = io.StringIO()
        console = Console(width=80, highlight=False, file=buffer, force_terminal=True, **settings)
        if segments:
            console.print(_Lines(lines), soft_wrap=True)
        for line in [] if segments else lines:
            text = Text()
            for part, style in line:
                text.append(part, style=style)
            console.print(text, soft_wrap=True)
        outputs.append(buffer.getvalue())
    assert outputs[0] == outputs[1]
    if not settings:
        assert "\x1b[1;31m" in outputs[1]  # the failing layer, in red


def test_a_file_wins_over_a_built_in_model_and_a_folder_does_not(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "resnet50").write_text("name: mine\ninput: [1, 3]\nlayers: [ReLU]\n")
    (tmp_path / "lenet5").mkdir()  # a folder of checkpoints, say
    assert run("shape", "resnet50", "-q").stdout == "mine: (1, 3) → (1, 3) · params 0 · MACs 0\n"
    assert run("shape", "lenet5", "-q").stdout.startswith(
        "lenet5: (1, 1, 32, 32) → (1, 10) · params 61,706"
    )
    (tmp_path / "other").mkdir()
    result = run("shape", "other")
    assert result.exit_code == 2
    assert result.stderr == "error: other: is a directory, not a YAML file\n"


def test_a_misspelt_block_gets_a_did_you_mean(tmp_path: Path) -> None:
    """A zoo model copied and edited: its blocks come from the built-in library."""
    text = run("zoo", "resnet18").stdout.replace(
        "type: BasicBlock, name: layer1", "type: BasicBlok, name: layer1"
    )
    path = tmp_path / "r18.yaml"
    path.write_text(text)
    result = run("shape", str(path))
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {path}:10, layers[4].type: unknown layer type 'BasicBlok'\n"
        "  hint: did you mean BasicBlock?\n"
    )


_TEXT = st.text(alphabet=st.sampled_from(list("ab 1.漢🙂é\u0301\u200b")), max_size=12)
_KEYS = ["#", *COLUMN_KEYS]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(_KEYS), _TEXT, st.lists(_TEXT, min_size=3, max_size=3), st.booleans()
        ),
        min_size=1,
        max_size=len(_KEYS),
        unique_by=lambda column: column[0],
    ),
    st.one_of(st.none(), st.integers(-5, 300)),
)
@example([("notes", "", ["", "", ""], False)], 80)  # nothing to show: no column, no gap
def test_fit_keeps_what_it_must_and_every_line_is_as_wide(columns, width) -> None:
    """Any cells (wide, combining, zero-width, empty: even no column left), any width: the
    columns never dropped stay, dropping stops once the table fits, and every line (the
    header too) is exactly the table's width."""
    given_columns = [Column(key, title, cells, right) for key, title, cells, right in columns]
    table = fit(given_columns, width, DROP_ORDER)
    kept = {c.key for c in table.columns}
    assert {c.key for c in given_columns if c.key not in DROP_ORDER and c.width} <= kept
    if width is not None and table.dropped:
        assert table.width <= width or not kept & set(DROP_ORDER)
    for cells in lines(table):
        assert sum(map(cell_width, cells)) == table.width


def test_the_plain_table_aligns_wide_characters(tmp_path: Path) -> None:
    path = tmp_path / "net.yaml"
    layers = "".join(
        f"  - {{name: {n}, type: Conv2d, in_channels: 3, out_channels: 3, kernel_size: 1}}\n"
        for n in ["卷积层", "🙂", "conv"]
    )
    path.write_text("input: [1, 3, 4, 4]\nlayers:\n" + layers, encoding="utf-8")
    lines = run("shape", str(path)).stdout.splitlines()
    assert lines[2:6] == [
        "#  name    type    input         output        params  MACs  notes",
        "0  卷积层  Conv2d  (1, 3, 4, 4)  (1, 3, 4, 4)      12   144",
        "1  🙂      Conv2d  (1, 3, 4, 4)  (1, 3, 4, 4)      12   144",
        "2  conv    Conv2d  (1, 3, 4, 4)  (1, 3, 4, 4)      12   144",
    ]


@pytest.mark.parametrize("value", ["!!bool maybe", "!!timestamp x", "!!int x", "!!float x"])
def test_a_tagged_value_pyyaml_cannot_build_is_an_input_error(tmp_path: Path, value: str) -> None:
    path = tmp_path / "net.yaml"
    path.write_text(
        f"input: [1, 3, 8, 8]\nlayers:\n  - {{type: Conv2d, out_channels: 4, kernel_size: 3, bias: {value}}}\n"
    )
    result = run("shape", str(path))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {path}:3: invalid YAML: cannot read ")
    assert "internal error" not in result.stderr


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("Conv2d(3, 6, 3, bias=1 < 'a')", "cannot compare 1 (int) with 'a' (str)"),
        ("Conv2d(3, 6, 3, bias=(1, 2) >= 3)", "cannot compare (1, 2) (tuple) with 3 (int)"),
        ("Conv2d(3, 6, " + "-" * 5000 + "3)", "the expression is nested more than 100 levels deep"),
        ("Conv2d(3, 6, " + "+".join(["1"] * 3000) + ")", "the expression is nested more than 100 levels deep"),
        ("Conv2d(3, 6, " + "(" * 101 + "3" + ",)" * 101 + ")", "the expression is nested more than 100 levels deep"),
        ("Conv2d(3, 6, 5, stride=1, stride=2)", "keyword argument 'stride' repeated"),
    ],
)  # fmt: skip
def test_expressions_python_would_refuse_are_input_errors(call: str, message: str) -> None:
    result = run("shape", "-i", "1,3,8,8", "-l", call, "--format", "json")
    assert result.exit_code == 2
    error = json.loads(result.stdout)["errors"][0]
    assert error["message"].endswith(message)
    assert len(error["message"]) < 300  # the call is echoed in part, not in full


def test_a_comparison_of_block_parameters_of_different_types_is_an_input_error(
    tmp_path: Path,
) -> None:
    path = tmp_path / "net.yaml"
    path.write_text(
        "input: [1, 3, 8, 8]\n"
        "blocks:\n"
        "  B:\n"
        "    params: {a: 1, b: x}\n"
        "    layers:\n"
        "      - {type: ReLU, when: '$a < $b'}\n"
        "layers:\n"
        "  - B(a=1, b='x')\n"
    )
    result = run("shape", str(path))
    assert result.exit_code == 2, result.output
    assert "cannot compare 1 (int) with 'x' (str)" in result.stderr


@pytest.mark.parametrize(
    ("args", "message", "argument"),
    [
        (["run", "--repeat", "0"], "Invalid value for '--repeat': 0 is not in the range 1<=x<=1000.", "--repeat"),
        (["shape", "--depth", "-1"], "Invalid value for '-d' / '--depth': -1 is not in the range x>=0.", "--depth"),
        (["run", "--dtype", "float16"], "Invalid value for '--dtype': 'float16' is not one of 'float32', 'float64'.", "--dtype"),
        (["run", "--seed", "-1"], "seed must be between 0 and 2**64 - 1, got -1", "seed"),
        (["run", "--max-memory", "1e999"], None, None),
    ],
)  # fmt: skip
@pytest.mark.parametrize("json_flag", [["--format", "json"], ["--format=json"], ["-f", "json"]])
def test_option_errors_are_json_when_json_is_asked(
    args: list[str], message: str | None, argument: str | None, json_flag: list[str]
) -> None:
    result = run(*args, "-i", "1,3,8,8", "-l", "ReLU", *json_flag)
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["layers"] == [] and len(data["errors"]) == 1
    if message is not None:
        assert data["errors"][0]["message"] == message
        assert data["errors"][0]["argument"] == argument


def test_save_output_writes_exactly_the_path_given(tmp_path: Path) -> None:
    import numpy as np

    folder = run("run", "-i", "1,3,8,8", "-l", "ReLU", "--save-output", str(tmp_path))
    assert folder.exit_code == 2
    assert folder.stderr.splitlines()[0] == f"error: {tmp_path}: is a folder"
    assert list(tmp_path.parent.glob(tmp_path.name + ".npy")) == []
    plain = run("run", "-i", "1,3,8,8", "-l", "ReLU", "--save-output", str(tmp_path / "out"))
    assert plain.exit_code == 0
    assert np.load(tmp_path / "out").shape == (1, 3, 8, 8)
    missing = run(
        "run",
        "-i",
        "1,3,8,8",
        "-l",
        "ReLU",
        "--save-output",
        str(tmp_path / "no" / "y.npy"),
        "-f",
        "json",
    )
    assert missing.exit_code == 2
    assert json.loads(missing.stdout)["errors"][0]["message"].endswith(
        "cannot write the output (No such file or directory)"
    )


def test_save_output_to_the_standard_output_is_refused_before_the_run(tmp_path: Path) -> None:
    """The report goes to standard output: an array saved there too would mix the two (a real
    process, whose standard output is a file that /dev/stdout names)."""
    import subprocess
    import sys

    report = tmp_path / "report.json"
    with open(report, "wb") as out:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "convcalc",
                "run",
                "lenet5",
                "--save-output",
                "/dev/stdout",
                "-f",
                "json",
            ],
            stdout=out,
            stderr=subprocess.PIPE,
            timeout=120,
            check=False,
        )
    assert done.returncode == 2
    (error,) = json.loads(report.read_text())["errors"]
    assert (
        error["message"]
        == "--save-output /dev/stdout: is the standard output, where the report goes"
    )
    assert error["argument"] == "save-output"


def test_standard_input_that_is_not_utf8_is_named_as_such() -> None:
    result = run("shape", "-", input=b"input: [1, 3, 8, 8]\nlayers: [ReLU()]  # \xff\xfe\n")
    assert result.exit_code == 2
    assert result.stderr == "error: <stdin>: not a text file (it is not UTF-8)\n"


def test_a_document_spelling_out_millions_of_values_is_refused_before_it_is_parsed(
    tmp_path: Path,
) -> None:
    """3,990,000 empty lists in 16 MB: 26 s and 4 GB to parse, under the alias limit."""
    path = tmp_path / "many.yaml"
    path.write_text("input: [1, 3]\nlayers: [ReLU]\nx: [" + ",".join(["[]"] * 3_990_000) + "]\n")
    start = time.monotonic()
    result = run("shape", str(path))
    assert time.monotonic() - start < 5
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        f"error: {path}: invalid YAML: the document spells out about 3,990,006 values, more than "
        "the 1,000,000 any model needs (a 50,000-layer model is about half a million)"
    )


@pytest.mark.parametrize(("command", "name"), [("zoo", "nope"), ("layers", "Nope2d")])
def test_an_unknown_name_in_zoo_or_layers_is_json_when_json_is_asked(
    command: str, name: str
) -> None:
    result = run(command, name, "-f", "json")
    assert result.exit_code == 2
    (error,) = json.loads(result.stdout)["errors"]
    assert name in error["message"]


@pytest.mark.parametrize("option", ["--rtol", "--atol"])
@pytest.mark.parametrize("value", ["inf", "1e999", "nan", "-1"])
def test_a_tolerance_must_be_a_finite_number(option: str, value: str) -> None:
    """An infinite tolerance would match anything, and JSON has no Infinity."""
    result = run("run", "-l", "ReLU", "-i", "1,3", option, value, "-f", "json")
    assert result.exit_code == 2
    message = json.loads(result.stdout)["errors"][0]["message"]
    assert message.startswith(f"{option} must be a finite non-negative number, got ")


def test_threads_beyond_the_cores_run_on_the_cores(monkeypatch) -> None:
    """torch.set_num_threads(64) on 2 cores oversubscribes them; a run holds to the cores."""
    from convcalc import cores, kernels, run_forward, spec_from_strings
    from convcalc.layers.conv import ConvNd

    seen: list[int] = []
    real = ConvNd.forward
    monkeypatch.setattr(cores, "cpu_count", lambda: 2)
    monkeypatch.setattr(
        ConvNd,
        "forward",
        lambda self, *a: seen.append(kernels.current().config.threads) or real(self, *a),
    )
    result = run_forward(spec_from_strings(["Conv2d(3, 4, 3)"], (1, 3, 8, 8)), threads=64)
    assert result.verified and seen == [2]
    assert result.threads == 2  # what it ran on, as JSON's "threads" and the footer say
