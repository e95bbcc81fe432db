"""The trace in Korean (`--lang ko`): the catalogue covers every message of the source, the
language is per call and comes from the locale, and the published numbers survive translation."""

from __future__ import annotations

import io
import re
import string
import sys
import threading

import pytest
from babel.messages.pofile import read_po
from rich.cells import cell_len

import bptrace
from bptrace import i18n
from bptrace.cli import app
from bptrace.errors import UsageError
from conftest import PUBLISHED, ROOT, numbers_in

sys.path.insert(0, str(ROOT / "tools"))
from catalogue import template  # noqa: E402  (Babel's extraction of every _(), N_() and ngettext())

LOCALE = ROOT / "bptrace" / "locale"


def _catalogue(path):
    with path.open("rb") as f:
        return read_po(f)


def _fields(text) -> set[str]:
    """The {placeholders} of a message (of both forms of a plural one)."""
    texts = text if isinstance(text, tuple) else (text,)
    return {f for t in texts for _, f, _, _ in string.Formatter().parse(t) if f}


def _translated(text) -> bool:
    return all(text) if isinstance(text, tuple) else bool(text)


SOURCE = {m.id for m in template() if m.id}
KOREAN = {m.id: m.string for m in _catalogue(LOCALE / "ko" / "LC_MESSAGES" / "bptrace.po") if m.id}


def test_every_message_has_a_korean_translation():
    missing = sorted((m for m in SOURCE if not _translated(KOREAN.get(m))), key=str)
    assert not missing, f"{len(missing)} message(s) without Korean (python tools/catalogue.py, then translate): {missing}"


def _calls_in_fstrings(path) -> list[str]:
    """`_()`, `N_()` or `ngettext()` written inside an f-string's braces: Babel's extraction does not see
    them (Python 3.11 reads an f-string as one token), so their messages would be missing from every catalogue."""
    import tokenize

    found, depth = [], 0
    with path.open("rb") as f:
        tokens = list(tokenize.tokenize(f.readline))
    for i, tok in enumerate(tokens):
        kind = tokenize.tok_name[tok.type]
        if kind == "STRING" and re.match(r"(?i)[rb]*f", tok.string) and re.search(r"(?<![\w.])(_|N_|ngettext)\(", tok.string):
            found.append(f"{path.name}:{tok.start[0]}")
        depth += (kind == "FSTRING_START") - (kind == "FSTRING_END")  # Python 3.12+: an f-string's own tokens
        if depth and kind == "NAME" and tok.string in ("_", "N_", "ngettext") and tokens[i + 1].string == "(":
            found.append(f"{path.name}:{tok.start[0]}")
    return found


def test_no_message_hides_inside_an_f_string():
    hidden = [where for path in sorted((ROOT / "bptrace").rglob("*.py")) for where in _calls_in_fstrings(path)]
    assert not hidden


def test_the_f_string_check_finds_a_hidden_message(tmp_path):
    source = tmp_path / "hidden.py"
    source.write_text('x = f"{_(\'Errors\')} and {y}"\nz = _("Errors") + f"{y}"\n', encoding="utf-8")
    assert _calls_in_fstrings(source) == ["hidden.py:1"]


def test_template_is_up_to_date_with_the_source():
    pot = {m.id for m in _catalogue(LOCALE / "bptrace.pot") if m.id}
    assert pot == SOURCE, ("regenerate with python tools/catalogue.py", sorted(pot ^ SOURCE, key=str))
    assert set(KOREAN) == SOURCE, sorted(set(KOREAN) ^ SOURCE, key=str)


def test_translations_keep_every_placeholder():
    """'{amount}만큼 감소' for 'down by {amount}': a lost or misspelt field would raise or drop a number."""
    wrong = {m: s for m, s in KOREAN.items() if _translated(s) and _fields(m) != _fields(s)}
    assert not wrong


def test_korean_catalogue_is_korean():
    hangul = [s for s in KOREAN.values() if re.search("[가-힣]", str(s))]
    assert len(hangul) >= 0.9 * len(KOREAN)


def test_the_extraction_sees_messages_inside_the_source():
    """The test above can fail: a message only in the source is reported missing."""
    assert "Forward pass" in SOURCE and "down by {amount}" in SOURCE and "layer" in SOURCE
    assert "Forward pass" in KOREAN and KOREAN["Forward pass"] == "순전파"


def test_build_hook_compiles_what_the_po_says(tmp_path):
    import gettext
    import shutil

    sys.path.insert(0, str(ROOT))
    from hatch_build import compile_catalogues

    po = tmp_path / "bptrace" / "locale" / "ko" / "LC_MESSAGES" / "bptrace.po"
    po.parent.mkdir(parents=True)
    shutil.copy(LOCALE / "ko" / "LC_MESSAGES" / "bptrace.po", po)
    [mo] = compile_catalogues(tmp_path)
    with mo.open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    assert all(compiled.gettext(m) == s for m, s in KOREAN.items() if isinstance(m, str))
    assert all(compiled.ngettext(*m, 2) == s[0] for m, s in KOREAN.items() if isinstance(m, tuple))


@pytest.mark.parametrize("env,lang", [
    ({"LANG": "ko_KR.UTF-8"}, "ko"), ({"LC_ALL": "ko_KR.UTF-8", "LANG": "en_US.UTF-8"}, "ko"),
    ({"LC_ALL": "C", "LANG": "ko_KR.UTF-8"}, "en"), ({"LC_MESSAGES": "ko", "LANG": "C"}, "ko"),
    ({"LC_ALL": "", "LANG": "ko_KR"}, "ko"), ({"LANG": "fr_FR.UTF-8"}, "en"), ({}, "en"),
])
def test_language_from_the_locale(env, lang):
    assert i18n.from_locale(env) == lang


def test_language_is_per_call_not_global():
    with i18n.language("ko"):
        assert i18n._("Errors") == "오차"
        with i18n.language("en"):
            assert i18n._("Errors") == "Errors"
        seen = []
        t = threading.Thread(target=lambda: seen.append(i18n._("Errors")))  # a new thread: the locale's
        t.start()
        t.join()
        assert seen == ["Errors"] and i18n._("Errors") == "오차"
    assert i18n._("Errors") == "Errors"
    trace = bptrace.run("blog")
    assert "순전파" in bptrace.to_text(trace, "md", lang="ko")
    assert "순전파" not in bptrace.to_text(trace, "md")  # the previous call's language did not stay
    with pytest.raises(UsageError, match="lang: expected one of en, ko, got 'xx'"):
        bptrace.to_text(trace, "md", lang="xx")


def test_cli_lang_option_and_locale(runner):
    korean = runner.invoke(app, ["run", "--lang", "ko"])
    assert korean.exit_code == 0 and "순전파" in korean.output and "역전파 1단계: 출력층" in korean.output
    from_locale = runner.invoke(app, ["run"], env={"LANG": "ko_KR.UTF-8"})
    assert from_locale.output == korean.output
    english = runner.invoke(app, ["run", "--lang", "en"], env={"LANG": "ko_KR.UTF-8"})
    assert "Forward pass" in english.output and "순전파" not in english.output
    assert "Forward pass" in runner.invoke(app, ["run"]).output  # the previous invocation's language did not stay
    bad = runner.invoke(app, ["run", "--lang", "xx"])
    assert bad.exit_code == 2 and "--lang: expected one of en, ko, got 'xx'" in bad.output


def test_ascii_output_is_english(runner):
    result = runner.invoke(app, ["run", "--ascii", "--lang", "ko"])
    assert result.exit_code == 0 and result.output.isascii() and "Forward pass" in result.output


def test_every_published_number_in_the_korean_trace(runner):
    for form in ("scalar", "both"):
        result = runner.invoke(app, ["run", "--lang", "ko", "--form", form])
        assert result.exit_code == 0, result.output
        printed = {round(v, 8) for v in numbers_in(result.output)}
        missing = {n: v for n, v in PUBLISHED.items() if round(v, 8) not in printed}
        assert not missing, (form, missing)
    assert len(PUBLISHED) == 51


@pytest.mark.parametrize("fmt", ["md", "tex", "html", "svg"])
def test_every_published_number_in_the_korean_exports(fmt):
    text = bptrace.to_text(bptrace.run("blog"), fmt, lang="ko")
    if fmt == "html":
        text = re.sub(r"<[^>]*>", "", text)  # each Hangul character is in its own two-cell <span>
    assert "순전파" in text
    printed = {round(v, 8) for v in numbers_in(text)}
    assert not {n for n, v in PUBLISHED.items() if round(v, 8) not in printed}


@pytest.mark.parametrize("width", [60, 80, 120])
def test_korean_lines_fit_the_width_in_cells(width):
    """Hangul are two cells wide: measured by cells, no line is wider than the terminal, and every
    table's value column ends in one column (a line measured in characters would end short)."""
    from test_golden_terminal import terminal_text

    text = terminal_text("blog", width, lang="ko")
    lines = [line.rstrip() for line in text.splitlines()]
    assert max(map(cell_len, lines)) <= width
    forward = lines[lines.index("순전파"):lines.index("오차")]
    rows = [line for line in forward if re.match(r" [zho]\d ", line)]  # z1 … o2, each ending in its value
    assert rows and len({cell_len(r) for r in rows}) == 1
    assert len(rows) == 8
    header = next(line for line in forward if "값" in line and "항목" in line)
    assert cell_len(header.rstrip()) == cell_len(rows[0])  # '값' ends where the numbers end
    assert len(header.rstrip()) < cell_len(header.rstrip())


@pytest.mark.slow
def test_explore_in_korean():
    """explore's status line, step panel and footer keys in Korean (a Textual pilot run)."""
    import asyncio

    from bptrace import walk
    from bptrace.explore import Explorer

    async def walked():
        s = bptrace.load("blog")
        app = Explorer(s, walk.first_iteration(s, None, "online"))
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("right")
            await pilot.pause()
            keys = {b.description for _, b, *rest in app.active_bindings.values()}
            step = app.panel()  # the step panel's renderables: its title first
            return str(app.query_one("#top").render()), str(step.renderables[0]), keys

    with i18n.language("ko"):
        top, step, keys = asyncio.run(walked())
    assert top.startswith("단계 2/") and "에포크 1, 샘플 1" in top
    assert "순전파" in step
    assert {"다음", "이전", "이동", "종료"} <= keys and "Next" not in keys


def test_walk_html_matrix_form_in_korean():
    text = bptrace.to_text(bptrace.run("blog"), "walk", lang="ko", form="both")
    assert "순전파, 행렬 형식" in text and "크기:" in text and "원소:" in text and "모든 단계" in text
