"""What convolution and pooling share: an input of channels × positions (1-D: channels × length, 2-D:
channels × rows × columns), the windows a kernel or a pool reads, and grids to draw.

A window at output position i (per axis) reads the input at i·s + a − p for a = 0 … K − 1 (s the stride,
p the zero padding, K the window's size); the output has ⌊(S + 2p − K)/s⌋ + 1 positions per axis (as
PyTorch's Conv1d/Conv2d/MaxPool/AvgPool with dilation 1 and ceil_mode off).
"""

from __future__ import annotations

import numpy as np

from ..expr import Num
from ..notation import E_TOTAL

AXES = {1: "length", 2: "rows × columns"}


def dims(kind: str) -> int:
    """1 for conv1d, maxpool1d, avgpool1d; 2 for the 2d kinds."""
    return 2 if kind.endswith("2d") else 1


def input_shape(c, kind: str, d: int, in_shape: tuple[int, ...], index: int, path: str) -> tuple[int, ...]:
    """One sample's input as (channels, *positions): a first layer may read x without its channel axis
    ((H, W) for 2-D, (L,) for 1-D: one channel); a later layer reads the previous one's output as it is."""
    shape = tuple(in_shape)
    if index == 0 and len(shape) == d:
        shape = (1, *shape)
    if len(shape) != d + 1:
        what = f"{AXES[d]} or channels × {AXES[d]}" if index == 0 else f"channels × {AXES[d]}"
        where = "samples[1].x" if index == 0 else path
        source = "each sample's x" if index == 0 else "the previous layer's output"
        c.fail(where, f"{kind} ({path}) reads {source} as {what}; got {_shape(in_shape)}")
    return shape


def _shape(shape: tuple[int, ...]) -> str:
    if not shape:
        return "a number"
    return f"a {len(shape)}-D array ({'×'.join(map(str, shape))})"


def out_size(c, path: str, field: str, S: tuple[int, ...], K: tuple[int, ...], s: int, p: int) -> tuple[int, ...]:
    """⌊(S + 2p − K)/s⌋ + 1 positions per axis; the window must fit the (padded) input."""
    if any(k > n + 2 * p for k, n in zip(K, S)):
        padded = f" with padding {p}" if p else ""
        c.fail(f"{path}.{field}", f"the window ({'×'.join(map(str, K))}) is larger than the input "
                                  f"({'×'.join(map(str, S))}){padded}")
    return tuple((n + 2 * p - k) // s + 1 for n, k in zip(S, K))


def pad(X: np.ndarray, p: int) -> np.ndarray:
    """X (n, C, *positions) with p zeros on both sides of every position axis."""
    if not p:
        return X
    return np.pad(X, [(0, 0), (0, 0)] + [(p, p)] * (X.ndim - 2))


def windows(Xp: np.ndarray, K: tuple[int, ...], s: int) -> np.ndarray:
    """(n, C, *out, *K): element [.., i, a] = Xp[.., i·s + a] (a view, no copy)."""
    d = len(K)
    W = np.lib.stride_tricks.sliding_window_view(Xp, K, axis=tuple(range(2, 2 + d)))
    return W[(slice(None), slice(None)) + (slice(None, None, s),) * d]


def strided(a: tuple[int, ...], out: tuple[int, ...], s: int) -> tuple:
    """The index of input positions i·s + a for every output position i (a slice per axis)."""
    return (slice(None), slice(None)) + tuple(slice(ai, ai + s * (o - 1) + 1, s) for ai, o in zip(a, out))


def reads(pos: tuple[int, ...], K: tuple[int, ...], s: int, p: int, S: tuple[int, ...]):
    """(a, input position) for every window offset a at output position pos whose input position
    pos·s + a − p lies inside the input (a padded position reads 0 and is left out)."""
    for a in np.ndindex(*K):
        at = tuple(i * s + ai - p for i, ai in zip(pos, a))
        if all(0 <= j < n for j, n in zip(at, S)):
            yield a, at


def grids(label: str, q: np.ndarray, d: int) -> list:
    """(label, 2-D object array) to draw for an array of quantities (channels, *positions): 1-D, one grid
    with a row per channel; 2-D, one grid per channel, labelled u[1], u[2] … when there are several."""
    if d == 1:
        return [(label, q.reshape(-1, q.shape[-1]))]
    if q.shape[0] == 1:
        return [(label, q[0])]
    return [(f"{label}[{ch + 1}]", q[ch]) for ch in range(q.shape[0])]  # x[2]: channel 2 (no words to translate)


def kernel_grids(label: str, k: np.ndarray, d: int) -> list:
    """A kernel (out, in, *K): 1-D, one grid with a row per (out, in) pair; 2-D, one grid per pair, labelled
    k[o,c] (out channel o, in channel c) when there are several."""
    if d == 1:
        return [(label, k.reshape(-1, k.shape[-1]))]
    O, C = k.shape[:2]
    if O * C == 1:
        return [(label, k[0, 0])]
    return [(f"{label}[{o + 1},{ch + 1}]", k[o, ch]) for o in range(O) for ch in range(C)]  # [out, in]


def gradient(t, by, terms: list, value: float):
    """∂E_total/∂by from its terms (one per output position that reads `by`): the one Product itself, their
    Sum (its value the engine's, `value`), or 0 when no output reads `by` (a stride that skips it)."""
    if not terms:
        return t.d(E_TOTAL, by, 0.0, Num(0))
    return t.grad(by, terms, None if len(terms) == 1 else float(value))


def with_terms(qs) -> list:
    """Gradients as rows: each Sum after its terms (each contribution shown), a Product or Quantity alone."""
    return [r for q in qs for r in (*getattr(q, "terms", ()), q)]


def given(t, param, values: np.ndarray) -> bool:
    """Whether a parameter's values are shown as written: written by the user and not changed by an update
    (the values the trace reads are still the spec's)."""
    return param.given and not t.post and np.array_equal(values, param.value)
