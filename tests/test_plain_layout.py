"""The text layout (render.grid, used by `bptrace run` when its output has no colour) against rich: the
same bytes for every built-in sample, at every width from 40 to 130 columns (and 200, 1000), with and
without formulas, in English and Korean (double-width Hangul), in the scalar form; what the text layout
does not draw (the matrix forms, --ascii) is left to rich. Rich is the reference: its output is the one
the golden files (tests/golden/terminal) pin down."""

import io
import os
import subprocess
import sys

import pytest
from rich.console import Console

import bptrace
from bptrace.i18n import language
from bptrace.render.grid import Doc, Grid, Unsupported, _wrap
from bptrace.render.tables import render_trace
from bptrace.samples import names

WIDTHS = [*range(40, 131), 200, 1000]  # every width (slow: `pytest --all`)
SOME = [40, 57, 80, 120]  # the quick suite's: the narrowest, an odd one, two of the goldens'


def rich_text(doc, width: int) -> str:
    out = io.StringIO()
    Console(width=width, file=out, color_system=None, force_terminal=False, legacy_windows=False,
            emoji=False).print(doc)
    return out.getvalue()


def same_as_rich(name: str, lang: str, widths) -> None:
    trace = bptrace.run(name)
    for formulas in (True, False):
        with language(lang):
            doc = render_trace(trace, formulas=formulas)
            for width in widths:
                assert doc.plain(width) == rich_text(doc, width), (name, lang, formulas, width)


@pytest.mark.parametrize("lang", ["en", "ko"])
@pytest.mark.parametrize("name", names())
def test_text_layout_is_rich_byte_for_byte(name, lang):
    same_as_rich(name, lang, SOME)


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "ko"])
@pytest.mark.parametrize("name", names())
def test_text_layout_is_rich_at_every_width(name, lang):
    same_as_rich(name, lang, WIDTHS)


def test_a_rounded_focused_run_too():
    """Other traces the tables draw: textbook rounding and one parameter's chain."""
    for trace in (bptrace.run("blog", round=4), bptrace.run("deep", focus="w1")):
        doc = render_trace(trace, precision=4)
        for width in (40, 60, 80, 120):
            assert doc.plain(width) == rich_text(doc, width)


def test_what_it_does_not_draw_is_refused():
    """--ascii, markup in a string (rich would read [b] as a style) and a rule: Unsupported, so rich draws them."""
    with pytest.raises(Unsupported):
        render_trace(bptrace.run(), style="ascii").plain(80)
    g = Grid(title="t", title_justify="left", box="SIMPLE_HEAD", show_edge=False, padding=(0, 1))
    g.add_column("name")
    g.add_row("[b]bold[/b]")
    with pytest.raises(Unsupported):
        Doc([g]).plain(80)
    with pytest.raises(Unsupported):
        Doc(render_trace(bptrace.run("blog")).blocks + [object()]).plain(80)


def test_wrapping_by_hand():
    """Text.wrap's rules worked out by hand: cut between words, a long word folded, right-justified."""
    assert _wrap("ab cd ef", 5, "left", False) == ["ab cd", "ef   "]
    assert _wrap("abcdefgh", 3, "left", False) == ["abc", "def", "gh "]
    assert _wrap("0.5", 6, "right", True) == ["   0.5"]
    assert _wrap("입력층", 4, "left", False) == ["입력", "층  "]  # two cells a syllable
    assert _wrap("0.123456", 5, "right", True, "ellipsis") == ["0.12…"]


@pytest.mark.parametrize("env,isatty", [({}, False), ({"NO_COLOR": "1"}, False), ({"COLUMNS": "61"}, False)])
def test_the_cli_writes_what_rich_would(tmp_path, env, isatty):
    """`bptrace run` into a pipe (text layout) and the same run forced through rich: the same bytes."""
    base = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "FORCE_COLOR", "TTY_COMPATIBLE")}
    base.update(env, PYTHONIOENCODING="utf-8")
    fast = subprocess.run([sys.executable, "-m", "bptrace", "run", "softmax", "--lang", "ko"], env=base,
                          capture_output=True, text=True, encoding="utf-8", stdin=subprocess.DEVNULL)
    code = ("import sys; sys.argv = ['bptrace', 'run', 'softmax', '--lang', 'ko']\n"
            "import bptrace.terminal as t; t.plain_text = lambda r: None\n"
            "from bptrace.cli import main; main()")
    slow = subprocess.run([sys.executable, "-c", code], env=base, capture_output=True, text=True, encoding="utf-8",
                          stdin=subprocess.DEVNULL)
    assert fast.returncode == slow.returncode == 0, fast.stderr + slow.stderr
    assert fast.stdout == slow.stdout and "입력" in fast.stdout


def test_a_plain_run_does_not_import_rich_console():
    """The point of the text layout: no rich.console, rich.table or rich.markup at a piped `bptrace run`."""
    code = ("import sys\nsys.argv = ['bptrace', 'run']\nfrom bptrace.launch import main\ntry:\n    main()\n"
            "except SystemExit:\n    pass\nprint(' '.join(sorted(sys.modules)), file=sys.stderr)")
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL)
    loaded = set(proc.stderr.split())
    assert "bptrace.render.grid" in loaded and "E_total" in proc.stdout
    for module in ("rich.console", "rich.table", "rich.markup", "rich.text"):
        assert module not in loaded, module
