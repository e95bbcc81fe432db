"""Every analytic gradient against central finite differences: (E(p + h) − E(p − h)) / 2h.

E is the mean E_total over the chosen samples, computed by the forward pass alone, so the
reference is independent of the backward pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import engine, limits
from .naming import for_spec


@dataclass(frozen=True)
class Row:
    name: str
    analytic: float
    numeric: float
    atol: float
    tol: float

    @property
    def abs_error(self) -> float:
        return abs(self.analytic - self.numeric)

    @property
    def rel_error(self) -> float:
        scale = max(abs(self.analytic), abs(self.numeric))
        return self.abs_error / scale if scale > 0 else 0.0

    @property
    def ok(self) -> bool:
        return self.abs_error <= self.atol or self.rel_error <= self.tol


def gradcheck(spec, samples: list[int] | None = None, h: float = 1e-6, tol: float = 1e-5,
              atol: float = 1e-8, naming: str | None = None) -> list[Row]:
    """One row per parameter (weights and biases, frozen ones too), in naming order."""
    limits.check_gradcheck(spec, len(spec.samples) if samples is None else len(samples))
    net = engine.Network.from_spec(spec)
    names = for_spec(spec, naming)
    rows = range(len(spec.samples)) if samples is None else samples
    X = np.array([spec.samples[i].x for i in rows], dtype=float)
    T = np.array([spec.samples[i].target for i in rows], dtype=float)

    def loss() -> float:
        zs, outs = engine.forward(net, X)
        return float(engine.errors(net, T, zs, outs).sum(axis=1).mean())

    with np.errstate(all="ignore"):
        zs, outs = engine.forward(net, X)
        back = engine.backward(net, X, T, zs, outs)
        out = []
        for l in range(len(net.W)):
            arrays = [(net.W[l], back.gW[l], [w for row in names.weights[l] for w in row])]
            if net.b[l] is not None:
                arrays.append((net.b[l], back.gb[l], list(names.biases[l])))
            for array, grad, labels in arrays:
                flat, g = array.reshape(-1), grad.reshape(-1)
                for i, name in enumerate(labels):
                    old = flat[i]
                    flat[i] = old + h
                    up = loss()
                    flat[i] = old - h
                    down = loss()
                    flat[i] = old
                    out.append(Row(name, float(g[i]), (up - down) / (2 * h), atol, tol))
    return out
