"""`bptrace check` reads answers as students write them (issue 12, item 2)."""

import math

import pytest

from bptrace.cli import app
from conftest import PUBLISHED


def answers(tmp_path, text, name="answers.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("key,published", [
    ("net_h1", "z1"), ("out_h1", "h1"), ("out_o1", "o1"), ("net_o1", "z3"), ("E_o1", "E_o1"),
    ('"dE_total / dw5"', "dE_total/dw5"), ('"∂E_total / ∂w5"', "dE_total/dw5"), ('"dE/dw5"', "dE_total/dw5"),
    ('"dEtotal/dout_o1"', "dE_total/do1"), ('"dout_o1/dnet_o1"', "do1/dz3"), ('"dnet_o1/dw5"', "dz3/dw5"),
    ("w5_new", "w5+"), ('"w5+"', "w5+"), ('"w5⁺"', "w5+"), ("w5new", "w5+"), ('"E_total+"', "E_total+"),
])
def test_mazur_and_ascii_spellings(runner, tmp_path, key, published):
    result = runner.invoke(app, ["check", "blog", answers(tmp_path, f"{key} = {PUBLISHED[published]:.8f}\n")])
    assert result.exit_code == 0, result.output + result.stderr
    assert "1 of 1 claims hold" in result.output


@pytest.mark.parametrize("key", ['"δ_o1"', '"δo1"', "delta_o1", "deltao1", '"delta o1"', '"dE_total/dnet_o1"'])
def test_delta_spellings(runner, tmp_path, key):
    # δ_o1 = −(target_o1 − o1)·o1(1 − o1), from the published o1
    o1 = PUBLISHED["o1"]
    path = answers(tmp_path, f"{key} = {-(0.4 - o1) * o1 * (1 - o1):.6f}\n")
    result = runner.invoke(app, ["check", "blog", path])
    assert result.exit_code == 0, result.output + result.stderr


def test_given_values_are_checked_like_claims(runner, tmp_path):
    path = answers(tmp_path, "w5 = 0.45\nx1 = 0.1\ntarget_o1 = 0.4\nt_o2 = 0.6\nalpha = 0.5\n"
                             '"η" = 0.5\nz1 = 0.08\n')
    result = runner.invoke(app, ["check", "blog", path])
    assert result.exit_code == 0, result.output + result.stderr
    assert "6 of 6 claims hold" in result.output  # α and η are one quantity


def test_a_wrong_given_value_is_a_wrong_claim_not_a_refusal(runner, tmp_path):
    result = runner.invoke(app, ["check", "blog", answers(tmp_path, "w5 = 0.54\nz1 = 0.08\n")])
    assert result.exit_code == 1
    assert "1 of 2 claims hold" in result.output
    assert "w5 = 0.54, but the spec gives w5 = 0.45." in flat(result.output)


def test_every_unknown_name_is_reported_at_once(runner, tmp_path):
    path = answers(tmp_path, 'foo = 1\nz9 = 2\n"dE_total/dw9" = 3\nz1 = 0.08\n')
    result = runner.invoke(app, ["check", "blog", path])
    assert result.exit_code == 2
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1
    assert "3 names are not quantities of this network" in err
    assert '"foo"' in err and '"z9"' in err and "\"dE_total/dw9\" (did you mean 'dE_total/dw8'" in err


@pytest.mark.parametrize("content", ["", "   \n\n"])
def test_an_empty_answers_file_speaks_of_an_answers_file(runner, tmp_path, content):
    result = runner.invoke(app, ["check", "blog", answers(tmp_path, content)])
    assert result.exit_code == 2
    assert "expected an answers file" in result.stderr
    assert "spec" not in result.stderr and "bptrace init" not in result.stderr


@pytest.mark.parametrize("line,key,col", [("w6+ = 0.4131", "w6+", 3), ("net h1 = 0.08", "net h1", 5),
                                          ("dE_total/dw5 = 0.0259", "dE_total/dw5", 9)])
def test_an_unquoted_name_that_toml_cannot_read_says_how_to_quote_it(runner, tmp_path, line, key, col):
    path = answers(tmp_path, f"z1 = 0.08\n{line}\n")
    result = runner.invoke(app, ["check", "blog", path])
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"error: {path}:2:{col}: invalid TOML: Expected '=' after a key in a key/value "
                                     f"pair; a name with characters other than letters, digits, _ and - must be "
                                     f'quoted: "{key}" = …')


def test_other_toml_errors_get_no_quoting_hint(runner, tmp_path):
    result = runner.invoke(app, ["check", "blog", answers(tmp_path, "z1 = [0.08,\n")])
    assert result.exit_code == 2 and "quoted" not in result.stderr
