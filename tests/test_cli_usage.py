"""The command line's own mistakes: every usage error is one `error:` line (and at most a one-line hint)
with exit 2, whatever Click found wrong; help that reads in words; names that are near misses."""

import math
import re

import pytest

from bptrace.cli import app
from bptrace.cli_options import Real, Whole
from conftest import ROOT

README = (ROOT / "README.md").read_text()
TABLE_ORDER = re.findall(r"^\| `bptrace (\w+)", README, flags=re.M)


def _usage_error(result, line, hint=None):
    """Exit 2, nothing on stdout, `line` on stderr, then `hint` (or nothing)."""
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert "Usage:" not in result.stderr and "╭" not in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [line] + ([hint] if hint else [])


# What each of the QA pass's commands must print, written from the brief (not from bptrace's output)
@pytest.mark.parametrize("args, line, hint", [
    (["step", "--epochs", "0"], "error: --epochs: expected an integer from 1 to 10,000,000, got 0", None),
    (["step", "-n", "-3"], "error: --epochs: expected an integer from 1 to 10,000,000, got -3", None),
    (["step", "--epochs", "1.5"], "error: --epochs: expected an integer from 1 to 10,000,000, got 1.5", None),
    (["run", "--precision", "99"], "error: --precision: expected an integer from 0 to 17, got 99", None),
    (["run", "--sample", "x"], "error: --sample: expected an integer ≥ 1, got 'x'", None),
    (["step", "--batch", "x"], "error: --batch: expected online, full or a whole number > 0, got 'x'", None),
    (["step", "--until-loss", "-1"], "error: --until-loss: expected a number ≥ 0, got -1", None),
    (["step", "--until-loss", "nan"], "error: --until-loss: expected a finite number, got nan", None),
    (["gradcheck", "--eps", "0"], "error: --eps: expected a number from 1e-12 to 1, got 0", None),
    (["gradcheck", "--tol", "-1e-3"], "error: --tol: expected a number ≥ 0, got -1e-3", None),
    (["run", "--lr", "-2"], "error: --lr: expected a number greater than 0, got -2", None),
    (["frobnicate"], "error: frobnicate: no such command; commands: " + ", ".join(TABLE_ORDER), "try 'bptrace --help'"),
    (["rnu"], "error: rnu: no such command (did you mean run?)", "try 'bptrace --help'"),
    (["run", "--nope"], "error: --nope: no such option for 'bptrace run'", "try 'bptrace run --help'"),
    (["step", "--epoch", "3"], "error: --epoch: no such option for 'bptrace step' (did you mean --epochs?)",
     "try 'bptrace step --help'"),
    (["--nope"], "error: --nope: no such option for 'bptrace'", "try 'bptrace --help'"),
    (["step", "--epochs"], "error: --epochs: expected N after it (an integer from 1 to 10,000,000)",
     "try 'bptrace step --help'"),
    (["run", "--export"], "error: --export: expected PATH after it",
     "try 'bptrace run --help'"),
    (["step", "--quiet=yes"], "error: --quiet: takes no value (it is a switch)", "try 'bptrace step --help'"),
    (["check"], "error: SPEC: missing (spec file (TOML), or a built-in sample's name)", "try 'bptrace check --help'"),
    (["check", "blog"], "error: ANSWERS: missing (answers file (TOML), one or more: claimed values by name, e.g. z1 = 0.08)",
     "try 'bptrace check --help'"),
    (["import", "model.npz"], "error: --activations: missing (one activation per linear layer, e.g. relu,softmax)",
     "try 'bptrace import --help'"),
    (["run", "blog", "xor"], "error: xor: unexpected extra argument for 'bptrace run'", "try 'bptrace run --help'"),
])
def test_usage_errors_are_one_line(runner, args, line, hint):
    _usage_error(runner.invoke(app, args), line, hint)


def _commands():
    from typer.main import get_command

    group = get_command(app)
    return group, [(name, group.commands[name]) for name in group.list_commands(None)]


def _numeric_options():
    """(command, flag, type) of every option read by Whole or Real, in every command."""
    _, commands = _commands()
    return [(name, max(p.opts, key=len), p.type) for name, command in commands for p in command.params
            if isinstance(p.type, (Whole, Real))]


def _bad_values(kind):
    """Values outside what `kind` accepts: below its range, above it, not a number, not finite."""
    values = ["abc", "²", "٣"] + ([] if isinstance(kind, Real) else ["1" * 30])
    if kind.lo is not None:
        values.append(str(kind.lo - 1) if isinstance(kind, Whole) else str(-abs(kind.lo) - 1))
    if kind.hi is not None:
        values.append(str(kind.hi + 1) if isinstance(kind, Whole) else str(kind.hi * 2))
    if isinstance(kind, Real):
        values += ["nan", "inf", "-inf", "1e400"]
    else:
        values += ["1.5", "1e3"]
    return values


def test_every_numeric_option_is_checked():
    flags = {(name, flag) for name, flag, _ in _numeric_options()}
    for expected in [("run", "--precision"), ("run", "--sample"), ("run", "--lr"), ("step", "--epochs"),
                     ("step", "--until-loss"), ("step", "--seed"), ("step", "--every"), ("step", "--watch"),
                     ("gradcheck", "--eps"), ("gradcheck", "--tol"), ("verify", "--epochs"),
                     ("import", "--max-params"), ("import", "--lr")]:
        assert expected in flags


@pytest.mark.parametrize("command, flag, kind", _numeric_options(), ids=lambda v: getattr(v, "name", v))
def test_no_numeric_option_takes_a_value_outside_its_range(runner, command, flag, kind):
    args = ["model.npz", "-a", "sigmoid"] if command == "import" else []
    for value in _bad_values(kind):
        result = runner.invoke(app, [command, *args, f"{flag}={value}"])
        assert result.exit_code == 2 and result.stdout == "", (value, result.output)
        (line,) = result.stderr.splitlines()
        assert line.startswith(f"error: {flag}: expected "), line
        if value in ("nan", "inf", "-inf", "1e400"):
            assert line == f"error: {flag}: expected a finite number, got {float(value)}"


def test_ranges_in_words():
    """The words say the same range the check enforces: the bounds are in, one step beyond is out."""
    assert Whole(1).expected == "an integer ≥ 1" and Whole(0, 17).expected == "an integer from 0 to 17"
    assert Real(0.0).expected == "a number ≥ 0" and Real(0.0, above=True).expected == "a number greater than 0"
    assert Whole(0, 17).convert("17", None, None) == 17 and Real(0.0).convert("0", None, None) == 0.0
    assert Real(1e-12, 1.0).convert("1", None, None) == 1.0
    with pytest.raises(Exception):
        Real(0.0, above=True).convert("0", None, None)
    assert math.isclose(Real().convert("-2.5", None, None), -2.5)


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["--version"], ["-V"]]
                         + [[name, "--help"] for name in TABLE_ORDER])
def test_help_and_version_still_exit_0(runner, args):
    result = runner.invoke(app, args)
    assert result.exit_code == 0 and result.stderr == ""
    assert "Usage:" in result.stdout or result.stdout.startswith("bptrace ")


def test_commands_are_listed_in_the_readme_order(runner):
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "100"})
    listed = re.findall(r"^│ (\w+) ", result.stdout.split("Commands", 1)[1], flags=re.M)
    assert listed == TABLE_ORDER
    assert TABLE_ORDER[:3] == ["run", "step", "check"]


@pytest.mark.parametrize("command", TABLE_ORDER)
def test_help_reads_in_words(runner, command):
    """No raw Click range ([x>=1], [1<=x<=17]) and no bare type names (<int range>, <str>) in any help."""
    text = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"}).stdout
    assert not re.search(r"\[[^\]]*(<=|>=)[^\]]*\]|<int|<str>|<float>|INTEGER|FLOAT|TEXT", text), text
    assert "--ascii" in text


def test_help_states_limits_defaults_and_exit_codes(runner):
    step = runner.invoke(app, ["step", "--help"], env={"COLUMNS": "200"}).stdout
    for code in ("0 done", "1 an export could not be written", "2 bad input", "3 training diverged",
                 "130 interrupted"):
        assert code in step
    assert "(passes over every sample; 1 to 10,000,000)" in step and "(≥ 0)" in step  # --epochs, --until-loss
    verify = runner.invoke(app, ["verify", "--help"], env={"COLUMNS": "200"}).stdout
    assert "at most 10,000 updates in all" in verify
    import_ = runner.invoke(app, ["import", "--help"], env={"COLUMNS": "200"}).stdout
    assert re.search(r"--target .*\[default: \(zeros; 1,0,0,… for cross_entropy\)\]", import_)


# ------------------------------------------------------------------ names that are near misses

def test_a_misspelt_sample_name(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _usage_error(runner.invoke(app, ["run", "xorr"]),
                 "error: xorr: no such file, and no built-in sample of that name (did you mean xor?); "
                 "built-in: adam, blog, cnn, deep, dropout, han-kamber, rnn, softmax, vanishing, xor")
    (tmp_path / "xorr").write_text((ROOT / "samples" / "xor.toml").read_text())
    assert runner.invoke(app, ["validate", "xorr"]).exit_code == 0  # a file of that name is read


def test_a_name_near_no_sample_lists_them(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _usage_error(runner.invoke(app, ["step", "network"]),
                 "error: network: no such file, and no built-in sample of that name; "
                 "built-in: adam, blog, cnn, deep, dropout, han-kamber, rnn, softmax, vanishing, xor")
    _usage_error(runner.invoke(app, ["validate", "mine.toml"]), "error: mine.toml: no such file")


def test_misspelt_sample_and_topic_names(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _usage_error(runner.invoke(app, ["samples", "softmx"]),
                 "error: no built-in sample named 'softmx' (did you mean softmax?); "
                 "built-in samples: adam, blog, cnn, deep, dropout, han-kamber, rnn, softmax, vanishing, xor")
    _usage_error(runner.invoke(app, ["docs", "spek"]),
                 "error: no documentation topic 'spek' (did you mean spec?); "
                 "topics: spec, worked-example, trace-format, gradient-health, dropout, recurrent, convolution")
    _usage_error(runner.invoke(app, ["check", "blog", "blog-answer"]),
                 "error: blog-answer: no such file, and no built-in sample of that name (did you mean blog-answers?); "
                 "built-in: adam, blog, cnn, deep, dropout, han-kamber, rnn, softmax, vanishing, xor")


def test_the_library_says_the_same():
    import bptrace
    from bptrace.errors import UsageError

    with pytest.raises(UsageError, match=r"^xorr: no such file, and no built-in sample of that name \(did you mean xor\?\)"):
        bptrace.load("xorr")


# ------------------------------------------------------------------ counts

def test_counts_are_singular_or_plural(runner):
    one = runner.invoke(app, ["validate", "blog"])
    assert one.exit_code == 0 and "is a valid spec: 1 sample, 8 parameters." in one.stdout
    four = runner.invoke(app, ["validate", "xor"])  # 2-4-1 with biases: 2·4 + 4 + 4·1 + 1 = 17
    assert four.exit_code == 0 and "is a valid spec: 4 samples, 17 parameters." in four.stdout
    step = runner.invoke(app, ["step", "-n", "1"])
    assert step.exit_code == 0 and "1 epoch · 1 sample" in step.stdout
    bad = runner.invoke(app, ["run", "blog", "--sample", "2"])
    assert bad.stderr.strip() == "error: --sample 2: blog.toml (built-in) has 1 sample"
    for result in (one, four, step, bad):
        assert "(s)" not in result.output


def test_counts_of_one_in_messages_and_exports(runner, tmp_path):
    """A 1-1 network given two targets, and an export of a one-epoch run: no '1 targets', no '1 epochs'."""
    spec = tmp_path / "one.toml"
    spec.write_text('learning_rate = 0.5\nloss = "half_sse"\n[[samples]]\nx = [1.0]\ntarget = [0.0, 1.0]\n'
                    '[[layers]]\nactivation = "sigmoid"\nweights = [[0.5]]\n')
    _usage_error(runner.invoke(app, ["validate", str(spec)]),
                 f"error: {spec}: samples[1].target: expected 1 target (one per output neuron), got 2")
    for ext in ("md", "tex"):
        out = tmp_path / f"run.{ext}"
        assert runner.invoke(app, ["step", "-n", "1", "-o", str(out)]).exit_code == 0
        assert "after 1 epoch." in out.read_text() and "1 epochs" not in out.read_text()
