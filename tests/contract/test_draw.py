"""convcalc draw: the diagram's geometry read back from the SVG's coordinates (no two boxes
overlap, every edge leaves its source's bottom edge and reaches its target's top edge, no
edge crosses another box, one box per layer or collapsed block), Mermaid within GitHub's
limits, DOT's nodes and edges, the HTML page self-contained with the report's figures,
hostile names escaped in every format, and the command line."""

from __future__ import annotations

import bisect
import html
import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from clirun import run

from convcalc import analyze, load_spec
from convcalc.drawing import build, draw
from convcalc.drawing.mermaid import MAX_CHARS, MAX_EDGES, to_mermaid
from convcalc.model import INPUT
from convcalc.spec import spec_from_data

ROOT = Path(__file__).resolve().parents[2]
ZOO = sorted((ROOT / "convcalc" / "models" / "zoo").glob("*.yaml"))
EXAMPLES = [*sorted((ROOT / "examples").glob("*.yaml")), ROOT / "examples" / "vgg16-features.txt"]
SVG = "{http://www.w3.org/2000/svg}"
EPS = 0.05


def _ids(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def drawn(source: str | Path, fmt: str = "svg", depth: int | None = None):
    spec = load_spec(str(source))
    report = analyze(spec, receptive_fields=False)
    return spec, report, draw(report, spec, fmt, depth)


# ------------------------------------------------------------------ reading the SVG back
def geometry(svg_text: str):
    """``(boxes, edges)``: per node group its name, row and rectangle (x, y, w, h) in the
    document's coordinates; per edge its source, target and points."""
    root = ET.fromstring(svg_text)
    boxes, edges = {}, []
    for group in root.iter(f"{SVG}g"):
        if group.get("id") != "diagram":
            continue
        dx, dy = map(
            float,
            re.fullmatch(r"translate\(([-\d.]+),([-\d.]+)\)", group.get("transform")).groups(),
        )
        for g in group.iter(f"{SVG}g"):
            if "node" in (g.get("class") or "").split():
                rects = g.findall(f"{SVG}rect")
                assert len(rects) == 1, g.get("id")
                r = rects[0]
                box = (
                    float(r.get("x")) + dx,
                    float(r.get("y")) + dy,
                    float(r.get("width")),
                    float(r.get("height")),
                )
                boxes[g.get("id")] = (g.get("data-name"), g.get("data-row"), box)
        for p in group.iter(f"{SVG}path"):
            if p.get("class") == "edge":
                points = [
                    (float(x) + dx, float(y) + dy)
                    for x, y in re.findall(r"[ML]([-\d.]+),([-\d.]+)", p.get("d"))
                ]
                edges.append((p.get("data-from"), p.get("data-to"), points))
    return boxes, edges


def overlapping(boxes):
    """Pairs of boxes whose rectangles share some area."""
    items = sorted(boxes.items(), key=lambda kv: kv[1][2][1])
    found = []
    for i, (a, (_, _, (ax, ay, aw, ah))) in enumerate(items):
        for b, (_, _, (bx, by, bw, _)) in items[i + 1 :]:
            if by >= ay + ah:
                break
            if bx < ax + aw and ax < bx + bw:
                found.append((a, b))
    return found


def crosses(p, q, box, margin=0.5):
    """Whether segment p–q enters the rectangle (shrunk by ``margin``): Liang–Barsky."""
    x, y, w, h = box
    x0, y0, x1, y1 = x + margin, y + margin, x + w - margin, y + h - margin
    t0, t1 = 0.0, 1.0
    dx, dy = q[0] - p[0], q[1] - p[1]
    for d, lo, hi, start in ((dx, x0, x1, p[0]), (dy, y0, y1, p[1])):
        if abs(d) < 1e-12:
            if start < lo or start > hi:
                return False
            continue
        a, b = (lo - start) / d, (hi - start) / d
        a, b = min(a, b), max(a, b)
        t0, t1 = max(t0, a), min(t1, b)
        if t0 > t1:
            return False
    return True


def check_geometry(svg_text: str) -> tuple[dict, list]:
    boxes, edges = geometry(svg_text)
    assert overlapping(boxes) == []
    by_top = sorted((b[2][1], k) for k, b in boxes.items())
    tops = [t for t, _ in by_top]
    tallest = max(b[2][3] for b in boxes.values())
    for source, target, points in edges:
        sx, sy, sw, sh = boxes[source][2]
        tx, ty, tw, th = boxes[target][2]
        (x0, y0), (x1, y1) = points[0], points[-1]
        assert abs(y0 - (sy + sh)) < EPS and sx - EPS <= x0 <= sx + sw + EPS, (source, target)
        assert abs(y1 - ty) < EPS and tx - EPS <= x1 <= tx + tw + EPS, (source, target)
        for p, q in zip(points, points[1:]):
            low, high = min(p[1], q[1]), max(p[1], q[1])
            start = bisect.bisect_left(tops, low - tallest)
            for top, key in by_top[start:]:
                if top > high:
                    break
                if key not in (source, target):
                    assert not crosses(p, q, boxes[key][2]), (source, target, key, p, q)
    return boxes, edges


# ------------------------------------------------------------------ geometry
@pytest.mark.parametrize("source", ZOO + EXAMPLES, ids=_ids)
def test_every_layer_has_one_box_and_no_box_or_edge_is_in_the_way(source):
    _, report, drawing = drawn(source)
    boxes, edges = check_geometry(drawing.text)
    assert sorted(int(row) for _, row, _ in boxes.values() if row is not None) == [
        r.index for r in report.rows
    ]
    assert sorted(name for name, _, _ in boxes.values()) == sorted(
        [INPUT, *(r.name for r in report.rows)]
    )
    # an edge per distinct (source, target) of the graph's from
    by_name = {name: key for key, (name, _, _) in boxes.items()}
    expected = {(by_name[i], by_name[r.name]) for r in report.rows for i in r.inputs}
    assert sorted((a, b) for a, b, _ in edges) == sorted(expected)


@pytest.mark.parametrize("name", ["resnet50", "googlenet", "densenet121", "efficientnet_b0"])
@pytest.mark.parametrize("depth", [0, 1])
def test_collapsed_blocks_are_one_box_each(name, depth):
    _, report, drawing = drawn(name, depth=depth)
    boxes, edges = check_geometry(drawing.text)
    names = sorted(n for n, _, _ in boxes.values())
    kept = [r.name for r in report.rows if len(r.path) <= depth]
    blocks = {r.path[depth][0] for r in report.rows if len(r.path) > depth}
    assert names == sorted([INPUT, *kept, *blocks])
    assert len(blocks) > 0 or report.depth <= depth
    # an edge between two boxes exactly where some layer of one reads a layer of the other
    shown = {r.name: (r.path[depth][0] if len(r.path) > depth else r.name) for r in report.rows}
    shown[INPUT] = INPUT
    key = {n: k for k, (n, _, _) in boxes.items()}
    expected = {
        (key[shown[i]], key[shown[r.name]])
        for r in report.rows
        for i in r.inputs
        if shown[i] != shown[r.name]
    }
    assert {(a, b) for a, b, _ in edges} == expected


def test_a_failing_model_is_drawn_with_the_failure_red_and_the_rest_grey():
    _, report, drawing = drawn(ROOT / "examples" / "lenet-64.yaml")
    check_geometry(drawing.text)
    root = ET.fromstring(drawing.text)
    kinds = {
        g.get("data-name"): g.get("class").split()[1]
        for g in root.iter(f"{SVG}g")
        if "node" in (g.get("class") or "").split()
    }
    failing = report.errors[0].index
    assert kinds["fc1"] == "failed" and failing == 7
    assert [kinds[r.name] for r in report.rows[failing + 1 :]] == ["after"] * 4
    assert all(kinds[r.name] in ("ok", "light") for r in report.rows[:failing])
    texts = re.sub(r"\s+", "", "".join(root.itertext()))
    assert re.sub(r"\s+", "", report.errors[0].message) in texts


def test_the_shades_follow_the_share_of_macs():
    spec, report, drawing = drawn(ROOT / "examples" / "lenet.yaml")
    root = ET.fromstring(drawing.text)
    fills = {
        g.get("data-name"): g.find(f"{SVG}rect").get("fill")
        for g in root.iter(f"{SVG}g")
        if "node" in (g.get("class") or "").split()
    }
    from convcalc.drawing.svg import SHADES

    level = {name: SHADES.index(fill) for name, fill in fills.items() if fill in SHADES}
    # conv2 holds 240,000 of 416,520 MACs, the most: the darkest; a ReLU none: the lightest
    assert level["conv2"] == len(SHADES) - 1
    assert level["conv1"] < level["conv2"] and level["fc3"] < level["fc1"] < level["conv1"]
    assert {level[r.name] for r in report.rows if r.macs == 0} == {0}


def test_a_model_without_an_input_shape_is_drawn_with_unknown_shapes():
    result = run("draw", "-l", "Conv2d(3, 8, 3)", "-l", "ReLU")
    assert result.exit_code == 0
    boxes, edges = check_geometry(result.stdout)
    assert len(boxes) == 3 and len(edges) == 2
    texts = [t.text for t in ET.fromstring(result.stdout).iter(f"{SVG}text")]
    assert (
        "params 224 · MACs —" in texts and texts.count("—") == 3
    )  # the shapes of the input, Conv2d and ReLU


def _chain(n: int) -> dict:
    return {"name": "chain", "input": [1, 2, 4, 4], "layers": ["ReLU"] * n}


def test_a_long_chain_and_a_wide_layer_are_laid_out_in_bounded_time():
    import time

    spec = spec_from_data(_chain(50_000))
    report = analyze(spec, receptive_fields=False)
    start = time.perf_counter()
    text = draw(report, spec, "svg").text
    assert time.perf_counter() - start < 60
    assert text.count('class="edge"') == 50_000
    wide = {"input": [1, 2, 4, 4], "layers": [{"type": "ReLU", "from": "input"}] * 800}
    spec = spec_from_data(wide)
    boxes, edges = check_geometry(draw(analyze(spec), spec, "svg").text)
    assert len(boxes) == 801 and len(edges) == 800


def test_edges_that_would_pass_too_many_layers_are_refused_with_a_way_out():
    layers = [
        {"type": "Add", "name": f"a{i}", "from": ["input", f"a{i - 1}" if i else "input"]}
        for i in range(1000)
    ]
    result = run("draw", "-", input=json.dumps({"input": [1, 2, 4, 4], "layers": layers}))
    assert result.exit_code == 2
    assert "too many long edges to lay out" in result.output
    assert "--depth" in result.output
    # the text formats need no layout
    ok = run("draw", "-", "-f", "dot", input=json.dumps({"input": [1, 2, 4, 4], "layers": layers}))
    assert ok.exit_code == 0 and ok.output.count(" -> ") == 1999


def test_branches_stand_side_by_side_a_merge_under_them_and_a_chain_in_one_column():
    from convcalc.drawing.layered import Spacing, lay_out

    # a → b, a → c, b → d, c → d, d → e: a diamond and a tail
    sizes = [(100.0, 40.0), (120.0, 40.0), (80.0, 40.0), (100.0, 50.0), (60.0, 40.0)]
    placed = lay_out(sizes, [(0, 1), (0, 2), (1, 3), (2, 3), (3, 4)])
    centre = [x + w / 2 for x, _, w, _ in placed.boxes]
    top = [y for _, y, _, _ in placed.boxes]
    assert placed.layers == (0, 1, 1, 2, 3)
    assert top[1] == top[2] and top[0] < top[1] < top[3] < top[4]
    gap = Spacing().box_gap
    assert centre[2] - centre[1] == pytest.approx((120 + 80) / 2 + gap)  # side by side
    assert centre[0] == pytest.approx((centre[1] + centre[2]) / 2)  # over its branches
    assert centre[3] == pytest.approx((centre[1] + centre[2]) / 2)  # under them
    assert centre[4] == pytest.approx(centre[3])  # a chain goes straight down
    assert top[4] - (top[3] + 50) == Spacing().layer_gap
    # a skip connection (0 → 3 past 1 and 2) goes round the boxes it skips
    chain = lay_out([(100.0, 40.0)] * 4, [(0, 1), (1, 2), (2, 3), (0, 3)])
    xs = {x + w / 2 for x, _, w, _ in chain.boxes}
    assert len(xs) == 1
    skip = chain.paths[3]
    left, _, width, _ = chain.boxes[1]
    inner = [x for x, _ in skip[2:-2]]  # beside the two boxes it skips
    assert len(inner) == 4 and len(set(inner)) == 1
    assert inner[0] >= left + width + Spacing().edge_gap or inner[0] <= left - Spacing().edge_gap


def test_the_drawing_is_deterministic():
    spec, report, first = drawn("googlenet")
    assert draw(report, spec, "svg").text == first.text
    assert run("draw", "googlenet").stdout == first.text


# ------------------------------------------------------------------ mermaid
def mermaid_edges(text: str) -> list[tuple[str, str]]:
    return re.findall(r"^  (n\d+) --> (n\d+)$", text, re.M)


@pytest.mark.parametrize("source", ZOO, ids=_ids)
def test_mermaid_stays_within_githubs_limits(source):
    spec, report, drawing = drawn(source, "mermaid")
    assert drawing.text.startswith("flowchart TD\n")
    assert len(mermaid_edges(drawing.text)) <= MAX_EDGES
    assert len(drawing.text) <= MAX_CHARS
    whole = build(report, spec, None)
    over = len(whole.edges) > MAX_EDGES or len(to_mermaid(whole)) > MAX_CHARS
    # collapsed exactly when the whole diagram is over a limit, and then as little as fits
    assert (drawing.depth is not None) == over
    if over:
        assert drawing.notes and f"--depth {drawing.depth}" in drawing.notes[0]
        deeper = build(report, spec, drawing.depth + 1)
        assert len(deeper.edges) > MAX_EDGES or len(to_mermaid(deeper)) > MAX_CHARS
    nodes = re.findall(r'^  (n\d+)\["', drawing.text, re.M)
    assert len(nodes) == len(set(nodes)) == len(build(report, spec, drawing.depth).nodes)


def test_mermaid_collapses_on_its_own_and_says_so():
    result = run("draw", "densenet121", "-f", "mermaid")
    assert result.exit_code == 0
    spec = load_spec("densenet121")
    report = analyze(spec)
    whole = build(report, spec, None)
    assert len(to_mermaid(whole)) > MAX_CHARS  # the reason to collapse
    note = re.search(r"note: .*\(--depth (\d)\)", result.stderr)
    assert note is not None
    depth = int(note.group(1))
    assert (
        result.stdout == run("draw", "densenet121", "-f", "mermaid", "--depth", str(depth)).stdout
    )


def test_mermaid_that_cannot_fit_is_a_clear_error():
    result = run("draw", "-", "-f", "mermaid", input=json.dumps(_chain(600)))
    assert result.exit_code == 2
    assert "over GitHub's Mermaid limits" in result.output and "600 edges" in result.output


# ------------------------------------------------------------------ dot
@pytest.mark.parametrize("name", ["lenet5", "resnet18", "googlenet", "unet_small"])
def test_dot_has_a_node_per_layer_and_an_edge_per_connection(name):
    _, report, drawing = drawn(name, "dot")
    text = drawing.text
    assert text.startswith('digraph "') and text.rstrip().endswith("}")
    nodes = re.findall(r'^  (n\d+) \[label="', text, re.M)
    edges = re.findall(r"^  (n\d+) -> (n\d+);$", text, re.M)
    assert len(nodes) == len(report.rows) + 1
    assert len(edges) == len({(i, r.name) for r in report.rows for i in r.inputs})
    if shutil.which("dot"):
        out = subprocess.run(
            ["dot", "-Tsvg"], input=text, capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 0, out.stderr


# ------------------------------------------------------------------ html
def page_json(page: str):
    found = re.search(
        r'<script type="application/json" id="convcalc-data">(.*?)</script>', page, re.S
    )
    assert found is not None
    return json.loads(found.group(1))


@pytest.mark.parametrize("name", ["lenet5", "resnet50", "densenet121", "unet_small"])
def test_the_page_fetches_nothing_and_carries_the_report(name):
    _, report, drawing = drawn(name, "html")
    page = drawing.text
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"\b(src|href)\s*=|@import|url\((?!#)", page)
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert page.count("<svg") == 1
    data = page_json(page)
    nodes = data["nodes"]
    assert nodes[0]["name"] == INPUT
    assert len(nodes) == len(report.rows) + 1
    for node, row in zip(nodes[1:], report.rows):
        assert (node["name"], node["type"], node["index"]) == (row.name, row.type, row.index)
        assert (node["params"], node["macs"]) == (row.params, row.macs)
        assert node["output_shape"] == list(row.output_shape)
        assert node["from"] == list(row.inputs)
    macs = [n["macs"] for n in nodes[1:]]
    assert sum(macs) == report.totals.macs
    assert sum(n["macs_share"] for n in nodes[1:]) == pytest.approx(1.0)


def test_the_page_of_a_failing_model_holds_the_error():
    _, report, drawing = drawn(ROOT / "examples" / "lenet-64.yaml", "html")
    nodes = page_json(drawing.text)["nodes"]
    (error,) = report.errors
    states = [n["state"] for n in nodes[1:]]
    assert states == ["ok"] * error.index + ["failed"] + ["after"] * (
        len(report.rows) - error.index - 1
    )
    failed = nodes[1 + error.index]
    assert (failed["name"], failed["message"], failed["hint"]) == ("fc1", error.message, error.hint)
    assert failed["call"] == "Linear(in_features=400, out_features=120)"
    assert failed["input_shape"] == [1, 2704] and failed["output_shape"] is None


# ------------------------------------------------------------------ hostile names
HOSTILE = {
    "name": '<b>evil</b> --> "quoted"',
    "input": [1, 3, 8, 8],
    "layers": [
        {
            "type": "Conv2d",
            "name": "<script>alert(1)</script>",
            "in_channels": 3,
            "out_channels": 4,
            "kernel_size": 3,
        },
        {"type": "ReLU", "name": "a\"b'c&d"},
        {"type": "ReLU", "name": "x-->y; end"},
        {"type": "ReLU", "name": "ünï©ødé 名前 #35;"},
        {"type": "ReLU", "name": "</script><!--"},
    ],
}
NAMES = [layer["name"] for layer in HOSTILE["layers"]]


def _hostile(fmt: str) -> str:
    result = run("draw", "-", "-f", fmt, input=json.dumps(HOSTILE))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_hostile_names_in_svg_are_text():
    text = _hostile("svg")
    root = ET.fromstring(text)  # well-formed, whatever the names
    assert not list(root.iter(f"{SVG}script"))
    names = [g.get("data-name") for g in root.iter(f"{SVG}g") if g.get("data-name")]
    assert names == [INPUT, *NAMES]
    assert "<script>" not in text and "</script>" not in text
    assert '<b>evil</b> --> "quoted"' in "".join(root.itertext())


def test_hostile_names_in_html_cannot_break_out():
    page = _hostile("html")
    assert page.count("<script") == 2 and page.count("</script>") == 2
    assert "<b>" not in page and "<!--" not in page
    data = page_json(page)
    assert [n["name"] for n in data["nodes"]] == [INPUT, *NAMES]
    assert html.unescape(re.search(r"<title>(.*?)</title>", page).group(1)).startswith(
        HOSTILE["name"]
    )


def test_hostile_names_in_mermaid_are_entity_codes():
    text = _hostile("mermaid")
    labels = re.findall(r'^  n\d+\["(.*)"\]$', text, re.M)
    assert len(labels) == 6
    for label in labels:
        assert re.fullmatch(r"[A-Za-z0-9 .,()_:/+%=*#;<>]*", label)
        assert '"' not in label and "-->" not in label and "[" not in label
        assert "<" not in label.replace("<br>", "") and ">" not in label.replace("<br>", "")

    def decoded(label):
        return re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), label).split("<br>")[0]

    assert [decoded(label) for label in labels[1:]] == ["<script>alert(1)</script>"] + [
        n for n in NAMES[1:]
    ]
    assert len(mermaid_edges(text)) == 5


def test_hostile_names_in_dot_are_quoted():
    text = _hostile("dot")
    labels = re.findall(r'^  n\d+ \[label="((?:[^"\\]|\\.)*)"', text, re.M)
    assert len(labels) == 6
    first = [re.sub(r"\\(.)", r"\1", label.split("\\n")[0]) for label in labels]
    assert first == [INPUT, *NAMES]
    assert text.startswith('digraph "<b>evil</b> --> \\"quoted\\"" {')


# ------------------------------------------------------------------ the command line
@pytest.mark.parametrize(
    ("suffix", "start"),
    [
        (".svg", '<svg xmlns="http://www.w3.org/2000/svg"'),
        (".html", "<!DOCTYPE html>"),
        (".md", "```mermaid\nflowchart TD\n"),
        (".mmd", "flowchart TD\n"),
        (".dot", 'digraph "lenet"'),
    ],
)
def test_the_format_comes_from_the_extension(tmp_path, suffix, start):
    out = tmp_path / f"net{suffix}"
    result = run("draw", str(ROOT / "examples" / "lenet.yaml"), "-o", str(out))
    assert result.exit_code == 0 and result.output == ""
    text = out.read_text(encoding="utf-8")
    assert text.startswith(start)
    if suffix == ".md":
        assert text.endswith("```\n")


def test_stdout_is_svg_unless_told_and_format_wins_over_the_extension(tmp_path):
    plain = run("draw", "lenet5")
    assert plain.exit_code == 0 and plain.stdout.startswith("<svg")
    ET.fromstring(plain.stdout)
    out = tmp_path / "net.svg"
    result = run("draw", "lenet5", "-o", str(out), "--format", "dot")
    assert result.exit_code == 0 and out.read_text().startswith('digraph "lenet5"')


def test_exit_codes(tmp_path):
    failing = run("draw", str(ROOT / "examples" / "lenet-64.yaml"))
    assert failing.exit_code == 1
    assert 'class="node failed"' in failing.stdout
    assert "error: layer 7 'fc1' (Linear): expects 400 input features" in failing.stderr
    missing = run("draw", "no-such-file.yaml")
    assert missing.exit_code == 2 and "Traceback" not in missing.output
    unknown = run("draw", "lenet5", "-o", "net.txt")
    assert unknown.exit_code == 2 and "cannot tell the format from 'net.txt'" in unknown.output
    (tmp_path / "folder.svg").mkdir()
    folder = run("draw", "lenet5", "-o", str(tmp_path / "folder.svg"))
    assert folder.exit_code == 2 and "cannot write the diagram" in folder.output


def test_layers_given_as_flags_and_depth():
    result = run("draw", "-i", "1,3,32,32", "-l", "Conv2d(3, 8, 3)", "-l", "ReLU", "-f", "mermaid")
    assert result.exit_code == 0
    assert len(mermaid_edges(result.stdout)) == 2
    collapsed = run("draw", "resnet18", "--depth", "0", "-f", "dot")
    names = re.findall(r'^  n\d+ \[label="([^\\"]+)', collapsed.stdout, re.M)
    assert names == [
        INPUT,
        "conv1",
        "bn1",
        "relu",
        "maxpool",
        *(f"layer{i}.{j}" for i in range(1, 5) for j in range(2)),
        "avgpool",
        "flatten",
        "fc",
    ]


def test_the_readme_picture_is_current(request):
    picture = ROOT / "docs" / "draw-example.svg"
    made = run("draw", str(ROOT / "docs" / "inception.yaml"))
    assert made.exit_code == 0
    if request.config.getoption("--regen-golden"):
        picture.write_text(made.stdout, encoding="utf-8")
        return
    assert picture.read_text(encoding="utf-8") == made.stdout, (
        "docs/draw-example.svg is stale: run pytest tests/contract/test_draw.py --regen-golden"
    )
    assert "docs/draw-example.svg" in (ROOT / "README.md").read_text()


def test_drawing_imports_neither_numpy_nor_rich(tmp_path):
    lenet = str(ROOT / "examples" / "lenet.yaml")
    outs = [str(tmp_path / f"net.{ext}") for ext in ("svg", "html", "md", "dot")]
    code = (
        "import sys; from convcalc.cli import main\n"
        f"for out in {outs!r}:\n"
        f"    try:\n        main(['draw', {lenet!r}, '-o', out])\n"
        "    except SystemExit:\n        pass\n"
        "print(sorted(m for m in ('numpy', 'rich', 'rich.console') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.stdout.splitlines()[-1] == "[]"
    assert all(Path(out).stat().st_size > 0 for out in outs)
