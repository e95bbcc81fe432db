"""One number formatter everywhere (README, "Numbers"): `step` prints numbers as `run` does; given
values as written; tiny values in ×10⁻ form; one minus sign per notation."""

import re

import pytest

from bptrace.cli import app
from bptrace.fmt import num, signed
from conftest import PUBLISHED

# One linear neuron o = w·x with x = 1, t = 0, E = ½(t − o)², α = 0.5: dE/dw = w, so w halves every
# epoch and the loss of epoch k is ½·(0.5·0.5^(k−1))² = ½·4^−k.
HALVING = """
title = "halving"
loss = "half_sse"
learning_rate = 0.5
[[samples]]
x = [1.0]
target = [0.0]
[[layers]]
activation = "linear"
weights = [[0.5]]
"""


def _out(runner, *args) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "100"})
    assert result.exit_code in (0, 3), result.output
    return result.output


def test_threshold_and_signs():
    assert num(5e-8, 8) == "5.0000000e-08"  # 0.00000005 would keep one significant digit
    assert num(6.7e-7, 8) == "0.00000067"  # two digits: fixed
    assert num(1e-7, 8, style="unicode") == "0.00000010"
    assert num(5e-8, 8, style="unicode") == "5.0000000×10⁻⁸"
    assert num(0.05, 2) == "0.05" and num(0.004, 2) == "4.0e-03"  # low precision: only what rounds to zero
    assert num(0.0012, 4) == "0.0012" and num(0.0008, 4) == "8.000e-04" and num(0.3, 1) == "0.3"
    assert num(-0.5, 8, style="unicode") == "−0.50000000" and num(-0.5, 8) == "-0.50000000"
    assert num(-0.5, 8, style="latex") == "-0.50000000"
    assert num(1e200, given=True, style="unicode") == "1×10²⁰⁰"
    assert signed(-0.25, 2, "unicode") == "−0.25" and signed(0.25, 2, "unicode") == "+0.25"


def test_step_prints_tiny_losses_as_run_does(runner, tmp_path):
    spec = tmp_path / "halving.toml"
    spec.write_text(HALVING)
    out = _out(runner, "step", str(spec), "-n", "20")
    assert not re.search(r"\de[-+]\d", out), "ASCII e-notation in the terminal"
    # epoch 20: ½·4^−20 = 4.547473508864641e-13 (worked out above, not by bptrace)
    assert re.search(r"^\s*20\s+4\.5474735×10⁻¹³\s", out, re.M), out
    assert "loss: 0.12500000 → 4.5474735×10⁻¹³" in out  # epoch 1: ½·4^−1


def test_step_shows_given_initial_weights_as_written(runner):
    out = _out(runner, "step", "blog", "-n", "2")
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^ (w\d)\s+(\S+)\s+\S+\s+\S+$", out, re.M)}
    assert rows == {"w1": "0.3", "w2": "0.25", "w3": "0.4", "w4": "0.35",
                    "w5": "0.45", "w6": "0.4", "w7": "0.7", "w8": "0.6"}


def test_huge_learning_rate_in_scientific_form(runner):
    out = _out(runner, "run", "--lr", "1e200")
    assert "α = 1×10²⁰⁰" in out and "e+200" not in out


def test_tiny_optimizer_state_in_scientific_form(runner):
    out = _out(runner, "run", "adam")
    # Adam's v after one step: (1 − β2)·g² = 0.001 × 0.00740844² = 5.4885e-08 for w7 (published gradient)
    v7 = 0.001 * PUBLISHED["dE_total/dw7"] ** 2
    row = re.search(r"^ w7\s+(\S+)\s+(\S+)\s*$", out.split("Optimizer state: m, v")[1], re.M)
    mantissa, exponent = row.group(2).split("×10")
    assert exponent == "⁻⁸" and float(mantissa) * 1e-8 == pytest.approx(v7, rel=1e-6)
    assert "0.0000000" not in row.group(0)


@pytest.mark.parametrize("args", [["run", "xor"], ["run", "softmax"], ["run", "deep"], ["step", "xor", "-n", "3"]])
def test_one_minus_sign_in_the_terminal(runner, args):
    out = _out(runner, *args)
    body = out.split("\n\n", 1)[1]  # after the network's title (2-4-1 is not a minus)
    assert "−" in body
    assert not re.search(r"(?<![\w])-\d", body), re.search(r".*(?<![\w])-\d.*", body).group(0)
    assert "e^−(-" not in out


def test_ascii_keeps_the_ascii_minus(runner):
    out = _out(runner, "run", "xor", "--ascii")
    assert "−" not in out and re.search(r"e\^-\(-0\.14371230\)", out)


def test_gradcheck_uses_the_same_formatter(runner, tmp_path):
    spec = tmp_path / "tiny.toml"
    spec.write_text(HALVING.replace("[[0.5]]", "[[-2e-9]]"))
    result = runner.invoke(app, ["gradcheck", str(spec)], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    # dE/dw = (o − t)·x = w = −2e-9 for o = w·1, t = 0 (worked out above)
    row = next(line for line in result.output.splitlines() if line.startswith(" w1"))
    assert row.split()[1:3] == ["−2.0000000×10⁻⁹", "−2.0000000×10⁻⁹"], row
