"""Optimizers, following PyTorch's update rules so results can be compared with it.

Each works in place on a list of parameter arrays and keeps its per-parameter state in
arrays of the same shapes. `state_of(i)` exposes that state for the trace.

  sgd:      p ← p − α·(g + λp)
  momentum: b ← g (first step) or μ·b + (1 − τ)·g;  p ← p − α·(g + μ·b if Nesterov else b)
            (μ = 0: p ← p − α·g, no buffer and no dampening, as torch.optim.SGD does)
  adam:     m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²;  m̂ = m/(1 − β1^t);  v̂ = v/(1 − β2^t)
            p ← p − α·m̂/(√v̂ + ε)          (adam adds λp to g first; adamw multiplies p by 1 − αλ)
"""

from __future__ import annotations

import numpy as np


class Optimizer:
    def __init__(self, name: str, hyper: dict, shapes: list[tuple[int, ...]]):
        self.name = name
        self.h = dict(hyper)
        self.t = 0  # steps taken
        zeros = [np.zeros(s) for s in shapes]
        self.buf = [z.copy() for z in zeros] if name == "momentum" else None
        self.m = [z.copy() for z in zeros] if name in ("adam", "adamw") else None
        self.v = [z.copy() for z in zeros] if name in ("adam", "adamw") else None
        self._hat: list[tuple[np.ndarray, np.ndarray]] = [(z, z) for z in zeros] if self.m else []

    def rule(self, p: str, g: str) -> str:
        """The update of parameter p, as a formula in the trace's notation."""
        wd = self.h.get("weight_decay", 0.0)
        if self.name == "sgd":
            return f"{p} − α·({g} + λ·{p})" if wd else f"{p} − α·{g}"
        if self.name == "momentum":
            if not self.h["momentum"]:
                return f"{p} − α·({g} + λ·{p})" if wd else f"{p} − α·{g}"
            return f"{p} − α·({g} + μ·v)" if self.h["nesterov"] else f"{p} − α·v"
        if self.name == "adamw":
            return f"{p}·(1 − α·λ) − α·m̂ / (√v̂ + ε)"
        return f"{p} − α·m̂ / (√v̂ + ε)"

    def step(self, params: list[np.ndarray], grads: list[np.ndarray], lr: float) -> None:
        """Update every parameter array in place."""
        self.t += 1
        h = self.h
        wd = h.get("weight_decay", 0.0)
        for i, (p, g) in enumerate(zip(params, grads)):
            if wd and self.name != "adamw":
                g = g + wd * p  # L2 penalty folded into the gradient (PyTorch's weight_decay)
            if self.name == "sgd" or (self.name == "momentum" and not h["momentum"]):
                p -= lr * g  # PyTorch skips the buffer (and dampening) when momentum is 0
            elif self.name == "momentum":
                b = self.buf[i]
                if self.t == 1:
                    b[...] = g
                else:
                    b *= h["momentum"]
                    b += (1.0 - h["dampening"]) * g
                p -= lr * (g + h["momentum"] * b if h["nesterov"] else b)
            else:
                self._adam(i, p, g, lr, wd)

    def _adam(self, i: int, p: np.ndarray, g: np.ndarray, lr: float, wd: float) -> None:
        h, m, v = self.h, self.m[i], self.v[i]
        if self.name == "adamw":
            p *= 1.0 - lr * wd  # decoupled weight decay
        m *= h["beta1"]
        m += (1.0 - h["beta1"]) * g
        v *= h["beta2"]
        v += (1.0 - h["beta2"]) * g * g
        m_hat = m / (1.0 - h["beta1"] ** self.t)
        v_hat = v / (1.0 - h["beta2"] ** self.t)
        self._hat[i] = (m_hat, v_hat)
        p -= lr * m_hat / (np.sqrt(v_hat) + h["eps"])

    def state_of(self, i: int) -> dict[str, np.ndarray]:
        """Optimizer state of parameter array i after the last step, by the names the trace shows."""
        if self.name == "momentum":
            return {"v": self.buf[i]} if self.h["momentum"] else {}
        if self.m is not None:
            m_hat, v_hat = self._hat[i]
            return {"m": self.m[i], "v": self.v[i], "m_hat": m_hat, "v_hat": v_hat}
        return {}
