"""conv1d / conv2d (bptrace.front.conv): numbers against loops written from the definition, central finite
differences and PyTorch float64; the trace (formulas give values, gradient sums give numpy's, names in
both schemes); bad tables."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bptrace.errors import SpecError
from bptrace.trace import Product, Sum
from front_support import (all_rows, back, by_name, chain, check_formula, close, conv_loops, finite_differences,
                           parse, run, trace, values)

K2 = [[1.0, -1.0], [0.5, 0.25]]
X44 = np.array([[0, 1, 0, 0], [0, 1, 0, 0], [0, 1, 0, 0], [0, 1, 0, 0]], dtype=float)


def conv2d(**kw):
    return {"type": "conv2d", "kernel": K2, "activation": "relu"} | kw


# ---------------------------------------------------------------- numbers

@pytest.mark.parametrize("table, shape", [
    (conv2d(), (4, 4)),
    (conv2d(bias=0.5, stride=2, padding=1, activation="tanh"), (4, 5)),
    ({"type": "conv2d", "kernel": np.arange(24.0).reshape(2, 3, 2, 2).tolist(), "bias": [0.1, -0.2],
      "activation": "linear", "stride": 1, "padding": 1}, (3, 3, 4)),
    ({"type": "conv1d", "kernel": [0.5, -1.0, 2.0], "activation": "sigmoid"}, (6,)),
    ({"type": "conv1d", "kernel": [[[1.0, 2.0], [0.5, -0.5]]], "bias": "zeros", "stride": 2, "padding": 1,
      "activation": "leaky_relu", "slope": 0.1}, (2, 5)),
])
def test_forward_matches_the_definition(table, shape):
    L = parse(table, shape)
    X = np.random.default_rng(1).normal(size=(3, *L.in_shape))
    k, b = L.kernel.value, None if L.bias is None else L.bias.value
    U, V = conv_loops(X, k, b, L.stride, L.padding, L.act.f)
    Y, (_, U2, V2) = L.forward(values(L), X)
    assert close(U2, U, 1e-12) and close(Y, V, 1e-12) and Y.shape[1:] == L.out_shape


@pytest.mark.parametrize("act, extra", [("tanh", {}), ("relu", {}), ("elu", {"alpha": 0.5}), ("linear", {}),
                                        ("softplus", {"beta": 2.0}), ("gelu", {"approximate": "tanh"})])
@pytest.mark.parametrize("geometry", [dict(), dict(stride=2, padding=1), dict(padding=2)])
def test_gradients_match_finite_differences(act, extra, geometry):
    table = {"type": "conv2d", "kernel": [[[[0.3, -0.2], [0.1, 0.4]], [[-0.5, 0.2], [0.3, 0.1]]]],
             "bias": [0.05], "activation": act} | extra | geometry
    L = parse(table, (2, 4, 5))
    rng = np.random.default_rng(2)
    X, G = rng.normal(size=(2, 2, 4, 5)), None
    Y, caches = run([L], X)
    G = rng.normal(size=Y.shape)
    dX, (grads,) = back([L], caches, G)
    k, b = values(L)

    def loss():  # E = Σ G·v, v from the loops, not from the layer
        return float(np.sum(G * conv_loops(X, k, b, L.stride, L.padding, L.act.f)[1]))
    fk, fb, fX = finite_differences(loss, [k, b, X])
    assert close(grads[0], fk, 1e-6, 1e-8) and close(grads[1], fb, 1e-6, 1e-8) and close(dX, fX, 1e-6, 1e-8)


def test_conv1d_gradients_match_finite_differences():
    L = parse({"type": "conv1d", "kernel": [[[0.3, -0.2, 0.5]], [[0.1, 0.4, -0.3]]], "bias": [0.1, -0.1],
               "stride": 2, "padding": 1, "activation": "tanh"}, (1, 7), index=1)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(2, 1, 7))
    Y, caches = run([L], X)
    G = rng.normal(size=Y.shape)
    dX, (grads,) = back([L], caches, G)
    k, b = values(L)

    def loss():
        return float(np.sum(G * conv_loops(X, k, b, 2, 1, np.tanh)[1]))
    fk, fb, fX = finite_differences(loss, [k, b, X])
    assert close(grads[0], fk, 1e-6, 1e-8) and close(grads[1], fb, 1e-6, 1e-8) and close(dX, fX, 1e-6, 1e-8)


def _torch_check(L, X, G):
    torch = pytest.importorskip("torch")
    m = L.torch_module()
    Xt = torch.tensor(X, requires_grad=True)
    Yt = m(Xt)
    (Yt * torch.tensor(G)).sum().backward()
    Y, caches = run([L], X)
    dX, (grads,) = back([L], caches, G)
    conv = m[0]
    assert close(Y, Yt.detach().numpy()) and close(dX, Xt.grad.numpy())
    assert close(grads[0], conv.weight.grad.numpy())
    if L.bias is not None:
        assert close(grads[1], conv.bias.grad.numpy())


@pytest.mark.slow
@pytest.mark.parametrize("d", [1, 2])
def test_against_torch_float64(d):
    rng = np.random.default_rng(4)
    K = (2, 3, *(3,) * d)
    L = parse({"type": f"conv{d}d", "kernel": rng.normal(size=K).tolist(), "bias": [0.2, -0.3], "stride": 2,
               "padding": 1, "activation": "tanh"}, (3, *(7,) * d), index=1)
    X = rng.normal(size=(4, 3, *(7,) * d))
    _torch_check(L, X, rng.normal(size=(4, *L.out_shape)))


SHAPES = st.tuples(st.sampled_from([1, 2]), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3),
                   st.integers(1, 3), st.integers(0, 2), st.integers(3, 7), st.booleans(),
                   st.sampled_from(["tanh", "linear", "sigmoid", "leaky_relu"]), st.integers(0, 2 ** 31))


def _random_layer(case):
    d, O, C, Ksz, s, p, S, bias, act, seed = case
    rng = np.random.default_rng(seed)
    table = {"type": f"conv{d}d", "kernel": rng.normal(size=(O, C, *(Ksz,) * d)).tolist(), "stride": s,
             "padding": p, "activation": act}
    if bias:
        table["bias"] = rng.normal(size=O).tolist()
    L = parse(table, (C, *(S,) * d), index=1)
    X = rng.normal(size=(2, C, *(S,) * d))
    return L, X, rng.normal(size=(2, *L.out_shape))


@settings(max_examples=25, deadline=None)
@given(SHAPES)
def test_random_shapes_against_the_definition(case):
    L, X, G = _random_layer(case)
    k, b = L.kernel.value, None if L.bias is None else L.bias.value
    assert close(L.forward(values(L), X)[0], conv_loops(X, k, b, L.stride, L.padding, L.act.f)[1], 1e-12)


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(SHAPES)
def test_random_shapes_against_torch(case):
    _torch_check(*_random_layer(case))


# ---------------------------------------------------------------- the trace

def _two_convs():
    """conv2d (2 channels out) -> conv2d (reads 2 channels, stride 2): a conv that is not first has ∂E/∂x."""
    return chain([{"type": "conv2d", "kernel": [[[[0.3, -0.2], [0.1, 0.4]]], [[[-0.5, 0.2], [0.3, 0.1]]]],
                   "bias": [0.05, -0.1], "activation": "tanh", "padding": 1},
                  {"type": "conv2d", "kernel": [[[[0.2, 0.1], [-0.3, 0.4]], [[0.5, -0.2], [0.1, 0.3]]]],
                   "bias": 0.1, "stride": 2, "activation": "relu"}], (4, 4))


def test_every_traced_formula_gives_its_value():
    layers = _two_convs()
    x = np.random.default_rng(5).normal(size=(4, 4))
    tr = trace(layers, x, np.random.default_rng(6).normal(size=layers[-1].out_shape))
    rows = all_rows(tr)
    assert len(rows) > 100
    for q in rows:
        check_formula(q)


def test_traced_gradients_are_the_numpy_ones():
    layers = _two_convs()
    rng = np.random.default_rng(7)
    x, G = rng.normal(size=(4, 4)), rng.normal(size=layers[-1].out_shape)
    tr = trace(layers, x, G)
    Y, caches = run(layers, x[None, None])
    dX, grads = back(layers, caches, G[None])
    for (rows, dx, g, grids), L, gL in zip(tr.backward, layers, grads):
        assert [q.value for q in g] == pytest.approx(np.concatenate([a.ravel() for a in gL]).tolist(), rel=1e-12)
        for q in g:
            assert isinstance(q, (Product, Sum)) and q.name.startswith("dE_total/d")
    dx = tr.backward[1][1]  # the second conv's ∂E/∂x: the first conv's ∂E/∂v, each a sum over its readers
    Y1, c1 = run(layers[:1], x[None, None])
    dV1 = back(layers[1:], run(layers[1:], Y1)[1], G[None])[0]
    assert close(np.vectorize(lambda q: q.value)(dx), dV1[0], 1e-12)
    assert tr.backward[0][1] is None  # the network's input needs no gradient


def test_a_kernel_gradient_is_one_term_per_output_position():
    L = parse({"type": "conv2d", "kernel": K2, "activation": "linear"}, (4, 4))
    tr = trace([L], X44, np.ones(L.out_shape))
    g = by_name(tr.backward[0][2])["dE_total/dk_11"]
    assert isinstance(g, Sum) and len(g.terms) == 9  # 3×3 positions of u
    assert g.terms[0].name == "dE_total/dk_11 via u_11" and [f.name for f in g.terms[0].factors] == ["dE_total/du_11", "x_11"]
    # ∂E/∂k_11 = Σ_ij δ_ij · x_ij with δ = 1: the sum of the top-left 3×3 of the image
    assert g.value == X44[:3, :3].sum()


def test_names_in_both_schemes():
    L = parse(conv2d(bias=0.5), (4, 4))
    seed = {q.name for q in all_rows(trace([L], X44, np.ones(L.out_shape)))}
    assert {"k_11", "k_22", "c1", "u_11", "v_33", "dv_11/du_11", "dE_total/du_11", "dE_total/dk_12", "dE_total/dc1"} <= seed
    layered = {q.name for q in all_rows(trace([L], X44, np.ones(L.out_shape), "layered"))}
    assert {"k^(1)_11", "c^(1)_1", "u^(1)_11", "v^(1)_33", "dE_total/dk^(1)_12"} <= layered
    post = {q.name: q.ident.after for q in trace([L], X44, np.ones(L.out_shape), post=True).forward[0].rows}
    assert post["k_11"] and post["u_11"]  # after the update: Iteration.walk names them k_11+, u_11+


def test_channels_are_named_only_where_there_are_several():
    L = parse({"type": "conv2d", "kernel": [[[[1.0]]], [[[2.0]]]], "activation": "linear"}, (1, 2, 2))
    names = {q.name for q in trace([L], np.ones((2, 2)), np.ones(L.out_shape)).forward[0].rows}
    assert {"k_111", "k_211", "u_111", "u_211"} <= names  # out channel, then row and column


def test_padding_terms_are_left_out():
    L = parse(conv2d(padding=1), (4, 4))
    u11 = by_name(trace([L], X44, np.ones(L.out_shape)).forward[0].rows)["u_11"]
    # u_11 reads only x_11 (with k_22): the other three kernel entries fall on the zero padding
    assert u11.expr.op == "mul" and [r.q.name for r in u11.expr.args] == ["k_22", "x_11"]


def test_grids():
    L = parse(conv2d(), (4, 4))
    tr = trace([L], X44, np.ones(L.out_shape))
    assert [(g[0], g[1].shape) for g in tr.forward[0].grids] == [("x", (4, 4)), ("k", (2, 2)), ("u", (3, 3)), ("v", (3, 3))]
    assert [(g[0], g[1].shape) for g in tr.backward[0][3]] == [("dE_total/du", (3, 3)), ("dE_total/dk", (2, 2))]


def test_a_1d_example():
    """conv1d over a sequence of 5 with the kernel [1, 2]: u_i = x_i + 2·x_{i+1} + 0.5, worked out by hand."""
    L = parse({"type": "conv1d", "kernel": [1.0, 2.0], "bias": 0.5, "activation": "linear"}, (5,))
    x = np.array([1.0, 0.0, -1.0, 2.0, 3.0])
    tr = trace([L], x, np.array([[1.0, 0.0, 0.0, 1.0]]))
    q = by_name(all_rows(tr))
    assert [q[f"u{i}"].value for i in range(1, 5)] == [1.5, -1.5, 3.5, 8.5]  # 1+0+.5, 0-2+.5, -1+4+.5, 2+6+.5
    grads = by_name(tr.backward[0][2])
    # ∂E/∂k_1 = δ_1·x_1 + δ_4·x_4 = 1 + 2; ∂E/∂k_2 = δ_1·x_2 + δ_4·x_5 = 0 + 3; ∂E/∂c = δ_1 + δ_4 = 2
    assert (grads["dE_total/dk1"].value, grads["dE_total/dk2"].value, grads["dE_total/dc1"].value) == (3, 3, 2)


# ---------------------------------------------------------------- bad tables

@pytest.mark.parametrize("table, shape, where, says", [
    ({"type": "conv2d", "activation": "relu"}, (4, 4), "layers[1].kernel", "required"),
    (conv2d(kernel=[1.0, 2.0]), (4, 4), "layers[1].kernel", "got a 1-D list"),
    (conv2d(kernel=[[1.0, 2.0], [3.0]]), (4, 4), "layers[1].kernel", "rows have different shapes"),
    (conv2d(kernel=[[1.0, "a"], [3.0, 4.0]]), (4, 4), "layers[1].kernel[1][2]", "expected a number"),
    (conv2d(), (2, 4, 4), "layers[1].kernel", "rows × columns) has 2"),
    (conv2d(kernel=[[1.0] * 5] * 2), (4, 4), "layers[1].kernel", "larger than the input"),
    (conv2d(), (16,), "samples[1].x", "rows × columns"),
    ({"type": "conv1d", "kernel": [1.0], "activation": "relu"}, (2, 3, 4), "samples[1].x", "length"),
    ({"type": "conv2d", "kernel": K2}, (4, 4), "layers[1].activation", "required"),
    (conv2d(activation="softmax"), (4, 4), "layers[1].activation", "softmax is allowed on the output layer only"),
    (conv2d(activation="rleu"), (4, 4), "layers[1].activation", "did you mean 'relu'"),
    (conv2d(slope=0.1), (4, 4), "layers[1].slope", "leaky_relu only"),
    (conv2d(stride=0), (4, 4), "layers[1].stride", "from 1"),
    (conv2d(padding=-1), (4, 4), "layers[1].padding", "from 0"),
    (conv2d(padding=1.5), (4, 4), "layers[1].padding", "whole number"),
    (conv2d(bias=[1.0, 2.0]), (4, 4), "layers[1].bias", "expected 1 numbers"),
    (conv2d(bias="ones"), (4, 4), "layers[1].bias", "\"zeros\" or \"pytorch\""),
    (conv2d(kernel=[[[[1.0]]], [[[2.0]]]], bias=0.5), (4, 4), "layers[1].bias", "list of 2 numbers"),
    (conv2d(kernal=K2), (4, 4), "layers[1].kernal", "did you mean 'kernel'"),
])
def test_bad_tables(table, shape, where, says):
    with pytest.raises(SpecError) as e:
        parse(table, shape)
    assert e.value.path == where and says in e.value.detail, (e.value.path, e.value.detail)


def test_a_later_layer_reading_the_wrong_shape():
    with pytest.raises(SpecError) as e:
        parse(conv2d(), (16,), index=1, path="layers[2]")
    assert e.value.path == "layers[2]" and "previous layer's output" in e.value.detail


CHAINS = st.tuples(st.sampled_from([1, 2]), st.integers(1, 2), st.integers(1, 2), st.integers(1, 3), st.integers(1, 2),
                   st.integers(0, 1), st.sampled_from(["max", "avg", None]), st.integers(0, 2 ** 31))


@settings(max_examples=15, deadline=None)
@given(CHAINS)
def test_random_traces_are_consistent(case):
    """conv (channels, stride, padding) -> conv -> pool: every formula gives its value, every gradient is
    numpy's, and no two quantities share an identity."""
    d, C, O, K, s, p, pool, seed = case
    rng = np.random.default_rng(seed)
    tables = [{"type": f"conv{d}d", "kernel": rng.normal(size=(O, C, *(K,) * d)).tolist(), "stride": s,
               "padding": p, "activation": "tanh", "bias": rng.normal(size=O).tolist()},
              {"type": f"conv{d}d", "kernel": rng.normal(size=(2, O, *(1,) * d)).tolist(), "activation": "sigmoid"}]
    if pool:
        tables.append({"type": f"{pool}pool{d}d", "size": 2, "stride": 1})
    S = (6,) * d
    layers = chain(tables, (C, *S) if C > 1 else S)
    x, G = rng.normal(size=(C, *S)), rng.normal(size=layers[-1].out_shape)
    tr = trace(layers, x, G)
    rows = all_rows(tr)
    for q in rows:
        check_formula(q)
    forward = [q for b in tr.forward for q in b.rows]
    assert len({q.ident for q in forward}) == len(forward)
    _, caches = run(layers, x.reshape((1, *layers[0].in_shape)))
    _, grads = back(layers, caches, G[None])
    for (_, _, g, _), gL in zip(tr.backward, grads):
        assert close([q.value for q in g], np.concatenate([a.ravel() for a in gL]) if gL else [], 1e-12)


def test_kernel_values_are_given_until_an_update_changes_them():
    from types import SimpleNamespace

    from bptrace.front.tracing import Tracer

    L = parse(conv2d(bias=0.5), (4, 4))
    x = trace([L], X44, np.ones(L.out_shape)).forward[0].inputs
    for params, written in ((values(L), True), ([values(L)[0] * 0.5, values(L)[1]], False)):
        _, cache = L.forward(params, X44[None, None])
        rows = by_name(L.trace(Tracer(SimpleNamespace(scheme="seed")), x, cache, params)[0])
        assert rows["k_11"].given is written and rows["c1"].given is True


def test_grids_with_channels_are_labelled_by_index():
    L = parse({"type": "conv2d", "kernel": np.ones((2, 3, 2, 2)).tolist(), "activation": "relu"}, (3, 4, 4))
    tr = trace([L], np.ones((3, 4, 4)), np.ones(L.out_shape))
    assert [g[0] for g in tr.forward[0].grids] == ["x[1]", "x[2]", "x[3]", "k[1,1]", "k[1,2]", "k[1,3]", "k[2,1]",
                                                    "k[2,2]", "k[2,3]", "u[1]", "u[2]", "v[1]", "v[2]"]
    one_d = parse({"type": "conv1d", "kernel": np.ones((2, 3, 2)).tolist(), "activation": "relu"}, (3, 5))
    grids = trace([one_d], np.ones((3, 5)), np.ones(one_d.out_shape)).forward[0].grids
    assert [(g[0], g[1].shape) for g in grids] == [("x", (3, 5)), ("k", (6, 2)), ("u", (2, 4)), ("v", (2, 4))]


def test_sides_are_the_relu_kinks():
    L = parse(conv2d(), (4, 4))
    _, cache = L.forward(values(L), X44[None, None])
    assert (L.sides(cache) == (cache[1] > 0)).all()
    assert parse(conv2d(activation="tanh"), (4, 4)).sides(cache) is None


# ---------------------------------------------------------------- kernel = "pytorch"

def _drawn(table, shape, seed=7):
    from types import SimpleNamespace

    from bptrace import front
    from front_support import CHECK

    return front.parse(CHECK, table, "layers[1]", 0, shape, SimpleNamespace(seed=seed))


def test_a_drawn_kernel_is_within_its_bounds_and_not_given():
    L = _drawn({"type": "conv2d", "kernel": "pytorch", "channels": 3, "size": [2, 3], "bias": "pytorch",
                "activation": "relu"}, (2, 5, 5))
    bound = 1 / np.sqrt(2 * 2 * 3)  # fan_in = in channels × kernel size
    assert L.kernel.value.shape == (3, 2, 2, 3) and L.out_shape == (3, 4, 3)
    assert np.abs(L.kernel.value).max() <= bound and np.abs(L.bias.value).max() <= bound
    assert not L.kernel.given and not L.bias.given
    again = _drawn({"type": "conv2d", "kernel": "pytorch", "channels": 3, "size": [2, 3], "bias": "pytorch",
                    "activation": "relu"}, (2, 5, 5))
    assert np.array_equal(L.kernel.value, again.kernel.value)  # the seed's numbers, every time


@pytest.mark.slow
@pytest.mark.parametrize("d, table", [
    (2, {"kernel": "pytorch", "channels": 3, "size": [2, 3], "bias": "pytorch"}),
    (1, {"kernel": "pytorch", "channels": 2, "size": 3, "bias": [0.1, 0.2]}),
    (1, {"kernel": "pytorch", "size": 2}),
])
def test_a_drawn_kernel_is_pytorchs_bit_for_bit(d, table):
    torch = pytest.importorskip("torch")
    L = _drawn({"type": f"conv{d}d", "activation": "relu"} | table, (2, *(6,) * d), seed=11)
    torch.manual_seed(11)
    Conv = torch.nn.Conv2d if d == 2 else torch.nn.Conv1d
    m = Conv(2, table.get("channels", 1), tuple(L.K), bias="bias" in table, dtype=torch.float64)
    assert np.array_equal(L.kernel.value, m.weight.detach().numpy())
    if table.get("bias") == "pytorch":
        assert np.array_equal(L.bias.value, m.bias.detach().numpy())


@pytest.mark.parametrize("table, where, says", [
    ({"kernel": "pytorch"}, "layers[1].size", "required with kernel = \"pytorch\""),
    ({"kernel": "pytorch", "size": [2, 2, 2]}, "layers[1].size", "list of 2 whole numbers"),
    ({"kernel": "pytorch", "size": 0}, "layers[1].size", "from 1"),
    ({"kernel": "pytorch", "size": 2, "channels": 0}, "layers[1].channels", "from 1"),
    ({"kernel": K2, "channels": 2}, "layers[1].channels", "applies to kernel = \"pytorch\" only"),
    ({"kernel": "pytorch", "size": 9}, "layers[1].kernel", "larger than the input"),
])
def test_bad_drawn_kernels(table, where, says):
    with pytest.raises(SpecError) as e:
        _drawn({"type": "conv2d", "activation": "relu"} | table, (4, 4))
    assert e.value.path == where and says in e.value.detail, (e.value.path, e.value.detail)
