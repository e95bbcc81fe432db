"""rnn: a recurrent layer unrolled through time, as torch.nn.RNN(nonlinearity="tanh" or "relu",
batch_first=True); the fully connected part reads its last state s_T (many-to-one).

The sample's x is the sequence: (T,) for one input per step (x1 … xT) or (T, D) (x_t,k). With U the
input weights (units × D), W the recurrent weights (units × units), c the bias and s_0 = h0 (given):

    forward, t = 1 … T     r_t,j = Σ_k U_jk·x_t,k + Σ_m W_jm·s_{t−1},m + c_j      s_t,j = tanh(r_t,j)
    backward, t = T … 1    δ_t,j = ∂E_total/∂r_t,j = ∂E_total/∂s_t,j · ∂s_t,j/∂r_t,j   (∂s/∂r = 1 − s²)
                           ∂E_total/∂s_{t−1},m = Σ_j δ_t,j·W_jm     (∂E_total/∂s_T comes from the next layer)
    shared weights         ∂E_total/∂W_jm = Σ_t δ_t,j·s_{t−1},m    ∂E_total/∂U_jk = Σ_t δ_t,j·x_t,k
                           ∂E_total/∂c_j = Σ_t δ_t,j·1             (one term per time step, via r_t,j)
    gradient norm          g_t = ‖∂E_total/∂s_t‖ = √(Σ_j (∂E_total/∂s_t,j)²)

PyTorch has two biases, b_ih and b_hh, that always appear summed: torch_module sets b_ih = c and
keeps b_hh = 0 as a buffer (not a parameter), so the two compute, and train, the same numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import activations
from ..expr import Num, Op, Ref, refs
from ..notation import E_TOTAL
from .base import FrontLayer, Param, ident, objects, shown, tensor, torch_stream

KEYS = ("type", "units", "input_weights", "recurrent_weights", "bias", "h0", "activation")
ACTIVATIONS = ("tanh", "relu")  # nn.RNN's nonlinearity
MAX_UNITS = 10_000
MAX_STEPS = 100_000
STEP_GRIDS = 5  # up to this many steps, the trace shows each step's W gradient contributions as a grid


@dataclass(frozen=True, eq=False)
class RNN(FrontLayer):
    symbols = ("U", "W", "c", "r", "s", "g")  # weights, bias, pre-activations, states, gradient norms
    units: int
    activation: str
    U: Param  # input weights, units × inputs per step
    W: Param  # recurrent weights, units × units
    c: Param | None  # bias, one per unit (None: no bias)
    h0: np.ndarray  # s_0, the initial state (given, not trained)

    @property
    def steps(self) -> int:
        return self.in_shape[0]

    @property
    def inputs(self) -> int:
        return self.in_shape[1] if len(self.in_shape) == 2 else 1

    @property
    def params(self) -> tuple[Param, ...]:
        return (self.U, self.W) + ((self.c,) if self.c is not None else ())

    @property
    def act(self):
        return activations.get(self.activation)

    @property
    def trace_cost(self) -> int:
        """The products U·x and W·s its trace makes for one sample: every weight once per step (each again as
        a term of its gradient): what the trace costs, as a dense layer's weights do (limits.py)."""
        return self.steps * self.n_params

    def _unpack(self, params):
        U, W = params[0], params[1]
        return U, W, (params[2] if self.c is not None else np.zeros(self.units))

    def sides(self, cache):
        """relu's side of its kink for every r_t,j (r > 0), else None (tanh has no kink): for gradcheck."""
        return cache[1] > 0 if self.activation == "relu" else None

    def kink_at(self, cache, s: int, idx: tuple):
        """(r_t,j's identity, its value) where sides differ: sample s, (t, j) idx."""
        return ident("r", self.index, idx), float(cache[1][(s, *idx)])

    # ---------------------------------------------------------------- numbers
    def forward(self, params, X):
        """Y = s_T (n, units); cache (X as (n, T, D), R (n, T, units), S (n, T + 1, units) with S[:, 0] = s_0)."""
        U, W, c = self._unpack(params)
        n, T, H = X.shape[0], self.steps, self.units
        X = X.reshape(n, T, self.inputs)
        R, S = np.empty((n, T, H)), np.empty((n, T + 1, H))
        S[:, 0] = self.h0
        for t in range(T):
            R[:, t] = X[:, t] @ U.T + S[:, t] @ W.T + c  # r_t = U x_t + W s_{t−1} + c
            S[:, t + 1] = self.act.f(R[:, t])  # s_t = f(r_t)
        return S[:, T].copy(), (X, R, S)

    def bptt(self, params, cache, dY):
        """Backpropagation through time: (dS, dR, dX, grads); dS[:, t] = ∂E/∂s_t (t = 0 … T), dR[:, t-1] =
        δ_t = ∂E/∂r_t, dX as X (n, T, D), grads summed over the samples (U, W, c)."""
        U, W, _ = self._unpack(params)
        X, R, S = cache
        T = self.steps
        dS, dR, dX = np.zeros_like(S), np.empty_like(R), np.empty_like(X)
        gU, gW, gc = np.zeros_like(U), np.zeros_like(W), np.zeros(self.units)
        dS[:, T] = dY
        for t in range(T, 0, -1):
            dR[:, t - 1] = dS[:, t] * self.act.d(R[:, t - 1], S[:, t])  # δ_t = ∂E/∂s_t ⊙ f′(r_t)
            dS[:, t - 1] = dR[:, t - 1] @ W  # ∂E/∂s_{t−1},m = Σ_j δ_t,j W_jm
            dX[:, t - 1] = dR[:, t - 1] @ U  # ∂E/∂x_t,k = Σ_j δ_t,j U_jk
            gW += dR[:, t - 1].T @ S[:, t - 1]  # δ_t s_{t−1}ᵀ, summed over t and the samples
            gU += dR[:, t - 1].T @ X[:, t - 1]
            gc += dR[:, t - 1].sum(axis=0)
        return dS, dR, dX, [gU, gW] + ([gc] if self.c is not None else [])

    def backward(self, params, cache, dY):
        _, _, dX, grads = self.bptt(params, cache, dY)
        return dX.reshape((dX.shape[0], *self.in_shape)), grads

    @staticmethod
    def norms(dS: np.ndarray) -> np.ndarray:
        """g_t = ‖∂E/∂s_t‖ for t = 1 … T (per sample): the gradient's size as it travels back in time."""
        return np.sqrt(np.sum(dS[:, 1:] ** 2, axis=-1))

    # ---------------------------------------------------------------- trace of one sample
    def trace(self, t, x, cache, params):
        q = self._parameters(t, params)
        _, R, S = cache
        l, act, xs = self.index, self.act, x.reshape(self.steps, self.inputs)
        s = np.empty((self.steps + 1, self.units), dtype=object)
        s[0] = objects((self.units,), lambda j: t.q("s", l, (-1, *j), S[0, 0, j[0]], None, given=True))
        r = np.empty((self.steps, self.units), dtype=object)
        rows = []  # U, W, c and s_0 are given: the formulas of r show them
        for i in range(self.steps):
            for j in range(self.units):
                # r_t,j = Σ_k U_jk·x_t,k + Σ_m W_jm·s_{t−1},m + c_j
                r[i, j] = t.q("r", l, (i, j), R[0, i, j], self._sum(q, j, xs[i], s[i]))
            for j in range(self.units):
                s[i + 1, j] = t.q("s", l, (i, j), S[0, i + 1, j], act.tree(Ref(r[i, j]), ()))  # s_t,j = f(r_t,j)
            rows += [*r[i], *s[i + 1]]
        return rows, s[self.steps].copy(), (("s_t,j", s[1:]),)

    def _parameters(self, t, params) -> dict:
        """U, W (and c) as object arrays of Quantities, named as FrontLayer.param_ids names them (shown as
        written before any update)."""
        given = getattr(t, "given", not t.post)
        out = {}
        for p, value in zip(self.params, params):
            out[p.symbol] = objects(value.shape, lambda idx: t.q(p.symbol, self.index, shown(value.shape, idx),
                                                                  value[idx], None, given and p.given))
        return out

    @staticmethod
    def _sum(q: dict, j: int, x_t, s_prev):
        terms = [Op("mul", Ref(u), Ref(xk)) for u, xk in zip(q["U"][j], x_t)]
        terms += [Op("mul", Ref(w), Ref(sm)) for w, sm in zip(q["W"][j], s_prev)]
        return Op("add", *terms, *((Ref(q["c"][j]),) if "c" in q else ()))

    def trace_back(self, t, fwd, dy, cache, back, params):
        q, r, s = self._forward_quantities(t, fwd)
        xs = fwd.inputs.reshape(self.steps, self.inputs)
        dS, dR, dX, grads = self.bptt(params, cache, np.array([[d.value for d in dy]]))
        rows, norms, delta = self._through_time(t, q, r, s, dy, dS[0], dR[0], self.norms(dS)[0])
        dx = None if self.index == 0 else self._input_gradients(t, q, r, xs, delta, dX[0])
        gq = self._param_gradients(t, q, r, s, xs, delta, grads)
        W = gq[self.U.value.size:self.U.value.size + self.W.value.size]
        grids = (("∂E_total/∂r_t,j", delta), ("g_t = ‖∂E_total/∂s_t‖", norms.reshape(-1, 1)))
        if self.steps <= STEP_GRIDS:  # each step's contributions to ∂E_total/∂W, as a units × units grid
            grids += tuple((f"∂E_total/∂W_jm via r_{i + 1},j", _via(W, i, self.units)) for i in range(self.steps))
        return rows + ([] if dx is None else list(dx.reshape(-1))), dx, gq, grids

    def _forward_quantities(self, t, fwd):
        """This layer's forward Quantities (parameters, r, s), found by identity in its Block's rows and the
        formulas of those rows (the parameters and s_0 are read by r's formulas)."""
        by = {q.ident: q for row in fwd.rows for q in (row, *refs(row.expr))}
        l, H = self.index, self.units
        q = {p.symbol: objects(p.value.shape, lambda idx: by[t.id(p.symbol, l, shown(p.value.shape, idx))])
             for p in self.params}
        r = objects((self.steps, H), lambda idx: by[t.id("r", l, idx)])
        s = objects((self.steps + 1, H), lambda idx: by[t.id("s", l, (idx[0] - 1, idx[1]))])
        return q, r, s

    def _through_time(self, t, q, r, s, dy, dS, dR, g):
        """For t = T … 1: g_t, ∂s_t/∂r_t, δ_t and ∂E_total/∂s_{t−1}; (rows, norms g, δ as T × units)."""
        H, T = self.units, self.steps
        dE = np.empty((T + 1, H), dtype=object)  # dE[t, j] = ∂E_total/∂s_t,j; ∂E_total/∂s_T is dy
        dE[T] = dy
        delta, norms, rows = np.empty((T, H), dtype=object), np.empty(T, dtype=object), []
        for i in range(T, 0, -1):
            norms[i - 1] = self._norm(t, i, dE[i], g[i - 1])
            ds_dr = [self._ds_dr(t, r[i - 1, j], s[i, j]) for j in range(H)]
            for j in range(H):  # δ_t,j = ∂E_total/∂s_t,j × ∂s_t,j/∂r_t,j
                delta[i - 1, j] = t.product(E_TOTAL, r[i - 1, j], [dE[i, j], ds_dr[j]], dR[i - 1, j])
            rows += [norms[i - 1], *ds_dr, *delta[i - 1]]
            if i > 1:
                dE[i - 1] = self._dE_ds(t, q, r[i - 1], s[i - 1], delta[i - 1], dS[i - 1])
                rows += [part for d in dE[i - 1] for part in (*getattr(d, "terms", ()), d)]
        return rows, norms, delta

    def _norm(self, t, i: int, dE_ds, value: float):
        # g_t = ‖∂E_total/∂s_t‖ = √(Σ_j (∂E_total/∂s_t,j)²)
        return t.q("g", self.index, (i - 1,), value, Op("sqrt", Op("add", *(Op("pow", Ref(d), Num(2)) for d in dE_ds))))

    def _ds_dr(self, t, r, s):
        # ∂s_t,j/∂r_t,j = f′(r_t,j): 1 − s_t,j² for tanh, 1 if r_t,j > 0 else 0 for relu
        return t.d(s, r, float(self.act.d(np.array(r.value), np.array(s.value))), self.act.dtree(Ref(s), Ref(r)))

    def _dE_ds(self, t, q, r, s_prev, delta, values) -> np.ndarray:
        """∂E_total/∂s_{t−1},m = Σ_j δ_t,j·W_jm: one term via each r_t,j (r, delta: step t's)."""
        def one(idx):
            m = idx[0]
            terms = [t.product(E_TOTAL, s_prev[m], [delta[j], q["W"][j, m]], via=r[j]) for j in range(self.units)]
            return _grad(t, s_prev[m], terms, values[m])
        return objects((self.units,), one)

    def _input_gradients(self, t, q, r, xs, delta, dX):
        """∂E_total/∂x_t,k = Σ_j δ_t,j·U_jk (when the layer before needs it)."""
        def one(idx):
            i, k = idx
            terms = [t.product(E_TOTAL, xs[i, k], [delta[i, j], q["U"][j, k]], via=r[i, j]) for j in range(self.units)]
            return _grad(t, xs[i, k], terms, dX[i, k])
        return objects((self.steps, self.inputs), one).reshape(self.in_shape)

    def _param_gradients(self, t, q, r, s, xs, delta, grads) -> list:
        """Each shared weight's gradient: a Sum with one term per time step (via r_t,j), in params order:
        ∂E_total/∂U_jk = Σ_t δ_t,j·x_t,k, ∂E_total/∂W_jm = Σ_t δ_t,j·s_{t−1},m, ∂E_total/∂c_j = Σ_t δ_t,j·1."""
        T = self.steps

        def shared(p, source, g):
            return [_grad(t, p[j, k], [t.product(E_TOTAL, p[j, k], [delta[i, j], source(i, j, k)], via=r[i, j])
                                       for i in range(T)], g[j, k]) for j, k in np.ndindex(*p.shape)]
        out = shared(q["U"], lambda i, j, k: xs[i, k], grads[0]) + shared(q["W"], lambda i, j, m: s[i, m], grads[1])
        if "c" in q:  # ∂r_t,j/∂c_j = 1
            c = q["c"].reshape(-1, 1)
            out += shared(c, lambda i, j, _: t.d(r[i, j], c[j, 0], 1.0, Num(1), given=True), grads[2].reshape(-1, 1))
        return out

    # ---------------------------------------------------------------- PyTorch
    def torch_code(self):
        return _torch_code(self)

    def torch_module(self):
        return _torch_rnn(self)


def _grad(t, by, terms, value):
    """∂E_total/∂by: one term as it is, several as their Sum (valued as numpy summed them)."""
    return t.grad(by, terms, value if len(terms) > 1 else None)


def _via(grads, i: int, H: int) -> np.ndarray:
    """The W gradient contributions of step i + 1 as a units × units grid (the i-th term of each Sum)."""
    return objects((H, H), lambda idx: _term(grads[idx[0] * H + idx[1]], i))


def _term(g, i: int):
    return g.terms[i] if hasattr(g, "terms") else g


# The module verify runs and the .py export writes: one definition, as code (torch_module executes it).
TORCH_CLASS = '''

class RNNLastState(nn.Module):
    """nn.RNN(batch_first=True) from the initial state h0, giving its last state s_T (many-to-one). The spec's
    one bias c is b_ih; b_hh is held at 0 (a buffer, not a parameter), so the two are the same network."""

    def __init__(self, inputs, units, nonlinearity, bias, h0, dtype=None):
        super().__init__()
        self.rnn = nn.RNN(inputs, units, nonlinearity=nonlinearity, bias=bias, batch_first=True, dtype=dtype)
        if bias:
            del self.rnn.bias_hh_l0
            self.rnn.register_buffer("bias_hh_l0", torch.zeros(units, dtype=dtype))
            self.rnn._init_flat_weights()
        self.register_buffer("h0", torch.tensor(h0, dtype=dtype))

    def forward(self, x):  # x: (n, T) one input per step, or (n, T, D)
        n = x.shape[0]
        _, h = self.rnn(x.reshape(n, x.shape[1], -1), self.h0.expand(1, n, -1).contiguous())
        return h[0]
'''


def _torch_code(layer: RNN) -> tuple[str, list, str]:
    """(RNNLastState(…) as code, the parameters' (attribute, values) in params order, the class's code)."""
    bias = layer.c is not None
    module = (f"RNNLastState({layer.inputs}, {layer.units}, {layer.activation!r}, bias={bias}, "
              f"h0={layer.h0.tolist()!r})")
    attrs = ["rnn.weight_ih_l0", "rnn.weight_hh_l0"] + (["rnn.bias_ih_l0"] if bias else [])
    return module, [(a, p.value.tolist()) for a, p in zip(attrs, layer.params)], TORCH_CLASS


def _torch_rnn(layer: RNN):
    """RNNLastState in float64 with the layer's U, W (and c) and h0; bptrace_params: U, W, c as torch has them."""
    import torch

    scope = {"torch": torch, "nn": torch.nn}
    exec(TORCH_CLASS, scope)  # the class the .py export writes, defined here from the same text
    m = scope["RNNLastState"](layer.inputs, layer.units, layer.activation, layer.c is not None, layer.h0.tolist(),
                              dtype=torch.float64)
    rnn = m.rnn
    m.bptrace_params = [rnn.weight_ih_l0, rnn.weight_hh_l0] + ([rnn.bias_ih_l0] if layer.c is not None else [])
    with torch.no_grad():
        for t, p in zip(m.bptrace_params, layer.params):
            t.copy_(torch.tensor(p.value))
    return m


# ---------------------------------------------------------------- parsing the spec's table

def parse(c, table, path, index, in_shape, rng):
    """An rnn table: units, input_weights (U), recurrent_weights (W), bias (c), h0, activation."""
    c.keys(table, KEYS, path)
    in_shape = _sequence(c, path, index, tuple(in_shape))
    D = in_shape[1] if len(in_shape) == 2 else 1
    H = _units(c, table, path)
    _size(c, path, H, D)
    activation = c.string(table.get("activation", "tanh"), f"{path}.activation", ACTIVATIONS)
    drawn = _torch_draws(rng, table, H, D)
    units = _count(H, "unit")
    U = _matrix(c, table, ("U", "input_weights"), path, (H, D), drawn, f"{units} × {_count(D, 'input')} per step")
    W = _matrix(c, table, ("W", "recurrent_weights"), path, (H, H), drawn, f"{units} × {units}")
    bias = _bias(c, table.get("bias"), f"{path}.bias", H, drawn)
    h0 = _h0(c, table.get("h0"), f"{path}.h0", H)
    return RNN("rnn", index, in_shape, (H,), H, activation, U, W, bias, h0)


def _sequence(c, path, index, shape):
    """(T,) one input per step, or (T, D); anything else is refused, naming the x (or the layer before)."""
    if len(shape) in (1, 2) and shape[0] <= MAX_STEPS:
        return shape
    what = "x" if index == 0 else "its input"
    got = "a single number" if not shape else "×".join(map(str, shape))
    if len(shape) in (1, 2):
        c.fail(path, f"a sequence of {shape[0]:,} steps; an rnn layer reads at most {MAX_STEPS:,}")
    c.fail(path, f"an rnn layer reads a sequence: {what} as a list of T numbers (one input per step) or T lists "
                 f"of D numbers; got {got}")


def _units(c, table, path) -> int:
    if "units" in table:
        return c.integer(table["units"], f"{path}.units", 1, MAX_UNITS)
    for key in ("input_weights", "recurrent_weights"):
        if isinstance(table.get(key), list):
            return len(table[key])
    c.fail(f"{path}.units", "missing 'units': needed when the weights are drawn (or give input_weights as a matrix)")


def _size(c, path, H: int, D: int) -> None:
    """Refuse, before allocating them, more weights than a whole network may have."""
    from ..spec import MAX_PARAMS

    n = H * (D + H + 1)
    if n > MAX_PARAMS:
        c.fail(f"{path}.units", f"{H:,} units with {_count(D, 'input')} per step make {n:,} parameters; "
                                f"bptrace traces at most {MAX_PARAMS:,}")


def _torch_draws(rng, table, H: int, D: int) -> dict:
    """nn.RNN's default initialisation, every weight and bias U(−1/√H, 1/√H), bit for bit the numbers that
    torch.manual_seed(seed) then nn.RNN(D, H, bias=…, dtype=torch.float64) draw (bptrace.torch_init reproduces
    PyTorch's generator): U, then W, then b_ih and b_hh (held at 0 here). Made whenever any layer of the network
    draws (from its one stream, spec._torch_stream, so the layers after this one draw what they would in
    torch.nn), used where a key asks for them."""
    keys = ("input_weights", "recurrent_weights", "bias")
    gen = torch_stream(rng, any(table.get(k, "pytorch" if k != "bias" else None) == "pytorch" for k in keys))
    if gen is None:
        return {}
    bound = 1.0 / math.sqrt(H)  # nn.RNN.reset_parameters: stdv = 1/√hidden_size
    shapes = {"U": (H, D), "W": (H, H)}
    if "bias" in table:  # nn.RNN(bias=True) has b_ih and b_hh, drawn in that order
        shapes.update(c=(H,), b_hh=(H,))
    return {k: np.array(gen._uniform(math.prod(s), -bound, bound)).reshape(s) for k, s in shapes.items()}


def _matrix(c, table, names, path, shape, drawn, expected):
    """A given matrix of `shape`, or "pytorch": nn.RNN's default initialisation (see _torch_draws)."""
    symbol, key = names
    value, where = table.get(key, "pytorch"), f"{path}.{key}"
    if isinstance(value, str):
        c.string(value, where, ("pytorch",))
        return Param(symbol, drawn[symbol], given=False)
    m = tensor(c, value, where)
    if m.shape != shape:
        c.fail(where, f"expected {_shape(shape)} ({expected}), got {_shape(m.shape)}")
    return Param(symbol, m)


def _bias(c, value, path, H, drawn):
    if value is None:
        return None
    if isinstance(value, str):
        init = c.string(value, path, ("zeros", "pytorch"))
        return Param("c", np.zeros(H) if init == "zeros" else drawn["c"], given=init == "zeros")
    v = tensor(c, value, path)
    if v.shape != (H,):
        c.fail(path, f"expected a list of {H} numbers (one per unit), \"zeros\" or \"pytorch\"; got {_shape(v.shape)}")
    return Param("c", v)


def _h0(c, value, path, H) -> np.ndarray:
    if value is None or isinstance(value, str) and c.string(value, path, ("zeros",)):
        return np.zeros(H)
    v = tensor(c, value, path)
    if v.shape != (H,):
        c.fail(path, f"expected a list of {H} numbers (the initial state, one per unit) or \"zeros\"; "
                     f"got {_shape(v.shape)}")
    return v


def _shape(shape) -> str:
    return "a number" if not shape else "×".join(map(str, shape))


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")
