"""A pure-Python scalar loop for small networks, where numpy's per-call overhead dominates.

The same math as `engine` and `optim` (and tested against them to 1e-12 over long runs),
on plain lists of floats. `train` uses it for the epochs it does not trace when the
network has at most MAX_PARAMS parameters; state moves between it and the numpy
session only around traced epochs.
"""

from __future__ import annotations

import math

MAX_PARAMS = 128


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _softplus(z: float) -> float:
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))


def _f(name: str, slope: float):
    return {
        "sigmoid": _sigmoid,
        "tanh": math.tanh,
        "relu": lambda z: z if z > 0 else 0.0,
        "leaky_relu": lambda z: z if z > 0 else slope * z,
        "linear": lambda z: z,
    }[name]


def _d(name: str, slope: float):
    # dout/dz from z and out
    return {
        "sigmoid": lambda z, o: o * (1.0 - o),
        "tanh": lambda z, o: 1.0 - o * o,
        "relu": lambda z, o: 1.0 if z > 0 else 0.0,
        "leaky_relu": lambda z, o: 1.0 if z > 0 else slope,
        "linear": lambda z, o: 1.0,
    }[name]


def supports(session) -> bool:
    net = session.net
    return sum(a.size for a in net.W) + sum(b.size for b in net.b if b is not None) <= MAX_PARAMS


class ScalarNet:
    def __init__(self, session):
        spec = session.spec
        self.acts = [layer.activation for layer in spec.layers]
        self.f = [None if a == "softmax" else _f(a, layer.slope) for a, layer in zip(self.acts, spec.layers)]
        self.d = [None if a == "softmax" else _d(a, layer.slope) for a, layer in zip(self.acts, spec.layers)]
        self.loss = spec.loss
        self.lr = spec.learning_rate
        self.X = session.X.tolist()
        self.T = session.T.tolist()
        self.load(session)

    # ------------------------------------------------------------ state exchange

    def load(self, session) -> None:
        net, opt = session.net, session.opt
        self.W = [W.tolist() for W in net.W]
        self.b = [None if b is None else b.tolist() for b in net.b]
        self.keys = net.trainable()
        self.opt_name, self.h, self.t = opt.name, opt.h, opt.t
        self.state = {}
        for name in ("buf", "m", "v"):
            arrays = getattr(opt, name)
            if arrays is not None:
                self.state[name] = [a.ravel().tolist() for a in arrays]

    def store(self, session) -> None:
        import numpy as np

        net, opt = session.net, session.opt
        for l, W in enumerate(self.W):
            net.W[l][...] = W
            if self.b[l] is not None:
                net.b[l][...] = self.b[l]
        opt.t = self.t
        for name, lists in self.state.items():
            for a, values in zip(getattr(opt, name), lists):
                a[...] = np.reshape(values, a.shape)

    # ------------------------------------------------------------ one update

    def step(self, batch: list[int]):
        """Mean E_total before the update, the outputs of each sample, and ||g||."""
        n = len(batch)
        gW = [[[0.0] * len(row) for row in W] for W in self.W]
        gb = [None if b is None else [0.0] * len(b) for b in self.b]
        total, outputs = 0.0, []
        for i in batch:
            E, o = self._sample(self.X[i], self.T[i], gW, gb)
            total += E
            outputs.append(o)
        loss = total / n
        if not math.isfinite(loss):
            return loss, outputs, float("nan")
        grads = []
        for l, kind in self.keys:
            flat = [g for row in gW[l] for g in row] if kind == "W" else gb[l]
            grads.append([g / n for g in flat] if n > 1 else flat)
        norm = math.sqrt(sum(g * g for flat in grads for g in flat))
        self._update(grads)
        return loss, outputs, norm

    def _sample(self, x, t, gW, gb):
        zs, outs, a = [], [], x
        for l, W in enumerate(self.W):
            b = self.b[l]
            z = [sum(w * v for w, v in zip(row, a)) for row in W]
            if b is not None:
                z = [zj + (b[j] if len(b) > 1 else b[0]) for j, zj in enumerate(z)]
            if self.f[l] is None:
                m = max(z)
                e = [math.exp(v - m) for v in z]
                s = sum(e)
                a = [v / s for v in e]
            else:
                f = self.f[l]
                a = [f(v) for v in z]
            zs.append(z)
            outs.append(a)
        E, delta = self._loss(zs[-1], outs[-1], t)
        for l in range(len(self.W) - 1, -1, -1):
            prev = x if l == 0 else outs[l - 1]
            g = gW[l]
            for j, dj in enumerate(delta):
                row = g[j]
                for k, v in enumerate(prev):
                    row[k] += dj * v
            if gb[l] is not None:
                if len(gb[l]) == len(delta):
                    for j, dj in enumerate(delta):
                        gb[l][j] += dj
                else:
                    gb[l][0] += sum(delta)
            if l:
                W, d = self.W[l], self.d[l - 1]
                back = [sum(delta[j] * W[j][k] for j in range(len(delta))) for k in range(len(prev))]
                delta = [back[k] * d(zs[l - 1][k], prev[k]) for k in range(len(prev))]
        return E, outs[-1]

    def _loss(self, z, o, t):
        """E_total and delta of the output layer (dE_total/dz)."""
        n = len(o)
        loss = self.loss
        if loss == "cross_entropy":
            m = max(z)
            lse = m + math.log(sum(math.exp(v - m) for v in z))
            E = sum(-tk * (zk - lse) for zk, tk in zip(z, t) if tk != 0)
            st = sum(t)
            return E, [ok * st - tk for ok, tk in zip(o, t)]
        if loss == "binary_cross_entropy":
            E = sum(tk * _softplus(-zk) + (1.0 - tk) * _softplus(zk) for zk, tk in zip(z, t))
            return E, [ok - tk for ok, tk in zip(o, t)]
        if loss == "half_sse":
            E = sum(0.5 * (tk - ok) ** 2 for ok, tk in zip(o, t))
            dE = [-(tk - ok) for ok, tk in zip(o, t)]
        elif loss == "sse":
            E = sum((tk - ok) ** 2 for ok, tk in zip(o, t))
            dE = [-2.0 * (tk - ok) for ok, tk in zip(o, t)]
        else:  # mse
            E = sum((tk - ok) ** 2 / n for ok, tk in zip(o, t))
            dE = [-2.0 * (tk - ok) / n for ok, tk in zip(o, t)]
        d = self.d[-1]
        if d is None:  # softmax: delta_j = o_j (dE/do_j - sum_k dE/do_k o_k)
            s = sum(g * ok for g, ok in zip(dE, o))
            return E, [ok * (g - s) for ok, g in zip(o, dE)]
        return E, [g * d(zk, ok) for g, zk, ok in zip(dE, z, o)]

    # ------------------------------------------------------------ optimizers (as in optim.py)

    def _update(self, grads) -> None:
        self.t += 1
        h, name, lr = self.h, self.opt_name, self.lr
        wd = h.get("weight_decay", 0.0)
        for i, ((l, kind), g) in enumerate(zip(self.keys, grads)):
            p = [w for row in self.W[l] for w in row] if kind == "W" else self.b[l]
            if wd and name != "adamw":
                g = [gk + wd * pk for gk, pk in zip(g, p)]
            if name == "sgd":
                new = [pk - lr * gk for pk, gk in zip(p, g)]
            elif name == "momentum":
                buf = self.state["buf"][i]
                mu, damp = h["momentum"], h["dampening"]
                for k, gk in enumerate(g):
                    buf[k] = gk if self.t == 1 else mu * buf[k] + (1.0 - damp) * gk
                step = [gk + mu * bk for gk, bk in zip(g, buf)] if h["nesterov"] else buf
                new = [pk - lr * sk for pk, sk in zip(p, step)]
            else:
                new = self._adam(i, p, g, lr, wd)
            self._set(l, kind, new)

    def _adam(self, i, p, g, lr, wd):
        h, m, v = self.h, self.state["m"][i], self.state["v"][i]
        b1, b2, eps = h["beta1"], h["beta2"], h["eps"]
        c1, c2 = 1.0 - b1 ** self.t, 1.0 - b2 ** self.t
        if self.opt_name == "adamw":
            p = [pk * (1.0 - lr * wd) for pk in p]
        out = []
        for k, gk in enumerate(g):
            m[k] = b1 * m[k] + (1.0 - b1) * gk
            v[k] = b2 * v[k] + (1.0 - b2) * gk * gk
            out.append(p[k] - lr * (m[k] / c1) / (math.sqrt(v[k] / c2) + eps))
        return out

    def _set(self, l: int, kind: str, flat: list[float]) -> None:
        if kind == "b":
            self.b[l] = flat
            return
        cols = len(self.W[l][0])
        self.W[l] = [flat[j * cols:(j + 1) * cols] for j in range(len(self.W[l]))]
