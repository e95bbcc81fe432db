"""Training runs: learning, optimizers against their published update rules, batching, stopping."""

import math
import signal
import subprocess
import sys

import numpy as np
import pytest

from bptrace import fastpath, samples, spec
from bptrace import trainer as train
from bptrace.cli import app
from conftest import BLOG


def load(name):
    return spec.loads(samples.text(name), name)


def run(s, epochs, **kw):
    return train.train(s, train.Plan(epochs, **kw))


# ------------------------------------------------------------------ an independent reference

def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


def blog_gradient(w, x=(0.1, 0.2), t=(0.4, 0.6)):
    """dE_total/dw1..w8 of the worked example's network, written out as the post derives them."""
    w1, w2, w3, w4, w5, w6, w7, w8 = w
    h1, h2 = sigmoid(w1 * x[0] + w2 * x[1]), sigmoid(w3 * x[0] + w4 * x[1])
    o1, o2 = sigmoid(w5 * h1 + w6 * h2), sigmoid(w7 * h1 + w8 * h2)
    d_o1 = -(t[0] - o1) * o1 * (1 - o1)
    d_o2 = -(t[1] - o2) * o2 * (1 - o2)
    d_h1 = (d_o1 * w5 + d_o2 * w7) * h1 * (1 - h1)
    d_h2 = (d_o1 * w6 + d_o2 * w8) * h2 * (1 - h2)
    return [d_h1 * x[0], d_h1 * x[1], d_h2 * x[0], d_h2 * x[1], d_o1 * h1, d_o1 * h2, d_o2 * h1, d_o2 * h2]


W0 = [0.3, 0.25, 0.4, 0.35, 0.45, 0.4, 0.7, 0.6]


def reference(optimizer, steps, lr, **h):
    """The optimizers' update rules as PyTorch documents them (torch.optim.SGD / Adam / AdamW)."""
    w = list(W0)
    buf, m, v = [0.0] * 8, [0.0] * 8, [0.0] * 8
    for t in range(1, steps + 1):
        g = blog_gradient(w)
        for i in range(8):
            if optimizer == "momentum":  # torch.optim.SGD's documented algorithm
                mu, tau, wd = h.get("momentum", 0.9), h.get("dampening", 0.0), h.get("weight_decay", 0.0)
                gi = g[i] + wd * w[i] if wd else g[i]
                if mu != 0:  # with momentum 0 there is no buffer, and dampening is never applied
                    buf[i] = gi if t == 1 else mu * buf[i] + (1 - tau) * gi
                    gi = gi + mu * buf[i] if h.get("nesterov") else buf[i]
                w[i] -= lr * gi
            else:
                b1, b2, eps, wd = h.get("beta1", 0.9), h.get("beta2", 0.999), h.get("eps", 1e-8), h.get("weight_decay", 0)
                gi = g[i]
                if optimizer == "adamw":
                    w[i] *= 1 - lr * wd
                elif wd:
                    gi += wd * w[i]
                m[i] = b1 * m[i] + (1 - b1) * gi
                v[i] = b2 * v[i] + (1 - b2) * gi * gi
                m_hat, v_hat = m[i] / (1 - b1 ** t), v[i] / (1 - b2 ** t)
                w[i] -= lr * m_hat / (math.sqrt(v_hat) + eps)
    return w


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("optimizer,hyper", [
    ("momentum", {"momentum": 0.9}),
    ("momentum", {"momentum": 0.8, "dampening": 0.3}),
    ("momentum", {"momentum": 0.9, "nesterov": True}),
    ("momentum", {"momentum": 0.0, "dampening": 0.5}),
    ("momentum", {"momentum": 0.0, "dampening": 0.9, "weight_decay": 0.1}),
    ("momentum", {"momentum": 0.5, "dampening": 0.5, "weight_decay": 0.1}),
    ("adam", {}),
    ("adam", {"beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "weight_decay": 0.01}),
    ("adamw", {"weight_decay": 0.1}),
])
def test_optimizers_match_published_rules(optimizer, hyper, fast, monkeypatch):
    if not fast:
        monkeypatch.setattr(fastpath, "MAX_PARAMS", 0)
    d = dict(BLOG, learning_rate=0.05, optimizer={"name": optimizer, **hyper})
    r = run(spec.from_dict(d), 50)
    expected = reference(optimizer, 50, 0.05, **hyper)
    got = [r.final[f"w{i}"] for i in range(1, 9)]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("extra", [["-q"], ["--show", "all"]])
def test_momentum_zero_ignores_dampening_as_pytorch_does(runner, tmp_path, extra):
    """Two plain SGD steps (PyTorch skips the buffer when momentum = 0): w5 = 0.42424, not 0.43064."""
    path = tmp_path / "m0.toml"
    path.write_text("learning_rate = 0.5\n[optimizer]\nname = \"momentum\"\nmomentum = 0.0\ndampening = 0.5\n"
                    "[[samples]]\nx = [0.1, 0.2]\ntarget = [0.4, 0.6]\n"
                    "[[layers]]\nactivation = \"sigmoid\"\nweights = [[0.3, 0.25], [0.4, 0.35]]\n"
                    "[[layers]]\nactivation = \"sigmoid\"\nweights = [[0.45, 0.4], [0.7, 0.6]]\n")
    w = list(W0)
    for _ in range(2):
        w = [wi - 0.5 * gi for wi, gi in zip(w, blog_gradient(w))]
    result = runner.invoke(app, ["step", str(path), "--epochs", "2", "-p", "5", *extra])
    assert result.exit_code == 0, result.output
    assert f"{w[4]:.5f}" == "0.42424" and " 0.42424 " in result.stdout


def test_adam_state_in_trace():
    d = dict(BLOG, learning_rate=0.05, optimizer={"name": "adam"})
    r = run(spec.from_dict(d), 2, show=frozenset({1, 2}))
    u5 = next(u for u in r.traces[0].updates if u.name == "w5")
    g = 0.02592286  # the published dE_total/dw5
    assert u5.state["m"] == pytest.approx(0.1 * g, abs=1e-9)
    assert u5.state["v"] == pytest.approx(0.001 * g * g, rel=1e-6)
    assert u5.state["m_hat"] == pytest.approx(g, abs=1e-8)
    assert u5.new == pytest.approx(0.45 - 0.05 * g / (g + 1e-8), abs=1e-9)  # first Adam step: about lr·sign(g)


@pytest.mark.parametrize("name", ["blog", "xor", "softmax", "deep", "adam"])
@pytest.mark.parametrize("batch", ["online", "full", 2])
def test_fast_path_equals_numpy_path(name, batch, monkeypatch):
    s = load(name)
    fast = run(s, 300, batch=batch)
    monkeypatch.setattr(fastpath, "MAX_PARAMS", 0)
    slow = run(s, 300, batch=batch)
    for k in fast.final:
        assert fast.final[k] == pytest.approx(slow.final[k], abs=1e-12), k
    np.testing.assert_allclose(fast.loss, slow.loss, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(fast.grad_norm, slow.grad_norm, rtol=1e-10, atol=1e-14)


def test_traced_epochs_do_not_change_the_run():
    s = load("xor")
    plain = run(s, 200)
    shown = run(s, 200, show=frozenset({1, 50, 200}))
    assert [t.epoch for t in shown.traces] == [1] * 4 + [50] * 4 + [200] * 4
    for k in plain.final:
        assert plain.final[k] == pytest.approx(shown.final[k], abs=1e-12)


def test_xor_learns():
    r = run(load("xor"), 5000)
    outputs = r.final_outputs[:, 0]
    assert list(outputs > 0.5) == [False, True, True, False]
    assert r.loss[-1] < r.loss[0] / 100


def test_softmax_and_deep_learn():
    sm = run(load("softmax"), 500)
    assert list(sm.final_outputs.argmax(axis=1)) == [0, 1, 2]
    deep = run(load("deep"), 2000)
    assert deep.loss[-1] < 0.01


def test_full_batch_gradient_is_mean_of_sample_gradients():
    """One full-batch SGD step equals the mean of the per-sample finite-difference gradients."""
    s = load("xor")
    r = run(s, 1, batch="full")
    from bptrace import engine
    from bptrace.tracer import Session

    session = Session(s)

    def mean_loss():
        zs, outs = engine.forward(session.net, session.X)
        return engine.errors(session.net, session.T, zs, outs).sum(axis=1).mean()

    W = session.net.W[0]
    for j, k in [(0, 0), (2, 1), (3, 0)]:
        old = W[j, k]
        W[j, k] = old + 1e-6
        up = mean_loss()
        W[j, k] = old - 1e-6
        down = mean_loss()
        W[j, k] = old
        fd = (up - down) / 2e-6
        name = session.names.weights[0][j][k]
        assert r.final[name] == pytest.approx(old - s.learning_rate * fd, abs=1e-9)


def test_minibatches_and_shuffle_are_reproducible():
    s = load("xor")
    a = run(s, 100, batch=2, shuffle=True, seed=5)
    b = run(s, 100, batch=2, shuffle=True, seed=5)
    c = run(s, 100, batch=2, shuffle=True, seed=6)
    assert a.final == b.final and a.final != c.final


def test_until_loss_stops_early():
    r = run(load("xor"), 20000, until_loss=0.01)
    assert r.stop == "until_loss" and r.epochs_done < 20000
    assert r.loss[-1] <= 0.01 < r.loss[-2]


def test_show_last_after_early_stop_traces_the_last_epoch():
    r = run(load("blog"), 10000, until_loss=0.001, show=frozenset({1}), show_last=True)
    last = [t for t in r.traces if t.epoch == r.epochs_done]
    assert len(last) == 1 and last[0].loss_before == pytest.approx(r.loss[-1], rel=1e-12)


def test_interruption_via_callback():
    calls = []
    r = train.train(load("blog"), train.Plan(1000), should_stop=lambda: len(calls.append(1) or calls) >= 10)
    assert r.stop == "interrupted" and r.epochs_done == 9


def test_divergence_names_epoch_sample_and_quantity(runner):
    r = train.train(load("deep").with_learning_rate(5.0), train.Plan(100))
    assert r.stop == "diverged"
    msg = r.divergence.message()
    assert msg.startswith(f"epoch {r.divergence.epoch}, sample ") and "try a smaller learning rate" in msg
    result = runner.invoke(app, ["step", "deep", "--lr", "5", "--epochs", "100"])
    assert result.exit_code == 3
    assert "overflowed to inf" in result.stderr or "became nan" in result.stderr
    assert "Parameters: initial → final" in result.stdout  # the summary so far
    assert "Warning" not in result.output


def test_history_is_a_few_numbers_per_epoch():
    r = run(load("blog"), 5000)
    assert r.loss.shape == (5000,) and r.grad_norm.shape == (5000,) and r.outputs.shape == (5000, 2)
    assert list(r.epoch) == list(range(1, 5001))
    assert r.traces == []


def test_epoch_table_lists_round_epochs(runner):
    result = runner.invoke(app, ["step", "xor", "--epochs", "5000"])
    rows = [int(line.split()[0]) for line in result.stdout.splitlines()
            if line.strip() and line.split()[0].isdigit() and len(line.split()) == 4]
    assert rows == [1, *range(250, 5001, 250)]
    result = runner.invoke(app, ["step", "xor", "--epochs", "5263", "-p", "4"])
    rows = [int(line.split()[0]) for line in result.stdout.splitlines()
            if line.strip() and line.split()[0].isdigit() and len(line.split()) == 4]
    assert rows == [1, *range(500, 5001, 500), 5263]


def test_every_title_fits_80_columns(runner):
    result = runner.invoke(app, ["step", "xor", "--epochs", "5000", "--every", "1000"], env={"COLUMNS": "80"})
    title = next(line for line in result.stdout.splitlines() if line.startswith("Epochs"))
    assert title.rstrip().endswith(")")  # not wrapped
    assert max(len(line) for line in result.stdout.splitlines()) <= 80


def test_step_cli(runner):
    result = runner.invoke(app, ["step", "xor", "--epochs", "3000", "--show", "first,last"])
    assert result.exit_code == 0, result.output
    assert "epoch 1, step 1" in result.output and "epoch 3000, step 12000" in result.output
    assert "loss per epoch" in result.output and "Outputs with the final weights" in result.output
    quiet = runner.invoke(app, ["step", "xor", "--epochs", "100", "-q"])
    assert "loss per epoch" not in quiet.output and "Parameters: initial → final" in quiet.output


@pytest.mark.parametrize("args,message", [
    (["--batch", "half"], "--batch: expected online, full or a whole number > 0, got 'half'"),
    (["--show", "first,x"], "--show: expected first, last, all or epoch numbers from 1 to 10, got 'x'"),
    (["--show", "11"], "--show: expected first, last, all or epoch numbers from 1 to 10, got '11'"),
    (["--watch", "3"], "--watch 3: blog.toml (built-in) has 1 sample"),
])
def test_step_bad_options(runner, args, message):
    result = runner.invoke(app, ["step", "--epochs", "10", *args])
    assert result.exit_code == 2
    assert message in result.stderr


def test_ctrl_c_prints_summary_and_exits_130(tmp_path, spawn):
    from test_signals import wait_for_part

    proc = spawn([sys.executable, "-m", "bptrace", "step", "--epochs", "10000000", "-q", "-o", "r.jsonl"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    wait_for_part(tmp_path, proc)  # records on disk: the training loop is running and listens for Ctrl-C
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted (Ctrl-C)" in out and "Traceback" not in err


def test_show_all_on_a_long_run_is_refused(runner):
    result = runner.invoke(app, ["step", "xor", "--epochs", "5000", "--show", "all"])
    assert result.exit_code == 2
    assert "--show would print 20,000 full traces" in result.stderr


def test_progress_is_refreshed_by_time_not_by_epoch_count(monkeypatch):
    """A slow run (3,000,000 epochs at 0.3 s each) shows its progress after half a second, not
    after epochs/1000 epochs."""
    from bptrace import progress as progress_mod

    clock = [0.0]
    monkeypatch.setattr(progress_mod.time, "monotonic", lambda: clock[0])
    progress = progress_mod.EpochProgress(3_000_000, enabled=True)
    try:
        for epoch in range(1, 6):
            clock[0] += 0.3
            progress(epoch)
        assert progress.bar is not None
        assert progress.bar.tasks[0].completed == 5
    finally:
        progress.close()


def test_a_batch_as_large_as_the_samples_is_called_a_full_batch():
    """--batch K with K ≥ the samples makes one update of every sample per epoch: the header says so,
    not "mini-batches of K" (the worked example has one sample)."""
    from typer.testing import CliRunner

    from bptrace.cli import app

    out = CliRunner().invoke(app, ["step", "blog", "--batch", "3", "--epochs", "2"]).stdout
    assert "batches of 3: the 1 sample in one (a full batch)" in out and "mini-batches" not in out
    out = CliRunner().invoke(app, ["step", "xor", "--batch", "2", "--epochs", "2"]).stdout
    assert "mini-batches of 2" in out
