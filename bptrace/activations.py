"""Activations: each keeps its forward rule and its derivative side by side.

Every function is numerically stable for |z| up to 1e300: no overflow warnings, no NaN.
`formula` and `derivative` are the symbolic forms the renderers show, written in the
names of the neuron (`out` for h1/o1, `z` for z1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # 1 / (1 + e^-z), split by sign so that exp never overflows
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softmax(z: np.ndarray) -> np.ndarray:
    # e^z_k / sum_j e^z_j along the last axis, shifted by max(z) so that exp never overflows
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def log_softmax(z: np.ndarray) -> np.ndarray:
    # z_k - log sum_j e^z_j along the last axis
    m = np.max(z, axis=-1, keepdims=True)
    return z - (m + np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True)))


def softmax_backward(o: np.ndarray, dE_do: np.ndarray) -> np.ndarray:
    # delta_j = sum_k dE/do_k · o_k (1[k = j] - o_j) = o_j (dE/do_j - sum_k dE/do_k · o_k), row by row
    return o * (dE_do - np.sum(dE_do * o, axis=-1, keepdims=True))


def softmax_jacobian(o: np.ndarray) -> np.ndarray:
    # J[k, j] = do_k/dz_j = o_k (1[k = j] - o_j)
    return np.diag(o) - np.outer(o, o)


@dataclass(frozen=True)
class Activation:
    name: str
    f: Callable[[np.ndarray], np.ndarray]
    # d(z, out) = dout/dz, elementwise (None for softmax, which has a full Jacobian)
    d: Callable[[np.ndarray, np.ndarray], np.ndarray] | None
    formula: str  # out = formula(z)
    derivative: str  # dout/dz as a formula in out and z
    tex: str = ""  # the same two in LaTeX (string.Template: $z, $out), for the Markdown export
    dtex: str = ""

    @property
    def elementwise(self) -> bool:
        return self.d is not None


def leaky_relu(slope: float) -> Activation:
    return Activation(
        name="leaky_relu",
        f=lambda z: np.where(z > 0, z, slope * z),
        d=lambda z, out: np.where(z > 0, 1.0, slope),
        formula=f"{{z}} if {{z}} > 0 else {slope:g}·{{z}}",
        derivative=f"1 if {{z}} > 0 else {slope:g}",
        tex=r"\begin{cases}${z} & ${z} > 0 \\ " + f"{slope:g}" + r"\,${z} & \text{otherwise}\end{cases}",
        dtex=r"\begin{cases}1 & ${z} > 0 \\ " + f"{slope:g}" + r" & \text{otherwise}\end{cases}",
    )


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation(
        "sigmoid", _sigmoid, lambda z, out: out * (1.0 - out),
        "1 / (1 + e^−{z})", "{out}·(1 − {out})",
        r"\frac{1}{1 + e^{-${z}}}", r"${out}(1 - ${out})",
    ),
    "tanh": Activation(
        "tanh", np.tanh, lambda z, out: 1.0 - out * out,
        "tanh({z})", "1 − {out}²",
        r"\tanh(${z})", r"1 - ${out}^2",
    ),
    "relu": Activation(
        "relu", lambda z: np.maximum(z, 0.0), lambda z, out: z > 0,  # a boolean mask multiplies as 0/1
        "max(0, {z})", "1 if {z} > 0 else 0",
        r"\max(0, ${z})", r"\begin{cases}1 & ${z} > 0 \\ 0 & \text{otherwise}\end{cases}",
    ),
    "linear": Activation(
        "linear", lambda z: np.asarray(z, dtype=float).copy(), lambda z, out: np.ones_like(z),
        "{z}", "1",
        "${z}", "1",
    ),
    "softmax": Activation(
        "softmax", softmax, None, "e^{z} / Σ e^z", "{out}(1[k=j] − o_j)",
        r"\frac{e^{${z}}}{\sum_k e^{z_k}}", "",
    ),
}

NAMES = ("sigmoid", "tanh", "relu", "leaky_relu", "linear", "softmax")


def get(name: str, slope: float = 0.01) -> Activation:
    if name == "leaky_relu":
        return leaky_relu(slope)
    return ACTIVATIONS[name]
