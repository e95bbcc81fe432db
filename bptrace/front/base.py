"""What every front layer is: a layer before the fully connected ones (bptrace.front).

A spec's `[[layers]]` may begin with front layers (`type = "conv2d"`, `"maxpool2d"`, `"flatten"`,
`"rnn"` …). They turn each sample's x (an image, a sequence: an array) into the vector the first fully
connected layer reads. Each kind is one module in this package with one subclass of `FrontLayer`:

- the numbers (numpy only): `forward(params, X)` and `backward(params, cache, dY)`, over a batch whose
  first axis is the samples (X has shape (n, *in_shape));
- the trace (one sample): `trace(t, x, cache, params)` makes the quantities of its forward step as trace
  Quantities with expression trees (bptrace.expr), `trace_back(t, fwd, dy, cache, back, params)` those
  of its backward step (Products and Sums of named factors) and each parameter's gradient;
- `torch_module()`: the same layer in PyTorch float64 (verify, the .py export, the tests).

Every quantity's identity is `ident(symbol, l, idx)`: a symbol (`x`, `k`, `u`, `P`, `f`, `s` …), the
layer's 0-based place in `[[layers]]` and an index tuple (0-based). Its names are rendered by
bptrace.notation: `k_12` (seed scheme), `k^(1)_12` (layered), `k^{(1)}_{12}` (LaTeX).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..notation import Id


@dataclass(frozen=True)
class Param:
    """One trainable array of a front layer: its symbol (`k`, `bk`, `U`, `W`, `bs`), its values, and
    whether the user wrote them (shown as written) or they were drawn from the seed."""

    symbol: str
    value: np.ndarray
    given: bool = True

    def __hash__(self):
        return id(self)

    def __eq__(self, other):
        return self is other


@dataclass(frozen=True, eq=False)
class FrontLayer:
    """A front layer as the spec gives it, validated. Subclasses add their own fields."""

    symbols = ()  # every symbol its quantities are named with (k, c, u, v): one two layers share gets its layer
    kind: str  # conv1d, conv2d, maxpool1d, maxpool2d, avgpool1d, avgpool2d, flatten, rnn
    index: int  # 0-based place in [[layers]]
    in_shape: tuple[int, ...]  # one sample's input
    out_shape: tuple[int, ...]  # one sample's output

    @property
    def params(self) -> tuple[Param, ...]:
        return ()

    @property
    def n_params(self) -> int:
        return sum(p.value.size for p in self.params)

    def param_ids(self) -> list[Id]:
        """Every parameter element's identity, array by array in C order: ident(symbol, layer, shown index)."""
        return [ident(p.symbol, self.index, shown(p.value.shape, idx)) for p in self.params
                for idx in np.ndindex(*p.value.shape)]

    # ---- numbers: X (n, *in_shape) -> Y (n, *out_shape)
    def forward(self, params: list[np.ndarray], X: np.ndarray):
        """(Y, cache): cache holds what backward needs (and what the trace shows: argmax, pre-activations)."""
        raise NotImplementedError

    def backward(self, params: list[np.ndarray], cache, dY: np.ndarray):
        """(dX, grads): dY[i] is ∂E_i/∂Y of sample i; dX the same for X; grads one array per param,
        the SUM over the samples (the caller takes the mean)."""
        raise NotImplementedError

    def grads(self, params: list[np.ndarray], cache, dY: np.ndarray) -> list:
        """backward's grads alone, for the first layer (whose ∂E/∂x nothing reads); a kind may do it cheaper."""
        return self.backward(params, cache, dY)[1]

    # ---- trace of one sample
    def trace(self, t, x: np.ndarray, cache, params: list[np.ndarray]):
        """(rows, y, grids): `x` an object array (in_shape) of the Quantities it reads, `cache` its forward
        on this one sample (a batch of 1); rows every Quantity it makes, in reading order; y an object array
        (out_shape) of the Quantities the next layer reads; grids (label, 2-D object array) to show as small
        grids. `t` makes names and quantities: see bptrace.front.tracing.Tracer."""
        raise NotImplementedError

    def trace_back(self, t, fwd, dy: np.ndarray, cache, back, params: list[np.ndarray]):
        """(rows, dx, grads, grids): `fwd` this layer's Block, dy an object array (out_shape) of ∂E_total/∂y
        (Quantities or Sums), back = (dX, grads) of this one sample; dx the ∂E_total/∂x it makes (None for
        the first layer's input, which needs none), grads one Product or Sum per parameter element, in
        params order, each array in C order."""
        raise NotImplementedError

    def torch_code(self) -> tuple[str, list, str]:
        """The layer in the .py export: (its torch.nn module as code, e.g. "nn.Conv2d(1, 1, 2)"; (attribute, values
        as nested lists) of each parameter in `params` order, e.g. ("weight", [[[[0.1, 0.2], …]]]); the code of any
        class it needs, "" if none)."""
        raise NotImplementedError

    def torch_module(self):
        """The layer in PyTorch (float64) with this layer's parameter values, whose attribute `bptrace_params`
        lists its parameter tensors in `params` order (verify and the .py export pair them with bptrace's)."""
        raise NotImplementedError


PARAMS = frozenset({"k", "c", "U", "W"})  # the symbols of trained parameters: kernels, biases, RNN weights


def torch_stream(rng, asks: bool):
    """The PyTorch generator a layer draws from: the network's one stream (spec._torch_stream sets rng.torch,
    None when no layer draws); a layer parsed on its own (tests) starts one from the seed when it asks."""
    if hasattr(rng, "torch"):
        return rng.torch
    from ..torch_init import LinearInit

    return LinearInit(rng.seed) if asks else None


def is_param(i) -> bool:
    """Whether an identity is a front layer's parameter (shared by every sample of a batch)."""
    return i is not None and i.kind == "v" and i.of in PARAMS


def ident(symbol: str, l: int, idx: tuple[int, ...] = (), post: bool = False) -> Id:
    """A front quantity's identity: kind "v", the layer, the symbol in `of` and the 0-based index in `by`."""
    return Id("v", l, 0, 0, symbol, tuple(int(i) for i in idx), None, post)


def shown(shape: tuple[int, ...], idx: tuple[int, ...]) -> tuple[int, ...]:
    """The indices a name shows: a leading axis of size 1 (one channel) is left out."""
    while len(shape) > 1 and shape[0] == 1:
        shape, idx = shape[1:], idx[1:]
    return idx


def objects(shape: tuple[int, ...], make) -> np.ndarray:
    """An object array of `shape` whose element at idx is make(idx)."""
    out = np.empty(shape, dtype=object)
    for idx in np.ndindex(*shape):
        out[idx] = make(idx)
    return out


def tensor(c, value, path: str, what: str = "numbers") -> np.ndarray:
    """A nested list of numbers (every row the same length, at any depth) as a float array; c: spec._Checker,
    whose errors name the file and `path` (`layers[1].kernel[2][1]: expected a number, got "a"`)."""
    if not isinstance(value, list):
        return np.array(c.number(value, path))
    if not value:
        c.fail(path, f"expected a list of {what}, got an empty list")
    parts = [tensor(c, v, f"{path}[{i}]", what) for i, v in enumerate(value, 1)]
    shapes = {p.shape for p in parts}
    if len(shapes) > 1:
        j = next(i for i, p in enumerate(parts) if p.shape != parts[0].shape)
        c.fail(path, f"rows have different shapes: {path}[1] is {_shape(parts[0].shape)}, {path}[{j + 1}] is "
                     f"{_shape(parts[j].shape)}")
    return np.stack(parts)


def _shape(shape: tuple[int, ...]) -> str:
    return "a number" if not shape else "×".join(map(str, shape))
