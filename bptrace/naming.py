"""Names for every quantity, in the notation the user sees.

`seed` (the worked example's scheme, generalised): inputs x1..; weighted sums z numbered
across all non-input neurons from the input side; hidden outputs h numbered across the
hidden layers; outputs o1..; weights w numbered layer by layer, inside a layer by
destination neuron and then source neuron; biases b1.. in the same order; errors E_o1..

`layered` (for deeper networks): x_k, z^(l)_j, a^(l)_j, W^(l)_jk, b^(l)_j, delta^(l)_j, E_j.

Names are plain ASCII (`dE_total/dw5`); every other notation (Unicode, LaTeX) is rendered from a
quantity's identity by bptrace.notation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain


@dataclass(frozen=True)
class Names:
    """The ASCII name of every quantity of a network, in one naming scheme."""

    inputs: tuple[str, ...]
    z: tuple[tuple[str, ...], ...]  # z[l][j]
    out: tuple[tuple[str, ...], ...]  # out[l][j]: h.. for hidden layers, o.. for the output layer
    delta: tuple[tuple[str, ...], ...]
    weights: tuple[Sequence[tuple[str, ...]], ...]  # weights[l][j][k]: a _Grid per layer, rows made on demand
    biases: tuple[tuple[str, ...], ...]  # biases[l]: () none, (b,) shared, or one per neuron
    errors: tuple[str, ...]  # E_o1..
    targets: tuple[str, ...]  # target_o1..
    total: str = "E_total"
    scheme: str = "seed"
    widths: tuple[int, ...] = ()  # [inputs, layer1, ..., output]
    offset: int = 0  # front layers before the dense ones (bptrace.front): layered names count them, W^(3) after two
    front_params: tuple[str, ...] = ()  # the front layers' parameter names (k_11 …), before the dense ones
    front_ids: tuple = ()  # their identities (notation.param_ids yields them first)
    repeated: frozenset = frozenset()  # front symbols used by several layers (two convs' k): named with their layer

    def source(self, l: int, k: int) -> str:
        """Name of the k-th input to layer l (an x for the first layer, else the layer before's out)."""
        return self.inputs[k] if l == 0 else self.out[l - 1][k]

    def params(self) -> list[str]:
        """Every parameter name, in numbering order."""
        return list(self.iter_params())

    def iter_params(self):
        """Every parameter name, in numbering order, made one by one (a wide layer has 100,000)."""
        return chain(self.front_params, chain.from_iterable(chain(chain.from_iterable(layer), self.biases[l])
                                                            for l, layer in enumerate(self.weights)))


class _Grid(Sequence):
    """One layer's weight names, row j (destination neuron) made when first asked for.

    A 784×128 layer has 100,352 names; a training run that never shows them never makes them."""

    def __init__(self, units: int, fan_in: int, pattern: str, offset: int = 0):
        self.units, self.fan_in, self.pattern, self.offset = units, fan_in, pattern, offset
        self._rows: dict[int, tuple[str, ...]] = {}

    def __len__(self) -> int:
        return self.units

    def __getitem__(self, j):
        if isinstance(j, slice):
            return [self[i] for i in range(*j.indices(self.units))]
        if j < 0:
            j += self.units
        if not 0 <= j < self.units:
            raise IndexError(j)
        row = self._rows.get(j)
        if row is None:
            p, first = self.pattern, self.offset + j * self.fan_in
            row = tuple(p.format(n=first + k + 1, j=j + 1, k=k + 1, jk=_idx(j + 1, k + 1)) for k in range(self.fan_in))
            self._rows[j] = row
        return row


def _idx(*i: int) -> str:
    return ",".join(map(str, i)) if any(v >= 10 for v in i) else "".join(map(str, i))


def make(scheme: str, widths: list[int], bias_counts: list[int], offset: int = 0) -> Names:
    """Names for a network with layer widths [inputs, layer1, ..., output]; bias_counts[l] in {0, 1, width}."""
    sizes = widths[1:]
    L = len(sizes)
    if scheme == "layered":
        inputs = tuple(f"x_{k}" for k in range(1, widths[0] + 1))
        first = offset + 1
        z = tuple(tuple(f"z^({l})_{j}" for j in range(1, n + 1)) for l, n in enumerate(sizes, first))
        out = tuple(tuple(f"a^({l})_{j}" for j in range(1, n + 1)) for l, n in enumerate(sizes, first))
        delta = tuple(tuple(f"delta^({l})_{j}" for j in range(1, n + 1)) for l, n in enumerate(sizes, first))
        weights = tuple(_Grid(n, widths[l - first], f"W^({l})_{{jk}}") for l, n in enumerate(sizes, first))
        biases = tuple(
            (f"b^({l})",) if c == 1 and n > 1 else tuple(f"b^({l})_{j}" for j in range(1, c + 1))
            for l, (n, c) in enumerate(zip(sizes, bias_counts), first)
        )
        errors = tuple(f"E_{j}" for j in range(1, sizes[-1] + 1))
        targets = tuple(f"t_{j}" for j in range(1, sizes[-1] + 1))
        return Names(inputs, z, out, delta, weights, biases, errors, targets, scheme=scheme, widths=tuple(widths),
                     offset=offset)

    inputs = tuple(f"x{k}" for k in range(1, widths[0] + 1))
    z, out, weights, biases = [], [], [], []
    zn = hn = wn = bn = 0  # names used so far
    for l, n in enumerate(sizes):
        fan_in = widths[l]
        z.append(tuple(f"z{zn + j}" for j in range(1, n + 1)))
        zn += n
        if l == L - 1:
            out.append(tuple(f"o{j}" for j in range(1, n + 1)))
        else:
            out.append(tuple(f"h{hn + j}" for j in range(1, n + 1)))
            hn += n
        weights.append(_Grid(n, fan_in, "w{n}", wn))
        wn += n * fan_in
        biases.append(tuple(f"b{bn + j}" for j in range(1, bias_counts[l] + 1)))
        bn += bias_counts[l]
    delta = tuple(tuple(f"delta_{o}" for o in layer) for layer in out)
    errors = tuple(f"E_{o}" for o in out[-1])
    targets = tuple(f"target_{o}" for o in out[-1])
    return Names(inputs, tuple(z), tuple(out), delta, tuple(weights), tuple(biases), errors, targets,
                 scheme="seed", widths=tuple(widths), offset=offset)


def for_spec(spec, scheme: str | None = None) -> Names:
    counts = [0 if layer.bias is None else len(layer.bias) for layer in spec.layers]
    names = make(scheme or spec.naming, spec.widths, counts, len(spec.front))
    if not spec.front:
        return names
    from dataclasses import replace

    from .notation import name

    layers: dict = {}  # symbol -> the front layers that make or train one (k_11 of two convs: k^(1)_11, k^(3)_11)
    for f in spec.front:
        for symbol in f.symbols:
            layers.setdefault(symbol, set()).add(f.index)
    names = replace(names, repeated=frozenset(s for s, ls in layers.items() if len(ls) > 1))
    ids = [i for f in spec.front for i in f.param_ids()]
    names = replace(names, front_params=tuple(name(i, names) for i in ids), front_ids=tuple(ids))
    return replace(names, inputs=_FrontOutputs(spec, names))


class _FrontOutputs(Sequence):
    """What the first dense layer reads after front layers: the last one's outputs (f1 …, s_31 …), named as
    a trace names them, made when first asked for (tracing the front of a large image takes a while:
    `validate` and `step -q` never ask)."""

    def __init__(self, spec, names):
        self.spec, self.names, self._made = spec, names, None

    def _all(self) -> tuple[str, ...]:
        if self._made is None:
            from .front import build

            spec, zeros = self.spec, [0.0] * len(self.spec.samples[0].x)
            params = [[p.value for p in f.params] for f in spec.front]
            self._made = tuple(q.name for q in build.forward(spec.front, params, zeros, self.names)[2])
        return self._made

    def __len__(self) -> int:
        return self.spec.n_inputs

    def __getitem__(self, k):
        return self._all()[k]


# ---------------------------------------------------------------- derivative names


def deriv(of: str, by: str) -> str:
    """The ASCII name of a partial derivative: deriv('E_total', 'w5') == 'dE_total/dw5'."""
    return f"d{of}/d{by}"
