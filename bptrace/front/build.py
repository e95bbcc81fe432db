"""The front layers' part of a traced pass: their Blocks forward, the bridge ∂E_total/∂f from the first
dense layer, and their BlockBackwards, each layer's numbers computed by its own numpy forward/backward."""

from __future__ import annotations

import numpy as np

from ..naming import deriv
from ..notation import E_TOTAL, leaf, partial
from ..trace import Block, BlockBackward, Product, Quantity, Sum
from .base import objects, shown
from .tracing import Tracer


def forward(front, P, x, names, post: bool = False):
    """(Blocks, caches, the Quantities the first dense layer reads) of one sample's flat x, with parameters P."""
    t = Tracer(names, post)
    shape = front[0].in_shape
    X = np.asarray(x, dtype=float).reshape((1, *shape))
    xq = objects(shape, lambda idx: t.q("x", 0, shown(shape, idx), X[(0, *idx)], None, True))
    blocks, caches = [], []
    for layer, params in zip(front, P):
        Y, cache = layer.forward(params, X)
        rows, y, grids = layer.trace(t, xq, cache, params)
        blocks.append(Block(layer.index, layer.kind, xq, tuple(rows), y, tuple(grids)))
        caches.append(cache)
        X, xq = Y, y
    return tuple(blocks), caches, tuple(xq.reshape(-1))


def backward(front, P, blocks, caches, names, delta0: np.ndarray, W0: np.ndarray, wnames, given_w: bool):
    """The BlockBackwards (last front layer first) of one sample: ∂E_total/∂f_k = Σ_j δ_j·w_jk into the
    front's outputs, then each layer's own rows and parameter gradients."""
    t = Tracer(names)
    dF = delta0 @ W0  # ∂E_total/∂f_k of this sample
    dy = _bridge(t, blocks[-1].outputs, delta0, W0, dF, names, wnames, given_w)
    bridge = [r for s in dy.reshape(-1) for r in (*getattr(s, "terms", ()), s)]
    dY, out = dF.reshape((1, *front[-1].out_shape)), []
    for layer, params, block, cache in reversed(list(zip(front, P, blocks, caches))):
        dX, grads = layer.backward(params, cache, dY)
        rows, dx, gq, grids = layer.trace_back(t, block, dy, cache, (dX, grads), params)
        out.append(BlockBackward(layer.index, layer.kind, tuple(bridge + _with_gradients(rows, gq)), tuple(gq),
                                 tuple(grids)))
        bridge, dy, dY = [], dx, dX
    return tuple(out)


def _bridge(t: Tracer, outputs, delta0, W0, dF, names, wnames, given_w: bool):
    """∂E_total/∂f_k as a Sum over the first dense layer's neurons j of δ_j·w_jk (each term via z_j); with
    one neuron, the product δ·w_k itself."""
    flat = outputs.reshape(-1)

    def one(k):
        f, terms = flat[k], []
        if W0.shape[0] == 1:
            d = Quantity(names.delta[0][0], float(delta0[0]), None, leaf("delta", 0, 0))
            w = Quantity(wnames[0][k], float(W0[0, k]), None, leaf("w", 0, 0, k), given_w)
            return Product(deriv(names.total, f.name), float(dF[k]), (d, w), partial(E_TOTAL, f.ident))
        for j in range(W0.shape[0]):
            d = Quantity(names.delta[0][j], float(delta0[j]), None, leaf("delta", 0, j))
            w = Quantity(wnames[j][k], float(W0[j, k]), None, leaf("w", 0, j, k), given_w)
            i = partial(E_TOTAL, f.ident, leaf("z", 0, j))
            terms.append(Product(f"{deriv(names.total, f.name)} via {names.z[0][j]}", d.value * w.value, (d, w), i))
        return Sum(deriv(names.total, f.name), float(dF[k]), tuple(terms), partial(E_TOTAL, f.ident))

    return objects(outputs.shape, lambda idx: one(int(np.ravel_multi_index(idx, outputs.shape))))


def _with_gradients(rows, grads) -> list:
    """The layer's rows, then each gradient not among them, after its terms (each contribution shown)."""
    rows, seen = list(rows), {id(r) for r in rows}
    for g in grads:
        if id(g) in seen:
            continue
        parts = g.terms if isinstance(g, Sum) else ()
        rows += [p for p in parts if id(p) not in seen] + [g]
        seen.update(map(id, (*parts, g)))
    return rows
