"""Activations: each keeps its forward rule and its derivative side by side.

Every function is numerically stable for |z| up to 1e300: no overflow warnings, no NaN.
Each entry of ACTIVATIONS is the one definition of its rule: the numpy form (engine), the
scalar template (the generated fast path) and the expression tree (the trace), with the
derivative beside each. Adding an activation is one entry here (and its name in NAMES).
"""

from __future__ import annotations

import math
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

# ---------------------------------------------------------------- PyTorch's smooth activations
# Each follows PyTorch's own CPU formula (aten/src/ATen/native/cpu/Activation.cpp), so that the
# digits agree with torch float64, not only the math.

SQRT1_2 = math.sqrt(0.5)  # 1/√2
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)  # 1/√(2π), the normal density's constant
SQRT_2_PI = math.sqrt(2.0 / math.pi)  # √(2/π), GELU's tanh approximation
KAPPA = 0.044715
TWO = Num(2)
PI = Sym("pi", "π", r"\pi", math.pi)
_erf_object = np.frompyfunc(math.erf, 1, 1)  # numpy has no erf; math.erf, elementwise (no scipy dependency)


def _erf(x):
    # about 0.1 µs an element: 30 times tanh's cost, small beside a trace
    return np.asarray(_erf_object(x), dtype=float)


def _gelu(z):
    # z·Φ(z), Φ(z) = ½(1 + erf(z/√2)); PyTorch: x * 0.5 * (1 + erf(x * M_SQRT1_2))
    return z * 0.5 * (1.0 + _erf(z * SQRT1_2))


def _gelu_d(z, out):
    # Φ(z) + z·φ(z), φ(z) = e^(−z²/2)/√(2π); z clipped to ±40 inside the exp only (φ = 0 there anyway)
    zc = np.clip(z, -40.0, 40.0)
    return 0.5 * (1.0 + _erf(z * SQRT1_2)) + z * (np.exp(-0.5 * zc * zc) * INV_SQRT_2PI)


def _gelu_tanh_parts(z):
    # u = √(2/π)(z + 0.044715 z³) and tanh u; z clipped to ±100 inside u only (tanh u = ±1 exactly there)
    zc = np.clip(z, -100.0, 100.0)
    return zc, np.tanh(SQRT_2_PI * (zc + KAPPA * zc * zc * zc))


def _gelu_tanh(z):
    # ½z(1 + tanh u)
    return 0.5 * z * (1.0 + _gelu_tanh_parts(z)[1])


def _gelu_tanh_d(z, out):
    # ½(1 + tanh u) + ½z·(1 − tanh² u)·√(2/π)(1 + 3·0.044715 z²)
    zc, t = _gelu_tanh_parts(z)
    return 0.5 * (1.0 + t) + 0.5 * zc * (1.0 - t * t) * (SQRT_2_PI * (1.0 + 3.0 * KAPPA * zc * zc))


def _silu(z):
    # z·σ(z)
    return z * _sigmoid(z)


def _silu_d(z, out):
    # σ(z)(1 + z(1 − σ(z))) = σ(z) + o(1 − σ(z))
    s = _sigmoid(z)
    return s * (1.0 + z * (1.0 - s))


# the fast path's scalar forms (math on floats; fastpath.py puts these in its namespace)

def gelu_s(z: float) -> float:
    return z * 0.5 * (1.0 + math.erf(z * SQRT1_2))


def gelu_d_s(z: float) -> float:
    zc = min(max(z, -40.0), 40.0)
    return 0.5 * (1.0 + math.erf(z * SQRT1_2)) + z * (math.exp(-0.5 * zc * zc) * INV_SQRT_2PI)


def gelu_tanh_s(z: float) -> float:
    zc = min(max(z, -100.0), 100.0)
    return 0.5 * z * (1.0 + math.tanh(SQRT_2_PI * (zc + KAPPA * zc * zc * zc)))


def gelu_tanh_d_s(z: float) -> float:
    zc = min(max(z, -100.0), 100.0)
    t = math.tanh(SQRT_2_PI * (zc + KAPPA * zc * zc * zc))
    return 0.5 * (1.0 + t) + 0.5 * zc * (1.0 - t * t) * (SQRT_2_PI * (1.0 + 3.0 * KAPPA * zc * zc))


def _sigmoid_s(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def silu_d_s(z: float) -> float:
    s = _sigmoid_s(z)
    return s * (1.0 + z * (1.0 - s))


def softplus_s(z: float, beta: float, threshold: float) -> float:
    bz = beta * z
    if bz > threshold:
        return z
    return (max(bz, 0.0) + math.log1p(math.exp(-abs(bz)))) / beta


def softplus_d_s(z: float, beta: float, threshold: float) -> float:
    bz = beta * z
    return 1.0 if bz > threshold else _sigmoid_s(bz)


SCALAR = {f.__name__: f for f in (gelu_s, gelu_d_s, gelu_tanh_s, gelu_tanh_d_s, silu_d_s, softplus_s,
                                  softplus_d_s)} | {"_expm1": math.expm1, "_sigmoid_s": _sigmoid_s}


def _erf_tree(z):
    return Op("fn", "erf", Op("div", z, Op("sqrt", TWO)))  # erf(z / √2)


def gelu(approximate: str = "none") -> Activation:
    if approximate == "tanh":
        def u(z):  # √(2/π)·(z + 0.044715·z³)
            return Op("mul", Op("sqrt", Op("div", TWO, PI)), Op("add", z, Op("mul", Num(KAPPA), Op("pow", z, Num(3)))))

        def tanh_u(z):
            return Op("fn", "tanh", u(z))
        return Activation(  # z·(1 + tanh u)/2;  (1 + tanh u)/2 + z·(1 − tanh² u)·√(2/π)(1 + 3κz²)/2
            "gelu", _gelu_tanh, _gelu_tanh_d, "gelu_tanh_s({z})", "gelu_tanh_d_s({z})",
            lambda z, layer_z=(): Op("div", Op("mul", z, Op("add", ONE, tanh_u(z))), TWO),
            lambda out, z: Op("add", Op("div", Op("add", ONE, tanh_u(z)), TWO),
                              Op("div", Op("mul", z, Op("sub", ONE, Op("pow", tanh_u(z), TWO)),
                                           Op("sqrt", Op("div", TWO, PI)),
                                           Op("add", ONE, Op("mul", Num(3 * KAPPA), Op("pow", z, TWO)))), TWO)),
        )
    return Activation(  # z·Φ(z) = z·(1 + erf(z/√2))/2;  Φ(z) + z·e^(−z²/2)/√(2π)
        "gelu", _gelu, _gelu_d, "gelu_s({z})", "gelu_d_s({z})",
        lambda z, layer_z=(): Op("div", Op("mul", z, Op("add", ONE, _erf_tree(z))), TWO),
        lambda out, z: Op("add", Op("div", Op("add", ONE, _erf_tree(z)), TWO),
                          Op("div", Op("mul", z, Op("exp", Op("neg", Op("div", Op("pow", z, TWO), TWO)))),
                             Op("sqrt", Op("mul", TWO, PI)))),
    )


def elu(alpha: float = 1.0) -> Activation:
    # z if z > 0 else α(e^z − 1) (PyTorch: α·expm1(z));  1 if z > 0 else α·e^z
    def neg(z):
        em1 = Op("sub", Op("exp", z), ONE)
        return em1 if alpha == 1 else Op("mul", Num(alpha), em1)

    def dneg(z):
        return Op("exp", z) if alpha == 1 else Op("mul", Num(alpha), Op("exp", z))
    return Activation(
        "elu", lambda z: np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0.0))),
        lambda z, out: np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0.0))),
        f"({{z}} if {{z}} > 0.0 else {alpha!r} * _expm1({{z}}))",
        f"(1.0 if {{z}} > 0.0 else {alpha!r} * _exp({{z}}))",
        lambda z, layer_z=(): Op("if", z, z, neg(z)),
        lambda out, z: Op("if", ONE, z, dneg(z)),
    )


def softplus(beta: float = 1.0, threshold: float = 20.0) -> Activation:
    # PyTorch: z if βz > threshold else log(1 + e^(βz))/β;  1 if βz > threshold else σ(βz)
    def bz(z):
        return z if beta == 1 else Op("mul", Num(beta), z)

    def smooth(z):
        log = Op("fn", "log", Op("add", ONE, Op("exp", bz(z))))
        return log if beta == 1 else Op("div", log, Num(beta))

    def f(z):
        with np.errstate(over="ignore"):  # βz = ±inf only where the linear branch (or 0) is taken
            b = beta * z
            stable = (np.maximum(b, 0.0) + np.log1p(np.exp(-np.abs(b)))) / beta  # log(1 + e^b)/β, no overflow
            return np.where(b > threshold, z, stable)

    def d(z, out):
        with np.errstate(over="ignore"):
            b = beta * z
            return np.where(b > threshold, 1.0, _sigmoid(b))
    return Activation(
        "softplus", f, d, f"softplus_s({{z}}, {beta!r}, {threshold!r})", f"softplus_d_s({{z}}, {beta!r}, {threshold!r})",
        lambda z, layer_z=(): Op("if", z, bz(z), smooth(z), Num(threshold)),
        lambda out, z: Op("if", ONE, bz(z), Op("div", ONE, Op("add", ONE, Op("exp", Op("neg", bz(z))))),
                          Num(threshold)),
    )


ACTIVATIONS["silu"] = Activation(  # z·σ(z);  σ(z) + o(1 − σ(z))
    "silu", _silu, _silu_d, "({z} * _sigmoid({z}))", "silu_d_s({z})",
    lambda z, layer_z=(): Op("mul", z, Op("fn", "sigmoid", z)),
    lambda out, z: Op("add", Op("fn", "sigmoid", z), Op("mul", out, Op("sub", ONE, Op("fn", "sigmoid", z)))),
)
ACTIVATIONS["gelu"] = gelu()
ACTIVATIONS["elu"] = elu()
ACTIVATIONS["softplus"] = softplus()

NAMES = ("sigmoid", "tanh", "relu", "leaky_relu", "linear", "softmax", "gelu", "elu", "softplus", "silu")
GELU_APPROXIMATIONS = ("none", "tanh")


def get(name: str, param=None) -> Activation:
    """The rule of an activation with its own parameter (Layer.act_param): leaky_relu's slope,
    elu's alpha, softplus's (beta, threshold), gelu's approximate ('none' or 'tanh')."""
    if name == "leaky_relu":
        return leaky_relu(0.01 if param is None else param)
    if name == "elu" and param is not None and param != 1.0:
        return elu(param)
    if name == "softplus" and param is not None and tuple(param) != (1.0, 20.0):
        return softplus(*param)
    if name == "gelu" and param == "tanh":
        return gelu("tanh")
    return ACTIVATIONS[name]


def params_text(layer, show=str) -> str:
    """An activation's parameters where they are not PyTorch's defaults: 'alpha 0.5', 'beta 2, threshold 5', 'tanh'."""
    if layer.activation == "elu" and layer.alpha != 1:
        return f"alpha {show(layer.alpha)}"
    if layer.activation == "softplus" and (layer.beta, layer.threshold) != (1, 20):
        return f"beta {show(layer.beta)}, threshold {show(layer.threshold)}"
    if layer.activation == "gelu" and layer.approximate != "none":
        return layer.approximate
    return ""
