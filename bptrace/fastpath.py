"""A fast path for small networks: straight-line Python generated for the network at hand.

For a network with at most MAX_PARAMS parameters, numpy's per-call overhead (about a
microsecond per operation on 2×2 matrices) dominates, so `ScalarNet` writes out the
same math as `engine` and `optim` as plain Python on floats: one local variable per
parameter and per z, a, delta, unrolled across neurons, compiled once. The trainer
uses it for the epochs it does not trace; state moves between it and the numpy session
only around traced epochs. Tests hold it to the numpy path within 1e-12 over hundreds
of epochs, for every sample, optimizer and batch mode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from . import activations, groups, losses, optim

MAX_PARAMS = 128


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _softplus(z: float) -> float:
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))


# IEEE 754 results where Python's float operations raise instead. The generated code uses no
# `**` (R·R for R²) and these in place of exp, log, sqrt and division, so every float operation
# of the fast path gives inf or nan as numpy does, never an exception.

def _exp(x: float) -> float:
    # e^x above about 709.78 is inf, where math.exp raises OverflowError
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _div(a: float, b: float) -> float:
    # a / 0: ±inf, or nan for 0/0 (and nan/0), where Python raises ZeroDivisionError
    if b:
        return a / b
    if a != a or a == 0.0:
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _log(x: float) -> float:
    # log 0 = -inf and log of a negative number = nan, where math.log raises ValueError
    if x > 0.0 or x != x:
        return math.log(x)
    return -math.inf if x == 0.0 else math.nan


def _sqrt(x: float) -> float:
    return math.sqrt(x) if x >= 0.0 or x != x else math.nan


def _max(a: float, b: float) -> float:
    # np.maximum: nan if either is nan
    return a if a >= b or a != a else b


def _pow(x: float, t: int) -> float:
    # x^t for the bias corrections (|x| < 1, so it only underflows); inf rather than OverflowError
    try:
        return x ** t
    except OverflowError:
        return math.inf


def supports(session) -> bool:
    net = session.net
    if net.frozen:  # frozen parameters: the numpy session puts them back after each step
        return False
    if groups.any_groups(session.spec):  # parameter groups: each array's own α and λ, in the numpy session
        return False
    if net.drop or net.front:  # dropout masks, front layers: the numpy session does them
        return False
    return sum(a.size for a in net.W) + sum(b.size for b in net.b if b is not None) <= MAX_PARAMS


# ---------------------------------------------------------------- code generation
# f(z) and dout/dz (from z and out) as Python expressions: the rule table's scalar templates

def _f(act: str, z: str, slope: float) -> str:
    return activations.get(act, slope).py.format(z=z)


def _d(act: str, z: str, a: str, slope: float) -> str:
    return activations.get(act, slope).py_d.format(z=z, out=a)


@dataclass(frozen=True)
class _Slots:
    """One layer's place in the flat parameter list: W at w.. (units × fan_in, row by row), then b at b.. (nb)."""

    w: int
    units: int
    fan_in: int
    b: int | None  # None: no bias
    nb: int  # 1 for a shared bias, units for one per neuron
    train_bias: bool

    def offset(self, kind: str) -> int:
        return self.w if kind == "W" else self.b


class _Layout:
    """Where each layer's weights and biases sit in the flat parameter list (naming order)."""

    def __init__(self, spec):
        self.layers, offset = [], 0
        for layer in spec.layers:
            units, fan_in = layer.units, layer.fan_in
            w = offset
            offset += units * fan_in
            b, nb = (None, 0) if layer.bias is None else (offset, len(layer.bias))
            offset += nb
            self.layers.append(_Slots(w, units, fan_in, b, nb, layer.train_bias))
        self.size = offset
        self.trainable = [i for s in self.layers
                          for i in [*range(s.w, s.w + s.units * s.fan_in),
                                    *(range(s.b, s.b + s.nb) if s.b is not None and s.train_bias else [])]]


def _sample_code(spec, L: _Layout, name: str = "sample", with_z: bool = False) -> str:
    """def sample(p, g, x, t): forward, loss, backward for one sample; adds its gradient to g.
    with_z (step --health's probe): it also returns every z, layer by layer."""
    n_in, n_out = spec.n_inputs, spec.layers[-1].units
    lines = [f"def {name}(p, g, x, t):",
             f"    {', '.join(f'P{i}' for i in range(L.size))}, = p",
             f"    {', '.join(f'A_{k}' for k in range(n_in))}, = x",
             f"    {', '.join(f'T{k}' for k in range(n_out))}, = t"]
    prev = [f"A_{k}" for k in range(n_in)]
    outs = []
    for l, (layer, S) in enumerate(zip(spec.layers, L.layers)):
        w, units, fan_in, b, nb = S.w, S.units, S.fan_in, S.b, S.nb
        zs, acts = [f"Z{l}_{j}" for j in range(units)], [f"A{l}_{j}" for j in range(units)]
        for j in range(units):
            s = " + ".join(f"P{w + j * fan_in + k} * {prev[k]}" for k in range(fan_in))
            if b is not None:
                s = f"({s}) + P{b + (j if nb > 1 else 0)}"
            lines.append(f"    {zs[j]} = {s}")
        if layer.activation == "softmax":
            lines.append(f"    M{l} = max({', '.join(zs)})" if units > 1 else f"    M{l} = {zs[0]}")
            for j in range(units):
                lines.append(f"    E{l}_{j} = _exp({zs[j]} - M{l})")
            lines.append(f"    S{l} = {' + '.join(f'E{l}_{j}' for j in range(units))}")
            for j in range(units):
                lines.append(f"    {acts[j]} = _div(E{l}_{j}, S{l})")
        else:
            for j in range(units):
                lines.append(f"    {acts[j]} = {_f(layer.activation, zs[j], layer.act_param)}")
        prev = acts
        outs.append((zs, acts))
    lines += _loss_code(spec, outs[-1], len(spec.layers) - 1)
    for l in range(len(spec.layers) - 1, -1, -1):
        S = L.layers[l]
        w, units, fan_in, b, nb = S.w, S.units, S.fan_in, S.b, S.nb
        src = [f"A_{k}" for k in range(n_in)] if l == 0 else outs[l - 1][1]
        for j in range(units):
            for k in range(fan_in):
                lines.append(f"    g[{w + j * fan_in + k}] += D{l}_{j} * {src[k]}")
        if b is not None:
            if nb == units:
                lines += [f"    g[{b + j}] += D{l}_{j}" for j in range(units)]
            else:
                lines.append(f"    g[{b}] += {' + '.join(f'D{l}_{j}' for j in range(units))}")
        if l:
            below = spec.layers[l - 1]
            zb, ab = outs[l - 1]
            for k in range(fan_in):
                back = " + ".join(f"D{l}_{j} * P{w + j * fan_in + k}" for j in range(units))
                lines.append(f"    D{l - 1}_{k} = ({back}) * {_d(below.activation, zb[k], ab[k], below.act_param)}")
    zs = f", ({', '.join(z for layer in outs for z in layer[0])},)" if with_z else ""
    lines.append(f"    return E, ({', '.join(outs[-1][1])},){zs}")
    return "\n".join(lines)


def _loss_code(spec, out, l: int) -> list[str]:
    """E (E_total) and D{l}_j (dE_total/dz) of the output layer, from the rule table's scalar templates."""
    zs, acts = out
    n = len(acts)
    layer, rule = spec.layers[-1], losses.LOSSES[spec.loss]
    lines = []
    if "LSE" in rule.py:  # log Σ e^z = max z + log Σ e^(z − max z), from the softmax code
        lines.append(f"    LSE = M{l} + _log(S{l})")
    if rule.py_fused is None or "{r}" in rule.py:  # R_k = t_k − o_k
        lines += [f"    R{k} = T{k} - {acts[k]}" for k in range(n)]
    forms = [dict(t=f"T{k}", o=acts[k], z=zs[k], r=f"R{k}", n=f"{n}.0") for k in range(n)]
    lines.append("    E = " + " + ".join(f"({rule.py.format(**v)})" for v in forms))
    if rule.py_fused is not None:  # loss and activation cancel
        if "ST" in rule.py_fused:
            lines.append(f"    ST = {' + '.join(f'T{k}' for k in range(n))}")
        return lines + [f"    D{l}_{j} = {rule.py_fused.format(**v)}" for j, v in enumerate(forms)]
    lines += [f"    G{k} = {rule.py_d.format(**v)}" for k, v in enumerate(forms)]
    if layer.activation == "softmax":  # delta_j = o_j (dE/do_j - sum_k dE/do_k o_k)
        lines.append(f"    SG = {' + '.join(f'G{k} * {acts[k]}' for k in range(n))}")
        lines += [f"    D{l}_{j} = {acts[j]} * (G{j} - SG)" for j in range(n)]
    else:
        lines += [f"    D{l}_{j} = G{j} * {_d(layer.activation, zs[j], acts[j], layer.act_param)}" for j in range(n)]
    return lines


def _update_code(name: str, h: dict, L: _Layout) -> str:
    """def update(p, g, lr, t, s): the optimizer's step on every trainable parameter, from optim.RULES."""
    rule, wd = optim.RULES[name], h.get("weight_decay", 0.0)
    lines = [*rule.py_head(h)]
    for i in L.trainable:
        g = f"g[{i}]" if not wd or name == "adamw" else f"(g[{i}] + {wd!r} * p[{i}])"  # L2 folded into g
        lines += rule.py(i, g, h, name)
    return "\n".join(["def update(p, g, lr, t, s):", *(f"    {line}" for line in lines or ["pass"])])


def _namespace() -> dict:
    return {"_sigmoid": _sigmoid, "_softplus": _softplus, "_exp": _exp, "_log": _log, "_div": _div,
            "_sqrt": _sqrt, "_pow": _pow, "_max": _max, "tanh": math.tanh, **activations.SCALAR}


def _compile(spec, L: _Layout) -> dict:
    namespace = _namespace()
    code = _sample_code(spec, L) + "\n\n\n" + _update_code(spec.optimizer.name, spec.optimizer.hyper, L) + "\n"
    exec(compile(code, f"<bptrace fast path: {spec.source}>", "exec"), namespace)  # our own generated code
    return namespace


class ScalarNet:
    def __init__(self, session):
        spec = self.spec = session.spec
        self._probe = None  # step --health: the sample code that also returns the z's, compiled when first asked
        self.layout = _Layout(spec)
        ns = _compile(spec, self.layout)
        self._sample, self._update = ns["sample"], ns["update"]
        self.lr = spec.learning_rate
        self.X = session.X.tolist()
        self.T = session.T.tolist()
        self.load(session)

    # ------------------------------------------------------------ state exchange with the numpy session

    def _arrays(self, session):
        """(flat offset, array) of every parameter array."""
        net = session.net
        return [(S.offset(kind), a) for l, S in enumerate(self.layout.layers)
                for kind, a in (("W", net.W[l]), ("b", net.b[l])) if a is not None]

    def _states(self, session):
        """(name, [(flat offset, array)]) of every optimizer state kept per trainable array (buf, m, v)."""
        opt, trainable = session.opt, session.net.trainable()
        for name in optim.STATES:
            arrays = getattr(opt, name)
            if arrays is not None:
                yield name, [(self.layout.layers[l].offset(kind), a) for (l, kind), a in zip(trainable, arrays)]

    def _flat(self, pairs) -> list[float]:
        flat = [0.0] * self.layout.size
        for offset, a in pairs:
            flat[offset:offset + a.size] = a.ravel().tolist()
        return flat

    def load(self, session) -> None:
        """Take the numpy session's parameters, optimizer state and step count."""
        self.p = self._flat(self._arrays(session))
        self.t = session.opt.t
        self.state = {name: self._flat(pairs) for name, pairs in self._states(session)}

    def store(self, session) -> None:
        """Hand the parameters, optimizer state and step count back to the numpy session."""
        import numpy as np

        session.opt.t = self.t
        for flat, pairs in [(self.p, self._arrays(session)),
                            *((self.state[name], pairs) for name, pairs in self._states(session))]:
            for offset, a in pairs:
                a[...] = np.reshape(flat[offset:offset + a.size], a.shape)

    # ------------------------------------------------------------ one update

    def step(self, batch):
        """Mean E_total before the update, each sample's outputs, and ||g|| of the trainable parameters.

        A loss that is not finite leaves the parameters as they were (for the diagnosis), and so
        does an arithmetic exception (a safety net: the generated code is written not to raise);
        after an update, a parameter that is not finite makes ||g|| nan. Either way the caller
        sees a value that is not finite and reports a divergence."""
        g = [0.0] * self.layout.size
        p, X, T, sample = self.p, self.X, self.T, self._sample
        total, outputs = 0.0, []
        try:
            for i in batch:
                E, o = sample(p, g, X[i], T[i])
                total += E
                outputs.append(o)
        except (ArithmeticError, ValueError):
            return math.nan, outputs, math.nan
        n = len(batch)
        loss = total / n
        if not math.isfinite(loss):
            return loss, outputs, math.nan
        if n > 1:
            g = [v / n for v in g]
        norm = math.sqrt(sum(g[i] * g[i] for i in self.layout.trainable))
        self.t += 1
        try:
            self._update(p, g, self.lr, self.t, self.state)
        except (ArithmeticError, ValueError):
            return loss, outputs, math.nan
        if not math.isfinite(sum(p) + sum(map(sum, self.state.values()))) and not self._finite():
            return loss, outputs, math.nan  # (the sums can overflow alone: hence the exact check)
        return loss, outputs, norm

    def probe(self):
        """step --health at the current parameters, without changing them: (∂E/∂p of every parameter, E the mean
        E_total over every sample; each sample's z's, layer by layer), or None after an arithmetic exception."""
        if self._probe is None:
            ns = _namespace()
            code = _sample_code(self.spec, self.layout, "probe", with_z=True) + "\n"
            exec(compile(code, f"<bptrace fast path probe: {self.spec.source}>", "exec"), ns)  # our own generated code
            self._probe = ns["probe"]
        g, zs, probe, p = [0.0] * self.layout.size, [], self._probe, self.p
        try:
            for x, t in zip(self.X, self.T):
                zs.append(probe(p, g, x, t)[2])
        except (ArithmeticError, ValueError):
            return None
        n = len(self.X)
        return [v / n for v in g], zs

    def _finite(self) -> bool:
        """Every parameter and every optimizer state value is finite."""
        return all(all(map(math.isfinite, values)) for values in (self.p, *self.state.values()))


class Paths:
    """The numpy session and, for a small network, the fast path, with the training state (parameters,
    optimizer state, step count) in one of them at a time. It is handed over here only: `numpy()` brings it
    to the session (for a trace, a snapshot, a diagnosis or the result), `step` takes it back to the fast path."""

    def __init__(self, session, fast: bool):
        self.session = session
        self.fast = ScalarNet(session) if fast else None
        self._in_fast = self.fast is not None

    def numpy(self):
        """The numpy session, holding the current state."""
        if self._in_fast:
            self.fast.store(self.session)
            self._in_fast = False
        return self.session

    def step(self, batch):
        """One untraced update: (mean E_total before it, each sample's outputs, ||g||)."""
        if self.fast is None:
            return self.session.step(batch)
        if not self._in_fast:
            self.fast.load(self.session)
            self._in_fast = True
        self.fast.lr = self.session.lr
        self.session.steps += 1
        return self.fast.step(batch)

    def trace_step(self, batch, epoch: int):
        return self.numpy().trace_step(batch, epoch)

    def probe(self):
        """ScalarNet.probe when the fast path holds the state (the state stays there), else None."""
        return self.fast.probe() if self._in_fast else None

    def state(self):
        """The current training state as an immutable State (bptrace.state)."""
        from .state import State

        return State.of(self.numpy())
