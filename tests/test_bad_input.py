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
