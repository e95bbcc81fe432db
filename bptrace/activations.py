"""Activations: each keeps its forward rule and its derivative side by side.

Every function is numerically stable for |z| up to 1e300: no overflow warnings, no NaN.
Each entry of ACTIVATIONS is the one definition of its rule: the numpy form (engine), the
scalar template (the generated fast path) and the expression tree (the trace), with the
derivative beside each. Adding an activation is one entry here (and its name in NAMES).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .expr import Num, Op, Sym


SOFTMAX_SUM = Sym("sum_k e^z_k", "Σₖ e^zₖ", r"\sum_k e^{z_k}")


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


ONE = Num(1)


@dataclass(frozen=True)
class Activation:
    """One activation, every form of it side by side:
    f (numpy) / py (the fast path's scalar Python, in {z}) / tree (the trace's formula);
    d = dout/dz (numpy, from z and out) / py_d (scalar, in {z} and {out}) / dtree (the trace's)."""

    name: str
    f: Callable[[np.ndarray], np.ndarray]
    # d(z, out) = dout/dz, elementwise (None for softmax, which has a full Jacobian)
    d: Callable[[np.ndarray, np.ndarray], np.ndarray] | None
    py: str | None  # out = f(z) on floats (None for softmax: the fast path writes it across the layer)
    py_d: str | None
    tree: Callable  # (z, layer_z) -> out as an expression tree (layer_z: every z of the layer, for softmax)
    dtree: Callable | None  # (out, z) -> dout/dz as an expression tree

    @property
    def elementwise(self) -> bool:
        return self.d is not None


def leaky_relu(slope: float) -> Activation:
    return Activation(
        "leaky_relu", lambda z: np.where(z > 0, z, slope * z), lambda z, out: np.where(z > 0, 1.0, slope),
        f"({{z}} if {{z}} > 0.0 else {slope!r} * {{z}})", f"(1.0 if {{z}} > 0.0 else {slope!r})",
        lambda z, layer_z=(): Op("if", z, z, Op("mul", Num(slope), z)),
        lambda out, z: Op("if", ONE, z, Num(slope)),
    )


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation(  # 1 / (1 + e^−z);  o(1 − o)
        "sigmoid", _sigmoid, lambda z, out: out * (1.0 - out),
        "_sigmoid({z})", "({out} * (1.0 - {out}))",
        lambda z, layer_z=(): Op("div", ONE, Op("add", ONE, Op("exp", Op("neg", z)))),
        lambda out, z: Op("mul", out, Op("sub", ONE, out)),
    ),
    "tanh": Activation(  # tanh z;  1 − o²
        "tanh", np.tanh, lambda z, out: 1.0 - out * out,
        "tanh({z})", "(1.0 - {out} * {out})",
        lambda z, layer_z=(): Op("fn", "tanh", z),
        lambda out, z: Op("sub", ONE, Op("pow", out, Num(2))),
    ),
    "relu": Activation(  # max(0, z);  1 if z > 0 else 0
        "relu", lambda z: np.maximum(z, 0.0), lambda z, out: z > 0,  # a boolean mask multiplies as 0/1
        "({z} if {z} > 0.0 else 0.0)", "(1.0 if {z} > 0.0 else 0.0)",
        lambda z, layer_z=(): Op("fn", "max", Num(0), z),
        lambda out, z: Op("if", ONE, z, Num(0)),
    ),
    "linear": Activation(  # z;  1
        "linear", lambda z: np.asarray(z, dtype=float).copy(), lambda z, out: np.ones_like(z),
        "{z}", "1.0",
        lambda z, layer_z=(): z,
        lambda out, z: ONE,
    ),
    "softmax": Activation(  # e^z_j / Σ_k e^z_k;  Jacobian o_k(1[k=j] − o_j) (softmax_backward)
        "softmax", softmax, None, None, None,
        lambda z, layer_z=(): Op("div", Op("exp", z), Op("sum", SOFTMAX_SUM, *(Op("exp", m) for m in layer_z))),
        None,
    ),
}

NAMES = ("sigmoid", "tanh", "relu", "leaky_relu", "linear", "softmax")


def get(name: str, slope: float = 0.01) -> Activation:
    if name == "leaky_relu":
        return leaky_relu(slope)
    return ACTIVATIONS[name]
