"""Learning-rate schedules, stepped once per epoch as torch.optim.lr_scheduler does (epoch e, 1-based,
runs with the rate after e − 1 scheduler steps):

  step:        α_e = α·γ^⌊(e − 1)/step_size⌋                         (StepLR)
  exponential: α_e = α·γ^(e − 1)                                     (ExponentialLR)
  cosine:      α_e = η_min + (α − η_min)·(1 + cos(π·(e − 1)/T_max))/2  (CosineAnnealingLR)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .i18n import _

SCHEDULES = {  # name -> its parameters and their defaults (PyTorch's; None: required)
    "step": {"step_size": None, "gamma": 0.1},
    "exponential": {"gamma": None},
    "cosine": {"T_max": None, "eta_min": 0.0},
}
INTEGERS = ("step_size", "T_max")


@dataclass(frozen=True)
class Schedule:
    name: str
    hyper: dict = field(default_factory=dict)

    def rate(self, lr: float, epoch: int) -> float:
        """α of every update in epoch `epoch` (1-based)."""
        h, k = self.hyper, epoch - 1  # scheduler steps taken before this epoch
        if self.name == "step":
            return lr * h["gamma"] ** (k // h["step_size"])
        if self.name == "exponential":
            return lr * h["gamma"] ** k
        return h["eta_min"] + (lr - h["eta_min"]) * (1 + math.cos(math.pi * k / h["T_max"])) / 2


def described(spec, value=lambda v: f"{v:g}") -> str:
    """ (step schedule: step_size = 2, gamma = 0.5) after the learning rate (each value written by `value`),
    or nothing."""
    s = spec.schedule
    if s is None:
        return ""
    hyper = ", ".join(f"{k} = {value(v)}" for k, v in s.hyper.items())
    return " (" + _("{name} schedule: {hyper}").format(name=s.name, hyper=hyper) + ")"


def rate(spec, epoch: int) -> float:
    """The spec's learning rate in an epoch: its schedule's, or the constant one."""
    return spec.learning_rate if spec.schedule is None else spec.schedule.rate(spec.learning_rate, epoch)


def parse(c, table) -> Schedule | None:
    """[schedule]: validated with the spec's checker `c` (its one-line errors)."""
    if table is None:
        return None
    if not isinstance(table, dict):
        c.fail("schedule", "expected a table such as { name = \"step\", step_size = 10 }")
    name = c.string(table.get("name"), "schedule.name", tuple(SCHEDULES)) if "name" in table else \
        c.fail("schedule.name", f"required, but missing; expected one of: {', '.join(SCHEDULES)}")
    defaults = SCHEDULES[name]
    c.keys(table, ("name", *defaults), "schedule")
    hyper = {}
    for key, default in defaults.items():
        path = f"schedule.{key}"
        if key not in table:
            if default is None:
                c.fail(path, f"required by the {name} schedule, but missing")
            hyper[key] = default
        elif key in INTEGERS:
            hyper[key] = c.integer(table[key], path, 1, 10**9)
        else:
            v = c.number(table[key], path)
            if key == "gamma" and not 0 < v <= 1:
                c.fail(path, f"expected a number in (0, 1] (the factor the rate is multiplied by), got {v:g}")
            if key == "eta_min" and v < 0:
                c.fail(path, f"expected a number >= 0, got {v:g}")
            hyper[key] = v
    return Schedule(name, hyper)
