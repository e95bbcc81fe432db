"""The trace: the only hand-off from the engine to everything that presents it.

Plain dataclasses holding float values, each with its identity (`ident`, a notation.Id, from
which every notation's name is rendered; `name` is the ASCII one) and its formula as an
expression tree (`expr`, bptrace.expr) over the quantities it reads. Renderers show the tree
with names or with numbers; display precision never touches the data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Iterator

from .expr import Op, Ref


# The many small records are slotted and not frozen (a frozen dataclass's __init__ costs a setattr call per
# field: a traced run builds ~100 per update); nothing mutates them. Identity equality: nothing compares traces.
@dataclass(eq=False, slots=True)
class Quantity:
    """One value: its ASCII name, what it is (`ident`, a notation.Id), and the formula it came from (an
    expression tree over other quantities, or None for a value given in the spec)."""

    name: str
    value: float
    formula: object = None  # an expression tree, or a recipe (builder, *args) that makes it when first asked for
    ident: object = None
    given: bool = False  # written by the user (input, target, a weight before any update): shown as written

    @property
    def expr(self):
        """The formula as an expression tree (bptrace.expr), or None for a given value."""
        f = self.formula
        if type(f) is tuple:  # built lazily: a long traced run keeps far fewer objects alive
            f = self.formula = f[0](*f[1:])
        return f


@dataclass(eq=False, slots=True)
class Term:
    """One weight·source product inside a weighted sum z."""

    weight: Quantity
    source: Quantity


@dataclass(frozen=True, eq=False)
class NeuronForward:
    """One neuron's forward step: z from its terms and bias, then its activation."""

    z: Quantity  # z = sum of terms + bias
    terms: tuple[Term, ...]
    bias: Quantity | None
    out: Quantity  # h or o = activation(z)
    activation: str
    mask: Quantity | None = None  # dropout (bptrace.dropout): m, given or drawn from the seed
    dropped: Quantity | None = None  # h̃ = m·h / (1 − p): what the next layer reads


@dataclass(frozen=True, eq=False)
class Block:
    """A front layer's forward step for one sample (bptrace.front: convolution, pooling, flatten, recurrent)."""

    index: int  # 0-based place in [[layers]]
    kind: str  # conv2d, maxpool2d, flatten, rnn …
    inputs: object  # numpy object array (the layer's in_shape) of the Quantities it reads
    rows: tuple  # every Quantity it makes, in reading order
    outputs: object  # numpy object array (out_shape) of the Quantities the next layer reads
    grids: tuple = ()  # (label, 2-D object array of Quantities): shown as small grids


@dataclass(frozen=True, eq=False)
class BlockBackward:
    """A front layer's backward step for one sample: ∂E_total/∂ its outputs, its own chain-rule rows, and the
    gradient of each of its parameters (a Sum with one term per use: per position, per time step)."""

    index: int
    kind: str
    rows: tuple  # Quantities, Products and Sums, in reading order (the gradients last)
    gradients: tuple  # one per parameter element, in the layer's parameter order
    grids: tuple = ()


@dataclass(frozen=True, eq=False)
class Forward:
    """A forward pass: the inputs, then every layer's neurons (front layers first, as Blocks)."""

    inputs: tuple[Quantity, ...]  # what the first dense layer reads: x, or the last front layer's outputs
    layers: tuple[tuple[NeuronForward, ...], ...]
    front: tuple[Block, ...] = ()

    @property
    def given(self) -> tuple[Quantity, ...]:
        """The inputs the spec gives: x (with front layers the image or sequence, not what they computed)."""
        return tuple(self.front[0].inputs.reshape(-1)) if self.front else self.inputs

    @property
    def outputs(self) -> tuple[NeuronForward, ...]:
        return self.layers[-1]


@dataclass(frozen=True, eq=False)
class Loss:
    """The errors of one sample: targets, E per output, E_total."""

    kind: str  # half_sse, sse, mse, cross_entropy, binary_cross_entropy
    targets: tuple[Quantity, ...]
    errors: tuple[Quantity, ...]  # E_o1 ..., each with its formula
    total: Quantity  # E_total = sum of errors


@dataclass(eq=False, slots=True)
class Product:
    """A chain-rule product: value = product of factors (in this order)."""

    name: str
    value: float
    factors: tuple[Quantity, ...]
    ident: object = None
    given = False

    @property
    def expr(self):
        return Op("chain", *map(Ref, self.factors))


@dataclass(eq=False, slots=True)
class Sum:
    """A sum of named terms, e.g. dE_total/dh1 = dE_o1/dh1 + dE_o2/dh1."""

    name: str
    value: float
    terms: tuple[Product, ...]
    ident: object = None
    given = False

    @property
    def expr(self):
        return Op("add", *map(Ref, self.terms))


@dataclass(frozen=True, eq=False)
class NeuronBackward:
    """One neuron's backward step: dE_total/dout, dout/dz (or the softmax Jacobian), delta."""

    out: str
    z: str
    dE_dout: Quantity | Sum  # output layer: a Quantity from the loss; hidden: a Sum of downstream terms
    dout_dz: Quantity | None  # elementwise activations
    jacobian: tuple[Quantity, ...]  # softmax outputs: do_k/dz_j for every k
    delta: Product | Sum  # dE_total/dz; a Sum over k for softmax
    keep: Quantity | None = None  # dropout: dh̃/dh = m / (1 − p), a factor of each term of dE_total/dh


@dataclass(frozen=True, eq=False)
class LayerBackward:
    """One layer's backward step: its neurons, then the gradient of each of its parameters."""

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
    front: tuple[BlockBackward, ...] = ()  # then the front layers, the last one first


@dataclass(frozen=True, eq=False)
class Update:
    """One parameter's update: old value, gradient, new value, the rule and the optimizer's state."""

    name: str  # w5
    old: float
    gradient: float  # the gradient used (averaged over the batch)
    new: float
    rule: str  # e.g. "w5 − α·∂E_total/∂w5"
    state: dict[str, float] = field(default_factory=dict)  # optimizer state: v, m, v, m_hat, v_hat
    frozen: bool = False
    ident: object = None  # the parameter's notation.Id
    given: bool = False  # the old value is the spec's, as written
    learning_rate: float | None = None  # with parameter groups (bptrace.groups): the α this update used
    weight_decay: float | None = None  # with parameter groups: its λ (None: the iteration's α, the optimizer's λ)


@dataclass(frozen=True, eq=False)
class Check:
    """Forward pass again with the updated weights."""

    sample: int
    forward: Forward
    loss: Loss


@dataclass(frozen=True, eq=False)
class Iteration:
    """One update: the traced passes of its samples, the parameter updates, the checks after it."""

    epoch: int  # 1-based
    step: int  # 1-based update count across the whole run
    learning_rate: float
    optimizer: str
    passes: tuple[Pass, ...]
    updates: tuple[Update, ...]
    checks: tuple[Check, ...]
    names: object = None  # bptrace.naming.Names: what every Id is called
    rule: object = None  # the update p⁺ for any parameter p, an expression tree (bptrace.formulas.update_rule)

    def alpha(self, u: Update) -> float:
        """The α of an update: its parameter group's, else the iteration's."""
        return self.learning_rate if u.learning_rate is None else u.learning_rate

    @property
    def loss_before(self) -> float:
        return total(p.loss.total.value for p in self.passes) / len(self.passes)

    @property
    def loss_after(self) -> float:
        return total(c.loss.total.value for c in self.checks) / len(self.checks)

    @property
    def grad_norm(self) -> float:
        """||g||, over the trainable parameters."""
        return math.sqrt(self.grad_square)

    @property
    def grad_square(self) -> float:
        return total(u.gradient * u.gradient for u in self.updates if not u.frozen)

    def outputs(self, k: int) -> list[float]:
        """The network's outputs for the k-th sample of the batch (0-based), before the update."""
        return [n.out.value for n in self.passes[k].forward.outputs]

    def value(self, name: str) -> float:
        """A quantity of this update by any name `check` accepts (`z1`, `∂E_total/∂w5`, `δ_o1`, `w5⁺`)."""
        from .notation import spellings

        key = spellings(name)
        for _, n, v in self.quantities():
            if n == key:
                return v
        raise KeyError(name)

    def quantities(self) -> Iterator[tuple[str, str, float]]:
        """Every (group, name, value) in the iteration: forward, loss, backward, update, check."""
        for group, name, q in self.walk():
            yield group, name, (q.new if group == "update" else q.value)

    def walk(self) -> Iterator[tuple[str, str, object]]:
        """Every (group, ASCII name, quantity) in the terminal's order; after the update the names carry
        a `+` (w5+, z1+). The one walk behind the tables' order, `check`, `deps` and `Trace.value`."""
        for p in self.passes:
            yield from pass_items(p)
        for u in self.updates:
            yield "update", f"{u.name}+", u
        for c in self.checks:
            for _, name, q in forward_items(c.forward, c.loss):
                yield "check", f"{name}+", q


def layer_rows(layer: tuple[NeuronForward, ...], masks: bool = True) -> list[Quantity]:
    """A layer's forward quantities in order: every z, every out; with dropout every mask m (unless
    masks=False), then every h̃ = m·h / (1 − p)."""
    rows = [n.z for n in layer] + [n.out for n in layer]
    if layer[0].dropped is not None:
        rows += [n.mask for n in layer] * masks + [n.dropped for n in layer]
    return rows


def forward_items(f: Forward, loss: Loss, targets: bool = False):
    for block in f.front:
        for q in block.rows:
            yield "forward", q.name, q
    for layer in f.layers:
        for q in layer_rows(layer):
            yield "forward", q.name, q
    if targets:  # targets computed by label smoothing, before the errors that read them
        yield from (("loss", t.name, t) for t in loss.targets if t.formula is not None)
    for e in (*loss.errors, loss.total):
        yield "loss", e.name, e


def backward_rows(layer: LayerBackward) -> list:
    """A backward step's quantities in the worked example's order: per neuron dE/dout (its terms first),
    dout/dz (or the softmax Jacobian), delta (its terms first); then every gradient."""
    return neuron_rows(layer) + list(layer.gradients)


def neuron_rows(layer: LayerBackward) -> list:
    rows = []
    for n in layer.neurons:
        if n.keep is not None:  # dropout: dh̃/dh, read by each term of dE_total/dh
            rows.append(n.keep)
        if isinstance(n.dE_dout, Sum):
            rows += n.dE_dout.terms
        rows.append(n.dE_dout)
        rows += [n.dout_dz] if n.dout_dz is not None else n.jacobian
        if isinstance(n.delta, Sum):
            rows += n.delta.terms
        rows.append(n.delta)
    return rows


def pass_items(p: Pass):
    yield from forward_items(p.forward, p.loss, targets=True)
    for layer in p.backward:
        for q in neuron_rows(layer):
            yield "backward", q.name, q
        for g in layer.gradients:  # a gradient's factors (dz3/dw5 …) come just before it
            for f in (g.factors if isinstance(g, Product) else g.terms):
                yield "backward", f.name, f
            yield "backward", g.name, g
    for block in p.front:
        for q in block.rows:
            yield "backward", q.name, q


@dataclass(frozen=True, eq=False)
class Trace:
    """A traced run: the spec as understood, the names used, and the traced iterations."""

    spec: object  # bptrace.spec.Spec (kept untyped so this module imports nothing)
    names: object  # bptrace.naming.Names
    iterations: tuple[Iteration, ...]

    def value(self, name: str, iteration: int = 0) -> float:
        """A quantity by any name `check` accepts (`z1`, `dE_total/dw5`, `∂E_total/∂w5`, `δ_o1`, `w5⁺`),
        from the first iteration by default."""
        return self.iterations[iteration].value(name)

    def __rich__(self):
        from .render.tables import render_trace

        return render_trace(self)

    def _repr_html_(self) -> str:  # Jupyter
        from .exports.rich_ import fragment

        return fragment(self.__rich__())


# ---------------------------------------------------------------- an update held as flat numbers


class Tag(float):
    """A number that says where it came from: `src` is its index among an update's flat numbers, or
    (op, a, b) for a·b, a+b, a/b of Tags and constants. A Layout's probe is made of them."""

    def __new__(cls, value: float, src):
        tag = super().__new__(cls, value)
        tag.src = src
        return tag

    def __mul__(self, other):
        return Tag(float(self) * float(other), ("*", self, other))

    def __rmul__(self, other):
        return Tag(float(other) * float(self), ("*", other, self))

    def __add__(self, other):
        return Tag(float(self) + float(other), ("+", self, other))

    def __radd__(self, other):
        return Tag(float(other) + float(self), ("+", other, self))

    def __truediv__(self, other):
        return Tag(float(self) / float(other), ("/", self, other))


def total(values) -> float:
    """sum(values); of a probe's Tags, a Tag that says so (a compiled function then calls sum too, whose
    rounding differs between Python versions from a chain of +)."""
    values = list(values)
    if any(isinstance(v, Tag) for v in values):
        return Tag(0.5, ("sum", values))
    return sum(values)


class Layout:
    """What each flat number of an update is: a probe Iteration, built once (per batch) with Tags for
    values, from which functions of the flat numbers are compiled (each once, by key)."""

    EPOCH, STEP = "@@epoch@@", "@@step@@"  # the probe's epoch and step: they vary from update to update

    def __init__(self, probe: Iteration):
        self.probe = probe
        self._compiled: dict = {}

    def memo(self, key, make: Callable[[], object]):
        """make(), made once per layout (an exporter's template, a compiled function)."""
        if key not in self._compiled:
            self._compiled[key] = make()
        return self._compiled[key]

    def function(self, key, leaves: Callable[[], list]) -> Callable[[list], list]:
        """The function of the flat numbers that gives `leaves()` (probe values: Tags or constants)."""
        return self.memo(key, lambda: compile_leaves(leaves()))


def compile_leaves(leaves: list) -> Callable[[list], list]:
    """f(v) = the value of each leaf for flat numbers v: v[i] for a Tag with src i, its operation applied in
    the same order for a derived Tag (so with the same rounding), the constant itself otherwise."""
    lines, names = [], {}

    def code(x) -> str:
        if not isinstance(x, Tag):
            return repr(x)
        if isinstance(x.src, int):
            return f"v[{x.src}]"
        return names[id(x)]

    for leaf in leaves:  # each derived Tag once, its operands first (iteratively: a chain can be long)
        stack = [leaf]
        while stack:
            x = stack[-1]
            if not isinstance(x, Tag) or isinstance(x.src, int) or id(x) in names:
                stack.pop()
                continue
            op, *args = x.src
            args = args[0] if op == "sum" else args
            todo = [y for y in args if isinstance(y, Tag) and not isinstance(y.src, int) and id(y) not in names]
            if todo:
                stack += todo
                continue
            names[id(x)] = f"t{len(names)}"
            if op == "sum":
                value = f"sum(({''.join(code(y) + ', ' for y in args)}))"
            else:
                value = f" {op} ".join(map(code, args))
            lines.append(f"    {names[id(x)]} = {value}")
            stack.pop()
    source = "def f(v):\n" + "".join(line + "\n" for line in lines) + f"    return [{', '.join(map(code, leaves))}]\n"
    scope: dict = {}
    exec(source, scope)
    return scope["f"]


class Flat:
    """An update's numbers, flat (the elements of its arrays in one order), and their Layout."""

    __slots__ = ("layout", "values", "finite")

    def __init__(self, layout: Layout, values: list[float], finite: bool = False):
        self.layout, self.values = layout, values
        self.finite = finite  # every number is finite (False: not known)

    def of(self, key, leaves: Callable[[Iteration], list]) -> list:
        """The values of `leaves(probe)` in this update."""
        probe = self.layout.probe
        return self.layout.function(key, lambda: leaves(probe))(self.values)


class LazyIteration(Iteration):
    """An Iteration whose passes, updates and checks are made when first read (by `build`); until then
    its numbers are `flat`, which give the loss, ||g|| and the outputs without making them."""

    def __init__(self, head: Iteration, flat: Flat, build: Callable[[], tuple]):
        for name in ("epoch", "step", "learning_rate", "optimizer", "names", "rule"):
            object.__setattr__(self, name, getattr(head, name))
        object.__setattr__(self, "flat", flat)
        object.__setattr__(self, "_build", build)
        object.__setattr__(self, "_parts", None)

    def _made(self) -> tuple:
        if self._parts is None:
            object.__setattr__(self, "_parts", self._build())
            object.__setattr__(self, "_build", None)
        return self._parts

    passes = property(lambda self: self._made()[0])
    updates = property(lambda self: self._made()[1])
    checks = property(lambda self: self._made()[2])

    @property
    def loss_before(self) -> float:
        return self.flat.of("loss_before", lambda it: [Iteration.loss_before.fget(it)])[0]

    @property
    def grad_square(self) -> float:
        return self.flat.of("grad_square", lambda it: [Iteration.grad_square.fget(it)])[0]

    def outputs(self, k: int) -> list[float]:
        return self.flat.of(("outputs", k), lambda it: it.outputs(k))
