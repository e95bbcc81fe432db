"""maxpool1d, maxpool2d, avgpool1d, avgpool2d: pooling as torch.nn.MaxPool1d/2d and AvgPool1d/2d, without
padding (padding 0, ceil_mode off). Symbol P for the output; each channel is pooled on its own. With a
window of n = size (1-D) or size² (2-D) inputs v at output position i:

    max:  P_i = max(v over the window)           ∂P_i/∂v = 1 for the window's maximum (the first one on a
                                                 tie, as PyTorch), 0 for the others
    avg:  P_i = (Σ v over the window) / n        ∂P_i/∂v = 1/n for every v of the window

∂E_total/∂v = Σ over the windows that route to v of ∂E_total/∂P_i · ∂P_i/∂v (one window unless the stride
is below the size); a v that is nowhere a maximum (or in no window) gets 0.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from math import prod

import numpy as np

from ..expr import Num, Op, Ref
from ..notation import E_TOTAL
from . import spatial
from .base import FrontLayer, ident, objects, shown

KEYS = ("type", "size", "stride")
MAX_SIZE = 1000


@dataclass(frozen=True, eq=False)
class Pool(FrontLayer):
    symbols = ("P",)
    size: int = 2
    stride: int = 2

    @property
    def d(self) -> int:
        return spatial.dims(self.kind)

    @property
    def max(self) -> bool:
        return self.kind.startswith("max")

    @property
    def K(self) -> tuple[int, ...]:
        return (self.size,) * self.d

    @property
    def n(self) -> int:
        return self.size ** self.d

    @property
    def _share(self):
        return Op("div", Num(1), Num(self.n))  # 1/n

    @property
    def trace_cost(self) -> int:
        """The inputs its windows read for one sample (each a term of some ∂E/∂v): what the trace costs."""
        return prod(self.out_shape) * self.n

    # ---- numbers
    def forward(self, params, X):
        Wn = spatial.windows(X, self.K, self.stride)
        Wn = Wn.reshape(Wn.shape[:2 + self.d] + (-1,))  # (n, C, *out, window in row-major order)
        if not self.max:
            return Wn.sum(axis=-1) / self.n, (X, None)  # P = Σ v / n
        arg = Wn.argmax(axis=-1)  # the first maximum on a tie, as PyTorch
        return np.take_along_axis(Wn, arg[..., None], axis=-1)[..., 0], (X, arg)

    def backward(self, params, cache, dY):
        X, arg = cache
        dX, out = np.zeros(X.shape), dY.shape[2:]
        for f, a in enumerate(np.ndindex(*self.K)):
            # every window sends its ∂E/∂P to its offset a: all of it to the maximum, 1/n of it (avg)
            part = dY * (arg == f) if self.max else dY / self.n
            dX[spatial.strided(a, out, self.stride)] += part
        return dX, []

    def sides(self, cache):
        """Max pool: each window's winner. Where it differs between p + h and p − h the central difference
        straddles a tie (a kink of max: E has no derivative there); average pool: None (no kink)."""
        return cache[1] if self.max else None

    def kink_at(self, cache, s: int, idx: tuple):
        """(P's identity, its value) where the winner differs: sample s, (channel, position) idx (gradcheck)."""
        return ident("P", self.index, shown(self.out_shape, idx)), float(self.forward([], cache[0])[0][(s, *idx)])

    # ---- trace of one sample
    def trace(self, t, x, cache, params):
        P = self.forward(params, cache[0])[0][0]
        y = objects(self.out_shape, lambda i: t.q("P", self.index, shown(self.out_shape, i), P[i], self._P(x, i)))
        grids = spatial.grids("x", x, self.d) if self.index == 0 else []
        return list(y.flat), y, tuple(grids + spatial.grids("P", y, self.d))

    def _P(self, x, i):
        """max(v over the window) or (Σ v over the window) / n."""
        v = [Ref(x[j]) for _, j in self._window(i)]
        return Op("fn", "max", *v) if self.max else Op("div", Op("add", *v), Num(self.n))

    def _window(self, i):
        """(offset number, input index) of every input the window at i = (channel, *position) reads."""
        for f, (a, at) in enumerate(spatial.reads(i[1:], self.K, self.stride, 0, self.in_shape[1:])):
            yield f, (i[0], *at)

    def trace_back(self, t, fwd, dy, cache, back, params):
        if self.index == 0:  # the network's input needs no gradient
            return [], None, [], ()
        x, (_, arg), (dX, _) = fwd.inputs, cache, back
        made = {q.ident: q for q in fwd.rows}
        P = objects(self.out_shape, lambda i: made[t.id("P", self.index, shown(self.out_shape, i))])
        rows, terms = [], defaultdict(list)
        for i in np.ndindex(*self.out_shape):
            for f, j in self._window(i):
                if self.max and f != arg[(0, *i)]:
                    continue  # ∂P/∂v = 0 for every v but the maximum: no path
                # ∂P/∂v = 1 for the maximum, 1/n for each v of an average
                dPdx = t.d(P[i], x[j], 1.0, Num(1)) if self.max else t.d(P[i], x[j], 1 / self.n, self._share)
                # ∂E_total/∂v via P_i = ∂E_total/∂P_i · ∂P_i/∂v
                terms[j].append(t.product(E_TOTAL, x[j], [dy[i], dPdx], via=P[i]))
                rows.append(dPdx)
        dx = objects(self.in_shape, lambda j: spatial.gradient(t, x[j], terms[j], dX[(0, *j)]))
        symbol = getattr(x.flat[0].ident, "of", None) or "x"
        return rows + spatial.with_terms(dx.flat), dx, [], tuple(spatial.grids(f"dE_total/d{symbol}", dx, self.d))

    def torch_module(self):
        import torch

        nn = torch.nn
        kind = {("max", 1): nn.MaxPool1d, ("max", 2): nn.MaxPool2d, ("avg", 1): nn.AvgPool1d, ("avg", 2): nn.AvgPool2d}
        module = kind["max" if self.max else "avg", self.d](self.size, self.stride)
        module.bptrace_params = []
        return module

    def torch_code(self):
        return f"nn.{'Max' if self.max else 'Avg'}Pool{self.d}d({self.size}, stride={self.stride})", [], ""


def parse(c, table, path, index, in_shape, rng):
    kind = table["type"]
    c.keys(table, KEYS, path)
    d = spatial.dims(kind)
    shape = spatial.input_shape(c, kind, d, in_shape, index, path)
    if "size" not in table:
        c.fail(f"{path}.size", f"required, but missing (the window: {'size × size' if d == 2 else 'size'} inputs)")
    size = c.integer(table["size"], f"{path}.size", 1, MAX_SIZE)
    stride = c.integer(table.get("stride", size), f"{path}.stride", 1, MAX_SIZE)
    out = spatial.out_size(c, path, "size", shape[1:], (size,) * d, stride, 0)
    return Pool(kind, index, shape, (shape[0], *out), size, stride)
