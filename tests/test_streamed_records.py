"""A streamed .jsonl export writes each update from its flat numbers (tracer.stream_step, json_.iteration_line),
not from its quantities. Its records must be, byte for byte, what the quantities give: the same run's .json
export with --show all, which makes every quantity of every update (tracer.trace_step, json_.iteration_record)."""

import json

import pytest

from bptrace.cli import app

LINEAR_BLOWUP = """learning_rate = 10.0
[[samples]]
x = [1.0]
target = [1.0]
[[samples]]
x = [2.0]
target = [-1.0]
[[layers]]
activation = "linear"
weights = [[2.0]]
"""


def dumped(record) -> str:
    return json.dumps(record, allow_nan=False, ensure_ascii=False)


def records(runner, tmp_path, spec, *args):
    """(the .jsonl export's update lines, the --show all .json export's updates written as .jsonl lines)."""
    streamed, full = tmp_path / "run.jsonl", tmp_path / "run.json"
    for path, extra in ((streamed, []), (full, ["--show", "all"])):
        result = runner.invoke(app, ["step", spec, *args, *extra, "-q", "--export", str(path)])
        assert result.exit_code in (0, 3), result.output
    lines = streamed.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["kind"] == "header" and json.loads(lines[-1])["kind"] == "summary"
    iterations = json.loads(full.read_text(encoding="utf-8"))["iterations"]
    return lines[1:-1], [dumped(r) for r in iterations]


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
@pytest.mark.parametrize("name", ["blog", "xor", "softmax", "deep", "adam"])
@pytest.mark.parametrize("batch", [["--batch", "online"], ["--batch", "full"], ["--batch", "2", "--shuffle"]])
def test_streamed_records_are_the_quantities_records(runner, tmp_path, name, batch):
    streamed, full = records(runner, tmp_path, name, "--epochs", "3", *batch)
    assert len(streamed) == len(full) > 0
    assert streamed == full


def test_a_blowup_is_streamed_as_the_quantities_say_it(runner, tmp_path):
    """Values that are not finite ("inf", "nan") are written the long way, from the quantities."""
    spec = tmp_path / "blowup.toml"
    spec.write_text(LINEAR_BLOWUP)
    streamed, full = records(runner, tmp_path, str(spec), "--epochs", "400")
    assert any('"inf"' in line or '"nan"' in line or '"-inf"' in line for line in streamed)
    assert streamed == full


def test_a_streamed_update_reads_like_a_traced_one():
    """A LazyIteration makes its quantities when read: the same as trace_step's, and its loss, ||g|| and
    outputs (taken from the flat numbers) are theirs."""
    import numpy as np

    from bptrace import load
    from bptrace.exports.json_ import iteration_record
    from bptrace.tracer import Session

    s = load("softmax")
    traced, streamed = Session(s), Session(s)
    with np.errstate(all="ignore"):
        for epoch in (1, 2):
            batch = range(len(s.samples))
            a, b = traced.trace_step(batch, epoch), streamed.stream_step(batch, epoch)
            assert (b.loss_before, b.grad_norm, b.outputs(1)) == (a.loss_before, a.grad_norm, a.outputs(1))
            assert iteration_record(b) == iteration_record(a)
            assert b.loss_after == a.loss_after and list(b.quantities()) == list(a.quantities())


@pytest.mark.parametrize("name", ["blog", "xor", "softmax", "deep", "adam"])
def test_streamed_records_take_the_flat_path(name):
    """The flat path is really used: its template survives the one-time check against the quantities
    (a number it missed would make it fall back, silently and slowly, to the quantities)."""
    import numpy as np

    from bptrace import load
    from bptrace.exports.json_ import iteration_line
    from bptrace.tracer import Session

    s = load(name)
    session = Session(s)
    with np.errstate(all="ignore"):
        for epoch in (1, 2):
            for i in range(len(s.samples)):
                it = session.stream_step(range(i, i + 1), epoch)
                iteration_line(it)
                template, _ = it.flat.layout.memo("jsonl", lambda: None)
                assert template is not None
                if epoch > 1:  # (the first update of each batch made them once, for the check)
                    assert it._parts is None  # nothing made the quantities


def test_without_room_for_layouts_updates_are_made_in_full(runner, tmp_path, monkeypatch):
    """Past the numbers a session's layouts may name (many shuffled batches, a wide network), a streamed
    update is made as a traced one: the same records."""
    from bptrace import tracer

    monkeypatch.setattr(tracer, "LAYOUT_ROOM", 150)  # xor: room for the first sample's layout (118 numbers) only
    streamed, full = records(runner, tmp_path, "xor", "--epochs", "2")
    assert len(streamed) == 8 and streamed == full
