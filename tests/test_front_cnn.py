"""samples/cnn.toml end to end: bptrace's trace of its first update against the numbers worked out by hand
in tests/test_convolution_doc.py (plain Python), names in both schemes, 80 columns, gradcheck, training,
every export, and PyTorch."""

import json
import subprocess
import sys

import pytest

from bptrace import spec as spec_mod
from bptrace import tracer
from bptrace import trainer as train
from bptrace.cli import app
from bptrace.gradcheck import gradcheck
from conftest import ROOT
from test_convolution_doc import by_hand

PATH = ROOT / "samples" / "cnn.toml"


@pytest.fixture(scope="module")
def spec():
    return spec_mod.load(str(PATH))


@pytest.fixture(scope="module")
def first(spec):
    return tracer.run(spec).iterations[0]


def test_the_trace_is_the_hand_calculation(first):
    hand = by_hand()
    names = [n for n, v in hand.items() if isinstance(v, float)]
    assert len(names) > 80
    for name in names:
        assert first.value(name) == pytest.approx(hand[name], rel=1e-12, abs=1e-15), name


def test_the_pool_traces_only_each_winners_path(first):
    names = {name for _, name, _ in first.walk()}
    assert {"dP_11/dv_11", "dP_12/dv_13", "dP_21/dv_31", "dP_22/dv_33"} <= names
    assert not {"dP_11/dv_12", "dP_11/dv_21", "dP_11/dv_22"} & names
    assert first.value("dE_total/dv_12") == 0 and first.value("dE_total/dv_13") == pytest.approx(-0.158765, abs=1e-8)


def test_layered_names(spec):
    it = tracer.run(spec, naming="layered").iterations[0]
    names = {name for _, name, _ in it.walk()}
    assert {"k^(1)_12", "c^(1)_1", "u^(1)_11", "v^(1)_33", "P^(2)_11", "f^(3)_1", "dE_total/dk^(1)_12",
            "dE_total/dk^(1)_12 via u^(1)_11", "dP^(2)_11/dv^(1)_11", "k^(1)_12+"} <= names


@pytest.mark.parametrize("args", [[], ["--naming", "layered"], ["--ascii"]])
def test_run_fits_80_columns(runner, args):
    result = runner.invoke(app, ["run", str(PATH), *args], env={"COLUMNS": "80"}, terminal_width=80)
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80
    d = "d" if "--ascii" in args else "∂"  # the grids' labels in the run's notation
    for label in ("x", "k", "u", "v", "P", f"{d}E_total/{d}u", f"{d}E_total/{d}k"):
        assert f"\n{label}\n" in result.output, label


def test_gradcheck_agrees(spec):
    rows = gradcheck(spec)
    assert len(rows) == 15 and all(r.ok for r in rows)


@pytest.mark.parametrize("batch", ["online", "full"])
def test_it_learns_both_classes_in_50_epochs(spec, batch):
    r = train.train(spec, train.Plan(50, batch=batch))
    assert r.loss[0] > 0.6 and r.loss[-1] < 0.1, (r.loss[0], r.loss[-1])


def test_step_names_the_kernel_in_the_parameter_table(runner):
    result = runner.invoke(app, ["step", str(PATH), "--epochs", "2"], env={"COLUMNS": "80"}, terminal_width=80)
    assert result.exit_code == 0
    table = result.output.split("Parameters: initial")[1]
    assert [line.split()[0] for line in table.splitlines()[3:8]] == ["k_11", "k_12", "k_21", "k_22", "c1"]


def test_every_export(runner, tmp_path):
    for ext in ("json", "md", "tex", "html", "walk.html"):
        result = runner.invoke(app, ["run", str(PATH), "--export", str(tmp_path / f"cnn.{ext}")])
        assert result.exit_code == 0, (ext, result.output)
    doc = json.loads((tmp_path / "cnn.json").read_text())
    assert doc["quantities"]["k_12"]["symbol"] == "k" and doc["quantities"]["P_11"]["formula"].startswith(r"\max")
    assert "0.28048484" in (tmp_path / "cnn.md").read_text()


@pytest.mark.slow
def test_the_py_export_prints_the_same_update(runner, tmp_path):
    pytest.importorskip("torch")
    runner.invoke(app, ["run", str(PATH), "--export", str(tmp_path / "cnn.py")])
    out = subprocess.run([sys.executable, str(tmp_path / "cnn.py")], capture_output=True, text=True, check=True).stdout
    assert "k_12+ = 0.35975758" in out and "c1+ = 0.09415666" in out


@pytest.mark.slow
def test_verify_agrees_with_pytorch(spec):
    pytest.importorskip("torch")
    from bptrace.verify import compare

    for batch in ("online", "full"):
        report = compare(spec, epochs=5, batch=batch)
        assert report.ok and len(report.rows()) > 100


def test_no_pool_window_has_a_tie(spec):
    """docs/convolution.md: no window of v has two equal positive maxima (gradcheck and PyTorch agree)."""
    import numpy as np

    conv = spec.front[0]
    for sample in spec.samples:
        V = conv.forward([p.value for p in conv.params], np.array(sample.x).reshape(1, 1, 4, 4))[0][0, 0]
        for i in range(2):
            for j in range(2):
                w = np.sort(V[i:i + 2, j:j + 2].ravel())
                assert w[-1] == 0 or w[-1] - w[-2] > 0.01, (i, j, w)


def _drawn_spec():
    import tomllib

    data = tomllib.loads(PATH.read_text())
    data["layers"][0] = {"type": "conv2d", "kernel": "pytorch", "size": 2, "bias": "pytorch", "activation": "relu"}
    return spec_mod.from_dict(data, "drawn.toml")


def test_a_drawn_kernel_round_trips_and_gradchecks():
    s = _drawn_spec()
    assert s.to_dict()["layers"][0]["kernel"] == "pytorch"
    assert s.front[0].kernel.value.shape == (1, 1, 2, 2) and not s.front[0].kernel.given
    assert all(r.ok for r in gradcheck(s))


@pytest.mark.slow
def test_a_drawn_kernel_verifies_against_pytorch():
    pytest.importorskip("torch")
    from bptrace.verify import compare

    assert compare(_drawn_spec(), epochs=3, batch="online").ok
