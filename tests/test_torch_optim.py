"""RMSprop, Adagrad and Adam's amsgrad: held to torch.optim (float64, several epochs, rel 1e-9), to
updates worked out here from the published formulas, and to the exported PyTorch script."""

from __future__ import annotations

import importlib.util
import math

import pytest

import bptrace
from bptrace.cli import app
from test_torch import close_at, run_script, to_toml
from test_torch_features import net

needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch is not installed")

CONFIGS = {
    "rmsprop": {"name": "rmsprop"},
    "rmsprop-centered": {"name": "rmsprop", "alpha": 0.9, "centered": True},
    "rmsprop-momentum-wd": {"name": "rmsprop", "momentum": 0.6, "weight_decay": 0.02, "eps": 1e-6},
    "rmsprop-all": {"name": "rmsprop", "alpha": 0.8, "momentum": 0.3, "centered": True, "weight_decay": 0.01},
    "adagrad": {"name": "adagrad"},
    "adagrad-all": {"name": "adagrad", "lr_decay": 0.2, "initial_accumulator_value": 0.1, "weight_decay": 0.03,
                    "eps": 1e-6},
    "adam-amsgrad": {"name": "adam", "amsgrad": True, "beta2": 0.9},
    "adamw-amsgrad": {"name": "adamw", "amsgrad": True, "beta1": 0.5, "beta2": 0.8, "weight_decay": 0.05},
}


def update(it, name: str):
    return next(u for u in it.updates if u.name == name)


def spec_with(config: dict, lr: float = 0.05) -> dict:
    return {**net("tanh", {}), "optimizer": config, "learning_rate": lr}


@needs_torch
@pytest.mark.slow
@pytest.mark.parametrize("batch", ["online", "full", "2"])
@pytest.mark.parametrize("key", CONFIGS)
def test_verify_agrees_with_torch_optim_over_several_epochs(key, batch):
    from bptrace import verify

    report = verify.compare(bptrace.load(spec_with(CONFIGS[key])), epochs=5, batch=batch, tol=1e-9, atol=1e-12)
    assert report.ok, [(r.name, r.ours, r.theirs) for r in report.failures()[:5]]


# ---------------------------------------------------------------- worked by hand from the formulas

def test_rmsprop_first_update_of_the_worked_example():
    from conftest import BLOG, PUBLISHED

    g = PUBLISHED["dE_total/dw5"]
    v = (1 - 0.99) * g * g  # v starts at 0: v = (1 − a)·g²
    w5 = 0.45 - 0.5 * g / (math.sqrt(v) + 1e-8)  # p⁺ = p − α·g/(√v + ε)
    u = update(bptrace.run({**BLOG, "optimizer": {"name": "rmsprop"}}).iterations[0], "w5")
    assert u.new == pytest.approx(w5, abs=5e-8)  # the published gradient has 9 decimals
    assert u.state["v"] == pytest.approx(v, rel=1e-6)  # g²: twice the published gradient's relative error


def test_adagrad_first_update_of_the_worked_example():
    from conftest import BLOG, PUBLISHED

    g = PUBLISHED["dE_total/dw5"]
    G = 0.1 + g * g  # G starts at initial_accumulator_value
    w5 = 0.45 - 0.5 * g / (math.sqrt(G) + 1e-10)
    u = update(bptrace.run({**BLOG, "optimizer": {"name": "adagrad", "initial_accumulator_value": 0.1}}).iterations[0],
               "w5")
    assert u.new == pytest.approx(w5, abs=1e-8)
    assert u.state["G"] == pytest.approx(G, rel=1e-8)


def one_weight(optimizer: dict, lr: float, steps: int):
    """A single linear neuron o = w·x, E = ½(t − o)²: its gradient is −(t − w·x)·x, written out here."""
    spec = {"loss": "half_sse", "learning_rate": lr, "optimizer": optimizer, "samples": [{"x": [2.0], "target": [1.0]}],
            "layers": [{"activation": "linear", "weights": [[0.3]]}]}
    traces = bptrace.train(spec, epochs=steps, batch="online", show=list(range(1, steps + 1))).traces
    return [update(it, "w1") for it in traces]


def test_amsgrad_keeps_the_largest_v_by_hand():
    b1, b2, eps, lr, x, t = 0.9, 0.5, 1e-8, 0.2, 2.0, 1.0
    w, m, v, vmax = 0.3, 0.0, 0.0, 0.0
    ours = one_weight({"name": "adam", "amsgrad": True, "beta2": b2}, lr, 6)
    for step, u in enumerate(ours, 1):
        g = -(t - w * x) * x
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        vmax = max(vmax, v)
        w -= lr * (m / (1 - b1 ** step)) / (math.sqrt(vmax / (1 - b2 ** step)) + eps)
        assert u.gradient == pytest.approx(g, rel=1e-12)
        assert u.state["v_max"] == pytest.approx(vmax, rel=1e-12)
        assert u.new == pytest.approx(w, rel=1e-12)
    assert any(u.state["v_max"] > u.state["v"] for u in ours)  # the max did matter


def test_centered_rmsprop_with_momentum_by_hand():
    a, mu, eps, lr, x, t = 0.9, 0.5, 1e-8, 0.05, 2.0, 1.0
    w, v, gbar, b = 0.3, 0.0, 0.0, 0.0
    for u in one_weight({"name": "rmsprop", "alpha": a, "momentum": mu, "centered": True}, lr, 5):
        g = -(t - w * x) * x
        v = a * v + (1 - a) * g * g
        gbar = a * gbar + (1 - a) * g
        b = mu * b + g / (math.sqrt(v - gbar * gbar) + eps)
        w -= lr * b
        assert (u.state["v"], u.state["g_bar"], u.state["b"]) == pytest.approx((v, gbar, b), rel=1e-12)
        assert u.new == pytest.approx(w, rel=1e-12)


def test_adagrad_lr_decay_by_hand():
    decay, eps, lr, x, t = 0.5, 1e-10, 0.1, 2.0, 1.0
    w, G = 0.3, 0.0
    for step, u in enumerate(one_weight({"name": "adagrad", "lr_decay": decay}, lr, 4), 1):
        g = -(t - w * x) * x
        G += g * g
        w -= lr / (1 + (step - 1) * decay) * g / (math.sqrt(G) + eps)
        assert u.state["alpha_t"] == pytest.approx(lr / (1 + (step - 1) * decay), rel=1e-15)
        assert u.new == pytest.approx(w, rel=1e-12)


# ---------------------------------------------------------------- shown and exported

@pytest.mark.parametrize("key,heads", [("rmsprop-all", ["v", "ḡ", "b"]), ("adagrad-all", ["G", "αₜ"]),
                                       ("adam-amsgrad", ["m", "v", "m̂", "v̂", "vₘₐₓ"])])
def test_update_table_shows_the_state(runner, tmp_path, key, heads):
    path = tmp_path / "net.toml"
    path.write_text(to_toml(spec_with(CONFIGS[key])))
    out = runner.invoke(app, ["run", str(path)], terminal_width=80).stdout
    state = out[out.index("Optimizer state"):]
    for head in heads:
        assert f" {head} " in state or f" {head}\n" in state, head


@pytest.mark.parametrize("key", CONFIGS)
def test_every_export_writes_the_state(runner, tmp_path, key):
    import json

    path = tmp_path / "net.toml"
    path.write_text(to_toml(spec_with(CONFIGS[key])))
    formats = ("html", "json", "md", "tex")
    for form in ("scalar", "matrix"):  # one run writes the four formats (the trace is shown once, not four times)
        exports = [arg for ext in formats for arg in ("--export", str(tmp_path / f"t-{form}.{ext}"))]
        result = runner.invoke(app, ["run", str(path), "--form", form, *exports])
        assert result.exit_code == 0, (form, result.stderr)
        assert sorted(p.name for p in tmp_path.glob(f"t-{form}.*")) == [f"t-{form}.{ext}" for ext in formats]
    data = json.loads((tmp_path / "t-scalar.json").read_text())
    updates = data["iterations"][0]["update"].values()
    assert updates and all(u["state"] for u in updates if not u["frozen"])


@needs_torch
@pytest.mark.slow
@pytest.mark.parametrize("key", CONFIGS)
def test_exported_script_reproduces_bptraces_numbers(runner, tmp_path, key):
    spec = spec_with(CONFIGS[key])
    path, script = tmp_path / "net.toml", tmp_path / "net.py"
    path.write_text(to_toml(spec))
    args = ["step", str(path), "--epochs", "3", "--batch", "2", "-q", "--export", str(script)]
    assert runner.invoke(app, args).exit_code == 0
    printed = run_script(script)
    last = bptrace.train(spec, epochs=3, batch="2", show=[3]).traces[0]
    for u in last.updates:
        assert close_at(printed[f"{u.name}+"][-1], u.new), u.name
        assert close_at(printed[f"dE_total/d{u.name}"][-1], u.gradient), u.name


# ---------------------------------------------------------------- learning-rate schedules

SCHEDULES = {
    "step": {"name": "step", "step_size": 2, "gamma": 0.5},
    "exponential": {"name": "exponential", "gamma": 0.8},
    "cosine": {"name": "cosine", "T_max": 3, "eta_min": 0.01},
}
BY_HAND = {  # α of epochs 1..6 with α = 0.4, from the formulas in torch.optim.lr_scheduler's documentation
    "step": [0.4, 0.4, 0.2, 0.2, 0.1, 0.1],
    "exponential": [0.4 * 0.8 ** k for k in range(6)],
    "cosine": [0.01 + 0.39 * (1 + math.cos(math.pi * k / 3)) / 2 for k in range(6)],
}


@pytest.mark.parametrize("key", SCHEDULES)
def test_every_update_records_the_scheduled_rate(key):
    spec = {**spec_with({"name": "sgd"}, lr=0.4), "schedule": SCHEDULES[key]}
    traces = bptrace.train(spec, epochs=6, batch="2", show="all").traces
    rates = [it.learning_rate for it in traces]
    assert rates == pytest.approx([a for a in BY_HAND[key] for _ in range(2)], rel=1e-15)  # 2 updates per epoch


def test_sgd_update_uses_the_scheduled_rate_by_hand():
    x, t, w = 2.0, 1.0, 0.3
    spec = {"loss": "half_sse", "learning_rate": 0.1, "schedule": {"name": "exponential", "gamma": 0.5},
            "samples": [{"x": [x], "target": [t]}], "layers": [{"activation": "linear", "weights": [[w]]}]}
    for epoch, it in enumerate(bptrace.train(spec, epochs=4, show="all").traces, 1):
        w -= 0.1 * 0.5 ** (epoch - 1) * -(t - w * x) * x
        assert it.updates[0].new == pytest.approx(w, rel=1e-14)


@needs_torch
@pytest.mark.slow
@pytest.mark.parametrize("batch", ["online", "full"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop", "adagrad"])
@pytest.mark.parametrize("key", SCHEDULES)
def test_schedules_agree_with_torch_lr_scheduler(key, optimizer, batch):
    from bptrace import verify

    spec = {**spec_with({"name": optimizer}, lr=0.3), "schedule": SCHEDULES[key]}
    report = verify.compare(bptrace.load(spec), epochs=7, batch=batch, tol=1e-9, atol=1e-12)
    assert report.ok, [(r.name, r.ours, r.theirs) for r in report.failures()[:5]]


@needs_torch
@pytest.mark.slow
def test_verify_notices_a_schedule_bptrace_ignored(monkeypatch):
    from bptrace import schedules, verify

    spec = bptrace.load({**spec_with({"name": "sgd"}, lr=0.3), "schedule": SCHEDULES["exponential"]})
    monkeypatch.setattr(schedules, "rate", lambda spec, epoch: spec.learning_rate)
    assert not verify.compare(spec, epochs=3, batch="full").ok


@needs_torch
@pytest.mark.slow
@pytest.mark.parametrize("key", SCHEDULES)
def test_exported_script_steps_the_torch_scheduler(runner, tmp_path, key):
    spec = {**spec_with({"name": "adam"}, lr=0.3), "schedule": SCHEDULES[key]}
    path, script = tmp_path / "net.toml", tmp_path / "net.py"
    path.write_text(to_toml(spec))
    assert runner.invoke(app, ["step", str(path), "--epochs", "5", "-q", "--export", str(script)]).exit_code == 0
    assert "lr_scheduler" in script.read_text()
    printed = run_script(script)
    last = bptrace.train(spec, epochs=5, show=[5]).traces[0]
    for u in last.updates:
        assert close_at(printed[f"{u.name}+"][-1], u.new), u.name


def test_step_summary_shows_alpha_per_epoch(runner, tmp_path):
    path = tmp_path / "net.toml"
    path.write_text(to_toml({**spec_with({"name": "sgd"}, lr=0.4), "schedule": SCHEDULES["step"]}))
    out = runner.invoke(app, ["step", str(path), "--epochs", "4"], terminal_width=120).stdout
    assert "α per epoch (step schedule): 1: 0.4" in out and "3: 0.2" in out
