"""Where a run blew up (a NaN or an infinity), and what to do about it: `Divergence`, found in a traced
iteration by `blowup`, advised by `advise`. Small on purpose: `bptrace run` reads it without importing
the trainer."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .naming import deriv


@dataclass
class Divergence:
    """Where a run blew up: the epoch, the sample and the first quantity that is not finite."""

    epoch: int
    sample: int
    quantity: str
    value: float
    advice: str = "try a smaller learning rate"

    @property
    def what(self) -> str:
        """'w1 overflowed to inf', 'E_o1 became nan'."""
        how = "became nan" if math.isnan(self.value) else f"overflowed to {'-' if self.value < 0 else ''}inf"
        return f"{self.quantity} {how}"

    def message(self) -> str:
        return f"epoch {self.epoch}, sample {self.sample}: {self.what}; {self.advice}"

    def short(self) -> str:
        """What the loss summary says instead of a last loss: 'diverged at epoch 163 (E_o1 overflowed to inf)'."""
        return f"diverged at epoch {self.epoch} ({self.what})"


def advise(d: Divergence, spec) -> Divergence:
    """What to do about it: a smaller learning rate, unless Adam's eps = 0 made 0/0."""
    opt = spec.optimizer
    if opt.name in ("adam", "adamw") and opt.hyper.get("eps") == 0 and math.isnan(d.value):
        d.advice = f"{opt.name} with eps = 0 divides 0 by 0 where a gradient is 0; use eps > 0 (PyTorch's default is 1e-8)"
    return d


def blowup(it) -> Divergence | None:
    """The first value of a traced iteration that is NaN or infinite, in the order computed: the
    forward pass, the errors, the updated parameters, the check. (Backward factors are skipped:
    a saturated output makes dE/do infinite while the gradient, through the fused delta, stays finite.)"""
    sample = it.passes[0].sample
    for group, name, value in it.quantities():
        if group != "backward" and not math.isfinite(value):
            return Divergence(it.epoch, sample, name, value)
    for u in it.updates:
        if not math.isfinite(u.gradient):
            return Divergence(it.epoch, sample, deriv("E_total", u.name), u.gradient)
        for key, v in u.state.items():
            if not math.isfinite(v):
                return Divergence(it.epoch, sample, f"{key} of {u.name}", v)
    return None
