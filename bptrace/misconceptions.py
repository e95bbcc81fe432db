"""A catalogue of named misconceptions, each a small variant of the traced computation.

A variant replaces a few quantities with the value the misconception gives (∂E_total/∂o1 with the
opposite sign, w5⁺ = w5 − ∂E_total/∂w5 without α …) and recomputes everything downstream from the
trace's own expression trees (`propagate`). `check` names a misconception when a wrong claim equals
the variant's value at the precision it was written with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Callable, Iterator

from .answers import ALPHA
from .expr import Num, Op, Ref, Sym
from .fmt import num
from .notation import Id, name as id_name
from .trace import Iteration, Product, Sum

MIN_DIGITS = 3  # significant digits a claim needs before a misconception is named from it (0.1 matches too much)
MAX_PLACES = 17  # decimals beyond float64's: no rounding
MAX_WALK = 4000  # quantities in one update above which no variant is tried (a 784×128 net has 200,000)


@dataclass(frozen=True)
class Variant:
    overrides: dict  # name -> the misconception's value
    phrases: dict  # name -> what that value does wrong, e.g. "has the opposite sign"
    when: str  # the slip as a clause: "∂E_total/∂h1 leaves out the path through o2"


@dataclass(frozen=True)
class Misconception:
    key: str
    title: str  # for a class summary: "sign of ∂E/∂o"
    rule: str  # the right rule, one clause (may use {names})
    variants: Callable[["Net"], Iterator[Variant]]


# ---------------------------------------------------------------- evaluating the trace's formulas

_OPS = {
    "add": lambda *a: sum(a), "sub": lambda a, b: a - b, "neg": lambda a: -a, "mul": lambda *a: math.prod(a),
    "chain": lambda *a: math.prod(a), "coef": lambda c, a: c * a, "div": lambda a, b: a / b, "pow": lambda a, n: a ** n,
    "exp": math.exp, "sqrt": math.sqrt, "log": math.log,
}
_FN = {"tanh": math.tanh, "max": max, "log": math.log, "erf": math.erf,
       "sigmoid": lambda z: 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))}


def evaluate(e, get) -> float:
    """The value of an expression tree, each referenced quantity's value from get(quantity)."""
    if isinstance(e, Ref):
        return get(e.q)
    if isinstance(e, (Num, Sym)):
        return e.v
    if e.op == "fn":
        return _FN[e.args[0]](*(evaluate(a, get) for a in e.args[1:]))
    if e.op == "if":  # a if z > c else b (c = 0 unless given)
        a, z, b, *c = e.args
        bound = evaluate(c[0], get) if c else 0
        return evaluate(a, get) if evaluate(z, get) > bound else evaluate(b, get)
    args = e.args[1:] if e.op == "sum" else e.args
    try:
        return _OPS["add" if e.op == "sum" else e.op](*(evaluate(a, get) for a in args))
    except (ArithmeticError, ValueError):
        return math.nan


def key(q) -> str:
    """The walked name of a quantity a formula reads: w5 after the update is w5+ (inputs and targets stay)."""
    return q.name + ("+" if q.ident is not None and q.ident.after and q.ident.kind not in ("x", "t") else "")


def rounded(v: float, decimals: int) -> float:
    """v rounded half up (as by hand: 0.24937500 -> 0.2494), from its shortest decimal form."""
    if not math.isfinite(v) or decimals > MAX_PLACES:
        return v
    try:
        return float(Decimal(repr(v)).quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_UP))
    except InvalidOperation:  # more digits than Decimal's context holds (1e300 to 5 decimals): as is
        return v


class Net:
    """One traced update, as the catalogue reads it: values by name, quantities, names to show."""

    def __init__(self, it: Iteration, given: dict[str, float], idents: dict):
        self.it, self.given, self.idents = it, given, idents
        self.walked: dict[str, tuple[str, object]] = {}
        for group, n, q in it.walk():
            self.walked.setdefault(n, (group, q))
        self.values = dict(given)
        for _, n, v in it.quantities():
            self.values.setdefault(n, v)
        self.p = it.passes[0]

    def show(self, n) -> str:
        """A name (or an Id) in the terminal's notation."""
        if isinstance(n, Id):
            return id_name(n, self.it.names, "unicode")
        return id_name(self.idents[n], self.it.names, "unicode") if n in self.idents else "α"

    def propagate(self, overrides: dict[str, float], decimals: int | None = None) -> dict[str, float]:
        """Every value recomputed from the trace's formulas, with `overrides` in place of what they name;
        with `decimals`, each computed value rounded half up to that many decimals before anything uses it,
        as a hand calculation does."""
        vals = dict(self.given)
        vals.update(overrides)

        def get(q):
            return vals.get(key(q), q.value)

        for n, (group, q) in self.walked.items():
            if n in overrides:
                continue
            if group == "update":
                v = self._updated(q, vals)
            else:
                v = q.value if q.expr is None else evaluate(q.expr, get)
            vals[n] = v if decimals is None or q.given and group != "update" else rounded(v, decimals)
        return vals

    def _updated(self, u, vals) -> float:
        """p⁺ = p − α·∂E_total/∂p (plain gradient descent); other optimizers keep the traced value."""
        if self.it.optimizer != "sgd" or u.weight_decay:
            return u.new
        alpha = vals[ALPHA] if u.learning_rate is None else u.learning_rate  # its parameter group's α
        return vals[u.name] - alpha * vals[self.grad(u)]

    def grad(self, u) -> str:
        return id_name(Id("d", of=Id("E_total"), by=u.ident), self.it.names)

    def layers(self):
        """(l, forward neurons, backward layer) from the input side."""
        back = {b.index: b for b in self.p.backward}
        return [(l, layer, back[l]) for l, layer in enumerate(self.p.forward.layers)]

    def sources(self, l: int) -> list:
        """The quantities layer l reads: the inputs, or the layer before's outputs."""
        if l == 0:
            return list(self.p.forward.inputs)
        return [n.out if n.dropped is None else n.dropped for n in self.p.forward.layers[l - 1]]  # dropout: h̃

    def weight_factors(self, l: int) -> Iterator[tuple[object, object, int, int]]:
        """(gradient, its last factor ∂z/∂p, j, k) for every weight of layer l (k = -1 for a bias)."""
        for g in self.back(l).gradients:
            if not isinstance(g, Product):
                for t in g.terms:  # a shared bias: one term per neuron
                    yield t, t.factors[-1], t.factors[-1].ident.by.j, -1
                continue
            by = g.factors[-1].ident.by
            yield g, g.factors[-1], by.j, (by.k if by.kind == "w" else -1)

    def back(self, l: int):
        return next(b for b in self.p.backward if b.index == l)

    def n(self, v: float) -> str:
        return num(v, 8)


def _with(net: Net, over: dict, phrases: dict, when: str) -> Iterator[Variant]:
    """A variant, unless it changes nothing."""
    if any(not math.isclose(v, net.values.get(k, math.nan), rel_tol=1e-12, abs_tol=1e-15) for k, v in over.items()):
        yield Variant(over, phrases, when)


# ---------------------------------------------------------------- the catalogue


def _updated_weights(net: Net):
    """The hidden step's paths δ × w use w⁺ (the weights after the update) instead of w."""
    over, phrases = {}, {}
    news = {u.name: u.new for u in net.it.updates}
    for l, _, back in net.layers():
        for neuron in back.neurons:
            if isinstance(neuron.dE_dout, Sum):
                for t in neuron.dE_dout.terms:
                    w = t.factors[1]  # δ × w (× ∂h̃/∂h with dropout)
                    if w.ident is not None and w.ident.kind == "w" and w.name in news:
                        over[t.name] = t.factors[0].value * news[w.name] * math.prod(f.value for f in t.factors[2:])
                        phrases[t.name] = (f"uses the updated {net.show(w.name + '+')} = {net.n(news[w.name])} "
                                           f"instead of {net.show(w.name)} = {w.value:g}")
    yield from _with(net, over, phrases, "the hidden step uses the weights after the update")


def _half(net: Net):
    """½ dropped (half_sse) or added (sse): E and ∂E/∂o doubled or halved."""
    kind = net.p.loss.kind
    if kind not in ("half_sse", "sse"):
        return
    f = 2.0 if kind == "half_sse" else 0.5
    what = "drops the ½ of ½(target − o)²" if f == 2 else "adds a ½ that sse = Σ(target − o)² does not have"
    over, phrases = {}, {}
    for e in net.p.loss.errors:
        over[e.name], phrases[e.name] = e.value * f, what
    for o in net.back(len(net.p.forward.layers) - 1).neurons:
        over[o.dE_dout.name], phrases[o.dE_dout.name] = o.dE_dout.value * f, what
    yield from _with(net, over, phrases, "the loss " + ("drops its ½" if f == 2 else "gains a ½"))


def _output_dEdo(net: Net):
    return [n.dE_dout for n in net.back(len(net.p.forward.layers) - 1).neurons if not isinstance(n.dE_dout, Sum)]


def _sign_dEdo(net: Net):
    over = {q.name: -q.value for q in _output_dEdo(net)}
    yield from _with(net, over, {k: "has the opposite sign" for k in over}, "∂E_total/∂o has the opposite sign")


def _update_variant(net: Net, new, phrase, when):
    if net.it.optimizer != "sgd":
        return
    over, phrases = {}, {}
    for u in net.it.updates:
        g = net.values[net.grad(u)]
        over[u.name + "+"] = new(u.old, g, net.it.alpha(u))
        phrases[u.name + "+"] = phrase.format(p=net.show(u.name), g=net.show(net.grad(u)))
    yield from _with(net, over, phrases, when)


def _sign_update(net: Net):
    yield from _update_variant(net, lambda p, g, a: p + a * g, "adds α·{g} instead of subtracting it",
                               "the update adds the gradient")


def _alpha_forgotten(net: Net):
    yield from _update_variant(net, lambda p, g, a: p - g, "uses α = 1 ({p} − {g})", "the update leaves out α")


def _alpha_twice(net: Net):
    yield from _update_variant(net, lambda p, g, a: p - a * a * g, "multiplies by α twice ({p} − α²·{g})",
                               "the update multiplies by α twice")


def _derivatives(net: Net, act: str):
    """(dout/dz quantity, out value, z value) of every neuron with activation `act`."""
    for l, layer, back in net.layers():
        for f, b in zip(layer, back.neurons):
            if f.activation == act and b.dout_dz is not None:
                yield b.dout_dz, f.out, f.z


def _value_as_derivative(net: Net):
    over, phrases = {}, {}
    for d, out, _ in _derivatives(net, "sigmoid"):
        o = net.show(out.name)
        over[d.name], phrases[d.name] = out.value, f"is {o} itself, not {o}(1 − {o})"
    yield from _with(net, over, phrases, "the sigmoid's derivative is taken as its value")


def _derivative_at_z(net: Net):
    over, phrases = {}, {}
    for d, out, z in _derivatives(net, "sigmoid"):
        over[d.name] = z.value * (1 - z.value)
        phrases[d.name] = f"is evaluated at {net.show(z.name)}: {net.show(z.name)}(1 − {net.show(z.name)})"
    for d, out, z in _derivatives(net, "tanh"):
        over[d.name] = 1 - z.value ** 2
        phrases[d.name] = f"is 1 − {net.show(z.name)}², not 1 − tanh({net.show(z.name)})² = 1 − {net.show(out.name)}²"
    yield from _with(net, over, phrases, "the activation's derivative is evaluated at z instead of its output")


def _relu_kink(net: Net):
    over, phrases = {}, {}
    for d, out, z in _derivatives(net, "relu"):
        if z.value == 0:
            over[d.name] = 1 - d.value
            phrases[d.name] = f"takes relu′(0) = {1 - d.value:g} at the kink ({net.show(z.name)} = 0)"
    yield from _with(net, over, phrases, "relu′ at the kink is taken as 1")


def _dropped_path(net: Net):
    for l, _, back in net.layers():
        for neuron in back.neurons:
            s = neuron.dE_dout
            if not isinstance(s, Sum) or len(s.terms) < 2:
                continue
            for t in s.terms:
                d = t.factors[0].ident  # δ of the output the path goes through
                via = net.show(Id("out", d.l, d.j)) if d is not None and d.kind == "delta" else net.show(t.name)
                parts = " × ".join(net.show(f.name) for f in t.factors)
                phrase = f"leaves out the path through {via} ({parts} = {net.n(t.value)})"
                yield from _with(net, {s.name: s.value - t.value}, {s.name: phrase}, f"{net.show(s.name)} {phrase}")


def _gradient_input(net: Net, pick, phrase, min_layer=1):
    """One variant per weight of layer ≥ min_layer: ∂z/∂w takes pick(l, j, k) (a quantity) instead."""
    for l, _, _ in net.layers():
        if l < min_layer:
            continue
        for g, f, j, k in net.weight_factors(l):
            if k < 0:
                continue
            for q in pick(l, j, k):
                right = net.sources(l)[k]
                text = phrase.format(q=net.show(q.name), h=net.show(right.name))
                yield from _with(net, {f.name: q.value}, {f.name: text}, f"{net.show(f.name)} {text}")


def _neighbour(net: Net):
    yield from _gradient_input(net, lambda l, j, k: [s for i, s in enumerate(net.sources(l)) if i != k],
                               "uses {q}, a neighbour's value, instead of {h}", min_layer=0)


def _x_for_h(net: Net):
    def pick(l, j, k):
        x = net.p.forward.inputs
        return [x[k]] if k < len(x) else []
    yield from _gradient_input(net, pick, "uses the input {q} instead of {h}")


def _z_for_h_gradient(net: Net):
    yield from _gradient_input(net, lambda l, j, k: [net.p.forward.layers[l - 1][k].z],
                               "uses {q} (before the activation) instead of {h}")


def _z_for_h_forward(net: Net):
    """z of the second layer from the first layer's z instead of its h (z3 = w5·z1 + w6·z2)."""
    if len(net.p.forward.layers) < 2:
        return
    over, phrases = {}, {}
    for n in net.p.forward.layers[1]:
        src = [t.source.name for t in n.terms]
        zs = {t.source.name: net.p.forward.layers[0][i].z for i, t in enumerate(n.terms)}
        over[n.z.name] = sum(t.weight.value * zs[t.source.name].value for t in n.terms) + (n.bias.value if n.bias else 0)
        phrases[n.z.name] = (f"adds up {', '.join(net.show(zs[s].name) for s in src)} (before the activation) "
                             f"instead of {', '.join(net.show(s) for s in src)}")
    yield from _with(net, over, phrases, "the second layer weighs the first layer's z instead of its h")


def _dropout_neurons(net: Net) -> list:
    """(forward neuron, its backward neuron) of every hidden neuron with dropout."""
    return [(n, b) for l, layer, back in net.layers() for n, b in zip(layer, back.neurons) if n.dropped is not None]


def _dropout_unscaled(net: Net):
    """Inverted dropout's 1/(1 − p) left out, forward and backward: h̃ = m·h, ∂h̃/∂h = m."""
    over, phrases = {}, {}
    for n, b in _dropout_neurons(net):
        over[n.dropped.name] = n.mask.value * n.out.value
        over[b.keep.name] = n.mask.value
        phrases[n.dropped.name] = (f"leaves out the 1/(1 − p): {net.show(n.mask.name)}·{net.show(n.out.name)} = "
                                   f"{net.n(over[n.dropped.name])}")
        phrases[b.keep.name] = f"leaves out the 1/(1 − p): {net.show(n.mask.name)} = {n.mask.value:g}"
    yield from _with(net, over, phrases, "dropout's scaling 1/(1 − p) is left out")


def _dropout_ignored(net: Net):
    """The next layer reads h, not h̃ (no unit dropped, nothing scaled)."""
    over, phrases = {}, {}
    for n, b in _dropout_neurons(net):
        over[n.dropped.name], over[b.keep.name] = n.out.value, 1.0
        phrases[n.dropped.name] = f"is taken as {net.show(n.out.name)} = {net.n(n.out.value)}, as if nothing were dropped"
        phrases[b.keep.name] = "is taken as 1, as if nothing were dropped"
    yield from _with(net, over, phrases, "dropout is not applied: the next layer reads h, not h̃")


def _transposed(net: Net):
    """∂E_total/∂w_jk taken as δ_k × source_j (the weight index read the other way round)."""
    for l, layer, back in net.layers():
        sources = net.sources(l)
        for g, f, j, k in net.weight_factors(l):
            if k < 0 or j == k or k >= len(layer) or j >= len(sources) or not isinstance(g, Product):
                continue
            delta = back.neurons[k].delta
            phrase = (f"is {net.show(delta.name)} × {net.show(sources[j].name)}: the weight's indices are swapped")
            yield from _with(net, {g.name: delta.value * sources[j].value}, {g.name: phrase},
                             f"{net.show(g.name)} {phrase}")


def _sum_mean(net: Net):
    kind, n = net.p.loss.kind, len(net.p.loss.errors)
    if n < 2 or kind not in ("mse", "half_sse", "sse"):
        return
    f = n if kind == "mse" else 1 / n
    what = f"sums over the {n} outputs where mse takes their mean" if kind == "mse" else \
        f"takes the mean over the {n} outputs where {kind} sums them"
    over, phrases = {}, {}
    for e in net.p.loss.errors:
        over[e.name], phrases[e.name] = e.value * f, what
    for q in _output_dEdo(net):
        over[q.name], phrases[q.name] = q.value * f, what
    yield from _with(net, over, phrases, "the loss " + what)


def _softmax_shortcut(net: Net):
    """δ_o = o − target (true for softmax with cross-entropy, sigmoid with binary cross-entropy) where it is not."""
    last = len(net.p.forward.layers) - 1
    outs, targets, back = net.p.forward.layers[last], net.p.loss.targets, net.back(last)
    over, phrases = {}, {}
    for f, t, b in zip(outs, targets, back.neurons):
        over[b.delta.name] = f.out.value - t.value
        phrases[b.delta.name] = f"is {net.show(f.out.name)} − {net.show(t.name)}, the softmax/cross-entropy shortcut"
    for g, fac, j, k in net.weight_factors(last):
        over[g.name] = over[back.neurons[j].delta.name] * fac.value
        phrases[g.name] = f"uses δ = o − target, the softmax/cross-entropy shortcut"
    yield from _with(net, over, phrases, "δ of the outputs is taken as o − target")


def _bias_times_input(net: Net):
    for l, _, _ in net.layers():
        factors = [f for g, f, j, k in net.weight_factors(l) if k < 0]
        for s in net.sources(l) if factors else []:
            over = {f.name: s.value for f in factors}
            phrase = f"multiplies by {net.show(s.name)}, as a weight's gradient would"
            yield from _with(net, over, {f.name: phrase for f in factors}, f"the bias gradient {phrase}")


CATALOGUE = (
    Misconception("updated-weights", "updated weights in the hidden step",
                  "the hidden step uses the weights from before the update", _updated_weights),
    Misconception("half", "the ½ of the loss", "the ½ of ½(target − o)² cancels the 2 of the derivative: "
                  "∂E_total/∂o = −(target − o) for half_sse, −2(target − o) for sse", _half),
    Misconception("sign-dE/do", "sign of ∂E/∂o", "∂E_total/∂o = −(target − o) is positive when o is above its target",
                  _sign_dEdo),
    Misconception("sign-update", "sign of the update", "gradient descent steps against the gradient: "
                  "p⁺ = p − α·∂E_total/∂p", _sign_update),
    Misconception("alpha-forgotten", "α forgotten", "p⁺ = p − α·∂E_total/∂p with α = {alpha}", _alpha_forgotten),
    Misconception("alpha-twice", "α applied twice", "p⁺ = p − α·∂E_total/∂p with α = {alpha}, once",
                  _alpha_twice),
    Misconception("value-as-derivative", "σ instead of σ′", "σ′(z) = σ(z)(1 − σ(z)) = o(1 − o)",
                  _value_as_derivative),
    Misconception("derivative-at-z", "derivative evaluated at z", "the derivative is written with the neuron's "
                  "output: σ′ = o(1 − o), tanh′ = 1 − h²", _derivative_at_z),
    Misconception("relu-kink", "relu′ at the kink", "bptrace, like PyTorch, takes relu′(0) = 0", _relu_kink),
    Misconception("dropped-path", "a path dropped", "a hidden neuron's error sums over every output it feeds",
                  _dropped_path),
    Misconception("neighbour-input", "a neighbour's input in ∂z/∂w",
                  "∂z/∂w is the value that weight multiplies", _neighbour),
    Misconception("x-for-h", "x instead of h in ∂z/∂w", "a weight's gradient uses the output of the neuron it "
                  "comes from, not the network's input", _x_for_h),
    Misconception("z-for-h-gradient", "z instead of h in ∂z/∂w", "∂z/∂w is the source's output h = f(z), "
                  "not its z", _z_for_h_gradient),
    Misconception("z-for-h-forward", "z instead of h in the forward pass", "a neuron weighs the previous layer's "
                  "outputs h = f(z), not their z", _z_for_h_forward),
    Misconception("dropout-unscaled", "dropout's 1/(1 − p) left out", "inverted dropout scales what it keeps: "
                  "h̃ = m·h / (1 − p) and ∂h̃/∂h = m / (1 − p)", _dropout_unscaled),
    Misconception("dropout-ignored", "dropout not applied", "with dropout the next layer reads h̃ = m·h / (1 − p), "
                  "so a dropped unit passes 0", _dropout_ignored),
    Misconception("transposed", "weight index swapped", "w_jk connects source k to neuron j: "
                  "∂E_total/∂w_jk = δ_j × source_k", _transposed),
    Misconception("sum-mean", "sum versus mean", "mse divides by the number of outputs; half_sse and sse do not",
                  _sum_mean),
    Misconception("softmax-shortcut", "δ = o − target where it does not hold", "δ = o − target holds only for "
                  "softmax with cross-entropy (or sigmoid with binary cross-entropy); otherwise δ = ∂E/∂o × ∂o/∂z",
                  _softmax_shortcut),
    Misconception("bias-times-input", "bias gradient times an input", "z = … + b, so ∂z/∂b = 1 and a bias's "
                  "gradient is δ alone", _bias_times_input),
)


def variants(net: Net) -> Iterator[tuple[Misconception, Variant]]:
    if len(net.walked) > MAX_WALK:
        return
    for m in CATALOGUE:
        for v in m.variants(net):
            yield m, v
