"""bptrace against PyTorch: `verify --against torch` and the `py` export (a runnable PyTorch script).

PyTorch computes the reference numbers here (float64 autograd, torch.optim, torch's own loss
functions), independently of bptrace. Skipped where torch is not installed, except the test
of the message a user without PyTorch gets.
"""

from __future__ import annotations

import os
import importlib.util
import re
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bptrace
import bptrace.naming
from bptrace.cli import app

pytestmark = pytest.mark.slow  # PyTorch starts slowly (3 s a script); `pytest --all` and CI run these

SAMPLES = ["blog", "xor", "softmax", "deep", "adam"]
needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch is not installed (pip install 'bptrace[torch]')")


def test_without_pytorch_verify_says_how_to_install_it(runner, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    result = runner.invoke(app, ["verify"])
    assert result.exit_code == 2
    assert "pip install 'bptrace[torch]'" in result.output
    assert "Traceback" not in result.output


def test_other_commands_never_import_torch():
    code = ("import sys; from bptrace.cli import app; from typer.testing import CliRunner; "
            "CliRunner().invoke(app, ['run', 'xor']); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@needs_torch
@pytest.mark.parametrize("name", SAMPLES)
@pytest.mark.parametrize("args", [[], ["--epochs", "3"], ["--epochs", "2", "--batch", "full"],
                                  ["--epochs", "2", "--batch", "2"]])
def test_verify_agrees_on_every_sample(runner, name, args):
    result = runner.invoke(app, ["verify", name, *args])
    assert result.exit_code == 0, result.output
    assert re.search(r"✓ all \d+ values agree with PyTorch", result.output)


@needs_torch
def test_verify_fails_when_a_value_differs(runner, monkeypatch):
    from bptrace import verify

    real = verify.sample_losses
    monkeypatch.setattr(verify, "sample_losses", lambda torch, loss, z, o, t, **kw: 1.5 * real(torch, loss, z, o, t, **kw))
    result = runner.invoke(app, ["verify", "blog"])
    assert result.exit_code == 1
    assert "✗" in result.output and "values differ from PyTorch" in result.output


@needs_torch
def test_verify_shows_both_numbers_and_the_difference(runner):
    result = runner.invoke(app, ["verify", "blog", "--precision", "8"])
    row = next(line for line in result.output.splitlines() if line.strip().startswith("dE_total/dw5"))
    # the worked example's published dE_total/dw5, from bptrace and from PyTorch
    assert row.split()[1:3] == ["0.02592286", "0.02592286"]


@needs_torch
def test_verify_compares_every_sample_of_a_batch(runner):
    result = runner.invoke(app, ["verify", "softmax", "--epochs", "1", "--batch", "full"])
    assert result.exit_code == 0 and "samples 1, 2, 3" in result.output
    for k in (1, 2, 3):
        assert re.search(rf"E_total \(sample {k}\)\s+\d", result.output), k


def test_verify_refuses_an_unknown_reference(runner):
    result = runner.invoke(app, ["verify", "--against", "jax"])
    assert result.exit_code == 2 and "--against: expected torch" in result.output


# ---------------------------------------------------------------- the exported script


def run_script(path) -> dict[str, list[float]]:
    """Run an exported script; every `name = value` it prints, by name, in order."""
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, check=True, timeout=120).stdout
    values: dict[str, list[float]] = {}
    for name, value in re.findall(r"(\S+) = (-?\d+(?:\.\d+)?(?:e[-+]\d+)?)", out):
        values.setdefault(name, []).append(float(value))
    return values


def close_at(printed: float, exact: float, decimals: int = 8) -> bool:
    """The printed number is the exact one rounded to `decimals` (half a unit of the last digit, plus slack)."""
    return abs(printed - exact) <= 0.5 * 10 ** -decimals + 1e-12


@needs_torch
@pytest.mark.parametrize("name", SAMPLES)
def test_exported_script_prints_bptraces_numbers(runner, tmp_path, name):
    path = tmp_path / "net.py"
    assert runner.invoke(app, ["run", name, "--export", str(path)]).exit_code == 0
    printed = run_script(path)
    trace = bptrace.run(name)
    assert close_at(printed["E_total"][0], trace.value("E_total"))
    updates = trace.iterations[0].updates
    assert len(updates) == len(bptrace.naming.for_spec(trace.spec).params())
    for u in updates:
        assert close_at(printed[f"dE_total/d{u.name}"][0], u.gradient), u.name
        assert close_at(printed[f"{u.name}+"][0], u.new), u.name


@needs_torch
@pytest.mark.parametrize("name,batch", [("xor", "2"), ("softmax", "full"), ("adam", "online")])
def test_exported_training_script_matches_the_last_epoch(runner, tmp_path, name, batch):
    path = tmp_path / "net.py"
    args = ["step", name, "--epochs", "4", "--batch", batch, "-q", "--export", str(path)]
    assert runner.invoke(app, args).exit_code == 0
    printed = run_script(path)
    last = bptrace.train(name, epochs=4, batch=batch, show=[4]).traces[0]  # first update of epoch 4
    for u in last.updates:
        assert close_at(printed[f"{u.name}+"][-1], u.new), u.name
        assert close_at(printed[f"dE_total/d{u.name}"][-1], u.gradient), u.name


EVERY_KIND = {  # a shared bias, a frozen bias, leaky_relu with its slope, Nesterov momentum, BCE on sigmoid
    "loss": "binary_cross_entropy", "learning_rate": 0.3,
    "optimizer": {"name": "momentum", "momentum": 0.8, "nesterov": True, "weight_decay": 0.01},
    "samples": [{"x": [0.5, -1.0], "target": [1.0, 0.0]}, {"x": [-0.3, 0.8], "target": [0.0, 1.0]},
                {"x": [0.9, 0.1], "target": [1.0, 1.0]}],
    "layers": [
        {"activation": "leaky_relu", "slope": 0.2, "weights": [[0.4, -0.6], [0.3, 0.2], [-0.5, 0.1]], "bias": 0.1},
        {"activation": "tanh", "weights": [[0.2, -0.3, 0.5], [0.1, 0.4, -0.2]], "bias": [0.05, -0.05],
         "train_bias": False},
        {"activation": "sigmoid", "weights": [[0.7, -0.4], [-0.2, 0.6]], "bias": 0.0, "train_bias": False},
    ],
}


@needs_torch
@pytest.mark.parametrize("naming", ["seed", "layered"])
def test_exported_script_with_shared_and_frozen_biases(runner, tmp_path, naming):
    import tomllib  # the spec written out as TOML by hand: bptrace reads files, not dicts, on the command line

    spec = tmp_path / "net.toml"
    spec.write_text(to_toml(EVERY_KIND))
    assert tomllib.loads(spec.read_text()) == EVERY_KIND
    path = tmp_path / "net.py"
    args = ["step", str(spec), "--epochs", "3", "--batch", "2", "--naming", naming, "-q", "--export", str(path)]
    assert runner.invoke(app, args).exit_code == 0
    printed = run_script(path)
    last = bptrace.train(EVERY_KIND, epochs=3, batch=2, show=[3], naming=naming).traces[0]
    for u in last.updates:
        assert close_at(printed[f"{u.name}+"][-1], u.new), u.name
        assert close_at(printed[f"dE_total/d{u.name}"][-1], u.gradient), u.name
    frozen = [u for u in last.updates if u.frozen]
    assert len(frozen) == 3 and all(printed[f"{u.name}+"][-1] == printed[f"{u.name}+"][0] for u in frozen)


def to_toml(d: dict) -> str:
    """A spec dict as TOML (numbers, booleans, strings, lists; [optimizer] and [[arrays of tables]])."""
    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return f'"{v}"'
        if isinstance(v, list):
            return "[" + ", ".join(map(value, v)) + "]"
        return repr(v)

    def tables(v):  # [[samples]], [[layers]]: a list of tables
        return isinstance(v, list) and bool(v) and isinstance(v[0], dict)

    lines = [f"{k} = {value(v)}" for k, v in d.items() if not (isinstance(v, dict) or tables(v))]
    for k, v in d.items():
        if isinstance(v, dict):
            lines += [f"[{k}]", *(f"{kk} = {value(vv)}" for kk, vv in v.items())]
        elif tables(v):
            for table in v:
                lines += [f"[[{k}]]", *(f"{kk} = {value(vv)}" for kk, vv in table.items())]
    return "\n".join(lines) + "\n"


def test_export_py_needs_no_torch_to_write(runner, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    path = tmp_path / "net.py"
    result = runner.invoke(app, ["run", "softmax", "--export", str(path)])
    assert result.exit_code == 0, result.output
    compile(path.read_text(), str(path), "exec")  # valid Python


# ---------------------------------------------------------------- random networks

ACTS = ["sigmoid", "tanh", "relu", "leaky_relu", "linear"]
BIASES = ["none", "per_neuron", "shared", "frozen_per_neuron", "frozen_shared"]
small = st.floats(-1.0, 1.0, allow_nan=False).map(lambda v: round(v, 3))


@st.composite
def networks(draw):
    n_in = draw(st.integers(1, 3))
    hidden = draw(st.lists(st.integers(1, 3), min_size=0, max_size=2))
    loss = draw(st.sampled_from(["half_sse", "sse", "mse", "cross_entropy", "binary_cross_entropy"]))
    n_out = draw(st.integers(2 if loss == "cross_entropy" else 1, 3))
    out_act = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}.get(loss) or draw(st.sampled_from(ACTS))
    widths, layers = [n_in, *hidden, n_out], []
    for l, units in enumerate(widths[1:]):
        act = out_act if l == len(widths) - 2 else draw(st.sampled_from(ACTS))
        layer = {"activation": act, "weights": [[draw(small) for _ in range(widths[l])] for _ in range(units)]}
        if act == "leaky_relu":
            layer["slope"] = draw(st.sampled_from([0.01, 0.2]))
        # a shared bias on a softmax layer has a gradient of exactly 0 in theory (softmax ignores a common shift),
        # rounding noise of ~1e-17 in practice; Adam divides noise by its own size, so either side's noise decides
        mode = draw(st.sampled_from([b for b in BIASES if act != "softmax" or "shared" not in b]))
        if mode != "none":
            layer["bias"] = draw(small) if "shared" in mode else [draw(small) for _ in range(units)]
            layer["train_bias"] = not mode.startswith("frozen")
        if draw(st.integers(0, 4)) == 0:
            layer["frozen"] = True  # the whole layer: p⁺ = p
        if draw(st.integers(0, 3)) == 0:  # a parameter group: the layer's own α and λ
            layer["learning_rate"] = draw(st.sampled_from([0.02, 0.3]))
            layer["weight_decay"] = draw(st.sampled_from([0.0, 0.05]))
            if "bias" in layer and draw(st.booleans()):
                layer["bias_weight_decay"] = draw(st.sampled_from([0.0, 0.02]))
        layers.append(layer)
    samples = []
    for _ in range(draw(st.integers(1, 3))):
        if loss == "cross_entropy":
            k = draw(st.integers(0, n_out - 1))
            target = [1.0 if j == k else 0.0 for j in range(n_out)]
        else:
            target = [draw(st.floats(0.0, 1.0).map(lambda v: round(v, 2))) for _ in range(n_out)]
        samples.append({"x": [draw(small) for _ in range(n_in)], "target": target})
    spec = {"loss": loss, "learning_rate": draw(st.sampled_from([0.05, 0.5])), "samples": samples,
            "layers": layers, "optimizer": draw(optimizers())}
    n_w = sum(len(layer["weights"]) * len(layer["weights"][0]) for layer in layers)
    n_b = sum(1 if isinstance(layer.get("bias"), float) else len(layer.get("bias", [])) for layer in layers)
    names = [f"w{i}" for i in range(1, n_w + 1)] + [f"b{i}" for i in range(1, n_b + 1)]
    spec["frozen"] = draw(st.lists(st.sampled_from(names), max_size=3))  # single entries never change
    return spec, draw(st.sampled_from(["online", "full", "2"]))


@st.composite
def optimizers(draw):
    name = draw(st.sampled_from(["sgd", "momentum", "adam", "adamw", "rmsprop", "adagrad"]))
    wd = draw(st.sampled_from([0.0, 0.01]))
    opt = _optimizer(draw, name, wd)
    if draw(st.integers(0, 3)) == 0:  # "no decay on biases", or a decay of their own
        opt["bias_weight_decay"] = draw(st.sampled_from([0.0, 0.03]))
    return opt


def _optimizer(draw, name: str, wd: float) -> dict:
    if name == "sgd":
        return {"name": name, "weight_decay": wd}
    if name == "momentum":
        nesterov = draw(st.booleans())
        return {"name": name, "momentum": draw(st.sampled_from([0.5, 0.9])), "nesterov": nesterov,
                "dampening": 0.0 if nesterov else draw(st.sampled_from([0.0, 0.3])), "weight_decay": wd}
    if name == "rmsprop":
        return {"name": name, "alpha": draw(st.sampled_from([0.99, 0.8])), "momentum": draw(st.sampled_from([0.0, 0.5])),
                "centered": draw(st.booleans()), "weight_decay": wd}
    if name == "adagrad":
        return {"name": name, "lr_decay": draw(st.sampled_from([0.0, 0.1])),
                "initial_accumulator_value": draw(st.sampled_from([0.0, 0.1])), "weight_decay": wd}
    return {"name": name, "beta1": 0.9, "beta2": draw(st.sampled_from([0.999, 0.9])), "eps": 1e-8,
            "weight_decay": wd, "amsgrad": draw(st.booleans())}


@needs_torch
@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks())
def test_verify_agrees_on_random_networks(case):
    from bptrace import verify

    spec, batch = case
    report = verify.compare(bptrace.load(spec), epochs=2, batch=batch, tol=1e-9, atol=1e-12)
    bad = report.failures()
    # a gradient that is zero but for rounding, under Adam, may differ (test below); nothing else may
    assert not bad or report.explained_by_rounding(), [(r.name, r.ours, r.theirs) for r in bad[:5]]


@needs_torch
def test_exported_script_prints_the_published_digits(runner, tmp_path):
    from conftest import PUBLISHED

    path = tmp_path / "net.py"
    assert runner.invoke(app, ["run", "--export", str(path)]).exit_code == 0
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, check=True).stdout
    for name in ("dE_total/dw5", "w5+", "dE_total/dw1", "w1+", "E_total"):
        assert f"{name} = {PUBLISHED[name]:.8f}" in out, name  # the worked example's digits, 8 decimals


@needs_torch
def test_momentum_zero_with_dampening_agrees_with_pytorch():
    from conftest import BLOG

    from bptrace import verify

    spec = {**BLOG, "optimizer": {"name": "momentum", "momentum": 0.0, "dampening": 0.5}}
    assert verify.compare(bptrace.load(spec), epochs=2).ok


# ---------------------------------------------------------------- issue 14 part A: the new activations and losses
# A sibling of the property test above: random networks over every activation (GELU exact and tanh, ELU and
# softplus with their parameters, SiLU among the old ones) and every loss, cross-entropy with probability
# targets or class indices, with or without label smoothing.

NEW_ACTS = ACTS + ["gelu", "elu", "softplus", "silu"]


def activation_layer(draw, act: str) -> dict:
    extra = {}
    if act == "leaky_relu":
        extra["slope"] = draw(st.sampled_from([0.01, 0.2]))
    if act == "gelu":
        extra["approximate"] = draw(st.sampled_from(["none", "tanh"]))
    if act == "elu":
        extra["alpha"] = draw(st.sampled_from([1.0, 0.5, 2.0]))
    if act == "softplus":
        extra["beta"], extra["threshold"] = draw(st.sampled_from([(1.0, 20.0), (2.0, 1.0), (0.5, 0.2)]))
    return {"activation": act, **extra}


@st.composite
def new_networks(draw):
    spec, batch = draw(networks())
    for layer in spec["layers"][:-1]:  # hidden layers: any activation, old or new
        act = draw(st.sampled_from(NEW_ACTS))
        for key in ("slope",):
            layer.pop(key, None)
        layer.update(activation_layer(draw, act))
    out = spec["layers"][-1]
    if spec["loss"] not in ("cross_entropy", "binary_cross_entropy") and draw(st.booleans()):
        out.pop("slope", None)
        out.update(activation_layer(draw, draw(st.sampled_from(["gelu", "elu", "softplus", "silu"]))))
    if spec["loss"] == "cross_entropy":
        if draw(st.booleans()):  # class indices instead of one-hot rows
            for s in spec["samples"]:
                s["target"] = s["target"].index(1.0)
        spec["label_smoothing"] = draw(st.sampled_from([0.0, 0.1, 0.3]))
    return spec, batch


@needs_torch
@pytest.mark.slow
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(new_networks())
def test_verify_agrees_on_random_networks_with_the_new_activations_and_losses(case):
    from bptrace import verify

    spec, batch = case
    report = verify.compare(bptrace.load(spec), epochs=2, batch=batch, tol=1e-9, atol=1e-12)
    bad = report.failures()
    # a gradient that is zero but for rounding, under Adam, may differ (test below); nothing else may
    assert not bad or report.explained_by_rounding(), [(r.name, r.ours, r.theirs) for r in bad[:5]]


@needs_torch
@pytest.mark.slow
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(new_networks())
def test_exported_script_reproduces_random_networks_with_the_new_features(runner, tmp_path, case):
    spec, batch = case
    path, script = tmp_path / "net.toml", tmp_path / "net.py"
    path.write_text(to_toml(spec))
    args = ["step", str(path), "--epochs", "2", "--batch", batch, "-q", "--export", str(script)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    printed = run_script(script)
    last = bptrace.train(spec, epochs=2, batch=batch, show=[2]).traces[0]
    for u in last.updates:
        assert close_at(printed[f"{u.name}+"][-1], u.new), u.name
        assert close_at(printed[f"dE_total/d{u.name}"][-1], u.gradient), u.name


@needs_torch
@pytest.mark.slow
def test_a_rounding_level_gradient_amplified_by_adam_is_explained():
    # hypothesis found it: two equal output weights under softmax + cross-entropy make ∂E_total/∂h1 =
    # 0.5·(δ_o1 + δ_o2) = 0 exactly in real numbers; each framework's rounding leaves a different ~1e-17
    # there, and Adam's first step, −α·m̂/(√v̂ + ε) = −α·g/(|g| + ε), turns it into ~1e-11
    from bptrace import verify

    spec = {"loss": "cross_entropy", "learning_rate": 0.05, "samples": [{"x": [1.0], "target": [1.0, 0.0]}],
            "layers": [{"activation": "sigmoid", "weights": [[0.0]]},
                       {"activation": "softmax", "weights": [[0.5], [0.5]], "bias": [0.5, 0.0], "train_bias": True}],
            "optimizer": {"name": "adam"}}
    report = verify.compare(bptrace.load(spec), epochs=2)
    ours = bptrace.train(spec, epochs=1, show="all").traces[0]
    w1 = next(u for u in ours.updates if u.name == "w1")
    assert abs(w1.gradient) < 1e-15
    assert w1.new == pytest.approx(-0.05 * w1.gradient / (abs(w1.gradient) + 1e-8), rel=1e-12, abs=1e-300)
    if report.ok:  # this machine's rounding happened to agree
        return
    assert report.explained_by_rounding()
    assert report.amplified[0] == (1, "w1")
    from rich.console import Console

    console = Console(width=100, record=True, file=open(os.devnull, "w"))
    console.print(verify.render(report))
    assert "note: in step 1, ∂E_total/∂w1 is zero but for rounding" in " ".join(console.export_text().split())


def test_explained_by_rounding_needs_the_amplified_parameter_to_be_the_first_difference():
    from bptrace.verify import Report, Row, Step

    step1 = Step(1, 1, [1], [Row("w1+", 1e-11, 0.0), Row("w2+", 0.3, 0.3)])
    step2 = Step(2, 2, [1], [Row("z1", 1e-11, 0.0)])
    assert Report("t", "2", 1e-9, 1e-12, [step1, step2], [(1, "w1")]).explained_by_rounding()
    assert not Report("t", "2", 1e-9, 1e-12, [step1, step2], [(1, "w2")]).explained_by_rounding()
    assert not Report("t", "2", 1e-9, 1e-12, [step1, step2], []).explained_by_rounding()
    step1b = Step(1, 1, [1], [Row("w1+", 1e-11, 0.0), Row("w2+", 0.31, 0.3)])  # a real difference too
    assert not Report("t", "2", 1e-9, 1e-12, [step1b, step2], [(1, "w1")]).explained_by_rounding()
