"""Losses: E_total = sum over outputs of E_k, each with its derivative dE_total/do_k beside it.

`per_output(o, t, z)` gets the output layer's z as well, so that the cross-entropies are
computed from logits and stay finite for |z| up to 1e300.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .activations import log_softmax


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


@dataclass(frozen=True)
class Loss:
    name: str
    per_output: Callable  # (o, t, z) -> E_k for each output
    grad: Callable  # (o, t, z) -> dE_total/do_k
    formula: str  # E_k in terms of {t} and {o}
    derivative: str  # dE_total/do_k in terms of {t}, {o} and {n}
    tex: str  # the same two in LaTeX (string.Template: $t, $o, $n), for the Markdown export
    dtex: str
    needs: str | None = None  # the output activation this loss requires


LOSSES: dict[str, Loss] = {
    "half_sse": Loss(
        "half_sse",
        lambda o, t, z: 0.5 * (t - o) ** 2,
        lambda o, t, z: -(t - o),
        "½({t} − {o})²", "−({t} − {o})",
        r"\tfrac{1}{2}(${t} - ${o})^2", r"-(${t} - ${o})",
    ),
    "sse": Loss(
        "sse",
        lambda o, t, z: (t - o) ** 2,
        lambda o, t, z: -2.0 * (t - o),
        "({t} − {o})²", "−2({t} − {o})",
        r"(${t} - ${o})^2", r"-2(${t} - ${o})",
    ),
    "mse": Loss(
        "mse",
        lambda o, t, z: (t - o) ** 2 / o.shape[-1],
        lambda o, t, z: -2.0 * (t - o) / o.shape[-1],
        "({t} − {o})² / {n}", "−2({t} − {o}) / {n}",
        r"\frac{(${t} - ${o})^2}{${n}}", r"\frac{-2(${t} - ${o})}{${n}}",
    ),
    "cross_entropy": Loss(
        "cross_entropy",
        lambda o, t, z: np.where(t == 0, 0.0, -t * log_softmax(z)),
        _ce_grad,
        "−{t}·log {o}", "−{t} / {o}",
        r"-${t}\log ${o}", r"-\frac{${t}}{${o}}",
        needs="softmax",
    ),
    "binary_cross_entropy": Loss(
        "binary_cross_entropy", _bce, _bce_grad,
        "−({t}·log {o} + (1 − {t})·log(1 − {o}))", "({o} − {t}) / ({o}(1 − {o}))",
        r"-(${t}\log ${o} + (1 - ${t})\log(1 - ${o}))", r"\frac{${o} - ${t}}{${o}(1 - ${o})}",
        needs="sigmoid",
    ),
}

NAMES = tuple(LOSSES)


def fused_delta(loss: str, o: np.ndarray, t: np.ndarray) -> np.ndarray | None:
    """dE_total/dz for the output layer where loss and activation cancel, else None.

    softmax + cross_entropy: delta_j = o_j·sum(t) - t_j (= o - t for a distribution);
    sigmoid + binary_cross_entropy: delta = o - t.
    """
    if loss == "cross_entropy":
        return o * np.sum(t, axis=-1, keepdims=True) - t
    if loss == "binary_cross_entropy":
        return o - t
    return None
