"""GELU, ELU, softplus and SiLU; cross-entropy with class-index targets and label smoothing; PyTorch's
nn.Linear initialisation — everything here without PyTorch (tests/test_torch_features.py holds them to
PyTorch itself).

Reference numbers are worked out in the tests from the definitions (math.erf, math.exp, math.log1p on
Python floats) or by finite differences, never taken from bptrace.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import bptrace
from bptrace import activations, fastpath, misconceptions, spec
from bptrace import trainer as train
from bptrace.cli import app
from bptrace.gradcheck import gradcheck
from bptrace.errors import SpecError
from bptrace.expr import Ref
from bptrace.trace import Quantity

Z = [-1e300, -800.0, -40.0, -7.5, -1.3, -0.2, -1e-12, 0.0, 1e-12, 0.37, 1.9, 12.0, 25.0, 800.0, 1e300]


def phi(z):  # the standard normal CDF
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def sig(z):
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


# each activation as its definition, on one float (PyTorch's documented formulas)
DEFINITIONS = {
    ("gelu", "none"): lambda z: z * phi(z),
    ("gelu", "tanh"): lambda z: 0.5 * z * (1 + math.tanh(math.sqrt(2 / math.pi) * (z + 0.044715 * z**3)))
    if abs(z) < 1e100 else (z if z > 0 else -0.0),
    ("elu", 1.0): lambda z: z if z > 0 else math.expm1(z),
    ("elu", 0.5): lambda z: z if z > 0 else 0.5 * math.expm1(z),
    ("softplus", (1.0, 20.0)): lambda z: z if z > 20 else math.log1p(math.exp(z)) if z < 700 else z,
    ("softplus", (2.0, 1.0)): lambda z: z if 2 * z > 1 else math.log1p(math.exp(2 * z)) / 2,
    ("silu", None): lambda z: z * sig(z),
}
CASES = list(DEFINITIONS)


@pytest.mark.parametrize("name,param", CASES)
def test_numpy_form_matches_the_definition(name, param):
    act = activations.get(name, param)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # no overflow, no nan, anywhere up to 1e300
        got = act.f(np.array(Z))
        d = act.d(np.array(Z), got)
    for z, v in zip(Z, got):
        assert v == pytest.approx(DEFINITIONS[name, param](z), rel=1e-14, abs=1e-300), z
    assert np.isfinite(d).all()


@pytest.mark.parametrize("name,param", CASES)
def test_derivative_matches_finite_differences(name, param):
    act, f = activations.get(name, param), DEFINITIONS[name, param]
    for z in (-7.5, -1.3, -0.2, 0.37, 1.9, 12.0):
        if name == "softplus" and abs(z * (param[0]) - param[1]) < 1e-3:
            continue
        h = 1e-6 * max(1.0, abs(z))
        numeric = (f(z + h) - f(z - h)) / (2 * h)
        analytic = float(act.d(np.array([z]), act.f(np.array([z])))[0])
        assert analytic == pytest.approx(numeric, rel=1e-7, abs=1e-9), z


@pytest.mark.parametrize("name,param", CASES)
def test_fast_path_scalars_equal_the_numpy_form(name, param):
    act = activations.get(name, param)
    ns = {**fastpath._compile.__globals__, "_sigmoid": fastpath._sigmoid, "_exp": fastpath._exp, "tanh": math.tanh,
          **activations.SCALAR}
    for z in Z:
        out = float(act.f(np.array([z]))[0])
        assert eval(act.py.format(z=repr(z)), ns) == pytest.approx(out, rel=1e-15, abs=1e-300), z
        d = float(act.d(np.array([z]), np.array([out]))[0])
        assert eval(act.py_d.format(z=repr(z), out=repr(out)), ns) == pytest.approx(d, rel=1e-15, abs=1e-300), z


@pytest.mark.parametrize("name,param", CASES)
def test_the_traced_formula_evaluates_to_the_value(name, param):
    """The trace's expression trees (what the tables print) compute the same numbers as the engine."""
    act = activations.get(name, param)
    for z in (-7.5, -1.3, -0.2, 0.37, 1.9, 12.0):
        out = float(act.f(np.array([z]))[0])
        zq, oq = Quantity("z1", z), Quantity("h1", out)
        get = lambda q: q.value  # noqa: E731
        assert misconceptions.evaluate(act.tree(Ref(zq)), get) == pytest.approx(out, rel=1e-12), z
        d = float(act.d(np.array([z]), np.array([out]))[0])
        got = misconceptions.evaluate(act.dtree(Ref(oq), Ref(zq)), get)
        assert got == pytest.approx(d, rel=1e-12), z


def net(act: str, **extra) -> dict:
    return {"loss": "half_sse", "learning_rate": 0.5,
            "samples": [{"x": [0.05, 0.1], "target": [0.01, 0.99]}, {"x": [-0.7, 0.4], "target": [0.3, 0.2]}],
            "layers": [{"activation": act, "weights": [[0.15, -0.2], [-0.25, 0.3]], "bias": [0.35, -0.1], **extra},
                       {"activation": act, "weights": [[0.4, 0.45], [-0.5, 0.55]], "bias": 0.6, **extra}]}


PARAMS = {("gelu", "none"): {}, ("gelu", "tanh"): {"approximate": "tanh"}, ("elu", 1.0): {}, ("elu", 0.5): {"alpha": 0.5},
          ("softplus", (1.0, 20.0)): {}, ("softplus", (2.0, 1.0)): {"beta": 2.0, "threshold": 1.0}, ("silu", None): {}}


@pytest.mark.parametrize("name,param", CASES)
def test_gradcheck_agrees(name, param):
    rows = gradcheck(spec.from_dict(net(name, **PARAMS[name, param])))
    assert rows and all(r.agrees for r in rows), [(r.name, r.analytic, r.numeric) for r in rows if not r.agrees]


@pytest.mark.parametrize("name,param", [c for c in CASES if PARAMS[c]])
def test_fast_path_equals_numpy_with_the_activation_parameters(name, param, monkeypatch):
    """The grid (test_fastpath_grid.py) covers the defaults; these are the non-default parameters."""
    s = spec.from_dict(net(name, **PARAMS[name, param]))
    assert fastpath.supports(train.Session(s))
    fast = train.train(s, train.Plan(5, batch="online"))
    monkeypatch.setattr(fastpath, "MAX_PARAMS", 0)
    slow = train.train(s, train.Plan(5, batch="online"))
    for k in fast.final:
        assert fast.final[k] == pytest.approx(slow.final[k], rel=1e-12, abs=1e-12), k


def test_formulas_as_printed(runner, tmp_path):
    cases = {"gelu": ("z1·(1 + erf(z1 / √2)) / 2", "(1 + erf(z1 / √2)) / 2 + z1·e^(−z1² / 2) / √(2·π)"),
             "silu": ("z1·σ(z1)", "σ(z1) + h1·(1 − σ(z1))"),
             'elu"\nalpha = 0.5\n#': ("z1 if z1 > 0 else 0.5·(e^z1 − 1)", "1 if z1 > 0 else 0.5·e^z1"),
             'softplus"\nbeta = 2.0\n#': ("z1 if 2·z1 > 20 else log(1 + e^(2·z1)) / 2", "1 if 2·z1 > 20 else 1 / (1 + e^(−2·z1))")}
    for act, (f, d) in cases.items():
        path = tmp_path / "s.toml"
        path.write_text(f'learning_rate = 0.5\n[[samples]]\nx = [0.05]\ntarget = [0.5]\n'
                        f'[[layers]]\nactivation = "{act}"\nweights = [[0.15]]\n[[layers]]\nactivation = "linear"\nweights = [[0.4]]\n')
        result = runner.invoke(app, ["run", str(path)], env={"COLUMNS": "160"})
        assert result.exit_code == 0, result.output
        assert f in result.stdout and d in result.stdout, (act, result.stdout)


def test_the_network_table_names_the_parameters(runner, tmp_path):
    for extra, shown in (('alpha = 0.5', "elu (alpha 0.5)"), ('beta = 2.0\nthreshold = 5.0', "softplus (beta 2, threshold 5)"),
                         ('approximate = "tanh"', "gelu (tanh)")):
        act = shown.split()[0]
        path = tmp_path / "s.toml"
        path.write_text(f'learning_rate = 0.5\n[[samples]]\nx = [0.05]\ntarget = [0.5]\n[[layers]]\nactivation = "{act}"\n'
                        f'{extra}\nweights = [[0.15]]\n[[layers]]\nactivation = "linear"\nweights = [[0.4]]\n')
        result = runner.invoke(app, ["run", str(path), "--export", str(tmp_path / "s.md")], env={"COLUMNS": "120"})
        assert result.exit_code == 0 and shown in result.stdout, result.output
        assert f"| {shown} |" in (tmp_path / "s.md").read_text()


@pytest.mark.parametrize("layer,message", [
    ({"activation": "relu", "alpha": 0.5}, "layers[1].alpha: alpha applies to elu only"),
    ({"activation": "softplus", "beta": 0}, "layers[1].beta: expected a number greater than 0"),
    ({"activation": "gelu", "approximate": "erf"}, "layers[1].approximate: unknown value 'erf'"),
    ({"activation": "gelu", "threshold": 3}, "layers[1].threshold: threshold applies to softplus only"),
])
def test_activation_parameters_are_checked(layer, message):
    d = net("gelu")
    d["layers"][0] = {**d["layers"][0], **layer}
    with pytest.raises(SpecError, match=re.escape(message)):
        spec.from_dict(d)


# ---------------------------------------------------------------- cross-entropy: class indices, label smoothing

CE = {"loss": "cross_entropy", "learning_rate": 0.5,
      "samples": [{"x": [0.5, -0.3], "target": 2}, {"x": [0.1, 0.9], "target": 0}],
      "layers": [{"activation": "tanh", "weights": [[0.3, -0.25], [0.4, 0.35]]},
                 {"activation": "softmax", "weights": [[0.1, 0.2], [0.3, -0.1], [-0.2, 0.5]], "bias": [0.0, 0.1, -0.1]}]}


def ce_by_hand(x, k, eps):
    """E_total of one sample, worked out with math: −Σ_j t_j log softmax(z)_j, t = (1 − ε)·onehot(k) + ε/3."""
    h = [math.tanh(0.3 * x[0] - 0.25 * x[1]), math.tanh(0.4 * x[0] + 0.35 * x[1])]
    z = [0.1 * h[0] + 0.2 * h[1], 0.3 * h[0] - 0.1 * h[1] + 0.1, -0.2 * h[0] + 0.5 * h[1] - 0.1]
    lse = math.log(sum(math.exp(v) for v in z))
    return -sum(((1 - eps) * (j == k) + eps / 3) * (z[j] - lse) for j in range(3))


@pytest.mark.parametrize("eps", [0.0, 0.1, 1.0])
def test_class_index_targets_and_label_smoothing_by_hand(eps):
    s = spec.from_dict({**CE, "label_smoothing": eps})
    for i, (x, k) in enumerate([([0.5, -0.3], 2), ([0.1, 0.9], 0)], 1):
        assert bptrace.run(s, sample=i).value("E_total") == pytest.approx(ce_by_hand(x, k, eps), rel=1e-13)


def test_class_index_is_the_one_hot_target():
    one_hot = {**CE, "samples": [{"x": [0.5, -0.3], "target": [0.0, 0.0, 1.0]}, {"x": [0.1, 0.9], "target": [1.0, 0.0, 0.0]}]}
    a, b = bptrace.train(CE, epochs=3), bptrace.train(one_hot, epochs=3)
    assert a.final == b.final


def test_smoothed_targets_are_traced_with_their_formula(runner, tmp_path):
    path = tmp_path / "ce.toml"
    path.write_text('loss = "cross_entropy"\nlabel_smoothing = 0.1\nlearning_rate = 0.5\n'
                    '[[samples]]\nx = [0.5, -0.3]\ntarget = 2\n'
                    '[[layers]]\nactivation = "softmax"\nweights = [[0.1, 0.2], [0.3, -0.1], [-0.2, 0.5]]\n')
    result = runner.invoke(app, ["run", str(path)], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "loss cross_entropy (label smoothing ε = 0.1)" in out
    assert "target_o3   1·(1 − ε) + ε / 3" in out and "= 1×(1 − 0.1) + 0.1 / 3" in out
    assert "0.93333333" in out and "0.03333333" in out  # 0.9 + 0.1/3 and 0.1/3
    assert bptrace.run(str(path)).value("target_o3") == pytest.approx(0.9 + 0.1 / 3, rel=1e-15)


@pytest.mark.parametrize("change,message", [
    ({"samples": [{"x": [1.0, 2.0], "target": 3}]}, "samples[1].target: class 3 is out of range: the output layer has "
                                                    "3 neurons, so expected a class index from 0 to 2"),
    ({"samples": [{"x": [1.0, 2.0], "target": -1}]}, "class -1 is out of range"),
    ({"samples": [{"x": [1.0, 2.0], "target": 1}, {"x": [1.0, 2.0], "target": [0, 1, 0]}]},
     "samples[2].target: give every sample's target the same way"),
    ({"loss": "half_sse"}, 'samples[1].target: a class index (2) needs loss = "cross_entropy"'),
    ({"label_smoothing": 1.5}, "label_smoothing: expected a number from 0 to 1"),
    ({"label_smoothing": 0.1, "loss": "half_sse", "samples": [{"x": [1.0, 2.0], "target": [0, 1, 0]}]},
     'label_smoothing: label smoothing applies to loss = "cross_entropy" only'),
])
def test_class_targets_and_smoothing_are_checked(change, message):
    with pytest.raises(SpecError, match=re.escape(message)):
        spec.from_dict({**CE, **change})


def test_a_bad_class_index_is_one_line_and_exit_2(runner, tmp_path):
    path = tmp_path / "ce.toml"
    path.write_text('loss = "cross_entropy"\nlearning_rate = 0.5\n[[samples]]\nx = [0.5]\ntarget = 5\n'
                    '[[layers]]\nactivation = "softmax"\nweights = [[0.1], [0.3]]\n')
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1 and "class 5 is out of range" in result.stderr


def test_normalised_spec_reads_back():
    s = spec.from_dict({**CE, "label_smoothing": 0.2})
    again = spec.from_dict({k: v for k, v in s.to_dict().items() if k != "layers"} | {"layers": CE["layers"]})
    assert again.samples == s.samples and again.label_smoothing == 0.2


# ---------------------------------------------------------------- init = "pytorch"

def test_pytorch_init_bounds_and_seed():
    d = {"seed": 5, "learning_rate": 0.1, "samples": [{"x": [0.0] * 16, "target": [0.0] * 3}],
         "layers": [{"activation": "relu", "units": 50, "weights": "pytorch", "bias": "pytorch"},
                    {"activation": "linear", "units": 3, "weights": "pytorch", "bias": "pytorch"}]}
    s = spec.from_dict(d)
    w, b = np.array(s.layers[0].weights), np.array(s.layers[0].bias)
    # U(−1/√fan_in, 1/√fan_in): 1/√16 = 0.25 for both weights and biases (kaiming_uniform with a = √5)
    assert np.abs(w).max() <= 0.25 and np.abs(w).max() > 0.24 and np.abs(b).max() <= 0.25
    assert abs(w.mean()) < 0.02 and w.std() == pytest.approx(0.25 / math.sqrt(3), rel=0.05)  # uniform: σ = a/√3
    assert np.abs(np.array(s.layers[1].weights)).max() <= 1 / math.sqrt(50)
    assert spec.from_dict(d).layers == s.layers  # the seed decides
    assert spec.from_dict({**d, "seed": 6}).layers[0].weights != s.layers[0].weights
    assert s.layers[0].init == "pytorch" and s.layers[0].bias_init == "pytorch"
