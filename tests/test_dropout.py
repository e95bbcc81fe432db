"""Dropout (bptrace.dropout): the sample's numbers worked by hand from the published example's, finite
differences with the mask held fixed, PyTorch float64 with the same mask, the seeded mask, eval mode,
names in both schemes, and every presenter."""

import json
import math
from pathlib import Path

import pytest

import bptrace
from bptrace import spec as spec_
from bptrace.gradcheck import gradcheck

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "dropout.toml"


def sig(z):
    return 1 / (1 + math.exp(-z))


def by_hand():
    """The worked example (x = 0.1, 0.2; target 0.4, 0.6; w1..w8 = 0.3 0.25 0.4 0.35 0.45 0.4 0.7 0.6; α = 0.5)
    with p = 0.5 and mask [1, 0], written out the textbook way."""
    x1, x2, t1, t2, p = 0.1, 0.2, 0.4, 0.6, 0.5
    w1, w2, w3, w4, w5, w6, w7, w8 = 0.3, 0.25, 0.4, 0.35, 0.45, 0.4, 0.7, 0.6
    z1, z2 = w1 * x1 + w2 * x2, w3 * x1 + w4 * x2
    h1, h2 = sig(z1), sig(z2)
    ht1, ht2 = 1 * h1 / (1 - p), 0 * h2 / (1 - p)  # inverted dropout: kept h1 doubled, h2 dropped
    z3, z4 = w5 * ht1 + w6 * ht2, w7 * ht1 + w8 * ht2
    o1, o2 = sig(z3), sig(z4)
    E = 0.5 * (t1 - o1) ** 2 + 0.5 * (t2 - o2) ** 2
    d1, d2 = (o1 - t1) * o1 * (1 - o1), (o2 - t2) * o2 * (1 - o2)
    dh1 = (d1 * w5 + d2 * w7) * (1 / (1 - p))  # ∂E/∂h1 = ∂E/∂h̃1 · m1/(1 − p)
    dh2 = (d1 * w6 + d2 * w8) * (0 / (1 - p))
    g = {"w5": d1 * ht1, "w6": d1 * ht2, "w7": d2 * ht1, "w8": d2 * ht2,
         "w1": dh1 * h1 * (1 - h1) * x1, "w2": dh1 * h1 * (1 - h1) * x2,
         "w3": dh2 * h2 * (1 - h2) * x1, "w4": dh2 * h2 * (1 - h2) * x2}
    old = dict(w1=w1, w2=w2, w3=w3, w4=w4, w5=w5, w6=w6, w7=w7, w8=w8)
    new = {k: old[k] - 0.5 * g[k] for k in g}
    return dict(z1=z1, z2=z2, h1=h1, h2=h2, ht1=ht1, ht2=ht2, z3=z3, z4=z4, o1=o1, o2=o2, E=E,
                dh1=dh1, dh2=dh2, g=g, new=new)


def test_sample_by_hand():
    hand = by_hand()
    t = bptrace.run(str(SAMPLE))
    for name in ("z1", "z2", "h1", "h2", "z3", "z4", "o1", "o2"):
        assert t.value(name) == pytest.approx(hand[name], rel=1e-12)
    assert t.value("h̃1") == pytest.approx(hand["ht1"], rel=1e-12)
    assert t.value("h~2") == 0
    assert (t.value("m_h1"), t.value("m_h2")) == (1, 0)
    assert t.value("∂h̃1/∂h1") == 2 and t.value("dh~2/dh2") == 0
    assert t.value("E_total") == pytest.approx(hand["E"], rel=1e-12)
    assert t.value("dE_total/dh1") == pytest.approx(hand["dh1"], rel=1e-12)
    assert t.value("dE_total/dh2") == 0
    for w, g in hand["g"].items():
        assert t.value(f"dE_total/d{w}") == pytest.approx(g, rel=1e-12, abs=1e-15)
        assert t.value(f"{w}+") == pytest.approx(hand["new"][w], rel=1e-12)
    # the dropped unit h2: every weight into it and out of it has gradient 0 and keeps its value
    for w, v in {"w3": 0.4, "w4": 0.35, "w6": 0.4, "w8": 0.6}.items():
        assert t.value(f"dE_total/d{w}") == 0 and t.value(f"{w}+") == v


def test_the_blog_example_without_dropout_is_unchanged():
    """p = 0 (or no dropout key) is the worked example exactly."""
    text = SAMPLE.read_text().replace("dropout = 0.5", "dropout = 0").replace("mask = [1, 0]", "")
    a, b = bptrace.run(spec_.loads(text)), bptrace.run("blog")
    assert [q for q in a.iterations[0].quantities()] == [q for q in b.iterations[0].quantities()]


DEEP = """
learning_rate = 0.5
seed = 3
[[samples]]
x = [0.05, 0.10]
target = [0.01, 0.99]
[[samples]]
x = [0.5, -0.2]
target = [0.7, 0.1]
[[layers]]
activation = "tanh"
units = 3
bias = "zeros"
dropout = 0.4
[[layers]]
activation = "sigmoid"
units = 3
bias = 0.1
dropout = 0.3
mask = [[1, 1, 0], [0, 1, 1]]
[[layers]]
activation = "sigmoid"
units = 2
"""


@pytest.mark.parametrize("text", [SAMPLE.read_text(), DEEP])
def test_finite_differences_with_the_mask_held(text):
    rows = gradcheck(spec_.loads(text))
    assert all(r.agrees for r in rows)
    assert any(r.analytic == 0 for r in rows)  # a dropped unit's weights


def test_seeded_mask_is_drawn_once_and_recorded():
    s = spec_.loads(DEEP)
    first = s.layers[0]
    assert first.mask_init == "seed" and len(first.mask) == 2 and all(m in (0, 1) for row in first.mask for m in row)
    assert spec_.loads(DEEP).layers[0].mask == first.mask  # the same seed, the same mask
    assert spec_.loads(DEEP.replace("seed = 3", "seed = 4")).layers[0].weights != first.weights
    d = s.to_dict()
    assert d["layers"][0]["mask"] == [list(r) for r in first.mask] and d["layers"][0]["dropout"] == 0.4
    assert "dropout" not in spec_.loads(SAMPLE.read_text().replace("dropout = 0.5", "").replace("mask = [1, 0]", "")
                                        ).to_dict()["layers"][0]
    # the trace records it: sample 2's masks as drawn
    t = bptrace.run(s, sample=2)
    assert [t.value(f"m_h{j}") for j in (1, 2, 3)] == list(first.mask[1])


def test_seeded_mask_keeps_the_weights_draws():
    """Drawing masks does not move the weights' random stream."""
    plain = spec_.loads(DEEP.replace("dropout = 0.4\n", "", 1))
    assert plain.layers[0].weights == spec_.loads(DEEP).layers[0].weights


def test_eval_mode_final_outputs():
    """After training, the outputs are eval mode's: no mask, no scaling (model.eval())."""
    import numpy as np

    from bptrace import engine

    s = spec_.loads(DEEP)
    r = bptrace.train(s, epochs=2, batch="full")
    net, flat, i = engine.Network.from_spec(s), list(r.final_values), 0
    for l in range(len(net.W)):  # the final parameters, in naming order: each layer's W row by row, then b
        for a in (net.W[l], net.b[l]):
            if a is not None:
                a[...] = np.array(flat[i:i + a.size]).reshape(a.shape)
                i += a.size
    X = np.array([smp.x for smp in s.samples])
    eval_out = engine.forward(net, X)[1][-1]
    train_out = engine.forward(net, X, net.keep([0, 1]))[1][-1]
    assert np.array_equal(np.asarray(r.final_outputs), eval_out)
    assert not np.allclose(eval_out, train_out)


def test_check_accepts_both_schemes():
    seed = {"h̃1": 1.03997868, "h~2": 0, "m_h1": 1, "∂h̃1/∂h1": 2, "dh~2/dh2": 0}
    report = bptrace.check_answers(str(SAMPLE), "\n".join(f'"{k}" = {v}' for k, v in seed.items()))
    assert report.ok
    layered = {"ã^(1)_1": 1.03997868, "a~^(1)_2": 0, "m^(1)_1": 1, "∂ã^(1)_1/∂a^(1)_1": 2}
    report = bptrace.check_answers(str(SAMPLE), "\n".join(f'"{k}" = {v}' for k, v in layered.items()), naming="layered")
    assert report.ok


def test_names_in_every_notation():
    from bptrace.naming import for_spec
    from bptrace.notation import leaf, name, partial

    s = spec_.load(SAMPLE)
    seed, layered = for_spec(s, "seed"), for_spec(s, "layered")
    assert [name(leaf("drop", 0, 0), seed, st) for st in ("ascii", "unicode", "latex")] == ["h~1", "h\u03031", r"\tilde{h}_{1}"]
    assert [name(leaf("mask", 0, 1), seed, st) for st in ("ascii", "unicode", "latex")] == ["m_h2", "m_h2", "m_{h_{2}}"]
    assert name(leaf("drop", 0, 0), layered, "latex") == r"\tilde{a}^{(1)}_{1}"
    assert name(leaf("mask", 0, 0), layered) == "m^(1)_1"
    assert name(partial(leaf("drop", 0, 0), leaf("out", 0, 0)), seed, "unicode") == "∂h\u03031/∂h1"


def test_every_format_shows_dropout(tmp_path):
    t = bptrace.run(str(SAMPLE))
    md, tex, js = (bptrace.to_text(t, f) for f in ("md", "tex", "json"))
    assert "\\tilde{h}_{1} = \\frac{m_{h_{1}}h_{1}}{1 - p}" in md and "inverted scaling" in md
    assert "\\tilde{h}_{1} &= \\frac{m_{h_{1}}h_{1}}{1 - p}" in tex and r"$\tilde{h} = m\,h / (1 - p)$" in tex
    doc = json.loads(js)
    fwd = doc["iterations"][0]["passes"][0]["forward"]
    assert fwd["m_h2"] == 0 and fwd["h~2"] == 0 and fwd["h~1"] == pytest.approx(by_hand()["ht1"], rel=1e-15)
    assert doc["quantities"]["h~1"]["kind"] == "dropped" and doc["quantities"]["m_h1"]["kind"] == "dropout_mask"
    assert doc["spec"]["layers"][0]["mask"] == [[1, 0]]
    html = bptrace.to_text(t, "html")
    assert "h̃1" in html
    walk = bptrace.to_text(t, "walk")
    assert "h~1" in walk


def test_matrix_form():
    from bptrace import matrix

    t = bptrace.run(str(SAMPLE))
    view = matrix.build(t.iterations[0])
    fwd, back = view.passes[0]
    syms = [e.formula for e in fwd.equations]
    assert "h̃⁽¹⁾ = m⁽¹⁾ ⊙ h⁽¹⁾ / (1 − p)" in syms
    assert any("m⁽¹⁾/(1−p)" in e.formula for s in back for e in s.equations)
    assert any(e.formula == "∂E/∂W⁽²⁾ = δ⁽²⁾ h̃⁽¹⁾ᵀ" for s in back for e in s.equations)


def test_walk_steps_and_focus():
    from bptrace import walk

    t = bptrace.run(str(SAMPLE))
    steps = walk.steps(t)
    keys = [s.key for s in steps]
    assert "h~1" in keys and "m_h1" not in keys  # a mask is given, as an input is
    chain = [s.key for s in walk.focus(steps, "w1")]
    assert "dh~1/dh1" in chain


def test_fast_path_declines():
    from bptrace import fastpath
    from bptrace.tracer import Session

    assert not fastpath.supports(Session(spec_.load(SAMPLE)))


@pytest.mark.slow
@pytest.mark.parametrize("epochs,batch", [(None, "online"), (3, "online"), (3, "full"), (2, 1)])
def test_verify_against_torch(epochs, batch):
    pytest.importorskip("torch")
    from bptrace import verify

    for text in (SAMPLE.read_text(), DEEP):
        report = verify.compare(spec_.loads(text), epochs=epochs, batch=batch)
        assert report.ok, report.failures()[:3]
        assert any(r.name.startswith("h~") for r in report.rows())


@pytest.mark.slow
def test_torch_by_its_own_autograd():
    """The sample in PyTorch float64, written here: nn.Linear layers, the mask applied as m / (1 − p)."""
    torch = pytest.importorskip("torch")
    t = bptrace.run(str(SAMPLE))
    W1 = torch.tensor([[0.3, 0.25], [0.4, 0.35]], dtype=torch.float64, requires_grad=True)
    W2 = torch.tensor([[0.45, 0.4], [0.7, 0.6]], dtype=torch.float64, requires_grad=True)
    x = torch.tensor([0.1, 0.2], dtype=torch.float64)
    target = torch.tensor([0.4, 0.6], dtype=torch.float64)
    m = torch.tensor([1.0, 0.0], dtype=torch.float64)
    h = torch.sigmoid(W1 @ x)
    ht = h * m / (1 - 0.5)
    o = torch.sigmoid(W2 @ ht)
    E = 0.5 * ((target - o) ** 2).sum()
    E.backward()
    assert t.value("E_total") == pytest.approx(E.item(), rel=1e-12)
    names = [f"w{i}" for i in range(1, 9)]
    grads = W1.grad.reshape(-1).tolist() + W2.grad.reshape(-1).tolist()
    for n, g in zip(names, grads):
        assert t.value(f"dE_total/d{n}") == pytest.approx(g, rel=1e-9, abs=1e-15)


@pytest.mark.slow
def test_py_export_runs(tmp_path):
    pytest.importorskip("torch")
    import subprocess
    import sys

    t = bptrace.run(str(SAMPLE))
    script = tmp_path / "d.py"
    script.write_text(bptrace.to_text(t, "py"))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True).stdout
    hand = by_hand()
    assert f"E_total = {hand['E']:.8f}" in out
    assert "dE_total/dw3 = 0    w3+ = 0.4" in out
    assert f"dE_total/dw5 = {hand['g']['w5']:.8f}" in out


def test_quiz_gives_the_masks_and_asks_h_tilde():
    from bptrace import quiz

    files = quiz.make(str(SAMPLE), None, "sigmoid", "half_sse", 0, "forward,gradients")
    assert '"h~1" = ""' in files["answers.toml"] and '"m_h1"' not in files["answers.toml"]
    assert "$m_{h_{1}} = 1$, $m_{h_{2}} = 0$" in files["exercise.md"]
    assert "(dropout p = 0.5)" in files["exercise.md"]


@pytest.mark.parametrize("claim,says", [
    # h̃1 = m·h1, the 1/(1 − p) left out; then z3 = w5·(m·h1) + w6·0
    (lambda h: f'"h~1" = {sig(0.08):.8f}', "leaves out the 1/(1 − p): m_h1·h1"),
    (lambda h: f"z3 = {0.45 * sig(0.08):.8f}", "dropout's scaling 1/(1 − p) is left out"),
    # dropout ignored: the worked example's own z3 = w5·h1 + w6·h2
    (lambda h: f"z3 = {0.45 * sig(0.08) + 0.4 * sig(0.11):.8f}", "dropout is not applied"),
    (lambda h: f'"h~2" = {sig(0.11):.8f}', "as if nothing were dropped"),
])
def test_dropout_misconceptions_are_named(claim, says):
    report = bptrace.check_answers(str(SAMPLE), "epoch = 1\nsample = 1\n" + claim(None) + "\n")
    from rich.console import Console
    import io

    from bptrace.render.check import check_report

    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(check_report(report))
    assert says in out.getvalue()


def test_step_says_its_final_outputs_are_eval_mode(runner):
    from bptrace.cli import app

    out = runner.invoke(app, ["step", "dropout", "--epochs", "2"]).stdout
    assert "Outputs with the final weights (eval mode, as model.eval(): no dropout)" in out
    plain = runner.invoke(app, ["step", "blog", "--epochs", "2"]).stdout
    assert "Outputs with the final weights\n" in plain


def test_ascii_output_spells_h_tilde_as_answers_do(runner):
    from bptrace.cli import app

    out = runner.invoke(app, ["run", "dropout", "--ascii"]).stdout
    assert out.isascii()
    assert " h~1        m_h1*h1 / (1 - p)" in out and "h~ = m*h / (1 - p)," in out
    layered = runner.invoke(app, ["run", "dropout", "--ascii", "--naming", "layered"]).stdout
    assert layered.isascii() and "a~^(1)_1" in layered


def test_json_exports_of_a_dropout_run_meet_the_schema(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    from bptrace.exports import json_

    validator = jsonschema.Draft202012Validator(json.loads(json_.schema_text()))
    s = spec_.loads(DEEP)
    docs = [json.loads(bptrace.to_text(bptrace.run(s), "json")),
            json.loads(bptrace.to_text(bptrace.train(s, epochs=2, batch="full", show="all"), "json"))]
    path = tmp_path / "run.jsonl"
    bptrace.export(bptrace.train(s, epochs=2, show="all"), path)
    docs += [json.loads(line) for line in path.read_text().splitlines()]
    for doc in docs:
        assert not list(validator.iter_errors(doc))
    assert docs[0]["spec"]["layers"][0]["mask_init"] == "seed"
    assert "h~4" in docs[0]["iterations"][0]["passes"][0]["forward"]


def test_a_mask_too_large_is_refused():
    text = "learning_rate = 0.1\n" + "[[samples]]\nx = [1.0]\ntarget = [0.0]\n" * 51 + \
        '[[layers]]\nactivation = "tanh"\nunits = 100000\ndropout = 0.5\n[[layers]]\nactivation = "linear"\nunits = 1\n'
    with pytest.raises(spec_.SpecError, match=r"layers\[1\]\.dropout: a mask per sample would hold 5,100,000 entries"):
        spec_.loads(text)
