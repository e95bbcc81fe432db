"""The library speaks in parameters, the CLI in flags; one format registry serves both.

Expected numbers come from the published worked example (docs/worked-example.md) or are counted
here from the plan (epochs × samples), never copied from bptrace's output."""

import re

import pytest

import bptrace
from bptrace import exports
from bptrace.cli import app
from bptrace.errors import DivergedError, UsageError


# ---------------------------------------------------------------- parameters, not flags

@pytest.mark.parametrize("call,param", [
    (lambda: bptrace.train("xor", epochs=3, watch=9), "watch"),
    (lambda: bptrace.train("xor", epochs=3, batch="half"), "batch"),
    (lambda: bptrace.train("xor", epochs=3, show="first,x"), "show"),
    (lambda: bptrace.train("xor", epochs=0), "epochs"),
    (lambda: bptrace.run(learning_rate=0), "learning_rate"),
    (lambda: bptrace.run(sample=3), "sample"),
    (lambda: bptrace.run(naming="latex"), "naming"),
    (lambda: bptrace.train("xor", epochs=2, naming="latex"), "naming"),
    (lambda: bptrace.to_text(bptrace.run(), "pdf"), "format"),
])
def test_library_errors_name_the_parameter_not_a_flag(call, param):
    with pytest.raises(UsageError) as e:
        call()
    assert e.value.param == param
    assert str(e.value).startswith(param) and "--" not in str(e.value)


@pytest.mark.parametrize("args,message", [
    (["step", "xor", "-n", "3", "--watch", "9"], "--watch 9: xor.toml (built-in) has 4 samples"),
    (["run", "--lr", "0"], "--lr: expected a number greater than 0, got 0"),
    (["run", "-o", "a.md", "--format", "pdf"], "--format: expected one of json, jsonl, md, html, walk, svg, tex, py, got 'pdf'"),
    (["run", "--sample", "3"], "--sample 3: blog.toml (built-in) has 1 sample"),
])
def test_the_cli_shows_the_parameter_as_its_flag(runner, args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_epochs_zero_is_refused_and_a_show_list_is_honoured():
    with pytest.raises(UsageError, match=r"epochs: expected a whole number ≥ 1, got 0"):
        bptrace.train("xor", epochs=0)
    # xor: 4 samples, online -> 4 traced steps per shown epoch
    r = bptrace.train("xor", epochs=5, show=["first", "last"])
    assert sorted({it.epoch for it in r.traces}) == [1, 5] and len(r.traces) == 2 * 4
    assert sorted({it.epoch for it in bptrace.train("xor", epochs=5, show=[2, 3]).traces}) == [2, 3]
    assert sorted({it.epoch for it in bptrace.train("xor", epochs=3, show="first,last").traces}) == [1, 3]
    assert sorted({it.epoch for it in bptrace.train("xor", epochs=3, show=2).traces}) == [2]
    assert len(bptrace.train("xor", epochs=3, show="all").traces) == 3 * 4


def test_the_trace_count_guard_is_part_of_the_plan():
    with pytest.raises(UsageError, match=r"^show would print 20,000 full traces"):  # 5000 epochs × 4 samples
        bptrace.plan("xor", epochs=5000, show="all")
    assert bptrace.plan("xor", epochs=2500, show="all").traces(4) == 10_000  # the limit itself is allowed


def test_trace_at_starts_from_the_published_updated_weights():
    """Epoch 2 of the worked example starts from the weights after the post's one update
    (w1 = 0.29959556, w5 = 0.43703857, w8 = 0.59624247, docs/worked-example.md)."""
    it = bptrace.trace_at("blog", epoch=2, sample=1)
    old = {u.name: u.old for u in it.updates}
    assert old["w1"] == pytest.approx(0.29959556, abs=5e-9)
    assert old["w5"] == pytest.approx(0.43703857, abs=5e-9)
    assert old["w8"] == pytest.approx(0.59624247, abs=5e-9)
    with pytest.raises(UsageError, match=r"^sample = 2, but blog.toml \(built-in\) has 1 sample$"):
        bptrace.trace_at("blog", epoch=1, sample=2)


def test_check_answers_names_the_answers_file():
    report = bptrace.check_answers("blog", "z1 = 0.08\nh1 = 0.51998934\n")  # the post's z1 and h1
    assert report.ok
    with pytest.raises(UsageError, match=r"^answers: sample = 2, but"):
        bptrace.check_answers("blog", "sample = 2\nz1 = 0.08\n")


# ---------------------------------------------------------------- one format registry

def test_every_format_is_one_registry_entry_with_both_renderers():
    assert set(exports.FORMATS) == set(exports.REGISTRY)
    trace, run = bptrace.run(), bptrace.train("blog", epochs=3, show=[1])
    for f in exports.REGISTRY.values():
        assert f.extensions and all(e.startswith(".") for e in f.extensions) and f.description
        assert bptrace.to_text(trace, f.name).strip() and bptrace.to_text(run, f.name).strip()
        assert exports.format_for("x" + f.extensions[-1].upper()) == f.name


def test_help_and_messages_are_built_from_the_registry(runner):
    help_text = re.sub(r"\s+", " ", runner.invoke(app, ["run", "--help"]).output)
    unknown = runner.invoke(app, ["run", "-o", "x.txt"]).stderr
    stdout = runner.invoke(app, ["run", "-o", "-"]).stderr
    for f in exports.REGISTRY.values():
        assert f.extensions[0] in unknown, unknown
        assert f.name in stdout
        assert f.name in help_text
    assert "--export x.txt: cannot tell the format from '.txt'" in unknown


@pytest.mark.parametrize("fmt", ["json", "md", "tex", "html"])
def test_the_cli_export_is_the_api_text(runner, tmp_path, fmt):
    """One renderer per format: what `run -o` writes is what bptrace.to_text returns (same title too)."""
    path = tmp_path / f"t.{fmt}"
    assert runner.invoke(app, ["run", "blog", "-o", str(path)]).exit_code == 0
    assert path.read_text(encoding="utf-8") == bptrace.to_text(bptrace.run("blog"), fmt)


def test_run_jsonl_from_the_api_matches_the_streamed_export(runner, tmp_path):
    path = tmp_path / "r.jsonl"
    assert runner.invoke(app, ["step", "xor", "-n", "2", "-q", "-o", str(path)]).exit_code == 0
    streamed = path.read_text(encoding="utf-8").splitlines()
    # the stream traces every step (2 epochs × 4 samples); the API's text, the kept traces: here all of them
    api = bptrace.to_text(bptrace.train("xor", epochs=2, show="all"), "jsonl").splitlines()
    assert len(streamed) == len(api) == 1 + 2 * 4 + 1
    assert streamed[0] == api[0] and streamed[1:-1] == api[1:-1]


def test_a_run_that_never_reaches_the_asked_update_says_so():
    with pytest.raises(DivergedError, match=r"never reached"):
        bptrace.trace_at(bptrace.load("deep").with_learning_rate(1e300), epoch=3, sample=1)


@pytest.mark.parametrize("call,param", [
    (lambda: bptrace.train("xor", epochs=3, until_loss=-1), "until_loss"),
    (lambda: bptrace.train("xor", epochs=3, until_loss=float("nan")), "until_loss"),
    (lambda: bptrace.train("xor", epochs=3, shuffle=True, seed=-1), "seed"),
    (lambda: bptrace.train("xor", epochs=3, shuffle=True, seed=2**32), "seed"),
    (lambda: bptrace.train("xor", epochs=3, show=0), "show"),
    (lambda: bptrace.train("xor", epochs=3, round=13), "round"),
    (lambda: bptrace.run(round=-1), "round"),
    (lambda: bptrace.run("adam", round=2), "round"),
    (lambda: bptrace.run(form="tensor"), "form"),
    (lambda: bptrace.run(sample=0), "sample"),
    (lambda: bptrace.run(focus="w9"), "focus"),
    (lambda: bptrace.trace_at("xor", 0, 1), "epoch"),
    (lambda: bptrace.trace_at("xor", 1, 5), "sample"),
    (lambda: bptrace.plan("xor", watch=0), "watch"),
    (lambda: bptrace.to_text(bptrace.run(), "json", precision=-1), "precision"),
    (lambda: bptrace.to_text(bptrace.run(), "json", precision=18), "precision"),
    (lambda: bptrace.to_text(bptrace.train("xor", epochs=2), "md", every=0), "every"),
])
def test_every_range_is_checked_in_the_library_by_parameter(call, param):
    """What the CLI's option types refuse, the library refuses too, naming the parameter, never a flag."""
    test_library_errors_name_the_parameter_not_a_flag(call, param)


@pytest.mark.parametrize("args,flag", [
    (["run", "adam", "--round", "2"], "--round: "),
    (["run", "--focus", "w9"], "--focus 'w9'"),
    (["step", "xor", "-n", "2", "--show", "9"], "--show: "),
    (["gradcheck", "xor", "--sample", "5"], "--sample 5: "),
    (["verify", "xor", "--sample", "5"], "--sample 5: "),
])
def test_library_errors_reach_the_cli_as_flags(runner, args, flag):
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert f"error: {flag}" in result.stderr
