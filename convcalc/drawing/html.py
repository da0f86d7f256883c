"""The diagram as one self-contained HTML page: the SVG inline, pan (drag) and zoom (wheel,
buttons), and a click on a box shows its layer's whole row in a side panel.

Nothing is fetched: no CDN, no web font, no external script; a Content-Security-Policy
forbids the browser to load anything. The panel's data is JSON inside the page, with
``<``, ``>`` and ``&`` escaped so that a name holding ``</script>`` cannot end it.
"""

from __future__ import annotations

import json

from .diagram import Diagram
from .svg import SMALL, escape, to_svg

#: the page opens fitted to the window's width only when that keeps the smallest text at
#: least this many pixels; otherwise at 100 %, the rest a pan away
MIN_TEXT_PX = 11.0

CSS = """
html, body { margin: 0; height: 100%; font-family: system-ui, sans-serif; }
body { display: flex; flex-direction: column; }
header { display: flex; gap: 6px; align-items: center; padding: 6px 10px;
  border-bottom: 1px solid #ccc; background: #fafafa; font-size: 14px; }
header .model { font-weight: bold; margin-right: auto; overflow: hidden;
  text-overflow: ellipsis; white-space: nowrap; }
header button { font: inherit; padding: 2px 10px; cursor: pointer; }
main { flex: 1; display: flex; min-height: 0; }
#view { flex: 1; position: relative; overflow: hidden; cursor: grab; background: #fff;
  touch-action: none; }
#view.dragging { cursor: grabbing; }
header, #view, body.dragging { user-select: none; -webkit-user-select: none; }
#view > svg { position: absolute; left: 0; top: 0; transform-origin: 0 0; }
#view .node { cursor: pointer; }
#view .node.selected rect { stroke: #ff9800; stroke-width: 3; }
#panel { width: 360px; max-width: 40%; overflow: auto; border-left: 1px solid #ccc;
  padding: 10px 14px; font-size: 13px; background: #fcfcfc; display: none; }
#panel.open { display: block; }
#panel h2 { font-size: 15px; margin: 0 0 8px; font-family: monospace; word-break: break-all; }
#panel dl { margin: 0; }
#panel dt { font-weight: bold; margin-top: 8px; color: #444; }
#panel dd { margin: 2px 0 0; font-family: monospace; white-space: pre-wrap;
  word-break: break-word; }
#panel .failed { color: #b71c1c; }
#zoom { min-width: 4em; text-align: right; font-variant-numeric: tabular-nums; }
"""

SCRIPT = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("convcalc-data").textContent);
  var view = document.getElementById("view");
  var svg = view.querySelector("svg");
  var panel = document.getElementById("panel");
  var W = +svg.getAttribute("width"), H = +svg.getAttribute("height");
  var s = 1, tx = 0, ty = 0, touched = false;
  function apply(user) {
    if (user) touched = true;
    svg.style.transform = "translate(" + tx + "px," + ty + "px) scale(" + s + ")";
    document.getElementById("zoom").textContent = Math.round(s * 100) + " %";
  }
  function opening() {
    var cw = view.clientWidth;
    var fit = cw / W;
    ty = 0;
    if (fit >= 1) { s = 1; tx = (cw - W) / 2; }
    else if (fit * data.smallest >= data.min_text) { s = fit; tx = 0; }
    else {
      s = 1;
      var first = svg.querySelector(".node rect");
      var cx = first ? +first.getAttribute("x") + first.getAttribute("width") / 2 : W / 2;
      tx = Math.min(0, Math.max(cw - W, cw / 2 - cx));
    }
    apply();
  }
  function fitAll() {
    var cw = view.clientWidth;
    s = Math.min(1, cw / W, view.clientHeight / H);
    tx = (cw - W * s) / 2; ty = 0; apply(true);
  }
  function zoomAt(factor, px, py) {
    var ns = Math.min(8, Math.max(0.05, s * factor));
    tx = px - (px - tx) * ns / s; ty = py - (py - ty) * ns / s; s = ns; apply(true);
  }
  document.getElementById("zoom-in").onclick = function () {
    zoomAt(1.25, view.clientWidth / 2, view.clientHeight / 2);
  };
  document.getElementById("zoom-out").onclick = function () {
    zoomAt(0.8, view.clientWidth / 2, view.clientHeight / 2);
  };
  document.getElementById("fit").onclick = fitAll;
  document.getElementById("actual").onclick = function () {
    zoomAt(1 / s, view.clientWidth / 2, 0);
  };
  view.addEventListener("wheel", function (e) {
    e.preventDefault();
    var r = view.getBoundingClientRect();
    zoomAt(Math.exp(-e.deltaY * (e.deltaMode ? 0.05 : 0.002)), e.clientX - r.left, e.clientY - r.top);
  }, { passive: false });
  // a drag pans; the click that ends a drag selects nothing; nothing moves once the
  // button is up, and the drag selects no text wherever the pointer goes
  var drag = null, dragged = false;
  view.addEventListener("pointerdown", function (e) {
    if (e.button !== 0) return;
    e.preventDefault();
    drag = { x: e.clientX, y: e.clientY, tx: tx, ty: ty, moved: false };
    dragged = false;
    view.classList.add("dragging");
    document.body.classList.add("dragging");
  });
  function endDrag() {
    if (!drag) return;
    dragged = drag.moved;
    drag = null;
    view.classList.remove("dragging");
    document.body.classList.remove("dragging");
  }
  window.addEventListener("pointermove", function (e) {
    if (!drag) return;
    if (!(e.buttons & 1)) { endDrag(); return; }
    var dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 4) drag.moved = true;
    tx = drag.tx + dx; ty = drag.ty + dy; apply(drag.moved);
  });
  window.addEventListener("pointerup", endDrag);
  window.addEventListener("pointercancel", endDrag);
  window.addEventListener("keydown", function (e) {
    var step = 80, keys = { ArrowLeft: [step, 0], ArrowRight: [-step, 0],
      ArrowUp: [0, step], ArrowDown: [0, -step], PageUp: [0, view.clientHeight * 0.9],
      PageDown: [0, -view.clientHeight * 0.9] };
    if (keys[e.key]) { tx += keys[e.key][0]; ty += keys[e.key][1]; apply(true); e.preventDefault(); }
    else if (e.key === "+" || e.key === "=") zoomAt(1.25, view.clientWidth / 2, view.clientHeight / 2);
    else if (e.key === "-") zoomAt(0.8, view.clientWidth / 2, view.clientHeight / 2);
  });
  function add(dl, term, value, cls) {
    if (value === null || value === undefined || value === "") return;
    var dt = document.createElement("dt"); dt.textContent = term;
    var dd = document.createElement("dd"); dd.textContent = value;
    if (cls) dd.className = cls;
    dl.appendChild(dt); dl.appendChild(dd);
  }
  function num(n) { return n === null || n === undefined ? "\\u2014" : n.toLocaleString("en-US"); }
  function shape(v) {
    if (v === null || v === undefined) return "\\u2014";
    if (v.length && Array.isArray(v[0])) return v.map(shape).join(" + ");
    return "(" + v.join(", ") + (v.length === 1 ? ",)" : ")");
  }
  function show(i) {
    var n = data.nodes[i];
    panel.textContent = "";
    var h = document.createElement("h2"); h.textContent = n.name; panel.appendChild(h);
    var dl = document.createElement("dl"); panel.appendChild(dl);
    add(dl, "type", n.type + (n.layers ? " (block of " + n.layers + " layers)" : ""));
    if (n.index !== undefined) add(dl, n.layers ? "first row" : "row", "#" + n.index);
    add(dl, "arguments", n.call);
    if (n.from && n.from.length) add(dl, "from", n.from.join(", "));
    if (n.index !== undefined) add(dl, "input shape", shape(n.input_shape));
    add(dl, "output shape", shape(n.output_shape));
    if (n.index !== undefined) {
      add(dl, "params", num(n.params) + (n.trainable_params !== n.params ? " (trainable " + num(n.trainable_params) + ")" : ""));
      add(dl, "MACs", num(n.macs) + (n.macs_share !== null ? " (" + (n.macs_share * 100).toFixed(1) + " % of the model)" : ""));
    }
    if (n.blocks && n.blocks.length) add(dl, "in blocks", n.blocks.join(" \\u203a "));
    if (n.notes && n.notes.length) add(dl, "notes", n.notes.join("\\n"));
    if (n.message) add(dl, "error", n.message, "failed");
    if (n.hint) add(dl, "hint", n.hint);
    panel.classList.add("open");
    var old = svg.querySelector(".node.selected");
    if (old) old.classList.remove("selected");
    var g = svg.querySelector('[data-i="' + i + '"]');
    g.classList.add("selected");
    // the panel narrows the view: bring the chosen box back into it
    var box = g.getBoundingClientRect(), area = view.getBoundingClientRect();
    var dx = 0;
    if (box.right > area.right - 8) dx = area.right - 8 - box.right;
    if (box.left + dx < area.left + 8) dx = area.left + 8 - box.left;
    if (dx) { tx += dx; apply(); }
  }
  svg.addEventListener("click", function (e) {
    if (dragged) { dragged = false; return; }
    var g = e.target.closest ? e.target.closest(".node") : null;
    if (g) show(+g.getAttribute("data-i"));
  });
  // a model that fails opens on its failing layer, with its row in the panel
  var failed = -1;
  data.nodes.forEach(function (n, i) { if (failed < 0 && n.state === "failed") failed = i; });
  function start() {
    opening();
    if (failed < 0) return;
    var box = svg.querySelector('[data-i="' + failed + '"] rect').getBoundingClientRect();
    var area = view.getBoundingClientRect();
    if (box.bottom > area.bottom) { ty -= box.top - area.top - view.clientHeight / 3; apply(); }
  }
  // until the view is panned or zoomed, a new window size opens it afresh
  window.addEventListener("resize", function () { if (!touched) start(); });
  if (failed >= 0) show(failed);
  start();
})();
"""


def embedded_json(value: object) -> str:
    """JSON safe inside a ``<script>`` element: no ``<``, ``>`` or ``&`` left to close it."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def page_data(diagram: Diagram) -> dict[str, object]:
    nodes = []
    for node in diagram.nodes:
        item = node.to_dict()
        if node.row is not None:
            item["from"] = list(node.row.inputs)
        nodes.append(item)
    return {
        "model": diagram.model,
        "summary": diagram.summary,
        "depth": diagram.depth,
        "smallest": SMALL,
        "min_text": MIN_TEXT_PX,
        "nodes": nodes,
    }


def to_html(diagram: Diagram) -> str:
    name = diagram.model or "model"
    title = escape(f"{name} · convcalc draw")
    return "".join(
        [
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n",
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
            f"<title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<header>",
            f'<span class="model">{escape(f"{name}: {diagram.summary}")}</span>',
            '<button id="zoom-out" title="zoom out (-)">−</button>',
            '<span id="zoom">100 %</span>',
            '<button id="zoom-in" title="zoom in (+)">+</button>',
            '<button id="actual" title="text at its own size (100 %)">1:1</button>',
            '<button id="fit" title="the whole diagram in the window">fit</button>',
            '</header>\n<main>\n<div id="view">\n',
            to_svg(diagram, standalone=False),
            '</div>\n<aside id="panel" aria-live="polite"></aside>\n</main>\n',
            '<script type="application/json" id="convcalc-data">',
            embedded_json(page_data(diagram)),
            f"</script>\n<script>{SCRIPT}</script>\n</body>\n</html>\n",
        ]
    )
