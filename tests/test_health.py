"""Gradient health (`step --health`, bptrace/health.py): the norms against central finite differences and
a hand-worked chain, the findings on hand-built specs, the fast path unchanged, the exports, bad usage."""

import io
import json
import math
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from rich.cells import cell_len
from rich.console import Console

import bptrace
from bptrace import health
from bptrace.cli import app
from bptrace.exports import to_text
from bptrace.exports.json_ import schema_text
from bptrace.trainer import History

GOLDEN = Path(__file__).resolve().parent / "golden" / "terminal" / "vanishing-health-80.txt"


def chain(weights, x=1.0, target=0.0, act="sigmoid", bias=None):
    """A chain of one-neuron layers, one weight each (the vanishing sample's shape)."""
    layers = [{"activation": act, "weights": [[w]], **({} if bias is None else {"bias": [bias]})} for w in weights]
    return {"title": "chain", "loss": "half_sse", "learning_rate": 0.5,
            "samples": [{"x": [x], "target": [target]}], "layers": layers}


# ---------------------------------------------------------------- the norms

SPEC = {  # 2-3-2-1: tanh, sigmoid, sigmoid, with biases; three samples
    "title": "fd", "loss": "half_sse", "learning_rate": 0.3,
    "samples": [{"x": [0.5, -1.0], "target": [0.2]}, {"x": [1.5, 0.3], "target": [0.9]},
                {"x": [-0.7, 0.8], "target": [0.4]}],
    "layers": [
        {"activation": "tanh", "weights": [[0.4, -0.6], [0.9, 0.2], [-0.3, 0.5]], "bias": [0.1, -0.2, 0.05]},
        {"activation": "sigmoid", "weights": [[0.7, -0.4, 0.3], [-0.5, 0.8, 0.6]], "bias": [0.0, 0.1]},
        {"activation": "sigmoid", "weights": [[1.2, -0.9]], "bias": [0.3]},
    ],
}


def mean_loss(Ws, bs, samples) -> float:
    """E = (1/n) Σ_s ½ (t − o)², written out here (tanh, then sigmoids), independent of bptrace's engine."""
    total = 0.0
    for s in samples:
        a = np.array(s["x"], float)
        for l, (W, b) in enumerate(zip(Ws, bs)):
            z = W @ a + b
            a = np.tanh(z) if l == 0 else 1 / (1 + np.exp(-z))
        total += 0.5 * float(np.sum((np.array(s["target"]) - a) ** 2))
    return total / len(samples)


def fd_norms(spec, h=1e-6) -> list[float]:
    """‖∂E/∂W⁽ˡ⁾‖ by central differences (E(w + h) − E(w − h)) / 2h, weight by weight."""
    Ws = [np.array(layer["weights"], float) for layer in spec["layers"]]
    bs = [np.array(layer["bias"], float) for layer in spec["layers"]]
    norms = []
    for W in Ws:
        g = np.zeros_like(W)
        for idx in np.ndindex(W.shape):
            keep = W[idx]
            W[idx] = keep + h
            up = mean_loss(Ws, bs, spec["samples"])
            W[idx] = keep - h
            down = mean_loss(Ws, bs, spec["samples"])
            W[idx] = keep
            g[idx] = (up - down) / (2 * h)
        norms.append(float(np.sqrt(np.sum(g * g))))
    return norms


@pytest.mark.parametrize("batch", ["online", "full", 2])
def test_first_epoch_norms_are_finite_differences_of_the_spec_weights(batch):
    r = bptrace.train(SPEC, epochs=3, batch=batch, health=True)
    assert r.health.norms.shape == (3, 3)
    np.testing.assert_allclose(r.health.norms[0], fd_norms(SPEC), rtol=1e-7)


def test_later_epoch_norms_are_finite_differences_at_the_weights_then():
    """Row 2 is measured at the start of epoch 2: at the weights one epoch of training left."""
    one = bptrace.train(SPEC, epochs=1)
    after = json.loads(json.dumps(SPEC))
    values = iter(one.final_values.tolist())
    for layer in after["layers"]:
        layer["weights"] = [[next(values) for _ in row] for row in layer["weights"]]
        layer["bias"] = [next(values) for _ in layer["bias"]]
    r = bptrace.train(SPEC, epochs=2, health=True)
    np.testing.assert_allclose(r.health.norms[1], fd_norms(after), rtol=1e-7)


def test_vanishing_sample_norms_by_hand():
    """The chain of docs/gradient-health.md: a_l = σ(a_{l−1}), a_0 = x = 1, every w = 1, t = 0;
    δ₇ = (o − t)·o(1 − o), δ_l = δ_{l+1}·w·a_l(1 − a_l), ∂E/∂w_l = δ_l·a_{l−1}."""
    a = [1.0]
    for _ in range(7):
        a.append(1 / (1 + math.exp(-a[-1])))
    delta = [0.0] * 8
    delta[7] = (a[7] - 0.0) * a[7] * (1 - a[7])
    for l in range(6, 0, -1):
        delta[l] = delta[l + 1] * 1.0 * a[l] * (1 - a[l])
    grads = [abs(delta[l] * a[l - 1]) for l in range(1, 8)]
    r = bptrace.train("vanishing", epochs=2, health=True)
    np.testing.assert_allclose(r.health.norms[0], grads, rtol=1e-12)
    ratio = grads[0] / grads[6]
    assert ratio < health.VANISHING
    (f,) = r.health.findings
    assert (f.kind, f.epoch, f.layer, f.unit) == ("vanishing", 1, None, None)
    assert f.value == pytest.approx(ratio, rel=1e-12)


def test_the_docs_page_numbers_are_epoch_1s_norms():
    """docs/gradient-health.md's table of δ_l and ∂E/∂w_l: the vanishing sample's first row, to 9 digits."""
    import re

    page = (Path(__file__).resolve().parent.parent / "docs" / "gradient-health.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| ([1-7]) \| [^|]+ \| ([0-9.]+)×10([⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+) \|$", page, flags=re.M)
    assert len(rows) == 7
    r = bptrace.train("vanishing", epochs=1, health=True)
    for l, mantissa, exponent in rows:
        e = int(exponent.translate(str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")))
        assert float(mantissa) * 10.0 ** e == pytest.approx(r.health.norms[0, int(l) - 1], rel=1e-8)


@pytest.mark.slow
def test_norms_match_pytorch_autograd():
    torch = pytest.importorskip("torch")
    Ws = [torch.tensor(layer["weights"], dtype=torch.float64, requires_grad=True) for layer in SPEC["layers"]]
    bs = [torch.tensor(layer["bias"], dtype=torch.float64) for layer in SPEC["layers"]]
    X = torch.tensor([s["x"] for s in SPEC["samples"]], dtype=torch.float64)
    T = torch.tensor([s["target"] for s in SPEC["samples"]], dtype=torch.float64)
    a = X
    for l, (W, b) in enumerate(zip(Ws, bs)):
        a = (torch.tanh if l == 0 else torch.sigmoid)(a @ W.T + b)
    (0.5 * ((T - a) ** 2).sum(dim=1).mean()).backward()
    r = bptrace.train(SPEC, epochs=1, health=True)
    np.testing.assert_allclose(r.health.norms[0], [float(W.grad.norm()) for W in Ws], rtol=1e-12)


# ---------------------------------------------------------------- the findings


def test_dead_relus_from_epoch_1_named_in_the_users_scheme():
    spec = {"title": "dead", "loss": "half_sse", "learning_rate": 0.1,
            "samples": [{"x": [0.2, 0.9], "target": [1.0]}, {"x": [0.7, 0.1], "target": [0.0]}],
            "layers": [{"activation": "relu", "weights": [[0.3, 0.1], [0.2, -0.4], [0.5, 0.5]], "bias": [-2.0, -3.0, -1.5]},
                       {"activation": "sigmoid", "weights": [[0.5, 0.5, 0.5]], "bias": [0.0]}]}
    r = bptrace.train(spec, epochs=5, health=True)
    dead = [f for f in r.health.findings if f.kind == "dead"]
    assert [(f.epoch, f.layer, f.unit) for f in dead] == [(1, 0, 0), (1, 0, 1), (1, 0, 2)]
    assert all(f.value <= 0 for f in dead)  # the largest z over the samples
    assert np.all(r.health.norms[:, 0] == 0)  # nothing flows back through a dead unit
    assert "epoch 1: h1, h2, h3 (relu) are dead: z ≤ 0 for every sample" in to_text(r, "md")  # one line per layer
    from bptrace.render.health import finding_text

    layered = bptrace.train(spec, epochs=5, health=True, naming="layered")
    assert finding_text(layered.health.findings[1], layered.names, 2).startswith(
        "epoch 1: a^(1)_2 (relu) is dead: z^(1)_2 ≤ 0 for every sample (largest −2.900), so its gradient is 0; try")


def test_saturated_sigmoid_and_tanh_from_epoch_1():
    spec = {"title": "saturated", "loss": "half_sse", "learning_rate": 0.1,
            "samples": [{"x": [1.0, 0.5], "target": [1.0]}, {"x": [0.8, 1.0], "target": [0.0]}],
            "layers": [{"activation": "sigmoid", "weights": [[20.0, 20.0], [0.1, -0.1]]},
                       {"activation": "tanh", "weights": [[30.0, 1.0], [0.2, 0.1]]},
                       {"activation": "sigmoid", "weights": [[1.0, 1.0]]}]}
    r = bptrace.train(spec, epochs=3, health=True)
    found = [(f.kind, f.epoch, f.layer, f.unit, f.activation) for f in r.health.findings]
    assert found == [("saturated", 1, 0, 0, "sigmoid"), ("saturated", 1, 1, 0, "tanh")]
    sigmoid, tanh = r.health.findings
    assert sigmoid.value < health.SIGMOID_SLOPE and tanh.value > health.TANH_LEVEL
    assert "h1 (sigmoid) is saturated" in to_text(r, "md")


def test_exploding_gradients():
    r = bptrace.train(chain([100.0] * 4, act="linear"), epochs=1, health=True)
    assert [f.kind for f in r.health.findings] == ["exploding"]
    assert r.health.findings[0].value > health.LARGE


def test_the_worked_example_is_healthy():
    r = bptrace.train("blog", epochs=50, health=True)
    assert r.health.findings == []
    assert "no saturated or dead units" in to_text(r, "md")


def test_a_finding_is_reported_once_at_its_first_epoch():
    from bptrace import fastpath, tracer

    m = health.Monitor(bptrace.load(chain([1.0] * 7)))
    paths = fastpath.Paths(tracer.Session(bptrace.load(chain([1.0] * 7))), fast=False)
    for epoch in (1, 2, 3):
        m.measure(paths, epoch)
    assert [(f.kind, f.epoch) for f in m.findings] == [("vanishing", 1)]


# ---------------------------------------------------------------- the fast path and the training itself


@pytest.mark.parametrize("name,batch", [("xor", "online"), ("vanishing", "online"), ("xor", "full"), ("adam", 2)])
def test_health_leaves_training_bit_for_bit_unchanged(name, batch):
    """The fast path keeps training with --health (the state is handed to numpy and back each epoch):
    loss, ‖g‖, outputs and final weights are exactly those of the run without it."""
    plain = bptrace.train(name, epochs=60, batch=batch)
    checked = bptrace.train(name, epochs=60, batch=batch, health=True)
    for key in ("loss", "grad_norm", "outputs", "final_values", "epoch"):
        assert np.array_equal(getattr(plain, key), getattr(checked, key), equal_nan=True), key
    assert plain.health is None


SATURATED = {"title": "saturated", "loss": "half_sse", "learning_rate": 0.1,
             "samples": [{"x": [1.0, 0.5], "target": [1.0]}, {"x": [0.8, 1.0], "target": [0.0]}],
             "layers": [{"activation": "sigmoid", "weights": [[20.0, 20.0], [0.1, -0.1]]},
                        {"activation": "tanh", "weights": [[30.0, 1.0], [0.2, 0.1]]},
                        {"activation": "relu", "weights": [[1.0, 1.0], [-1.0, -1.0]], "bias": [0.1, -0.1]},
                        {"activation": "sigmoid", "weights": [[1.0, 1.0]]}]}


@pytest.mark.parametrize("source", ["xor", "vanishing", "deep", SATURATED])
def test_norms_and_findings_are_the_same_on_the_fast_path_and_the_numpy_path(source):
    """The fast path measures with its own generated code (no hand-over); the numpy path with the engine."""
    fast = bptrace.train(source, epochs=40, health=True)
    numpy = bptrace.train(source, epochs=40, health=True, show="all")  # every epoch traced: no fast path
    np.testing.assert_allclose(fast.health.norms, numpy.health.norms, rtol=1e-10, atol=1e-15)
    key = [(f.kind, f.epoch, f.layer, f.unit) for f in fast.health.findings]
    assert key == [(f.kind, f.epoch, f.layer, f.unit) for f in numpy.health.findings]
    np.testing.assert_allclose([f.value for f in fast.health.findings], [f.value for f in numpy.health.findings],
                               rtol=1e-10)
    assert source != SATURATED or [k[0] for k in key][:3] == ["saturated", "saturated", "dead"]


def test_history_memory_stays_flat_with_norms():
    h = History(1, capacity=100)
    for e in range(1, 20_001):
        h.add(e, 1.0 / e, 0.5, [0.1], (1e-3 / e, 1e-2))
    epochs, loss, *_ = h.arrays()
    norms = h.norms(2)
    assert len(h.rows) <= 100 and norms.shape == (len(epochs), 2)
    assert norms[0, 0] == 1e-3 and norms[-1, 0] == pytest.approx(1e-3 / 20_000)


# ---------------------------------------------------------------- exports and the command line


def test_json_and_jsonl_carry_the_health_and_validate():
    r = bptrace.train("vanishing", epochs=20, health=True)
    validator = jsonschema.Draft202012Validator(json.loads(schema_text()))
    doc = json.loads(to_text(r, "json"))
    validator.validate(doc)
    h = doc["run"]["health"]
    assert np.allclose(h["grad_norms"], r.health.norms) and len(h["grad_norms"]) == len(doc["run"]["epoch"])
    assert h["findings"] == [{"kind": "vanishing", "epoch": 1, "layer": None, "neuron": None, "activation": None,
                              "value": r.health.findings[0].value}]
    summary = json.loads(to_text(r, "jsonl").splitlines()[-1])
    validator.validate(summary)
    assert summary["health"] == h
    assert "health" not in json.loads(to_text(bptrace.train("vanishing", epochs=2), "json"))["run"]


def test_markdown_and_html_show_the_columns_chart_and_findings():
    r = bptrace.train("vanishing", epochs=30, health=True)
    md = to_text(r, "md")
    assert "## Gradient health" in md and r"| $\lVert g^{(7)} \rVert$ |" in md and "line [" in md
    assert "vanishing gradients" in md
    page = to_text(r, "html")
    assert "‖g⁽⁷⁾‖" in page and page.count("<polyline") == 1 + 7 and "vanishing gradients" in page


def test_step_health_on_the_command_line(runner):
    result = runner.invoke(app, ["step", "vanishing", "-n", "20", "--health"])
    assert result.exit_code == 0, result.output
    assert "Gradient norm per layer" in result.stdout and "⚠ epoch 1: vanishing gradients" in result.stdout


def test_health_with_round_is_refused_in_one_line(runner):
    result = runner.invoke(app, ["step", "blog", "-n", "3", "--health", "--round", "4"])
    assert result.exit_code == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --health: cannot be combined with round"), result.stderr


def terminal_text(width: int = 80) -> str:
    """What `bptrace step vanishing --epochs 200 --health` shows after its header, without colour."""
    from bptrace.render.tables import View
    from bptrace.render.training import render_run

    out = io.StringIO()
    console = Console(width=width, file=out, color_system=None, force_terminal=False, legacy_windows=False)
    console.print(render_run(bptrace.train("vanishing", epochs=200, health=True), View(), width=width - 2))
    return out.getvalue()


def test_vanishing_health_golden_fits_80_columns():
    text = terminal_text()
    assert max(cell_len(line) for line in text.splitlines()) <= 80
    assert text == GOLDEN.read_text(encoding="utf-8")


if __name__ == "__main__":  # regenerate the golden file
    GOLDEN.write_text(terminal_text(), encoding="utf-8")


def test_a_wide_dead_layer_is_one_line_naming_the_first_units():
    spec = {"title": "wide", "loss": "half_sse", "learning_rate": 0.1, "samples": [{"x": [1.0], "target": [0.5]}],
            "layers": [{"activation": "relu", "weights": [[0.1]] * 10, "bias": [-1.0] * 10},
                       {"activation": "sigmoid", "weights": [[0.1] * 10]}]}
    r = bptrace.train(spec, epochs=2, health=True)
    assert len(r.health.findings) == 10
    from bptrace.render.health import findings

    (line,) = findings(r)
    assert line.startswith("epoch 1: h1, h2, h3, h4, h5, h6, h7, h8, … (10 in all) (relu) are dead")


def test_a_diverging_run_with_health_still_ends_cleanly(runner):
    result = runner.invoke(app, ["step", "deep", "--epochs", "300", "--lr", "10", "--health"])
    assert result.exit_code == 3 and "Traceback" not in result.output
    assert "a^(1)_1, a^(1)_3, a^(1)_4 (relu) are dead" in result.stdout


def test_quiet_health_prints_the_warnings_and_the_summary(runner):
    result = runner.invoke(app, ["step", "vanishing", "-n", "5", "--health", "-q"])
    assert result.exit_code == 0
    assert result.stdout.startswith("Gradient health\n⚠ epoch 1: vanishing gradients")
    assert "Gradient norm per layer" not in result.stdout and "Parameters: initial → final" in result.stdout


def test_ascii_output_spells_the_norms_in_ascii(runner):
    """--ascii: 1.6e-05, not 1.6×10⁻⁵ transliterated (which would no longer fit the columns laid out for it)."""
    result = runner.invoke(app, ["step", "vanishing", "-n", "3", "--health", "--ascii"])
    assert result.exit_code == 0 and result.stdout.isascii()
    assert "1.6e-05" in result.stdout and "! epoch 1: vanishing gradients: ||g(1)|| / ||g(7)|| = 1.7e-04" in result.stdout
    assert "..." not in result.stdout.split("Gradient norm per layer")[1].split("Frobenius")[0]


def test_the_ascii_fallback_spells_exponents_and_layer_indices():
    from bptrace.ascii import transliterate

    assert transliterate("1.2×10⁻⁹") == "1.2x10^-9" and transliterate("‖g⁽¹²⁾‖") == "||g(12)||"
    assert transliterate("(t − o)²") == "(t - o)^2" and transliterate("w5⁺") == "w5+"


@pytest.mark.engines
def test_health_markdown_parses_in_mermaid_and_katex():
    from engines_support import ensure_node_packages, katex_errors, mermaid_blocks, run_node

    md = to_text(bptrace.train("vanishing", epochs=200, health=True), "md")
    ensure_node_packages()
    blocks = mermaid_blocks(md)
    assert len(blocks) == 2 and run_node("mermaid-parse.mjs", blocks) == [{"ok": True}, {"ok": True}]
    assert katex_errors(md) == []


def test_dropout_norms_are_the_gradient_training_follows():
    """With dropout the norms are measured in train mode, with the masks training applies (the dropout
    sample: mask [1, 0], p = 0.5, so h̃1 = 2·h1 and h̃2 = 0): central differences of E written out here."""
    x, t, m, p = np.array([0.1, 0.2]), np.array([0.4, 0.6]), np.array([1.0, 0.0]), 0.5
    W = [np.array([[0.30, 0.25], [0.40, 0.35]]), np.array([[0.45, 0.40], [0.70, 0.60]])]

    def E():
        h = 1 / (1 + np.exp(-(W[0] @ x)))
        o = 1 / (1 + np.exp(-(W[1] @ (m * h / (1 - p)))))
        return 0.5 * float(np.sum((t - o) ** 2))

    expected = []
    for Wl in W:
        g = np.zeros_like(Wl)
        for idx in np.ndindex(Wl.shape):
            keep = Wl[idx]
            Wl[idx] = keep + 1e-6
            up = E()
            Wl[idx] = keep - 1e-6
            down = E()
            Wl[idx] = keep
            g[idx] = (up - down) / 2e-6
        expected.append(float(np.sqrt(np.sum(g * g))))
    r = bptrace.train("dropout", epochs=2, health=True)
    np.testing.assert_allclose(r.health.norms[0], expected, rtol=1e-7)
