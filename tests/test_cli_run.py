"""`bptrace run` through Typer's CliRunner: output, options, and exit codes."""

import subprocess
import sys

import pytest

from bptrace.cli import app
from conftest import PUBLISHED, ROOT, SAMPLES, numbers_in


def test_run_default_is_worked_example(runner):
    result = runner.invoke(app, ["run"])
    assert result.exit_code == 0
    for heading in ("Forward pass", "Errors", "Backward step 1: output layer", "Backward step 2: hidden layer 1",
                    "Updates", "Check: forward pass again"):
        assert heading in result.output
    # the post's way: formula, then numbers, then the result
    assert "w1·x1 + w2·x2" in result.output and "0.3×0.1 + 0.25×0.2" in result.output
    assert "∂E_total/∂o1 × ∂o1/∂z3 × ∂z3/∂w5" in result.output
    assert "0.20944600 × 0.23802157 × 0.51998934" in result.output
    assert "0.02397190 → 0.02323634" in result.output


def test_run_sample_file_equals_builtin(runner):
    a = runner.invoke(app, ["run", str(SAMPLES / "blog.toml")])
    b = runner.invoke(app, ["run"])
    assert a.exit_code == 0 and a.output == b.output


def test_builtin_samples_identical_to_repository_samples():
    pkg = ROOT / "bptrace" / "data" / "samples"
    repo = sorted(p.name for p in SAMPLES.glob("*.toml"))
    assert repo == sorted(p.name for p in pkg.glob("*.toml"))
    for name in repo:
        assert (pkg / name).read_bytes() == (SAMPLES / name).read_bytes(), name


def test_fits_80_columns_and_no_number_is_cut(runner):
    result = runner.invoke(app, ["run"], env={"COLUMNS": "80"}, terminal_width=80)
    assert result.exit_code == 0
    assert max(len(line) for line in result.output.splitlines()) <= 80
    printed = {round(v, 8) for v in numbers_in(result.output)}
    assert all(round(v, 8) in printed for v in PUBLISHED.values())


def test_precision_option(runner):
    result = runner.invoke(app, ["run", "--precision", "4"])
    assert result.exit_code == 0
    assert "0.5200" in result.output and "0.51998934" not in result.output


def test_lr_override(runner):
    result = runner.invoke(app, ["run", "--lr", "1.0"])
    assert result.exit_code == 0
    # w5+ = 0.45 − 1.0 × 0.02592286 (worked by hand from the published gradient)
    assert "0.42407714" in result.output


def test_no_formulas(runner):
    result = runner.invoke(app, ["run", "--no-formulas"])
    assert result.exit_code == 0
    assert "w1·x1" not in result.output and "0.51998934" in result.output


def test_layered_naming(runner):
    result = runner.invoke(app, ["run", "--naming", "layered"])
    assert result.exit_code == 0
    assert "W^(2)_11" in result.output and "∂E_total/∂W^(2)_11" in result.output
    assert "0.02592286" in result.output  # the same number under its layered name


def test_sample_option(runner):
    result = runner.invoke(app, ["run", "xor", "--sample", "4"])
    assert result.exit_code == 0 and "sample 4" in result.output
    bad = runner.invoke(app, ["run", "xor", "--sample", "5"])
    assert bad.exit_code == 2 and "has 4 samples" in bad.output


@pytest.mark.parametrize("name", ["blog", "xor", "softmax", "deep", "adam"])
def test_every_sample_runs(runner, name):
    result = runner.invoke(app, ["run", name])
    assert result.exit_code == 0, result.output
    assert "E_total" in result.output


def test_samples_command(runner):
    listing = runner.invoke(app, ["samples"])
    assert listing.exit_code == 0 and "xor" in listing.output and "softmax" in listing.output
    one = runner.invoke(app, ["samples", "blog"])
    assert one.output == (SAMPLES / "blog.toml").read_text()
    bad = runner.invoke(app, ["samples", "nope"])
    assert bad.exit_code == 2 and "no built-in sample named 'nope'" in bad.output


def test_plain_output_when_piped():
    """No colour codes when stdout is not a terminal."""
    proc = subprocess.run([sys.executable, "-m", "bptrace", "run"], capture_output=True, text=True)
    assert proc.returncode == 0
    assert "\x1b[" not in proc.stdout


def test_engine_imports_neither_rich_nor_typer():
    code = ("import sys, bptrace.engine, bptrace.spec, bptrace.trace, bptrace.tracer; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('rich', 'typer', 'click')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


@pytest.mark.parametrize("command", ["run", "samples"])
def test_every_command_has_help(runner, command):
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_ascii_notation(runner):
    result = runner.invoke(app, ["run", "--ascii"])
    assert result.exit_code == 0
    assert "dE_total/do1 * do1/dz3 * dz3/dw5" in result.output and "delta_o1" in result.output
    assert "0.20944600 * 0.23802157 * 0.51998934" in result.output
    assert "∂" not in result.output and "δ" not in result.output
    printed = {round(v, 8) for v in numbers_in(result.output)}
    assert all(round(v, 8) in printed for v in PUBLISHED.values())


@pytest.mark.parametrize("args", [["run"], ["run", "adam"], ["run", "deep", "--naming", "layered"],
                                  ["step", "xor", "--epochs", "300"], ["gradcheck", "softmax"], ["samples"],
                                  ["validate", "blog"], ["check", "blog", "blog-answers"]])
def test_piped_output_has_no_trailing_spaces(runner, args):
    result = runner.invoke(app, args)
    assert result.exit_code in (0, 1), result.output
    lines = result.stdout.splitlines()
    assert len(lines) > 3
    assert [line for line in lines if line != line.rstrip()] == []
