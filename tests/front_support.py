"""Helpers for the front-layer tests (convolution, pooling): parse tables, independent reference numbers
(loops written from the definitions, central finite differences), and a trace of one sample through a
chain of front layers with a loss E = Σ G·y written in the test."""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from bptrace import front
from bptrace.front.base import objects, shown
from bptrace.front.tracing import Tracer
from bptrace.misconceptions import evaluate
from bptrace.notation import E_TOTAL
from bptrace.spec import _Checker
from bptrace.trace import Block, Product, Quantity, Sum

CHECK = _Checker("test.toml")


def parse(table: dict, in_shape, index: int = 0, path: str = "layers[1]"):
    return front.parse(CHECK, table, path, index, tuple(in_shape), SimpleNamespace(seed=0))  # spec's rng: .seed


def chain(tables: list[dict], x_shape) -> list:
    """The front layers of `tables`, each reading the previous one's output."""
    out, shape = [], tuple(x_shape)
    for i, table in enumerate(tables):
        out.append(parse(table, shape, i, f"layers[{i + 1}]"))
        shape = out[-1].out_shape
    return out


def values(layer) -> list[np.ndarray]:
    return [p.value for p in layer.params]


def run(layers, X):
    """Forward through the chain: (Y, caches)."""
    caches = []
    for L in layers:
        X, cache = L.forward(values(L), X)
        caches.append(cache)
    return X, caches


def back(layers, caches, G):
    """Backward of E = Σ G·Y: (dX of the first layer's input, grads per layer)."""
    grads, dY = [], G
    for L, cache in zip(reversed(layers), reversed(caches)):
        dY, g = L.backward(values(L), cache, dY)
        grads.insert(0, g)
    return dY, grads


# ---------------------------------------------------------------- independent references (loops)

def conv_loops(X, k, b, s, p, f=lambda u: u):
    """u[n, o, *i] = Σ_ch Σ_a k[o, ch, *a]·x[n, ch, *(i·s + a − p)] + b[o], by loops over every index."""
    n, C, *S = X.shape
    O, _, *K = k.shape
    out = [(S[j] + 2 * p - K[j]) // s + 1 for j in range(len(S))]
    U = np.zeros((n, O, *out))
    for idx in np.ndindex(n, O, *out):
        m, o, pos = idx[0], idx[1], idx[2:]
        total = 0.0 if b is None else b[o]
        for ch in range(C):
            for a in np.ndindex(*K):
                at = tuple(pos[j] * s + a[j] - p for j in range(len(S)))
                if all(0 <= at[j] < S[j] for j in range(len(S))):
                    total += k[(o, ch, *a)] * X[(m, ch, *at)]
        U[idx] = total
    return U, f(U)


def pool_loops(X, size, s, mode):
    n, C, *S = X.shape
    out = [(S[j] - size) // s + 1 for j in range(len(S))]
    P = np.zeros((n, C, *out))
    for idx in np.ndindex(n, C, *out):
        window = [X[(idx[0], idx[1], *(idx[2 + j] * s + a[j] for j in range(len(S))))]
                  for a in np.ndindex(*(size,) * len(S))]
        P[idx] = max(window) if mode == "max" else sum(window) / len(window)
    return P


def finite_differences(loss, arrays, h=1e-6):
    """Central differences of loss() by every element of every array (changed in place, then restored)."""
    out = []
    for A in arrays:
        g = np.zeros_like(A)
        for i in np.ndindex(*A.shape):
            keep = A[i]
            A[i] = keep + h
            up = loss()
            A[i] = keep - h
            down = loss()
            A[i] = keep
            g[i] = (up - down) / (2 * h)
        out.append(g)
    return out


# ---------------------------------------------------------------- the trace of one sample

@dataclass
class Traced:
    forward: list  # Blocks
    backward: list  # (rows, dx, grads, grids) per layer, first layer first
    G: np.ndarray


def trace(layers, x, G, scheme: str = "seed", post: bool = False) -> Traced:
    """One sample x through the chain, traced; E = Σ G·y (so ∂E/∂y = G, given)."""
    t = Tracer(SimpleNamespace(scheme=scheme), post)
    shape = layers[0].in_shape
    q = objects(shape, lambda i: t.q("x", 0, shown(shape, i), x.reshape(shape)[i], None, True))
    X, blocks, caches = x.reshape((1, *shape)), [], []
    for L in layers:
        Y, cache = L.forward(values(L), X)
        rows, y, grids = L.trace(t, q, cache, values(L))
        blocks.append(Block(L.index, L.kind, q, tuple(rows), y, tuple(grids)))
        caches.append(cache)
        X, q = Y, y
    dy = objects(G.shape, lambda i: t.d(E_TOTAL, q[i], G[i], None, True))
    dY, backward = G[None], []
    for L, cache, block in zip(reversed(layers), reversed(caches), reversed(blocks)):
        b = L.backward(values(L), cache, dY)
        result = L.trace_back(t, block, dy, cache, b, values(L))
        backward.insert(0, result)
        dY, dy = b[0], result[1]
    return Traced(blocks, backward, G)


def all_rows(tr: Traced) -> list:
    """Every quantity of the trace: the forward rows, the backward rows, each gradient and its terms."""
    grads = [r for b in tr.backward for g in b[2] for r in (*getattr(g, "terms", ()), g)]
    return [r for b in tr.forward for r in b.rows] + [r for b in tr.backward for r in b[0]] + grads


def check_formula(q) -> None:
    """A quantity's formula evaluated with its refs' values gives its value (a Product: its factors')."""
    if isinstance(q, Sum):
        assert math.isclose(q.value, math.fsum(t.value for t in q.terms), rel_tol=1e-12, abs_tol=1e-15), q.name
        for t in q.terms:
            check_formula(t)
    elif isinstance(q, Product):
        assert math.isclose(q.value, math.prod(f.value for f in q.factors), rel_tol=1e-12, abs_tol=1e-15), q.name
        for f in q.factors:
            assert isinstance(f, Quantity)
    elif q.expr is not None:
        got = evaluate(q.expr, lambda r: r.value)
        assert math.isclose(q.value, got, rel_tol=1e-12, abs_tol=1e-15), (q.name, q.value, got)


def close(a, b, rel=1e-9, abs_=1e-12) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= abs_ + rel * np.abs(b)))


def by_name(rows) -> dict:
    return {r.name: r for r in rows}
