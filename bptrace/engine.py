"""The numeric core: forward, backward and update in float64 numpy. No presentation here.

Notation (one sample, layer l = 0..L-1, a_{-1} = x):
  z_l = W_l · a_{l-1} + b_l,   a_l = f_l(z_l)
  E_total = sum_k E_k(o_k, t_k),  o = a_{L-1}
  delta_L-1 = dE_total/dz = dE/do ⊙ f'(z)  (or J^T · dE/do for softmax, or o − t where loss and activation cancel)
  dE_total/da_{l-1} = W_l^T · delta_l,   delta_{l-1} = dE_total/da_{l-1} ⊙ f'_{l-1}(z_{l-1})
  dE_total/dW_l = delta_l ⊗ a_{l-1},     dE_total/db_l = delta_l (a shared bias: sum_j delta_l[j])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import activations, losses
from .optim import Optimizer


@dataclass
class Network:
    """A spec's network as numpy arrays; W[l] has shape (units, fan_in)."""

    acts: list[activations.Activation]
    loss_name: str
    W: list[np.ndarray]
    b: list[np.ndarray | None]  # shape (units,), or (1,) for a shared bias
    train_bias: list[bool]

    @classmethod
    def from_spec(cls, spec) -> "Network":
        return cls(
            acts=[activations.get(layer.activation, layer.slope) for layer in spec.layers],
            loss_name=spec.loss,
            W=[np.array(layer.weights, dtype=float) for layer in spec.layers],
            b=[None if layer.bias is None else np.array(layer.bias, dtype=float) for layer in spec.layers],
            train_bias=[layer.train_bias for layer in spec.layers],
        )

    @property
    def loss(self) -> losses.Loss:
        return losses.LOSSES[self.loss_name]

    def trainable(self) -> list[tuple[int, str]]:
        """(layer, 'W' or 'b') of every array the optimizer updates, in order."""
        out = []
        for l, b in enumerate(self.b):
            out.append((l, "W"))
            if b is not None and self.train_bias[l]:
                out.append((l, "b"))
        return out

    def arrays(self) -> list[np.ndarray]:
        return [self.W[l] if kind == "W" else self.b[l] for l, kind in self.trainable()]


@dataclass
class Backward:
    """Everything the backward pass computed for one sample, layer by layer."""

    dE_dout: list[np.ndarray]  # dE_total/da_l
    dout_dz: list[np.ndarray]  # f'_l(z_l) (elementwise), or the Jacobian (softmax)
    delta: list[np.ndarray]  # dE_total/dz_l
    gW: list[np.ndarray]
    gb: list[np.ndarray | None]


def forward(net: Network, x: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """z_l and a_l for every layer."""
    zs, outs, a = [], [], x
    for act, W, b in zip(net.acts, net.W, net.b):
        z = W @ a if b is None else W @ a + b
        a = act.f(z)
        zs.append(z)
        outs.append(a)
    return zs, outs


def errors(net: Network, t: np.ndarray, zs, outs) -> np.ndarray:
    """E_k for every output k (E_total is their sum)."""
    return net.loss.per_output(outs[-1], t, zs[-1])


def backward(net: Network, x: np.ndarray, t: np.ndarray, zs, outs) -> Backward:
    L = len(net.W)
    dE_dout, dout_dz, delta = [None] * L, [None] * L, [None] * L
    o, z, act = outs[-1], zs[-1], net.acts[-1]
    with np.errstate(all="ignore"):  # saturated outputs make dE/do infinite; delta below stays finite
        dE_dout[-1] = net.loss.grad(o, t, z)
        if act.elementwise:
            dout_dz[-1] = act.d(z, o)
            chain = dE_dout[-1] * dout_dz[-1]
        else:
            dout_dz[-1] = activations.softmax_jacobian(o)
            chain = dout_dz[-1].T @ dE_dout[-1]  # delta_j = sum_k dE/do_k · do_k/dz_j
    fused = losses.fused_delta(net.loss_name, o, t)
    delta[-1] = chain if fused is None else fused
    for l in range(L - 2, -1, -1):
        dE_dout[l] = net.W[l + 1].T @ delta[l + 1]
        dout_dz[l] = net.acts[l].d(zs[l], outs[l])
        delta[l] = dE_dout[l] * dout_dz[l]
    gW, gb = [], []
    for l in range(L):
        a_prev = x if l == 0 else outs[l - 1]
        gW.append(np.outer(delta[l], a_prev))
        b = net.b[l]
        gb.append(None if b is None else (delta[l] if b.size == delta[l].size else np.array([delta[l].sum()])))
    return Backward(dE_dout, dout_dz, delta, gW, gb)


def gradients(net: Network, back: Backward) -> list[np.ndarray]:
    """The gradients of the trainable arrays, in `net.trainable()` order."""
    return [back.gW[l] if kind == "W" else back.gb[l] for l, kind in net.trainable()]


def new_optimizer(net: Network, spec) -> Optimizer:
    return Optimizer(spec.optimizer.name, spec.optimizer.hyper, [a.shape for a in net.arrays()])


def batch_gradients(net: Network, xs: list[np.ndarray], ts: list[np.ndarray]):
    """Mean gradient over a batch, the mean E_total before the update, and each sample's pass."""
    passes, total, acc = [], 0.0, None
    for x, t in zip(xs, ts):
        zs, outs = forward(net, x)
        E = errors(net, t, zs, outs)
        back = backward(net, x, t, zs, outs)
        g = gradients(net, back)
        acc = g if acc is None else [a + b for a, b in zip(acc, g)]
        total += float(E.sum())
        passes.append((zs, outs, E, back))
    n = len(xs)
    mean = acc if n == 1 else [a / n for a in acc]
    return mean, total / n, passes
