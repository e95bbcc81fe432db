"""Textbook rounding (`run --round N`, `step --round N`): every computed value rounded half up to N
decimals before anything uses it, as a hand calculation does. The values are recomputed from the
trace's own formulas (misconceptions.Net.propagate), so every number shown is the rounded one; in a
training run each update starts from the previous update's rounded weights."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .errors import UsageError
from .expr import refs
from .misconceptions import Net, key


MAX_DECIMALS = 12  # --round N: 0 ≤ N ≤ 12


def check_rounding(optimizer: str, batch_size: int | None = 1, decimals: int = 0) -> None:
    """Rounding follows plain gradient descent, one sample per update (as hand calculations do)."""
    if isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= MAX_DECIMALS:
        raise UsageError(f"round: expected a whole number of decimals from 0 to {MAX_DECIMALS}, got {decimals!r}",
                         param="round")
    if optimizer != "sgd":
        raise UsageError(f"round: textbook rounding follows plain gradient descent (optimizer sgd), "
                         f"not {optimizer}", param="round")
    if batch_size != 1:
        raise UsageError("round: textbook rounding follows one sample per update (batch online)", param="round")


def round_iteration(it, decimals: int):
    """The update with every computed value rounded to `decimals` (its quantities are changed in place)."""
    from .check import givens

    check_rounding(it.optimizer, len(it.passes))
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
    return replace(it, updates=updates)


def round_trace(trace, decimals: int):
    """The trace with every computed value rounded to `decimals`; its title says so."""
    if len(trace.iterations) != 1:
        raise UsageError("round: textbook rounding traces one update", param="round")
    it = round_iteration(trace.iterations[0], decimals)
    return replace(trace, spec=replace(trace.spec, title=rounded_title(trace.spec, decimals)), iterations=(it,))


def rounded_title(spec, decimals: int) -> str:
    return f"{spec.title or 'Network'} (every computed value rounded to {decimals} decimals)"


def rounded_step(session, batch, epoch: int, decimals: int):
    """One traced update with every value rounded; the session continues from the rounded weights w⁺."""
    it = round_iteration(session.trace_step(batch, epoch), decimals)
    new = {u.name: u.new for u in it.updates}
    flat = np.array([new[p] for p in session.names.params()])
    i = 0
    for P in (p for params in session.net.P for p in params):  # front layers first (bptrace.front)
        P[...] = flat[i:i + P.size].reshape(P.shape)
        i += P.size
    for W, b in zip(session.net.W, session.net.b):  # the order of trainer.param_values
        W[...] = flat[i:i + W.size].reshape(W.shape)
        i += W.size
        if b is not None:
            b[...] = flat[i:i + b.size]
            i += b.size
    return it
