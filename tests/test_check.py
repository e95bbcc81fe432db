"""`bptrace check`, `gradcheck`, `init` and `validate`."""

import math

import pytest

from bptrace.cli import app
from conftest import ROOT, SAMPLES


def answers(tmp_path, text):
    path = tmp_path / "answers.toml"
    path.write_text(text)
    return str(path)


def test_sample_answers_mark_exactly_the_deliberate_mistake(runner):
    result = runner.invoke(app, ["check", str(SAMPLES / "blog.toml"), str(SAMPLES / "blog-answers.toml")])
    assert result.exit_code == 1
    crosses = [line for line in result.output.splitlines() if line.rstrip().endswith("✗")]
    assert len(crosses) == 1 and "∂o2/∂z4" in crosses[0] and "0.22351485" in crosses[0]
    assert "27 of 28 claims hold; 1 wrong" in result.output
    # its own inputs (o2, z4) hold, and what is computed from it holds: a slip in writing it down
    assert "probably a slip in writing it down" in " ".join(result.output.split())


def test_all_right_exits_0(runner, tmp_path):
    path = answers(tmp_path, 'z1 = 0.08\nh1 = 0.51998934\n"dE_total/dw5" = 0.02592286\n"w5+" = 0.43703857\n')
    result = runner.invoke(app, ["check", "blog", path])
    assert result.exit_code == 0 and "4 of 4 claims hold" in result.output


@pytest.mark.parametrize("claim,holds", [
    ("0.209446", True),        # the post's own rounding of 0.20944600
    ("0.21", True),            # 2 decimals
    ("0.2094", True),
    ("0.2095", False),         # 0.20944600... rounds to 0.2094
    ("0.20944600", True),
    ("0.20944601", False),
    ("2.09446e-1", True),      # scientific notation: 6 significant decimals
])
def test_claims_compare_at_their_written_precision(runner, tmp_path, claim, holds):
    path = answers(tmp_path, f'"dE_total/do1" = {claim}\n')
    result = runner.invoke(app, ["check", "blog", path])
    assert result.exit_code == (0 if holds else 1), result.output


def test_error_source_is_the_earliest_wrong_quantity(runner, tmp_path):
    # h1 wrong, and z3, o1 computed from the wrong h1 (0.53 instead of 0.51998934), worked by hand:
    # z3 = 0.45·0.53 + 0.4·0.52747230 = 0.44348892; o1 = sigmoid(0.44348892) = 0.60909…
    path = answers(tmp_path, "z1 = 0.08\nh1 = 0.53\nz3 = 0.44348892\no1 = 0.6091\n")
    result = runner.invoke(app, ["check", "blog", path])
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert text.count("is computed from your h1, which is wrong; fix h1 first") == 2  # for z3 and for o1


def test_answers_for_a_later_epoch(runner, tmp_path):
    # two SGD steps on the worked example, worked independently with the post's formulas
    def sig(z):
        return 1 / (1 + math.exp(-z))

    w = [0.3, 0.25, 0.4, 0.35, 0.45, 0.4, 0.7, 0.6]
    for _ in range(2):
        x, t = (0.1, 0.2), (0.4, 0.6)
        h1, h2 = sig(w[0] * x[0] + w[1] * x[1]), sig(w[2] * x[0] + w[3] * x[1])
        o1, o2 = sig(w[4] * h1 + w[5] * h2), sig(w[6] * h1 + w[7] * h2)
        d1, d2 = -(t[0] - o1) * o1 * (1 - o1), -(t[1] - o2) * o2 * (1 - o2)
        e1, e2 = (d1 * w[4] + d2 * w[6]) * h1 * (1 - h1), (d1 * w[5] + d2 * w[7]) * h2 * (1 - h2)
        g = [e1 * x[0], e1 * x[1], e2 * x[0], e2 * x[1], d1 * h1, d1 * h2, d2 * h1, d2 * h2]
        w = [wi - 0.5 * gi for wi, gi in zip(w, g)]
    path = answers(tmp_path, f'epoch = 2\n"w5+" = {w[4]:.8f}\n"w1+" = {w[0]:.8f}\n')
    result = runner.invoke(app, ["check", "blog", path])
    assert result.exit_code == 0, result.output
    assert "epoch 2, sample 1" in result.output


@pytest.mark.parametrize("text,message", [
    ('"dE_total/dw9" = 0.1\n', "\"dE_total/dw9\": no such quantity; did you mean 'dE_total/dw8'"),
    ("h1 = \"0.5\"\n", "h1\": expected a number (the claimed value), got a string ('0.5')"),
    ("epoch = 0\nh1 = 0.5\n", "epoch: expected a whole number from 1 to 1,000,000"),
    ("epoch = 2.5\nh1 = 0.5\n", "got a number (2.5)"),
    ("sample = 1e3\nh1 = 0.5\n", "got a number (1000)"),
    ("h1 = 1979-05-27\n", "got a date (1979-05-27)"),
    ("h1 = 0.08e-99999999999999999999\n", ":1:6: number out of range (0.08e-99999999999999999999)"),
    ("h1 = 1" + "0" * 400 + "\n", "expected a number of at most 40 significant digits, got a whole number of about 401 digits"),
    ("h1 = 1" + "0" * 5000 + "\n", ":1:6: number too large (5,001 digits)"),
    ("epoch = 1" + "0" * 400 + "\nh1 = 0.5\n", "got a whole number of about 401 digits"),
    ("sample = 2\nh1 = 0.5\n", "sample = 2, but blog.toml (built-in) has 1 sample"),
    ("# nothing\n", "no claims"),
    ("h1 = [0.5]\n", "expected a number (the claimed value), got a list"),
    ("h1 = nan\n", "expected a finite number, got NaN"),
    ("h1 = = 0.5\n", "invalid TOML"),
])
def test_bad_answers(runner, tmp_path, text, message):
    result = runner.invoke(app, ["check", "blog", answers(tmp_path, text)])
    assert result.exit_code == 2
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.output
    assert "Decimal(" not in result.stderr and "datetime" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("name", ["blog", "xor", "softmax", "deep", "adam"])
def test_gradcheck_passes_on_every_sample(runner, name):
    result = runner.invoke(app, ["gradcheck", name])
    assert result.exit_code == 0, result.output
    assert "gradients agree" in result.output


def test_gradcheck_fails_when_the_tolerance_is_impossible(runner):
    result = runner.invoke(app, ["gradcheck", "--tol", "0", "--atol", "0", "--eps", "0.1"])
    assert result.exit_code == 1 and "disagree" in result.output


def test_gradcheck_per_sample(runner):
    result = runner.invoke(app, ["gradcheck", "xor", "--sample", "2"])
    assert result.exit_code == 0
    assert runner.invoke(app, ["gradcheck", "xor", "--sample", "9"]).exit_code == 2


def test_init_writes_a_runnable_spec_and_never_overwrites(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = runner.invoke(app, ["init"])
    assert first.exit_code == 0 and (tmp_path / "network.toml").exists()
    text = (tmp_path / "network.toml").read_text()
    assert text.count("#") > 20  # commented
    run = runner.invoke(app, ["run", "network.toml"])
    assert run.exit_code == 0 and "0.02592286" in run.output  # the worked example's numbers
    (tmp_path / "network.toml").write_text("mine\n")
    again = runner.invoke(app, ["init"])
    assert again.exit_code == 2 and "already exists; use --force" in again.stderr
    assert (tmp_path / "network.toml").read_text() == "mine\n"
    forced = runner.invoke(app, ["init", "--force"])
    assert forced.exit_code == 0 and (tmp_path / "network.toml").read_text() == text


def test_validate(runner):
    ok = runner.invoke(app, ["validate", str(SAMPLES / "deep.toml")])
    assert ok.exit_code == 0 and "is a valid spec" in ok.output and "49 parameters" in ok.output
    bad = runner.invoke(app, ["validate", str(ROOT / "tests" / "bad" / "weights-ragged.toml")])
    assert bad.exit_code == 2 and "rows have different lengths" in bad.stderr


def test_names_as_the_terminal_shows_them_are_accepted(runner, tmp_path):
    path = answers(tmp_path, '"∂E_total/∂w5" = 0.02592286\n"δ_o1" = 0.04985267\n"w5⁺" = 0.43703857\n')
    result = runner.invoke(app, ["check", "blog", path])
    assert result.exit_code == 0 and "3 of 3 claims hold" in result.output


def test_two_spellings_with_different_values_are_refused(runner, tmp_path):
    # "∂E_total/∂w5" and "dE_total/dw5" are one quantity: a wrong claim must not be silently dropped
    path = answers(tmp_path, 'z1 = 0.08\n"∂E_total/∂w5" = 0.1\n"dE_total/dw5" = 0.02592286\n')
    result = runner.invoke(app, ["check", "blog", path])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert ('"∂E_total/∂w5" (line 2) and "dE_total/dw5" (line 3) are the same quantity with different '
            "claimed values (0.1 and 0.02592286)") in result.stderr


def test_two_spellings_with_equal_values_are_one_claim(runner, tmp_path):
    path = answers(tmp_path, '"w5⁺" = 0.43703857\n"w5+" = 0.437038570\n"δ_o1" = 0.04985267\n')
    result = runner.invoke(app, ["check", "blog", path])
    assert result.exit_code == 0, result.output
    assert "2 of 2 claims hold" in result.output


def test_answers_with_a_bom(runner, tmp_path):
    path = tmp_path / "answers.toml"
    path.write_bytes(b"\xef\xbb\xbfz1 = 0.08\n")
    result = runner.invoke(app, ["check", "blog", str(path)])
    assert result.exit_code == 0 and "1 of 1 claims hold" in result.output


def test_answers_file_is_read_with_a_limit(runner):
    result = runner.invoke(app, ["check", "blog", "/dev/zero"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: /dev/zero: the file is larger than 8 MB; expected an answers file of at most that size"


def test_a_key_with_escape_codes_is_echoed_escaped_and_short(runner, tmp_path):
    path = answers(tmp_path, '"\\u001b[2J' + "x" * 5000 + '" = 1\n')
    result = runner.invoke(app, ["check", "blog", path])
    assert result.exit_code == 2
    assert "\x1b" not in result.stderr and "\\x1b[2J" in result.stderr
    assert len(result.stderr) < 400


@pytest.mark.parametrize("option", ["--tol", "--atol", "--eps"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400"])
def test_gradcheck_refuses_non_finite_options(runner, option, value):
    result = runner.invoke(app, ["gradcheck", option, value])
    assert result.exit_code == 2
    assert option in result.stderr  # click's own range check answers first for -inf below a minimum
    if value == "nan":  # nan passes every range check: bptrace refuses it
        assert result.stderr.strip() == f"error: {option}: expected a finite number, got nan"
