"""Gradient health (`step --health`): per-layer gradient norms per epoch, and findings (saturated
sigmoid/tanh units, dead ReLUs, vanishing and exploding gradients) with the epoch they first appear.
numpy only; nothing here prints.

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

from . import engine

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


class Monitor:
    """Measures each epoch's health from the numpy session and keeps the first finding of each kind and unit."""

    def __init__(self, spec):
        self.hidden = [layer.activation for layer in spec.layers[:-1]]
        self.findings: list[Finding] = []
        self._seen: set[tuple] = set()

    def measure(self, session, epoch: int) -> tuple[float, ...]:
        """The norms ‖∂E/∂W⁽ˡ⁾‖ of every layer at the session's current weights; findings recorded."""
        net, X, T = session.net, session.X, session.T
        with np.errstate(all="ignore"):
            zs, outs = engine.forward(net, X)
            back = engine.backward(net, X, T, zs, outs, for_trace=False)  # gW: mean over the samples
            norms = tuple(float(np.sqrt(np.vdot(g, g))) for g in back.gW)
            for l, act in enumerate(self.hidden):
                self._units(epoch, l, act, zs[l], outs[l])
        self._ratio(epoch, norms)
        return norms

    def _units(self, epoch: int, l: int, act: str, z: np.ndarray, a: np.ndarray) -> None:
        """Saturated or dead units of hidden layer l, from z and a over every sample (rows)."""
        if act == "sigmoid":  # σ'(z) = a(1 − a) < SIGMOID_SLOPE on every sample
            worst = (a * (1 - a)).max(axis=0)
            bad = worst < SIGMOID_SLOPE
        elif act == "tanh":  # |tanh z| > TANH_LEVEL on every sample
            worst = np.abs(a).min(axis=0)
            bad = worst > TANH_LEVEL
        elif act == "relu":  # z ≤ 0 on every sample: relu' = 0 everywhere
            worst = z.max(axis=0)
            bad = worst <= 0
        else:
            return
        kind = "dead" if act == "relu" else "saturated"
        for j in np.flatnonzero(bad).tolist():
            self._add(Finding(kind, epoch, l, j, float(worst[j]), act))

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
