"""The table on a terminal, as a user sees it: in a real pseudo-terminal (and in tmux when it is
installed) at 80, 100 and 200 columns every layer is one line, no figure is cut, no line is wider
than the terminal, and every figure shown is the Report's. Plus the layout's rules on their own:
the order columns are left out in, the tree of names, --columns and --wide."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import termios
import time
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from convcalc import analyze, load_spec
from convcalc.cli import cli
from convcalc.layout import Column, fit, tree_prefixes
from convcalc.render import COLUMN_KEYS, human
from convcalc.spec import spec_from_strings
from convcalc.table import merge_shapes, shape_text
from convcalc.terminal import DROP_ORDER, terminal_table

ROOT = Path(__file__).resolve().parents[2]
LENET = ROOT / "examples" / "lenet.yaml"
FAILING = ROOT / "examples" / "lenet-64.yaml"
RESNET50 = ROOT / "convcalc" / "models" / "zoo" / "resnet50.yaml"
DENSENET = ROOT / "convcalc" / "models" / "zoo" / "densenet121.yaml"
MODELS = [LENET, RESNET50, DENSENET, FAILING]
ZOO = sorted((ROOT / "convcalc" / "models" / "zoo").glob("*.yaml"))
WIDTHS = [80, 100, 200]
NEVER_DROPPED = {"#", "name", "output", "params", "macs"}
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
#: colour (not bold or dim): foreground or background, 8, 16, 256 colours or true colour
COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-7]|4[0-7]|9[0-7]|10[0-7]|38|48)[;m]")


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "TERM", "TTY_COMPATIBLE"}
    }
    env["TERM"] = "xterm-256color"
    env.update(extra)
    return env


def run_in_pty(args: list[str], width: int, env: dict[str, str] | None = None) -> str:
    """``python -m convcalc ARGS`` with a pseudo-terminal of ``width`` columns as its output
    (set as stty sets it); what it wrote, escape sequences included."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, width, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "convcalc", *args],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        env=env if env is not None else _env(),
        cwd=ROOT,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    proc.wait(timeout=60)
    return b"".join(chunks).decode().replace("\r\n", "\n")


def plain(text: str) -> list[str]:
    """The screen's lines as a terminal leaves them: a carriage return goes back to the line's
    start, ESC[nA moves up n lines and ESC[2K erases the line (as a finished progress bar does)."""
    screen: list[list[str]] = [[]]
    row = col = 0
    for token in re.split(r"(\n|\r|\x1b\[[0-9;?]*[A-Za-z])", text):
        if token == "\n":
            row, col = row + 1, 0
            screen.extend([] for _ in range(row + 1 - len(screen)))
        elif token == "\r":
            col = 0
        elif token.startswith("\x1b["):
            if token.endswith("A"):
                row = max(0, row - int(token[2:-1] or 1))
            elif token == "\x1b[2K":
                screen[row] = []
        else:
            line = screen[row]
            line.extend(" " * (col - len(line)))
            line[col : col + len(token)] = token
            col += len(token)
    return ["".join(line) for line in screen]


def check_screen(lines: list[str], path: Path, width: int, args: tuple[str, ...] = ()) -> None:
    """What a user sees: nothing cut or wider than the terminal, one line per layer in order,
    and each layer's output shape, parameters and MACs the Report's."""
    report = analyze(load_spec(path))
    assert not any("…" in line for line in lines)
    too_wide = [line for line in lines if len(line) > width]
    assert not too_wide, too_wide
    header = next(i for i, line in enumerate(lines) if re.match(r"\s*#\s+name\s", line))
    end = header + 1
    while end < len(lines) and lines[end].strip() and not lines[end].startswith("left out"):
        end += 1
    body = lines[header + 1 : end]
    indexed = [line for line in body if re.match(r"\s*\d+ ", line)]
    assert len(indexed) == len(report.rows)
    assert len(body) == len(report.view())  # one line per layer and per block, none wrapped
    failed = {e.index for e in report.errors}
    for row, line in zip(report.rows, indexed, strict=True):
        index, rest = line.split(maxsplit=1)
        assert int(index) == row.index
        # the name as shown (after the tree glyphs, before a footnote marker) ends the real one
        shown = rest.lstrip("│├└─ ").split()[0]
        assert row.name == shown or row.name.endswith("." + shown), (row.name, line)
        figures = (
            re.escape(shape_text(row.output_shape, row.index in failed))
            + r"\s+"
            + re.escape(human(row.params))
            + r"(\s+(<0\.1|\d+\.\d|—))?\s+"
            + re.escape(human(row.macs))
            + r"(\s+(<0\.1|\d+\.\d|—))?"
        )
        if "run" in args:
            figures += r"\s+✓\s+(\d+\.\d+ ms|in #\d+)"
        assert re.search(figures + "$", line), (figures, line)
    if report.errors:
        assert any(line.startswith("error: ") for line in lines)
        bad = indexed[report.errors[0].index]
        assert "✗" in bad


# ----------------------------------------------------------------- pty
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_in_a_pseudo_terminal(path: Path, width: int) -> None:
    out = run_in_pty(["shape", str(path)], width)
    check_screen(plain(out), path, width)
    assert COLOUR.search(out)  # a terminal gets colour


@pytest.mark.parametrize("path", ZOO, ids=lambda p: p.stem)
def test_every_zoo_model_fits_80_columns(path: Path) -> None:
    check_screen(plain(run_in_pty(["shape", str(path)], 80)), path, 80)


def test_columns_variable_sets_the_width() -> None:
    out = run_in_pty(["shape", str(RESNET50)], 200, _env(COLUMNS="80"))
    check_screen(plain(out), RESNET50, 80)
    assert max(len(line) for line in plain(out)) > 72  # the width is used, not just respected


@pytest.mark.parametrize("setting", [{"NO_COLOR": "1"}, {"TERM": "dumb"}])
def test_no_color_and_dumb_terminals_lose_colour_not_layout(setting: dict[str, str]) -> None:
    coloured = run_in_pty(["shape", str(FAILING)], 80)
    out = run_in_pty(["shape", str(FAILING)], 80, _env(**setting))
    assert not COLOUR.search(out)
    assert plain(out) == plain(coloured)
    check_screen(plain(out), FAILING, 80)


def test_colour_marks_the_error_and_the_rows_without_parameters() -> None:
    lines = run_in_pty(["shape", str(FAILING)], 100).split("\n")
    by_index = {ANSI.sub("", line).split()[0]: line for line in lines if ANSI.sub("", line).strip()}
    assert "\x1b[1;31m" in by_index["7"] and "✗" in by_index["7"]  # fc1 fails: red, marked
    assert "\x1b[2m" in by_index["1"]  # ReLU has no parameters: dim
    assert "\x1b[2m" not in by_index["0"]


def test_run_in_a_pseudo_terminal() -> None:
    out = plain(run_in_pty(["run", str(LENET)], 80))
    check_screen(out, LENET, 80, ("run",))
    assert any("verified" in line for line in out)


def test_a_pipe_keeps_the_plain_table() -> None:
    from convcalc.render import to_text

    report = analyze(load_spec(LENET))
    out = subprocess.run(
        [sys.executable, "-m", "convcalc", "shape", str(LENET)],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=ROOT,
    ).stdout
    assert out == to_text(report)


# ---------------------------------------------------------------- tmux
def _tmux_screen(args: list[str], width: int) -> list[str]:
    sock = f"convcalc-test-{uuid.uuid4().hex[:8]}"
    tmux = ["tmux", "-L", sock, "-f", "/dev/null"]
    command = " ".join(
        [
            sys.executable,
            "-m",
            "convcalc",
            *args,
            ";",
            *tmux,
            "wait-for",
            "-S",
            "done",
            ";",
            "sleep",
            "60",
        ]
    )
    env = _env()
    subprocess.run(
        [*tmux, "new-session", "-d", "-x", str(width), "-y", "50", "-c", str(ROOT), command],
        check=True,
        env=env,
    )
    try:
        subprocess.run([*tmux, "wait-for", "done"], check=True, timeout=60, env=env)
        time.sleep(0.05)
        screen = subprocess.run(
            [*tmux, "capture-pane", "-p", "-J", "-S", "-5000"],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        ).stdout
    finally:
        subprocess.run([*tmux, "kill-server"], env=env, capture_output=True)
    return screen.split("\n")


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_in_tmux(path: Path, width: int) -> None:
    # capture-pane -J joins lines the terminal wrapped: a wrapped row shows as too wide
    check_screen(_tmux_screen(["shape", str(path)], width), path, width)


# ------------------------------------------------------------- layout
def _columns(widths: dict[str, int]) -> list[Column]:
    return [Column(k, k[:1], ["x" * w], right=k in {"params", "macs"}) for k, w in widths.items()]


@pytest.mark.parametrize("width", range(20, 141, 3))
def test_columns_are_left_out_in_order(width: int) -> None:
    widths = {"#": 3, "name": 20, "type": 11, "from": 9, "input": 17, "output": 17}
    widths |= {"params": 8, "params%": 4, "macs": 8, "macs%": 4}
    table = fit(_columns(widths), width, DROP_ORDER)
    droppable = [k for k in DROP_ORDER if k in widths]
    assert list(table.dropped) == droppable[: len(table.dropped)]
    kept = [c.key for c in table.columns]
    assert kept == [k for k in widths if k not in table.dropped]  # order unchanged
    assert NEVER_DROPPED <= set(kept)
    essential = sum(widths[k] for k in NEVER_DROPPED) + 2 + 1 * 3
    if width >= essential:
        assert table.width <= width
    # nothing was left out that would have fit
    if table.dropped:
        last = table.dropped[-1]
        wider = fit(
            [c for c in _columns(widths) if c.key not in table.dropped or c.key == last],
            width,
            [],
        )
        assert wider.width > width


def test_wide_keeps_every_column() -> None:
    cols = _columns({"#": 3, "name": 50, "output": 17, "params": 8, "macs": 8, "macs%": 4})
    table = fit(cols, None, DROP_ORDER)
    assert [c.key for c in table.columns] == [c.key for c in cols] and not table.dropped


def test_two_spaces_between_figures_even_when_tight() -> None:
    cols = _columns({"#": 2, "name": 5, "params": 6, "macs": 6})
    assert fit(cols, 2 + 5 + 6 + 6 + 2 * 3, DROP_ORDER).gaps == [2, 2, 2]
    assert fit(cols, 2 + 5 + 6 + 6 + 1 + 1 + 2, DROP_ORDER).gaps == [1, 1, 2]


def test_tree_prefixes() -> None:
    levels = [0, 0, 1, 2, 2, 1, 2, 0, 1]
    assert tree_prefixes(levels) == [
        "", "", "├─ ", "│  ├─ ", "│  └─ ", "└─ ", "   └─ ", "", "└─ ",
    ]  # fmt: skip


def test_merge_inputs_in_little_room() -> None:
    same = ((1, 32, 56, 56),) * 7
    assert merge_shapes(same) == "(1, 32, 56, 56) ×7"
    channels = ((1, 64, 28, 28), (1, 128, 28, 28), (1, 32, 28, 28), (1, 32, 28, 28))
    assert merge_shapes(channels) == "(1, 64, 28, 28)".replace("64", "64+128+32×2")
    other = ((1, 3, 4, 4), (1, 3, 4, 4), (1, 2, 5, 5))
    assert merge_shapes(other) == "(1, 3, 4, 4) ×2 + (1, 2, 5, 5)"


@pytest.mark.parametrize("width", range(40, 221, 7))
@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_the_report_table_at_many_widths(path: Path, width: int) -> None:
    report = analyze(load_spec(path))
    lines = ["".join(text for text, _ in line) for line in terminal_table(report, width=width)]
    header = next(line for line in lines if line.lstrip().startswith("# "))
    start = next((i for i, line in enumerate(lines) if line.startswith("left out for")), None)
    left_out = ""
    if start is not None:  # the line, and its continuations where the width wrapped it
        end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith("    "))
        left_out = " ".join(line.strip() for line in lines[start:end])
    titles = {"MACs%": "macs%", "params%": "params%", "from": "from", "input": "input"}
    titles |= {"type": "type"}
    listed = left_out.removeprefix("left out for the width: ").split(" (--wide")[0]
    dropped = [titles[t] for t in listed.split(", ")] if left_out else []
    present = [k for k in DROP_ORDER if k in titles.values() and (k != "from" or report.branched)]
    assert dropped == present[: len(dropped)]
    for word in ("name", "output", "params", "MACs"):
        assert word in header.split()
    if width >= 80:
        assert max(len(line) for line in lines) <= width


# ------------------------------------------------------- --columns, --wide
def test_columns_choose_and_order_the_plain_table() -> None:
    result = CliRunner().invoke(cli, ["shape", str(LENET), "--columns", "name,kernel,macs,params"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[2].split() == ["#", "name", "kernel", "MACs", "params"]
    assert lines[3].split() == ["0", "conv1", "(6,", "1,", "5,", "5)", "117.60", "K", "156"]
    assert lines[4].split() == ["1", "1", "0", "0"]  # ReLU: no weight, no kernel


def test_columns_in_markdown_with_percentages() -> None:
    result = CliRunner().invoke(
        cli, ["shape", str(LENET), "-f", "markdown", "--columns", "params,params%,macs%"]
    )
    assert result.exit_code == 0
    assert "| # | params | params% | MACs% |" in result.output
    report = analyze(load_spec(LENET))
    fc1 = report.rows[7]
    share = 100 * fc1.params / report.totals.params
    assert (
        f"| 7 | 48.12 K | {share:.1f} | {100 * fc1.macs / report.totals.macs:.1f} |"
        in result.output
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name,mac%", "unknown column 'mac%'"),
        ("nmae", "unknown column 'nmae'"),
        ("name,kernal", "unknown column 'kernal'"),
        ("name,MACS,paramz", "unknown column 'paramz'"),
        ("name,name", "'name' is listed twice"),
        ("time", "unknown column 'time'"),  # a run's column
        (",", "no column named"),
    ],
)
def test_column_errors_are_input_errors(capfd, text: str, message: str) -> None:
    from convcalc.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["shape", str(LENET), "--columns", text])
    assert exit_info.value.code == 2
    err = capfd.readouterr().err
    assert f"error: --columns: {message}" in err


@pytest.mark.parametrize(
    ("text", "suggestion"), [("mac%", "macs%"), ("nmae", "name"), ("kernal", "kernel")]
)
def test_unknown_columns_get_a_did_you_mean(text: str, suggestion: str) -> None:
    from convcalc.errors import SpecError
    from convcalc.render import parse_columns

    with pytest.raises(SpecError) as info:
        parse_columns(text)
    assert info.value.hint is not None and info.value.hint.startswith(f"did you mean {suggestion}?")


def test_run_columns() -> None:
    result = CliRunner().invoke(cli, ["run", str(LENET), "--columns", "name,match,output"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[2].split() == ["#", "name", "match", "output"]
    assert lines[3].split() == ["0", "conv1", "✓", "(1,", "6,", "28,", "28)"]
    # the run's columns join a choice that leaves them out
    result = CliRunner().invoke(cli, ["run", str(LENET), "--columns", "name,notes"])
    assert result.output.splitlines()[2].split() == [
        "#",
        "name",
        "actual",
        "match",
        "time",
        "notes",
    ]


def _on_terminal(monkeypatch, width: int) -> None:
    import convcalc.cli

    monkeypatch.setattr(convcalc.cli.options, "is_terminal", lambda: True)
    monkeypatch.setenv("COLUMNS", str(width))


def test_wide_shows_every_column_past_the_width(monkeypatch) -> None:
    _on_terminal(monkeypatch, 80)
    narrow = CliRunner().invoke(cli, ["shape", str(RESNET50)]).output.splitlines()
    wide = CliRunner().invoke(cli, ["shape", str(RESNET50), "--wide"]).output.splitlines()
    assert max(map(len, narrow)) <= 80
    assert any(line.startswith("left out for the width: MACs%, params%") for line in narrow)
    assert "--wide shows every column" in "\n".join(narrow)
    assert max(map(len, wide)) > 80
    assert not any(line.startswith("left out") for line in wide)
    header = next(line for line in wide if line.lstrip().startswith("#"))
    assert header.split() == [
        "#",
        "name",
        "type",
        "from",
        "input",
        "output",
        "params",
        "%",
        "MACs",
        "%",
    ]


def test_columns_on_a_terminal(monkeypatch) -> None:
    _on_terminal(monkeypatch, 80)
    result = CliRunner().invoke(cli, ["shape", str(LENET), "--columns", "macs,kernel,name"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    header = next(line for line in lines if line.lstrip().startswith("#"))
    assert header.split() == ["#", "MACs", "kernel", "name"]
    conv1 = next(line for line in lines if line.split()[:1] == ["0"])
    assert conv1.split() == ["0", "117.60", "K", "(6,", "1,", "5,", "5)", "conv1"]


def test_notes_become_footnotes(monkeypatch) -> None:
    _on_terminal(monkeypatch, 80)
    report = analyze(load_spec(RESNET50))
    out = CliRunner().invoke(cli, ["shape", str(RESNET50)]).output.splitlines()
    notes = list(dict.fromkeys(n for r in report.rows for n in r.notes))
    for number, note in enumerate(notes, 1):
        assert f"[{number}] {note}" in out
    first = next(r for r in report.rows if r.notes)  # the first layer with a note gets [1]
    line = next(line for line in out if line.split()[:1] == [str(first.index)])
    assert f"{first.name.rsplit('.', 1)[-1]} [1]" in line


# ------------------------------------------------- kernel and trainable
@pytest.mark.parametrize(
    ("call", "shape"),
    [
        ("Conv2d(3, 8, 3, groups=1)", (1, 3, 8, 8)),
        ("Conv2d(8, 8, (3, 5), groups=4, bias=False)", (1, 8, 9, 9)),
        ("ConvTranspose2d(4, 6, 3, groups=2)", (1, 4, 5, 5)),
        ("Conv1d(2, 5, 4)", (1, 2, 10)),
        ("Linear(12, 7)", (2, 12)),
        ("BatchNorm2d(5)", (1, 5, 4, 4)),
        ("LayerNorm([4, 4])", (1, 3, 4, 4)),
        ("PReLU(3)", (1, 3, 4)),
        ("ReLU()", (1, 3, 4)),
        ("MaxPool2d(2)", (1, 3, 4, 4)),
    ],
)
def test_kernel_shape_is_torchs_weight_shape(call: str, shape: tuple[int, ...]) -> None:
    torch = pytest.importorskip("torch")
    module = eval(f"torch.nn.{call}", {"torch": torch})  # a fixed list of constructor calls above
    weight = getattr(module, "weight", None)
    expected = None if weight is None else tuple(weight.shape)
    row = analyze(spec_from_strings([call], shape)).rows[0]
    assert row.kernel_shape == expected


def test_trainable_in_json(tmp_path: Path) -> None:
    config = tmp_path / "net.yaml"
    config.write_text(
        "input: [1, 3, 8, 8]\nlayers:\n"
        "  - {type: Conv2d, name: frozen, in_channels: 3, out_channels: 4, kernel_size: 3, trainable: false}\n"
        "  - {type: Conv2d, name: tuned, in_channels: 4, out_channels: 4, kernel_size: 3}\n"
    )
    result = CliRunner().invoke(cli, ["shape", str(config), "-f", "json"])
    layers = json.loads(result.output)["layers"]
    assert [layer["trainable"] for layer in layers] == [False, True]
    assert json.loads(result.output)["totals"]["trainable_params"] == 4 * 4 * 9 + 4


def test_shares_are_percentages_of_the_totals() -> None:
    report = analyze(load_spec(LENET))
    params = [report.share(r)[0] for r in report.rows]
    macs = [report.share(r)[1] for r in report.rows]
    assert params[7] == pytest.approx(100 * 48120 / 61706)
    assert sum(params) == pytest.approx(100)
    assert sum(macs) == pytest.approx(100)


def test_keys_cover_the_documented_columns() -> None:
    assert COLUMN_KEYS == (
        "name", "type", "from", "input", "output", "kernel", "params", "params%", "macs", "macs%",
        "memory", "rf", "notes",
    )  # fmt: skip


def test_wide_characters_count_twice() -> None:
    from convcalc.layout import cell_width, lines

    assert cell_width("卷积层") == 6 and cell_width("conv") == 4 and cell_width("é") == 1
    table = fit(
        [Column("#", "#", ["0", "1"], right=True), Column("name", "name", ["卷积", "relu"])],
        80,
        DROP_ORDER,
    )
    assert ["".join(cells) for cells in lines(table)] == ["#  name", "0  卷积", "1  relu"]


def test_hostile_widths_and_names_do_not_break_the_layout() -> None:
    long = "x" * 150
    report = analyze(spec_from_strings([f"{long}=Conv2d(3, 4, 3)", "ReLU()"], (1, 3, 8, 8)))
    for width in (1, 10, 79, 80, 200, None):
        lines = ["".join(t for t, _ in line) for line in terminal_table(report, width=width)]
        row = next(line for line in lines if line.lstrip().startswith("0 "))
        assert long in row and "(1, 4, 6, 6)" in row  # never cut: wider than a narrow terminal


def test_unknown_figures_show_a_dash() -> None:
    from dataclasses import replace

    report = analyze(load_spec(LENET))
    rows = tuple(
        replace(
            r,
            input_shape=None,
            output_shape=None,
            macs=None,
            params=None if r.index == 7 else r.params,
        )
        for r in report.rows
    )
    unknown = replace(report, rows=rows, output_shape=None)
    lines = ["".join(t for t, _ in line) for line in terminal_table(unknown, width=80)]
    fc1 = next(line for line in lines if line.split()[:2] == ["7", "fc1"])
    conv1 = next(line for line in lines if line.split()[:2] == ["0", "conv1"])
    assert fc1.split()[2:] == ["Linear", "—", "—", "—", "—", "—", "—"]
    assert conv1.split()[2:5] == ["Conv2d", "—", "—"] and "156" in conv1


def test_without_an_input_no_share_columns_of_unknown_totals() -> None:
    """Without an input shape MACs have no total, so no MACs% column; params% only when every
    layer's parameters are fixed by its arguments."""
    from convcalc import spec_from_strings

    def header(layers: list[str]) -> list[str]:
        report = analyze(spec_from_strings(layers))
        text = ["".join(t for t, _ in line) for line in terminal_table(report, width=200)]
        return next(line for line in text if line.lstrip().startswith("#")).split()

    # and no shape columns, every shape being unknown
    assert header(["Conv2d(3, 64, 7, 2, 3)", "BatchNorm2d(64)"]) == [
        "#", "name", "type", "params", "%", "MACs",
    ]  # fmt: skip
    assert header(["Conv2d(3, 64, 7, 2, 3)", "BatchNorm2d"]) == [
        "#", "name", "type", "params", "MACs",
    ]  # fmt: skip


def test_wide_keeps_every_column_and_wraps_the_text_below_at_the_width() -> None:
    """--wide widens the table only: the totals and notes still wrap at the terminal's width."""
    report = analyze(load_spec(str(RESNET50)))
    for width in (60, 200):
        text = [
            "".join(t for t, _ in line) for line in terminal_table(report, width=width, wide=True)
        ]
        header = next(line for line in text if line.lstrip().startswith("#"))
        assert "from" in header.split() and "input" in header.split()
        below = text[text.index(next(line for line in text if line.startswith("params:"))) :]
        assert max(len(line) for line in below) <= width


# ------------------------------------------------- one row set, one shape text, one help
BLOCKS_DEMO = ROOT / "examples" / "blocks-demo.yaml"


def test_plain_and_terminal_tables_show_the_same_rows() -> None:
    """A run's plain table lists each block's row above its layers, as the terminal does,
    with its run cells empty (a block's layers ran one by one)."""
    from convcalc.forward import run_forward
    from convcalc.render import to_text

    result = run_forward(load_spec(str(BLOCKS_DEMO)))
    report = result.report
    plain = to_text(report, result).splitlines()[3 : 3 + len(report.view())]
    terminal = [
        "".join(t for t, _ in line)
        for line in terminal_table(report, result, width=None, columns=("name", "time"))
    ][3 : 3 + len(report.view())]
    assert [line.split()[0] for line in plain][:2] == ["stem", "0"]
    plain_names = [t[1] if t[0].isdigit() else t[0] for t in (line.split() for line in plain)]
    assert [r.name for r in report.view()] == plain_names
    shown = [line.lstrip(" 0123456789").lstrip("│├└─ ").split()[0] for line in terminal]
    assert [r.name.rsplit(".", 1)[-1] if r.path else r.name for r in report.view()] == [
        n.rsplit(".", 1)[-1] for n in shown
    ]
    block = plain[0].split()
    assert block[:2] == ["stem", "ConvBNReLU"] and block[-2:] == ["3", "layers"]
    assert "✓" not in plain[0] and "ms" not in plain[0]


def test_a_merges_inputs_read_the_same_in_every_table() -> None:
    from convcalc.spec import spec_from_data

    layers = ["Conv2d(3, 4, 1)", {"type": "Conv2d", "name": "b", "from": "input", "in_channels": 3,
              "out_channels": 8, "kernel_size": 1}, {"type": "Concat", "from": ["0", "b"]}]  # fmt: skip
    report = analyze(spec_from_data({"input": [1, 3, 5, 5], "layers": layers}))
    cat = report.rows[-1]
    assert shape_text(cat.input_shape) == merge_shapes(cat.input_shape) == "(1, 4+8, 5, 5)"
    from convcalc.render import to_text

    assert "(1, 4+8, 5, 5)" in to_text(report).splitlines()[-5]


def test_the_columns_help_lists_every_column_key() -> None:
    from convcalc.cli import COLUMNS_HELP
    from convcalc.render import RUN_KEYS

    listed = COLUMNS_HELP.split("from: ", 1)[1].split("; run adds ")
    assert [k.split(" (")[0] for k in listed[0].split(", ")] == list(COLUMN_KEYS)
    assert listed[1].rstrip(".").split(", ") == list(RUN_KEYS)
