"""The terminal output of every built-in sample at 60, 80 and 120 columns, compared exactly with
tests/golden/terminal/NAME-WIDTH.txt, and `run blog --ascii` at 80 with blog-ascii-80.txt
(regenerate: `python tests/test_golden_terminal.py`, then read the diff)."""

import io
import sys
from pathlib import Path

import pytest
from rich.console import Console

import bptrace
from bptrace.i18n import language
from bptrace.render.matrix import render_trace

GOLDEN = Path(__file__).resolve().parent / "golden" / "terminal"
SAMPLES = ["blog", "xor", "softmax", "deep", "adam", "dropout", "cnn", "rnn"]
WIDTHS = [60, 80, 120]
ASCII = [("blog", 80)]
KOREAN = [("blog", "scalar", 60), ("blog", "scalar", 80), ("blog", "scalar", 120), ("blog", "both", 80)]


def terminal_text(name: str, width: int, style: str = "unicode", lang: str = "en", form: str = "scalar") -> str:
    """What `bptrace run NAME [--lang LANG] [--form FORM]` prints at this width, without colour (as rich's
    own tests render)."""
    out = io.StringIO()
    console = Console(width=width, file=out, color_system=None, force_terminal=False, legacy_windows=False)
    with language(lang):
        console.print(render_trace(bptrace.run(name), style=style, form=form))
    return out.getvalue()


def _korean_golden(name: str, form: str, width: int):
    return GOLDEN / f"{name}-ko{'' if form == 'scalar' else '-' + form}-{width}.txt"


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", SAMPLES)
def test_terminal_golden(name, width):
    assert terminal_text(name, width) == (GOLDEN / f"{name}-{width}.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize("name,width", ASCII)
def test_terminal_golden_ascii(name, width):
    assert terminal_text(name, width, "ascii") == (GOLDEN / f"{name}-ascii-{width}.txt").read_text(encoding="ascii")


@pytest.mark.parametrize("name,form,width", KOREAN)
def test_terminal_golden_korean(name, form, width):
    """`run blog --lang ko` (and --form both): double-width Hangul measured as two cells at every width."""
    assert terminal_text(name, width, lang="ko", form=form) == _korean_golden(name, form, width).read_text(encoding="utf-8")


if __name__ == "__main__":  # regenerate
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for n in SAMPLES:
        for w in WIDTHS:
            (GOLDEN / f"{n}-{w}.txt").write_text(terminal_text(n, w), encoding="utf-8")
    for n, w in ASCII:
        (GOLDEN / f"{n}-ascii-{w}.txt").write_text(terminal_text(n, w, "ascii"), encoding="ascii")
    for n, f, w in KOREAN:
        _korean_golden(n, f, w).write_text(terminal_text(n, w, lang="ko", form=f), encoding="utf-8")
    sys.exit(0)
