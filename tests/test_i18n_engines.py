"""The Korean trace in the engines that show it: KaTeX renders every formula of the Korean Markdown,
pdflatex compiles the Korean .tex (with kotex), and headless Chromium lays out the HTML and SVG with
Hangul drawn as Hangul (not the missing-glyph box) and two Latin cells wide, so the columns line up."""

from __future__ import annotations

import pytest

import bptrace
from engines_support import (compile_tex, ensure_chromium, ensure_node_packages, ensure_pdflatex, formulas,
                             glyph_report, overflow_report, run_node, tex_errors)

pytestmark = pytest.mark.engines

CASES = [("blog", "scalar"), ("blog", "both"), ("softmax", "both"), ("deep", "scalar")]


def _korean(sample: str, fmt: str, form: str = "scalar") -> str:
    return bptrace.to_text(bptrace.run(sample), fmt, lang="ko", form=form)


@pytest.mark.parametrize("sample,form", CASES)
def test_korean_markdown_formulas_render_in_katex(sample, form):
    ensure_node_packages()
    text = _korean(sample, "md", form)
    assert "역전파" in text
    found = formulas(text)
    results = run_node("katex-render.mjs", [{"tex": tex, "display": display} for tex, display in found])
    errors = [f"{tex} -> {r.get('error') or r['warnings']}" for (tex, _), r in zip(found, results)
              if not r["ok"] or r["warnings"]]
    assert len(found) >= 20 and not errors, errors[:5]


@pytest.mark.parametrize("sample,form", CASES)
def test_korean_tex_compiles_with_kotex(sample, form, tmp_path):
    ensure_pdflatex()
    text = _korean(sample, "tex", form)
    assert r"\usepackage{kotex}" in text and "역전파" in text
    pdf = tmp_path / "ko.pdf"
    ok, log = compile_tex(text, pdf)
    assert ok, tex_errors(log)
    assert "Overfull \\hbox" not in log or form == "both"  # the matrix form's wide legends are checked on main


def test_english_tex_does_not_need_kotex():
    assert "kotex" not in bptrace.to_text(bptrace.run("blog"), "tex", lang="en")


def _page(tmp_path, name: str, text: str):
    page = tmp_path / name
    page.write_text(text, encoding="utf-8")
    return page


@pytest.mark.parametrize("sample,form", CASES)
def test_korean_html_fits_and_draws_hangul(sample, form, tmp_path):
    ensure_chromium()
    page = _page(tmp_path, "ko.html", _korean(sample, "html", form))
    assert not overflow_report(page)  # wide characters counted as two cells: a line of another width fails
    glyphs = glyph_report(page)
    assert glyphs["distinct"] == 4 and glyphs["tofu"] == 0, glyphs


def test_korean_svg_fits_and_draws_hangul(tmp_path):
    ensure_chromium()
    svg = _korean("blog", "svg")
    page = _page(tmp_path, "ko-svg.html", f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>{svg}</body></html>")
    assert not overflow_report(page)
    glyphs = glyph_report(page)
    assert glyphs["distinct"] == 4 and glyphs["tofu"] == 0, glyphs


def test_the_probe_catches_misaligned_hangul(tmp_path):
    """The check above can fail: without their two-cell boxes, Hangul drawn by a Korean font are not two
    Latin cells wide and the columns after them shift."""
    ensure_chromium()
    html = _korean("blog", "html").replace('<span class="w">', "<span>")
    problems = overflow_report(_page(tmp_path, "unboxed.html", html))
    assert any("narrower than two cells" in p["problem"] for p in problems)


def test_korean_walk_html_walks_in_korean(tmp_path):
    """walk.html in Korean: its script reads the position's words from the page (data-format), the page
    fits its frame, and Next walks."""
    ensure_chromium()
    pytest.importorskip("websocket")
    from walk_browser import Browser

    page = _page(tmp_path, "walk.html", _korean("blog", "walk"))
    text = page.read_text(encoding="utf-8")
    assert '<html lang="ko">' in text and "모든 단계" in text and "순전파" in text
    with Browser(1280) as browser:
        browser.open(page)
        assert browser.js('document.getElementById("position").textContent').endswith("중 1단계")
        browser.key("ArrowRight", 2)
        position = browser.js('document.getElementById("position").textContent')
        assert position.endswith("중 3단계") and not browser.errors
        assert not browser.overflow()
