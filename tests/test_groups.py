"""Per-layer learning rate and weight decay (PyTorch parameter groups): `learning_rate`, `weight_decay` and
`bias_weight_decay` in [[layers]], `bias_weight_decay` in [optimizer]. Held to the published worked example,
to updates worked out here from the formulas, to torch.optim with param groups written out here (float64,
rel 1e-9), to `verify` and to the exported PyTorch script."""

from __future__ import annotations

import importlib.util
import json
import math

import pytest

import bptrace
from bptrace import fastpath, tracer
from bptrace.cli import app
from conftest import BLOG, PUBLISHED
from test_torch import close_at, run_script, to_toml

needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch is not installed")


def updates(spec, **kw) -> dict:
    return {u.name: u for u in bptrace.run(spec, **kw).iterations[0].updates}


def with_layer(spec: dict, l: int, **own) -> dict:
    """The spec with layer l (0-based) given its own keys."""
    layers = [dict(layer) for layer in spec["layers"]]
    layers[l].update(own)
    return {**spec, "layers": layers}


# ---------------------------------------------------------------- the worked example, by hand

def test_worked_example_with_its_output_layer_at_a_quarter():
    u = updates(with_layer(BLOG, 1, learning_rate=0.25))
    # w5⁺ = 0.45 − 0.25 × 0.02592286 = 0.443519285 (the published gradient, 8 decimals)
    assert u["w5"].new == pytest.approx(0.443519285, abs=5e-9)
    for name, old in (("w6", 0.4), ("w7", 0.7), ("w8", 0.6)):
        assert u[name].new == pytest.approx(old - 0.25 * PUBLISHED[f"dE_total/d{name}"], abs=5e-9)
        assert u[name].learning_rate == 0.25
    # layer 1 keeps α = 0.5: w1⁺ = 0.3 − 0.5 × 0.00080888 = 0.29959556, the published w1⁺
    assert u["w1"].new == pytest.approx(0.3 - 0.5 * PUBLISHED["dE_total/dw1"], abs=5e-9)
    assert u["w1"].new == pytest.approx(PUBLISHED["w1+"], abs=5e-9)
    assert u["w1"].learning_rate == 0.5


def test_worked_example_with_its_hidden_layer_at_a_tenth():
    u = updates(with_layer(BLOG, 0, learning_rate=0.1))
    # w1⁺ = 0.3 − 0.1 × 0.00080888 = 0.299919112; the output layer keeps the published w5⁺
    assert u["w1"].new == pytest.approx(0.299919112, abs=5e-9)
    assert u["w4"].new == pytest.approx(0.35 - 0.1 * PUBLISHED["dE_total/dw4"], abs=5e-9)
    assert u["w5"].new == pytest.approx(PUBLISHED["w5+"], abs=5e-9)


def test_lr_flag_sets_the_spec_rate_and_a_layer_keeps_its_own(runner, tmp_path):
    # as the lr given to a torch.optim constructor: it applies to the groups that name none
    u = updates(with_layer(BLOG, 1, learning_rate=0.25), learning_rate=0.1)
    assert u["w1"].new == pytest.approx(0.3 - 0.1 * PUBLISHED["dE_total/dw1"], abs=5e-9)
    assert u["w5"].new == pytest.approx(0.443519285, abs=5e-9)
    path = tmp_path / "g.toml"
    path.write_text(to_toml(with_layer(BLOG, 1, learning_rate=0.25)))
    result = runner.invoke(app, ["run", str(path), "--lr", "0.1", "--precision", "9"])
    assert result.exit_code == 0, result.output
    assert "layer 1: α = 0.1; layer 2: α = 0.25" in result.output
    assert "0.443519286" in result.output  # w5⁺ = 0.443519285…, 9 decimals


def single_neuron(optimizer: dict, lr: float = 0.5, **own) -> dict:
    """o = w·x + b, E = ½(t − o)²: ∂E/∂w = −(t − o)·x and ∂E/∂b = −(t − o), written out in the tests."""
    return {"loss": "half_sse", "learning_rate": lr, "optimizer": optimizer,
            "samples": [{"x": [2.0], "target": [1.0]}],
            "layers": [{"activation": "linear", "weights": [[0.3]], "bias": [0.2], **own}]}


def test_no_decay_on_biases_is_one_line():
    u = updates(single_neuron({"name": "sgd", "weight_decay": 0.1, "bias_weight_decay": 0.0}))
    o = 0.3 * 2.0 + 0.2
    gw, gb = -(1.0 - o) * 2.0, -(1.0 - o)
    assert u["w1"].new == pytest.approx(0.3 - 0.5 * (gw + 0.1 * 0.3), rel=1e-12)  # p − α·(g + λp)
    assert u["b1"].new == pytest.approx(0.2 - 0.5 * gb, rel=1e-12)  # p − α·g: no decay
    assert (u["w1"].weight_decay, u["b1"].weight_decay) == (0.1, 0.0)


def test_the_most_specific_decay_wins():
    # layer λ 0.3 over the optimizer's 0.1 for the weights; the layer's bias_weight_decay over both
    spec = single_neuron({"name": "sgd", "weight_decay": 0.1, "bias_weight_decay": 0.0}, weight_decay=0.3,
                         bias_weight_decay=0.2)
    u = updates(spec)
    o = 0.3 * 2.0 + 0.2
    assert u["w1"].new == pytest.approx(0.3 - 0.5 * (-(1.0 - o) * 2.0 + 0.3 * 0.3), rel=1e-12)
    assert u["b1"].new == pytest.approx(0.2 - 0.5 * (-(1.0 - o) + 0.2 * 0.2), rel=1e-12)


def test_adamw_decouples_each_groups_decay_with_its_own_alpha():
    spec = single_neuron({"name": "adamw", "weight_decay": 0.1, "bias_weight_decay": 0.0}, learning_rate=0.2)
    u = updates(spec)
    o = 0.3 * 2.0 + 0.2
    gw, gb = -(1.0 - o) * 2.0, -(1.0 - o)
    # first step: m̂ = g, v̂ = g², so p⁺ = p·(1 − αλ) − α·g/(|g| + ε), with the layer's α = 0.2
    assert u["w1"].new == pytest.approx(0.3 * (1 - 0.2 * 0.1) - 0.2 * gw / (abs(gw) + 1e-8), rel=1e-12)
    assert u["b1"].new == pytest.approx(0.2 - 0.2 * gb / (abs(gb) + 1e-8), rel=1e-12)
    assert u["w1"].learning_rate == 0.2


def test_each_group_follows_the_schedule_from_its_own_rate():
    spec = {**with_layer(BLOG, 1, learning_rate=0.3),
            "schedule": {"name": "cosine", "T_max": 4, "eta_min": 0.01}}
    traces = bptrace.train(spec, epochs=3, show=[1, 2, 3]).traces
    for epoch, it in enumerate(traces, 1):
        u = {x.name: x for x in it.updates}
        c = (1 + math.cos(math.pi * (epoch - 1) / 4)) / 2  # η_min + (α − η_min)·c, each group's own α
        assert u["w1"].learning_rate == pytest.approx(0.01 + (0.5 - 0.01) * c, rel=1e-12)
        assert u["w5"].learning_rate == pytest.approx(0.01 + (0.3 - 0.01) * c, rel=1e-12)
        assert it.learning_rate == pytest.approx(0.01 + (0.5 - 0.01) * c, rel=1e-12)
        assert u["w5"].new == pytest.approx(u["w5"].old - u["w5"].learning_rate * u["w5"].gradient, rel=1e-12)


def test_step_schedule_halves_every_group():
    spec = {**with_layer(BLOG, 1, learning_rate=0.25), "schedule": {"name": "step", "step_size": 1, "gamma": 0.5}}
    it = bptrace.train(spec, epochs=3, show=[3]).traces[0]
    u = {x.name: x for x in it.updates}
    assert (u["w1"].learning_rate, u["w5"].learning_rate) == (0.125, 0.0625)


def test_fast_path_declines_and_training_matches_traced_steps():
    spec = bptrace.load(with_layer(BLOG, 1, learning_rate=0.25))
    assert not fastpath.supports(tracer.Session(spec))
    assert fastpath.supports(tracer.Session(bptrace.load(BLOG)))
    final = bptrace.train(spec, epochs=1).final
    assert final["w5"] == pytest.approx(0.443519285, abs=5e-9)


def test_without_groups_updates_carry_no_rate_of_their_own():
    u = updates(BLOG)
    assert all(x.learning_rate is None and x.weight_decay is None for x in u.values())


# ---------------------------------------------------------------- exports

def grouped_file(tmp_path, extra: str = "") -> str:
    path = tmp_path / "g.toml"
    path.write_text(to_toml(with_layer(BLOG, 1, learning_rate=0.25)) + extra)
    return str(path)


def test_json_records_each_updates_rate_and_reads_the_spec_back(runner, tmp_path):
    import jsonschema

    from bptrace.exports import json_

    out = tmp_path / "g.json"
    assert runner.invoke(app, ["run", grouped_file(tmp_path), "-o", str(out)]).exit_code == 0
    d = json.loads(out.read_text())
    jsonschema.validate(d, json.loads(json_.schema_text()))
    update = d["iterations"][0]["update"]
    assert (update["w5"]["learning_rate"], update["w1"]["learning_rate"]) == (0.25, 0.5)
    assert update["w5"]["weight_decay"] == 0.0
    assert d["spec"]["layers"][1]["learning_rate"] == 0.25 and "learning_rate" not in d["spec"]["layers"][0]
    keys = ("activation", "weights", "learning_rate", "weight_decay", "bias_weight_decay")
    layers = [{k: v for k, v in layer.items() if k in keys} for layer in d["spec"]["layers"]]
    assert bptrace.load({**BLOG, "layers": layers}) == bptrace.load(with_layer(BLOG, 1, learning_rate=0.25))


def test_json_schema_refuses_a_negative_layer_rate():
    import jsonschema

    from bptrace.exports import json_

    d = json.loads(json_.trace_json(bptrace.run(with_layer(BLOG, 1, learning_rate=0.25))))
    d["spec"]["layers"][1]["learning_rate"] = -1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(d, json.loads(json_.schema_text()))


def test_streamed_jsonl_follows_the_schedule(runner, tmp_path):
    # a streamed update's numbers are filled into a template made once: α is no constant of it
    extra = '\n[schedule]\nname = "step"\nstep_size = 1\ngamma = 0.5\n'
    out = tmp_path / "g.jsonl"
    args = ["step", grouped_file(tmp_path, extra), "--epochs", "3", "--show", "all", "-q", "-o", str(out)]
    assert runner.invoke(app, args).exit_code == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    its = [x for x in lines if x.get("kind") == "iteration"]
    assert [x["learning_rate"] for x in its] == [0.5, 0.25, 0.125]
    assert [x["update"]["w5"]["learning_rate"] for x in its] == [0.25, 0.125, 0.0625]


def test_every_text_export_shows_the_layers_own_rate(runner, tmp_path):
    path = grouped_file(tmp_path)
    for suffix, needle in ((".md", r"0.45 - 0.25\times0.02592286"), (".tex", r"0.45 - 0.25\times0.02592286"),
                           (".walk.html", "<mn>0.25</mn><mo>×</mo><mn>0.02592286</mn>"),
                           (".html", "layer 2: α = 0.25")):
        out = tmp_path / f"g{suffix}"
        assert runner.invoke(app, ["run", path, "-o", str(out)]).exit_code == 0
        text = out.read_text(encoding="utf-8")
        assert needle in text, suffix
    md = (tmp_path / "g.md").read_text(encoding="utf-8")
    assert r"0.3 - 0.5\times0.00080888" in md  # layer 1 keeps α = 0.5
    assert "layer 2: $\\alpha$ = 0.25" in md


def test_terminal_and_matrix_form_show_each_layers_rate(runner, tmp_path):
    result = runner.invoke(app, ["run", grouped_file(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "Updates (sgd; layer 1: α = 0.5; layer 2: α = 0.25)" in result.output
    assert "learning rate α = 0.5 (layer 1: α = 0.5; layer 2: α = 0.25)" in result.output
    result = runner.invoke(app, ["run", grouped_file(tmp_path), "--form", "matrix"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    w2 = next(i for i, line in enumerate(lines) if line.startswith("W⁽²⁾⁺ = W⁽²⁾ − α"))
    assert "− 0.25 ⎡" in "\n".join(lines[w2:w2 + 4])
    w1 = next(i for i, line in enumerate(lines) if line.startswith("W⁽¹⁾⁺ = W⁽¹⁾ − α"))
    assert "− 0.5 ⎡" in "\n".join(lines[w1:w1 + 4])


def test_check_grades_an_update_with_its_layers_rate(runner, tmp_path):
    answers = tmp_path / "a.toml"
    answers.write_text('"w5+" = 0.44351929\n"w1+" = 0.29959556\n')
    result = runner.invoke(app, ["check", grouped_file(tmp_path), str(answers)])
    assert result.exit_code == 0, result.output


# ---------------------------------------------------------------- torch.optim with param groups, written out here

SPEC = {  # 2-3-2, per-neuron biases, three samples
    "loss": "half_sse", "learning_rate": 0.1,
    "samples": [{"x": [0.5, -1.0], "target": [0.01, 0.99]}, {"x": [-0.3, 0.8], "target": [0.3, 0.7]},
                {"x": [0.9, 0.1], "target": [1.0, 0.0]}],
    "layers": [{"activation": "tanh", "weights": [[0.4, -0.6], [0.3, 0.2], [-0.5, 0.1]], "bias": [0.1, -0.1, 0.2],
                "learning_rate": 0.05, "weight_decay": 0.03},
               {"activation": "sigmoid", "weights": [[0.2, -0.3, 0.5], [0.1, 0.4, -0.2]], "bias": [0.05, -0.05],
                "learning_rate": 0.2}],
}
OPTIMIZERS = {
    "sgd": ({"name": "sgd", "weight_decay": 0.01}, lambda o, g: o.SGD(g, lr=0.1, weight_decay=0.01)),
    "momentum": ({"name": "momentum", "momentum": 0.8, "nesterov": True, "weight_decay": 0.01},
                 lambda o, g: o.SGD(g, lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.01)),
    "adam": ({"name": "adam", "weight_decay": 0.01, "amsgrad": True},
             lambda o, g: o.Adam(g, lr=0.1, weight_decay=0.01, amsgrad=True)),
    "adamw": ({"name": "adamw", "weight_decay": 0.01}, lambda o, g: o.AdamW(g, lr=0.1, weight_decay=0.01)),
    "rmsprop": ({"name": "rmsprop", "momentum": 0.3, "centered": True, "weight_decay": 0.01},
                lambda o, g: o.RMSprop(g, lr=0.1, momentum=0.3, centered=True, weight_decay=0.01)),
    "adagrad": ({"name": "adagrad", "lr_decay": 0.1, "weight_decay": 0.01},
                lambda o, g: o.Adagrad(g, lr=0.1, lr_decay=0.1, weight_decay=0.01)),
}
SCHEDULES = {
    "none": (None, None),
    "step": ({"name": "step", "step_size": 2, "gamma": 0.5}, lambda s, o: s.StepLR(o, step_size=2, gamma=0.5)),
    "exponential": ({"name": "exponential", "gamma": 0.8}, lambda s, o: s.ExponentialLR(o, gamma=0.8)),
    "cosine": ({"name": "cosine", "T_max": 3, "eta_min": 0.02}, lambda s, o: s.CosineAnnealingLR(o, T_max=3, eta_min=0.02)),
}


def torch_run(opt_key: str, sched_key: str, epochs: int) -> list[float]:
    """SPEC trained in PyTorch, full batch: every parameter after the last epoch (W1 row by row, b1, W2, b2)."""
    import torch

    l1, l2 = torch.nn.Linear(2, 3, dtype=torch.float64), torch.nn.Linear(3, 2, dtype=torch.float64)
    with torch.no_grad():
        for lin, layer in zip((l1, l2), SPEC["layers"]):
            lin.weight.copy_(torch.tensor(layer["weights"], dtype=torch.float64))
            lin.bias.copy_(torch.tensor(layer["bias"], dtype=torch.float64))
    # the spec's groups as a PyTorch user writes them; no decay on biases
    param_groups = [{"params": [l1.weight], "lr": 0.05, "weight_decay": 0.03},
                    {"params": [l1.bias], "lr": 0.05, "weight_decay": 0.0},
                    {"params": [l2.weight], "lr": 0.2},
                    {"params": [l2.bias], "lr": 0.2, "weight_decay": 0.0}]
    opt = OPTIMIZERS[opt_key][1](torch.optim, param_groups)
    sched = SCHEDULES[sched_key][1](torch.optim.lr_scheduler, opt) if SCHEDULES[sched_key][1] else None
    X = torch.tensor([s["x"] for s in SPEC["samples"]], dtype=torch.float64)
    T = torch.tensor([s["target"] for s in SPEC["samples"]], dtype=torch.float64)
    for _ in range(epochs):
        opt.zero_grad()
        o = torch.sigmoid(l2(torch.tanh(l1(X))))
        (0.5 * (T - o) ** 2).sum(dim=1).mean().backward()  # half_sse per sample, the batch's mean
        opt.step()
        if sched:
            sched.step()
    return [v for p in (l1.weight, l1.bias, l2.weight, l2.bias) for v in p.detach().flatten().tolist()]


@needs_torch
@pytest.mark.slow
@pytest.mark.parametrize("sched_key", SCHEDULES)
@pytest.mark.parametrize("opt_key", OPTIMIZERS)
def test_training_agrees_with_torch_param_groups(opt_key, sched_key):
    spec = {**SPEC, "optimizer": {**OPTIMIZERS[opt_key][0], "bias_weight_decay": 0.0}}
    if SCHEDULES[sched_key][0]:
        spec["schedule"] = SCHEDULES[sched_key][0]
    result = bptrace.train(spec, epochs=5, batch="full")
    names = bptrace.naming.for_spec(bptrace.load(spec)).params()
    for name, theirs in zip(names, torch_run(opt_key, sched_key, 5)):
        assert result.final[name] == pytest.approx(theirs, rel=1e-9, abs=1e-12), name


@needs_torch
@pytest.mark.slow
@pytest.mark.parametrize("batch", ["online", "2"])
@pytest.mark.parametrize("opt_key", OPTIMIZERS)
def test_verify_agrees_with_torch_param_groups(opt_key, batch):
    from bptrace import verify

    spec = {**SPEC, "optimizer": {**OPTIMIZERS[opt_key][0], "bias_weight_decay": 0.0},
            "schedule": {"name": "exponential", "gamma": 0.7}}
    report = verify.compare(bptrace.load(spec), epochs=4, batch=batch, tol=1e-9, atol=1e-12)
    assert report.ok, [(r.name, r.ours, r.theirs) for r in report.failures()[:5]]


@needs_torch
def test_verify_catches_a_group_rate_torch_does_not_have(monkeypatch):
    # the comparison can fail: torch given the spec's α for every parameter disagrees on layer 2
    from bptrace import verify

    monkeypatch.setattr(verify, "param_groups", lambda spec, params: params)
    report = verify.compare(bptrace.load(with_layer(BLOG, 1, learning_rate=0.25)), epochs=1)
    assert not report.ok and {r.name for r in report.failures()} == {"w5+", "w6+", "w7+", "w8+"}


@needs_torch
def test_exported_script_builds_param_groups_and_prints_the_same_numbers(runner, tmp_path):
    spec = {**SPEC, "optimizer": {"name": "adamw", "weight_decay": 0.01, "bias_weight_decay": 0.0},
            "schedule": {"name": "cosine", "T_max": 3, "eta_min": 0.02}}
    path, script = tmp_path / "g.toml", tmp_path / "g.py"
    path.write_text(to_toml(spec))
    assert runner.invoke(app, ["step", str(path), "--epochs", "4", "-q", "--export", str(script)]).exit_code == 0
    text = script.read_text()
    assert 'torch.optim.AdamW([  # parameter groups' in text
    assert '{"params": [model[0].weight], "lr": 0.05, "weight_decay": 0.03},' in text
    assert '{"params": [model[0].bias], "lr": 0.05, "weight_decay": 0.0},' in text
    printed = run_script(script)
    last = bptrace.train(spec, epochs=4, show=[4]).traces[0]
    for u in last.updates:
        assert close_at(printed[f"{u.name}+"][-1], u.new), u.name
        assert close_at(printed[f"dE_total/d{u.name}"][-1], u.gradient), u.name


@pytest.mark.engines
@pytest.mark.parametrize("form", ["scalar", "matrix"])
def test_group_headers_render_in_katex_and_pdflatex(runner, tmp_path, form):
    from engines_support import compile_tex, ensure_pdflatex, katex_errors, tex_errors

    spec = {**with_layer(BLOG, 1, learning_rate=0.25, weight_decay=0.01), "optimizer": {"name": "adamw"}}
    path = tmp_path / "g.toml"
    path.write_text(to_toml(spec))
    texts = {}
    for suffix in (".md", ".tex"):
        out = tmp_path / f"g{suffix}"
        result = runner.invoke(app, ["run", str(path), "--form", form, "--export", str(out)])
        assert result.exit_code == 0, result.output
        texts[suffix] = out.read_text(encoding="utf-8")
        assert "layer 2: $\\alpha$ = 0.25, $\\lambda$ = 0.01" in texts[suffix]
    assert not katex_errors(texts[".md"])
    ensure_pdflatex()
    ok, log = compile_tex(texts[".tex"])
    assert ok, tex_errors(log)


def test_quiz_gives_each_layers_rate_and_keys_its_update(runner, tmp_path, monkeypatch):
    spec = grouped_file(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["quiz", spec]).exit_code == 0
    exercise = (tmp_path / "quiz" / "exercise.md").read_text(encoding="utf-8")
    assert "$\\alpha = 0.5$ (layer 1: $\\alpha$ = 0.5; layer 2: $\\alpha$ = 0.25). One update" in exercise
    assert "`w5+` = 0.44351929" in (tmp_path / "quiz" / "key.md").read_text(encoding="utf-8")


def test_json_echoes_the_optimizers_bias_decay():
    import jsonschema

    from bptrace.exports import json_

    spec = single_neuron({"name": "adamw", "bias_weight_decay": 0.0})
    d = json.loads(json_.trace_json(bptrace.run(spec)))
    jsonschema.validate(d, json.loads(json_.schema_text()))
    assert d["spec"]["optimizer"]["bias_weight_decay"] == 0.0
    assert d["iterations"][0]["update"]["b1"]["weight_decay"] == 0.0
    assert d["iterations"][0]["update"]["w1"]["weight_decay"] == 0.01  # AdamW's default λ
    assert "bias_weight_decay" not in json.loads(json_.trace_json(bptrace.run(BLOG)))["spec"]["optimizer"]
