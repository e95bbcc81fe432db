"""The LaTeX export: a standalone document, every published number, user text escaped, compiles."""

import re
import shutil
import subprocess

import pytest

import bptrace
from bptrace.cli import app
from bptrace.exports.latex import escape
from conftest import BLOG, PUBLISHED

PDFLATEX = shutil.which("pdflatex")
SPECIALS = r"a\b #1 $2 50% & x_y {z} ~ ^"


def _numbers(text: str) -> set[float]:
    return {round(float(t), 8) for t in re.findall(r"-?\d+\.\d+", text)}


def test_every_published_number_in_the_tex(tmp_path, runner):
    path = tmp_path / "blog.tex"
    assert runner.invoke(app, ["run", "--export", str(path)]).exit_code == 0
    text = path.read_text()
    assert text.startswith(r"\documentclass") and text.rstrip().endswith(r"\end{document}")
    printed = _numbers(text)
    assert not {n: v for n, v in PUBLISHED.items() if round(v, 8) not in printed}
    assert text.count(r"\begin{align*}") == text.count(r"\end{align*}") >= 5
    # the terminal's order
    order = [text.index(h) for h in ("The network", "Forward pass", "Errors", "Backward pass", "Updates", "Check")]
    assert order == sorted(order)


def test_escape_user_text():
    assert escape(SPECIALS) == (r"a\textbackslash{}b \#1 \$2 50\% \& x\_y \{z\} \textasciitilde{} "
                                r"\textasciicircum{}")


def test_format_option_and_extension(tmp_path, runner):
    assert runner.invoke(app, ["run", "--export", "-", "--format", "tex"]).output.startswith(r"\documentclass")
    assert bptrace.to_text(bptrace.run(), "tex").startswith(r"\documentclass")


def _compile(tmp_path, tex: str, name: str) -> str:
    (tmp_path / f"{name}.tex").write_text(tex)
    done = subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    log = (tmp_path / f"{name}.log").read_text(errors="replace")
    assert done.returncode == 0, log[-2000:]
    return log


@pytest.mark.skipif(PDFLATEX is None, reason="pdflatex is not installed")
def test_worked_example_compiles_without_overfull_lines(tmp_path):
    spec = dict(BLOG, title=SPECIALS)  # user text with every LaTeX special character
    log = _compile(tmp_path, bptrace.to_text(bptrace.run(spec), "tex"), "blog")
    assert "Overfull \\hbox" not in log
    assert (tmp_path / "blog.pdf").stat().st_size > 1000


@pytest.mark.skipif(PDFLATEX is None, reason="pdflatex is not installed")
@pytest.mark.parametrize("name", ["deep", "softmax", "adam", "cnn", "rnn"])
def test_samples_compile_without_overfull_lines(tmp_path, name):
    log = _compile(tmp_path, bptrace.to_text(bptrace.run(name, naming="layered"), "tex"), name)
    assert "Overfull \\hbox" not in log


@pytest.mark.skipif(PDFLATEX is None, reason="pdflatex is not installed")
def test_a_long_sum_of_fractions_breaks_into_rows_without_overfull_lines(tmp_path):
    """∂E_total/∂c1 of the cnn sample is a sum of nine ∂E_total/∂c1 via u_ij: three to a row."""
    tex = bptrace.to_text(bptrace.run("cnn"), "tex")
    row = next(line for line in tex.splitlines() if line.startswith(r"\frac{\partial E_{total}}{\partial c_{1}} &="))
    assert row.count(r"\big|") == 3  # the first three terms; the rest continue on rows of their own
    assert "Overfull \\hbox" not in _compile(tmp_path, tex, "cnn")
