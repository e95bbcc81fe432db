"""Every analytic gradient against central finite differences: (E(p + h) − E(p − h)) / 2h.

E is the mean E_total over the chosen samples, computed by the forward pass alone, so the
reference is independent of the backward pass.

At a kink of an activation (relu, leaky_relu at z = 0) E has no derivative: the analytic gradient is
one of the one-sided derivatives, the central difference straddles the kink and averages both. A
row is `at a kink` when some such neuron's z lies on different sides of 0 at p + h and at p − h
(|z| < |∂z/∂p|·h); a disagreement there is reported, but not counted as a failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import engine, limits
from .naming import for_spec
from .notation import Id, leaf, param_ids
from .notation import name as id_name

KINKED = ("relu", "leaky_relu", "elu")  # activations with a kink at z = 0 (elu: where alpha != 1)


@dataclass(frozen=True)
class Row:
    name: str
    analytic: float
    numeric: float
    atol: float
    tol: float
    ident: Id | None = None  # the parameter
    kink: Id | None = None  # a z at a kink of its activation that p ± h straddles
    kink_z: float = 0.0  # that z's value (at p; for the first sample that straddles it)
    names: object = field(default=None, repr=False, compare=False)  # naming.Names the idents are named in

    @property
    def abs_error(self) -> float:
        return abs(self.analytic - self.numeric)

    @property
    def rel_error(self) -> float:
        scale = max(abs(self.analytic), abs(self.numeric))
        return self.abs_error / scale if scale > 0 else 0.0

    @property
    def agrees(self) -> bool:
        return self.abs_error <= self.atol or self.rel_error <= self.tol

    @property
    def at_kink(self) -> bool:
        """Disagrees, but the central difference straddles a kink: not a failure."""
        return not self.agrees and self.kink is not None

    @property
    def ok(self) -> bool:
        return self.agrees or self.kink is not None


def _sides(net, zs) -> tuple[list, list]:
    """Per layer with a kinked activation, which side of the kink every z is on (z > 0), else None; and per
    front layer its own (a conv's relu: u > 0; a max pool: each window's winner), else None."""
    dense = [z > 0 if act.name in KINKED else None for act, z in zip(net.acts, zs)]
    caches = zs.front[1] if getattr(zs, "front", None) is not None else []
    return dense, [f.sides(c) if hasattr(f, "sides") else None for f, c in zip(net.front, caches)]


def _straddled(up: tuple, down: tuple, zs: list, front: tuple = ()) -> tuple[Id | None, float]:
    """The first z (or front quantity) on different sides of its kink at p + h and at p − h, and its value at p."""
    for l, (a, b) in enumerate(zip(up[0], down[0])):
        if a is not None:
            samples, units = np.nonzero(a != b)
            if units.size:
                return leaf("z", l, int(units[0])), float(zs[l][samples[0], units[0]])
    for kink in _front_sides(up, down, zs, front):
        return kink
    return None, 0.0


def _front_sides(up: tuple, down: tuple, zs: list, front: tuple):
    """(the quantity, its value at p) where a front layer's sides differ: a conv's u (its relu's kink) or a
    max pool's P (a tie between two winners)."""
    for layer, a, b, cache in zip(front, up[1], down[1], zs.front[1] if front else ()):
        if a is None or not (a != b).any():
            continue
        s, *idx = np.argwhere(a != b)[0]
        yield layer.kink_at(cache, int(s), tuple(int(i) for i in idx))


def gradcheck(spec, samples: list[int] | None = None, h: float = 1e-6, tol: float = 1e-5,
              atol: float = 1e-8, naming: str | None = None) -> list[Row]:
    """One row per parameter (weights and biases, frozen ones too), in naming order."""
    limits.check_gradcheck(spec, len(spec.samples) if samples is None else len(samples))
    net = engine.Network.from_spec(spec)
    names = for_spec(spec, naming)
    rows = range(len(spec.samples)) if samples is None else samples
    X = np.array([spec.samples[i].x for i in rows], dtype=float)
    T = np.array([spec.samples[i].target for i in rows], dtype=float)

    keep = net.keep(rows)  # dropout: train mode, each sample's mask held fixed

    def loss() -> tuple[float, list]:
        zs, outs = engine.forward(net, X, keep)
        return float(engine.errors(net, T, zs, outs).sum(axis=1).mean()), _sides(net, zs)

    with np.errstate(all="ignore"):
        zs, outs = engine.forward(net, X, keep)
        back = engine.backward(net, X, T, zs, outs, keep=keep)
        out, idents = [], list(param_ids(names))
        arrays = [(p, g, None) for params, (_, grads) in zip(net.P, back.front) for p, g in zip(params, grads)]
        for l in range(len(net.W)):
            arrays.append((net.W[l], back.gW[l], [w for row in names.weights[l] for w in row]))
            if net.b[l] is not None:
                arrays.append((net.b[l], back.gb[l], list(names.biases[l])))
        idents = iter(idents)
        for array, grad, labels in arrays:
            flat, g = array.reshape(-1), grad.reshape(-1)
            for i in range(flat.size):
                ident = next(idents)
                old = flat[i]
                flat[i] = old + h
                up, up_sides = loss()
                flat[i] = old - h
                down, down_sides = loss()
                flat[i] = old
                name = labels[i] if labels is not None else id_name(ident, names, "ascii")
                out.append(Row(name, float(g[i]), (up - down) / (2 * h), atol, tol, ident,
                               *_straddled(up_sides, down_sides, zs, net.front), names=names))
    return out

