"""Dropout on a hidden layer: `dropout = p` (the drop probability) and an optional `mask`.

Inverted dropout, as PyTorch's nn.Dropout in train mode. With m_j ∈ {0, 1} the mask of neuron j:

    forward   h̃_j = m_j · h_j / (1 − p)           (the next layer reads h̃, not h)
    backward  ∂E/∂h_j = ∂E/∂h̃_j · ∂h̃_j/∂h_j,   ∂h̃_j/∂h_j = m_j / (1 − p)

so a dropped unit (m_j = 0) passes nothing forward, its ∂E/∂h_j is 0, and so is the gradient of
every weight into it; the next layer's weights from it get ∂z/∂w = h̃_j = 0 too.

The mask is one row per sample (or one row for every sample) and is fixed: the same in every epoch.
Without `mask`, it is drawn once from `seed` when the spec is read (keep each unit with probability
1 − p), like initialised weights, and the trace records it. Evaluation (the error after the update,
the outputs after training) runs in eval mode, as PyTorch's model.eval(): no dropout, no scaling —
which is why inverted dropout scales by 1/(1 − p) during training.
"""

from __future__ import annotations

import numpy as np

from .fmt import counted


MAX_MASK = 5_000_000  # mask entries of one layer (samples × neurons), as many as the network's parameters


def parse(c, table: dict, path: str, units: int, last: bool, n_samples: int, seed: int, l: int):
    """(p, mask rows (one per sample) or None, "given"/"seed") of one [[layers]] table."""
    if "dropout" not in table:
        if "mask" in table:
            c.fail(f"{path}.mask", "a mask needs dropout: add `dropout = p` (the drop probability) to this layer")
        return 0.0, None, "given"
    p = c.number(table["dropout"], f"{path}.dropout")
    if not 0 <= p < 1:
        c.fail(f"{path}.dropout", f"expected a drop probability in [0, 1) (as PyTorch's nn.Dropout(p)), got {p:g}")
    if last:
        c.fail(f"{path}.dropout", "dropout applies to hidden layers only; this is the output layer")
    if n_samples * units > MAX_MASK:
        c.fail(f"{path}.dropout", f"a mask per sample would hold {n_samples * units:,} entries ({n_samples:,} samples × "
                                  f"{units:,} neurons); bptrace holds at most {MAX_MASK:,}")
    if p == 0:
        if "mask" in table:
            c.fail(f"{path}.mask", "dropout = 0 drops nothing; remove the mask or give p > 0")
        return 0.0, None, "given"
    if "mask" not in table:
        return p, drawn(seed, l, p, n_samples, units), "seed"
    return p, _mask(c, table["mask"], f"{path}.mask", units, n_samples), "given"


def _mask(c, value, path: str, units: int, n_samples: int):
    """`mask = [1, 0]` (every sample) or `[[1, 0], [0, 1]]` (one row per sample): entries 0 or 1."""
    if isinstance(value, list) and value and not any(isinstance(r, list) for r in value):
        value = [value] * n_samples  # one row, used for every sample
        single = True
    else:
        single = False
    if not isinstance(value, list) or not value or not all(isinstance(r, list) for r in value):
        c.fail(path, "expected a list of 0s and 1s (one per neuron), or one such row per sample")
    if len(value) != n_samples:
        c.fail(path, f"expected one row per sample ({n_samples}) or a single row, got {len(value)} rows")
    rows = []
    for i, row in enumerate(value, 1):
        where = path if single else f"{path}[{i}]"
        if len(row) != units:
            c.fail(where, f"expected {counted(units, 'value')} (one per neuron of this layer), got {len(row)}")
        for j, m in enumerate(row, 1):
            if isinstance(m, bool) or m not in (0, 1):
                c.fail(f"{where}[{j}]", f"expected 0 (dropped) or 1 (kept), got {_shown(c, m)}")
        rows.append(tuple(int(m) for m in row))
    return tuple(rows)


def _shown(c, m) -> str:
    from .spec import kind  # (spec imports this module)

    return kind(m)


def drawn(seed: int, l: int, p: float, n_samples: int, units: int):
    """A mask drawn from the spec's seed: unit kept (1) with probability 1 − p, per sample and neuron."""
    rng = np.random.default_rng([seed, 15, l])  # its own stream: the weights' draws are not moved
    return tuple(tuple(int(u >= p) for u in row) for row in rng.random((n_samples, units)))


def scales(spec) -> list:
    """Per layer, m / (1 − p) for every sample (an array of shape (samples, units)), or None."""
    out = []
    for layer in spec.layers:
        if not layer.dropout:
            out.append(None)
            continue
        out.append(np.array(layer.mask, dtype=float) / (1 - layer.dropout))
    return out


def any_dropout(spec) -> bool:
    return any(layer.dropout for layer in spec.layers)
