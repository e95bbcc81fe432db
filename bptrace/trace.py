"""The trace: the only hand-off from the engine to everything that presents it.

Plain dataclasses holding names (ASCII, as in `naming`) and float values. A quantity's
`formula` is symbolic (`o1(1 − o1)`); renderers put the numbers in themselves from the
structured fields, so display precision never touches the data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator


@dataclass(frozen=True, eq=False)  # identity equality: nothing compares traces, and start-up is faster
class Quantity:
    """One named value, with the formula it came from (may be empty)."""

    name: str
    value: float
    formula: str = ""


@dataclass(frozen=True, eq=False)
class Term:
    """One weight·source product inside a weighted sum z."""

    weight: Quantity
    source: Quantity


@dataclass(frozen=True, eq=False)
class NeuronForward:
    z: Quantity  # z = sum of terms + bias
    terms: tuple[Term, ...]
    bias: Quantity | None
    out: Quantity  # h or o = activation(z)
    activation: str


@dataclass(frozen=True, eq=False)
class Forward:
    inputs: tuple[Quantity, ...]
    layers: tuple[tuple[NeuronForward, ...], ...]

    @property
    def outputs(self) -> tuple[NeuronForward, ...]:
        return self.layers[-1]


@dataclass(frozen=True, eq=False)
class Loss:
    kind: str  # half_sse, sse, mse, cross_entropy, binary_cross_entropy
    targets: tuple[Quantity, ...]
    errors: tuple[Quantity, ...]  # E_o1 ..., each with its formula
    total: Quantity  # E_total = sum of errors


@dataclass(frozen=True, eq=False)
class Product:
    """A chain-rule product: value = product of factors (in this order)."""

    name: str
    value: float
    factors: tuple[Quantity, ...]


@dataclass(frozen=True, eq=False)
class Sum:
    """A sum of named terms, e.g. dE_total/dh1 = dE_o1/dh1 + dE_o2/dh1."""

    name: str
    value: float
    terms: tuple[Product, ...]


@dataclass(frozen=True, eq=False)
class NeuronBackward:
    out: str
    z: str
    dE_dout: Quantity | Sum  # output layer: a Quantity from the loss; hidden: a Sum of downstream terms
    dout_dz: Quantity | None  # elementwise activations
    jacobian: tuple[Quantity, ...]  # softmax outputs: do_k/dz_j for every k
    delta: Product | Sum  # dE_total/dz; a Sum over k for softmax


@dataclass(frozen=True, eq=False)
class LayerBackward:
    index: int  # 0-based layer index
    neurons: tuple[NeuronBackward, ...]
    gradients: tuple[Product | Sum, ...]  # dE_total/dw for each weight, then each bias


@dataclass(frozen=True, eq=False)
class Pass:
    """One sample through the network: forward, errors, backward."""

    sample: int  # 1-based
    forward: Forward
    loss: Loss
    backward: tuple[LayerBackward, ...]  # output layer first

    def values(self) -> dict[str, float]:
        """Every named value a formula of this pass may mention: inputs, weights, biases, z, h/o,
        targets, errors, and each neuron's dE_total/dout and delta."""
        f = self.forward
        values = {q.name: q.value for q in f.inputs}
        for layer in f.layers:
            for n in layer:
                for t in n.terms:
                    values[t.weight.name] = t.weight.value
                    values[t.source.name] = t.source.value
                if n.bias:
                    values[n.bias.name] = n.bias.value
                values[n.z.name] = n.z.value
                values[n.out.name] = n.out.value
        for q in (*self.loss.targets, *self.loss.errors, self.loss.total):
            values[q.name] = q.value
        for layer in self.backward:
            for n in layer.neurons:
                values[n.dE_dout.name] = n.dE_dout.value
                values[n.delta.name] = n.delta.value
        return values


@dataclass(frozen=True, eq=False)
class Update:
    name: str  # w5
    old: float
    gradient: float  # the gradient used (averaged over the batch)
    new: float
    rule: str  # e.g. "w5 − α·∂E_total/∂w5"
    state: dict[str, float] = field(default_factory=dict)  # optimizer state: v, m, v, m_hat, v_hat
    frozen: bool = False


@dataclass(frozen=True, eq=False)
class Check:
    """Forward pass again with the updated weights."""

    sample: int
    forward: Forward
    loss: Loss


@dataclass(frozen=True, eq=False)
class Iteration:
    epoch: int  # 1-based
    step: int  # 1-based update count across the whole run
    learning_rate: float
    optimizer: str
    passes: tuple[Pass, ...]
    updates: tuple[Update, ...]
    checks: tuple[Check, ...]

    @property
    def loss_before(self) -> float:
        return sum(p.loss.total.value for p in self.passes) / len(self.passes)

    @property
    def loss_after(self) -> float:
        return sum(c.loss.total.value for c in self.checks) / len(self.checks)

    def quantities(self) -> Iterator[tuple[str, str, float]]:
        """Every (group, name, value) in the iteration: forward, loss, backward, update, check."""
        for p in self.passes:
            yield from _pass_quantities(p)
        for u in self.updates:
            yield "update", f"{u.name}+", u.new
        for c in self.checks:
            for _, name, value in _forward_quantities(c.forward, c.loss):
                yield "check", f"{name}+", value


def _forward_quantities(f: Forward, loss: Loss):
    for layer in f.layers:
        for n in layer:
            yield "forward", n.z.name, n.z.value
            yield "forward", n.out.name, n.out.value
    for e in (*loss.errors, loss.total):
        yield "loss", e.name, e.value


def _pass_quantities(p: Pass):
    yield from _forward_quantities(p.forward, p.loss)
    for layer in p.backward:
        for n in layer.neurons:
            d = n.dE_dout
            if isinstance(d, Sum):
                for t in d.terms:
                    yield "backward", t.name, t.value
            yield "backward", d.name, d.value
            if n.dout_dz is not None:
                yield "backward", n.dout_dz.name, n.dout_dz.value
            for j in n.jacobian:
                yield "backward", j.name, j.value
            yield "backward", n.delta.name, n.delta.value
        for g in layer.gradients:
            parts = g.factors if isinstance(g, Product) else g.terms
            for q in parts:
                yield "backward", q.name, q.value
            yield "backward", g.name, g.value


@dataclass(frozen=True, eq=False)
class Trace:
    """A traced run: the spec as understood, the names used, and the traced iterations."""

    spec: object  # bptrace.spec.Spec (kept untyped so this module imports nothing)
    names: object  # bptrace.naming.Names
    iterations: tuple[Iteration, ...]

    def value(self, name: str, iteration: int = 0) -> float:
        """A quantity by the name the tables show (`z1`, `dE_total/dw5`, `w5+`), from the first iteration."""
        for _, n, v in self.iterations[iteration].quantities():
            if n == name:
                return v
        raise KeyError(name)

    def __rich__(self):
        from .render.tables import render_trace

        return render_trace(self)

    def _repr_html_(self) -> str:  # Jupyter
        from .exports.rich_ import fragment

        return fragment(self.__rich__())
