"""A shuffled run records each epoch's sample order; a spec's `order` replays it exactly, in bptrace,
in `verify` (PyTorch) and in the exported script."""

from __future__ import annotations

import importlib.util
import json

import pytest

import bptrace
from bptrace.cli import app
from test_torch import close_at, run_script, to_toml

SPEC = {"loss": "half_sse", "learning_rate": 0.5, "optimizer": {"name": "adam"},
        "samples": [{"x": [0.1, 0.2], "target": [0.4, 0.6]}, {"x": [0.5, -0.2], "target": [0.9, 0.1]},
                    {"x": [-0.3, 0.7], "target": [0.2, 0.5]}, {"x": [0.8, 0.1], "target": [0.6, 0.3]}],
        "layers": [{"activation": "tanh", "weights": [[0.3, 0.25], [0.4, 0.35]], "bias": 0.1},
                   {"activation": "sigmoid", "weights": [[0.45, 0.4], [0.7, 0.6]]}]}


def test_a_shuffled_run_records_each_epochs_order():
    r = bptrace.train(SPEC, epochs=5, batch=2, shuffle=True)
    assert len(r.order) == 5 and all(sorted(o) == [1, 2, 3, 4] for o in r.order)
    assert len({tuple(o) for o in r.order}) > 1  # it did shuffle
    assert bptrace.train(SPEC, epochs=3).order is None  # in order: nothing to record


@pytest.mark.parametrize("batch", ["online", 2, "full"])
def test_the_recorded_order_replays_the_run_exactly(batch):
    shuffled = bptrace.train(SPEC, epochs=6, batch=batch, shuffle=True, seed=3)
    replay = bptrace.train({**SPEC, "order": shuffled.order}, epochs=6, batch=batch)
    assert replay.final == shuffled.final and replay.loss.tolist() == shuffled.loss.tolist()
    assert replay.order == shuffled.order


def test_the_order_decides_the_updates_by_hand():
    # one linear weight, two samples: online SGD in the order 2, 1 is w − α·g2, then − α·g1 at the new w
    spec = {"loss": "half_sse", "learning_rate": 0.1, "order": [[2, 1]], "samples": [{"x": [1.0], "target": [1.0]},
            {"x": [2.0], "target": [0.0]}], "layers": [{"activation": "linear", "weights": [[0.5]]}]}
    w = 0.5
    for x, t in ((2.0, 0.0), (1.0, 1.0)):
        w -= 0.1 * -(t - w * x) * x
    assert bptrace.train(spec, epochs=1).final["w1"] == pytest.approx(w, rel=1e-15)


def test_orders_repeat_after_the_last():
    r = bptrace.train({**SPEC, "order": [[4, 3, 2, 1], [1, 3, 2, 4]]}, epochs=5)
    assert r.order == [[4, 3, 2, 1], [1, 3, 2, 4], [4, 3, 2, 1], [1, 3, 2, 4], [4, 3, 2, 1]]


def test_json_export_records_the_order_and_a_spec_takes_it_back(runner, tmp_path):
    spec, out = tmp_path / "net.toml", tmp_path / "run.json"
    spec.write_text(to_toml(SPEC))
    args = ["step", str(spec), "--epochs", "3", "--shuffle", "-q", "--export", str(out)]
    assert runner.invoke(app, args).exit_code == 0
    run = json.loads(out.read_text())["run"]
    spec.write_text(to_toml({**SPEC, "order": run["order"]}))
    again = tmp_path / "again.json"
    assert runner.invoke(app, ["step", str(spec), "--epochs", "3", "-q", "--export", str(again)]).exit_code == 0
    assert json.loads(again.read_text())["run"]["final"] == run["final"]


needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch is not installed")


@needs_torch
@pytest.mark.slow
def test_verify_and_the_exported_script_follow_the_order(runner, tmp_path):
    from bptrace import verify

    order = bptrace.train(SPEC, epochs=3, batch=2, shuffle=True, seed=5).order
    d = {**SPEC, "order": order}
    report = verify.compare(bptrace.load(d), epochs=3, batch=2)
    assert report.ok, [(r.name, r.ours, r.theirs) for r in report.failures()[:5]]
    spec, script = tmp_path / "net.toml", tmp_path / "net.py"
    spec.write_text(to_toml(d))
    assert runner.invoke(app, ["step", str(spec), "--epochs", "3", "-b", "2", "-q", "--export", str(script)]).exit_code == 0
    printed = run_script(script)
    last = bptrace.train(d, epochs=3, batch=2, show=[3]).traces[0]
    for u in last.updates:
        assert close_at(printed[f"{u.name}+"][-1], u.new), u.name
