"""The rnn front layer (bptrace/front/rnn.py): numbers against PyTorch float64 and central finite
differences, its trace (every formula gives its value, every gradient's Sum its numpy gradient, names in
both schemes) and the spec table's errors."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from bptrace.errors import SpecError
from bptrace.expr import refs
from bptrace.front import rnn
from bptrace.front.base import objects, shown
from bptrace.front.tracing import Tracer
from bptrace.misconceptions import evaluate
from bptrace.notation import E_TOTAL, name
from bptrace.spec import _Checker, _LazyRng
from bptrace.trace import Block, Product, Sum

TABLE = {"type": "rnn", "input_weights": [[0.5], [-0.3]], "recurrent_weights": [[0.4, 0.2], [-0.1, 0.6]],
         "bias": [0.1, -0.2], "h0": [0.05, -0.02]}
X = np.array([[0.1, 0.5, 0.9], [0.9, 0.4, 0.2]])  # two sequences of 3 steps, one input per step


def layer(table=TABLE, in_shape=(3,), index=0, seed=0):
    return rnn.parse(_Checker("t.toml"), dict(table), "layers[1]", index, in_shape, _LazyRng(seed))


def values(L):
    return [p.value.copy() for p in L.params]


# ---------------------------------------------------------------- a plain-Python RNN, for finite differences

def plain_states(U, W, c, h0, x, act=math.tanh):
    """s_t = f(U x_t + W s_{t−1} + c), written out element by element (x: T × D lists)."""
    s = list(h0)
    for x_t in x:
        s = [act(sum(U[j][k] * x_t[k] for k in range(len(x_t))) + sum(W[j][m] * s[m] for m in range(len(s))) + c[j])
             for j in range(len(s))]
    return s


def loss(params, X, A, with_bias=True, h0=(0.05, -0.02), act=math.tanh):
    """A test loss of the last states: Σ_i Σ_j A_ij·s_T,j + ½ s_T,j² (any smooth function of s_T will do)."""
    U, W = params[0].tolist(), params[1].tolist()
    c = params[2].tolist() if with_bias else [0.0] * len(W)
    total = 0.0
    for i, x in enumerate(X):
        x = np.asarray(x).reshape(len(x), -1).tolist()
        s = plain_states(U, W, c, h0, x, act)
        total += sum(A[i][j] * s[j] + 0.5 * s[j] ** 2 for j in range(len(s)))
    return total


def central(f, arr, eps=1e-6):
    """Central differences of f() by every element of arr (tests/front_support.py)."""
    from front_support import finite_differences

    return finite_differences(f, [arr], eps)[0]


def test_gradients_match_central_finite_differences():
    L, A = layer(), np.array([[0.3, -0.7], [1.0, 0.2]])
    P = values(L)
    Y, cache = L.forward(P, X)
    dX, grads = L.backward(P, cache, A + Y)  # ∂loss/∂s_T = A + s_T
    for p, g in zip(P, grads):
        assert np.allclose(g, central(lambda: loss(P, X, A), p), rtol=1e-7, atol=1e-9)
    Xc = X.copy()
    assert np.allclose(dX, central(lambda: loss(P, Xc, A), Xc), rtol=1e-7, atol=1e-9)


def test_relu_gradients_match_finite_differences():
    L = layer(dict(TABLE, activation="relu"))
    A = np.array([[0.3, -0.7], [1.0, 0.2]])
    P = values(L)
    Y, cache = L.forward(P, X)
    _, grads = L.backward(P, cache, A + Y)
    relu = lambda z: max(0.0, z)  # noqa: E731
    for p, g in zip(P, grads):
        assert np.allclose(g, central(lambda: loss(P, X, A, act=relu), p), rtol=1e-7, atol=1e-9)


# ---------------------------------------------------------------- PyTorch float64

def torch_pass(L, X, dY):
    torch = pytest.importorskip("torch")
    m = L.torch_module()
    xt = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    y = m(xt)
    (y * torch.tensor(dY)).sum().backward()
    return m, y.detach().numpy(), xt.grad.numpy(), [p.grad.numpy() for p in m.parameters()]


def close(a, b, rel=1e-9):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and np.all(np.abs(a - b) <= rel * np.maximum(1.0, np.abs(b)))


def check_against_torch(L, X, dY):
    P = values(L)
    Y, cache = L.forward(P, X)
    dX, grads = L.backward(P, cache, dY)
    m, y, dx, tgrads = torch_pass(L, X, dY)
    assert close(Y, y) and close(dX, dx)
    assert len(grads) == len(tgrads) and all(close(g, t) for g, t in zip(grads, tgrads))


def test_torch_forward_and_backward():
    check_against_torch(layer(), X, np.array([[0.3, -0.7], [1.0, 0.2]]))


def test_torch_module_has_one_bias_and_h0():
    pytest.importorskip("torch")
    m = layer().torch_module()
    assert [n for n, _ in m.named_parameters()] == ["rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0"]
    assert float(m.rnn.bias_hh_l0.abs().sum()) == 0.0  # b_hh = 0: a buffer, never trained
    assert m.h0.tolist() == [0.05, -0.02]


def test_torch_training_keeps_b_hh_at_zero():
    """Three SGD steps in PyTorch equal three numpy steps (the spec's one bias c is torch's b_ih alone)."""
    torch = pytest.importorskip("torch")
    L = layer()
    m, P = L.torch_module(), values(L)
    opt = torch.optim.SGD(m.parameters(), lr=0.5)
    A = np.array([[0.3, -0.7], [1.0, 0.2]])
    for _ in range(3):
        opt.zero_grad()
        y = m(torch.tensor(X))
        (y * torch.tensor(A) + 0.5 * y ** 2).sum().backward()
        opt.step()
        Y, cache = L.forward(P, X)
        _, grads = L.backward(P, cache, A + Y)
        for p, g in zip(P, grads):
            p -= 0.5 * g
    assert all(close(p, t.detach().numpy()) for p, t in zip(P, m.parameters()))
    assert float(m.rnn.bias_hh_l0.abs().sum()) == 0.0


@st.composite
def rnn_cases(draw):
    T, D, H, n = draw(st.integers(1, 5)), draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 3))
    flat = draw(st.booleans()) and D == 1  # (T,) one input per step, or (T, D)
    table = {"type": "rnn", "units": H, "activation": draw(st.sampled_from(rnn.ACTIVATIONS))}
    if draw(st.booleans()):
        table["bias"] = "pytorch"
    if draw(st.booleans()):
        table["h0"] = [0.1 * (j + 1) * (-1) ** j for j in range(H)]
    seed = draw(st.integers(0, 2**16))
    return table, ((T,) if flat else (T, D)), n, seed


@settings(max_examples=25, deadline=None)
@given(rnn_cases())
def test_random_shapes_against_torch(case):
    table, in_shape, n, seed = case
    rng = np.random.default_rng(seed + 1)
    L = layer(table, in_shape, seed=seed)
    check_against_torch(L, rng.normal(size=(n, *in_shape)), rng.normal(size=(n, L.units)))


@pytest.mark.parametrize("seed,H,D,bias", [(0, 4, 3, "pytorch"), (7, 2, 1, None), (123, 3, 2, [0.1, 0.2, 0.3])])
def test_drawn_weights_are_pytorchs_bit_for_bit(seed, H, D, bias):
    """"pytorch": the numbers torch.manual_seed(seed) then nn.RNN(D, H, bias=…, dtype=float64) draws."""
    torch = pytest.importorskip("torch")
    table = {"type": "rnn", "units": H, **({"bias": bias} if bias is not None else {})}
    L = layer(table, (5, D), seed=seed)
    torch.manual_seed(seed)
    m = torch.nn.RNN(D, H, bias=bias is not None, dtype=torch.float64)
    assert L.U.value.tolist() == m.weight_ih_l0.tolist() and L.W.value.tolist() == m.weight_hh_l0.tolist()
    if bias == "pytorch":
        assert L.c.value.tolist() == m.bias_ih_l0.tolist()
    assert not L.U.given and not L.W.given


def test_given_weights_draw_nothing():
    class Refuse:
        @property
        def seed(self):
            raise AssertionError("drew numbers for a layer whose weights are all given")

    rnn.parse(_Checker("t.toml"), dict(TABLE), "layers[1]", 0, (3,), Refuse())


# ---------------------------------------------------------------- the trace of one sample

def names(scheme):
    return SimpleNamespace(scheme=scheme)


def inputs(t, L, x):
    """The network's x as the core makes it: x1, x2, x3 for (T,), x_tk for (T, D)."""
    return objects(L.in_shape, lambda idx: t.q("x", 0, shown(L.in_shape, idx), x[idx], None, given=True))


def traced(L, x, scheme="seed", A=(0.3, -0.7)):
    """Forward and backward trace of one sample, with ∂E_total/∂s_T = A given by the 'next layer'."""
    t, P = Tracer(names(scheme)), values(L)
    xq = inputs(t, L, x)
    Y, cache = L.forward(P, x[None])
    rows, y, grids = L.trace(t, xq, cache, P)
    dy = np.array([t.d(E_TOTAL, y[j], A[j], None, given=True) for j in range(L.units)], dtype=object)
    back = L.backward(P, cache, np.array([A]))
    fwd = Block(L.index, L.kind, xq, tuple(rows), y, tuple(grids))
    brows, dx, grads, bgrids = L.trace_back(t, fwd, dy, cache, back, P)
    return SimpleNamespace(t=t, P=P, rows=rows, y=y, grids=grids, brows=brows, dx=dx, grads=grads, bgrids=bgrids,
                           back=back, cache=cache)


def value_of(q):
    return q.value


def assert_consistent(q):
    """A quantity's formula (or its factors, or its terms), evaluated with the values it reads, is its value."""
    if isinstance(q, Product):
        assert math.prod(f.value for f in q.factors) == pytest.approx(q.value, rel=1e-12, abs=1e-15)
    elif isinstance(q, Sum):
        assert math.fsum(t.value for t in q.terms) == pytest.approx(q.value, rel=1e-12, abs=1e-15)
        for term in q.terms:
            assert_consistent(term)
    elif q.expr is not None:
        assert evaluate(q.expr, value_of) == pytest.approx(q.value, rel=1e-12, abs=1e-15), q.name


@pytest.mark.parametrize("activation", rnn.ACTIVATIONS)
def test_every_traced_formula_gives_its_value(activation):
    L = layer(dict(TABLE, activation=activation, recurrent_weights=[[0.4, -0.2], [0.1, 0.6]]))
    tr = traced(L, X[0])
    for q in [*tr.rows, *tr.brows, *tr.grads]:
        assert_consistent(q)
    Y, (_, R, S) = L.forward(tr.P, X[:1])
    assert [q.value for q in tr.y] == Y[0].tolist()  # values are numpy's, not recomputed
    assert [q.value for q in tr.rows if q.ident.of == "r"] == R[0].reshape(-1).tolist()


def test_gradient_sums_equal_numpy_gradients():
    L = layer()
    tr = traced(L, X[1])
    _, grads = tr.back
    flat = np.concatenate([g.reshape(-1) for g in grads])
    assert [g.value for g in tr.grads] == flat.tolist()
    assert all(isinstance(g, Sum) and len(g.terms) == 3 for g in tr.grads)  # one term per time step


def test_trace_numbers_match_torch_per_step():
    """δ_t and ∂E_total/∂s_t from PyTorch's autograd on each step's r_t and s_t (retain_grad)."""
    torch = pytest.importorskip("torch")
    L, x, A = layer(), X[0], np.array([0.3, -0.7])
    tr = traced(L, x, A=tuple(A))
    U, W, c = (torch.tensor(p, requires_grad=True) for p in tr.P)
    s, rs, ss = torch.tensor(L.h0), [], []
    for t in range(3):
        r = U[:, 0] * x[t] + W @ s + c
        s = torch.tanh(r)
        r.retain_grad(), s.retain_grad()
        rs.append(r), ss.append(s)
    (s * torch.tensor(A)).sum().backward()
    by = {q.name: q.value for q in tr.brows}
    for t in range(3):
        for j in range(2):
            assert by[f"dE_total/dr_{t + 1}{j + 1}"] == pytest.approx(float(rs[t].grad[j]), rel=1e-12)
            if t < 2:
                assert by[f"dE_total/ds_{t + 1}{j + 1}"] == pytest.approx(float(ss[t].grad[j]), rel=1e-12)
        assert by[f"g{t + 1}"] == pytest.approx(float(ss[t].grad.norm()), rel=1e-12)


def test_names_in_both_schemes():
    L = layer()
    seed = traced(L, X[0])
    layered = traced(L, X[0], "layered")
    assert [q.name for q in seed.rows][:4] == ["r_11", "r_12", "s_11", "s_12"]
    assert [q.name for q in refs(seed.rows[0].expr)] == ["U_11", "x1", "W_11", "s_01", "W_12", "s_02", "c1"]
    assert [q.name for q in refs(layered.rows[-3].expr)] == ["U^(1)_21", "x3", "W^(1)_21", "s^(1)_21", "W^(1)_22",
                                                             "s^(1)_22", "c^(1)_2"]
    assert [q.name for q in layered.rows][-2:] == ["s^(1)_31", "s^(1)_32"]
    b = [q.name for q in seed.brows]
    assert b[:5] == ["g3", "ds_31/dr_31", "ds_32/dr_32", "dE_total/dr_31", "dE_total/dr_32"]
    assert b[5:11] == ["dE_total/ds_21 via r_31", "dE_total/ds_21 via r_32", "dE_total/ds_21",
                       "dE_total/ds_22 via r_31", "dE_total/ds_22 via r_32", "dE_total/ds_22"]
    assert [q.name for q in layered.brows][:2] == ["g^(1)_3", "ds^(1)_31/dr^(1)_31"]
    w12 = seed.grads[3]
    assert w12.name == "dE_total/dW_12"
    assert [t.name for t in w12.terms] == [f"dE_total/dW_12 via r_{t}1" for t in (1, 2, 3)]
    assert [f.name for f in w12.terms[0].factors] == ["dE_total/dr_11", "s_02"]
    assert [f.name for f in seed.brows[7].terms] == ["dE_total/ds_21 via r_31", "dE_total/ds_21 via r_32"]
    assert name(w12.ident, names("seed"), "unicode") == "∂E_total/∂W_12"
    assert name(w12.ident, names("layered"), "latex").startswith(r"\frac{\partial E_{total}}{\partial W^{(1)}_{12}}")


def test_names_of_inputs_with_several_per_step():
    L = layer(dict(TABLE, input_weights=[[0.5, 0.1], [-0.3, 0.2]]), (3, 2))
    tr = traced(L, np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]))
    u11 = tr.grads[0]
    assert [f.name for f in u11.terms[2].factors] == ["dE_total/dr_31", "x_31"]
    assert tr.dx is None  # the network's input needs no gradient


def test_input_gradients_when_not_the_first_layer():
    L = layer(index=1)
    t, P = Tracer(names("seed")), values(L)
    xq = objects((3,), lambda idx: t.q("f", 0, idx, X[0][idx], None, given=True))  # the layer before's output
    Y, cache = L.forward(P, X[:1])
    rows, y, _ = L.trace(t, xq, cache, P)
    dy = np.array([t.d(E_TOTAL, q, 1.0, None, True) for q in y], dtype=object)
    back = L.backward(P, cache, np.ones((1, 2)))
    _, dx, _, _ = L.trace_back(t, Block(1, "rnn", xq, tuple(rows), y), dy, cache, back, P)
    assert dx.shape == (3,) and [q.value for q in dx] == pytest.approx(back[0][0].tolist(), rel=1e-12)
    assert [q.name for q in dx] == ["dE_total/df1", "dE_total/df2", "dE_total/df3"]
    assert [t.name for t in dx[0].terms] == ["dE_total/df1 via r^(2)_11", "dE_total/df1 via r^(2)_12"] or \
        [t.name for t in dx[0].terms] == ["dE_total/df1 via r_11", "dE_total/df1 via r_12"]


def test_grids():
    tr = traced(layer(), X[0])
    (label, states), = tr.grids
    assert label == "s_t,j" and states.shape == (3, 2) and [q.name for q in states[:, 0]] == ["s_11", "s_21", "s_31"]
    labels = [g[0] for g in tr.bgrids]
    assert labels[:2] == ["∂E_total/∂r_t,j", "g_t = ‖∂E_total/∂s_t‖"] and len(labels) == 5
    assert tr.bgrids[2][1][0, 1].name == "dE_total/dW_12 via r_11"


def test_no_per_step_grids_for_long_sequences():
    L = layer(in_shape=(rnn.STEP_GRIDS + 1,))
    tr = traced(L, np.linspace(0, 1, rnn.STEP_GRIDS + 1))
    assert [g[0] for g in tr.bgrids] == ["∂E_total/∂r_t,j", "g_t = ‖∂E_total/∂s_t‖"]
    assert tr.bgrids[1][1].shape == (rnn.STEP_GRIDS + 1, 1)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(rnn_cases())
def test_random_shapes_against_torch_many(case):
    test_random_shapes_against_torch.hypothesis.inner_test(case)


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(rnn_cases())
def test_random_traces_are_consistent(case):
    """Every traced formula gives its value and every gradient Sum its numpy gradient, for random shapes."""
    table, in_shape, _, seed = case
    L = layer(table, in_shape, seed=seed)
    x = np.random.default_rng(seed).normal(size=in_shape)
    tr = traced(L, x, A=tuple(np.linspace(-1, 1, L.units)))
    for q in [*tr.rows, *tr.brows, *tr.grads]:
        assert_consistent(q)
    flat = np.concatenate([g.reshape(-1) for g in tr.back[1]])
    assert np.allclose([g.value for g in tr.grads], flat, rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------- the spec table's errors

BAD = [
    ({"wieghts": 1}, (3,), "layers[1].wieghts: unknown key"),
    ({"units": 0}, (3,), "layers[1].units: expected a whole number from 1 to"),
    ({"units": 3}, (3,), "layers[1].input_weights: expected 3×1 (3 units × 1 input per step), got 2×1"),
    ({"input_weights": [[0.5, 0.1], [-0.3, 0.2]]}, (3,), "layers[1].input_weights: expected 2×1 (2 units × 1 input "
                                                         "per step), got 2×2"),
    ({"input_weights": [[0.5], [-0.3]]}, (3, 2), "layers[1].input_weights: expected 2×2 (2 units × 2 inputs per "
                                                 "step), got 2×1"),
    ({"recurrent_weights": [[0.4, 0.2]]}, (3,),
     "layers[1].recurrent_weights: expected 2×2 (2 units × 2 units), got 1×2"),
    ({"recurrent_weights": [[0.4, "a"], [0.1, 0.6]]}, (3,), "layers[1].recurrent_weights[1][2]: expected a number"),
    ({"recurrent_weights": [[0.4], [0.1, 0.6]]}, (3,), "layers[1].recurrent_weights: rows have different shapes"),
    ({"recurrent_weights": "xavier"}, (3,),
     "layers[1].recurrent_weights: unknown value 'xavier'; expected one of: pytorch"),
    ({"bias": [0.1]}, (3,), "layers[1].bias: expected a list of 2 numbers (one per unit)"),
    ({"bias": "zero"}, (3,), "layers[1].bias: unknown value 'zero' (did you mean 'zeros'?)"),
    ({"bias": True}, (3,), "layers[1].bias: expected a number, got a boolean"),
    ({"h0": [0.1, 0.2, 0.3]}, (3,), "layers[1].h0: expected a list of 2 numbers (the initial state, one per unit)"),
    ({"h0": "zero"}, (3,), "layers[1].h0: unknown value 'zero' (did you mean 'zeros'?); expected one of: zeros"),
    ({"h0": [[0.1, 0.2]]}, (3,), "layers[1].h0: expected a list of 2 numbers (the initial state, one per unit) or "
                                 "\"zeros\"; got 1×2"),
    ({"activation": "sigmoid"}, (3,), "layers[1].activation: unknown value 'sigmoid'; expected one of: tanh, relu"),
    ({}, (), "layers[1]: an rnn layer reads a sequence: x as a list of T numbers (one input per step) or T lists of D "
             "numbers; got a single number"),
    ({}, (3, 1, 2), "got 3×1×2"),
]


@pytest.mark.parametrize("change,in_shape,message", BAD)
def test_bad_tables(change, in_shape, message):
    with pytest.raises(SpecError) as e:
        layer(dict(TABLE, **change), in_shape)
    assert message in str(e.value)
    assert str(e.value).startswith("t.toml: layers[1]")


def test_too_many_units_refused_before_drawing():
    with pytest.raises(SpecError) as e:
        layer({"type": "rnn", "units": 10_000})
    assert str(e.value) == ("t.toml: layers[1].units: 10,000 units with 1 input per step make 100,020,000 parameters; "
                            "bptrace traces at most 5,000,000")


def test_units_needed_when_drawn():
    with pytest.raises(SpecError) as e:
        layer({"type": "rnn"})
    assert "layers[1].units: missing 'units'" in str(e.value)


def test_units_from_either_matrix():
    assert layer({"type": "rnn", "recurrent_weights": [[0.1]]}).units == 1
    assert layer({"type": "rnn", "input_weights": [[0.1], [0.2], [0.3]]}).units == 3
    L = layer({"type": "rnn", "units": 2, "input_weights": [[0.1], [0.2]], "bias": "zeros"})
    assert L.c.value.tolist() == [0.0, 0.0] and L.h0.tolist() == [0.0, 0.0] and L.W.value.shape == (2, 2)
    assert layer({"type": "rnn", "units": 2, "h0": "zeros"}).h0.tolist() == [0.0, 0.0]
