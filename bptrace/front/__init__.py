"""Front layers: the layers before the fully connected ones (convolution, pooling, flatten, recurrent).

`[[layers]]` tables with a `type` other than "dense" come first in a spec; each kind lives in its own
module here (see base.py for what a kind provides). `parse` validates one table; `Front` runs them.
"""

from __future__ import annotations

import importlib

import numpy as np

KINDS = {  # type = "…" -> the module that parses and computes it
    "conv1d": "conv", "conv2d": "conv",
    "maxpool1d": "pool", "maxpool2d": "pool", "avgpool1d": "pool", "avgpool2d": "pool",
    "flatten": "flatten", "rnn": "rnn",
}
TYPES = ("dense", *KINDS)


def module(kind: str):
    return importlib.import_module(f"{__name__}.{KINDS[kind]}")


def parse(c, table: dict, path: str, index: int, in_shape: tuple[int, ...], rng):
    """One front layer, validated (c: spec._Checker; in_shape: one sample's input to it; rng: the seed's)."""
    layer = module(table["type"]).parse(c, table, path, index, in_shape, rng)
    written = dict(table)  # as written, every default filled in: Spec.to_dict gives it back
    for key in DEFAULTED.get(KINDS[table["type"]], ()):
        value = getattr(layer, key)
        written.setdefault(key, value.tolist() if isinstance(value, np.ndarray) else value)
    object.__setattr__(layer, "table", written)
    return layer


DEFAULTED = {"conv": ("stride", "padding"), "pool": ("stride",), "rnn": ("activation", "h0")}  # keys with defaults


def features(front, X: np.ndarray) -> np.ndarray:
    """The fully connected part's inputs: every sample's x (flat rows) through the front layers."""
    Y = X.reshape((X.shape[0], *front[0].in_shape))
    for layer in front:
        Y, _ = layer.forward([p.value for p in layer.params], Y)
    return Y.reshape(X.shape[0], -1)
