"""Nothing bptrace shows can take over the terminal or break a file format, whatever the
environment (COLUMNS, PYTHONIOENCODING) or the spec's title says."""

import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from markdown_it import MarkdownIt

from bptrace.cli import app
from conftest import SAMPLES

BLOG_TEXT = (SAMPLES / "blog.toml").read_text()
CONTROL = [chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)] if chr(c) not in "\n\t"]


def bptrace(*args, **env):
    """Run bptrace in a fresh interpreter (the console reads COLUMNS and the encoding at start)."""
    environ = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "PYTHONIOENCODING")}
    proc = subprocess.run([sys.executable, "-m", "bptrace", *args], capture_output=True,
                          env={**environ, **env}, timeout=120)
    assert b"Traceback" not in proc.stderr, proc.stderr.decode(errors="replace")
    return proc


@pytest.mark.parametrize("columns", ["0", "abc", "1" * 5000, *(pytest.param(c, marks=pytest.mark.slow)
                                      for c in ["1", "2", "²", "-5", "", "99999999999999999999"])])
@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
def test_any_columns_value_gives_a_whole_trace(columns):
    run = bptrace("run", COLUMNS=columns)
    assert run.returncode == 0
    text = run.stdout.decode()
    assert "0.02592286" in text and "0.43703857" in text  # ∂E_total/∂w5 and w5⁺ of the worked example
    step = bptrace("step", "-n", "3", COLUMNS=columns)
    assert step.returncode == 0 and b"3 epochs run" in step.stdout


def test_ascii_only_streams_get_ascii_names():
    run = bptrace("run", PYTHONIOENCODING="ascii")
    assert run.returncode == 0
    text = run.stdout.decode("ascii")  # raises if anything non-ASCII was written
    for name in ("dE_total/dw5", "delta_o1", "p+ = p - alpha*dE_total/dp", "alpha = 0.5"):
        assert name in text
    assert "0.02592286" in text


@pytest.mark.parametrize("args", [["step", "-n", "20"], ["check", "blog", "blog-answers"], ["gradcheck"],
                                  ["run", "-o", "-", "-f", "md"], ["samples"], ["validate", "blog"]])
@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
def test_ascii_only_streams_never_raise(args):
    proc = bptrace(*args, PYTHONIOENCODING="ascii")
    assert proc.returncode in (0, 1)
    proc.stdout.decode("ascii")
    proc.stderr.decode("ascii")


def test_ascii_only_stderr():
    proc = bptrace("run", "nöpe∂.toml", PYTHONIOENCODING="ascii")
    assert proc.returncode == 2
    assert proc.stderr.decode("ascii").strip() == "error: noped.toml: no such file"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file names are bytes")
def test_a_file_name_that_is_not_utf8():
    proc = subprocess.run([sys.executable, "-m", "bptrace", "run", b"\xff.toml"], capture_output=True, timeout=60)
    assert proc.returncode == 2 and b"Traceback" not in proc.stderr
    assert proc.stderr.strip() == b"error: ?.toml: no such file"


HOSTILE_TITLES = [
    "a\\n---\\n# b",                       # would add a Markdown heading
    "x\\n\\n===\\ny",                        # a setext heading
    "<svg>&amp; ]]> \\\" '",                 # XML specials
    "\\t[bold]markup[/] $x$ `code`\\r\\n",   # rich markup, LaTeX, a code span
]


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_hostile_titles_keep_exports_valid(runner, tmp_path, title):
    spec = tmp_path / "spec.toml"
    spec.write_text(BLOG_TEXT.replace("Worked example: 2-2-2 sigmoid network", title, 1))
    svg, md = tmp_path / "t.svg", tmp_path / "t.md"
    result = runner.invoke(app, ["run", str(spec), "-o", str(svg), "-o", str(md)])
    assert result.exit_code == 0, result.output
    ET.parse(svg)  # well-formed XML
    tokens = MarkdownIt().parse(md.read_text())
    assert [t.tag for t in tokens if t.type == "heading_open"].count("h1") == 1


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x1b", "\x7f", "\x85", "\x9b"])
def test_control_characters_in_titles_are_refused(runner, tmp_path, char):
    spec = tmp_path / "spec.toml"
    spec.write_text(BLOG_TEXT.replace("Worked example", f"Worked\\u{ord(char):04x}example", 1))
    result = runner.invoke(app, ["run", str(spec), "-o", str(tmp_path / "t.svg")])
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"error: {spec}: title: expected one line of plain text, "
                                     f"found the control character U+{ord(char):04X}")
    assert not (tmp_path / "t.svg").exists()


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
def test_no_control_character_reaches_the_terminal(runner, tmp_path):
    # every C0/C1 character, in the title, in a key and in the file name: none is written raw
    for char in CONTROL:
        escaped = f"\\u{ord(char):04x}"
        for in_title, text in ((True, BLOG_TEXT.replace("Worked example", f"W{escaped}", 1)),
                               (False, f'"k{escaped}" = 1\n' + BLOG_TEXT)):
            spec = tmp_path / f"s{ord(char)}.toml"
            spec.write_text(text)
            result = runner.invoke(app, ["run", str(spec)])
            assert result.exit_code == (0 if char == "\r" and in_title else 2)  # \r: a line break
            assert char not in result.stdout and char not in result.stderr, (hex(ord(char)), result.stderr)
    if sys.platform != "win32":
        odd = tmp_path / "a\x1bb\x9b.toml"
        odd.write_text(BLOG_TEXT)
        result = runner.invoke(app, ["validate", str(odd)])
        assert result.exit_code == 0 and "\x1b" not in result.stdout and "\\x1b" in result.stdout


def test_transliteration_spells_names_as_answers_accept_them():
    from bptrace.ascii import transliterate

    assert transliterate("∂E_total/∂w5 δ_o1 w5⁺ e^−z 0.3×0.1 w1·x1 α → ─│┼ é…") == \
        "dE_total/dw5 delta_o1 w5+ e^-z 0.3x0.1 w1*x1 alpha -> -|+ e..."


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
@pytest.mark.parametrize("env", [{"COLUMNS": "²"}, {"LINES": "²"}, {"LINES": "0", "COLUMNS": "0"}])
def test_exports_ignore_unusable_sizes_too(tmp_path, env):
    proc = bptrace("step", "-n", "2", "-q", "-o", str(tmp_path / "r.svg"), "-o", str(tmp_path / "r.html"), **env)
    assert proc.returncode == 0
    ET.parse(tmp_path / "r.svg")
