"""Turns the engine's arrays into trace objects, naming every quantity and factor.

`Session` holds a network being trained (parameters, optimizer state, step count):
`trace_step` returns a full `Iteration`; `step` only the numbers a training run keeps
(mean loss before the update, the outputs, ||g||), as the fast path's `ScalarNet.step` does.
"""

from __future__ import annotations

import math

import numpy as np

from . import activations, engine, formulas
from .expr import Ref
from .naming import Names, deriv, for_spec
from .notation import E_TOTAL, leaf, partial
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

    def _gradients(self, batch):
        """Forward and backward over the batch's rows: (T, zs, outs, back, gradients of the trainable arrays)."""
        X, T = self._select(batch)
        zs, outs = engine.forward(self.net, X)
        back = engine.backward(self.net, X, T, zs, outs, for_trace=False)  # each traced pass has its own
        return T, zs, outs, back, engine.gradients(self.net, back)

    def step(self, batch):
        """One untraced update from the samples in `batch` (0-based indices), as fastpath.ScalarNet.step:
        (mean E_total before the update, the outputs before it (rows), ||g|| of the trainable parameters).
        A loss that is not finite leaves the parameters as they were, for the diagnosis."""
        T, zs, outs, back, grads = self._gradients(batch)
        loss = float(engine.errors(self.net, T, zs, outs).sum()) / len(batch)
        norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
        if math.isfinite(loss):
            self.opt.step(self.net.arrays(), grads, self.spec.learning_rate)
            self.steps += 1
        return loss, outs[-1], norm

    def trace_step(self, batch, epoch: int = 1) -> Iteration:
        """One update from the samples in `batch`, traced: every quantity of every sample, the updates, the check."""
        T, zs, outs, back, grads = self._gradients(batch)
        lr = self.spec.learning_rate
        traced = tuple(self._pass(i) for i in batch)
        olds = [a.copy() for a in self.net.arrays()]
        given = self.steps == 0
        self.opt.step(self.net.arrays(), grads, lr)
        self.steps += 1
        updates = self._updates(olds, grads, back, given)
        checks = tuple(self._check(i) for i in batch)
        opt = self.spec.optimizer
        rule = formulas.update_rule(opt.name, opt.hyper, lr)
        return Iteration(epoch, self.steps, lr, opt.name, traced, updates, checks, self.names, rule)

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

    def _forward(self, x, zs, outs, given: bool = False, post: bool = False) -> Forward:
        """Forward trace of one sample: x, zs and outs are 1-D rows. `given`: the parameters are the spec's;
        `post`: the check after the update (w5+, z1+)."""
        N, net = self.names, self.net
        inputs = tuple(Quantity(n, float(v), None, leaf("x", 0, k), True) for k, (n, v) in enumerate(zip(N.inputs, x)))
        layers, prev_q = [], inputs
        for l, (z, a) in enumerate(zip(zs, outs)):
            act, layer = net.acts[l], self.spec.layers[l]
            given_b = given or not layer.train_bias
            given_w = given and layer.init == "given"  # an initialiser's weights were not written by the user
            zq_all, neurons = [], []
            for j in range(len(z)):
                terms = tuple(Term(Quantity(N.weights[l][j][k], float(net.W[l][j, k]), None, leaf("w", l, j, k, post), given_w),
                                   src) for k, src in enumerate(prev_q))
                bias = None
                if net.b[l] is not None:
                    bj = j if net.b[l].size > 1 else 0
                    bias = Quantity(N.biases[l][bj], float(net.b[l][bj]), None, leaf("b", l, bj, 0, post), given_b)
                # z = Σ_k w_jk·source_k + b
                zq_all.append((Quantity(N.z[l][j], float(z[j]), (formulas.weighted_sum, terms, bias),
                                        leaf("z", l, j, 0, post)),
                               terms, bias))
            outs_q, layer_z = [], tuple(q for q, _, _ in zq_all)
            for j, (zq, terms, bias) in enumerate(zq_all):
                recipe = (formulas.activation, act.name, zq, layer.slope, layer_z)
                out = Quantity(N.out[l][j], float(a[j]), recipe, leaf("out", l, j, 0, post))
                outs_q.append(out)
                neurons.append(NeuronForward(zq, terms, bias, out, act.name))
            layers.append(tuple(neurons))
            prev_q = tuple(outs_q)
        return Forward(inputs, tuple(layers))

    def _loss(self, t, f: Forward, E, post: bool = False) -> Loss:
        N, kind = self.names, self.spec.loss
        n = len(t)
        targets = tuple(Quantity(name, float(v), None, leaf("t", 0, k), True) for k, (name, v) in enumerate(zip(N.targets, t)))
        errs = tuple(Quantity(N.errors[k], float(E[k]), (formulas.error, kind, targets[k], f.outputs[k].out, n),
                              leaf("E", 0, k, 0, post))
                     for k in range(n))
        total = Quantity(N.total, float(E.sum()), (formulas.total, errs), leaf("E_total", post=post))
        return Loss(kind, targets, errs, total)

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
        f = self._forward(x, zs, outs, given=self.steps == 0)
        loss = self._loss(t, f, E)
        layers = tuple(self._layer_backward(l, f, loss, back) for l in range(len(zs) - 1, -1, -1))
        return Pass(i + 1, f, loss, layers)

    def _layer_backward(self, l: int, f: Forward, loss: Loss, back: engine.Backward) -> LayerBackward:
        N, net = self.names, self.net
        L = len(net.W)
        act, slope = net.acts[l], self.spec.layers[l].slope
        layer = f.layers[l]
        neurons = []
        for j, nf in enumerate(layer):
            o, z = nf.out, nf.z
            dE_dout = (self._output_dE(j, f, loss, back) if l == L - 1 else self._hidden_dE(l, j, back))
            if act.elementwise:
                d = Quantity(deriv(o.name, z.name), float(back.dout_dz[l][j]), (formulas.derivative, act.name, o, z, slope),
                             partial(o.ident, z.ident))
                delta = Product(N.delta[l][j], float(back.delta[l][j]), (_as_quantity(dE_dout), d), leaf("delta", l, j))
                neurons.append(NeuronBackward(o.name, z.name, dE_dout, d, (), delta))
            else:
                jac = tuple(
                    Quantity(deriv(m.out.name, z.name), float(back.dout_dz[l][k, j]),
                             (formulas.softmax_jacobian, m.out, o, k == j), partial(m.out.ident, z.ident))
                    for k, m in enumerate(layer)
                )
                terms = tuple(
                    Product(deriv(N.errors[k], z.name), float(back.dE_dout[l][k] * jac[k].value),
                            (self._output_dE(k, f, loss, back), jac[k]), partial(leaf("E", 0, k), z.ident))
                    for k in range(len(layer))
                )
                delta = Sum(N.delta[l][j], float(back.delta[l][j]), terms, leaf("delta", l, j))
                neurons.append(NeuronBackward(o.name, z.name, dE_dout, None, jac, delta))
        grads = []
        for j, (n, nf) in enumerate(zip(neurons, layer)):
            for k, t in enumerate(nf.terms):
                # dz/dw = the weight's source
                dz_dw = Quantity(deriv(n.z, t.weight.name), t.source.value, (Ref, t.source),
                                 partial(nf.z.ident, t.weight.ident), t.source.given)
                grads.append(self._chain(deriv(N.total, t.weight.name), partial(E_TOTAL, t.weight.ident), n, nf.z, dz_dw,
                                         back.gW[l][j, k]))
        grads += self._bias_gradients(l, neurons, layer, back)
        return LayerBackward(l, tuple(neurons), tuple(grads))

    def _output_dE(self, k: int, f: Forward, loss: Loss, back) -> Quantity:
        o = f.outputs[k].out
        recipe = (formulas.error_derivative, loss.kind, loss.targets[k], o, len(loss.targets))
        return Quantity(deriv(self.names.total, o.name), float(back.dE_dout[-1][k]), recipe, partial(E_TOTAL, o.ident))

    def _hidden_dE(self, l: int, j: int, back) -> Sum:
        # dE_total/dh_j = sum over neurons m of the next layer of delta_m · w_mj
        N, net = self.names, self.net
        h = N.out[l][j]
        output_next = l + 1 == len(net.W) - 1 and net.acts[-1].elementwise
        terms = []
        for m in range(net.W[l + 1].shape[0]):
            d = Quantity(N.delta[l + 1][m], float(back.delta[l + 1][m]), None, leaf("delta", l + 1, m))
            w = Quantity(N.weights[l + 1][m][j], float(net.W[l + 1][m, j]), None, leaf("w", l + 1, m, j),
                         self.steps == 0 and self.spec.layers[l + 1].init == "given")
            if output_next:
                ident, name = partial(leaf("E", 0, m), leaf("out", l, j)), deriv(N.errors[m], h)
            else:
                ident = partial(E_TOTAL, leaf("out", l, j), leaf("z", l + 1, m))
                name = f"{deriv(N.total, h)} via {N.z[l + 1][m]}"
            terms.append(Product(name, d.value * w.value, (d, w), ident))
        return Sum(deriv(N.total, h), float(back.dE_dout[l][j]), tuple(terms), partial(E_TOTAL, leaf("out", l, j)))

    @staticmethod
    def _chain(name: str, ident, n: NeuronBackward, z: Quantity, last: Quantity, value) -> Product:
        # dE_total/dw = dE_total/dout × dout/dz × dz/dw  (softmax: dE_total/dz × dz/dw)
        if n.dout_dz is not None:
            factors = (_as_quantity(n.dE_dout), n.dout_dz, last)
        else:
            factors = (Quantity(deriv("E_total", n.z), n.delta.value, None, partial(E_TOTAL, z.ident)), last)
        return Product(name, float(value), factors, ident)

    def _bias_gradients(self, l: int, neurons, layer, back) -> list:
        N, b = self.names, self.net.b[l]
        if b is None:
            return []
        if b.size == len(neurons):
            return [self._chain(deriv(N.total, nf.bias.name), partial(E_TOTAL, nf.bias.ident), n, nf.z,
                                Quantity(deriv(n.z, nf.bias.name), 1.0, formulas.ONE, partial(nf.z.ident, nf.bias.ident), True),
                                back.gb[l][j]) for j, (n, nf) in enumerate(zip(neurons, layer))]
        # a shared bias enters every z of the layer: dE_total/db = sum_j dE_total/dz_j
        bias = layer[0].bias
        terms = []
        for j, (n, nf) in enumerate(zip(neurons, layer)):
            terms.append(self._chain(f"{deriv(N.total, bias.name)} via {n.z}", partial(E_TOTAL, bias.ident, nf.z.ident),
                                     n, nf.z, Quantity(deriv(n.z, bias.name), 1.0, formulas.ONE,
                                                       partial(nf.z.ident, bias.ident), True), back.delta[l][j]))
        return [Sum(deriv(N.total, bias.name), float(back.gb[l][0]), tuple(terms), partial(E_TOTAL, bias.ident))]

    # ------------------------------------------------------------ update and check

    def _updates(self, olds, grads, back: engine.Backward, given: bool) -> tuple[Update, ...]:
        N, net = self.names, self.net
        updates, arrays = [], net.arrays()
        index = {key: i for i, key in enumerate(net.trainable())}
        for l in range(len(net.W)):
            rows, cols = net.W[l].shape
            pairs = [("W", [w for row in N.weights[l] for w in row], [leaf("w", l, j, k) for j in range(rows) for k in range(cols)])]
            if net.b[l] is not None:
                pairs.append(("b", list(N.biases[l]), [leaf("b", l, j) for j in range(len(N.biases[l]))]))
            for kind, names, ids in pairs:
                i = index.get((l, kind))
                if i is None:  # a frozen bias: shown, never changed
                    b = net.b[l]
                    updates += [Update(n, float(b[k]), float(back.gb[l][k]), float(b[k]), "frozen", {}, True, ids[k], True)
                                for k, n in enumerate(names)]
                    continue
                old, g, new = olds[i].ravel(), grads[i].ravel(), arrays[i].ravel()
                state = {key: v.ravel() for key, v in self.opt.state_of(i).items()}
                for k, n in enumerate(names):
                    updates.append(Update(n, float(old[k]), float(g[k]), float(new[k]),
                                          self.opt.rule(n, deriv(N.total, n)),
                                          {key: float(v[k]) for key, v in state.items()}, False, ids[k],
                                          given and (kind == "b" or self.spec.layers[l].init == "given")))
        return tuple(updates)

    def _check(self, i: int) -> Check:
        X, T, zs, outs = self._rows(i)
        E = engine.errors(self.net, T, zs, outs)[0]
        f = self._forward(X[0], [z[0] for z in zs], [a[0] for a in outs], post=True)
        return Check(i + 1, f, self._loss(T[0], f, E, post=True))


def _as_quantity(q: Quantity | Sum) -> Quantity:
    return q if isinstance(q, Quantity) else Quantity(q.name, q.value, (formulas.total, q.terms), q.ident)


def run(spec, sample: int = 1, naming: str | None = None) -> Trace:
    """Trace one update on one sample (1-based), the worked example's way."""
    with np.errstate(all="ignore"):  # a spec with huge values overflows: the trace shows inf and nan
        session = Session(spec, naming)
        iteration = session.trace_step([sample - 1], epoch=1)
    return Trace(spec, session.names, (iteration,))
