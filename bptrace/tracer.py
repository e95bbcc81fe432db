"""Turns the engine's arrays into trace objects, naming every quantity and factor.

`Session` holds a network being trained (parameters, optimizer state, step count):
`trace_step` returns a full `Iteration`; `step` only the numbers a training run keeps
(mean loss before the update, the outputs, ||g||), as the fast path's `ScalarNet.step` does.

A traced step is made in two stages: `raw_step` does the numpy work (a `Raw`: every array whose
elements the trace shows), then `_Builder` makes the quantities from it. `stream_step` leaves the
second stage to whoever first reads the quantities: its `LazyIteration` holds the step's numbers
flat, named by a `Layout` that the builder made once from a probe `Raw`, whose elements are
`Tag`s (floats that say which element they are). So a streamed export reads exactly the numbers
the quantities would hold, without making them.
"""

from __future__ import annotations

import math

import numpy as np

from . import activations, engine, formulas, groups, schedules
from .expr import Ref
from .naming import Names, deriv, for_spec
from .notation import E_TOTAL, leaf, partial
from .notation import name as name_of
from .trace import (Check, Flat, Forward, Iteration, LayerBackward, Layout, LazyIteration, Loss, NeuronBackward,
                    NeuronForward, Pass, Product, Quantity, Sum, Tag, Term, Trace, Update)


LAYOUT_ROOM = 100_000  # numbers the Layouts of a session may name in all (a few hundred bytes each)


class Session:
    def __init__(self, spec, naming: str | None = None):
        self.spec = spec
        self.names: Names = for_spec(spec, naming)
        self.net = engine.Network.from_spec(spec)
        self.opt = engine.new_optimizer(self.net, spec)
        self.X = np.array([s.x for s in spec.samples], dtype=float)
        self.T = np.array([s.target for s in spec.samples], dtype=float)
        self.steps = 0
        self.lr = spec.learning_rate  # this epoch's α (trainer sets it from the schedule: at_epoch)
        self._grouped = groups.any_groups(spec)  # parameter groups: each array's own α (read once, not per epoch)
        self.rates = engine.rates(self.net, spec, 1)  # α of each trainable array (groups), or self.lr
        self._rule = None  # the update rule's tree: the same for every update
        self._layouts: dict[tuple, Layout] = {}  # by batch: what each number of a streamed update is
        self._room = LAYOUT_ROOM

    def at_epoch(self, epoch: int) -> None:
        """Take the epoch's α from the schedule: the spec's, and each parameter group's."""
        self.lr = schedules.rate(self.spec, epoch)
        self.rates = engine.rates(self.net, self.spec, epoch) if self._grouped else self.lr

    def _gradients(self, batch):
        """Forward and backward over the batch's rows: (T, zs, outs, back, gradients of the trainable arrays)."""
        X, T = self._select(batch)
        keep = self.net.keep(batch)  # dropout: train mode
        zs, outs = engine.forward(self.net, X, keep)
        back = engine.backward(self.net, X, T, zs, outs, for_trace=False, keep=keep)  # each traced pass has its own
        return T, zs, outs, back, engine.gradients(self.net, back)

    def step(self, batch):
        """One untraced update from the samples in `batch` (0-based indices), as fastpath.ScalarNet.step:
        (mean E_total before the update, the outputs before it (rows), ||g|| of the trainable parameters).
        A loss that is not finite leaves the parameters as they were, for the diagnosis."""
        T, zs, outs, back, grads = self._gradients(batch)
        loss = float(engine.errors(self.net, T, zs, outs).sum()) / len(batch)
        norm = math.sqrt(engine.grad_square(self.net, grads))
        if math.isfinite(loss):
            engine.step(self.net, self.opt, grads, self.rates)
            self.steps += 1
        return loss, outs[-1], norm

    # ------------------------------------------------------------ traced steps

    def trace_step(self, batch, epoch: int = 1) -> Iteration:
        """One update from the samples in `batch`, traced: every quantity of every sample, the updates, the check."""
        raw = self.raw_step(batch)
        return self._iteration(raw, epoch, _Builder(self, raw, float).parts())

    def stream_step(self, batch, epoch: int = 1) -> LazyIteration:
        """As trace_step, but the quantities are made only when first read; until then the Iteration holds
        the step's numbers flat, which is all a streamed export (.jsonl) and the training loop need."""
        raw = self.raw_step(batch)
        if self.net.front:  # front layers: made as trace_step (a Layout knows the dense arrays only)
            return self._iteration(raw, epoch, _Builder(self, raw, float).parts())
        arrays = raw.arrays()
        layout = self._layouts.get((raw.batch, raw.rates))  # a new α (schedule): a new layout
        if layout is None:
            size = sum(a.size for a in arrays)
            if size > self._room:  # many different batches (shuffled), or a wide network: made as trace_step
                return self._iteration(raw, epoch, _Builder(self, raw, float).parts())
            self._room -= size
            probe = raw.probe()
            layout = Layout(self._iteration(probe, Layout.EPOCH, _Builder(self, probe, _same).parts(), Layout.STEP))
            self._layouts[(raw.batch, raw.rates)] = layout
        numbers = np.concatenate(arrays, axis=None)
        flat = Flat(layout, numbers.tolist(), bool(np.isfinite(numbers).all()))
        return LazyIteration(self._iteration(raw, epoch, ((), (), ())), flat, _Builder(self, raw, float).parts)

    def _iteration(self, raw: Raw, epoch, parts, step=None) -> Iteration:
        opt = self.spec.optimizer
        if self._rule is None:
            decays = [d for d in self.opt.wd if d]  # parameter groups: λ shown when any array decays
            hyper = {**opt.hyper, "weight_decay": decays[0]} if decays and not opt.hyper.get("weight_decay") else opt.hyper
            self._rule = formulas.update_rule(opt.name, hyper, self.spec.learning_rate)
        return Iteration(epoch, raw.step if step is None else step, self.lr, opt.name, *parts,
                         self.names, self._rule)

    def raw_step(self, batch) -> Raw:
        """One update's numbers (numpy only), and the update made."""
        net = self.net
        passes = [self._pass_arrays(i) for i in batch]
        if len(batch) == 1:  # the sample's own backward pass is the batch's: computed once
            back = passes[0][-1]
        else:
            back = self._gradients(batch)[3]
        grads = engine.gradients(net, back)
        # (the gradients are new arrays every step, and the optimizer only reads them: kept as they are)
        raw = Raw(tuple(batch), self.steps == 0, [p[:-1] for p in passes], _copies(net.W), _copies(net.b),
                  grads, list(back.gb))
        raw.P = [_copies(p) for p in net.P]  # the front layers' parameters
        engine.step(net, self.opt, grads, self.rates)
        raw.P_after = [_copies(p) for p in net.P]
        raw.rates = tuple(self.opt.lr)  # α of each trainable array in this step
        self.steps += 1
        states = [{k: v.copy() for k, v in self.opt.state_of(i).items()} for i in range(len(grads))]
        raw.after(self.steps, _copies(net.W), _copies(net.b), states, [self._check_arrays(i) for i in batch])
        return raw

    def _pass_arrays(self, i: int):
        """One sample's pass as 1-D rows: (i, x, t, zs, outs, E, [E_total], dE/dout, dout/dz (the softmax
        Jacobian where the activation is not elementwise), delta, gW, gb, and the 2-D Backward)."""
        X, T, zs, outs = self._rows(i, train=True)
        back = engine.backward(self.net, X, T, zs, outs, for_trace=True, keep=self.net.keep([i]))
        E = engine.errors(self.net, T, zs, outs)[0]
        outs_ = [a[0] for a in outs]
        dout_dz = [d[0] if d is not None else activations.softmax_jacobian(a) for d, a in zip(back.dout_dz, outs_)]
        return (i, X[0], T[0], [z[0] for z in zs], outs_, E, E.sum(keepdims=True), [d[0] for d in back.dE_dout],
                dout_dz, [d[0] for d in back.delta], back.gW, back.gb, back)

    def _check_arrays(self, i: int):
        """One sample's forward pass after the update: (i, x, t, zs, outs, E, [E_total])."""
        X, T, zs, outs = self._rows(i, train=True)  # dropout: the same mask, so before and after compare
        E = engine.errors(self.net, T, zs, outs)[0]
        return i, X[0], T[0], [z[0] for z in zs], [a[0] for a in outs], E, E.sum(keepdims=True)

    def _select(self, batch):
        """The batch's rows: a view when the batch is a run of consecutive samples, else a copy."""
        first, n = batch[0], len(batch)
        if isinstance(batch, range) and batch.step == 1:
            return self.X[first:first + n], self.T[first:first + n]
        return self.X[batch], self.T[batch]

    def _rows(self, i: int, train: bool = False):
        """One sample's forward pass, as 1-D rows; train: with its dropout mask (eval mode, as PyTorch's
        model.eval(), without)."""
        X, T = self.X[i:i + 1], self.T[i:i + 1]
        zs, outs = engine.forward(self.net, X, self.net.keep([i]) if train else None)
        return X, T, zs, outs


class Raw:
    """One traced update's numbers (numpy arrays): each sample's pass, the parameters before the update,
    the gradients, the parameters and optimizer state after it, each sample's check."""

    def __init__(self, batch: tuple, given: bool, passes, W, b, grads, gb):
        self.batch, self.given, self.passes, self.W, self.b, self.grads, self.gb = batch, given, passes, W, b, grads, gb

    def after(self, step: int, W, b, states, checks) -> None:
        self.step, self.W_after, self.b_after, self.states, self.checks = step, W, b, states, checks

    def arrays(self) -> list[np.ndarray]:
        """Every array, in one fixed order (Flat.values is their elements, in this order)."""
        out = []
        for _, x, t, zs, outs, E, E_total, dE_dout, dout_dz, delta, gW, gb in self.passes:
            out += [x, t, *zs, *outs, E, E_total, *dE_dout, *dout_dz, *delta, *gW, *_some(gb)]
        out += [*self.W, *_some(self.b), *self.grads, *_some(self.gb), *self.W_after, *_some(self.b_after)]
        out += [a for state in self.states for a in state.values()]
        for _, x, t, zs, outs, E, E_total in self.checks:
            out += [x, t, *zs, *outs, E, E_total]
        return out

    def probe(self) -> "Raw":
        """The same arrays with every element a Tag: its index in the flat order (its value 0.5, finite)."""
        tagged, count = {}, 0
        for a in self.arrays():
            if id(a) not in tagged:  # an array held twice (a sample's gradient is the batch's) is one
                out = np.empty(a.size, dtype=object)
                out[:] = [Tag(0.5, count + k) for k in range(a.size)]
                tagged[id(a)] = out.reshape(a.shape)
            count += a.size

        def tags(obj):
            if isinstance(obj, np.ndarray):
                return tagged[id(obj)]
            if isinstance(obj, (list, tuple)):
                return type(obj)(tags(x) for x in obj)
            if isinstance(obj, dict):
                return {k: tags(x) for k, x in obj.items()}
            return obj

        probe = Raw(self.batch, self.given, *map(tags, (self.passes, self.W, self.b, self.grads, self.gb)))
        probe.after(self.step, *map(tags, (self.W_after, self.b_after, self.states, self.checks)))
        probe.rates = self.rates  # constants of the layout (stream_step keys layouts by them)
        return probe


def _some(arrays):
    return [a for a in arrays if a is not None]


def _copies(arrays):
    return [None if a is None else a.copy() for a in arrays]


def _same(x):
    return x


class _Builder:
    """Makes an update's quantities from its Raw numbers. F turns an array element into a value: float,
    or (for a Layout's probe) the element itself, a Tag."""

    def __init__(self, session: Session, raw: Raw, F):
        self.spec, self.names, self.opt, self.raw, self.F = session.spec, session.names, session.opt, raw, F
        self.net, self.acts, self.L = session.net, session.net.acts, len(session.net.W)
        self.grouped = groups.any_groups(self.spec)  # each update records its own α and λ

    def parts(self):
        """(passes, updates, checks)."""
        raw = self.raw
        passes = tuple(self._pass(p) for p in raw.passes)
        checks = tuple(self._check(c) for c in raw.checks)
        return passes, self._updates(), checks

    # ------------------------------------------------------------ forward and loss

    def _forward(self, x, zs, outs, W, b, given: bool = False, post: bool = False, i: int | None = None) -> Forward:
        """Forward trace of one sample: x, zs and outs are 1-D rows, W and b the parameters. `given`: they
        are the spec's; `post`: the check after the update (w5+, z1+); `i`: the sample (0-based) of a
        pass in train mode, whose dropout masks apply (the check runs in eval mode: no dropout). With front
        layers, x is the sample's flat x, which they turn into what the first dense layer reads."""
        N, F = self.names, self.F
        blocks = ()
        if self.net.front:
            from .front import build as front_build

            P = self.raw.P_after if post else self.raw.P
            blocks, self.caches, inputs = front_build.forward(self.net.front, P, x, N, post)
        else:
            inputs = tuple(Quantity(n, F(v), None, leaf("x", 0, k), True) for k, (n, v) in enumerate(zip(N.inputs, x)))
        layers, prev_q = [], inputs
        for l, (z, a) in enumerate(zip(zs, outs)):
            act, layer = self.acts[l], self.spec.layers[l]
            given_b = (given or not layer.train_bias) and layer.bias_init == "given"
            given_w = given and layer.init == "given"  # an initialiser's weights were not written by the user
            zq_all, neurons = [], []
            for j in range(len(z)):
                terms = tuple(Term(Quantity(N.weights[l][j][k], F(W[l][j, k]), None, leaf("w", l, j, k, post), given_w),
                                   src) for k, src in enumerate(prev_q))
                bias = None
                if b[l] is not None:
                    bj = j if b[l].size > 1 else 0
                    bias = Quantity(N.biases[l][bj], F(b[l][bj]), None, leaf("b", l, bj, 0, post), given_b)
                # z = Σ_k w_jk·source_k + b
                zq_all.append((Quantity(N.z[l][j], F(z[j]), (formulas.weighted_sum, terms, bias),
                                        leaf("z", l, j, 0, post)),
                               terms, bias))
            outs_q, layer_z = [], tuple(q for q, _, _ in zq_all)
            for j, (zq, terms, bias) in enumerate(zq_all):
                recipe = (formulas.activation, act.name, zq, layer.act_param, layer_z)
                out = Quantity(N.out[l][j], F(a[j]), recipe, leaf("out", l, j, 0, post))
                outs_q.append(out)
                neurons.append(NeuronForward(zq, terms, bias, out, act.name))
            if layer.dropout and i is not None:
                neurons = self._dropout(l, i, neurons)
                outs_q = [n.dropped for n in neurons]
            layers.append(tuple(neurons))
            prev_q = tuple(outs_q)
        return Forward(inputs, tuple(layers), blocks)

    def _dropout(self, l: int, i: int, neurons: list) -> list:
        """Each neuron with its mask m (given) and h̃ = m·h / (1 − p), for sample i."""
        layer, out = self.spec.layers[l], []
        for j, n in enumerate(neurons):
            m = float(layer.mask[i][j])
            mq = Quantity(self._name(leaf("mask", l, j)), m, None, leaf("mask", l, j), True)
            # h̃ = h·(m/(1 − p)), as numpy computes h ⊙ keep (a probe's Tag stays a Tag)
            dq = Quantity(self._name(leaf("drop", l, j)), n.out.value * (m / (1 - layer.dropout)),
                          (formulas.dropped, mq, n.out, layer.dropout), leaf("drop", l, j))
            out.append(NeuronForward(n.z, n.terms, n.bias, n.out, n.activation, mq, dq))
        return out

    def _name(self, ident) -> str:
        return name_of(ident, self.names, "ascii")

    def _loss(self, t, f: Forward, E, E_total, post: bool = False, i: int | None = None) -> Loss:
        N, kind, F = self.names, self.spec.loss, self.F
        n = len(t)
        targets = tuple(Quantity(name, F(v), None, leaf("t", 0, k), True) for k, (name, v) in enumerate(zip(N.targets, t)))
        given = None if i is None else self.spec.samples[i].given_target
        if given is not None:  # label smoothing: each target computed from the one given, formula shown
            eps = self.spec.label_smoothing
            targets = tuple(Quantity(q.name, q.value, (formulas.smoothed_target, given[k], eps, n), q.ident, False)
                            for k, q in enumerate(targets))
        errs = tuple(Quantity(N.errors[k], F(E[k]), (formulas.error, kind, targets[k], f.outputs[k].out, n),
                              leaf("E", 0, k, 0, post))
                     for k in range(n))
        total = Quantity(N.total, F(E_total[0]), (formulas.total, errs), leaf("E_total", post=post))
        return Loss(kind, targets, errs, total)

    # ------------------------------------------------------------ backward

    def _pass(self, arrays) -> Pass:
        i, x, t, zs, outs, E, E_total, *back = arrays
        back = engine.Backward(*back)
        f = self._forward(x, zs, outs, self.raw.W, self.raw.b, given=self.raw.given, i=i)
        loss = self._loss(t, f, E, E_total, i=i)
        layers = tuple(self._layer_backward(l, f, loss, back) for l in range(len(zs) - 1, -1, -1))
        if not self.net.front:
            return Pass(i + 1, f, loss, layers)
        from .front import build as front_build

        given_w = self.raw.given and self.spec.layers[0].init == "given"
        front = front_build.backward(self.net.front, self.raw.P, f.front, self.caches, self.names, back.delta[0],
                                     self.raw.W[0], self.names.weights[0], given_w)
        return Pass(i + 1, f, loss, layers, front)

    def _layer_backward(self, l: int, f: Forward, loss: Loss, back: engine.Backward) -> LayerBackward:
        N, F, L = self.names, self.F, self.L
        act, slope = self.acts[l], self.spec.layers[l].act_param
        layer = f.layers[l]
        neurons = []
        for j, nf in enumerate(layer):
            o, z = nf.out, nf.z
            keep = self._keep(nf)
            dE_dout = (self._output_dE(j, f, loss, back) if l == L - 1 else self._hidden_dE(l, j, back, keep))
            if act.elementwise:
                d = Quantity(deriv(o.name, z.name), F(back.dout_dz[l][j]), (formulas.derivative, act.name, o, z, slope),
                             partial(o.ident, z.ident))
                delta = Product(N.delta[l][j], F(back.delta[l][j]), (_as_quantity(dE_dout), d), leaf("delta", l, j))
                neurons.append(NeuronBackward(o.name, z.name, dE_dout, d, (), delta, keep))
            else:
                jac = tuple(
                    Quantity(deriv(m.out.name, z.name), F(back.dout_dz[l][k, j]),
                             (formulas.softmax_jacobian, m.out, o, k == j), partial(m.out.ident, z.ident))
                    for k, m in enumerate(layer)
                )
                terms = tuple(
                    Product(deriv(N.errors[k], z.name), F(back.dE_dout[l][k]) * jac[k].value,
                            (self._output_dE(k, f, loss, back), jac[k]), partial(leaf("E", 0, k), z.ident))
                    for k in range(len(layer))
                )
                delta = Sum(N.delta[l][j], F(back.delta[l][j]), terms, leaf("delta", l, j))
                neurons.append(NeuronBackward(o.name, z.name, dE_dout, None, jac, delta))
        grads = []
        for j, (n, nf) in enumerate(zip(neurons, layer)):
            for k, t in enumerate(nf.terms):
                # dz/dw = the weight's source
                dz_dw = Quantity(deriv(n.z, t.weight.name), t.source.value, (Ref, t.source),
                                 partial(nf.z.ident, t.weight.ident), t.source.given)
                grads.append(self._chain(deriv(N.total, t.weight.name), partial(E_TOTAL, t.weight.ident), n, nf.z, dz_dw,
                                         F(back.gW[l][j, k])))
        grads += self._bias_gradients(l, neurons, layer, back)
        return LayerBackward(l, tuple(neurons), tuple(grads))

    def _output_dE(self, k: int, f: Forward, loss: Loss, back) -> Quantity:
        o = f.outputs[k].out
        recipe = (formulas.error_derivative, loss.kind, loss.targets[k], o, len(loss.targets))
        return Quantity(deriv(self.names.total, o.name), self.F(back.dE_dout[-1][k]), recipe, partial(E_TOTAL, o.ident))

    def _keep(self, nf: NeuronForward) -> Quantity | None:
        """Dropout: dh̃/dh = m / (1 − p), or None."""
        if nf.mask is None:
            return None
        p = self.spec.layers[nf.mask.ident.l].dropout
        return Quantity(deriv(nf.dropped.name, nf.out.name), nf.mask.value / (1 - p),
                        (formulas.keep_scale, nf.mask, p), partial(nf.dropped.ident, nf.out.ident))

    def _hidden_dE(self, l: int, j: int, back, keep: Quantity | None = None) -> Sum:
        # dE_total/dh_j = sum over neurons m of the next layer of delta_m · w_mj (· dh̃_j/dh_j with dropout)
        N, F, W = self.names, self.F, self.raw.W
        h = N.out[l][j]
        output_next = l + 1 == self.L - 1 and self.acts[-1].elementwise
        terms = []
        for m in range(W[l + 1].shape[0]):
            d = Quantity(N.delta[l + 1][m], F(back.delta[l + 1][m]), None, leaf("delta", l + 1, m))
            w = Quantity(N.weights[l + 1][m][j], F(W[l + 1][m, j]), None, leaf("w", l + 1, m, j),
                         self.raw.given and self.spec.layers[l + 1].init == "given")
            if output_next:
                ident, name = partial(leaf("E", 0, m), leaf("out", l, j)), deriv(N.errors[m], h)
            else:
                ident = partial(E_TOTAL, leaf("out", l, j), leaf("z", l + 1, m))
                name = f"{deriv(N.total, h)} via {N.z[l + 1][m]}"
            if keep is None:
                terms.append(Product(name, d.value * w.value, (d, w), ident))
            else:
                terms.append(Product(name, d.value * w.value * keep.value, (d, w, keep), ident))
        return Sum(deriv(N.total, h), F(back.dE_dout[l][j]), tuple(terms), partial(E_TOTAL, leaf("out", l, j)))

    @staticmethod
    def _chain(name: str, ident, n: NeuronBackward, z: Quantity, last: Quantity, value) -> Product:
        # dE_total/dw = dE_total/dout × dout/dz × dz/dw  (softmax: dE_total/dz × dz/dw)
        if n.dout_dz is not None:
            factors = (_as_quantity(n.dE_dout), n.dout_dz, last)
        else:
            factors = (Quantity(deriv("E_total", n.z), n.delta.value, None, partial(E_TOTAL, z.ident)), last)
        return Product(name, value, factors, ident)

    def _bias_gradients(self, l: int, neurons, layer, back) -> list:
        N, F, b = self.names, self.F, self.raw.b[l]
        if b is None:
            return []
        if b.size == len(neurons):
            return [self._chain(deriv(N.total, nf.bias.name), partial(E_TOTAL, nf.bias.ident), n, nf.z,
                                Quantity(deriv(n.z, nf.bias.name), 1.0, formulas.ONE, partial(nf.z.ident, nf.bias.ident), True),
                                F(back.gb[l][j])) for j, (n, nf) in enumerate(zip(neurons, layer))]
        # a shared bias enters every z of the layer: dE_total/db = sum_j dE_total/dz_j
        bias = layer[0].bias
        terms = []
        for j, (n, nf) in enumerate(zip(neurons, layer)):
            terms.append(self._chain(f"{deriv(N.total, bias.name)} via {n.z}", partial(E_TOTAL, bias.ident, nf.z.ident),
                                     n, nf.z, Quantity(deriv(n.z, bias.name), 1.0, formulas.ONE,
                                                       partial(nf.z.ident, bias.ident), True), F(back.delta[l][j])))
        return [Sum(deriv(N.total, bias.name), F(back.gb[l][0]), tuple(terms), partial(E_TOTAL, bias.ident))]

    # ------------------------------------------------------------ update and check

    def _front_updates(self) -> list[Update]:
        """The front layers' parameters (bptrace.front), before the dense ones."""
        raw, out = self.raw, []
        ids = iter([i for f in self.net.front for i in f.param_ids()])
        for i, (l, (f, p)) in enumerate(key for key in self.net.trainable() if key[0] == "front"):
            old, g, new = raw.P[f][p].ravel(), raw.grads[i].ravel(), raw.P_after[f][p].ravel()
            state = {key: v.ravel() for key, v in raw.states[i].items()}
            given = raw.given and self.net.front[f].params[p].given
            for k in range(old.size):
                ident = next(ids)
                n = self._name(ident)
                out.append(Update(n, float(old[k]), float(g[k]), float(new[k]), self.opt.rule(n, deriv(self.names.total, n), i),
                                  {key: float(v[k]) for key, v in state.items()}, False, ident, given))
        return out

    def _updates(self) -> tuple[Update, ...]:
        N, F, raw = self.names, self.F, self.raw
        updates = []
        if self.net.front:
            updates = self._front_updates()
        index = {key: i for i, key in enumerate(self.net.trainable())}
        masks = self.net.masks()
        for l in range(self.L):
            rows, cols = raw.W[l].shape
            pairs = [("W", [w for row in N.weights[l] for w in row], [leaf("w", l, j, k) for j in range(rows) for k in range(cols)])]
            if raw.b[l] is not None:
                pairs.append(("b", list(N.biases[l]), [leaf("b", l, j) for j in range(len(N.biases[l]))]))
            for kind, names, ids in pairs:
                i = index.get((l, kind))
                if i is None:  # a frozen bias: shown, never changed
                    b = raw.b_after[l]
                    updates += [Update(n, F(b[k]), F(raw.gb[l][k]), F(b[k]), "frozen", {}, True, ids[k], True)
                                for k, n in enumerate(names)]
                    continue
                before, after = (raw.W, raw.W_after) if kind == "W" else (raw.b, raw.b_after)
                old, g, new = before[l].ravel(), raw.grads[i].ravel(), after[l].ravel()
                state = {key: v.ravel() for key, v in raw.states[i].items()}
                own = (raw.rates[i], self.opt.wd[i]) if self.grouped else ()  # its group's α and λ
                held = masks[i].ravel() if masks[i] is not None else None
                for k, n in enumerate(names):
                    if held is not None and held[k]:  # a frozen parameter: its gradient shown, p⁺ = p
                        updates.append(Update(n, F(old[k]), F(g[k]), F(new[k]), "frozen", {}, True, ids[k],
                                              raw.given and (kind == "b" or self.spec.layers[l].init == "given")))
                        continue
                    updates.append(Update(n, F(old[k]), F(g[k]), F(new[k]),
                                          self.opt.rule(n, deriv(N.total, n), i),
                                          {key: F(v[k]) for key, v in state.items()}, False, ids[k],
                                          raw.given and (kind == "b" or self.spec.layers[l].init == "given"),
                                          *own))
        return tuple(updates)

    def _check(self, arrays) -> Check:
        i, x, t, zs, outs, E, E_total = arrays
        f = self._forward(x, zs, outs, self.raw.W_after, self.raw.b_after, post=True, i=i)
        return Check(i + 1, f, self._loss(t, f, E, E_total, post=True))


def _as_quantity(q: Quantity | Sum) -> Quantity:
    return q if isinstance(q, Quantity) else Quantity(q.name, q.value, (formulas.total, q.terms), q.ident)


def run(spec, sample: int = 1, naming: str | None = None) -> Trace:
    """Trace one update on one sample (1-based), the worked example's way."""
    with np.errstate(all="ignore"):  # a spec with huge values overflows: the trace shows inf and nan
        session = Session(spec, naming)
        iteration = session.trace_step([sample - 1], epoch=1)
    return Trace(spec, session.names, (iteration,))
