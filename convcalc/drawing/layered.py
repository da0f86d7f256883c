"""A layered layout of a directed acyclic graph, top to bottom, in pure Python.

The classic steps (Sugiyama, Tagawa and Toda, 1981):

1. **layers**: each node one layer below the lowest of its sources (longest path);
2. **long edges**: an edge that spans several layers passes through a point reserved in
   each layer between (a dummy node), so that no edge runs through a box; the long edges
   out of one node share one chain of such points, as a bus;
3. **order**: sweeps down and up the layers sort each layer by the barycentre of its
   neighbours in the layer before (a few sweeps, the best order kept: crossings are
   counted exactly, in O(E log V) per sweep);
4. **coordinates**: each node is pulled towards the mean of its neighbours' positions, in
   sweeps down and up, and each layer placed as near to those wishes as its order and the
   gaps allow (a weighted isotonic regression, linear per layer): branches stand side by
   side and a merge centred under what it merges; last, a box that is the only one below
   its only source box is put in line with it and each long edge made straight, where
   the neighbours leave room;
5. **edges**: from a port on the source's bottom edge, through the reserved points, to a
   port on the target's top edge. Between two layers there is no box, and within a
   layer's band an edge runs vertically through its reserved point or under its own box,
   so no edge crosses a box.

The result is deterministic: the same sizes and edges give the same coordinates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import SpecError

Point = tuple[float, float]

#: the most points the long edges may pass through in all (a chain whose every layer reads
#: the model input would need a number growing with the square of its length)
MAX_BEND_POINTS = 300_000
#: the ordering sweeps, at most (each one down or up the layers)
MAX_SWEEPS = 8
#: the coordinate sweeps (each one down and up), and the vertices × sweeps allowed
COORDINATE_SWEEPS = 6
SWEEP_BUDGET = 150_000
#: how much a long edge's reserved point weighs against a box where both want the same place,
#: and as a neighbour pulling a box: little, so that a chain of boxes stays in line and a
#: long edge (a skip connection) goes round it; a long edge is straightened afterwards
DUMMY_WEIGHT = 0.05
DUMMY_PULL = 0.1


@dataclass(frozen=True)
class Spacing:
    #: between two boxes of a layer
    box_gap: float = 28.0
    #: between a box and a long edge, and between two long edges
    edge_gap: float = 14.0
    #: between two layers
    layer_gap: float = 46.0
    #: the vertical ends of an edge under its source and above its target
    stub: float = 8.0
    #: around the drawing
    margin: float = 16.0
    #: between the ports of a box's edges
    port_step: float = 18.0


@dataclass(frozen=True)
class Placed:
    #: per node: (x, y, width, height), x and y of its top left corner
    boxes: tuple[tuple[float, float, float, float], ...]
    #: per edge, in the order given: the polyline from its source to its target
    paths: tuple[tuple[Point, ...], ...]
    width: float
    height: float
    #: per node: its layer
    layers: tuple[int, ...]


def lay_out(
    sizes: Sequence[tuple[float, float]],
    edges: Sequence[tuple[int, int]],
    spacing: Spacing | None = None,
) -> Placed:
    """Boxes of ``sizes`` (width, height) and polylines for ``edges`` (source, target),
    laid out top to bottom; the edges must not form a cycle."""
    sp = spacing or Spacing()
    g = _Graph(len(sizes), edges)
    g.order()
    xs = _coordinates(g, sizes, sp)
    return _place(g, sizes, xs, edges, sp)


class _Graph:
    """The layered graph: the nodes, then the reserved points of long edges (dummies)."""

    def __init__(self, n: int, edges: Sequence[tuple[int, int]]) -> None:
        self.n = n
        self.rank = _ranks(n, edges)
        # the long edges out of a node share a chain of dummies, one per layer it spans
        self.chain: dict[int, list[int]] = {}
        far: dict[int, int] = {}
        bends = 0
        for u, v in edges:
            span = self.rank[v] - self.rank[u]
            if span > 1:
                far[u] = max(far.get(u, 0), self.rank[v])
                bends += span - 1
        if bends > MAX_BEND_POINTS:
            raise SpecError(
                f"too many long edges to lay out: they would pass {bends:,} layers in all "
                f"(at most {MAX_BEND_POINTS:,})",
                hint="collapse blocks with --depth N, or write --format dot or mermaid",
            )
        rank = list(self.rank)
        for u in sorted(far):
            self.chain[u] = list(range(len(rank), len(rank) + far[u] - rank[u] - 1))
            rank.extend(range(rank[u] + 1, far[u]))
        self.all_rank = rank
        self.up: list[list[int]] = [[] for _ in rank]
        self.down: list[list[int]] = [[] for _ in rank]
        links: dict[tuple[int, int], None] = {}
        for u, v in edges:
            for a, b in zip(self.route(u, v), self.route(u, v)[1:]):
                links[(a, b)] = None
        for a, b in links:
            self.down[a].append(b)
            self.up[b].append(a)
        self.layers: list[list[int]] = [[] for _ in range(max(rank, default=-1) + 1)]
        # first order: the nodes as given (the config's order), a chain beside its source
        key = [float(v) if v < n else 0.0 for v in range(len(rank))]
        for u, chain in self.chain.items():
            for d in chain:
                key[d] = u + 0.5
        for v in sorted(range(len(rank)), key=lambda v: (key[v], v)):
            self.layers[rank[v]].append(v)
        self.pos = [0] * len(rank)
        self._index()

    def route(self, u: int, v: int) -> list[int]:
        """The vertices an edge passes: its source, the dummies, its target."""
        span = self.rank[v] - self.rank[u]
        return [u, *self.chain[u][: span - 1], v] if span > 1 else [u, v]

    def is_dummy(self, v: int) -> bool:
        return v >= self.n

    def _index(self) -> None:
        for layer in self.layers:
            for i, v in enumerate(layer):
                self.pos[v] = i

    def order(self) -> None:
        """Barycentric sweeps, alternately down and up; the order with the fewest crossings
        is kept."""
        best = [list(layer) for layer in self.layers]
        fewest = self.crossings()
        stale = 0
        for sweep in range(MAX_SWEEPS):
            if fewest == 0 or stale >= 2:
                break
            down = sweep % 2 == 0
            span = range(1, len(self.layers)) if down else range(len(self.layers) - 2, -1, -1)
            for r in span:
                self._sort(r, self.up if down else self.down)
            count = self.crossings()
            if count < fewest:
                fewest, best, stale = count, [list(layer) for layer in self.layers], 0
            else:
                stale += 1
        self.layers = best
        self._index()

    def _sort(self, r: int, near: list[list[int]]) -> None:
        pos = self.pos
        layer = self.layers[r]
        keys = {}
        for v in layer:
            others = near[v]
            keys[v] = sum(pos[o] for o in others) / len(others) if others else float(pos[v])
        layer.sort(key=lambda v: (keys[v], pos[v]))
        for i, v in enumerate(layer):
            pos[v] = i

    def crossings(self) -> int:
        """The edge crossings between every two neighbouring layers (inversions counted with
        a Fenwick tree)."""
        total = 0
        pos = self.pos
        for layer, below in zip(self.layers, self.layers[1:]):
            ends = sorted((pos[a], pos[b]) for a in layer for b in self.down[a])
            if len(ends) < 2:
                continue
            tree = [0] * (len(below) + 1)
            for seen, (_, b) in enumerate(ends):
                # the edges seen so far that end right of b cross this one
                i, not_right = b + 1, 0
                while i > 0:
                    not_right += tree[i]
                    i -= i & -i
                total += seen - not_right
                i = b + 1
                while i <= len(below):
                    tree[i] += 1
                    i += i & -i
        return total


def _ranks(n: int, edges: Sequence[tuple[int, int]]) -> list[int]:
    """Longest-path layers: each node one below the lowest of its sources."""
    down: list[list[int]] = [[] for _ in range(n)]
    indegree = [0] * n
    for u, v in edges:
        down[u].append(v)
        indegree[v] += 1
    rank = [0] * n
    ready = [v for v in range(n) if indegree[v] == 0]
    done = 0
    while ready:
        u = ready.pop()
        done += 1
        for v in down[u]:
            rank[v] = max(rank[v], rank[u] + 1)
            indegree[v] -= 1
            if indegree[v] == 0:
                ready.append(v)
    if done != n:
        raise ValueError("the edges form a cycle")
    return rank


def _coordinates(g: _Graph, sizes: Sequence[tuple[float, float]], sp: Spacing) -> list[float]:
    """Each vertex's centre x: sweeps pull a vertex to its neighbours' mean, each layer placed
    as near to those wishes as its order and gaps allow."""
    width = [sizes[v][0] if v < g.n else 0.0 for v in range(len(g.all_rank))]
    x = [0.0] * len(width)
    gaps: list[list[float]] = []
    for layer in g.layers:
        seps = [
            (width[a] + width[b]) / 2
            + (sp.box_gap if not (g.is_dummy(a) or g.is_dummy(b)) else sp.edge_gap)
            for a, b in zip(layer, layer[1:])
        ]
        gaps.append(seps)
        at = 0.0
        for i, v in enumerate(layer):
            x[v] = at
            if i < len(seps):
                at += seps[i]
        for v in layer:  # centred on 0
            x[v] -= at / 2
    weight = [DUMMY_WEIGHT if g.is_dummy(v) else 1.0 for v in range(len(width))]
    pull = [DUMMY_PULL if g.is_dummy(v) else 1.0 for v in range(len(width))]
    rounds = [(g.up, range(1, len(g.layers))), (g.down, range(len(g.layers) - 2, -1, -1))]
    # fewer sweeps on a very large graph: the first ones move it most
    for _ in range(max(1, min(COORDINATE_SWEEPS, SWEEP_BUDGET // max(1, len(x))))):
        for near, span in rounds:
            for r in span:
                _settle(g.layers[r], gaps[r], near, x, weight, pull)
    # last, each layer between both neighbours, so a branch point stands over its branches
    # as a merge stands under them
    both = [g.up[v] + g.down[v] for v in range(len(width))]
    for r in range(len(g.layers)):
        _settle(g.layers[r], gaps[r], both, x, weight, pull)
    _straighten(g, x, gaps)
    return x


def _straighten(g: _Graph, x: list[float], gaps: Sequence[Sequence[float]]) -> None:
    """Straight lines where the neighbours allow: each node that is the only box below its
    only source box in line with it (long edges aside), then each long edge's chain at one x."""

    def room(r: int, i: int) -> tuple[float, float]:
        layer = g.layers[r]
        lo = x[layer[i - 1]] + gaps[r][i - 1] if i > 0 else -math.inf
        hi = x[layer[i + 1]] - gaps[r][i] if i + 1 < len(layer) else math.inf
        return lo, hi

    real = [[o for o in near if o < g.n] for near in g.up]
    below = [[o for o in near if o < g.n] for near in g.down]
    for r in range(1, len(g.layers)):
        layer, seps = g.layers[r], gaps[r]
        offset = [0.0]
        for sep in seps:
            offset.append(offset[-1] + sep)
        boxes = [i for i, v in enumerate(layer) if v < g.n]
        for k, i in enumerate(boxes):
            v = layer[i]
            if len(real[v]) != 1 or below[real[v][0]] != [v]:
                continue
            # room among the boxes, with the long edges between them pushed aside after
            j = boxes[k - 1] if k > 0 else None
            m = boxes[k + 1] if k + 1 < len(boxes) else None
            lo = x[layer[j]] + offset[i] - offset[j] if j is not None else -math.inf
            hi = x[layer[m]] - offset[m] + offset[i] if m is not None else math.inf
            x[v] = min(max(x[real[v][0]], lo), hi)
        _push_aside(layer, seps, x, g.n)
    for chain in g.chain.values():
        lo, hi = -math.inf, math.inf
        for d in chain:
            a, b = room(g.all_rank[d], g.pos[d])
            lo, hi = max(lo, a), min(hi, b)
        if lo <= hi:
            want = sorted(x[d] for d in chain)[len(chain) // 2]
            for d in chain:
                x[d] = min(max(want, lo), hi)


def _push_aside(layer: Sequence[int], seps: Sequence[float], x: list[float], n: int) -> None:
    """Move the long edges' points of a layer out of the way of its boxes: left of a box
    leftwards, right of it rightwards; then anything still too close apart."""
    for i in range(len(layer) - 2, -1, -1):
        if layer[i] >= n:
            x[layer[i]] = min(x[layer[i]], x[layer[i + 1]] - seps[i])
    for i in range(1, len(layer)):
        if layer[i] >= n:
            x[layer[i]] = max(x[layer[i]], x[layer[i - 1]] + seps[i - 1])
    for i in range(1, len(layer)):
        x[layer[i]] = max(x[layer[i]], x[layer[i - 1]] + seps[i - 1])


def _settle(
    layer: Sequence[int],
    seps: Sequence[float],
    near: Sequence[Sequence[int]],
    x: list[float],
    weight: Sequence[float],
    pull: Sequence[float],
) -> None:
    """Place ``layer``'s vertices, in order and at least ``seps`` apart, as near as possible
    (least weighted squares) to the mean x of their ``near`` vertices (weighted by ``pull``):
    pool adjacent violators on the positions less the gaps before them."""
    if len(layer) == 1:  # nothing beside it: where its neighbours want it
        v = layer[0]
        if near[v]:
            x[v] = sum(x[o] * pull[o] for o in near[v]) / sum(pull[o] for o in near[v])
        return
    blocks: list[list[float]] = []  # [weight, weighted sum, count]
    offset = 0.0
    offsets = []
    for i, v in enumerate(layer):
        others = near[v]
        want = (
            sum(x[o] * pull[o] for o in others) / sum(pull[o] for o in others) if others else x[v]
        )
        w = weight[v] if others else weight[v] / 4
        offsets.append(offset)
        block = [w, w * (want - offset), 1.0]
        while blocks and blocks[-1][1] / blocks[-1][0] > block[1] / block[0]:
            last = blocks.pop()
            block = [last[0] + block[0], last[1] + block[1], last[2] + block[2]]
        blocks.append(block)
        if i < len(seps):
            offset += seps[i]
    i = 0
    for w, total, count in blocks:
        level = total / w
        for _ in range(int(count)):
            x[layer[i]] = level + offsets[i]
            i += 1


def _place(
    g: _Graph,
    sizes: Sequence[tuple[float, float]],
    xs: list[float],
    edges: Sequence[tuple[int, int]],
    sp: Spacing,
) -> Placed:
    """Boxes at their layer's top, and each edge's polyline through its ports and dummies."""
    left = min((xs[v] - sizes[v][0] / 2 if v < g.n else xs[v] for v in range(len(xs))), default=0)
    shift = sp.margin - left
    x = [value + shift for value in xs]
    tops, heights = [], []
    y = sp.margin
    for layer in g.layers:
        height = max((sizes[v][1] for v in layer if v < g.n), default=0.0)
        tops.append(y)
        heights.append(height)
        y += height + sp.layer_gap
    boxes = tuple(
        (x[v] - sizes[v][0] / 2, tops[g.rank[v]], sizes[v][0], sizes[v][1]) for v in range(g.n)
    )
    out_port = _ports(g, x, boxes, sp, g.down)
    in_port = _ports(g, x, boxes, sp, g.up)
    paths = []
    for u, v in edges:
        route = g.route(u, v)
        px = out_port[(u, route[1])]
        r = g.rank[u]
        points: list[Point] = [(px, boxes[u][1] + boxes[u][3])]
        points.append((px, tops[r] + heights[r] + sp.stub))
        for d in route[1:-1]:
            rd = g.all_rank[d]
            points += [(x[d], tops[rd] - sp.stub), (x[d], tops[rd] + heights[rd] + sp.stub)]
        qx = in_port[(v, route[-2])]
        points += [(qx, boxes[v][1] - sp.stub), (qx, boxes[v][1])]
        paths.append(tuple(_distinct(points)))
    width = max((b[0] + b[2] for b in boxes), default=0.0)
    width = max([width, *(x[d] for d in range(g.n, len(x)))]) + sp.margin
    return Placed(boxes, tuple(paths), width, y - sp.layer_gap + sp.margin, tuple(g.rank))


def _ports(
    g: _Graph,
    x: Sequence[float],
    boxes: Sequence[tuple[float, float, float, float]],
    sp: Spacing,
    links: Sequence[Sequence[int]],
) -> dict[tuple[int, int], float]:
    """Where on its box each of a node's edges (to or from the vertex beside it) meets it:
    straight above or below the other end where the box reaches, else as near as it can,
    in the order of the other ends and at least a step apart, so that they do not cross."""
    ports = {}
    for v in range(g.n):
        ends = sorted(links[v], key=lambda o: (x[o], o))
        if not ends:
            continue
        left, _, width, _ = boxes[v]
        step = min(sp.port_step, (width - 2 * sp.port_step) / max(1, len(ends) - 1))
        step = max(step, 0.0)
        lo, hi = left + sp.port_step, left + width - sp.port_step
        at = [min(max(x[o], lo), hi) for o in ends]
        for i in range(1, len(at)):  # apart, rightwards
            at[i] = max(at[i], at[i - 1] + step)
        if at[-1] > hi:  # back inside, leftwards
            at[-1] = hi
            for i in range(len(at) - 2, -1, -1):
                at[i] = min(at[i], at[i + 1] - step)
        if len(ends) == 1 and not lo <= at[0] <= hi:
            at[0] = left + width / 2
        for o, px in zip(ends, at):
            ports[(v, o)] = max(left, min(px, left + width))
    return ports


def _distinct(points: list[Point]) -> list[Point]:
    out = [points[0]]
    for p in points[1:]:
        if p != out[-1]:
            out.append(p)
    return out
