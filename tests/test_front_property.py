"""Whole networks with front layers against PyTorch float64, over random shapes: every forward value, every
gradient and every update of a few training steps (bptrace.verify.compare pairs them), and central finite
differences of the loss for every gradient (bptrace.gradcheck).

Each kind's own tests hold its numbers to torch and to loops written out; here the point is the whole:
the bridge ∂E_total/∂f from the dense part, the front layers' parameters in the optimizer and the update
order, the batch mean, several front layers in a row."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bptrace import spec as spec_mod
from bptrace.gradcheck import gradcheck

torch = pytest.importorskip("torch")
from bptrace.verify import compare  # noqa: E402

QUICK = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _matrix(rng, rows, cols, scale=0.8):
    return np.round(rng.uniform(-scale, scale, (rows, cols)), 3).tolist()


@st.composite
def rnn_networks(draw):
    """An RNN over T steps of D inputs, H units, then one or two dense layers; 2 or 3 samples."""
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    T, D, H = draw(st.integers(1, 4)), draw(st.integers(1, 2)), draw(st.integers(1, 3))
    n, out = draw(st.integers(2, 3)), draw(st.integers(1, 2))
    rnn = {"type": "rnn", "input_weights": _matrix(rng, H, D), "recurrent_weights": _matrix(rng, H, H),
           "activation": draw(st.sampled_from(["tanh", "relu"]))}
    if draw(st.booleans()):
        rnn["bias"] = np.round(rng.uniform(-0.5, 0.5, H), 3).tolist()
    dense = [{"activation": "sigmoid", "weights": _matrix(rng, out, H), "bias": [0.1] * out}]
    if draw(st.booleans()):
        dense.insert(0, {"activation": "tanh", "weights": _matrix(rng, H, H)})
    samples = [{"x": np.round(rng.uniform(-1, 1, (T, D) if D > 1 else T), 3).tolist(),
                "target": np.round(rng.uniform(0, 1, out), 2).tolist()} for _ in range(n)]
    return {"learning_rate": 0.3, "loss": "half_sse", "samples": samples, "layers": [rnn, *dense],
            "optimizer": draw(st.sampled_from(["sgd", "momentum", "adam"]))}


@st.composite
def conv_networks(draw):
    """conv1d or conv2d (channels, stride, padding), maybe a second conv, maybe a pool, flatten, dense; 2 samples."""
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    d, C = draw(st.sampled_from([1, 2])), draw(st.integers(1, 2))
    size, K, out_c = draw(st.integers(4, 6)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    stride, pad = draw(st.integers(1, 2)), draw(st.integers(0, 1))
    x_shape = (C,) + (size,) * d
    conv = {"type": f"conv{d}d", "kernel": np.round(rng.uniform(-0.8, 0.8, (out_c, C) + (K,) * d), 3).tolist(),
            "bias": np.round(rng.uniform(-0.3, 0.3, out_c), 3).tolist(), "stride": stride, "padding": pad,
            "activation": draw(st.sampled_from(["tanh", "sigmoid", "linear", "softplus"]))}
    layers, n = [conv], (size + 2 * pad - K) // stride + 1
    if draw(st.booleans()):
        layers.append({"type": f"conv{d}d", "kernel": np.round(rng.uniform(-0.8, 0.8, (1, out_c) + (1,) * d), 3).tolist(),
                       "activation": "tanh"})
    if n >= 2 and draw(st.booleans()):
        layers.append({"type": f"{draw(st.sampled_from(['max', 'avg']))}pool{d}d", "size": 2, "stride": 1})
    layers += [{"type": "flatten"}, {"activation": "sigmoid", "units": 2, "weights": "xavier", "bias": "zeros"}]
    # inputs 1 decimal apart at least, so a max pool's window has no tie
    samples = [{"x": (rng.permutation(np.prod(x_shape)).reshape(x_shape) / 10).tolist(),
                "target": np.round(rng.uniform(0, 1, 2), 2).tolist()} for _ in range(2)]
    return {"learning_rate": 0.3, "loss": "half_sse", "seed": seed % 1000, "samples": samples, "layers": layers,
            "optimizer": draw(st.sampled_from(["sgd", "adam"]))}


def _check(data):
    spec = spec_mod.from_dict(data, "random.toml")
    for batch in ("online", "full"):
        report = compare(spec, epochs=2, batch=batch)
        assert report.ok, [(r.name, r.ours, r.theirs) for r in report.failures()][:5]
    rows = gradcheck(spec)  # a relu kink or a tie in a max pool is recognised (at_kink): only then may a row disagree
    assert all(r.agrees or r.at_kink for r in rows), [(r.name, r.analytic, r.numeric) for r in rows if not r.ok]


@QUICK
@given(rnn_networks())
def test_rnn_networks_agree_with_pytorch_and_finite_differences(data):
    _check(data)


@pytest.mark.slow
@SLOW
@given(rnn_networks())
def test_rnn_networks_agree_with_pytorch_and_finite_differences_many(data):
    _check(data)


@QUICK
@given(conv_networks())
def test_conv_networks_agree_with_pytorch_and_finite_differences(data):
    _check(data)


@pytest.mark.slow
@SLOW
@given(conv_networks())
def test_conv_networks_agree_with_pytorch_and_finite_differences_many(data):
    _check(data)
