"""Optimizers, following PyTorch's update rules so results can be compared with it.

  sgd:      p ← p − α·(g + λp)
  momentum: b ← g (first step) or μ·b + (1 − τ)·g;  p ← p − α·(g + μ·b if Nesterov else b)
            (μ = 0: p ← p − α·g, no buffer and no dampening, as torch.optim.SGD does)
  adam:     m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²;  m̂ = m/(1 − β1^t);  v̂ = v/(1 − β2^t)
            p ← p − α·m̂/(√v̂ + ε)          (adam adds λp to g first; adamw multiplies p by 1 − αλ)
            amsgrad: vₘₐₓ ← max(vₘₐₓ, v) and v̂ = vₘₐₓ/(1 − β2^t)
  rmsprop:  v ← a·v + (1 − a)·g²;  centered: ḡ ← ḡ + (1 − a)·(g − ḡ), d = √(v − ḡ²) + ε, else d = √v + ε
            p ← p − α·g/d, or with momentum μ: b ← μ·b + g/d;  p ← p − α·b
  adagrad:  G ← G + g² (G starts at initial_accumulator_value);  αₜ = α/(1 + (t − 1)·lr_decay)
            p ← p − αₜ·g/(√G + ε)

Each parameter array has its own α and λ when the spec gives parameter groups (bptrace.groups): `step`
takes one α or a list (one per array), `wd` holds each array's λ, and `hyper_of(i)` is array i's
hyperparameters with its λ (adamw's p·(1 − αλ) uses both).

RULES is the one definition of each: its numpy step (in place, on one parameter array), the
fast path's scalar Python for one parameter, the expression tree of p⁺ for the trace, and the
one-line text. The weight decay of all but adamw is folded into g before the rule sees it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .expr import Num, Op, Sym

ONE = Num(1)


def _plain(h) -> bool:
    """sgd, or momentum 0: PyTorch skips the buffer (and dampening)."""
    return "momentum" not in h or not h["momentum"]


# ---------------------------------------------------------------- numpy: (opt, i, p, g, lr), p in place

def _sgd_step(opt, i, p, g, lr):
    p -= lr * g


def _momentum_step(opt, i, p, g, lr):
    h, b = opt.h, opt.buf[i]
    if _plain(h):
        p -= lr * g
        return
    if opt.t == 1:
        b[...] = g
    else:
        b *= h["momentum"]
        b += (1.0 - h["dampening"]) * g
    p -= lr * (g + h["momentum"] * b if h["nesterov"] else b)


def _adam_step(opt, i, p, g, lr):
    h, m, v = opt.h, opt.m[i], opt.v[i]
    if opt.name == "adamw":
        p *= 1.0 - lr * opt.wd[i]  # decoupled weight decay, with this array's α and λ
    m *= h["beta1"]
    m += (1.0 - h["beta1"]) * g
    v *= h["beta2"]
    v += (1.0 - h["beta2"]) * g * g
    m_hat = m / (1.0 - h["beta1"] ** opt.t)
    if h.get("amsgrad"):  # the largest v so far: v̂ never shrinks
        np.maximum(opt.vmax[i], v, out=opt.vmax[i])
        v = opt.vmax[i]
    v_hat = v / (1.0 - h["beta2"] ** opt.t)
    opt._hat[i] = (m_hat, v_hat)
    p -= lr * m_hat / (np.sqrt(v_hat) + h["eps"])


def _rmsprop_step(opt, i, p, g, lr):
    h, v, a = opt.h, opt.v[i], opt.h["alpha"]
    v *= a
    v += (1.0 - a) * g * g
    if h["centered"]:  # ḡ ← ḡ + (1 − a)·(g − ḡ), torch's lerp
        gbar = opt.gbar[i]
        gbar += (1.0 - a) * (g - gbar)
        d = np.sqrt(v - gbar * gbar) + h["eps"]
    else:
        d = np.sqrt(v) + h["eps"]
    if h["momentum"]:
        b = opt.buf[i]
        b *= h["momentum"]
        b += g / d
        p -= lr * b
    else:
        p -= lr * (g / d)


def adagrad_lr(h, lr, t):
    """αₜ = α/(1 + (t − 1)·lr_decay), Adagrad's decayed learning rate at step t."""
    return lr / (1 + (t - 1) * h["lr_decay"])


def _adagrad_step(opt, i, p, g, lr):
    G = opt.acc[i]
    G += g * g
    p -= adagrad_lr(opt.h, lr, opt.t) * (g / (np.sqrt(G) + opt.h["eps"]))


# ---------------------------------------------------------------- scalar Python: lines for parameter i, g its gradient

def _sgd_py(i, g, h, name):
    return [f"p[{i}] -= lr * {g}"]


def _momentum_py(i, g, h, name):
    if _plain(h):
        return _sgd_py(i, g, h, name)
    mu, damp = h["momentum"], h["dampening"]
    return [f"gi = {g}", f"b = gi if t == 1 else {mu!r} * buf[{i}] + {1.0 - damp!r} * gi", f"buf[{i}] = b",
            f"p[{i}] -= lr * (gi + {mu!r} * b)" if h["nesterov"] else f"p[{i}] -= lr * b"]


def _adam_py(i, g, h, name):
    b1, b2 = h["beta1"], h["beta2"]
    decay = [f"p[{i}] *= 1.0 - lr * {h['weight_decay']!r}"] if name == "adamw" else []
    v = f"vm[{i}]" if h.get("amsgrad") else f"v[{i}]"
    ams = [f"vm[{i}] = _max(vm[{i}], v[{i}])"] if h.get("amsgrad") else []
    return decay + [f"gi = {g}",
                    f"m[{i}] = {b1!r} * m[{i}] + {1.0 - b1!r} * gi",
                    f"v[{i}] = {b2!r} * v[{i}] + {1.0 - b2!r} * gi * gi", *ams,
                    f"p[{i}] -= lr * _div(_div(m[{i}], c1), _sqrt(_div({v}, c2)) + {h['eps']!r})"]


def _rmsprop_py(i, g, h, name):
    a, eps, mu = h["alpha"], h["eps"], h["momentum"]
    lines = [f"gi = {g}", f"v[{i}] = {a!r} * v[{i}] + {1.0 - a!r} * gi * gi"]
    if h["centered"]:
        lines += [f"gb[{i}] = gb[{i}] + {1.0 - a!r} * (gi - gb[{i}])", f"d = _sqrt(v[{i}] - gb[{i}] * gb[{i}]) + {eps!r}"]
    else:
        lines.append(f"d = _sqrt(v[{i}]) + {eps!r}")
    if mu:
        return lines + [f"buf[{i}] = {mu!r} * buf[{i}] + _div(gi, d)", f"p[{i}] -= lr * buf[{i}]"]
    return lines + [f"p[{i}] -= lr * _div(gi, d)"]


def _rmsprop_head(h):
    return ["v = s['v']"] + ["gb = s['gbar']"] * bool(h["centered"]) + ["buf = s['buf']"] * bool(h["momentum"])


def _adagrad_py(i, g, h, name):
    return [f"gi = {g}", f"G[{i}] = G[{i}] + gi * gi", f"p[{i}] -= clr * _div(gi, _sqrt(G[{i}]) + {h['eps']!r})"]


def _adagrad_head(h):
    return ["G = s['acc']", f"clr = lr / (1 + (t - 1) * {h['lr_decay']!r})"]


def _adam_head(h):  # the bias corrections 1 − β^t, once per step
    return ([f"c1 = 1.0 - _pow({h['beta1']!r}, t)", f"c2 = 1.0 - _pow({h['beta2']!r}, t)", "m = s['m']", "v = s['v']"]
            + ["vm = s['vmax']"] * bool(h.get("amsgrad")))


# ---------------------------------------------------------------- trees of p⁺ (p, g, state: Refs; alpha, lam: Syms)

def _sgd_tree(p, g, state, alpha, lam, h):
    step = Op("add", g, Op("mul", lam, p)) if h.get("weight_decay") else g
    return Op("sub", p, Op("mul", alpha, step))


def _momentum_tree(p, g, state, alpha, lam, h):
    if _plain(h):
        return _sgd_tree(p, g, state, alpha, lam, h)
    v = state["v"]
    if h.get("nesterov"):
        return Op("sub", p, Op("mul", alpha, Op("add", g, Op("mul", Sym("mu", "μ", r"\mu", h["momentum"]), v))))
    return Op("sub", p, Op("mul", alpha, v))


def _adam_tree(p, g, state, alpha, lam, h, decoupled=False):
    eps = Sym("eps", "ε", r"\varepsilon", h.get("eps"))
    adam = Op("div", Op("mul", alpha, state["m_hat"]), Op("add", Op("sqrt", state["v_hat"]), eps))
    if decoupled:
        return Op("sub", Op("mul", p, Op("sub", ONE, Op("mul", alpha, lam))), adam)
    return Op("sub", p, adam)


def _decayed(g, p, lam, h):
    """g, or g + λ·p with weight decay (folded into the gradient, as PyTorch does)."""
    return Op("add", g, Op("mul", lam, p)) if h.get("weight_decay") else g


def _rmsprop_tree(p, g, state, alpha, lam, h):
    eps = Sym("eps", "ε", r"\varepsilon", h["eps"])
    if h["momentum"]:
        return Op("sub", p, Op("mul", alpha, state["b"]))
    v = Op("sub", state["v"], Op("mul", state["g_bar"], state["g_bar"])) if h["centered"] else state["v"]
    return Op("sub", p, Op("div", Op("mul", alpha, _decayed(g, p, lam, h)), Op("add", Op("sqrt", v), eps)))


def _adagrad_tree(p, g, state, alpha, lam, h):
    eps = Sym("eps", "ε", r"\varepsilon", h["eps"])
    rate = state["alpha_t"] if h["lr_decay"] else alpha
    return Op("sub", p, Op("div", Op("mul", rate, _decayed(g, p, lam, h)), Op("add", Op("sqrt", state["G"]), eps)))


def _rmsprop_text(p, g, h):
    if h["momentum"]:
        return f"{p} − α·b"
    root = "√(v − ḡ²)" if h["centered"] else "√v"
    return f"{p} − α·{_g_text(p, g, h)} / ({root} + ε)"


def _g_text(p, g, h):
    return f"({g} + λ·{p})" if h.get("weight_decay") else g


def _plain_text(p, g, h):
    return f"{p} − α·({g} + λ·{p})" if h.get("weight_decay") else f"{p} − α·{g}"


def _adam_kept(h):
    return ("m", "v") + ("vmax",) * bool(h.get("amsgrad"))


@dataclass(frozen=True)
class Rule:
    name: str
    state: tuple[str, ...]  # the arrays it keeps per parameter array
    step: Callable  # numpy
    py: Callable  # scalar Python lines for one parameter
    tree: Callable  # p⁺ for the trace
    text: Callable  # (p, g, h) -> p⁺ as one line
    py_head: Callable = lambda h: []  # scalar Python once per step, before the parameters
    kept: Callable = lambda h: None  # (h) -> the state arrays this configuration uses (None: all of `state`)


RULES: dict[str, Rule] = {
    "sgd": Rule("sgd", (), _sgd_step, _sgd_py, _sgd_tree, _plain_text),
    "momentum": Rule(
        "momentum", ("buf",), _momentum_step, _momentum_py, _momentum_tree,
        lambda p, g, h: _plain_text(p, g, h) if _plain(h) else (f"{p} − α·({g} + μ·v)" if h["nesterov"] else f"{p} − α·v"),
        lambda h: [] if _plain(h) else ["buf = s['buf']"]),
    "adam": Rule("adam", ("m", "v", "vmax"), _adam_step, _adam_py, _adam_tree,
                 lambda p, g, h: f"{p} − α·m̂ / (√v̂ + ε)", _adam_head, _adam_kept),
    "adamw": Rule("adamw", ("m", "v", "vmax"), _adam_step, _adam_py,
                  lambda *a: _adam_tree(*a, decoupled=True),
                  lambda p, g, h: f"{p}·(1 − α·λ) − α·m̂ / (√v̂ + ε)", _adam_head, _adam_kept),
    "rmsprop": Rule("rmsprop", ("v", "gbar", "buf"), _rmsprop_step, _rmsprop_py, _rmsprop_tree, _rmsprop_text,
                    _rmsprop_head, lambda h: ("v",) + ("gbar",) * bool(h["centered"]) + ("buf",) * bool(h["momentum"])),
    "adagrad": Rule("adagrad", ("acc",), _adagrad_step, _adagrad_py, _adagrad_tree,
                    lambda p, g, h: f"{p} − {'αₜ' if h['lr_decay'] else 'α'}·{_g_text(p, g, h)} / (√G + ε)",
                    _adagrad_head, lambda h: ("acc",)),
}
STATES = ("buf", "m", "v", "vmax", "gbar", "acc")  # every state array any rule keeps (Optimizer attributes)


class Optimizer:
    """One optimizer's state for a list of parameter arrays (per-parameter arrays of the same shapes)."""

    def __init__(self, name: str, hyper: dict, shapes: list[tuple[int, ...]], decays: list[float] | None = None):
        self.name = name
        self.h = dict(hyper)
        self.rule_ = RULES[name]
        self.t = 0  # steps taken
        # λ of each array: its parameter group's (bptrace.groups), else the optimizer's
        self.wd = list(decays) if decays is not None else [self.h.get("weight_decay", 0.0)] * len(shapes)
        self.lr = [0.0] * len(shapes)  # α of each array in the last step
        kept = self.rule_.kept(self.h) or self.rule_.state
        start = {"acc": self.h.get("initial_accumulator_value", 0.0)}  # Adagrad's G starts there
        for key in STATES:
            setattr(self, key, [np.full(s, start.get(key, 0.0)) for s in shapes] if key in kept else None)
        self._hat: list[tuple[np.ndarray, np.ndarray]] = [(np.zeros(s),) * 2 for s in shapes] if self.m else []

    def hyper_of(self, i: int) -> dict:
        """The hyperparameters of array i: the optimizer's, with its own λ."""
        return self.h if self.wd[i] == self.h.get("weight_decay", 0.0) else {**self.h, "weight_decay": self.wd[i]}

    def rule(self, p: str, g: str, i: int = 0) -> str:
        """The update of parameter p (of array i), as a formula in the trace's notation."""
        return self.rule_.text(p, g, self.hyper_of(i))

    def step(self, params: list[np.ndarray], grads: list[np.ndarray], lr) -> None:
        """Update every parameter array in place; lr is one α for all, or α of each array (its group's)."""
        self.t += 1
        self.lr = [float(lr)] * len(params) if np.isscalar(lr) else list(lr)
        for i, (p, g) in enumerate(zip(params, grads)):
            wd = self.wd[i]
            if wd and self.name != "adamw":
                g = g + wd * p  # L2 penalty folded into the gradient (PyTorch's weight_decay)
            self.rule_.step(self, i, p, g, self.lr[i])

    def snapshot(self) -> tuple:
        """The state as read-only copies, (t, {state name: arrays} for every kept STATES entry, (m̂, v̂) per
        array), for an immutable training State."""
        kept = {key: tuple(map(_readonly, arrays)) for key in STATES if (arrays := getattr(self, key)) is not None}
        return self.t, kept, tuple(tuple(map(_readonly, h)) for h in self._hat)

    def restore(self, snap: tuple) -> None:
        """Take the state of a snapshot (copied: the snapshot stays as it was)."""
        self.t, kept, hat = snap
        for key in STATES:
            setattr(self, key, [a.copy() for a in kept[key]] if key in kept else None)
        self._hat = [tuple(a.copy() for a in h) for h in hat]

    def state_of(self, i: int) -> dict[str, np.ndarray]:
        """Optimizer state of parameter array i after the last step, by the names the trace shows."""
        if self.name == "momentum":
            return {"v": self.buf[i]} if self.h["momentum"] else {}
        if self.m is not None:
            m_hat, v_hat = self._hat[i]
            ams = {"v_max": self.vmax[i]} if self.vmax is not None else {}
            return {"m": self.m[i], "v": self.v[i], "m_hat": m_hat, "v_hat": v_hat, **ams}
        if self.name == "rmsprop":
            return {"v": self.v[i], **({"g_bar": self.gbar[i]} if self.gbar else {}),
                    **({"b": self.buf[i]} if self.buf else {})}
        if self.name == "adagrad":
            lr_t = {"alpha_t": np.full(self.acc[i].shape, adagrad_lr(self.h, self.lr[i], self.t))} if self.h["lr_decay"] else {}
            return {"G": self.acc[i], **lr_t}
        return {}


def _readonly(a: np.ndarray) -> np.ndarray:
    a = a.copy()
    a.flags.writeable = False
    return a
