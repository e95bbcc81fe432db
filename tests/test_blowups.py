"""Blow-ups stop cleanly on both engines: exit 3, one message naming the quantity, the summary so
far, the exports written; never a Python exception. Expected epochs come from plain Python loops."""

import ast
import dataclasses
import json
import math

import jsonschema
import numpy as np
import pytest

from bptrace import cli, fastpath, samples, spec
from bptrace import trainer as train
from bptrace.cli import app
from bptrace.exports import json_
from conftest import BLOG

HUGE = """learning_rate = 0.1
[[samples]]
x = [1e100]
target = [0.5]
[[layers]]
activation = "linear"
weights = [[1e100]]
"""

LINEAR = {"learning_rate": 10.0, "samples": [{"x": [1.0], "target": [1.0]}],
          "layers": [{"activation": "linear", "weights": [[2.0]]}]}


@pytest.fixture(params=["fast", "numpy"])
def engine_path(request, monkeypatch):
    """Run the test on the generated fast path, then on the numpy path (forced: no fast path)."""
    if request.param == "numpy":
        monkeypatch.setattr(fastpath, "MAX_PARAMS", 0)
    return request.param


def write(tmp_path, text, name="spec.toml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def assert_clean_blowup(result, quantity=None):
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)
    assert "overflowed to" in result.stderr or "became nan" in result.stderr
    if quantity:
        assert f"{quantity} " in result.stderr
    assert "Parameters: initial → final" in result.stdout  # the summary so far
    assert "diverged at epoch" in result.stdout


# ------------------------------------------------------------------ the reported cases

@pytest.mark.parametrize("extra", [["-q"], [], pytest.param(["--epochs", "30", "--show", "all"], marks=pytest.mark.slow)])
def test_deep_with_a_huge_learning_rate(runner, extra):
    args = ["step", "deep", "--epochs", "300", "--lr", "10", *extra]
    assert_clean_blowup(runner.invoke(app, args))


@pytest.mark.parametrize("extra", [[], ["--show", "all"]])
def test_huge_values_overflow_in_the_loss(runner, tmp_path, extra):
    # o1 = 1e200 is finite, E_o1 = ½(0.5 − 1e200)² = 5e399 is not
    result = runner.invoke(app, ["step", write(tmp_path, HUGE), "--epochs", "2", *extra])
    assert_clean_blowup(result, "E_o1")
    assert "epoch 1, sample 1: E_o1 overflowed to inf" in result.stderr


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "adamw"])
@pytest.mark.parametrize("extra", [["-q"], ["--show", "all"]])
def test_huge_weight_decay_never_raises(runner, tmp_path, optimizer, extra):
    d = dict(BLOG, optimizer={"name": optimizer, "weight_decay": 1e308})
    path = write(tmp_path, spec.from_dict(d).to_toml() if hasattr(spec.Spec, "to_toml") else _toml(d))
    result = runner.invoke(app, ["step", path, "--epochs", "3", *extra])
    assert result.exit_code in (0, 3), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    if result.exit_code == 0:  # a run that completes has only finite numbers to show
        assert "nan" not in result.stdout and "inf" not in result.stdout
    else:
        assert "diverged at epoch" in result.stdout


def _toml(d):
    lines = [f"learning_rate = {d['learning_rate']}"]
    opt = d.get("optimizer")
    if opt:
        lines.append("[optimizer]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in opt.items()]
    for s in d["samples"]:
        lines += ["[[samples]]", f"x = {s['x']}", f"target = {s['target']}"]
    for layer in d["layers"]:
        lines += ["[[layers]]", f"activation = \"{layer['activation']}\"", f"weights = {layer['weights']}"]
    return "\n".join(lines) + "\n"


def test_run_with_huge_values_exits_3_after_showing_the_trace(runner, tmp_path):
    out = tmp_path / "t.json"
    result = runner.invoke(app, ["run", write(tmp_path, HUGE), "--export", str(out)])
    assert result.exit_code == 3
    assert "E_o1 overflowed to inf" in result.stderr
    assert "Forward pass" in result.stdout and out.exists()  # shown and exported as computed


def test_check_on_a_run_that_diverges_before_the_epoch(runner, tmp_path):
    answers = write(tmp_path, "epoch = 3\nz1 = 0.1\n", "answers.toml")
    result = runner.invoke(app, ["check", write(tmp_path, HUGE), answers])
    assert result.exit_code == 3, result.output
    assert "epoch = 3, sample = 1 is never reached" in result.stderr and "E_o1 overflowed to inf" in result.stderr


def test_exports_of_a_diverged_run_say_what_happened(runner, tmp_path):
    j, md, jl = tmp_path / "r.json", tmp_path / "r.md", tmp_path / "r.jsonl"
    result = runner.invoke(app, ["step", "deep", "--epochs", "300", "--lr", "10", "-q",
                                 "-o", str(j), "-o", str(md), "-o", str(jl)])
    assert result.exit_code == 3
    doc = json.loads(j.read_text())
    jsonschema.Draft202012Validator(json.loads(json_.schema_text())).validate(doc)
    run = doc["run"]
    assert run["stop"] == "diverged" and run["diverged_at"]["epoch"] == run["epochs_done"] + 1
    assert run["diverged_at"]["value"] in ("inf", "-inf", "nan")
    assert json.loads(jl.read_text().splitlines()[-1])["diverged_at"] == run["diverged_at"]
    assert f"diverged at epoch {run['epochs_done'] + 1}" in md.read_text()


# ------------------------------------------------------------------ a gradual blow-up, against a plain loop

def reference_linear(w=2.0, lr=10.0, x=1.0, t=1.0):
    """Online SGD on o = w·x, E = ½(t − o)²: per-epoch losses up to the first that is not finite."""
    losses = []
    while True:
        o = w * x
        r = t - o
        E = 0.5 * r * r
        if not math.isfinite(E):
            return losses, len(losses) + 1
        losses.append(E)
        w -= lr * (-r * x)


def test_gradual_blowup_matches_a_plain_loop(engine_path):
    expected, epoch = reference_linear()
    assert epoch == 163  # the error is multiplied by −9 each epoch: ½·81^162 overflows
    r = train.train(spec.from_dict(LINEAR), train.Plan(1000))
    assert r.stop == "diverged" and r.epochs_done == 162
    assert (r.divergence.epoch, r.divergence.quantity, r.divergence.value) == (163, "E_o1", math.inf)
    np.testing.assert_allclose(r.loss, expected, rtol=1e-12)
    np.testing.assert_array_equal(r.epoch, np.arange(1, 163))


@pytest.mark.parametrize("extra", [["-q"], ["-q", "--export", "JSONL"]])  # a .jsonl export traces every step (numpy)
def test_gradual_blowup_cli(runner, tmp_path, extra):
    extra = [str(tmp_path / "r.jsonl") if a == "JSONL" else a for a in extra]
    path = write(tmp_path, _toml(LINEAR))
    result = runner.invoke(app, ["step", path, "--epochs", "1000", *extra])
    assert result.exit_code == 3
    assert "epoch 163, sample 1: E_o1 overflowed to inf" in result.stderr
    assert "loss: 0.50000000 → diverged at epoch 163 (E_o1 overflowed to inf)" in result.stdout


# ------------------------------------------------------------------ Adam with eps = 0

def adam_eps0():
    # x1 = 0 makes dE/dw1 = 0, so Adam's first step is 0 / (√0 + 0)
    d = dict(BLOG, samples=[{"x": [0.0, 0.2], "target": [0.4, 0.6]}], optimizer={"name": "adam"})
    s = spec.from_dict(d)
    return dataclasses.replace(s, optimizer=dataclasses.replace(s.optimizer, hyper={**s.optimizer.hyper, "eps": 0.0}))


def test_adam_eps_zero_run_is_a_blowup(runner, monkeypatch):
    monkeypatch.setattr(cli, "load_spec", lambda *a, **k: adam_eps0())
    result = runner.invoke(app, ["run"])
    assert result.exit_code == 3, result.output
    assert "w1+ became nan" in result.stderr and "eps" in result.stderr


def test_adam_eps_zero_step_is_a_blowup(engine_path):
    r = train.train(adam_eps0(), train.Plan(5))
    assert r.stop == "diverged" and r.divergence.epoch == 1
    assert r.divergence.quantity == "w1" and math.isnan(r.divergence.value)


# ------------------------------------------------------------------ IEEE everywhere, and a safety net

def test_generated_code_has_no_raising_operations():
    for name in samples.names():
        s = spec.loads(samples.text(name), name)
        layout = fastpath._Layout(s)
        code = fastpath._sample_code(s, layout) + "\n" + fastpath._update_code(s.optimizer.name, s.optimizer.hyper, layout)
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.BinOp):  # x ** 2 raises OverflowError, x / 0 ZeroDivisionError
                assert not isinstance(node.op, ast.Pow), ast.unparse(node)
                if isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)):
                    assert isinstance(node.right, ast.Constant) and node.right.value, ast.unparse(node)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):  # math.exp, log, sqrt raise
                assert node.func.id in ("_exp", "_log", "_sqrt", "_div", "_pow", "_sigmoid", "_softplus", "tanh",
                                        "max"), ast.unparse(node)


@pytest.mark.parametrize("name", ["blog", "xor", "softmax", "deep", "adam"])
@pytest.mark.parametrize("lr", [1e3, 1e8])
def test_both_engines_blow_up_at_the_same_epoch(name, lr, monkeypatch):
    s = spec.loads(samples.text(name), name).with_learning_rate(lr)
    fast = train.train(s, train.Plan(200))
    monkeypatch.setattr(fastpath, "MAX_PARAMS", 0)
    slow = train.train(s, train.Plan(200))
    assert (fast.stop, fast.epochs_done) == (slow.stop, slow.epochs_done)
    if fast.stop == "diverged":
        assert fast.divergence.epoch == slow.divergence.epoch


def test_ieee_helpers():
    assert fastpath._exp(1e6) == math.inf and fastpath._exp(-1e6) == 0.0 and math.isnan(fastpath._exp(math.nan))
    assert fastpath._div(1.0, 0.0) == math.inf and fastpath._div(-1.0, 0.0) == -math.inf
    assert math.isnan(fastpath._div(0.0, 0.0)) and fastpath._div(1.0, -0.0) == -math.inf
    assert fastpath._log(0.0) == -math.inf and math.isnan(fastpath._log(-1.0))
    assert math.isnan(fastpath._sqrt(-1.0))


def test_an_arithmetic_exception_is_reported_as_divergence(monkeypatch):
    def boom(z):
        raise OverflowError("math range error")

    monkeypatch.setattr(fastpath, "_sigmoid", boom)
    r = train.train(spec.from_dict(BLOG), train.Plan(10))
    assert r.stop == "diverged" and r.divergence.epoch == 1
