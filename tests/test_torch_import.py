"""`bptrace import`: a spec from a model's weights (.npz; a PyTorch state_dict with the torch extra)."""

from __future__ import annotations

import importlib.util
import tomllib

import numpy as np
import pytest

import bptrace
from bptrace.cli import app
from conftest import PUBLISHED

needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch is not installed")
BLOG_ARGS = ["-a", "sigmoid,sigmoid", "--lr", "0.5", "--x", "0.1,0.2", "--target", "0.4,0.6"]


def test_npz_of_the_worked_example_traces_the_published_numbers(runner, tmp_path):
    model = tmp_path / "blog.npz"
    np.savez(model, W1=np.array([[0.30, 0.25], [0.40, 0.35]]), W2=np.array([[0.45, 0.40], [0.70, 0.60]]))
    result = runner.invoke(app, ["import", str(model), *BLOG_ARGS])
    assert result.exit_code == 0, result.output
    trace = bptrace.run(result.stdout)
    for name in ("o1", "E_total", "dE_total/dw5", "w5+", "dE_total/dw1"):
        assert round(trace.value(name), 8) == PUBLISHED[name], name


def test_npz_with_biases_keeps_every_weight_exactly(runner, tmp_path):
    rng = np.random.default_rng(7)
    W1, b1, W2, b2 = rng.normal(size=(3, 2)), rng.normal(size=3), rng.normal(size=(2, 3)), rng.normal(size=2)
    model = tmp_path / "m.npz"
    np.savez(model, **{"0.weight": W1, "0.bias": b1, "2.weight": W2, "2.bias": b2})
    result = runner.invoke(app, ["import", str(model), "-a", "tanh,linear", "--loss", "mse"])
    assert result.exit_code == 0, result.output
    spec = tomllib.loads(result.stdout)
    assert np.array_equal(spec["layers"][0]["weights"], W1) and np.array_equal(spec["layers"][1]["bias"], b2)
    x = [0.0, 0.0]  # the placeholder sample: o = W2·tanh(b1) + b2, worked out here with numpy
    trace = bptrace.run(result.stdout)
    expected = W2 @ np.tanh(W1 @ x + b1) + b2
    assert trace.value("o1") == pytest.approx(expected[0], rel=1e-12)
    assert trace.value("o2") == pytest.approx(expected[1], rel=1e-12)


@pytest.mark.parametrize("arrays,message", [
    ({"conv.weight": np.zeros((2, 3, 3, 3))}, "unexpected array of shape 2×3×3×3"),
    ({"W1": np.zeros((3, 2)), "W2": np.zeros((2, 4))}, "takes 4 inputs, but the layer before has 3 outputs"),
    ({"W1": np.zeros((3, 2)), "b1": np.zeros(2)}, "a bias of 2 values for a layer of 3 neurons"),
    ({"bn.running_mean": np.zeros(3)}, "not a linear layer's weight or bias"),
    ({"b": np.zeros(3)}, "unexpected array of shape 3"),
])
def test_anything_but_a_chain_of_linear_layers_is_refused(runner, tmp_path, arrays, message):
    model = tmp_path / "m.npz"
    np.savez(model, **arrays)
    result = runner.invoke(app, ["import", str(model), "-a", "relu,relu"])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_a_model_too_large_to_trace_is_refused_with_advice(runner, tmp_path):
    model = tmp_path / "big.npz"
    np.savez(model, W1=np.zeros((128, 784)), W2=np.zeros((10, 128)))
    result = runner.invoke(app, ["import", str(model), "-a", "relu,softmax", "--loss", "cross_entropy"])
    assert result.exit_code == 2
    assert "101,632 parameters" in result.output and "--max-params" in result.output


@pytest.mark.parametrize("args,message", [
    (["-a", "relu"], "expected 2 activations separated by commas, got 1"),
    (["-a", "relu,sigmoid", "--loss", "cross_entropy"], "cross_entropy needs a softmax output layer"),
    (["-a", "relu,relu", "--x", "1,two"], "--x: expected numbers separated by commas"),
    (["-a", "relu,relu", "--x", "1,2", "--x", "3,4", "--target", "0,0"], "give one --target per --x"),
])
def test_bad_options_get_one_clear_line(runner, tmp_path, args, message):
    model = tmp_path / "m.npz"
    np.savez(model, W1=np.zeros((3, 2)), W2=np.zeros((2, 3)))
    result = runner.invoke(app, ["import", str(model), *args])
    assert result.exit_code == 2 and message in result.output


@pytest.mark.slow
@needs_torch
def test_state_dict_round_trip_agrees_with_the_torch_model(runner, tmp_path):
    import torch

    torch.manual_seed(3)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))  # float32
    path = tmp_path / "m.pt"
    torch.save(model.state_dict(), path)
    model = model.double()  # every float32 weight is exactly a float64 one
    x = [0.5, -1.0, 2.0]
    result = runner.invoke(app, ["import", str(path), "-a", "relu,softmax", "--loss", "cross_entropy",
                                 "--x", "0.5,-1,2", "--target", "0,1"])
    assert result.exit_code == 0, result.output
    spec_file = tmp_path / "m.toml"
    spec_file.write_text(result.stdout)
    expected = torch.softmax(model(torch.tensor([x], dtype=torch.float64)), -1)[0].tolist()
    trace = bptrace.run(spec_file)
    # float32 weights are read as float64 exactly, so only the float64 rounding of the forward pass differs
    assert [trace.value("o1"), trace.value("o2")] == pytest.approx(expected, rel=1e-12)
    assert runner.invoke(app, ["verify", str(spec_file), "--epochs", "3"]).exit_code == 0


def test_a_state_dict_without_pytorch_says_how_to_install_it(runner, tmp_path, monkeypatch):
    import sys

    path = tmp_path / "m.pt"
    path.write_bytes(b"PK")
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    result = runner.invoke(app, ["import", str(path), "-a", "relu"])
    assert result.exit_code == 2 and "pip install 'bptrace[torch]'" in result.output


@pytest.mark.slow
@needs_torch
def test_a_whole_saved_model_is_refused(runner, tmp_path):
    import torch

    path = tmp_path / "whole.pt"
    torch.save(torch.nn.Sequential(torch.nn.Linear(2, 2)), path)
    result = runner.invoke(app, ["import", str(path), "-a", "relu"])
    assert result.exit_code == 2 and "torch.save(model.state_dict(), PATH)" in result.output


# ---------------------------------------------------------------- .safetensors (numpy only; torch's writer when present)

needs_safetensors = pytest.mark.skipif(importlib.util.find_spec("safetensors") is None,
                                       reason="safetensors is not installed (pip install 'bptrace[safetensors]')")


@needs_safetensors
def test_safetensors_of_the_worked_example_traces_the_published_numbers(runner, tmp_path):
    from safetensors.numpy import save_file

    model = tmp_path / "blog.safetensors"
    save_file({"hidden.weight": np.array([[0.30, 0.25], [0.40, 0.35]]),
               "output.weight": np.array([[0.45, 0.40], [0.70, 0.60]])}, str(model))
    result = runner.invoke(app, ["import", str(model), *BLOG_ARGS])
    assert result.exit_code == 0, result.output
    trace = bptrace.run(result.stdout)
    for name in ("o1", "E_total", "dE_total/dw5", "w5+", "dE_total/dw1"):
        assert round(trace.value(name), 8) == PUBLISHED[name], name


@needs_safetensors
def test_safetensors_layers_come_back_in_layer_order(runner, tmp_path):
    """The file stores tensors sorted by name ("10.bias" before "2.weight"); import puts them in layer order."""
    from safetensors.numpy import save_file

    rng = np.random.default_rng(11)
    widths = [2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2]  # 11 layers: indices 0, 2, …, 20 as an nn.Sequential names them
    arrays = {}
    for l in range(11):
        arrays[f"{2 * l}.weight"] = rng.normal(size=(widths[l + 1], widths[l]))
        arrays[f"{2 * l}.bias"] = rng.normal(size=widths[l + 1]).astype(np.float32)
    model = tmp_path / "deep.safetensors"
    save_file(arrays, str(model))
    result = runner.invoke(app, ["import", str(model), "-a", ",".join(["tanh"] * 10 + ["linear"]), "--loss", "mse",
                                 "--x", "0.5,-0.25"])
    assert result.exit_code == 0, result.output
    spec = tomllib.loads(result.stdout)
    for l, layer in enumerate(spec["layers"]):
        assert np.array_equal(layer["weights"], arrays[f"{2 * l}.weight"]), l
        assert np.array_equal(layer["bias"], arrays[f"{2 * l}.bias"].astype(np.float64)), l  # float32 read exactly
    h = np.array([0.5, -0.25])  # the forward pass worked out with numpy
    for l in range(11):
        z = arrays[f"{2 * l}.weight"] @ h + arrays[f"{2 * l}.bias"].astype(np.float64)
        h = np.tanh(z) if l < 10 else z
    trace = bptrace.run(result.stdout)
    assert [trace.value("o1"), trace.value("o2")] == pytest.approx(h.tolist(), rel=1e-12)


@needs_safetensors
@pytest.mark.parametrize("arrays,message", [
    ({"fc1.weight": np.zeros((3, 2)), "fc2.weight": np.zeros((2, 4))}, "takes 4 inputs, but the layer before has 3 outputs"),
    ({"fc1.weight": np.zeros((3, 2)), "fc1.bias": np.zeros(2)}, "a bias of 2 values for a layer of 3 neurons"),
    ({"conv.weight": np.zeros((2, 3, 3, 3))}, "unexpected array of shape 2×3×3×3"),
    ({"bn.running_mean": np.zeros(3)}, "not a linear layer's weight or bias"),
])
def test_safetensors_gets_the_npz_checks(runner, tmp_path, arrays, message):
    from safetensors.numpy import save_file

    model = tmp_path / "m.safetensors"
    save_file(arrays, str(model))
    result = runner.invoke(app, ["import", str(model), "-a", "relu,relu"])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


@needs_safetensors
def test_a_broken_safetensors_file_is_one_line(runner, tmp_path):
    model = tmp_path / "m.safetensors"
    model.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{broken}")
    result = runner.invoke(app, ["import", str(model), "-a", "relu"])
    assert result.exit_code == 2 and "not a readable .safetensors file" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_safetensors_without_the_package_says_how_to_install_it(runner, tmp_path, monkeypatch):
    import sys

    model = tmp_path / "m.safetensors"
    model.write_bytes(b"\x00" * 16)
    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    result = runner.invoke(app, ["import", str(model), "-a", "relu"])
    assert result.exit_code == 2 and "pip install 'bptrace[safetensors]'" in result.output


@pytest.mark.slow
@needs_torch
@needs_safetensors
def test_torch_written_safetensors_agrees_with_the_torch_model(runner, tmp_path):
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(5)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.GELU(), torch.nn.Linear(4, 3))  # float32
    path = tmp_path / "m.safetensors"
    save_file(model.state_dict(), str(path))
    model = model.double()
    result = runner.invoke(app, ["import", str(path), "-a", "gelu,softmax", "--loss", "cross_entropy",
                                 "--x", "0.5,-1,2", "--target", "0,0,1"])
    assert result.exit_code == 0, result.output
    spec_file = tmp_path / "m.toml"
    spec_file.write_text(result.stdout)
    expected = torch.softmax(model(torch.tensor([[0.5, -1.0, 2.0]], dtype=torch.float64)), -1)[0].tolist()
    trace = bptrace.run(spec_file)
    assert [trace.value(f"o{k}") for k in (1, 2, 3)] == pytest.approx(expected, rel=1e-12)
    assert runner.invoke(app, ["verify", str(spec_file), "--epochs", "3"]).exit_code == 0


def test_a_single_target_with_cross_entropy_is_a_class_index(runner, tmp_path):
    model = tmp_path / "m.npz"
    np.savez(model, W1=np.array([[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]]))
    args = ["import", str(model), "-a", "softmax", "--loss", "cross_entropy", "--x", "0.5,-1"]
    result = runner.invoke(app, [*args, "--target", "2"])
    assert result.exit_code == 0, result.output
    assert "target = 2\n" in result.stdout
    one_hot = runner.invoke(app, [*args, "--target", "0,0,1"]).stdout
    assert bptrace.run(result.stdout).value("E_total") == bptrace.run(one_hot).value("E_total")
    bad = runner.invoke(app, [*args, "--target", "3"])
    assert bad.exit_code == 2 and "class 3 is out of range" in bad.output
