"""Networks too large for a command are refused before any work, with what to do instead.

Each spec sits just over (or under) a limit, with drawn weights, so no test allocates much."""

import pytest

from bptrace import limits, tracer
from bptrace import trainer as train
from bptrace.cli import app


def wide(tmp_path, units, samples=1, inputs=1):
    """inputs-units-1 sigmoid network, no biases: (inputs + 1)·units parameters."""
    path = tmp_path / f"w{units}.toml"
    text = "learning_rate = 0.1\nseed = 1\n" + f"[[samples]]\nx = {[0.5] * inputs}\ntarget = [0.2]\n" * samples
    text += f"[[layers]]\nactivation = \"sigmoid\"\nunits = {units}\nweights = \"xavier\"\n"
    text += "[[layers]]\nactivation = \"sigmoid\"\nunits = 1\nweights = \"xavier\"\n"
    path.write_text(text)
    return str(path)


@pytest.fixture
def no_tracing(monkeypatch):
    """Any trace started after all fails the test: the guard must decide first."""
    def refuse(*a, **k):
        raise AssertionError("work started before the size check")

    monkeypatch.setattr(tracer, "run", refuse)
    monkeypatch.setattr(train, "train", refuse)


def test_run_tables_limit(runner, tmp_path, no_tracing):
    result = runner.invoke(app, ["run", wide(tmp_path, limits.TABLE_PARAMS // 2 + 1), "--no-formulas"])
    assert result.exit_code == 2
    assert "2,002 parameters; run prints tables for at most 2,000" in result.stderr
    assert "--export - --format json" in result.stderr and "Traceback" not in result.output


def test_run_tables_limit_applies_to_html_exports_too(runner, tmp_path, no_tracing):
    result = runner.invoke(app, ["run", wide(tmp_path, 1001), "--export", "-", "--format", "html"])
    assert result.exit_code == 2


@pytest.mark.slow
def test_run_just_under_the_table_limit_runs(runner, tmp_path):
    result = runner.invoke(app, ["run", wide(tmp_path, limits.TABLE_PARAMS // 2), "--no-formulas"])
    assert result.exit_code == 0, result.output


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
def test_run_json_to_stdout_is_allowed_beyond_the_table_limit(runner, tmp_path):
    result = runner.invoke(app, ["run", wide(tmp_path, 1001), "--export", "-", "--format", "json"])
    assert result.exit_code == 0 and '"dE_total/dw2002"' in result.stdout


def test_run_trace_limit(runner, tmp_path, no_tracing):
    result = runner.invoke(app, ["run", wide(tmp_path, limits.TRACE_PARAMS // 2 + 1), "--export", "-", "--format", "json"])
    assert result.exit_code == 2
    assert "50,002 parameters; run traces at most 50,000" in result.stderr and "bptrace step SPEC -q" in result.stderr


@pytest.mark.parametrize("args", [["--show", "1"], ["-q", "--export", "JSONL"]])
def test_step_tracing_limit(runner, tmp_path, no_tracing, args):
    args = [str(tmp_path / "r.jsonl") if a == "JSONL" else a for a in args]
    result = runner.invoke(app, ["step", wide(tmp_path, limits.TRACE_PARAMS // 2 + 1), "--epochs", "2", *args])
    assert result.exit_code == 2
    assert "step traces (--show, .jsonl export) at most 50,000" in result.stderr
    assert not (tmp_path / "r.jsonl").exists()


def test_step_show_tables_limit(runner, tmp_path, no_tracing):
    result = runner.invoke(app, ["step", wide(tmp_path, 1001), "--epochs", "2", "--show", "1"])
    assert result.exit_code == 2 and "--show prints tables for at most 2,000" in result.stderr


def test_step_without_tracing_trains_the_same_network(runner, tmp_path):
    result = runner.invoke(app, ["step", wide(tmp_path, limits.TRACE_PARAMS // 2 + 1), "--epochs", "2", "-q"])
    assert result.exit_code == 0, result.output


def test_gradcheck_limit(runner, tmp_path):
    result = runner.invoke(app, ["gradcheck", wide(tmp_path, 50_001)])
    assert result.exit_code == 2
    assert "gradcheck of 100,002 parameters" in result.stderr


def test_gradcheck_limit_suggests_one_sample(runner, tmp_path):
    result = runner.invoke(app, ["gradcheck", wide(tmp_path, 40_000, samples=7)])
    assert result.exit_code == 2 and "--sample 1" in result.stderr


def test_step_export_listing_every_parameter_limit(runner, tmp_path, no_tracing):
    out = tmp_path / "r.json"
    units = limits.EXPORT_PARAMS // 6 + 1  # 5 inputs: 6 × 83,334 = 500,004 parameters
    result = runner.invoke(app, ["step", wide(tmp_path, units, inputs=5), "--epochs", "1", "-q",
                                 "--export", str(out)])
    assert result.exit_code == 2 and "a .json export lists every parameter" in result.stderr
    assert not out.exists()
