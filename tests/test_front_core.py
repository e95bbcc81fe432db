"""Front layers (bptrace.front), the part every kind shares: a spec whose x is an image, a flatten layer,
the bridge ∂E_total/∂f into the front, names in both schemes, and every command and export.

The numbers are worked out here by hand (numpy), not read back from bptrace."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from bptrace import spec as spec_mod
from bptrace import tracer
from bptrace.cli import app
from bptrace.exports import json_
from bptrace.gradcheck import gradcheck

X = [[0.5, -1.0], [2.0, 0.25]]  # one 2×2 image
W = [[0.1, -0.2, 0.3, 0.4], [0.25, 0.5, -0.75, 0.125]]
SPEC = {
    "title": "flatten then dense", "loss": "half_sse", "learning_rate": 0.5,
    "samples": [{"x": X, "target": [1.0, 0.0]}, {"x": [[1.0, 0.0], [0.0, -1.0]], "target": [0.0, 1.0]}],
    "layers": [{"type": "flatten"}, {"activation": "sigmoid", "weights": W, "bias": [0.1, -0.1]}],
}


def hand(x, t):
    """The flatten net by hand: f = x in C order, z = W f + b, o = σ(z), E = Σ ½(t − o)², δ = (o − t)·o(1 − o)."""
    f = np.array(x, dtype=float).ravel()
    z = np.array(W) @ f + np.array([0.1, -0.1])
    o = 1 / (1 + np.exp(-z))
    delta = (o - np.array(t)) * o * (1 - o)
    return f, z, o, delta


@pytest.fixture(scope="module")
def spec():
    return spec_mod.from_dict(SPEC, "flat.toml")


def test_flatten_reads_the_image_in_c_order_and_the_bridge_is_delta_times_w(spec):
    it = tracer.run(spec).iterations[0]
    f, z, o, delta = hand(X, [1.0, 0.0])
    for k in range(4):
        assert it.value(f"f{k + 1}") == pytest.approx(f[k], rel=1e-15)
        # ∂E_total/∂f_k = Σ_j δ_j·w_jk: the first dense layer's deltas back through its weights
        assert it.value(f"dE_total/df{k + 1}") == pytest.approx(delta @ np.array(W)[:, k], rel=1e-12)
    assert it.value("z1") == pytest.approx(z[0], rel=1e-12)
    assert it.value("dE_total/dw3") == pytest.approx(delta[0] * f[2], rel=1e-12)
    x21 = it.passes[0].forward.front[0].inputs[1, 0]  # the image's row 2, column 1
    assert (x21.name, x21.value, x21.given) == ("x_21", 2.0, True)


def test_layered_names_count_the_front_layers(spec):
    it = tracer.run(spec, naming="layered").iterations[0]
    names = {name for _, name, _ in it.walk()}
    assert {"f^(1)_1", "W^(2)_11+", "z^(2)_1", "a^(2)_2", "dE_total/df^(1)_4"} <= names
    assert "f^(1)_1+" in names and "f^(1)_1++" not in names  # the check after the update: one +


def test_a_batch_update_is_the_mean_of_the_samples_gradients(spec):
    session = tracer.Session(spec)
    it = session.trace_step([0, 1])
    _, _, _, d1 = hand(X, [1.0, 0.0])
    f2, _, _, d2 = hand([[1.0, 0.0], [0.0, -1.0]], [0.0, 1.0])
    f1 = np.array(X).ravel()
    g = (np.outer(d1, f1) + np.outer(d2, f2)) / 2
    updates = {u.name: u for u in it.updates}
    assert updates["w2"].gradient == pytest.approx(g[0, 1], rel=1e-12)
    assert updates["w2"].new == pytest.approx(W[0][1] - 0.5 * g[0, 1], rel=1e-12)


def test_gradcheck_agrees(spec):
    rows = gradcheck(spec)
    assert len(rows) == 10 and all(r.ok for r in rows)


def test_spec_round_trip_keeps_the_nested_x(spec):
    d = spec.to_dict()
    assert d["samples"][0]["x"] == X
    assert d["layers"][0] == {"type": "flatten"}
    assert spec.n_inputs == 4 and spec.widths == [4, 2] and spec.x_shape == (2, 2)


def test_json_export_is_valid_and_names_the_front_quantities(spec):
    jsonschema = pytest.importorskip("jsonschema")
    from bptrace import to_text

    doc = json.loads(to_text(tracer.run(spec), "json"))
    jsonschema.Draft202012Validator(json.loads(json_.schema_text())).validate(doc)
    assert doc["quantities"]["f3"] == {"kind": "front", "symbol": "f", "layer": 1, "index": [3], "latex": "f_{3}",
                                       "formula": "x_{21}"}
    assert doc["iterations"][0]["passes"][0]["forward"]["x_22"] == 0.25


def test_every_export_and_command_takes_a_front_spec(runner, tmp_path):
    path = tmp_path / "flat.toml"
    path.write_text(_toml())
    for ext in ("json", "jsonl", "md", "tex", "html", "svg", "walk.html", "py"):
        result = runner.invoke(app, ["run", str(path), "--export", str(tmp_path / f"t.{ext}")])
        assert result.exit_code == 0, (ext, result.output)
    for args in (["step", str(path), "--epochs", "3", "--show", "all", "--batch", "full"],
                 ["run", str(path), "--form", "both"], ["gradcheck", str(path)], ["validate", str(path)],
                 ["run", str(path), "--focus", "w1"], ["run", str(path), "--round", "4"], ["run", str(path), "--ascii"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, (args, result.output)
        assert "Traceback" not in result.output


def test_the_py_export_runs_in_pytorch_and_prints_the_same_update(tmp_path, spec):
    pytest.importorskip("torch")
    from bptrace import to_text

    script = tmp_path / "flat.py"
    script.write_text(to_text(tracer.run(spec), "py"))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True).stdout
    _, _, _, delta = hand(X, [1.0, 0.0])
    w1_new = W[0][0] - 0.5 * delta[0] * 0.5
    assert f"w1+ = {w1_new:.8f}" in out


def test_verify_agrees_with_pytorch(spec):
    pytest.importorskip("torch")
    from bptrace.verify import compare

    report = compare(spec, epochs=3, batch="full")
    assert report.ok and len(report.rows()) > 30
    assert {"f1 (sample 1)", "f4 (sample 2)"} <= {r.name for r in report.rows()}  # the front's output, compared


def _toml() -> str:
    rows = lambda m: "[" + ", ".join(str(list(r)) for r in m) + "]"  # noqa: E731
    return (f"learning_rate = 0.5\n[[samples]]\nx = {rows(X)}\ntarget = [1.0, 0.0]\n"
            f"[[layers]]\ntype = \"flatten\"\n[[layers]]\nactivation = \"sigmoid\"\nweights = {rows(W)}\n"
            "bias = [0.1, -0.1]\n")


def test_hand_numbers_are_finite():  # the fixture's numbers are a sensible network, not a degenerate one
    f, z, o, delta = hand(X, [1.0, 0.0])
    assert all(math.isfinite(v) for v in (*z, *o, *delta)) and abs(delta).min() > 1e-3


TWO_CONVS = {
    "learning_rate": 0.5, "samples": [{"x": [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6], [0.7, 0.8, 0.9]], "target": [1]}],
    "layers": [{"type": "conv2d", "kernel": [[0.1, 0.2], [0.3, 0.4]], "activation": "relu"},
               {"type": "conv2d", "kernel": [[0.5, -0.1], [0.2, 0.3]], "bias": 0.1, "activation": "tanh"},
               {"type": "flatten"}, {"activation": "sigmoid", "weights": [[0.5]]}],
}


def test_a_symbol_two_layers_use_is_named_with_its_layer_in_the_seed_scheme():
    it = tracer.run(spec_mod.from_dict(TWO_CONVS)).iterations[0]
    names = [u.name for u in it.updates]
    assert names[:9] == ["k^(1)_11", "k^(1)_12", "k^(1)_21", "k^(1)_22",
                         "k^(2)_11", "k^(2)_12", "k^(2)_21", "k^(2)_22", "c^(2)_1"]  # c: a symbol of both convs
    seen: dict = {}  # no two different quantities share a name
    for group, name, q in it.walk():
        i = q.ident._replace(after=False)  # an update names p itself, the check p after the update
        assert seen.setdefault(name, i) == i, name
    # u^(2)_11 = Σ k^(2)·v^(1) + c1, by hand: v^(1) = relu of the first conv
    x = np.array(TWO_CONVS["samples"][0]["x"])
    k1, k2 = np.array([[0.1, 0.2], [0.3, 0.4]]), np.array([[0.5, -0.1], [0.2, 0.3]])
    v1 = np.maximum(0, [[(k1 * x[i:i + 2, j:j + 2]).sum() for j in range(2)] for i in range(2)])
    assert it.value("u^(2)_1") == pytest.approx((k2 * v1).sum() + 0.1, rel=1e-12)


def test_gradcheck_calls_a_tie_in_a_max_pool_a_kink_not_a_failure(runner, tmp_path):
    path = tmp_path / "tie.toml"
    path.write_text('learning_rate = 0.5\n[[samples]]\nx = [1, 0, 1]\ntarget = [1]\n'
                    '[[layers]]\ntype = "conv1d"\nkernel = [0.5, 0.5]\nactivation = "linear"\n'
                    '[[layers]]\ntype = "maxpool1d"\nsize = 2\n[[layers]]\ntype = "flatten"\n'
                    '[[layers]]\nactivation = "sigmoid"\nweights = [[0.5]]\n')
    rows = gradcheck(spec_mod.load(path))
    # u1 = u2 = 0.5: k1 moves only u1, so p ± h crosses the tie; the winners differ on each side
    assert [r.at_kink for r in rows] == [True, True, False]
    assert rows[0].kink.of == "P" and rows[0].kink_z == 0.5
    result = runner.invoke(app, ["gradcheck", str(path)])
    assert result.exit_code == 0 and "a tie between two maxima" in result.output


def test_a_large_image_is_weighed_by_its_traced_products_not_its_ten_parameters(runner, tmp_path):
    path = tmp_path / "big.toml"
    image = [[round((i * 7 + j * 3) % 10 / 10, 1) for j in range(60)] for i in range(60)]
    path.write_text(f"learning_rate = 0.5\n[[samples]]\nx = {image}\ntarget = [1]\n"
                    '[[layers]]\ntype = "conv2d"\nkernel = [[0.1, 0.2, 0.1], [0.1, 0.2, 0.1], [0.1, 0.2, 0.1]]\n'
                    'activation = "relu"\n[[layers]]\ntype = "flatten"\n[[layers]]\nactivation = "sigmoid"\nunits = 1\n')
    result = runner.invoke(app, ["run", str(path)])
    # 58×58 positions × 9 products = 30,276, plus 9 kernel and 3,364 dense weights: beyond the tables' 2,000
    assert result.exit_code == 2 and "weighs 33,649 parameters and traced products" in result.stderr
    assert runner.invoke(app, ["step", str(path), "--epochs", "2", "-q"]).exit_code == 0  # untraced: fine


def test_focus_on_a_kernel_entry_keeps_its_gradient_and_drops_the_others():
    import bptrace

    trace = bptrace.run("cnn", focus="k_12")
    it = trace.iterations[0]
    assert [u.name for u in it.updates] == ["k_12"]
    conv = it.passes[0].front[-1]  # the conv's backward step (the first front layer is traced last)
    assert [g.name for g in conv.gradients] == ["dE_total/dk_12"]
    kept = {r.name for r in conv.rows}
    assert "dE_total/dk_12 via u_11" in kept and not any(n.startswith("dE_total/dk_11") for n in kept)


@pytest.mark.parametrize("kernel", ["pytorch", [[[[0.5, -0.5], [0.25, 0.0]]], [[[0.1, 0.2], [0.3, 0.4]]]]])
def test_pytorch_draws_are_one_stream_for_the_whole_network(kernel):
    """torch.manual_seed(seed); nn.Conv2d(1, 2, 2), nn.Linear(8, 2) in order: the dense layer draws after the
    conv, whether or not the conv's numbers are used (a given kernel still consumes its draws)."""
    torch = pytest.importorskip("torch")
    image = [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6], [0.7, 0.8, 0.9]]
    conv = {"type": "conv2d", "kernel": kernel, "bias": "pytorch", "activation": "relu"}
    if kernel == "pytorch":
        conv.update(channels=2, size=2)
    data = {"learning_rate": 0.5, "seed": 11, "samples": [{"x": image, "target": [1, 0]}],
            "layers": [conv, {"type": "flatten"},
                       {"activation": "sigmoid", "units": 2, "weights": "pytorch", "bias": "pytorch"}]}
    spec = spec_mod.from_dict(data)
    torch.manual_seed(11)
    c = torch.nn.Conv2d(1, 2, 2, dtype=torch.float64)
    lin = torch.nn.Linear(8, 2, dtype=torch.float64)
    if kernel == "pytorch":
        assert np.array_equal(spec.front[0].kernel.value, c.weight.detach().numpy())
    assert np.array_equal(spec.front[0].bias.value, c.bias.detach().numpy())
    assert np.array_equal(np.array(spec.layers[0].weights), lin.weight.detach().numpy())
    assert np.array_equal(np.array(spec.layers[0].bias), lin.bias.detach().numpy())


def test_pytorch_draws_continue_after_an_rnn_with_its_two_biases():
    torch = pytest.importorskip("torch")
    data = {"learning_rate": 0.5, "seed": 5, "samples": [{"x": [0.1, 0.5, 0.9], "target": [1]}],
            "layers": [{"type": "rnn", "units": 2, "bias": "pytorch"},
                       {"activation": "sigmoid", "units": 1, "weights": "pytorch", "bias": "pytorch"}]}
    spec = spec_mod.from_dict(data)
    torch.manual_seed(5)
    r = torch.nn.RNN(1, 2, dtype=torch.float64)  # weight_ih, weight_hh, bias_ih, bias_hh
    lin = torch.nn.Linear(2, 1, dtype=torch.float64)
    assert np.array_equal(spec.front[0].U.value, r.weight_ih_l0.detach().numpy())
    assert np.array_equal(spec.front[0].c.value, r.bias_ih_l0.detach().numpy())
    assert np.array_equal(np.array(spec.layers[0].weights), lin.weight.detach().numpy())


@pytest.mark.parametrize("name", ["cnn", "rnn"])
def test_each_kind_declares_every_symbol_its_trace_names(name):
    """Names.repeated reads FrontLayer.symbols (no trace is made to name a spec's quantities)."""
    import bptrace

    trace = bptrace.run(name)
    used = {(q.ident.l, q.ident.of) for b in trace.iterations[0].passes[0].forward.front for q in b.rows}
    used |= {(g.ident.by.l, g.ident.by.of) for b in trace.iterations[0].passes[0].front for g in b.gradients}
    for l, symbol in used:
        assert symbol in trace.spec.front[l].symbols, (trace.spec.front[l].kind, symbol)


def test_validate_names_a_large_image_network_without_tracing_it(runner, tmp_path):
    import time

    path = tmp_path / "wide.toml"
    image = [[round((i * 7 + j * 3) % 10 / 10, 1) for j in range(120)] for i in range(120)]
    kernel = [[[[0.1, 0.2, 0.1], [0.0, 0.1, 0.0], [0.1, 0.0, 0.1]]]] * 32
    path.write_text(f"learning_rate = 0.5\n[[samples]]\nx = {image}\ntarget = [1]\n"
                    f'[[layers]]\ntype = "conv2d"\nkernel = {kernel}\nactivation = "relu"\n'
                    '[[layers]]\ntype = "maxpool2d"\nsize = 4\n[[layers]]\ntype = "flatten"\n'
                    '[[layers]]\nactivation = "sigmoid"\nunits = 1\n')
    start = time.perf_counter()
    assert runner.invoke(app, ["validate", str(path)]).exit_code == 0
    assert runner.invoke(app, ["step", str(path), "--epochs", "1", "-q"]).exit_code == 0
    assert time.perf_counter() - start < 20  # it took 60 s and 1.45 GB when names traced the front


def test_check_grades_what_the_front_computes_as_a_step_not_as_given(runner, tmp_path):
    answers = tmp_path / "a.toml"
    answers.write_text('f3 = 0.31\nx_21 = 0.2\n')  # f3 = P_21 = 0.33 in the cnn sample; x_21 is given: 0.2
    result = runner.invoke(app, ["check", "cnn", str(answers)])
    assert result.exit_code == 1
    assert "f3 = 0.31 should be 0.33" in result.output and "the spec gives f3" not in result.output


def test_the_matrix_form_numbers_the_dense_layers_after_the_front_ones(runner):
    result = runner.invoke(app, ["run", "cnn", "--form", "matrix"])
    assert result.exit_code == 0
    assert "z⁽⁴⁾ = W⁽⁴⁾ h⁽³⁾ + b⁽⁴⁾" in result.output  # three front layers, then the dense output layer 4
    assert "Forward: layer 1 (conv2d)" in result.output  # the front layers in scalar form beside it


def test_parameter_groups_beside_front_layers_agree_with_pytorch(runner, tmp_path):
    """The dense layer's own α and λ; the conv's kernel and bias train with the spec's α (torch param groups)."""
    pytest.importorskip("torch")
    from bptrace.samples import text
    from bptrace.verify import compare

    path = tmp_path / "cnn-groups.toml"
    path.write_text(text("cnn").replace("bias = [0.0, 0.0]", "bias = [0.0, 0.0]\nlearning_rate = 0.1\nweight_decay = 0.01"))
    spec = spec_mod.load(path)
    report = compare(spec, epochs=3)
    assert report.ok and len(report.rows()) > 100
    result = runner.invoke(app, ["run", str(path)])
    assert "Updates (sgd; layer 4: α = 0.1, λ = 0.01)" in result.output  # the dense layer is layers[4]
    it = tracer.run(spec).iterations[0]
    k11 = next(u for u in it.updates if u.name == "k_11")
    assert k11.new == pytest.approx(-0.1 - 0.5 * k11.gradient, rel=1e-12)  # the spec's α for the kernel


def test_frozen_takes_a_dense_weights_layered_name_as_shown_after_the_front_layers():
    from bptrace.samples import text

    toml = text("cnn").replace("learning_rate = 0.5", 'learning_rate = 0.5\nfrozen = ["W^(4)_11"]', 1)
    it = tracer.run(spec_mod.loads(toml, "cnn.toml")).iterations[0]
    w1 = next(u for u in it.updates if u.name == "w1")
    assert w1.frozen and w1.new == w1.old == 0.1
    with pytest.raises(spec_mod.SpecError, match="did you mean 'W\\^\\(4\\)_11'"):
        spec_mod.loads(toml.replace("W^(4)_11", "W^(1)_11"), "cnn.toml")


def test_an_rnn_whose_weights_are_left_out_draws_them_from_the_networks_stream():
    torch = pytest.importorskip("torch")
    data = {"learning_rate": 0.5, "seed": 3, "samples": [{"x": [0.1, 0.5], "target": [1]}],
            "layers": [{"type": "rnn", "units": 2, "bias": [0.1, 0.0]},  # U and W default to "pytorch"
                       {"activation": "sigmoid", "weights": [[0.5, -0.5]]}]}
    spec = spec_mod.from_dict(data)
    torch.manual_seed(3)
    r = torch.nn.RNN(1, 2, dtype=torch.float64)
    assert np.array_equal(spec.front[0].W.value, r.weight_hh_l0.detach().numpy())


def test_gradcheck_calls_an_rnn_relu_kink_a_kink(tmp_path):
    path = tmp_path / "kink.toml"
    path.write_text('learning_rate = 0.5\n[[samples]]\nx = [0.5, -0.5]\ntarget = [1]\n[[layers]]\ntype = "rnn"\n'
                    'activation = "relu"\ninput_weights = [[1.0]]\nrecurrent_weights = [[1.0]]\n'
                    '[[layers]]\nactivation = "sigmoid"\nweights = [[0.5]]\n')
    rows = {r.name: r for r in gradcheck(spec_mod.load(path))}
    # r_2 = 1·(−0.5) + 1·s_1 = −0.5 + 0.5 = 0: relu's kink, which W moves across
    assert rows["W1"].at_kink and rows["W1"].kink.of == "r" and rows["W1"].kink_z == 0.0
