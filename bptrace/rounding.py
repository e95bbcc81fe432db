"""Textbook rounding of a traced update (`run --round N`): every computed value rounded half up to N
decimals before anything uses it, as a hand calculation does. The values are recomputed from the
trace's own formulas (misconceptions.Net.propagate), so every number shown is the rounded one."""

from __future__ import annotations

from dataclasses import replace

from .errors import UsageError
from .expr import refs
from .misconceptions import Net, key


def round_trace(trace, decimals: int):
    """The trace with every computed value rounded to `decimals`; its title says so."""
    from .check import givens

    if len(trace.iterations) != 1 or trace.iterations[0].optimizer != "sgd":
        raise UsageError("round: textbook rounding follows plain gradient descent (optimizer sgd) over one update",
                         param="round")
    it = trace.iterations[0]
    net = Net(it, givens(it), {})
    vals = net.propagate({}, decimals)
    for group, n, q in it.walk():
        if group == "update":
            continue
        q.value = vals[n]
        for r in refs(q.expr) if q.expr is not None else ():
            if not r.given:
                r.value = vals.get(key(r), r.value)
    updates = tuple(replace(u, new=vals[u.name + "+"], gradient=vals[net.grad(u)]) for u in it.updates)
    title = f"{trace.spec.title or 'Network'} (every computed value rounded to {decimals} decimals)"
    return replace(trace, spec=replace(trace.spec, title=title), iterations=(replace(it, updates=updates),))
