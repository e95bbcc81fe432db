"""The walk: every quantity of a traced update, one at a time, in the textbook's order.

The library entry point behind `bptrace explore` (and `walk.html`, whose step list it shares:
exports/walk_html.py). It reads the trace only: every number is the number `bptrace run` shows.

    steps(trace)              forward (z, then h or o, layer by layer), errors, backward (output layer
                              first; each gradient after its factors), updates, the check pass
    focus(steps, "w1")        only the chain that leads to w1's gradient and update, in order
    find(steps, "∂E_total/∂w5")  a step's index by any name `check` accepts (either naming scheme)
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .errors import DivergedError, UsageError, clip
from .exports.walk_html import SCHEMES, Step, _chain_reads, _steps, key, step_name
from .expr import refs, render
from .fmt import num
from .formulas import update_tree
from .naming import for_spec
from .notation import name, spellings
from .trace import Iteration

__all__ = ["Step", "steps", "focus", "find", "Equation", "equation", "used_for", "given", "parameters",
           "names_for", "first_iteration", "next_iteration", "focused", "SCHEMES"]


def steps(trace, iteration: int = 0) -> list[Step]:
    """Every quantity of one traced update (a Trace and an index, or an Iteration), in textbook order."""
    it = trace if isinstance(trace, Iteration) else trace.iterations[iteration]
    return _steps(it)


def parameters(walk: list[Step]) -> list[str]:
    """The parameters that are updated, in numbering order (w1 … then biases per layer)."""
    return [s.key[:-1] for s in walk if s.phase == "update"]


def focus(walk: list[Step], param: str, names: dict | None = None) -> list[Step]:
    """The chain of parameter `param` (w1, w1⁺ or ∂E_total/∂w1; with `names`, in any scheme): every backward
    step its gradient is computed from (through the formulas' factors: ∂E_total/∂w1 ← ∂E_total/∂h1 ←
    ∂E_o1/∂h1 ← δ_o1 ← …), then its update; in walk order."""
    p = spellings(param).removesuffix("+")
    p = p.removeprefix("dE_total/d")  # the gradient's name names the same chain
    updates = [s for s in walk if s.phase == "update"]
    start = next((s for s in updates if s.key == f"{p}+" or names and any(
        name(s.q.ident, N, "ascii") == p for N in names.values())), None)
    if start is None:
        known = ", ".join(parameters(walk)) or "none"
        raise UsageError(f"focus '{clip(param)}': no such parameter is updated (parameters: {known})", param="focus")
    backward = {s.key: s for s in walk if s.phase == "backward"}
    chain, todo = {start.key}, list(_chain_reads(start))
    while todo:
        k = todo.pop()
        if k in backward and k not in chain:
            chain.add(k)
            todo += _chain_reads(backward[k])
    return [s for s in walk if s.key in chain and s.phase in ("backward", "update")]


def given(it: Iteration) -> dict[str, object]:
    """The quantities no step computes (inputs, weights and biases before the update, targets), by key
    (in a batch, a sample's inputs and targets as x1@2; the parameters are shared)."""
    out = {}
    for p in it.passes:
        tag = p.sample if len(it.passes) > 1 else 0
        out.update((key(q, tag), q) for q in p.forward.given)
        for layer in p.forward.layers:
            for n in layer:
                out.update((key(t.weight), t.weight) for t in n.terms)
                if n.bias is not None:
                    out[key(n.bias)] = n.bias
                if n.mask is not None:  # dropout: each sample's own mask
                    out[key(n.mask, tag)] = n.mask
        out.update((key(t, tag), t) for t in p.loss.targets)
        for block in p.forward.front:  # front layers: the image or sequence, the kernels and weights they read
            out.update((key(r, tag), r) for q in block.rows for r in refs(q.expr) if getattr(r, "formula", 0) is None)
    return out


def names_for(spec, it: Iteration) -> dict:
    """{scheme: Names}: the trace's own scheme first, then the other one."""
    names = {it.names.scheme: it.names}
    for s in SCHEMES:
        names.setdefault(s, for_spec(spec, s))
    return names


def find(walk: list[Step], text: str, it: Iteration | None = None, names: dict | None = None) -> int:
    """The index of the step named `text`, by any name `check` accepts (w5⁺, dE_total/dw5, ∂E_total/∂w5,
    delta_o1, δ_o1), in the trace's naming or, given `names` ({scheme: Names}), in any of them. A given
    quantity (x1, w5, target_o1) finds the first step that reads it. UsageError if there is none."""
    want = spellings(text)
    for i, s in enumerate(walk):
        if s.key in (want, f"{want}@1") or names and any(step_name(s, N, "ascii") == want for N in names.values()):
            return i
    source = _given_key(want, it, names) if it is not None else want
    first = next((i for i, s in enumerate(walk) if source in s.depends_on), None)
    if first is None:
        raise UsageError(f"'{clip(text)}': no such quantity in this update; try z1, o1, delta_o1, "
                         "dE_total/dw5 or w5+", param="jump")
    return first


def _given_key(want: str, it: Iteration, names: dict | None) -> str:
    for k, q in given(it).items():
        if k in (want, f"{want}@1") or names and any(name(q.ident, N, "ascii") == want for N in names.values()):
            return k
    return want


@dataclass(frozen=True)
class Equation:
    """`name = formula = numbers = result`, as `bptrace run` writes them (any of formula, numbers empty)."""

    name: str
    formula: str
    numbers: str
    result: str

    def sides(self) -> list[str]:
        return [t for t in (self.name, self.formula, self.numbers, self.result) if t]


def value(step: Step) -> float:
    """The step's number: the new value for an update, else the quantity's value."""
    return step.q.new if step.phase == "update" else step.q.value


def equation(step: Step, it: Iteration, spec, N, precision: int = 8, style: str = "unicode") -> Equation:
    """A step's equation in the notation of names N (unicode or ascii)."""
    q = step.q
    title = step_name(step, N, style)
    if step.phase == "update":
        tree = update_tree(it, spec.optimizer.hyper, q)
        return Equation(title, render(tree, style, N), render(tree, style, None, True, precision),
                        num(q.new, precision, False, style))
    e = q.expr
    if e is None:
        return Equation(title, "", "", num(q.value, precision, q.given, style))
    formula = render(e, style, N)
    numbers = render(e, style, None, True, precision)
    return Equation(title, formula, numbers if numbers != formula else "", num(q.value, precision, q.given, style))


def used_for(walk: list[Step], index: int) -> list[Step]:
    """The later steps that read step `index`'s quantity: in its own sample's pass (a batch's samples name
    their quantities alike), or in the update, which reads every sample's gradient."""
    s0 = walk[index]
    return [s for s in walk[index + 1:] if s0.key in s.depends_on and (s.sample == s0.sample or s.phase == "update")]


def first_iteration(spec, naming: str | None = None, batch: str | int = "online") -> Iteration:
    """The first update: `bptrace run`'s trace online; with a batch, every sample's pass and the mean step."""
    from . import train, tracer

    if batch == "online":
        return tracer.run(spec, sample=1, naming=naming).iterations[0]
    return train(spec, epochs=1, batch=batch, show=[1], naming=naming).traces[0]


def next_iteration(spec, it: Iteration, naming: str | None = None, batch: str | int = "online") -> Iteration:
    """The traced update after `it` (training in order, as `bptrace step` does): `u` in explore."""
    from . import train

    for epoch in (it.epoch, it.epoch + 1):
        result = train(spec, epochs=epoch, batch=batch, show=[epoch], naming=naming)
        found = next((t for t in result.traces if t.step == it.step + 1), None)
        if found is not None:
            return found
        if result.divergence is not None:
            raise DivergedError(f"update {it.step + 1} is never reached: {result.divergence.message()}")
    raise DivergedError(f"update {it.step + 1} was not traced")


def _focused_block(block, chain: set):
    """A front layer's backward step cut to the chain: its other rows stay, its gradients (with their terms)
    only where the chain reads them."""
    from .trace import Sum

    out = {id(g) for g in block.gradients if key(g) not in chain}
    out |= {id(t) for g in block.gradients if id(g) in out and isinstance(g, Sum) for t in g.terms}
    return replace(block, rows=tuple(r for r in block.rows if id(r) not in out),
                   gradients=tuple(g for g in block.gradients if id(g) not in out))


def focused(trace, param: str):
    """The trace cut down to parameter `param`'s chain (`bptrace run --focus`): each layer's gradients and
    the updates keep only the chain's; the forward pass, the errors, the neurons' backward rows (δ of the
    chain's neurons and of their layer-mates: the tables pair them with the forward pass) and the check
    stay. Every renderer and export reads it as it reads any trace."""
    its = []
    for it in trace.iterations:
        chain = {s.key for s in focus(steps(it), param, names_for(trace.spec, it))}
        passes = tuple(replace(p, backward=tuple(
            replace(layer, gradients=tuple(g for g in layer.gradients if key(g) in chain)) for layer in p.backward),
            front=tuple(_focused_block(b, chain) for b in p.front)) for p in it.passes)
        its.append(replace(it, passes=passes, updates=tuple(u for u in it.updates if f"{u.name}+" in chain)))
    return replace(trace, iterations=tuple(its))
