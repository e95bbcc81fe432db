"""samples/rnn.toml through the commands: run (80 columns, both naming schemes), gradcheck, verify, step,
the exports, and a bad rnn table's exit code."""

import json
import re

import pytest
from rich.cells import cell_len

from bptrace.cli import app
from conftest import SAMPLES

RNN = str(SAMPLES / "rnn.toml")


def fits(text: str, width: int = 80) -> bool:
    return max(cell_len(line) for line in text.splitlines()) <= width


@pytest.mark.parametrize("naming", ["seed", "layered"])
def test_run_fits_80_columns(runner, naming):
    result = runner.invoke(app, ["run", RNN, "--naming", naming], env={"COLUMNS": "80"}, terminal_width=80)
    assert result.exit_code == 0, result.output
    assert fits(result.output)
    text = result.output
    first = {"seed": "r_11", "layered": "r^(1)_11"}[naming]
    assert re.search(rf"^ {re.escape(first)} ", text, re.M)
    for label in ("s_t,j", "∂E_total/∂r_t,j", "g_t = ‖∂E_total/∂s_t‖", "∂E_total/∂W_jm via r_3,j"):
        assert label in text
    # docs/recurrent.md's numbers (checked there against PyTorch): ∂E_total/∂W_12, its step-3 term, g1
    assert "0.00772947" in text and "0.00738580" in text and "0.01140812" in text


def test_gradcheck_and_verify(runner):
    result = runner.invoke(app, ["gradcheck", RNN])
    assert result.exit_code == 0 and "all 8 gradients agree" in result.output
    pytest.importorskip("torch")
    result = runner.invoke(app, ["verify", RNN, "--epochs", "3"])
    assert result.exit_code == 0 and "agree with PyTorch" in result.output


def test_step_learns_to_tell_rising_sequences(runner):
    result = runner.invoke(app, ["step", RNN, "--epochs", "100"], env={"COLUMNS": "100"}, terminal_width=100)
    assert result.exit_code == 0
    outputs = re.findall(r"^\s+(\d)\s+[\d., ]+?\s+([01])\s+(\d\.\d+)$", result.output, re.M)
    assert [(s, t) for s, t, _ in outputs] == [("1", "1"), ("2", "0"), ("3", "0")]
    o = [float(v) for _, _, v in outputs]
    assert o[0] > 0.8 and o[1] < 0.05 and o[2] < 0.2  # the rising sequence apart from the two others


def test_exports(runner, tmp_path):
    paths = [tmp_path / f"rnn.{ext}" for ext in ("md", "tex", "json")]
    result = runner.invoke(app, ["run", RNN, *[a for p in paths for a in ("--export", str(p))]])
    assert result.exit_code == 0, result.output
    md, tex, data = paths[0].read_text(), paths[1].read_text(), json.loads(paths[2].read_text())
    assert "r_{11} = U_{11}x_{1} + W_{11}s_{01} + W_{12}s_{02}" in md and "0.00772947" in md
    assert r"W_{12}" in tex and "0.00772947" in tex
    backward = data["iterations"][0]["passes"][0]["backward"]
    assert backward["dE_total/dW_12"] == pytest.approx(0.00772947, abs=5e-9)
    assert backward["g1"] == pytest.approx(0.01140812, abs=5e-9)


BAD = ('learning_rate = 0.5\n[[samples]]\nx = [0.1, 0.4, 0.8]\ntarget = [1]\n[[layers]]\ntype = "rnn"\n'
       'input_weights = [[0.5, 0.1], [-0.4, 0.2]]\n[[layers]]\nactivation = "sigmoid"\nunits = 1\n')


def test_bad_rnn_table_exits_2(runner, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(BAD)
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code == 2
    assert result.stderr.strip() == ("error: bad.toml: layers[1].input_weights: expected 2×1 (2 units × 1 input per "
                                     "step), got 2×2") or "layers[1].input_weights: expected 2×1" in result.stderr


VARIANT = """learning_rate = 0.1
loss = "mse"
[[samples]]
x = [[0.1, 0.2], [0.3, -0.1], [0.5, 0.4]]
target = [0.5]
[[layers]]
type = "rnn"
activation = "relu"
units = 3
bias = [0.1, 0.0, -0.1]
h0 = [0.2, 0.1, 0.3]
[[layers]]
activation = "linear"
weights = [[0.5, -0.3, 0.2]]
"""


@pytest.mark.parametrize("which", ["sample", pytest.param("variant", marks=pytest.mark.slow)])
def test_the_py_export_prints_the_same_update(runner, tmp_path, which):
    """The .py export (RNNLastState: nn.RNN with b_hh held at 0, then the dense part) run in PyTorch prints
    every gradient and updated parameter of bptrace's update."""
    pytest.importorskip("torch")
    import subprocess
    import sys

    spec = RNN if which == "sample" else tmp_path / "v.toml"
    if which == "variant":  # drawn U and W, a bias, relu, two inputs per step, a non-zero h0
        spec.write_text(VARIANT)
    script, trace = tmp_path / "t.py", tmp_path / "t.json"
    result = runner.invoke(app, ["run", str(spec), "--export", str(script), "--export", str(trace)])
    assert result.exit_code == 0, result.output
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True).stdout
    printed = dict(re.findall(r"^dE_total/d(\S+) = \S+\s+\S+\+ = (\S+)$", out, re.M))
    update = json.loads(trace.read_text())["iterations"][0]["update"]
    assert set(printed) == set(update) and len(update) == (8 if which == "sample" else 21)
    for name, u in update.items():
        assert float(printed[name]) == pytest.approx(u["new"], abs=1e-8), name
