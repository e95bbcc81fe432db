"""maxpool1d/2d, avgpool1d/2d (bptrace.front.pool): numbers against loops written from the definition,
finite differences and PyTorch float64; the trace routes ∂E/∂P to the maximum only (max) or 1/n of it to
every input (avg); bad tables."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bptrace.errors import SpecError
from bptrace.trace import Quantity, Sum
from front_support import (all_rows, back, by_name, chain, check_formula, close, finite_differences, parse,
                           pool_loops, run, trace)


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("d, size, stride, S", [(2, 2, None, 4), (2, 2, 1, 5), (2, 3, 2, 7), (1, 2, None, 6),
                                                 (1, 3, 1, 5)])
def test_numbers_match_the_definition_and_finite_differences(mode, d, size, stride, S):
    table = {"type": f"{mode}pool{d}d", "size": size} | ({} if stride is None else {"stride": stride})
    L = parse(table, (2, *(S,) * d), index=1)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(2, 2, *(S,) * d))
    Y, caches = run([L], X)
    assert close(Y, pool_loops(X, size, stride or size, mode), 1e-12)
    G = rng.normal(size=Y.shape)
    dX, (grads,) = back([L], caches, G)
    (fX,) = finite_differences(lambda: float(np.sum(G * pool_loops(X, size, stride or size, mode))), [X])
    assert grads == [] and close(dX, fX, 1e-6, 1e-8)


def test_a_tie_goes_to_the_first_maximum_as_in_pytorch():
    L = parse({"type": "maxpool2d", "size": 2}, (1, 2, 2), index=1)
    X = np.zeros((1, 1, 2, 2))  # relu zeros: every entry is a maximum
    dX, _ = back([L], run([L], X)[1], np.ones((1, 1, 1, 1)))
    assert dX.ravel().tolist() == [1, 0, 0, 0]


SHAPES = st.tuples(st.sampled_from(["max", "avg"]), st.sampled_from([1, 2]), st.integers(1, 3), st.integers(1, 3),
                   st.integers(1, 3), st.integers(3, 7), st.integers(0, 2 ** 31))


def _random(case):
    mode, d, C, size, stride, S, seed = case
    rng = np.random.default_rng(seed)
    L = parse({"type": f"{mode}pool{d}d", "size": size, "stride": stride}, (C, *(S,) * d), index=1)
    X = rng.normal(size=(2, C, *(S,) * d))
    return L, X, rng.normal(size=(2, *L.out_shape))


@settings(max_examples=25, deadline=None)
@given(SHAPES)
def test_random_shapes_against_the_definition(case):
    L, X, G = _random(case)
    assert close(L.forward([], X)[0], pool_loops(X, L.size, L.stride, case[0]), 1e-12)


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(SHAPES)
def test_random_shapes_against_torch(case):
    torch = pytest.importorskip("torch")
    L, X, G = _random(case)
    Xt = torch.tensor(X, requires_grad=True)
    Yt = L.torch_module()(Xt)
    (Yt * torch.tensor(G)).sum().backward()
    Y, caches = run([L], X)
    assert close(Y, Yt.detach().numpy()) and close(back([L], caches, G)[0], Xt.grad.numpy())


# ---------------------------------------------------------------- the trace

def _conv_pool(mode, stride=2):
    return chain([{"type": "conv2d", "kernel": [[0.5, -0.25], [0.75, 0.5]], "activation": "relu"},
                  {"type": f"{mode}pool2d", "size": 2, "stride": stride}], (5, 5))


@pytest.mark.parametrize("mode, stride", [("max", 2), ("max", 1), ("avg", 2), ("avg", 1)])
def test_traced_formulas_and_gradients(mode, stride):
    layers = _conv_pool(mode, stride)
    rng = np.random.default_rng(2)
    x, G = rng.normal(size=(5, 5)), rng.normal(size=layers[-1].out_shape)
    tr = trace(layers, x, G)
    for q in all_rows(tr):
        check_formula(q)
    Y1, _ = run(layers[:1], x[None, None])
    dV = back(layers[1:], run(layers[1:], Y1)[1], G[None])[0]
    assert close(np.vectorize(lambda q: q.value)(tr.backward[1][1]), dV[0], 1e-12)
    grads = back(layers, run(layers, x[None, None])[1], G[None])[1][0][0]
    assert close([q.value for q in tr.backward[0][2]], grads.ravel(), 1e-12)


def test_max_pool_routes_to_the_maximum_only():
    layers = _conv_pool("max")
    x = np.arange(25.0).reshape(5, 5) / 10  # u rises to the bottom right: each window's maximum is v_22-like
    tr = trace(layers, x, np.array([[[1.0, 2.0], [3.0, 4.0]]]))
    f = by_name(tr.forward[1].rows)
    assert f["P_11"].expr.op == "fn" and [r.q.name for r in f["P_11"].expr.args[1:]] == ["v_11", "v_12", "v_21", "v_22"]
    b = by_name(tr.backward[1][0])
    assert b["dP_11/dv_22"].value == 1 and "dP_11/dv_11" not in b  # only the winner's path is traced
    assert b["dE_total/dv_22"].factors[0].name == "dE_total/dP_11" and b["dE_total/dv_22"].value == 1
    assert isinstance(b["dE_total/dv_11"], Quantity) and b["dE_total/dv_11"].value == 0
    assert [g[0] for g in tr.backward[1][3]] == ["dE_total/dv"]
    assert [g[0] for g in tr.forward[1].grids] == ["P"]


def test_overlapping_windows_add_up():
    layers = chain([{"type": "conv2d", "kernel": [[1.0]], "activation": "linear"},  # v = x
                    {"type": "maxpool2d", "size": 2, "stride": 1}], (5, 5))
    x = np.zeros((5, 5))
    x[2, 2] = 1.0  # v_33 is the maximum of the four windows that hold it
    tr = trace(layers, x, np.ones(layers[-1].out_shape))
    g = by_name(tr.backward[1][0])["dE_total/dv_33"]
    assert isinstance(g, Sum) and [t.name for t in g.terms] == [f"dE_total/dv_33 via P_{i}" for i in (22, 23, 32, 33)]
    assert g.value == 4


def test_avg_pool_spreads_a_quarter():
    layers = _conv_pool("avg")
    tr = trace(layers, np.ones((5, 5)), np.array([[[4.0, 0.0], [0.0, 0.0]]]))
    b = by_name(tr.backward[1][0])
    assert b["dP_11/dv_12"].value == 0.25 and b["dE_total/dv_12"].value == 1.0
    f = by_name(tr.forward[1].rows)
    assert f["P_11"].expr.op == "div"


def test_a_first_layer_pool_shows_x_and_needs_no_gradient():
    L = parse({"type": "maxpool1d", "size": 2}, (4,))
    tr = trace([L], np.array([1.0, 3.0, 2.0, 0.0]), np.array([[1.0, 1.0]]))
    assert [q.name for q in tr.forward[0].rows] == ["P1", "P2"] and [q.value for q in tr.forward[0].rows] == [3, 2]
    assert [g[0] for g in tr.forward[0].grids] == ["x", "P"] and tr.backward[0][1] is None


def test_layered_names():
    layers = _conv_pool("max")
    names = {q.name for q in all_rows(trace(layers, np.ones((5, 5)), np.ones(layers[-1].out_shape), "layered"))}
    assert {"P^(2)_11", "dP^(2)_11/dv^(1)_11", "dE_total/dv^(1)_11"} <= names


# ---------------------------------------------------------------- bad tables

@pytest.mark.parametrize("table, shape, where, says", [
    ({"type": "maxpool2d"}, (4, 4), "layers[1].size", "required"),
    ({"type": "maxpool2d", "size": 0}, (4, 4), "layers[1].size", "from 1"),
    ({"type": "maxpool2d", "size": 5}, (4, 4), "layers[1].size", "larger than the input"),
    ({"type": "avgpool1d", "size": 2, "stride": 0}, (4,), "layers[1].stride", "from 1"),
    ({"type": "avgpool1d", "size": 2, "padding": 1}, (4,), "layers[1].padding", "unknown key"),
    ({"type": "maxpool2d", "size": 2}, (4,), "samples[1].x", "rows × columns"),
])
def test_bad_tables(table, shape, where, says):
    with pytest.raises(SpecError) as e:
        parse(table, shape)
    assert e.value.path == where and says in e.value.detail, (e.value.path, e.value.detail)


def test_sides_show_a_tie_that_a_central_difference_straddles():
    """Two equal maxima in a window: moving one of them by ±h changes the winner (max has a kink there)."""
    L = parse({"type": "maxpool2d", "size": 2}, (1, 2, 2), index=1)
    X = np.array([[[[0.42, 0.42], [0.1, 0.0]]]])
    up, down = X.copy(), X.copy()
    up[0, 0, 0, 1] += 1e-6
    down[0, 0, 0, 1] -= 1e-6
    assert (L.sides(L.forward([], up)[1]) != L.sides(L.forward([], down)[1])).any()
    assert parse({"type": "avgpool2d", "size": 2}, (1, 2, 2), index=1).sides((X, None)) is None


def test_trace_cost_counts_what_the_trace_makes():
    layers = _conv_pool("max", stride=1)  # 5×5 -> conv 2×2 -> 4×4 -> pool 2×2 stride 1 -> 3×3
    assert layers[0].trace_cost == 16 * 4 and layers[1].trace_cost == 9 * 4
    tr = trace(layers, np.ones((5, 5)), np.ones(layers[-1].out_shape))
    products = sum(len(g.terms) for g in tr.backward[0][2][:4])  # the kernel's gradients: one term per product
    assert products == layers[0].trace_cost
