"""What each traced quantity is computed from: the dependency graph of one iteration.

Names are the trace's; values after the update carry a `+` (w5+, z1+, E_total+), as in
answers files and the `quantities()` listing.
"""

from __future__ import annotations

from .trace import Forward, Iteration, Loss, Product, Sum


def _forward(f: Forward, loss: Loss, graph: dict[str, list[str]], suffix: str = "") -> None:
    inputs = {q.name for q in f.inputs}

    def n(name: str) -> str:  # inputs and targets do not change with the update
        return name if name in inputs or not suffix else name + suffix

    for layer in f.layers:
        for neuron in layer:
            parents = []
            for t in neuron.terms:
                parents += [t.weight.name + suffix, n(t.source.name)]
            if neuron.bias is not None:
                parents.append(neuron.bias.name + suffix)
            graph[neuron.z.name + suffix] = parents
            graph[neuron.out.name + suffix] = [neuron.z.name + suffix] + (
                [m.z.name + suffix for m in layer] if neuron.activation == "softmax" else [])
    for q, t, o in zip(loss.errors, loss.targets, f.outputs):
        graph[q.name + suffix] = [o.out.name + suffix, t.name] + (
            [m.z.name + suffix for m in f.outputs] if o.activation == "softmax" else [])
    graph[loss.total.name + suffix] = [q.name + suffix for q in loss.errors]


def graph(it: Iteration) -> dict[str, list[str]]:
    """name -> the names it is computed from (direct parents), for the first pass and its check."""
    g: dict[str, list[str]] = {}
    p = it.passes[0]
    _forward(p.forward, p.loss, g)
    outs = {n.out.name: n for n in p.forward.outputs}
    for layer in p.backward:
        for neuron in layer.neurons:
            d = neuron.dE_dout
            if isinstance(d, Sum):
                for t in d.terms:
                    g[t.name] = [f.name for f in t.factors]
                g[d.name] = [t.name for t in d.terms]
            elif neuron.out in outs:
                idx = list(outs).index(neuron.out)
                g[d.name] = [neuron.out, p.loss.targets[idx].name]
            if neuron.dout_dz is not None:
                g[neuron.dout_dz.name] = [neuron.out, neuron.z]
            for q in neuron.jacobian:
                g[q.name] = [n.out.name for n in p.forward.outputs]
            parts = neuron.delta.factors if isinstance(neuron.delta, Product) else neuron.delta.terms
            if isinstance(neuron.delta, Sum):
                for t in neuron.delta.terms:
                    g[t.name] = [f.name for f in t.factors]
            g[neuron.delta.name] = [q.name for q in parts]
        for grad in layer.gradients:
            if isinstance(grad, Sum):
                for t in grad.terms:
                    g[t.name] = [f.name for f in t.factors]
                g[grad.name] = [t.name for t in grad.terms]
            else:
                g[grad.name] = [f.name for f in grad.factors]
                for f in grad.factors:
                    if f.name.startswith("dz") and f.formula and f.formula != "1":
                        g.setdefault(f.name, [f.formula])  # dz3/dw5 = h1
    for u in it.updates:
        g[u.name + "+"] = [u.name, f"dE_total/d{u.name}"]
    for c in it.checks[:1]:
        _forward(c.forward, c.loss, g, "+")
    return g


def ancestors(g: dict[str, list[str]], name: str) -> list[str]:
    """Every quantity `name` depends on, nearest first."""
    seen, order, frontier = set(), [], list(g.get(name, []))
    while frontier:
        nxt = []
        for n in frontier:
            if n not in seen:
                seen.add(n)
                order.append(n)
                nxt += g.get(n, [])
        frontier = nxt
    return order
