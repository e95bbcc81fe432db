"""How `gradcheck` and `check` present names: whole, from identities, with kinks explained."""

import os
import re
import subprocess
import sys

from bptrace import naming
from bptrace.cli import app
from conftest import numbers_in

# One leaky_relu neuron whose weighted sum is exactly 0: z1 = 0.5·0.5 + (−0.25)·1.0 + 0 = 0.
KINK = """
loss = "half_sse"
learning_rate = 0.5

[[samples]]
x = [0.5, 1.0]
target = [1.0]

[[layers]]
activation = "leaky_relu"
slope = 0.01
weights = [[0.5, {w2}]]
bias = [0.0]

[[layers]]
activation = "sigmoid"
weights = [[0.8]]
"""


def spec(tmp_path, w2="-0.25"):
    path = tmp_path / "kink.toml"
    path.write_text(KINK.format(w2=w2))
    return str(path)


def row(output: str, name: str) -> str:
    return next(line for line in output.splitlines() if line.split()[:1] == [name])


def test_kink_rows_are_explained_and_not_failures(runner, tmp_path):
    result = runner.invoke(app, ["gradcheck", spec(tmp_path)], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    # Worked by hand: o1 = sigmoid(0.8·h1) = 0.5 at h1 = 0, so dE/dh1 = (o1 − t)·o1(1 − o1)·0.8 = −0.1.
    # dE/dw1 = dE/dh1 · dh1/dz1 · x1: one-sided slopes 1 (z > 0) and 0.01 (z < 0); the central
    # difference averages them, backpropagation takes the z ≤ 0 side.
    for name, x in (("w1", 0.5), ("w2", 1.0), ("b1", 1.0)):
        line = row(result.output, name)
        analytic, numeric = numbers_in(line)[:2]
        assert abs(analytic - (-0.1 * 0.01 * x)) < 1e-9, line
        assert abs(numeric - (-0.1 * x * (1 + 0.01) / 2)) < 1e-7, line
        assert line.rstrip().endswith("kink"), line
    assert row(result.output, "w3").rstrip().endswith("✓")  # h1 = 0 either way: no kink crossed
    assert "1 of 4 gradients agree" in result.output and "3 at a kink" in result.output
    assert "w1, w2, b1: at a kink (z1 = 0): the derivative is one-sided there; not a failure" in result.output


def test_no_kink_is_claimed_away_from_zero(runner, tmp_path):
    # z1 = 0.05: a step of 1e-4 never reaches the kink, so an impossible tolerance fails plainly
    result = runner.invoke(app, ["gradcheck", spec(tmp_path, "-0.2"), "--tol", "0", "--atol", "0",
                                 "--eps", "1e-4"], env={"COLUMNS": "120"})
    assert result.exit_code == 1 and "disagree" in result.output
    assert "kink" not in result.output


def test_a_step_across_a_kink_is_told_apart_from_a_kink(runner, tmp_path):
    # z1 = 0.05 and a step of 0.1 on w2 (x2 = 1) moves z1 to 0.15 and −0.05: across the kink
    result = runner.invoke(app, ["gradcheck", spec(tmp_path, "-0.2"), "--eps", "0.1"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "near a kink (z1 = 0.05000000): the step ±h crosses it" in result.output
    assert "at a kink (z1 = 0)" not in result.output


def test_a_long_verdict_says_how_many_more(runner):
    result = runner.invoke(app, ["gradcheck", "deep", "--tol", "0", "--atol", "0", "--eps", "0.1"],
                           env={"COLUMNS": "120"})
    assert result.exit_code == 1
    crossed = [line.split()[0] for line in result.output.splitlines() if line.rstrip().endswith("✗")]
    assert len(crossed) > 10
    text = " ".join(result.output.split())  # the verdict wraps
    verdict = f"{len(crossed)} of 49 gradients disagree beyond 0: {', '.join(crossed[:10])} and {len(crossed) - 10} more"
    assert verdict in text, text


def test_parameter_names_stay_whole_in_a_narrow_terminal():
    result = subprocess.run([sys.executable, "-m", "bptrace", "gradcheck", "deep"], capture_output=True, text=True,
                            env={**os.environ, "COLUMNS": "40"})
    assert result.returncode == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.splitlines() if re.match(r"^\s+[Wb]\^", line)]
    assert len(names) == 49 and "W^(3)_24" in names and "b^(4)_1" in names
    assert not any("…" in n for n in names), names


def test_check_names_updated_values_as_the_run_does(runner, tmp_path):
    # names come from identities: a claim about w5 after the update shows as w5⁺, as `run` shows it
    path = tmp_path / "answers.toml"
    path.write_text('"w5+" = 0.43703857\n"delta_o1" = 0.1\n')
    result = runner.invoke(app, ["check", "blog", str(path)])
    assert result.exit_code == 1
    assert re.search(r"^\s*w5⁺\s+0\.43703857", result.output, flags=re.M), result.output
    assert "✗ δ_o1 = 0.1 " in result.output


def test_no_presenter_parses_names():
    assert not hasattr(naming, "pretty")
