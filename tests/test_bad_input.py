"""The catalogue of bad input: each tests/bad/NAME.toml answers with exactly NAME.expected.

Every case: exit code 2, one message on stderr naming the file and the field (or line and
column), nothing on stdout, and no traceback.
"""

from pathlib import Path

import pytest

from bptrace.cli import app

BAD = Path(__file__).parent / "bad"
CASES = sorted(p.stem for p in BAD.glob("*.toml"))


def test_catalogue_is_large():
    assert len(CASES) >= 30
    assert all((BAD / f"{c}.expected").exists() for c in CASES)


@pytest.mark.parametrize("case", CASES)
def test_bad_spec(runner, case, monkeypatch):
    monkeypatch.chdir(BAD)
    result = runner.invoke(app, ["run", f"{case}.toml"])
    expected = (BAD / f"{case}.expected").read_text().strip()
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.strip() == expected
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_file(runner, tmp_path):
    result = runner.invoke(app, ["run", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {tmp_path / 'nope.toml'}: no such file"


def test_directory(runner, tmp_path):
    result = runner.invoke(app, ["run", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {tmp_path}: is a directory, expected a TOML file"


def test_permission_denied(runner, tmp_path, monkeypatch):
    # the tests may run as root, for whom chmod 000 does not deny reading: simulate the OS's answer
    spec = tmp_path / "locked.toml"
    spec.write_text("learning_rate = 0.5\n")

    def deny(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "open", deny)
    result = runner.invoke(app, ["run", str(spec)])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {spec}: permission denied: cannot read the file"


@pytest.mark.parametrize("args,message", [
    (["run", "--lr", "0"], "--lr: expected a number greater than 0, got 0"),
    (["run", "--lr", "-1"], "--lr: expected a number greater than 0, got -1"),
    (["run", "--naming", "latex"], "--naming: expected one of seed, layered, got 'latex'"),
])
def test_bad_options(runner, args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.stderr


# ---------------------------------------------------------------- input that used to reach Python's own exceptions

BLOG_TEXT = (Path(__file__).parent.parent / "samples" / "blog.toml").read_text()
HUGE = "1" + "0" * 400  # an integer beyond float range (float() raises OverflowError)


def _spec(tmp_path, text, name="spec.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _one_error_line(result, expected=None):
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert "Traceback" not in result.output and "Decimal(" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    if expected is not None:
        assert lines[0] == expected


@pytest.mark.parametrize("old,new,field", [
    ("learning_rate = 0.5", f"learning_rate = {HUGE}", "learning_rate"),
    ("[[0.30, 0.25]", f"[[{HUGE}, 0.25]", "layers[1].weights[1][1]"),
    ("x = [0.1, 0.2]", f"x = [0.1, -{HUGE}]", "samples[1].x[2]"),
    ("target = [0.4, 0.6]", f"target = [{HUGE}, 0.6]", "samples[1].target[1]"),
    ('loss = "half_sse"', f'loss = "half_sse"\noptimizer = {{ name = "adam", beta1 = {HUGE} }}', "optimizer.beta1"),
    ('loss = "half_sse"', f'loss = "half_sse"\noptimizer = {{ name = "momentum", momentum = {HUGE} }}', "optimizer.momentum"),
    ('loss = "half_sse"', f'loss = "half_sse"\noptimizer = {{ name = "adam", eps = {HUGE} }}', "optimizer.eps"),
    ('loss = "half_sse"', f'loss = "half_sse"\noptimizer = {{ name = "sgd", weight_decay = {HUGE} }}', "optimizer.weight_decay"),
])
def test_integers_beyond_float_range(runner, tmp_path, old, new, field):
    path = _spec(tmp_path, BLOG_TEXT.replace(old, new, 1))
    result = runner.invoke(app, ["run", str(path)])
    _one_error_line(result, f"error: {path}: {field}: expected a number within ±1.8e308, "
                            "got a whole number of about 401 digits")


def test_slope_beyond_float_range(runner, tmp_path):
    text = BLOG_TEXT.replace('activation = "sigmoid"', f'activation = "leaky_relu"\nslope = {HUGE}', 1)
    result = runner.invoke(app, ["run", str(_spec(tmp_path, text))])
    _one_error_line(result)
    assert "layers[1].slope: expected a number within ±1.8e308" in result.stderr


def test_integer_longer_than_python_converts(runner, tmp_path):
    # int() refuses more than 4,300 decimal digits: the message names the line and column instead
    path = _spec(tmp_path, BLOG_TEXT.replace("learning_rate = 0.5", "learning_rate = 1" + "0" * 5000))
    result = runner.invoke(app, ["run", str(path)])
    line = BLOG_TEXT.splitlines().index("learning_rate = 0.5") + 1
    _one_error_line(result, f"error: {path}:{line}:17: number too large (5,001 digits); expected a number within ±1.8e308")


def test_nesting_500_deep(runner, tmp_path):
    text = 'learning_rate = 0.5\n[[samples]]\nx = [1]\ntarget = [1]\n[[layers]]\nactivation = "sigmoid"\nweights = ' \
           + "[" * 500 + "]" * 500 + "\n"
    path = _spec(tmp_path, text)
    assert path.stat().st_size < 1100
    result = runner.invoke(app, ["run", str(path)])
    _one_error_line(result, f"error: {path}:7:510: invalid TOML: arrays or tables nested too deeply (500 levels); "
                            "expected a number or a list of numbers")


def test_a_leading_bom_is_accepted(runner, tmp_path):
    plain = runner.invoke(app, ["run", str(_spec(tmp_path, BLOG_TEXT, "plain.toml"))])
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + BLOG_TEXT.encode())
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code == 0 and "0.02592286" in result.stdout
    assert result.stdout == plain.stdout


def test_dev_zero_is_refused_not_read_forever(runner):
    result = runner.invoke(app, ["run", "/dev/zero"])
    _one_error_line(result, "error: /dev/zero: the file is larger than 8 MB; expected a TOML spec of at most that size")


def test_a_huge_title_is_refused_quickly(runner, tmp_path):
    import time

    path = _spec(tmp_path, BLOG_TEXT.replace('title = "', 'title = "' + "x" * 5_000_000, 1))
    start = time.monotonic()
    result = runner.invoke(app, ["run", str(path)])
    assert time.monotonic() - start < 10
    _one_error_line(result, f"error: {path}: title: too long (5,000,037 characters); expected one line of at most 200")


def test_a_huge_key_is_not_echoed_whole(runner, tmp_path):
    path = _spec(tmp_path, BLOG_TEXT.replace("loss =", '"' + "k" * 5_000_000 + '" = 1\nloss =', 1))
    result = runner.invoke(app, ["run", str(path)])
    _one_error_line(result)
    assert len(result.stderr) < 300 and "k…: unknown key" in result.stderr


@pytest.mark.parametrize("title,shown", [
    ("a\\nb\\tc", "a b c"),                 # newlines and tabs collapse to a space: one line
    ("  two\\r\\n\\r\\nlines  ", "two lines"),
])
def test_titles_are_one_line(runner, tmp_path, title, shown):
    path = _spec(tmp_path, BLOG_TEXT.replace("Worked example: 2-2-2 sigmoid network", title, 1))
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0].strip() == shown


@pytest.mark.parametrize("option", ["--lr", "--until-loss"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400"])
def test_non_finite_float_options(runner, option, value):
    result = runner.invoke(app, ["step", "-n", "2", option, value])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {option}: expected a finite number, got {float(value)}"


@pytest.mark.parametrize("args", [["--batch", "²"], ["--show", "²"], ["--batch", "٣"], ["--show", "first,١"]])
def test_options_take_ascii_digits_only(runner, args):
    result = runner.invoke(app, ["step", "-n", "3", *args])
    _one_error_line(result, f"error: {args[0]}: numbers are written with the digits 0-9, got '{args[1]}'")


def test_click_messages_escape_control_characters(runner):
    result = runner.invoke(app, ["run", "--zz\x1b[2J"])
    assert result.exit_code == 2
    assert "\x1b" not in result.stderr and "\\x1b[2J" in result.stderr


def test_paths_are_echoed_escaped(runner, tmp_path):
    result = runner.invoke(app, ["run", str(tmp_path / "a\x1b[2Jb\x07.toml")])
    _one_error_line(result, f"error: {tmp_path}/a\\x1b[2Jb\\x07.toml: no such file")


@pytest.mark.parametrize("args,name", [
    (["run", "a\x00b.toml"], "SPEC"), (["check", "blog", "a\x00b"], "ANSWERS"),
    (["run", "-o", "a\x00.json"], "--export"), (["init", "x\x00.toml"], "PATH"), (["samples", "x\x00"], "NAME"),
])
def test_nul_in_an_argument(runner, args, name):
    # no real command line can carry a NUL, but the Python API and test runners can
    result = runner.invoke(app, args)
    _one_error_line(result, f"error: {name}: contains a NUL character (U+0000), which no file name or option value can hold")


def test_a_long_sample_name_is_clipped(runner):
    result = runner.invoke(app, ["samples", "y" * 1000])
    assert result.exit_code == 2 and len(result.stderr) < 200


def test_a_file_name_too_long_for_the_file_system(runner):
    result = runner.invoke(app, ["run", "y" * 1000])
    _one_error_line(result)
    assert "cannot read the file (File name too long)" in result.stderr


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_utf16_is_named(runner, tmp_path, encoding):
    path = tmp_path / "spec.toml"
    path.write_bytes(("\ufeff" if encoding.endswith("be") else "").encode(encoding) + BLOG_TEXT.encode(encoding))
    result = runner.invoke(app, ["run", str(path)])
    _one_error_line(result, f"error: {path}: this is UTF-16 text; expected UTF-8 (save the file as UTF-8)")
