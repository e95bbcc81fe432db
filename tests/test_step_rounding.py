"""`step --round N` (issue 12, item 3): a training run in which every computed value is rounded half up
to N decimals before anything uses it, each update starting from the previous one's rounded weights.
The expected numbers come from a separate hand calculation written out below (and, for the first
update, from the numbers Han, Kamber & Pei print)."""

import math
from decimal import ROUND_HALF_UP, Decimal

import pytest

import bptrace
from bptrace.cli import app
from conftest import SAMPLES


def r(v: float, n: int) -> float:
    return float(Decimal(repr(v)).quantize(Decimal(1).scaleb(-n), ROUND_HALF_UP))


def sig(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def han_kamber_by_hand(epochs: int, n: int):
    """Han & Kamber's 3-2-1 network trained online by hand, rounding every value: (losses, final weights)."""
    x, t, a = (1.0, 0.0, 1.0), 1.0, 0.9
    W1 = [[0.2, 0.4, -0.5], [-0.3, 0.1, 0.2]]
    b1 = [-0.4, 0.2]
    W2, b2 = [-0.3, -0.2], 0.1
    losses = []
    for _ in range(epochs):
        z = [r(sum(w * xi for w, xi in zip(row, x)) + b, n) for row, b in zip(W1, b1)]
        h = [r(sig(zj), n) for zj in z]
        z3 = r(sum(w * hj for w, hj in zip(W2, h)) + b2, n)
        o = r(sig(z3), n)
        losses.append(r(0.5 * (t - o) ** 2, n))
        dEdo = r(-(t - o), n)
        dodz = r(o * (1 - o), n)
        d_o = r(dEdo * dodz, n)
        g2 = [r(dEdo * dodz * hj, n) for hj in h]  # the chain as bptrace writes it: ∂E/∂o × ∂o/∂z × h
        gb2 = r(dEdo * dodz * 1, n)
        dEdh = [r(d_o * w, n) for w in W2]  # one output: ∂E_total/∂h_j = δ_o × w
        dhdz = [r(hj * (1 - hj), n) for hj in h]
        g1 = [[r(dEdh[j] * dhdz[j] * xi, n) for xi in x] for j in range(2)]
        gb1 = [r(dEdh[j] * dhdz[j] * 1, n) for j in range(2)]
        W1 = [[r(w - a * g, n) for w, g in zip(row, grow)] for row, grow in zip(W1, g1)]
        b1 = [r(b - a * g, n) for b, g in zip(b1, gb1)]
        W2 = [r(w - a * g, n) for w, g in zip(W2, g2)]
        b2 = r(b2 - a * gb2, n)
    return losses, [*W1[0], *W1[1], *b1, *W2, b2]


@pytest.mark.parametrize("decimals", [3, 4, 6])
def test_a_rounded_run_matches_the_hand_calculation(decimals):
    result = bptrace.train(SAMPLES / "han-kamber.toml", epochs=5, round=decimals)
    losses, final = han_kamber_by_hand(5, decimals)
    assert result.loss.tolist() == pytest.approx(losses, abs=1e-12)
    assert result.final_values.tolist() == pytest.approx(final, abs=1e-12)


def test_rounding_changes_the_run():
    """The rounded run is not the exact one (else the test above would prove nothing)."""
    exact = bptrace.train(SAMPLES / "han-kamber.toml", epochs=5).final_values
    rounded = bptrace.train(SAMPLES / "han-kamber.toml", epochs=5, round=3).final_values
    assert max(abs(a - b) for a, b in zip(exact, rounded)) > 1e-4


def test_the_first_rounded_update_is_the_book_s(runner):
    """Han, Kamber & Pei, Table 9.4 (to 3 decimals): w46 = −0.261, w56 = −0.138, θ6 = 0.218, w14 = 0.192,
    w34 = −0.508, w15 = −0.306, w35 = 0.194, θ4 = −0.408, θ5 = 0.194. The book keeps errors to 4 decimals:
    a calculation rounded to 4 decimals, its weights read to 3, gives the book's."""
    result = runner.invoke(app, ["step", str(SAMPLES / "han-kamber.toml"), "--epochs", "1", "--round", "4"])
    assert result.exit_code == 0, result.output
    final = dict(row.split()[:3:2] for row in result.output.split("Parameters: initial → final")[1].splitlines()[3:14])
    book = {"w7": "-0.261", "w8": "-0.138", "b3": "0.218", "w1": "0.192", "w3": "-0.508", "w4": "-0.306",
            "w6": "0.194", "b1": "-0.408", "b2": "0.194"}
    assert {k: f"{r(float(final[k].replace('−', '-')), 3):.3f}" for k in book} == book
    assert all(len(final[k].split(".")[1]) == 4 for k in book)  # shown to the 4 decimals kept
    assert "(every computed value rounded to 4 decimals)" in " ".join(result.output.split())


def test_shown_traces_hold_the_rounded_values(runner):
    result = runner.invoke(app, ["step", str(SAMPLES / "han-kamber.toml"), "--epochs", "2", "--round", "4",
                                 "--show", "2"])
    assert result.exit_code == 0, result.output
    losses, _ = han_kamber_by_hand(2, 4)
    assert f"E_total: {losses[1]:.4f} →" in result.output


@pytest.mark.parametrize("args, message", [
    (["adam", "--round", "4"], "textbook rounding follows plain gradient descent (optimizer sgd), not adam"),
    (["xor", "--batch", "full", "--round", "4"], "textbook rounding follows one sample per update"),
    (["blog", "--round", "13"], "--round"),
])
def test_rounding_outside_plain_online_descent_is_refused(runner, args, message):
    result = runner.invoke(app, ["step", *args, "--epochs", "2"])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_the_library_names_the_parameter():
    with pytest.raises(bptrace.BptraceError, match="^round: expected a whole number of decimals"):
        bptrace.plan("blog", epochs=2, round=-1)


def test_check_grades_a_later_update_against_a_rounded_run(runner, tmp_path):
    """`check --round 4` with `epoch = 3`: the weights before that update come from a rounded run too."""
    losses, _ = han_kamber_by_hand(3, 4)
    answers = tmp_path / "answers.toml"
    answers.write_text(f"epoch = 3\nE_total = {losses[2]:.4f}\n", encoding="utf-8")
    spec = str(SAMPLES / "han-kamber.toml")
    rounded = runner.invoke(app, ["check", spec, str(answers), "--round", "4"])
    assert rounded.exit_code == 0, rounded.output
    exact = bptrace.train(SAMPLES / "han-kamber.toml", epochs=3).loss[2]
    assert abs(exact - losses[2]) > 5e-5  # the exact run's E_total differs in the 4th decimal
