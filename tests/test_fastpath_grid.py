"""The generated fast path against the numpy path over the whole grid of rules.

Every activation × loss (valid pairs only, as spec.py allows them) × optimizer × bias mode ×
batch mode: the same few epochs on both paths must end with the same parameters and the
same loss history, to 1e-12 (relative where values are large). The numpy path is forced by setting fastpath.MAX_PARAMS to 0.
"""

import numpy as np
import pytest

from bptrace import activations, fastpath, losses, spec
from bptrace import trainer as train

pytestmark = pytest.mark.slow  # 288 combinations, ~10 s; the samples' fast-path tests stay in the quick suite

OPTIMIZERS = {
    "sgd": {"name": "sgd"},
    "sgd_wd": {"name": "sgd", "weight_decay": 0.05},
    "momentum": {"name": "momentum", "momentum": 0.9},
    "momentum_damp_wd": {"name": "momentum", "momentum": 0.7, "dampening": 0.3, "weight_decay": 0.05},
    "nesterov": {"name": "momentum", "momentum": 0.8, "nesterov": True},
    "momentum0": {"name": "momentum", "momentum": 0.0, "dampening": 0.5},
    "adam": {"name": "adam"},
    "adam_wd": {"name": "adam", "beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "weight_decay": 0.02},
    "adamw": {"name": "adamw", "weight_decay": 0.1},
    "adam_amsgrad": {"name": "adam", "amsgrad": True, "beta2": 0.9},
    "rmsprop": {"name": "rmsprop"},
    "rmsprop_all": {"name": "rmsprop", "alpha": 0.9, "momentum": 0.5, "centered": True, "weight_decay": 0.02},
    "adagrad": {"name": "adagrad", "lr_decay": 0.1, "initial_accumulator_value": 0.1, "weight_decay": 0.02},
}
BIAS = {  # the layer keys of each bias mode, for a layer of two neurons
    "none": {},
    "per_neuron": {"bias": [0.1, -0.2]},
    "shared": {"bias": 0.15},
    "frozen": {"bias": [0.05, -0.1], "train_bias": False},
}
BATCHES = ["online", "full", 2]


def pairs():
    """(output activation, loss) as spec._check_network accepts them."""
    for loss in losses.NAMES:
        need = losses.LOSSES[loss].needs
        for act in activations.NAMES:
            if need is None or act == need:
                yield act, loss


def network(act: str, loss: str, optimizer: dict, bias: dict) -> spec.Spec:
    hidden = "tanh" if act == "softmax" else act  # softmax is allowed on the output layer only
    # softmax(z + c) = softmax(z): a shared bias below softmax has gradient 0 exactly, so its computed
    # gradient is rounding noise (~1e-17) that Adam scales up to ±α; the hidden layer keeps the shared bias
    out_bias = BIAS["per_neuron"] if act == "softmax" and "train_bias" not in bias and bias else bias
    return spec.from_dict({
        "loss": loss, "learning_rate": 0.1, "optimizer": optimizer,
        # targets in [0, 1] summing to 1: valid for every loss
        "samples": [{"x": [0.5, -0.3], "target": [0.2, 0.8]}, {"x": [-0.4, 0.9], "target": [0.7, 0.3]},
                    {"x": [0.8, 0.6], "target": [1.0, 0.0]}],
        "layers": [{"activation": hidden, "weights": [[0.3, -0.25], [0.4, 0.35]], **bias},
                   {"activation": act, "weights": [[0.45, -0.4], [-0.7, 0.6]], **out_bias}],
    })


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("act,loss", list(pairs()))
def test_fast_path_equals_numpy_over_the_grid(act, loss, optimizer, monkeypatch):
    for bias_mode, bias in BIAS.items():
        s = network(act, loss, OPTIMIZERS[optimizer], bias)
        for batch in BATCHES:
            monkeypatch.setattr(fastpath, "MAX_PARAMS", 128)
            assert fastpath.supports(train.Session(s))
            fast = train.train(s, train.Plan(4, batch=batch))
            monkeypatch.setattr(fastpath, "MAX_PARAMS", 0)
            slow = train.train(s, train.Plan(4, batch=batch))
            where = f"{bias_mode}, batch {batch}"
            assert fast.stop == slow.stop == "completed", where
            assert fast.final.keys() == slow.final.keys()
            for k in fast.final:
                assert fast.final[k] == pytest.approx(slow.final[k], rel=1e-12, abs=1e-12), f"{k} ({where})"
            np.testing.assert_allclose(fast.loss, slow.loss, rtol=1e-12, atol=1e-12, err_msg=where)
            np.testing.assert_allclose(fast.grad_norm, slow.grad_norm, rtol=1e-12, atol=1e-12, err_msg=where)
            # the runs really moved the parameters that train
            assert any(abs(fast.final[k] - fast.initial[k]) > 1e-6 for k in fast.final), where


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("frozen", [{"frozen": ["w2", "b2"]}, {"layers": 0}])
def test_frozen_parameters_decline_the_fast_path_and_never_change(optimizer, frozen, monkeypatch):
    """Frozen weights (per parameter, or a whole layer): the fast path declines, the numpy path keeps them."""
    s = network("sigmoid", "half_sse", OPTIMIZERS[optimizer], BIAS["per_neuron"])
    s = _with(s, frozen=frozen["frozen"]) if "frozen" in frozen else _with(s, layer_frozen=0)
    monkeypatch.setattr(fastpath, "MAX_PARAMS", 128)
    assert not fastpath.supports(train.Session(s))
    for batch in BATCHES:
        run = train.train(s, train.Plan(4, batch=batch))
        held = ["w2", "b2"] if "frozen" in frozen else ["w1", "w2", "w3", "w4", "b1", "b2"]
        assert all(run.final[k] == run.initial[k] for k in held), batch
        assert run.final["w5"] != run.initial["w5"], batch


def _with(s: spec.Spec, frozen=(), layer_frozen=None) -> spec.Spec:
    """The grid's network again, with `frozen` names or one layer frozen, read through spec.from_dict."""
    layers = [{"activation": layer.activation, "weights": [list(r) for r in layer.weights], "bias": list(layer.bias),
               **({"frozen": True} if l == layer_frozen else {})} for l, layer in enumerate(s.layers)]
    samples = [{"x": list(x.x), "target": list(x.target)} for x in s.samples]
    return spec.from_dict({"loss": s.loss, "learning_rate": s.learning_rate, "samples": samples, "layers": layers,
                           "optimizer": {"name": s.optimizer.name, **s.optimizer.hyper}, "frozen": list(frozen)})
