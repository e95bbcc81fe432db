"""GELU, ELU, softplus, SiLU, cross-entropy with class indices and label smoothing, and PyTorch's
nn.Linear initialisation, held to PyTorch itself (float64 autograd, torch's own functions and RNG).
Skipped where torch is not installed."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

import bptrace
from bptrace import activations, spec
from bptrace.cli import app
from test_torch import close_at, run_script

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch is not installed")]

Z = [-1e300, -800.0, -40.0, -7.5, -1.3, -0.2, -1e-12, 0.0, 1e-12, 0.37, 1.9, 12.0, 19.99, 20.01, 25.0, 800.0, 1e300]
MODULES = {  # (bptrace name, its parameter) -> the torch.nn module
    ("gelu", "none"): lambda nn: nn.GELU(), ("gelu", "tanh"): lambda nn: nn.GELU(approximate="tanh"),
    ("elu", 1.0): lambda nn: nn.ELU(), ("elu", 0.5): lambda nn: nn.ELU(alpha=0.5),
    ("softplus", (1.0, 20.0)): lambda nn: nn.Softplus(), ("softplus", (2.0, 1.0)): lambda nn: nn.Softplus(beta=2.0, threshold=1.0),
    ("silu", None): lambda nn: nn.SiLU(),
}


@pytest.mark.parametrize("name,param", list(MODULES))
def test_activation_and_derivative_equal_torch(name, param):
    import torch

    z = torch.tensor(Z, dtype=torch.float64, requires_grad=True)
    out = MODULES[name, param](torch.nn)(z)
    out.sum().backward()
    act = activations.get(name, param)
    ours = act.f(np.array(Z))
    d = act.d(np.array(Z), ours)
    for i, v in enumerate(Z):
        if name == "gelu" and param == "tanh" and abs(v) > 1e100:
            continue  # torch's derivative is 0·inf = nan there (z³ overflows); bptrace's is the limit, 1 or 0
        assert ours[i] == pytest.approx(out[i].item(), rel=1e-14, abs=1e-300), v
        assert d[i] == pytest.approx(z.grad[i].item(), rel=1e-12, abs=1e-300), v


def net(act: str, extra: dict, loss="half_sse", out_act="sigmoid", targets=([0.01, 0.99], [0.3, 0.7], [1.0, 0.0])):
    return {"loss": loss, "learning_rate": 0.3, "optimizer": {"name": "adam"},
            "samples": [{"x": x, "target": t} for x, t in zip(([0.5, -1.0], [-0.3, 0.8], [0.9, 0.1]), targets)],
            "layers": [{"activation": act, "weights": [[0.4, -0.6], [0.3, 0.2], [-0.5, 0.1]], "bias": 0.1, **extra},
                       {"activation": act, "weights": [[0.2, -0.3, 0.5], [0.1, 0.4, -0.2]], "bias": [0.05, -0.05], **extra},
                       {"activation": out_act, "weights": [[0.7, -0.4], [-0.2, 0.6]], "bias": [0.0, 0.1]}]}


EXTRAS = {"gelu": {}, "gelu-tanh": {"approximate": "tanh"}, "elu": {"alpha": 0.7}, "softplus": {"beta": 1.5, "threshold": 0.5},
          "silu": {}}
CE_CASES = {"class": ([1, 0, 1], 0.0), "class-smoothed": ([1, 0, 1], 0.2), "probabilities-smoothed": ([[0.3, 0.7], [1.0, 0.0], [0.5, 0.5]], 0.1)}


@pytest.mark.parametrize("key", EXTRAS)
@pytest.mark.parametrize("batch", ["online", "full"])
def test_verify_agrees_on_the_new_activations(key, batch):
    from bptrace import verify

    report = verify.compare(bptrace.load(net(key.split("-")[0], EXTRAS[key])), epochs=3, batch=batch)
    assert report.ok, [(r.name, r.ours, r.theirs) for r in report.failures()[:5]]


@pytest.mark.parametrize("case", CE_CASES)
def test_verify_agrees_on_class_targets_and_label_smoothing(case):
    from bptrace import verify

    targets, eps = CE_CASES[case]
    d = {**net("tanh", {}, "cross_entropy", "softmax", targets), "label_smoothing": eps}
    for batch in ("online", "full"):
        report = verify.compare(bptrace.load(d), epochs=3, batch=batch)
        assert report.ok, [(r.name, r.ours, r.theirs) for r in report.failures()[:5]]


def test_verify_is_independent_of_bptraces_smoothing(monkeypatch):
    """verify hands PyTorch the class indices and ε: if bptrace smoothed wrongly, verify would say so."""
    from bptrace import verify

    d = {**net("tanh", {}, "cross_entropy", "softmax", [1, 0, 1]), "label_smoothing": 0.2}
    good = spec.from_dict(d)
    wrong = spec.from_dict({**d, "label_smoothing": 0.25})
    from dataclasses import replace

    assert not verify.compare(replace(wrong, label_smoothing=0.2), epochs=1).ok  # targets smoothed by 0.25
    assert verify.compare(good, epochs=1).ok


def test_exported_script_reproduces_the_new_features(runner, tmp_path):
    from test_torch import to_toml

    cases = {key: net(key.split("-")[0], EXTRAS[key]) for key in EXTRAS}
    cases |= {case: {**net("elu", {}, "cross_entropy", "softmax", t), "label_smoothing": eps}
              for case, (t, eps) in CE_CASES.items()}
    for key, d in cases.items():
        path, script = tmp_path / f"{key}.toml", tmp_path / f"{key}.py"
        path.write_text(to_toml(d))
        args = ["step", str(path), "--epochs", "3", "--batch", "2", "-q", "--export", str(script)]
        assert runner.invoke(app, args).exit_code == 0, key
        printed = run_script(script)
        last = bptrace.train(d, epochs=3, batch=2, show=[3]).traces[0]
        for u in last.updates:
            assert close_at(printed[f"{u.name}+"][-1], u.new), (key, u.name)
            assert close_at(printed[f"dE_total/d{u.name}"][-1], u.gradient), (key, u.name)


def test_exported_script_names_the_modules(runner, tmp_path):
    from test_torch import to_toml

    d = {**net("softplus", EXTRAS["softplus"], "cross_entropy", "softmax", [1, 0, 1]), "label_smoothing": 0.2}
    path = tmp_path / "s.toml"
    path.write_text(to_toml(d))
    assert runner.invoke(app, ["run", str(path), "--export", str(tmp_path / "s.py")]).exit_code == 0
    text = (tmp_path / "s.py").read_text()
    assert "nn.Softplus(beta=1.5, threshold=0.5)" in text
    assert "T = torch.tensor([1, 0, 1])  # class indices" in text and "label_smoothing=0.2" in text


# ---------------------------------------------------------------- nn.Linear's initialisation

@pytest.mark.parametrize("seed", [0, 42, 2**32 - 1])
def test_pytorch_init_is_torch_manual_seed_bit_for_bit(seed):
    import torch

    d = {"seed": seed, "learning_rate": 0.1, "samples": [{"x": [0.0] * 30, "target": [0.0] * 3}],
         "layers": [{"activation": "relu", "units": 20, "weights": "pytorch", "bias": "pytorch"},
                    {"activation": "tanh", "units": 10, "weights": "pytorch", "bias": 0.5},  # shared: no nn.Linear bias
                    {"activation": "linear", "units": 7, "weights": [[0.1] * 10] * 7, "bias": "zeros"},
                    {"activation": "linear", "units": 3, "weights": "pytorch", "bias": "pytorch"}]}
    s = spec.from_dict(d)
    torch.manual_seed(seed)
    nn = torch.nn
    model = nn.Sequential(nn.Linear(30, 20, dtype=torch.float64), nn.Linear(20, 10, bias=False, dtype=torch.float64),
                          nn.Linear(10, 7, dtype=torch.float64), nn.Linear(7, 3, dtype=torch.float64))
    for l in (0, 1, 3):
        assert model[l].weight.tolist() == [list(r) for r in s.layers[l].weights], l  # exactly equal
    assert model[0].bias.tolist() == list(s.layers[0].bias) and model[3].bias.tolist() == list(s.layers[3].bias)


def test_pytorch_init_bound_is_torchs():
    import torch

    from bptrace import torch_init

    for fan_in in (1, 2, 3, 30, 784):
        w = torch.empty(1, fan_in, dtype=torch.float64)
        # the bound kaiming_uniform_ uses, read back from torch's own helpers
        gain = torch.nn.init.calculate_gain("leaky_relu", math.sqrt(5))
        assert torch_init.weight_bound(fan_in) == math.sqrt(3.0) * (gain / math.sqrt(w.shape[1]))
        assert torch_init.bias_bound(fan_in) == 1 / math.sqrt(fan_in)


def test_exported_script_builds_the_pytorch_initialised_weights_itself(runner, tmp_path):
    """The script seeds torch as the spec does: its freshly built model already holds the spec's weights."""
    import torch

    from test_torch import to_toml

    d = {"seed": 31, "loss": "cross_entropy", "learning_rate": 0.1, "samples": [{"x": [0.2, -0.4, 0.6], "target": 1}],
         "layers": [{"activation": "silu", "units": 4, "weights": "pytorch", "bias": "pytorch"},
                    {"activation": "elu", "units": 3, "weights": "pytorch", "bias": 0.2},
                    {"activation": "softmax", "units": 2, "weights": "pytorch", "bias": "pytorch"}]}
    path, script = tmp_path / "s.toml", tmp_path / "s.py"
    path.write_text(to_toml(d))
    assert runner.invoke(app, ["run", str(path), "--export", str(script)]).exit_code == 0
    head = script.read_text().split("\nwith torch.no_grad():")[0]  # up to the copies of the spec's weights
    ns: dict = {}
    exec(compile(head, str(script), "exec"), ns)
    torch.set_default_dtype(torch.float32)  # the script set float64 for this process
    s = spec.from_dict(d)
    model = ns["model"]
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    for layer, lin in zip(s.layers, linears):
        assert lin.weight.tolist() == [list(r) for r in layer.weights]
        if layer.bias_init == "pytorch":
            assert lin.bias.tolist() == list(layer.bias)
