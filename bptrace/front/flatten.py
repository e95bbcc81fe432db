"""flatten: the previous layer's output (channels, rows, columns) as one vector f, in C order
(as torch.nn.Flatten): f_k = P_ij, and ∂E_total/∂P_ij = ∂E_total/∂f_k."""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from ..expr import Ref
from ..notation import E_TOTAL
from .base import FrontLayer, objects

KEYS = ("type",)


@dataclass(frozen=True, eq=False)
class Flatten(FrontLayer):
    symbols = ("f",)
    def forward(self, params, X):
        return X.reshape(X.shape[0], -1), None

    def backward(self, params, cache, dY):
        return dY.reshape((dY.shape[0], *self.in_shape)), []

    def trace(self, t, x, cache, params):
        flat = x.reshape(-1)
        # f_k = the k-th element of the input, in C order
        y = objects(self.out_shape, lambda idx: t.q("f", self.index, idx, flat[idx[0]].value, Ref(flat[idx[0]])))
        return list(y), y, ()

    def trace_back(self, t, fwd, dy, cache, back, params):
        if self.index == 0:  # the network's input needs no gradient
            return [], None, [], ()
        x, d = fwd.inputs, dy.reshape(fwd.inputs.shape)
        # ∂E_total/∂x_idx = ∂E_total/∂f_k for the k that reads it
        dx = objects(self.in_shape, lambda idx: t.d(E_TOTAL, x[idx], d[idx].value, Ref(d[idx])))
        return list(dx.reshape(-1)), dx, [], ()

    def torch_code(self):
        return "nn.Flatten()", [], ""

    def torch_module(self):
        import torch

        module = torch.nn.Flatten()
        module.bptrace_params = []
        return module


def parse(c, table, path, index, in_shape, rng):
    c.keys(table, KEYS, path)
    return Flatten("flatten", index, tuple(in_shape), (prod(in_shape),))
