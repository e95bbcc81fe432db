"""What each traced quantity is computed from: the dependency graph of one iteration.

Read from the formulas' expression trees: a quantity's parents are the quantities its tree
refers to (a chain product's factors, a sum's terms); an update p+ reads p, its gradient and α. Names are the trace's; values after
the update carry a `+` (w5+, z1+, E_total+), as in answers files and `Iteration.walk()`.
"""

from __future__ import annotations

from .answers import ALPHA
from .expr import refs
from .notation import E_TOTAL, name, partial
from .trace import Iteration, forward_items, pass_items

UNCHANGED = ("x", "t")  # inputs and targets are the same after the update


def _parents(q, suffix: str = "") -> list[str]:
    if q.expr is None:
        return []
    return [r.name + ("" if r.ident.kind in UNCHANGED else suffix) for r in refs(q.expr)]


def graph(it: Iteration) -> dict[str, list[str]]:
    """name -> the names it is computed from (direct parents), for the first pass and its check."""
    g: dict[str, list[str]] = {}
    p = it.passes[0]
    for _, n, q in pass_items(p):
        g.setdefault(n, _parents(q))
    for u in it.updates:
        g[u.name + "+"] = [u.name, name(partial(E_TOTAL, u.ident), it.names), ALPHA]
    for c in it.checks[:1]:
        for _, n, q in forward_items(c.forward, c.loss):
            g[n + "+"] = _parents(q, "+")
    return g


def ancestors(g: dict[str, list[str]], name: str, stop=frozenset()) -> list[str]:
    """Every quantity `name` depends on, nearest first; the walk goes no further back than a name in
    `stop` (a value the student got right: what it was computed from is not blamed)."""
    seen, order, frontier = set(), [], list(g.get(name, []))
    while frontier:
        nxt = []
        for n in frontier:
            if n not in seen:
                seen.add(n)
                order.append(n)
                nxt += [] if n in stop else g.get(n, [])
        frontier = nxt
    return order
