"""The numeric core: forward, backward and update in float64 numpy. No presentation here.

Samples are rows: X has shape (n, inputs), and every z, a and delta has shape (n, units).
Notation (layer l = 0..L-1, a_{-1} = x):
  z_l = a_{l-1} · W_lᵀ + b_l,   a_l = f_l(z_l)
  E_total = Σ_k E_k(o_k, t_k),  o = a_{L-1}
  delta_{L-1} = dE_total/dz = dE/do ⊙ f'(z)  (softmax: Jᵀ · dE/do; o − t where loss and activation cancel)
  dE_total/da_{l-1} = delta_l · W_l,   delta_{l-1} = dE_total/da_{l-1} ⊙ f'_{l-1}(z_{l-1})
  dE_total/dW_l = mean over samples of delta_l ⊗ a_{l-1};  dE_total/db_l = mean of delta_l
  (a shared bias: the mean of Σ_j delta_l[j])
Dropout (bptrace.dropout; train mode, `keep` given): keep_l = m_l / (1 − p_l) for the batch's rows,
  the next layer reads h̃_l = a_l ⊙ keep_l;  dE_total/da_l = (delta_{l+1} · W_{l+1}) ⊙ keep_l;
  dE_total/dW_{l+1} reads h̃_l.  Without `keep` (eval mode) no unit is dropped.
Front layers (bptrace.front: convolution, pooling, flatten, recurrent) come first: X is every sample's x
  flat; the front turns it into F, which the first dense layer reads (a_{-1} = F). Backward, ∂E_total/∂F =
  delta_0 · W_0 goes back through the front layers, whose parameters' gradients are means over samples too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import activations, dropout, frozen, groups, losses, schedules
from .optim import Optimizer


@dataclass
class Network:
    """A spec's network as numpy arrays; W[l] has shape (units, fan_in)."""

    acts: list[activations.Activation]
    loss_name: str
    W: list[np.ndarray]
    b: list[np.ndarray | None]  # shape (units,), or (1,) for a shared bias
    train_bias: list[bool]
    frozen: list = field(default_factory=list)  # per layer (W mask, b mask or None): True where frozen
    drop: list = field(default_factory=list)  # per layer m/(1 − p) of every sample, or None (bptrace.dropout)
    front: tuple = ()  # the front layers (bptrace.front), before the dense ones
    P: list = field(default_factory=list)  # P[f]: front layer f's parameter arrays (its Params' values), trained

    @classmethod
    def from_spec(cls, spec) -> "Network":
        return cls(
            acts=[activations.get(layer.activation, layer.act_param) for layer in spec.layers],
            loss_name=spec.loss,
            W=[np.array(layer.weights, dtype=float) for layer in spec.layers],
            b=[None if layer.bias is None else np.array(layer.bias, dtype=float) for layer in spec.layers],
            train_bias=[layer.train_bias for layer in spec.layers],
            frozen=frozen.masks(spec) if frozen.any_frozen(spec) else [],
            drop=dropout.scales(spec) if dropout.any_dropout(spec) else [],
            front=spec.front,
            P=[[np.array(p.value, dtype=float) for p in f.params] for f in spec.front],
        )

    def keep(self, rows) -> list | None:
        """Train mode: per layer m/(1 − p) of the samples `rows` (0-based), or None; None without dropout."""
        if not self.drop:
            return None
        return [None if d is None else d[list(rows)] for d in self.drop]

    @property
    def loss(self) -> losses.Loss:
        return losses.LOSSES[self.loss_name]

    def trainable(self) -> list[tuple[int, str]]:
        """(layer, 'W' or 'b') of every array the optimizer updates, in order; a front layer's arrays first,
        as ("front", (f, i)): the i-th parameter of front layer f. (Made every step: a few lists of few keys.)"""
        out = [("front", (f, i)) for f, params in enumerate(self.P) for i in range(len(params))]
        for l, b in enumerate(self.b):
            out.append((l, "W"))
            if b is not None and self.train_bias[l]:
                out.append((l, "b"))
        return out

    def arrays(self) -> list[np.ndarray]:
        return [self.P[kind[0]][kind[1]] if l == "front" else self.W[l] if kind == "W" else self.b[l]
                for l, kind in self.trainable()]

    def masks(self) -> list[np.ndarray | None]:
        """The frozen mask of every trainable array (None: nothing frozen in it), in `trainable()` order."""
        if not self.frozen:
            return [None] * len(self.trainable())
        return [None if l == "front" else self.frozen[l][0 if kind == "W" else 1] for l, kind in self.trainable()]


def step(net: Network, opt: Optimizer, grads: list[np.ndarray], lr) -> None:
    """The optimizer's step on every trainable array (lr: one α, or each array's); frozen entries are put
    back: p⁺ = p."""
    arrays, masks = net.arrays(), net.masks()
    kept = [a[m].copy() if m is not None else None for a, m in zip(arrays, masks)]
    opt.step(arrays, grads, lr)
    for a, m, v in zip(arrays, masks, kept):
        if m is not None:
            a[m] = v


def grad_square(net: Network, grads: list[np.ndarray]) -> float:
    """||g||² over the parameters that train (frozen entries left out)."""
    return sum(float(np.vdot(g, g)) if m is None else float(np.vdot(g[~m], g[~m])) for g, m in zip(grads, net.masks()))


@dataclass
class Backward:
    """Everything the backward pass computed, layer by layer (rows are samples)."""

    dE_dout: list[np.ndarray]  # dE_total/da_l
    dout_dz: list[np.ndarray | None]  # f'_l(z_l); None for softmax (see activations.softmax_jacobian)
    delta: list[np.ndarray]  # dE_total/dz_l
    gW: list[np.ndarray]  # mean over the samples
    gb: list[np.ndarray | None]
    front: list = field(default_factory=list)  # per front layer (dX, grads): ∂E/∂ its input per sample, and the
    #                                            means over samples of its parameters' gradients


class Zs(list):
    """The z of every dense layer; with front layers `front` is (F, the front layers' caches)."""

    front = None


def forward(net: Network, X: np.ndarray, keep: list | None = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """z_l and a_l for every layer (a_l before dropout: the next layer reads a_l ⊙ keep_l)."""
    zs, outs, a = Zs(), [], X
    if net.front:
        a, caches = front_forward(net, X)
        zs.front = (a, caches)
    for l, (act, W, b) in enumerate(zip(net.acts, net.W, net.b)):
        z = a @ W.T if b is None else a @ W.T + b
        a = act.f(z)
        zs.append(z)
        outs.append(a)
        if keep is not None and keep[l] is not None:
            a = a * keep[l]  # h̃ = m ⊙ h / (1 − p)
    return zs, outs


def front_forward(net: Network, X: np.ndarray) -> tuple[np.ndarray, list]:
    """F, the first dense layer's input, from each sample's flat x through the front layers; and their caches."""
    Y, caches = X.reshape((X.shape[0], *net.front[0].in_shape)), []
    for layer, params in zip(net.front, net.P):
        Y, cache = layer.forward(params, Y)
        caches.append(cache)
    return Y.reshape(X.shape[0], -1), caches


def front_backward(net: Network, caches: list, dF: np.ndarray) -> list:
    """(dX, mean gradients) of every front layer (first to last), from dF = ∂E_i/∂F of each sample."""
    n, out, dY = dF.shape[0], [], dF
    for layer, params, cache in reversed(list(zip(net.front, net.P, caches))):
        if layer is net.front[0]:  # nothing reads ∂E/∂x of the network's input
            dX, grads = None, layer.grads(params, cache, dY.reshape((n, *layer.out_shape)))
        else:
            dX, grads = layer.backward(params, cache, dY.reshape((n, *layer.out_shape)))
        out.append((dX, [g / n for g in grads]))
        dY = dX
    return out[::-1]


def errors(net: Network, T: np.ndarray, zs, outs) -> np.ndarray:
    """E_k for every sample and output k (E_total is their sum along the last axis)."""
    return net.loss.per_output(outs[-1], T, zs[-1])


def backward(net: Network, X: np.ndarray, T: np.ndarray, zs, outs, for_trace: bool = True,
             keep: list | None = None) -> Backward:
    """The backward pass; without for_trace, the output layer's dE/do and do/dz are skipped
    where loss and activation cancel (training needs only delta)."""
    L = len(net.W)
    dE_dout, dout_dz, delta = [None] * L, [None] * L, [None] * L
    o, z, act = outs[-1], zs[-1], net.acts[-1]
    fused = losses.fused_delta(net.loss_name, o, T)
    with np.errstate(all="ignore"):  # saturated outputs make dE/do infinite; the fused delta stays finite
        if fused is None or for_trace:
            dE_dout[-1] = net.loss.grad(o, T, z)
            if act.elementwise:
                dout_dz[-1] = act.d(z, o)
        if fused is not None:
            delta[-1] = fused
        elif act.elementwise:
            delta[-1] = dE_dout[-1] * dout_dz[-1]
        else:
            delta[-1] = activations.softmax_backward(o, dE_dout[-1])
    for l in range(L - 2, -1, -1):
        dE_dout[l] = delta[l + 1] @ net.W[l + 1]
        if keep is not None and keep[l] is not None:
            dE_dout[l] = dE_dout[l] * keep[l]  # ∂E/∂h = ∂E/∂h̃ · m/(1 − p)
        dout_dz[l] = net.acts[l].d(zs[l], outs[l])
        delta[l] = dE_dout[l] * dout_dz[l]
    n = X.shape[0]
    if getattr(zs, "front", None) is not None:
        X = zs.front[0]  # the first dense layer read F
    gW, gb = [], []
    for l in range(L):
        a_prev = X if l == 0 else outs[l - 1]
        if l and keep is not None and keep[l - 1] is not None:
            a_prev = a_prev * keep[l - 1]  # the layer read h̃
        gW.append(delta[l].T @ a_prev if n == 1 else delta[l].T @ a_prev / n)
        b = net.b[l]
        if b is None:
            gb.append(None)
        elif b.size == delta[l].shape[1]:
            gb.append(delta[l].sum(axis=0) / n)
        else:
            gb.append(np.array([delta[l].sum() / n]))
    front = front_backward(net, zs.front[1], delta[0] @ net.W[0]) if net.front else []  # ∂E_i/∂F = delta_0 · W_0
    return Backward(dE_dout, dout_dz, delta, gW, gb, front)


def gradients(net: Network, back: Backward) -> list[np.ndarray]:
    """The gradients of the trainable arrays, in `net.trainable()` order."""
    return [back.front[kind[0]][1][kind[1]] if l == "front" else back.gW[l] if kind == "W" else back.gb[l]
            for l, kind in net.trainable()]


def new_optimizer(net: Network, spec) -> Optimizer:
    """The spec's optimizer for the trainable arrays; with parameter groups, each array's own λ."""
    decays = groups.decays(spec, net.trainable()) if groups.any_groups(spec) else None
    return Optimizer(spec.optimizer.name, spec.optimizer.hyper, [a.shape for a in net.arrays()], decays)


def rates(net: Network, spec, epoch: int) -> float | list[float]:
    """α in an epoch: the spec's (scheduled), or with parameter groups each trainable array's own."""
    if groups.any_groups(spec):
        return groups.rates(spec, net.trainable(), epoch)
    return schedules.rate(spec, epoch)
