"""The matrix form on the terminal: `run blog --form matrix|both` at 60, 80 and 120 columns, compared
exactly with tests/golden/terminal/blog-FORM-WIDTH.txt (regenerate: `python tests/test_matrix_golden.py`,
then read the diff); no line wider than the terminal for any sample; every published number of the
worked example still printed with --form both; --form checked."""

import io
import sys
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console

import bptrace
from bptrace.render.matrix import render_trace

GOLDEN = Path(__file__).resolve().parent / "golden" / "terminal"
WIDTHS = [60, 80, 120]
FORMS = ["matrix", "both"]


def terminal_text(name: str, width: int, form: str, style: str = "unicode") -> str:
    out = io.StringIO()
    console = Console(width=width, file=out, color_system=None, force_terminal=False, legacy_windows=False)
    console.print(render_trace(bptrace.run(name), style=style, form=form))
    return out.getvalue()


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("form", FORMS)
def test_matrix_golden(form, width):
    assert terminal_text("blog", width, form) == (GOLDEN / f"blog-{form}-{width}.txt").read_text(encoding="utf-8")


def test_matrix_golden_ascii():
    assert terminal_text("blog", 80, "both", "ascii") == (GOLDEN / "blog-both-ascii-80.txt").read_text(encoding="ascii")


@pytest.mark.parametrize("name", ["deep", "softmax", "xor"])
def test_ascii_matrix_form_is_ascii_and_fits(name):
    text = terminal_text(name, 60, "both", "ascii")
    assert text.isascii() and "?" not in text.replace("??", "")
    assert max(len(line) for line in text.splitlines()) <= 60


def test_focus_is_scalar_only(runner):
    from bptrace.cli import app

    result = runner.invoke(app, ["run", "--focus", "w1", "--form", "matrix"])
    assert result.exit_code == 2
    assert "--focus w1: one parameter's chain is shown in the scalar form only" in result.output


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", ["deep", "softmax", "xor", "adam"])
def test_matrix_form_fits_the_terminal(name, width):
    wide = [line for line in terminal_text(name, width, "both").splitlines() if cell_len(line) > width]
    assert wide == []


def test_every_published_number_printed_with_form_both():
    from conftest import PUBLISHED, numbers_in

    printed = {round(v, 8) for v in numbers_in(terminal_text("blog", 80, "both"))}
    missing = {n: v for n, v in PUBLISHED.items() if round(v, 8) not in printed}
    assert len(PUBLISHED) >= 50 and not missing


def test_worked_example_shape_lines_and_numbers():
    """The blog's first forward line, worked out by hand: z = W x with W = [[0.3, 0.25], [0.4, 0.35]],
    x = [0.1, 0.2]: z1 = 0.03 + 0.05 = 0.08, z2 = 0.04 + 0.07 = 0.11."""
    text = terminal_text("blog", 80, "matrix")
    assert "z⁽¹⁾ = W⁽¹⁾ h⁽⁰⁾\n  [2×2]·[2×1] = [2×1]\n  ⎡0.08000000⎤ = ⎡0.3  0.25⎤ ⎡0.1⎤\n" \
           "  ⎣0.11000000⎦   ⎣0.4  0.35⎦ ⎣0.2⎦\n" in text
    assert "∂E/∂W⁽²⁾ = δ⁽²⁾ h⁽¹⁾ᵀ\n  [2×1]·[1×2] = [2×2]" in text


def test_form_is_checked(runner):
    from bptrace.cli import app

    result = runner.invoke(app, ["run", "--form", "vector"])
    assert result.exit_code == 2
    assert "--form: expected one of scalar, matrix, both, got 'vector'" in result.output


def test_step_show_in_matrix_form(runner):
    from bptrace.cli import app

    result = runner.invoke(app, ["step", "xor", "--epochs", "1", "--batch", "full", "--show", "1", "--form", "matrix"])
    assert result.exit_code == 0, result.output
    assert "(1/4)([1×4] + [1×4] + [1×4] + [1×4]) = [1×4]" in result.output


if __name__ == "__main__":  # regenerate
    for f in FORMS:
        for w in WIDTHS:
            (GOLDEN / f"blog-{f}-{w}.txt").write_text(terminal_text("blog", w, f), encoding="utf-8")
    (GOLDEN / "blog-both-ascii-80.txt").write_text(terminal_text("blog", 80, "both", "ascii"), encoding="ascii")
    sys.exit(0)


WIDE = {  # 8 inputs, 7 hidden units, 1 output: W⁽¹⁾ is 7×8, past the 6×6 written in full
    "title": "wide", "learning_rate": 0.1,
    "samples": [{"x": [round(0.1 * (k + 1), 1) for k in range(8)], "target": [0.5]}],
    "layers": [{"activation": "tanh", "weights": [[round(0.01 * (j - k), 2) for k in range(8)] for j in range(7)],
                "bias": [0.0] * 7},
               {"activation": "sigmoid", "weights": [[0.1] * 7], "bias": [0.0]}],
}


@pytest.mark.parametrize("width", WIDTHS)
def test_a_large_matrix_is_elided_with_its_shape(width):
    out = io.StringIO()
    Console(width=width, file=out, color_system=None).print(render_trace(bptrace.run(WIDE), form="matrix"))
    text = out.getvalue()
    assert "[7×8]·[8×1] + [7×1] = [7×1]" in text
    assert "⋯" in text and "⋮" in text and "⋱" in text
    assert max(cell_len(line) for line in text.splitlines()) <= width
    # W⁽¹⁾'s first row keeps its first entries and its last (w_18 = 0.01·(0 − 7) = −0.07), the middle elided;
    # z⁽¹⁾₁ = Σ_k 0.01·(−k)·0.1·(k + 1) = −0.001·(0 + 2 + 6 + 12 + 20 + 30 + 42 + 56) = −0.168
    assert "−0.07⎤" in text and "−0.16800000" in text


def test_an_elided_matrix_has_no_legend():
    out = io.StringIO()
    Console(width=80, file=out, color_system=None).print(render_trace(bptrace.run(WIDE), form="both"))
    text = out.getvalue()
    assert "δ⁽²⁾₁ = " in text  # 1×1: named
    assert "W⁽¹⁾₁₁ = " not in text and "h⁽⁰⁾₁ = " not in text and "W⁽²⁾₁ = " not in text  # 7×8, 8×1, 1×7: elided
