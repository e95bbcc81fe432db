"""Frozen weights (`frozen = true` per layer, `frozen = [names]` per parameter): p⁺ = p, the gradient still
shown; held to the published worked example, to torch.optim float64 (entries put back after step()), to the
exported PyTorch script, and rendered by KaTeX and pdflatex."""

from __future__ import annotations

import importlib.util
import json

import pytest

import bptrace
from bptrace import fastpath, tracer
from bptrace.cli import app
from conftest import BLOG, PUBLISHED
from test_torch import run_script
from test_torch_features import net

needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch is not installed")


def updates(spec) -> dict:
    return {u.name: u for u in bptrace.run(spec).iterations[0].updates}


@pytest.mark.parametrize("name", ["w5", "W^(2)_11"])  # both naming schemes name the same weight
def test_worked_example_with_w5_frozen(name):
    u = updates({**BLOG, "frozen": [name]})
    assert u["w5"].frozen and u["w5"].new == 0.45  # p⁺ = p
    assert u["w5"].gradient == pytest.approx(PUBLISHED["dE_total/dw5"], abs=5e-9)  # still shown
    for other in ("w6", "w7", "w8", "w1", "w4"):  # the rest as the post: w5's old value fed their gradients
        assert not u[other].frozen
        assert u[other].new == pytest.approx(PUBLISHED[other + "+"], abs=5e-9)


def test_a_frozen_layer_keeps_every_weight_and_bias():
    spec = {**BLOG, "layers": [BLOG["layers"][0], {**BLOG["layers"][1], "frozen": True, "bias": [0.1, 0.2]}]}
    u = updates(spec)
    for name, old in (("w5", 0.45), ("w6", 0.4), ("w7", 0.7), ("w8", 0.6), ("b1", 0.1), ("b2", 0.2)):
        assert u[name].frozen and u[name].new == old
    assert not u["w1"].frozen and u["w1"].new != 0.3


def test_frozen_entries_never_change_under_weight_decay_and_momentum_over_epochs():
    spec = bptrace.load({**BLOG, "frozen": ["w2", "w7"], "optimizer": {"name": "momentum", "weight_decay": 0.1}})
    assert not fastpath.supports(tracer.Session(spec))  # declined: the numpy session puts them back
    result = bptrace.train(spec, epochs=5)
    assert result.final["w2"] == 0.25 and result.final["w7"] == 0.7
    assert result.final["w1"] != 0.3


def test_grad_norm_leaves_frozen_parameters_out():
    it = bptrace.run({**BLOG, "frozen": ["w5"]}).iterations[0]
    g = [PUBLISHED[f"dE_total/dw{i}"] for i in (1, 2, 3, 4, 6, 7, 8)]  # every published gradient but w5's
    assert it.grad_norm == pytest.approx(sum(v * v for v in g) ** 0.5, abs=1e-8)


def test_json_export_keeps_the_frozen_names(tmp_path, runner):
    path = tmp_path / "f.toml"
    path.write_text('frozen = ["w5", "w2"]\n' + open("samples/blog.toml").read())
    out = tmp_path / "f.json"
    assert runner.invoke(app, ["run", str(path), "-o", str(out)]).exit_code == 0
    d = json.loads(out.read_text())
    assert d["spec"]["frozen"] == ["w2", "w5"]
    assert bptrace.load({**BLOG, "frozen": d["spec"]["frozen"]}).frozen == bptrace.load(path).frozen  # read back


CONFIGS = {
    "sgd-wd": {"name": "sgd", "weight_decay": 0.05},
    "momentum-wd": {"name": "momentum", "momentum": 0.8, "weight_decay": 0.05},
    "adam-wd": {"name": "adam", "weight_decay": 0.05},
    "rmsprop-wd": {"name": "rmsprop", "momentum": 0.3, "weight_decay": 0.05},
}
FROZEN = {  # per layer, per parameter (weights and a bias, seed and layered names), both
    "layer": lambda s: {**s, "layers": [s["layers"][0], {**s["layers"][1], "frozen": True}, s["layers"][2]]},
    "params": lambda s: {**s, "frozen": ["w2", "W^(3)_12", "b3"]},
    "both": lambda s: {**s, "frozen": ["w1", "b5"], "layers": [{**s["layers"][0], "frozen": True}, *s["layers"][1:]]},
}


@needs_torch
@pytest.mark.slow
@pytest.mark.parametrize("batch", ["online", "full"])
@pytest.mark.parametrize("how", FROZEN)
@pytest.mark.parametrize("key", CONFIGS)
def test_verify_agrees_with_torch_optim(key, how, batch):
    from bptrace import verify

    spec = FROZEN[how]({**net("tanh", {}), "optimizer": CONFIGS[key], "learning_rate": 0.1,
                        "schedule": {"name": "step", "step_size": 2, "gamma": 0.5}})
    report = verify.compare(bptrace.load(spec), epochs=5, batch=batch, tol=1e-9, atol=1e-12)
    assert report.ok, [(r.name, r.ours, r.theirs) for r in report.failures()[:5]]


@needs_torch
@pytest.mark.slow
def test_exported_script_reproduces_the_frozen_run(runner, tmp_path):
    path = tmp_path / "f.toml"
    path.write_text('frozen = ["w5", "w2"]\noptimizer = { name = "adam", weight_decay = 0.1 }\n'
                    + open("samples/blog.toml").read())
    script = tmp_path / "f.py"
    assert runner.invoke(app, ["step", str(path), "--epochs", "3", "-q", "--export", str(script)]).exit_code == 0
    printed = run_script(script)
    assert printed["w5+"] == [0.45, 0.45] and printed["w2+"] == [0.25, 0.25]
    final = bptrace.train(bptrace.load(path), epochs=3).final
    assert printed["w6+"][-1] == pytest.approx(final["w6"], abs=5e-9)


@pytest.mark.engines
@pytest.mark.parametrize("form", ["scalar", "matrix"])
def test_frozen_rows_render_in_katex_and_pdflatex(runner, tmp_path, form):
    from engines_support import compile_tex, ensure_pdflatex, katex_errors, tex_errors

    path = tmp_path / "f.toml"
    path.write_text('frozen = ["w5"]\noptimizer = { name = "adam", weight_decay = 0.1 }\n'
                    + open("samples/blog.toml").read())
    texts = {}
    for suffix in (".md", ".tex"):
        out = tmp_path / f"f{suffix}"
        result = runner.invoke(app, ["run", str(path), "--form", form, "--export", str(out)])
        assert result.exit_code == 0, result.output
        texts[suffix] = out.read_text(encoding="utf-8")
        assert "frozen" in texts[suffix]
    assert not katex_errors(texts[".md"])
    ensure_pdflatex()
    ok, log = compile_tex(texts[".tex"])
    assert ok, tex_errors(log)
