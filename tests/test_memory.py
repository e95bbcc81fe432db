"""The per-epoch history stays bounded whatever the epoch count and the output width, and its
decimated curve keeps what a loss curve must show: the first epoch, the last, and the lowest loss."""

import tracemalloc

import numpy as np
import pytest

from bptrace import samples, spec
from bptrace import trainer as train
from bptrace.render import training


def test_history_is_bounded_and_keeps_first_last_and_min():
    rng = np.random.default_rng(0)
    n = 100_000
    losses = np.abs(rng.normal(1.0, 0.3, n))
    losses[77_777] = 1e-6  # the minimum, somewhere in a bucket
    losses[12_345] = 50.0  # a spike
    h = train.History(n_outputs=3, capacity=400)
    for e in range(1, n + 1):
        h.add(e, float(losses[e - 1]), 0.5, (e, -e, 2 * e))
        assert h.n <= 400
    epoch, loss, gnorm, outs = h.arrays()
    assert len(epoch) <= 400
    assert epoch[0] == 1 and epoch[-1] == n and np.all(np.diff(epoch) > 0)
    assert 77_778 in epoch and loss.min() == 1e-6 and loss.max() == 50.0
    np.testing.assert_array_equal(loss, losses[epoch - 1])  # every kept row is a real epoch's row
    np.testing.assert_array_equal(outs[:, 0], epoch)
    assert str(h.bucket).rstrip("0") in ("1", "5") and np.sum(epoch % h.bucket == 0) >= 10  # round bucket ends


def test_short_runs_keep_every_epoch():
    h = train.History(n_outputs=1, capacity=1000)
    for e in range(1, 1001):
        h.add(e, 1.0 / e, 0.0, (0.0,))
    epoch, loss, _, _ = h.arrays()
    assert list(epoch) == list(range(1, 1001))


def test_a_long_run_keeps_a_bounded_history():
    s = spec.loads(samples.text("blog"), "blog")
    r = train.train(s, train.Plan(60_000))
    assert len(r.loss) <= train.HISTORY_ROWS and r.epoch[0] == 1 and r.epoch[-1] == 60_000
    assert r.loss[-1] == r.loss.min()  # the worked example's loss falls every epoch: the last is the lowest
    rows = training.table_rows(r)
    assert [int(r.epoch[i]) for i in rows] == [1, *range(5000, 60_001, 5000)]


def test_wide_outputs_are_capped():
    d = {"learning_rate": 0.1, "seed": 1, "samples": [{"x": [0.5], "target": [0.5] * 1000}],
         "layers": [{"activation": "sigmoid", "units": 1000, "weights": "xavier"}]}
    r = train.train(spec.from_dict(d), train.Plan(20))
    assert r.outputs.shape == (20, train.WATCH_OUTPUTS)


def peak(epochs):
    s = spec.loads(samples.text("blog"), "blog")
    tracemalloc.start()
    train.train(s, train.Plan(epochs))
    _, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return top


@pytest.mark.slow
def test_memory_is_flat_in_the_epochs():
    """Peak Python allocations of a whole run: 10,000 against 100,000 epochs (keeping a few
    numbers per epoch would add 2.9 MB)."""
    small, big = peak(10_000), peak(100_000)
    assert big < small + 2_000_000, (small, big)


def history_peak(epochs):
    tracemalloc.start()
    h = train.History(n_outputs=2)
    for e in range(1, epochs + 1):
        h.add(e, 1.0 / e, 0.5, (0.25, 0.75))
    h.arrays()
    _, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return top


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
def test_history_memory_is_flat_up_to_a_million_epochs():
    small, big = history_peak(train.HISTORY_ROWS), history_peak(1_000_000)
    assert big < 2 * small, (small, big)  # kept per epoch, a million epochs would take 100 MB


def test_wide_outputs_in_the_markdown_epoch_table():
    from bptrace.exports.markdown import run_markdown

    d = {"learning_rate": 0.1, "seed": 1, "samples": [{"x": [0.5], "target": [0.5] * 12}],
         "layers": [{"activation": "sigmoid", "units": 12, "weights": "xavier"}]}
    md = run_markdown(train.train(spec.from_dict(d), train.Plan(5)))
    header, _, first = [line for line in md.splitlines() if line.startswith("| ") and "epoch" in line or
                        line.startswith("|---:") or line.startswith("| 1 |")][:3]
    assert header.count("|") == first.count("|") == 3 + train.WATCH_OUTPUTS + 1
