"""Losses: E_total = sum over outputs of E_k, each with its derivative dE_total/do_k beside it.

`per_output(o, t, z)` gets the output layer's z as well, so that the cross-entropies are
computed from logits and stay finite for |z| up to 1e300.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .activations import log_softmax
from .expr import Num, Op


def _softplus(z: np.ndarray) -> np.ndarray:
    # log(1 + e^z), stable for any z
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def _bce(o, t, z):
    # -(t log o + (1 - t) log(1 - o)), with log o = -softplus(-z), log(1 - o) = -softplus(z)
    return t * _softplus(-z) + (1.0 - t) * _softplus(z)


def _bce_grad(o, t, z):
    # dE/do = (o - t) / (o (1 - o)); infinite where o saturates to 0 or 1
    with np.errstate(divide="ignore", invalid="ignore"):
        return (o - t) / (o * (1.0 - o))


def _ce_grad(o, t, z):
    # dE/do_k = -t_k / o_k (0 where t_k = 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(t == 0, 0.0, -t / o)


ONE, TWO = Num(1), Num(2)


def _sq(t, o):
    return Op("pow", Op("sub", t, o), TWO)  # (t − o)²


@dataclass(frozen=True)
class Loss:
    """One loss, every form of it side by side: E_k as numpy (per_output), as the fast path's scalar
    Python (py) and as the trace's expression tree (tree); dE_total/do_k likewise (grad, py_d, dtree).
    Templates read {t}, {o}, {z}, {n}, {r} = t − o (R·R, never R ** 2: that raises OverflowError) and,
    for cross_entropy, LSE = log Σ e^z. Where loss and output activation cancel, `fused` and `py_fused`
    give dE_total/dz directly (ST = Σ t)."""

    name: str
    per_output: Callable  # (o, t, z) -> E_k for each output
    grad: Callable  # (o, t, z) -> dE_total/do_k
    py: str
    py_d: str | None
    tree: Callable  # (t, o, n) -> E_k
    dtree: Callable  # (t, o, n) -> dE_total/do_k
    needs: str | None = None  # the output activation this loss requires
    fused: Callable | None = None  # (o, t) -> dE_total/dz of the output layer
    py_fused: str | None = None


LOSSES: dict[str, Loss] = {
    "half_sse": Loss(  # ½(t − o)²;  −(t − o)
        "half_sse",
        lambda o, t, z: 0.5 * (t - o) ** 2,
        lambda o, t, z: -(t - o),
        "0.5 * {r} * {r}", "-{r}",
        lambda t, o, n: Op("coef", Num(0.5, "½"), _sq(t, o)),
        lambda t, o, n: Op("neg", Op("sub", t, o)),
    ),
    "sse": Loss(  # (t − o)²;  −2(t − o)
        "sse",
        lambda o, t, z: (t - o) ** 2,
        lambda o, t, z: -2.0 * (t - o),
        "{r} * {r}", "-2.0 * {r}",
        lambda t, o, n: _sq(t, o),
        lambda t, o, n: Op("neg", Op("coef", TWO, Op("sub", t, o))),
    ),
    "mse": Loss(  # (t − o)² / n;  −2(t − o) / n
        "mse",
        lambda o, t, z: (t - o) ** 2 / o.shape[-1],
        lambda o, t, z: -2.0 * (t - o) / o.shape[-1],
        "{r} * {r} / {n}", "-2.0 * {r} / {n}",
        lambda t, o, n: Op("div", _sq(t, o), Num(n)),
        lambda t, o, n: Op("div", Op("neg", Op("coef", TWO, Op("sub", t, o))), Num(n)),
    ),
    "cross_entropy": Loss(  # −t·log o, from logits: −t(z − log Σ e^z);  −t / o;  fused: o·Σt − t
        "cross_entropy",
        lambda o, t, z: np.where(t == 0, 0.0, -t * log_softmax(z)),
        _ce_grad,
        "(-{t} * ({z} - LSE) if {t} != 0.0 else 0.0)", None,
        lambda t, o, n: Op("neg", Op("mul", t, Op("log", o))),
        lambda t, o, n: Op("neg", Op("div", t, o)),
        needs="softmax",
        fused=lambda o, t: o * np.sum(t, axis=-1, keepdims=True) - t, py_fused="{o} * ST - {t}",
    ),
    "binary_cross_entropy": Loss(  # −(t·log o + (1 − t)·log(1 − o));  (o − t) / (o(1 − o));  fused: o − t
        "binary_cross_entropy", _bce, _bce_grad,
        "({t} * _softplus(-{z}) + (1.0 - {t}) * _softplus({z}))", None,
        lambda t, o, n: Op("neg", Op("add", Op("mul", t, Op("log", o)),
                                     Op("mul", Op("sub", ONE, t), Op("log", Op("sub", ONE, o))))),
        lambda t, o, n: Op("div", Op("sub", o, t), Op("mul", o, Op("sub", ONE, o))),
        needs="sigmoid",
        fused=lambda o, t: o - t, py_fused="{o} - {t}",
    ),
}

NAMES = tuple(LOSSES)


def fused_delta(loss: str, o: np.ndarray, t: np.ndarray) -> np.ndarray | None:
    """dE_total/dz for the output layer where loss and activation cancel, else None.

    softmax + cross_entropy: delta_j = o_j·sum(t) - t_j (= o - t for a distribution);
    sigmoid + binary_cross_entropy: delta = o - t.
    """
    fused = LOSSES[loss].fused
    return None if fused is None else fused(o, t)
