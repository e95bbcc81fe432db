"""`check` on a batch update (answers with `batch = "full"` or `batch = K`), and the sum-versus-mean slip
(issue 12: "sum versus mean over a batch"). The correct numbers come from central finite differences of
the batch's mean loss, computed here with a few lines of plain Python, not from bptrace."""

import math

import pytest

from bptrace.cli import app

SPEC = """
title = "2-2-1 sigmoid, two samples"
loss = "half_sse"
learning_rate = 0.5

[[samples]]
x = [0.1, 0.2]
target = [0.4]

[[samples]]
x = [0.7, -0.3]
target = [0.9]

[[layers]]
activation = "sigmoid"
weights = [[0.3, 0.25], [0.4, 0.35]]

[[layers]]
activation = "sigmoid"
weights = [[0.45, 0.4]]
"""
W = [0.3, 0.25, 0.4, 0.35, 0.45, 0.4]  # w1 … w6 in bptrace's numbering (w1, w2 into h1; w5, w6 into o1)
SAMPLES_ = [((0.1, 0.2), 0.4), ((0.7, -0.3), 0.9)]
ALPHA = 0.5


def sig(z):
    return 1 / (1 + math.exp(-z))


def loss(w, samples=SAMPLES_):
    """The mean over the samples of ½(t − o)²."""
    total = 0.0
    for (x1, x2), t in samples:
        h1, h2 = sig(w[0] * x1 + w[1] * x2), sig(w[2] * x1 + w[3] * x2)
        total += 0.5 * (t - sig(w[4] * h1 + w[5] * h2)) ** 2
    return total / len(samples)


def grad(i, samples=SAMPLES_, eps=1e-6):
    up, down = list(W), list(W)
    up[i] += eps
    down[i] -= eps
    return (loss(up, samples) - loss(down, samples)) / (2 * eps)


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "net.toml"
    path.write_text(SPEC, encoding="utf-8")
    return str(path)


def run(runner, tmp_path, spec, text, *args):
    answers = tmp_path / "answers.toml"
    answers.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["check", spec, str(answers), *args])
    return result, " ".join(result.output.split())


def test_a_right_batch_update_holds(runner, tmp_path, spec):
    g5, g1 = grad(4), grad(0)
    text = (f'batch = "full"\nE_total = {loss(W):.6f}\n"dE_total/dw5" = {g5:.6f}\n"dE_total/dw1" = {g1:.6f}\n'
            f'"w5+" = {W[4] - ALPHA * g5:.6f}\n"w1+" = {W[0] - ALPHA * g1:.6f}\nw5 = 0.45\n')
    result, text = run(runner, tmp_path, spec, text)
    assert result.exit_code == 0, result.output
    assert "6 of 6 claims hold" in text
    assert "the batch of 2 samples that holds sample 1" in text


def test_a_summed_gradient_is_named(runner, tmp_path, spec):
    g5 = grad(4)
    summed = 2 * g5
    result, text = run(runner, tmp_path, spec, f'batch = "full"\n"dE_total/dw5" = {summed:.6f}\n')
    assert result.exit_code == 1
    assert f"∂E_total/∂w5 = {summed:.6f} sums the 2 samples' gradients where the update uses their mean" in text
    assert f"(correct: {g5:.6f})" in text


def test_an_update_from_the_summed_gradient_is_named(runner, tmp_path, spec):
    g5 = grad(4)
    result, text = run(runner, tmp_path, spec, f'batch = "full"\n"w5+" = {W[4] - ALPHA * 2 * g5:.6f}\n')
    assert result.exit_code == 1
    assert "is what you get when the update used the sum of the batch's gradients instead of their mean" in text
    assert f"(correct: {W[4] - ALPHA * g5:.6f})" in text


def test_a_summed_loss_is_named(runner, tmp_path, spec):
    result, text = run(runner, tmp_path, spec, f'batch = "full"\nE_total = {2 * loss(W):.6f}\n')
    assert result.exit_code == 1
    assert "is the sum of the 2 samples' losses; the batch's E_total is their mean" in text


def test_another_slip_is_not_called_a_sum(runner, tmp_path, spec):
    result, text = run(runner, tmp_path, spec, f'batch = "full"\n"dE_total/dw5" = {3 * grad(4):.6f}\n')
    assert result.exit_code == 1
    assert "sums the" not in text and "should be" in text


def test_a_mini_batch_s_last_update_starts_from_the_first_one_s_weights(runner, tmp_path, spec):
    """batch = 1 with sample = 2 is the second online update: its gradient is at the weights w − α·∇E₁."""
    after = [w - ALPHA * g for w, g in zip(W, (grad(i, SAMPLES_[:1]) for i in range(6)))]
    W[:], saved = after, list(W)
    try:
        g5 = grad(4, SAMPLES_[1:])
    finally:
        W[:] = saved
    result, text = run(runner, tmp_path, spec, f'batch = 1\nsample = 2\n"dE_total/dw5" = {g5:.6f}\n')
    assert result.exit_code == 0, result.output


def test_a_claim_about_one_sample_s_pass_is_refused_with_advice(runner, tmp_path, spec):
    result, text = run(runner, tmp_path, spec, 'batch = "full"\nz1 = 0.08\n')
    assert result.exit_code == 2
    assert '"z1": no such quantity' in text
    assert "check one sample's pass with batch = \"online\"" in text


@pytest.mark.parametrize("value", ['"half"', "0", "-2", "true", "1.5"])
def test_a_bad_batch_is_refused(runner, tmp_path, spec, value):
    result, text = run(runner, tmp_path, spec, f'batch = {value}\nE_total = 0.1\n')
    assert result.exit_code == 2
    assert 'batch: expected "online", "full" or a whole number ≥ 1 (a mini-batch size)' in text


def test_rounding_a_batch_is_refused(runner, tmp_path, spec):
    result, text = run(runner, tmp_path, spec, 'batch = "full"\nE_total = 0.1\n', "--round", "4")
    assert result.exit_code == 2
    assert "textbook rounding follows one sample per update" in text


def test_the_class_summary_names_the_slip(runner, tmp_path, spec):
    (tmp_path / "a.toml").write_text(f'batch = "full"\n"dE_total/dw5" = {2 * grad(4):.6f}\n', encoding="utf-8")
    result = runner.invoke(app, ["check", spec, str(tmp_path / "a.toml"), "--summary"])
    assert "sum versus mean over a batch" in " ".join(result.output.split())
