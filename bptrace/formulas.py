"""The formulas of activations, losses and optimizer updates, as expression trees (bptrace.expr).

Each builder takes the quantities a rule reads (as trace Quantities) and returns the tree;
the trace keeps the tree, and every renderer shows it in its own notation.
"""

from __future__ import annotations

from . import activations, losses, optim
from .expr import Num, Op, Ref, Sym
from .notation import P, Id, partial

ONE = Num(1)


def weighted_sum(terms, bias):
    """z = Σ_k w_k·source_k + b."""
    return Op("add", *(Op("mul", Ref(t.weight), Ref(t.source)) for t in terms), *((Ref(bias),) if bias else ()))


def total(parts):
    """A sum of quantities: E_total = E_o1 + E_o2."""
    return Op("add", *map(Ref, parts))


def activation(name: str, z, param=None, layer_z=()):
    """out = f(z), from the rule table (softmax also reads every z of its layer; param: Layer.act_param)."""
    return activations.get(name, param).tree(Ref(z), tuple(map(Ref, layer_z)))


def derivative(name: str, out, z, param=None):
    """dout/dz of an elementwise activation, in out and z, from the rule table."""
    return activations.get(name, param).dtree(Ref(out), Ref(z))


def softmax_jacobian(o_k, o_j, same: bool):
    """do_k/dz_j = o_k(1 − o_k) for k = j, −o_k·o_j otherwise."""
    if same:
        return Op("mul", Ref(o_k), Op("sub", ONE, Ref(o_k)))
    return Op("neg", Op("mul", Ref(o_k), Ref(o_j)))


def keep_scale(mask, p: float):
    """∂h̃/∂h = m / (1 − p): inverted dropout's factor (bptrace.dropout)."""
    return Op("div", Ref(mask), Op("sub", ONE, Sym("p", "p", "p", p)))


def dropped(mask, out, p: float):
    """h̃ = m·h / (1 − p): a hidden output after inverted dropout."""
    return Op("div", Op("mul", Ref(mask), Ref(out)), Op("sub", ONE, Sym("p", "p", "p", p)))


def smoothed_target(given: float, eps: float, n: int):
    """Label smoothing (PyTorch's): target = t·(1 − ε) + ε / K, t the target as given, K the outputs."""
    e = Sym("eps", "ε", r"\varepsilon", eps)
    return Op("add", Op("mul", Num(given), Op("sub", ONE, e)), Op("div", e, Num(n)))


def error(kind: str, t, o, n: int):
    """E_k of one output, from the rule table."""
    return losses.LOSSES[kind].tree(Ref(t), Ref(o), n)


def error_derivative(kind: str, t, o, n: int):
    """dE_total/do_k, from the rule table."""
    return losses.LOSSES[kind].dtree(Ref(t), Ref(o), n)


def state_id(key: str) -> Id:
    """The Id of an optimizer state (m, v, m_hat, v_hat, v_max, g_bar, b, G, alpha_t) of any parameter."""
    return Id("state", of=key)


class _Leaf:
    """A stand-in quantity for a rule written for any parameter p (no value)."""

    __slots__ = ("ident", "value", "given")

    def __init__(self, ident, value=float("nan"), given: bool = False):
        self.ident, self.value, self.given = ident, value, given


def update_rule(optimizer: str, hyper: dict, lr: float, p=None, g=None, state=None):
    """p⁺ as a tree. Without quantities, the rule for any parameter p (its numbers are not shown)."""
    p = Ref(p or _Leaf(P))
    g = Ref(g or _Leaf(partial(Id("E_total"), P)))
    state = state or {k: _Leaf(state_id(k)) for k in ("m", "v", "m_hat", "v_hat", "g_bar", "b", "G", "alpha_t")}
    alpha = Sym("alpha", "α", r"\alpha", lr)
    lam = Sym("lambda", "λ", r"\lambda", hyper.get("weight_decay", 0.0))
    return optim.RULES[optimizer].tree(p, g, {k: Ref(q) for k, q in state.items()}, alpha, lam, hyper)


def update_tree(it, hyper: dict, u):
    """The update of one parameter with its own quantities: w5⁺ = w5 − α·∂E_total/∂w5, with the α and λ of
    its parameter group when it has one."""
    p = _Leaf(u.ident, u.old, u.given)
    g = _Leaf(partial(Id("E_total"), u.ident), u.gradient)
    state = {k: _Leaf(state_id(k), v) for k, v in u.state.items()}
    if u.weight_decay is not None:
        hyper = {**hyper, "weight_decay": u.weight_decay}
    return update_rule(it.optimizer, hyper, it.alpha(u), p, g, state or None)
