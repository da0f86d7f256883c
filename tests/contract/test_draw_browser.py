"""``convcalc draw`` as a person sees it, in Debian's headless Chromium at 1280×800 and 100 %
zoom: the HTML page opens offline (not one request leaves the file), fits the window's width
(or, where fitting would make text smaller than 11 px, shows it at a readable size with the
rest a pan away), every layer has its box with text of at least 11 px inside it, a click on a
box shows that layer's row from the report, and a failing model shows its failing layer red and
the layers after it grey. The Mermaid output is rendered by Mermaid's own script (the npm
package) in the same browser, with GitHub's limits. Screenshots go to ``CONVCALC_SCREENSHOTS``
(default: a pytest temporary folder), to be looked at. Skipped without Chromium, and the
Mermaid tests without npm (or its registry)."""

from __future__ import annotations

import functools
import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import Chromium, Page, find_chromium, mermaid_script
from clirun import run

ROOT = Path(__file__).resolve().parents[2]
FAILING = str(ROOT / "examples" / "lenet-64.yaml")
#: the models looked at: a chain, residual blocks, inception branches, dense concatenations,
#: an encoder-decoder with skips, the issue's own ResNet-50, and a model that fails
MODELS = {
    "lenet": "lenet5",
    "resnet18": "resnet18",
    "googlenet": "googlenet",
    "densenet121": "densenet121",
    "unet": "unet_small",
    "resnet50": "resnet50",
    "failing": FAILING,
}
WIDTH, HEIGHT = 1280, 800
#: the smallest text a person reads without zooming, in CSS pixels at 100 %
READABLE_PX = 11.0

#: what the page shows, measured in it: every layer's box (the node whose tooltip names the
#: layer, else the smallest rectangle around a text that is the layer's name), the rendered size
#: of each text of the box (its computed font size times the scale from its own units to the
#: screen) and the texts that run out of it, and what would make the page scroll sideways
PROBE = r"""
(() => {
  const rect = (el) => { const r = el.getBoundingClientRect();
    return {x: r.left, y: r.top, w: r.width, h: r.height}; };
  const inside = (a, b, slack) => a.x >= b.x - slack && a.y >= b.y - slack
    && a.x + a.w <= b.x + b.w + slack && a.y + a.h <= b.y + b.h + slack;
  const texts = [...document.querySelectorAll('svg text')].filter(t => t.textContent.trim());
  const rects = [...document.querySelectorAll('svg rect')];
  const rendered = (t) => { const own = t.getBBox(); const r = t.getBoundingClientRect();
    const scale = own.width > 0 ? r.width / own.width : 1;
    return parseFloat(getComputedStyle(t).fontSize) * scale; };
  const around = (t) => { const c = rect(t); let best = null;
    for (const r of rects) { const b = rect(r);
      if (inside(c, b, 0.5) && (!best || b.w * b.h < best.b.w * best.b.h)) best = {el: r, b}; }
    return best; };
  const tooltips = new Map();
  for (const title of document.querySelectorAll('svg title')) {
    const rect = title.parentElement.querySelector('rect');
    const name = title.textContent.split(' (')[0];
    if (rect && !tooltips.has(name)) tooltips.set(name, rect); }
  window.__convcalcBox = (name) => {
    const el = tooltips.get(name);
    if (el) return {el, b: rect(el), group: el.parentElement};
    for (const t of texts) { if (t.textContent.trim() !== name) continue;
      const found = around(t); if (found) return {...found, group: null}; }
    return null; };
  window.__convcalcBoxes = (names) => names.map((name) => {
    const found = __convcalcBox(name); if (!found) return null;
    const own = texts.filter(t => found.group ? found.group.contains(t)
      : inside(rect(t), found.b, 0.5));
    const out = own.filter(t => !inside(rect(t), found.b, 0.5)).map(t => t.textContent.trim());
    return {box: found.b, fill: getComputedStyle(found.el).fill, fonts: own.map(rendered),
      texts: own.map(t => t.textContent.trim()), outside: out}; });
  // whether a mouse click at the box's centre lands on the box (in the window, not under
  // the panel or the top bar)
  window.__convcalcClickable = (name) => { const found = __convcalcBox(name);
    if (!found) return false; const b = found.b;
    const hit = document.elementFromPoint(b.x + b.w / 2, b.y + b.h / 2);
    return !!hit && (hit === found.el || (found.group !== null && found.group.contains(hit))); };
  // the text a person sees beside the diagram (the panel, not the top bar), line by line
  window.__convcalcPanel = () => { const lines = [];
    const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walk.nextNode(); n; n = walk.nextNode()) { const el = n.parentElement;
      if (!el || el.closest('svg, script, style, header') || !el.checkVisibility()) continue;
      const range = document.createRange(); range.selectNodeContents(n);
      const r = range.getBoundingClientRect();
      if (r.width && r.height && r.right > 0 && r.bottom > 0 && r.left < innerWidth
          && r.top < innerHeight && n.textContent.trim()) lines.push(n.textContent.trim()); }
    return lines.join('\n'); };
  const doc = document.documentElement;
  return {width: innerWidth, height: innerHeight,
    scrollWidth: Math.max(doc.scrollWidth, document.body.scrollWidth),
    resources: performance.getEntriesByType('resource').map(e => e.name),
    text: document.body.innerText, panel: __convcalcPanel()};
})()
"""


@pytest.fixture(scope="module")
def chromium() -> Iterator[Chromium]:
    executable = find_chromium()
    if executable is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    with Chromium(executable) as browser:
        yield browser


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    named = os.environ.get("CONVCALC_SCREENSHOTS")
    folder = Path(named) if named else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """``drawn(model, suffix)``: the file ``convcalc draw MODEL -o x.SUFFIX`` writes (drawn once
    per module), after checking its exit code (1 for the failing model, 0 for the others)."""
    folder = tmp_path_factory.mktemp("drawn")
    done: dict[tuple[str, str], Path] = {}

    def draw(model: str, suffix: str) -> Path:
        if (model, suffix) not in done:
            out = folder / f"{model}.{suffix}"
            result = run("draw", MODELS[model], "-o", str(out))
            assert result.exit_code == (1 if model == "failing" else 0), result.output
            done[model, suffix] = out
        return done[model, suffix]

    yield draw


@functools.cache
def report(model: str) -> dict[str, Any]:
    """The model's report, as ``convcalc shape --format json`` gives it."""
    result = run("shape", MODELS[model], "--format", "json")
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def opened(chromium: Chromium, path: Path) -> tuple[Page, dict[str, Any]]:
    page = chromium.page(WIDTH, HEIGHT)
    url = page.open(path)
    facts = page.evaluate(PROBE)
    assert page.outside_requests(url) == []
    assert page.failed == []
    assert facts["resources"] == []
    assert page.errors == []
    return page, facts


def boxes(page: Page, names: list[str]) -> dict[str, dict[str, Any]]:
    found = page.evaluate(f"__convcalcBoxes({json.dumps(names)})")
    missing = [name for name, box in zip(names, found) if box is None]
    assert not missing, f"no box names these layers: {missing}"
    return dict(zip(names, found))


def numbers(text: str) -> set[int]:
    """Every whole number in ``text``, written with or without thousands separators."""
    found = {int(n) for n in re.findall(r"\d+", text)}
    found |= {
        int(re.sub(r"[,\u2009\u202f_']", "", n))
        for n in re.findall(r"\d[\d,\u2009\u202f_']*\d", text)
    }
    return found


def shape_in(shape: list[int], text: str) -> bool:
    """Whether ``text`` shows the shape's sizes in order, however they are bracketed."""
    sizes = [str(n) for n in shape]
    return re.search(r"\D+".join(sizes), text) is not None


@pytest.mark.parametrize("model", list(MODELS))
def test_html_opens_offline_fitted_and_readable(
    model: str, chromium: Chromium, drawn: Any, screenshots: Path
) -> None:
    page, facts = opened(chromium, drawn(model, "html"))
    try:
        page.screenshot(screenshots / f"{model}.png")
        assert (facts["width"], facts["height"]) == (WIDTH, HEIGHT)
        assert facts["scrollWidth"] <= WIDTH, "the page scrolls sideways at load"
        names = [layer["name"] for layer in report(model)["layers"]]
        shown = boxes(page, names)
        small = {name: min(box["fonts"]) for name, box in shown.items()}
        small = {name: px for name, px in small.items() if px < READABLE_PX - 0.01}
        assert not small, f"text under {READABLE_PX} px: {small}"
        out = {name: box["outside"] for name, box in shown.items() if box["outside"]}
        assert not out, f"text running out of its box: {out}"
        left = min(box["box"]["x"] for box in shown.values())
        right = max(box["box"]["x"] + box["box"]["w"] for box in shown.values())
        if left < 0 or right > WIDTH:
            # too wide to fit: fitting it would have made the smallest text unreadable, and
            # where the model starts is in the window, the rest a pan away
            smallest = min(min(box["fonts"]) for box in shown.values())
            assert smallest * WIDTH / (right - left) < READABLE_PX
            start = boxes(page, ["input"])["input"]["box"]
            assert start["x"] >= 0 and start["x"] + start["w"] <= WIDTH
            assert start["y"] >= 0 and start["y"] + start["h"] <= HEIGHT
    finally:
        page.close()


def click_box(page: Page, name: str, by_mouse: bool) -> None:
    """Click the layer's box: with the mouse at its centre (as a person does; the box must be
    in the window), or with a click event sent to it (a box a pan away)."""
    if by_mouse:
        box = boxes(page, [name])[name]["box"]
        assert page.evaluate(f"__convcalcClickable({json.dumps(name)})"), f"{name} is hidden"
        page.click(box["x"] + box["w"] / 2, box["y"] + box["h"] / 2)
    else:
        page.evaluate(
            f"__convcalcBox({json.dumps(name)}).el"
            ".dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true}))"
        )


def named(name: str, text: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(name)}(?![\w.])", text) is not None


def missing_from(panel: str, layer: dict[str, Any]) -> list[str]:
    """What of the layer's row the panel does not show (empty: all of it)."""
    missing = [] if named(layer["name"], panel) else [f"name {layer['name']}"]
    if layer["type"] not in panel:
        missing.append(f"type {layer['type']}")
    for key in ("params", "macs"):
        if layer[key] is not None and layer[key] not in numbers(panel):
            missing.append(f"{key} {layer[key]}")
    for key in ("input_shape", "output_shape"):
        if layer[key] is not None and not shape_in(layer[key], panel):
            missing.append(f"{key} {layer[key]}")
    flat = " ".join(panel.split())
    missing += [f"note {note!r}" for note in layer["notes"] if " ".join(note.split()) not in flat]
    return missing


@pytest.mark.parametrize("model", list(MODELS))
def test_click_on_a_box_shows_its_row(
    model: str, chromium: Chromium, drawn: Any, screenshots: Path
) -> None:
    """The first layer with parameters that is in the window at load and not already in the
    panel (clicked with the mouse) and then the one with the most (a click event: it may be a pan away): the panel shows the
    clicked layer's row, the report's figures, and no longer the first's."""
    counted = [layer for layer in report(model)["layers"] if layer["params"]]
    page, facts = opened(chromium, drawn(model, "html"))
    try:
        first = next(
            layer
            for layer in counted
            if page.evaluate(f"__convcalcClickable({json.dumps(layer['name'])})")
            and not named(layer["name"], facts["panel"])  # not shown already
        )
        biggest = max(counted, key=lambda layer: layer["params"])
        if biggest is first:
            biggest = next(layer for layer in reversed(counted) if layer is not first)
        for by_mouse, layer in ((True, first), (False, biggest)):
            click_box(page, layer["name"], by_mouse)
            panel = page.evaluate("__convcalcPanel()")
            assert not missing_from(panel, layer), (missing_from(panel, layer), panel)
            if by_mouse:
                page.screenshot(screenshots / f"{model}-clicked.png")
        assert not named(first["name"], panel), panel
    finally:
        page.close()


def colour(css: str) -> tuple[int, int, int]:
    found = re.fullmatch(r"rgba?\((\d+), (\d+), (\d+)(?:, [\d.]+)?\)", css)
    assert found, f"not a plain colour: {css}"
    return int(found[1]), int(found[2]), int(found[3])


def test_failing_layer_is_red_with_its_message_and_the_layers_after_it_grey(
    chromium: Chromium, drawn: Any
) -> None:
    data = report("failing")
    (error,) = data["errors"]
    names = [layer["name"] for layer in data["layers"]]
    at = names.index(error["name"])
    page, facts = opened(chromium, drawn("failing", "html"))
    try:
        # it opens on the failure: the failing box in the window, its row and error beside it
        assert page.evaluate(f"__convcalcClickable({json.dumps(names[at])})")
        layer = data["layers"][at]
        assert not missing_from(facts["panel"], layer), facts["panel"]
        assert error["message"] in " ".join(facts["panel"].split())
        shown = boxes(page, names)
        r, g, b = colour(shown[names[at]]["fill"])
        assert r > g + 20 and r > b + 20, f"the failing box is not red: {(r, g, b)}"
        after = {colour(shown[name]["fill"]) for name in names[at + 1 :]}
        assert len(after) == 1, f"the layers after the failure differ: {after}"
        ((r, g, b),) = after
        assert max(r, g, b) - min(r, g, b) <= 12, f"not grey: {(r, g, b)}"
        before = {colour(shown[name]["fill"]) for name in names[:at]}
        assert (r, g, b) not in before, "a layer before the failure is as grey as those after"
        # the message, as the report words it, in the failing box
        said = " ".join(" ".join(shown[names[at]]["texts"]).split())
        assert "expects 400 input features, receives 2704" in said, said
    finally:
        page.close()


@pytest.mark.parametrize("model", ["resnet50", "densenet121"])
def test_the_rest_is_a_pan_away_and_fit_shows_it_all(
    model: str, chromium: Chromium, drawn: Any, screenshots: Path
) -> None:
    names = [layer["name"] for layer in report(model)["layers"]]
    page, _ = opened(chromium, drawn(model, "html"))
    try:
        start = boxes(page, [names[0], names[-1]])
        first, last = start[names[0]]["box"], start[names[-1]]["box"]
        assert last["y"] + last["h"] > HEIGHT, "the whole model is in the window at load"
        # drag the diagram up three times by 200 px, holding it by its first box, as a
        # person does (a pause between drags)
        for _ in range(3):
            page.drag(first["x"] + first["w"] / 2, first["y"] + first["h"] / 2, 0, -200, steps=10)
            time.sleep(0.1)
        moved = boxes(page, [names[-1]])[names[-1]]["box"]
        assert moved["y"] == pytest.approx(last["y"] - 600, abs=2)
        assert moved["x"] == pytest.approx(last["x"], abs=2)
        # the "fit" button: every box in the window
        button = page.evaluate(
            "(() => { const b = [...document.querySelectorAll('button')]"
            ".find(b => /fit/i.test(b.textContent + ' ' + (b.title || '')));"
            " if (!b) return null; const r = b.getBoundingClientRect();"
            " return {x: r.left + r.width / 2, y: r.top + r.height / 2}; })()"
        )
        assert button is not None, "no fit button"
        page.click(button["x"], button["y"])
        for name, box in boxes(page, names).items():
            b = box["box"]
            assert b["x"] >= -0.5 and b["y"] >= -0.5, name
            assert b["x"] + b["w"] <= WIDTH + 0.5 and b["y"] + b["h"] <= HEIGHT + 0.5, name
        page.screenshot(screenshots / f"{model}-fit.png")
    finally:
        page.close()


#: renders a flowchart with Mermaid's defaults (GitHub's limits: 500 edges, 50,000 characters)
#: into the page, and reads back its nodes' labels and its edges, or the error Mermaid raised
RENDER = r"""
(async (text) => {
  mermaid.initialize({startOnLoad: false, securityLevel: 'strict', suppressErrorRendering: true});
  const holder = document.getElementById('diagram');
  holder.innerHTML = '';
  try {
    await mermaid.parse(text);
    const {svg} = await mermaid.render('drawn' + Date.now(), text);
    holder.innerHTML = svg;
  } catch (e) { return {error: String(e && e.message || e)}; }
  const root = holder.querySelector('svg');
  return {error: null,
    labels: [...root.querySelectorAll('g.node')].map(n => {
      const label = n.querySelector('.nodeLabel');  // HTML inside a foreignObject
      return label ? label.innerText : n.textContent; }),
    fills: [...root.querySelectorAll('g.node')].map(n => {
      const shape = n.querySelector('rect, path, polygon');
      return shape ? getComputedStyle(shape).fill : null; }),
    edges: root.querySelectorAll('g.edgePaths > path, path.flowchart-link').length};
})(%s)
"""


@pytest.fixture(scope="module")
def mermaid(
    request: pytest.FixtureRequest, chromium: Chromium, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Page]:
    """A page with Mermaid's script loaded (from ``CONVCALC_MERMAID_DIR``, else pytest's cache
    folder, where it is fetched from the npm registry the first time, with ``npm pack``)."""
    named = os.environ.get("CONVCALC_MERMAID_DIR")
    cache = getattr(request.config, "cache", None)  # None under -p no:cacheprovider
    if named:
        folder = Path(named)
    elif cache is not None:
        folder = Path(cache.mkdir("mermaid"))
    else:
        folder = tmp_path_factory.mktemp("mermaid-script")
    script = mermaid_script(folder)
    if script is None:
        pytest.skip("Mermaid's script is not installed (npm missing or the registry unreachable)")
    html = tmp_path_factory.mktemp("mermaid") / "render.html"
    html.write_text(
        f'<!doctype html><meta charset="utf-8"><script src="{script.resolve().as_uri()}"></script>'
        '<div id="diagram"></div>'
    )
    page = chromium.page(WIDTH, HEIGHT)
    page.open(html)
    assert page.evaluate("typeof mermaid.render") == "function"
    yield page
    page.close()


def flowchart(markdown: str) -> str:
    """The one ```mermaid block of a Markdown file."""
    (block,) = re.findall(r"^```mermaid\n(.*?)^```$", markdown, re.M | re.S)
    return block  # type: ignore[no-any-return]


def expected_nodes(model: str, depth: int | None) -> list[tuple[str, str]]:
    """(first line of the label, output shape) of every node the flowchart should have at
    ``depth``: the model input, then each layer, or the block it is collapsed in (named by the
    block; an unnamed layer by its type), in order."""
    data = report(model)
    nodes = [("input", data["input_shape"])]
    seen = set()
    for layer in data["layers"]:
        blocks = layer.get("blocks", [])
        if depth is not None and len(blocks) > depth:
            if blocks[depth] not in seen:
                seen.add(blocks[depth])
                nodes.append((blocks[depth], None))
            continue
        unnamed = layer["name"] == str(layer["index"])
        nodes.append((layer["type"] if unnamed else layer["name"], layer["output_shape"]))
    return nodes


@pytest.mark.parametrize("model", list(MODELS))
def test_mermaid_renders(model: str, mermaid: Page, tmp_path: Path, screenshots: Path) -> None:
    """The ``.md`` file's flowchart, rendered by Mermaid with GitHub's limits: no error, one
    node per layer (or collapsed block, when the whole model is over the limits and the command
    says so) with its name and output shape, in order."""
    out = tmp_path / f"{model}.md"
    result = run("draw", MODELS[model], "-o", str(out))
    assert result.exit_code == (1 if model == "failing" else 0), result.output
    collapsed = re.search(r"over GitHub's Mermaid limits.*\(--depth (\d+)\)", result.stderr)
    depth = int(collapsed[1]) if collapsed else None
    text = flowchart(out.read_text())
    assert len(text) <= 50_000
    rendered = mermaid.evaluate(RENDER % json.dumps(text))
    assert rendered["error"] is None, rendered["error"]
    mermaid.screenshot(screenshots / f"{model}-mermaid.png")
    expected = expected_nodes(model, depth)
    labels = [label.strip().splitlines() for label in rendered["labels"]]
    assert len(labels) == len(expected)
    for lines, (title, shape) in zip(labels, expected):
        assert lines[0] == title, (lines, title)
        if shape is not None:
            assert shape_in(shape, " ".join(lines)), (lines, shape)
    assert rendered["edges"] <= 500
    assert rendered["edges"] >= len(expected) - 1  # connected: each node but the input has one in
    if model == "failing":
        # the failing layer red, the layers after it grey, as in the SVG
        (error,) = report(model)["errors"]
        at = [title for title, _ in expected].index(error["name"])
        r, g, b = colour(rendered["fills"][at])
        assert r > g + 20 and r > b + 20, f"the failing node is not red: {(r, g, b)}"
        for fill in rendered["fills"][at + 1 :]:
            r, g, b = colour(fill)
            assert max(r, g, b) - min(r, g, b) <= 12, f"not grey: {(r, g, b)}"


def test_dragging_selects_no_text(chromium: Chromium, drawn: Any) -> None:
    """A drag pans the diagram; it does not also select the text it passes over, even when
    the pointer runs on past the diagram's edge, into the page's top bar (a later drag that
    starts on selected text would drag the selection, not the diagram)."""
    page, _ = opened(chromium, drawn("resnet50", "html"))
    try:
        box = boxes(page, ["conv1"])["conv1"]["box"]
        x, y = box["x"] + 20, box["y"] + 17  # on the box's first line of text
        page.drag(x, y, 0, 10 - y, steps=10)
        assert page.evaluate("String(getSelection())") == ""
    finally:
        page.close()


def test_mermaid_rendering_fails_where_github_would(mermaid: Page) -> None:
    """The rendering above is a real check: Mermaid reports a syntax error, and a flowchart
    over GitHub's 500 edges, instead of drawing them."""
    broken = mermaid.evaluate(RENDER % json.dumps('flowchart TD\n  n0["a"] --> --> n1\n'))
    assert broken["error"] and "Parse error" in broken["error"]
    chain = "flowchart TD\n" + "".join(f"  n{i} --> n{i + 1}\n" for i in range(501))
    over = mermaid.evaluate(RENDER % json.dumps(chain))
    assert over["error"] and "500" in over["error"], over


#: names that would fetch, run script or end an element if they reached the page as markup
HOSTILE = """\
name: "<img src=https://example.com/m onerror=window.__pwned=9>"
input: [1, 3, 8, 8]
layers:
  - {type: Conv2d, name: "<img src=https://example.com/x onerror=window.__pwned=1>", in_channels: 3, out_channels: 4, kernel_size: 3}
  - {type: ReLU, name: "</script><script>window.__pwned=2</script>"}
  - {type: Flatten, name: "a\\" onclick=\\"window.__pwned=3"}
  - {type: Linear, name: "--> é ü 中文 `x` #35; &amp;", in_features: 144, out_features: 2}
"""
HOSTILE_NAMES = [
    "<img src=https://example.com/x onerror=window.__pwned=1>",
    "</script><script>window.__pwned=2</script>",
    'a" onclick="window.__pwned=3',
    "--> é ü 中文 `x` #35; &amp;",
]


def test_hostile_names_stay_text_in_the_page(chromium: Chromium, tmp_path: Path) -> None:
    """Names from a config are shown as they are written, and nothing in them runs or loads:
    no request, no script, every box named, a click shows the name itself."""
    config = tmp_path / "hostile.yaml"
    config.write_text(HOSTILE, encoding="utf-8")
    out = tmp_path / "hostile.html"
    assert run("draw", str(config), "-o", str(out)).exit_code == 0
    page, _ = opened(chromium, out)  # no request, no script error
    try:
        shown = boxes(page, HOSTILE_NAMES)
        for name in HOSTILE_NAMES:
            click_box(page, name, by_mouse=False)
            assert page.evaluate("typeof window.__pwned") == "undefined"
            heading = page.evaluate("document.querySelector('#panel h2').textContent")
            assert heading == name
        assert page.evaluate("document.title").startswith(
            "<img src=https://example.com/m onerror=window.__pwned=9>"
        )
        assert shown[HOSTILE_NAMES[3]]["texts"][0] == HOSTILE_NAMES[3]
        assert page.evaluate("document.querySelectorAll('img, script[src], iframe').length") == 0
    finally:
        page.close()


def test_hostile_names_stay_text_in_mermaid(mermaid: Page, tmp_path: Path) -> None:
    config = tmp_path / "hostile.yaml"
    config.write_text(HOSTILE, encoding="utf-8")
    out = tmp_path / "hostile.md"
    assert run("draw", str(config), "-o", str(out)).exit_code == 0
    rendered = mermaid.evaluate(RENDER % json.dumps(flowchart(out.read_text(encoding="utf-8"))))
    assert rendered["error"] is None, rendered["error"]
    firsts = [label.strip().splitlines()[0] for label in rendered["labels"]]
    assert firsts == ["input", *HOSTILE_NAMES]
    assert mermaid.evaluate("typeof window.__pwned") == "undefined"
    assert mermaid.evaluate("document.querySelectorAll('#diagram img').length") == 0
