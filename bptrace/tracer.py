"""Turns the engine's arrays into trace objects, naming every quantity and factor.

`Session` holds a network being trained (parameters, optimizer state, step count):
`step(..., trace=True)` returns a full `Iteration`; without it only the numbers a
training run keeps (mean loss before the update and the gradients).
"""

from __future__ import annotations

import math

import numpy as np

from . import activations, engine
from .naming import Names, deriv, for_spec
from .trace import (Check, Forward, Iteration, LayerBackward, Loss, NeuronBackward, NeuronForward,
                    Pass, Product, Quantity, Sum, Term, Trace, Update)


class Session:
    def __init__(self, spec, naming: str | None = None):
        self.spec = spec
        self.names: Names = for_spec(spec, naming)
        self.net = engine.Network.from_spec(spec)
        self.opt = engine.new_optimizer(self.net, spec)
        self.X = np.array([s.x for s in spec.samples], dtype=float)
        self.T = np.array([s.target for s in spec.samples], dtype=float)
        self.steps = 0

    def step(self, batch, epoch: int = 1, trace: bool = False):
        """One update from the samples in `batch` (0-based indices).

        Returns (mean E_total before the update, outputs before it, gradients), or with
        trace=True the whole Iteration.
        """
        X, T = self._select(batch)
        zs, outs = engine.forward(self.net, X)
        back = engine.backward(self.net, X, T, zs, outs, for_trace=False)  # each traced pass has its own
        grads = engine.gradients(self.net, back)
        lr = self.spec.learning_rate
        if not trace:
            loss = float(engine.errors(self.net, T, zs, outs).sum()) / len(batch)
            if not math.isfinite(loss):  # leave the parameters as they were, for the diagnosis
                return loss, outs[-1], grads
            self.opt.step(self.net.arrays(), grads, lr)
            self.steps += 1
            return loss, outs[-1], grads
        traced = tuple(self._pass(i) for i in batch)
        olds = [a.copy() for a in self.net.arrays()]
        self.opt.step(self.net.arrays(), grads, lr)
        self.steps += 1
        updates = self._updates(olds, grads, back)
        checks = tuple(self._check(i) for i in batch)
        return Iteration(epoch, self.steps, lr, self.spec.optimizer.name, traced, updates, checks)

    def _select(self, batch):
        """The batch's rows: a view when the batch is a run of consecutive samples, else a copy."""
        first, n = batch[0], len(batch)
        if isinstance(batch, range) and batch.step == 1:
            return self.X[first:first + n], self.T[first:first + n]
        return self.X[batch], self.T[batch]

    def _rows(self, i: int):
        """One sample's forward pass, as 1-D rows."""
        X, T = self.X[i:i + 1], self.T[i:i + 1]
        zs, outs = engine.forward(self.net, X)
        return X, T, zs, outs

    # ------------------------------------------------------------ forward and loss

    def _forward(self, x, zs, outs) -> Forward:
        """Forward trace of one sample: x, zs and outs are 1-D rows."""
        N, net = self.names, self.net
        inputs = tuple(Quantity(n, float(v)) for n, v in zip(N.inputs, x))
        layers = []
        for l, (z, a) in enumerate(zip(zs, outs)):
            prev = x if l == 0 else outs[l - 1]
            act = net.acts[l]
            neurons = []
            for j in range(len(z)):
                terms = tuple(
                    Term(Quantity(N.weights[l][j][k], float(net.W[l][j, k])), Quantity(N.source(l, k), float(prev[k])))
                    for k in range(len(prev))
                )
                bias = None
                if net.b[l] is not None:
                    bj = j if net.b[l].size > 1 else 0
                    bias = Quantity(N.biases[l][bj], float(net.b[l][bj]))
                formula = " + ".join(f"{t.weight.name}·{t.source.name}" for t in terms)
                if bias:
                    formula += f" + {bias.name}"
                zq = Quantity(N.z[l][j], float(z[j]), formula)
                out = Quantity(N.out[l][j], float(a[j]), act.formula.format(z=N.z[l][j]))
                neurons.append(NeuronForward(zq, terms, bias, out, act.name))
            layers.append(tuple(neurons))
        return Forward(inputs, tuple(layers))

    def _loss(self, t, outs, E) -> Loss:
        N, loss = self.names, self.net.loss
        n = len(t)
        targets = tuple(Quantity(name, float(v)) for name, v in zip(N.targets, t))
        errs = tuple(
            Quantity(N.errors[k], float(E[k]), loss.formula.format(t=N.targets[k], o=N.out[-1][k], n=n))
            for k in range(n)
        )
        total = Quantity(N.total, float(E.sum()), " + ".join(N.errors))
        return Loss(self.spec.loss, targets, errs, total)

    # ------------------------------------------------------------ backward

    def _pass(self, i: int) -> Pass:
        X, T, zs, outs = self._rows(i)
        back = engine.backward(self.net, X, T, zs, outs, for_trace=True)
        E = engine.errors(self.net, T, zs, outs)[0]
        x, t, zs, outs = X[0], T[0], [z[0] for z in zs], [a[0] for a in outs]
        back = engine.Backward(
            [d[0] for d in back.dE_dout],
            [d[0] if d is not None else activations.softmax_jacobian(a) for d, a in zip(back.dout_dz, outs)],
            [d[0] for d in back.delta], back.gW, back.gb)
        layers = tuple(self._layer_backward(l, x, outs, back) for l in range(len(zs) - 1, -1, -1))
        return Pass(i + 1, self._forward(x, zs, outs), self._loss(t, outs, E), layers)

    def _layer_backward(self, l: int, x, outs, back: engine.Backward) -> LayerBackward:
        N, net = self.names, self.net
        L = len(net.W)
        act = net.acts[l]
        prev_names = N.inputs if l == 0 else N.out[l - 1]
        prev = x if l == 0 else outs[l - 1]
        neurons = []
        for j in range(len(outs[l])):
            o, z = N.out[l][j], N.z[l][j]
            dE_dout = (self._output_dE(j, back) if l == L - 1 else self._hidden_dE(l, j, back))
            if act.elementwise:
                d = Quantity(deriv(o, z), float(back.dout_dz[l][j]), act.derivative.format(out=o, z=z))
                delta = Product(N.delta[l][j], float(back.delta[l][j]), (_as_quantity(dE_dout), d))
                neurons.append(NeuronBackward(o, z, dE_dout, d, (), delta))
            else:
                jac = tuple(
                    Quantity(deriv(N.out[l][k], z), float(back.dout_dz[l][k, j]),
                             f"{N.out[l][k]}·({int(k == j)} − {o})")
                    for k in range(len(outs[l]))
                )
                terms = tuple(
                    Product(deriv(N.errors[k], z), float(back.dE_dout[l][k] * jac[k].value),
                            (self._output_dE(k, back), jac[k]))
                    for k in range(len(outs[l]))
                )
                delta = Sum(N.delta[l][j], float(back.delta[l][j]), terms)
                neurons.append(NeuronBackward(o, z, dE_dout, None, jac, delta))
        grads = []
        for j, n in enumerate(neurons):
            for k, src in enumerate(prev_names):
                dz_dw = Quantity(deriv(n.z, N.weights[l][j][k]), float(prev[k]), src)
                grads.append(self._chain(deriv(N.total, N.weights[l][j][k]), n, dz_dw, back.gW[l][j, k]))
        grads += self._bias_gradients(l, neurons, back)
        return LayerBackward(l, tuple(neurons), tuple(grads))

    def _output_dE(self, k: int, back) -> Quantity:
        N = self.names
        o = N.out[-1][k]
        formula = self.net.loss.derivative.format(t=N.targets[k], o=o, n=len(N.targets))
        return Quantity(deriv(N.total, o), float(back.dE_dout[-1][k]), formula)

    def _hidden_dE(self, l: int, j: int, back) -> Sum:
        # dE_total/dh_j = sum over neurons m of the next layer of delta_m · w_mj
        N, net = self.names, self.net
        h = N.out[l][j]
        output_next = l + 1 == len(net.W) - 1 and net.acts[-1].elementwise
        terms = []
        for m in range(net.W[l + 1].shape[0]):
            d = Quantity(N.delta[l + 1][m], float(back.delta[l + 1][m]))
            w = Quantity(N.weights[l + 1][m][j], float(net.W[l + 1][m, j]))
            name = deriv(N.errors[m], h) if output_next else f"{deriv(N.total, h)} via {N.z[l + 1][m]}"
            terms.append(Product(name, d.value * w.value, (d, w)))
        return Sum(deriv(N.total, h), float(back.dE_dout[l][j]), tuple(terms))

    @staticmethod
    def _chain(name: str, n: NeuronBackward, last: Quantity, value) -> Product:
        # dE_total/dw = dE_total/dout × dout/dz × dz/dw  (softmax: dE_total/dz × dz/dw)
        if n.dout_dz is not None:
            factors = (_as_quantity(n.dE_dout), n.dout_dz, last)
        else:
            factors = (Quantity(deriv("E_total", n.z), n.delta.value), last)
        return Product(name, float(value), factors)

    def _bias_gradients(self, l: int, neurons, back) -> list:
        N, b = self.names, self.net.b[l]
        if b is None:
            return []
        if b.size == len(neurons):
            return [self._chain(deriv(N.total, N.biases[l][j]), n, Quantity(deriv(n.z, N.biases[l][j]), 1.0, "1"),
                                back.gb[l][j]) for j, n in enumerate(neurons)]
        # a shared bias enters every z of the layer: dE_total/db = sum_j dE_total/dz_j
        name = N.biases[l][0]
        terms = tuple(
            self._chain(f"{deriv(N.total, name)} via {n.z}", n, Quantity(deriv(n.z, name), 1.0, "1"), back.delta[l][j])
            for j, n in enumerate(neurons)
        )
        return [Sum(deriv(N.total, name), float(back.gb[l][0]), terms)]

    # ------------------------------------------------------------ update and check

    def _updates(self, olds, grads, back: engine.Backward) -> tuple[Update, ...]:
        N, net = self.names, self.net
        updates, arrays = [], net.arrays()
        index = {key: i for i, key in enumerate(net.trainable())}
        for l in range(len(net.W)):
            pairs = [("W", [w for row in N.weights[l] for w in row])]
            if net.b[l] is not None:
                pairs.append(("b", list(N.biases[l])))
            for kind, names in pairs:
                i = index.get((l, kind))
                if i is None:  # a frozen bias: shown, never changed
                    b = net.b[l]
                    updates += [Update(n, float(b[k]), float(back.gb[l][k]), float(b[k]), "frozen", {}, True)
                                for k, n in enumerate(names)]
                    continue
                old, g, new = olds[i].ravel(), grads[i].ravel(), arrays[i].ravel()
                state = {key: v.ravel() for key, v in self.opt.state_of(i).items()}
                for k, n in enumerate(names):
                    updates.append(Update(n, float(old[k]), float(g[k]), float(new[k]),
                                          self.opt.rule(n, deriv(N.total, n)),
                                          {key: float(v[k]) for key, v in state.items()}))
        return tuple(updates)

    def _check(self, i: int) -> Check:
        X, T, zs, outs = self._rows(i)
        E = engine.errors(self.net, T, zs, outs)[0]
        return Check(i + 1, self._forward(X[0], [z[0] for z in zs], [a[0] for a in outs]), self._loss(T[0], [a[0] for a in outs], E))


def _as_quantity(q: Quantity | Sum) -> Quantity:
    return q if isinstance(q, Quantity) else Quantity(q.name, q.value, " + ".join(t.name for t in q.terms))


def run(spec, sample: int = 1, naming: str | None = None) -> Trace:
    """Trace one update on one sample (1-based), the worked example's way."""
    with np.errstate(all="ignore"):  # a spec with huge values overflows: the trace shows inf and nan
        session = Session(spec, naming)
        iteration = session.step([sample - 1], epoch=1, trace=True)
    return Trace(spec, session.names, (iteration,))
