"""Gradient health (`step --health`): per-layer gradient norms per epoch, and findings (saturated
sigmoid/tanh units, dead ReLUs, vanishing and exploding gradients) with the epoch they first appear.
numpy and plain Python (the fast path's probe); nothing here prints.

What is measured, at the start of each epoch (the weights before its first update, as the loss
column's first sample sees them), over every sample of the spec:

  E = (1/n) Σ_s E_total(s)              the mean loss (what --batch full takes the gradient of)
  g⁽ˡ⁾ = ∂E/∂W⁽ˡ⁾                       every weight of layer l, frozen or not (biases left out)
  ‖g⁽ˡ⁾‖ = √(Σ_jk (g⁽ˡ⁾_jk)²)            the Frobenius norm

So epoch 1's norms are those of the spec's own weights (checkable by hand), and they do not
depend on the batch mode, the shuffle or on whether the fast path trains the epoch.

Findings (each reported once, at the first epoch its rule holds; thresholds below):

  saturated   a hidden sigmoid unit with σ'(z) = σ(z)(1 − σ(z)) < SIGMOID_SLOPE for every sample
              (|z| > 4.6), or a hidden tanh unit with |tanh z| > TANH_LEVEL for every sample (|z| > 2.65)
  dead        a hidden relu unit with z ≤ 0 for every sample (its gradient is 0: it cannot recover)
  vanishing   ‖g⁽¹⁾‖ / ‖g⁽ᴸ⁾‖ < VANISHING (the first layer learns 1,000× slower than the last)
  exploding   ‖g⁽¹⁾‖ / ‖g⁽ᴸ⁾‖ > EXPLODING, or any ‖g⁽ˡ⁾‖ > LARGE
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from . import activations, engine
from .fastpath import _sigmoid  # σ on a float, as the fast path computes it

SIGMOID = activations.ACTIVATIONS["sigmoid"].f  # the engine's σ (stable for large |z|)

SIGMOID_SLOPE = 0.01  # σ'(z) below this on every sample: saturated (σ' is at most 1/4, at z = 0)
TANH_LEVEL = 0.99  # |tanh z| above this on every sample: saturated (tanh' = 1 − tanh² < 0.0199)
VANISHING = 1e-3  # ‖g⁽¹⁾‖ / ‖g⁽ᴸ⁾‖ below this: vanishing gradients
EXPLODING = 1e3  # ‖g⁽¹⁾‖ / ‖g⁽ᴸ⁾‖ above this: exploding gradients
LARGE = 1e6  # any layer's ‖g⁽ˡ⁾‖ above this: exploding gradients
KINDS = ("saturated", "dead", "vanishing", "exploding")


@dataclass(frozen=True)
class Finding:
    """One problem, at the first epoch it was seen.

    kind: saturated or dead (layer and unit 0-based: names.out[layer][unit] is the neuron), vanishing or
    exploding (layer and unit None). value: the measure the rule read: the largest σ'(z) over the samples
    (sigmoid), the smallest |tanh z| (tanh), the largest z (dead), ‖g⁽¹⁾‖ / ‖g⁽ᴸ⁾‖ or the largest norm."""

    kind: str
    epoch: int
    layer: int | None
    unit: int | None
    value: float
    activation: str = ""  # sigmoid or tanh (saturated), relu (dead)


@dataclass
class Health:
    """A run's gradient health: norms[i, l] = ‖∂E/∂W⁽ˡ⁺¹⁾‖ at the start of epoch Result.epoch[i]."""

    norms: np.ndarray  # (kept epochs, layers)
    findings: list[Finding] = field(default_factory=list)

    def ratio(self) -> np.ndarray:
        """‖g⁽¹⁾‖ / ‖g⁽ᴸ⁾‖ per kept epoch (nan where the last layer's norm is 0 or not finite)."""
        with np.errstate(all="ignore"):
            last = self.norms[:, -1]
            return np.where(last > 0, self.norms[:, 0] / np.where(last > 0, last, 1.0), np.nan)


UNHEALTHY = {  # activation -> whether a unit's worst value over the samples (_worst_py) breaks its rule
    "sigmoid": lambda v: v < SIGMOID_SLOPE,  # the largest σ′(z) is still below the threshold: saturated
    "tanh": lambda v: v > TANH_LEVEL,  # the smallest |tanh z| is still above it: saturated
    "relu": lambda v: v <= 0,  # the largest z is ≤ 0: dead
}


def _worst_py(act: str, z: list[float]) -> float | None:
    """One unit's value nearest to healthy over the samples' z: the largest σ′(z) = σ(z)(1 − σ(z)) (sigmoid), the
    smallest |tanh z| (tanh), the largest z (relu); nan when a z is nan; None for another activation."""
    if act not in ("sigmoid", "tanh", "relu"):
        return None
    if any(v != v for v in z):
        return math.nan
    if act == "relu":
        return max(z)
    nearest = min(z, key=abs)  # σ′(z) and 1 − |tanh z| fall as |z| grows: the z nearest 0 is the healthiest
    if act == "sigmoid":
        s = _sigmoid(nearest)
        return s * (1 - s)
    return abs(math.tanh(nearest))


def _worst_numpy(act: str, z: np.ndarray):
    """_worst_py for every unit of a layer at once (z: one row per sample), as a list."""
    if act == "sigmoid":
        a = SIGMOID(z)
        return (a * (1 - a)).max(axis=0).tolist()
    if act == "tanh":
        return np.abs(np.tanh(z)).min(axis=0).tolist()
    return z.max(axis=0).tolist() if act == "relu" else None


class Monitor:
    """Measures each epoch's health (fast path or numpy session) and keeps the first finding of each kind and unit."""

    def __init__(self, spec):
        self.hidden = [layer.activation for layer in spec.layers[:-1]]
        self.findings: list[Finding] = []
        self._seen: set[tuple] = set()

    def measure(self, paths, epoch: int) -> tuple[float, ...]:
        """The norms ‖∂E/∂W⁽ˡ⁾‖ of every layer at the current weights, from the fast path when it holds them
        (fastpath.Paths.probe: no hand-over, plain Python), else from the numpy session; findings recorded."""
        with np.errstate(all="ignore"):
            probed = paths.probe()
            norms, worst = self._numpy(paths.numpy()) if probed is None else self._fast(paths.fast.layout, *probed)
        for l, (act, w) in enumerate(zip(self.hidden, worst)):
            self._units(epoch, l, act, w)
        self._ratio(epoch, norms)
        return norms

    def _numpy(self, session):
        """(norms, each hidden unit's worst value) by a forward and backward pass over every sample (gW: their mean)."""
        net, X, T = session.net, session.X, session.T
        keep = net.keep(range(len(X)))  # dropout: train mode, the masks training applies
        zs, outs = engine.forward(net, X, keep)
        back = engine.backward(net, X, T, zs, outs, for_trace=False, keep=keep)
        norms = tuple(float(np.sqrt(np.vdot(g, g))) for g in back.gW)
        return norms, [_worst_numpy(act, z) for act, z in zip(self.hidden, zs)]

    def _fast(self, layout, g: list[float], zs: list[tuple]):
        """(norms, each hidden unit's worst value) from the fast path's mean gradient (flat, naming order) and
        each sample's z's (flat, layer by layer), in plain Python: a small network's numbers."""
        norms, worst, start = [], [], 0
        for l, S in enumerate(layout.layers):
            norms.append(math.sqrt(sum(v * v for v in g[S.w:S.w + S.units * S.fan_in])))
            if l < len(self.hidden):
                act = self.hidden[l]
                worst.append([_worst_py(act, [z[j] for z in zs]) for j in range(start, start + S.units)]
                             if act in UNHEALTHY else None)
            start += S.units
        return tuple(norms), worst

    def _units(self, epoch: int, l: int, act: str, worst) -> None:
        """Saturated or dead units of hidden layer l, from each unit's worst value over the samples (see _worst_py)."""
        if worst is None:
            return
        rule = UNHEALTHY[act]
        kind = "dead" if act == "relu" else "saturated"
        for j, v in enumerate(worst):
            if rule(v):
                self._add(Finding(kind, epoch, l, j, float(v), act))

    def _ratio(self, epoch: int, norms: tuple[float, ...]) -> None:
        """Vanishing or exploding: ‖g⁽¹⁾‖ / ‖g⁽ᴸ⁾‖ against VANISHING and EXPLODING, and any norm above LARGE."""
        if len(norms) < 2 or not all(map(math.isfinite, norms)):
            return
        first, last = norms[0], norms[-1]
        if max(norms) > LARGE:
            self._add(Finding("exploding", epoch, None, None, max(norms)))
        elif last > 0 and first / last < VANISHING:
            self._add(Finding("vanishing", epoch, None, None, first / last))
        elif last > 0 and first / last > EXPLODING:
            self._add(Finding("exploding", epoch, None, None, first / last))

    def _add(self, f: Finding) -> None:
        key = (f.kind, f.layer, f.unit)
        if key not in self._seen:
            self._seen.add(key)
            self.findings.append(f)

    def result(self, norms: np.ndarray) -> Health:
        return Health(norms, list(self.findings))
