"""The network as terminal text: columns of nodes (inputs, then each layer's neurons with their values)
and, between them, the edges with their weights. The current quantity and the ones it reads are
highlighted (each node and edge knows the keys it stands for, as in walk.html). A network too large to
draw legibly in the space given becomes one box per layer with its count; the walk still works.

Rich only (no Textual): the app puts the Text in a widget; a cell's style carries the quantity a click
jumps to (meta "jump")."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

from rich.style import Style
from rich.text import Text

from ..exports.walk_html import _neuron_keys, key
from ..fmt import num
from ..notation import after as plus
from ..notation import name
from ..trace import neuron_rows

CURRENT = Style(bold=True, color="black", bgcolor="yellow")
DEP = Style(bold=True, color="cyan")
NODE = Style(bold=True)
EDGE = Style(dim=True)
GAP = 2  # spaces between columns


@dataclass(frozen=True)
class Cell:
    text: str
    keys: frozenset[str]  # the quantities it stands for (highlighted when current or read)
    target: str  # the step a click jumps to
    edge: bool = False


@lru_cache(maxsize=8)  # built once per iteration and naming: every key press redraws
def columns(it, N, after: bool, compact: bool, precision: int = 4, sample: int = 1) -> list[list[Cell]]:
    """Node columns (inputs, each layer) with edge columns between them, for one sample's pass of the
    update (a batch has one per sample; its keys carry @sample); `after`: values after the update."""
    p = next((q for q in it.passes if q.sample == sample), it.passes[0])
    check = next((c for c in it.checks if c.sample == sample), it.checks[0] if it.checks else None)
    checked = check.forward if after and check else p.forward
    tag = p.sample if len(it.passes) > 1 else 0
    at = f"@{tag}" if tag else ""
    new = {u.name: u.new for u in it.updates} if after else {}
    d = 3 if compact else precision
    cols = [[_node(q, q2, [key(q, tag)], N, after, d, tag) for q, q2 in zip(p.forward.inputs, checked.inputs)]]
    for l, layer in enumerate(p.forward.layers):
        edges = []
        for j, n in enumerate(layer):
            for t in n.terms:
                w = t.weight
                v = num(new.get(w.name, w.value), d, w.name not in new and w.given)
                label = name(plus(w.ident) if w.name in new else w.ident, N, "unicode")
                src = "" if compact else f"{name(t.source.ident, N, 'unicode')}→{name(n.out.ident, N, 'unicode')} "
                k = key(w)  # a parameter's key is the same in every sample
                keys = (k, k + "+", f"dE_total/d{k}{at}", f"d{n.z.name}/d{k}{at}")  # w, w⁺, its gradient, factor
                edges.append(Cell(f"{src}{label} {v}", frozenset(keys), k + "+" if after else k, True))
        cols.append(edges)
        cols.append([_node(n.out, checked.layers[l][j].out, _node_keys(it, p, l, j, tag), N, after, d, tag)
                     for j, n in enumerate(layer)])
    return cols


def _node_keys(it, p, l: int, j: int, tag: int) -> list[str]:
    """A neuron's quantities: walk.html's (z, out, δ, ∂E/∂out, ∂out/∂z, z⁺, out⁺) and every other row the
    backward pass computes for it (the terms of a sum, a softmax output's Jacobian)."""
    layer = next(b for b in p.backward if b.index == l)
    rows = neuron_rows(replace(layer, neurons=layer.neurons[j:j + 1]))
    return _neuron_keys(it, p, l, j) + [key(q, tag) for q in rows]


def _node(q, q2, keys, N, after: bool, d: int, tag: int) -> Cell:
    """A node: its name and value (after the update: the check pass's, q2); a click goes to its step."""
    moved = after and not q.given
    shown = q2 if after else q
    return Cell(f"{name(plus(q.ident) if moved else q.ident, N, 'unicode')} {num(shown.value, d, shown.given)}",
                frozenset(keys), key(q2 if moved else q, tag))


def _style(c: Cell, current: str, deps: set[str]) -> Style:
    base = CURRENT if current in c.keys else DEP if c.keys & deps else EDGE if c.edge else NODE
    return base + Style(meta={"jump": c.target})


def draw(cols: list[list[Cell]], current: str, deps: set[str]) -> Text:
    """The columns side by side, each centred vertically."""
    widths = [max((len(c.text) for c in col), default=0) for col in cols]
    rows = max(map(len, cols))
    out = Text(no_wrap=True, overflow="crop")
    for r in range(rows):
        line = Text()
        for col, w in zip(cols, widths):
            top = (rows - len(col)) // 2
            c = col[r - top] if 0 <= r - top < len(col) else None
            line.append(c.text.ljust(w) if c else " " * w, _style(c, current, deps) if c else None)
            line.append(" " * GAP)
        out.append(line)
        if r < rows - 1:
            out.append("\n")
    return out


def size(cols: list[list[Cell]]) -> tuple[int, int]:
    """(width, height) of the drawn columns."""
    return sum(max((len(c.text) for c in col), default=0) + GAP for col in cols), max(map(len, cols))


def boxes(it, N, current: str, deps: set[str], precision: int = 4) -> Text:
    """One box per layer with its count and activation; the layer holding the current quantity highlighted."""
    cols = columns(it, N, False, True, precision)
    acts = [layer[0].activation for layer in it.passes[0].forward.layers]
    nb = "\u00a0"  # no-break spaces: a narrow screen wraps between the boxes only
    labels = [f"[{nb}{len(cols[0])}{nb}inputs{nb}]"]
    for l, a in enumerate(acts):
        labels.append(f"{len(cols[2 * l + 1])}{nb}weights")
        labels.append(f"[{nb}{len(cols[2 * l + 2])}{nb}{a}{nb}]")
    out = Text(no_wrap=True, overflow="fold")
    for i, (label, col) in enumerate(zip(labels, cols)):
        keys = frozenset().union(*(c.keys for c in col)) if col else frozenset()
        first = col[0].target if col else ""
        style = CURRENT if current in keys else DEP if keys & deps else EDGE if i % 2 else NODE
        if i:
            out.append(" ─ " if i % 2 else " ─▶ ")
        out.append(label, style + Style(meta={"jump": first}))
    return out


def diagram(it, N, current: str, deps: set[str], after: bool, space: tuple[int, int], precision: int = 4,
            sample: int = 1) -> Text:
    """The largest legible drawing that fits `space` (width, height): nodes and labelled edges, then
    edges without their endpoints, then the nodes with each layer's edges as one count, then layer boxes."""
    for compact, bundled in ((False, False), (True, False), (False, True), (True, True)):
        cols = columns(it, N, after, compact, precision, sample)
        if bundled:
            cols = [col if i % 2 == 0 else _bundle(col, after) for i, col in enumerate(cols)]
        w, h = size(cols)
        if w <= space[0] and h <= space[1]:
            return draw(cols, current, deps)
    return boxes(it, N, current, deps, precision)


def _bundle(edges: list[Cell], after: bool) -> list[Cell]:
    """A layer's edges as one cell, `─ 16 w ─▶` (w⁺ after the update), lit when any of them is in play."""
    keys = frozenset().union(*(c.keys for c in edges))
    return [Cell(f"─ {len(edges)} w{'⁺' if after else ''} ─▶", keys, edges[0].target, True)]
