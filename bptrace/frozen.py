"""Frozen parameters: `frozen = true` in a [[layers]] table (its weights and bias) or `frozen = ["w5", "b2"]`
at the top level (a parameter's name in either naming scheme).

A frozen parameter p keeps its gradient ∂E_total/∂p (traced and shown) but never changes: p⁺ = p. The
optimizer steps every trainable array whole and the frozen entries are put back after the step, so the
semantics is "never changes" whatever the weight decay or momentum (PyTorch: restore them after step()).
"""

from __future__ import annotations

import difflib

import numpy as np

from . import naming
from .errors import ECHO_LIMIT

Entry = tuple[int, str, int]  # (layer l, "W" or "b", flat index into W[l] or b[l])


def _all_names(layers, n_inputs: int, offset: int = 0) -> dict[str, Entry]:
    """Every parameter's name in both schemes -> its entry (offset: front layers before, which the layered
    names count: W^(4)_11 after three)."""
    widths = [n_inputs] + [len(layer.weights) for layer in layers]
    counts = [0 if layer.bias is None else len(layer.bias) for layer in layers]
    out: dict[str, Entry] = {}
    for scheme in ("seed", "layered"):
        names = naming.make(scheme, widths, counts, offset)
        for l, grid in enumerate(names.weights):
            for j in range(len(grid)):
                for k, n in enumerate(grid[j]):
                    out[n] = (l, "W", j * widths[l] + k)
            for j, n in enumerate(names.biases[l]):
                out[n] = (l, "b", j)
    return out


def parse(c, value, layers, n_inputs: int, front: tuple = ()) -> tuple[Entry, ...]:
    """The top-level `frozen = [...]` list, validated: each name a parameter of this network."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        c.fail("frozen", "expected a list of parameter names, e.g. frozen = [\"w5\", \"b2\"]")
    known = _all_names(layers, n_inputs, len(front))
    out = []
    for i, name in enumerate(value, 1):
        if name not in known and name.split("_")[0].split("^")[0] in {p.symbol for f in front for p in f.params}:
            c.fail(f"frozen[{i}]", f"'{name[:ECHO_LIMIT]}' is a front layer's parameter; frozen applies to the fully "
                                   "connected layers' weights and biases (w1, b1 …): a front layer always trains")
        if name not in known:
            close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6) if len(name) <= ECHO_LIMIT else []
            hint = f"; did you mean '{close[0]}'?" if close else "; expected a weight or bias name such as w1 or b1"
            c.fail(f"frozen[{i}]", f"no parameter named '{name[:ECHO_LIMIT]}' in this network{hint}")
        out.append(known[name])
    return tuple(sorted(set(out)))


def masks(spec) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """Per layer (W mask, b mask or None): True where the parameter is frozen."""
    out = []
    for layer in spec.layers:
        w = np.full((len(layer.weights), len(layer.weights[0])), layer.frozen)
        b = None if layer.bias is None else np.full(len(layer.bias), layer.frozen)
        out.append((w, b))
    for l, kind, k in spec.frozen:
        w, b = out[l]
        (w.reshape(-1) if kind == "W" else b)[k] = True
    return out


def any_frozen(spec) -> bool:
    return bool(spec.frozen) or any(layer.frozen for layer in spec.layers)


def names(spec) -> list[str]:
    """The spec's `frozen` entries by name, in the seed scheme."""
    n = naming.for_spec(spec, "seed")
    return [n.weights[l][k // len(spec.layers[l].weights[0])][k % len(spec.layers[l].weights[0])] if kind == "W"
            else n.biases[l][k] for l, kind, k in spec.frozen]
