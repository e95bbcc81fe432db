"""Every presentation proven in the engine that shows it: KaTeX renders every formula of the
Markdown exports, Mermaid parses every diagram, pdflatex compiles every .tex export, and headless
Chromium lays out the HTML exports and the notebook display without anything overflowing its frame.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

import bptrace
from bptrace import exports
from bptrace.cli import app
from engines_support import (artefact_dir, compile_tex, ensure_chromium, ensure_node_packages, ensure_pdflatex,
                             formulas, mermaid_blocks, overflow_report, run_node, screenshot, tex_errors)

pytestmark = pytest.mark.engines

SAMPLES = ["blog", "xor", "softmax", "deep", "adam", "dropout", "cnn", "rnn"]
NAMINGS = ["seed", "layered"]
COMMANDS = {"run": ["run"], "step": ["step", "--epochs", "3", "--show", "first,last"]}
DOCS = [(s, n, c) for s in SAMPLES for n in NAMINGS for c in COMMANDS]
# Exports whose loss chart once broke Mermaid: losses in scientific notation, forty epoch labels.
CHARTS = {"step-adam-50": ["step", "adam", "--epochs", "50"], "step-xor-5000": ["step", "xor", "--epochs", "5000"]}



def _export(runner, args: list[str], path: Path) -> str:
    result = runner.invoke(app, [*args, "--export", str(path), "--quiet"] if args[0] == "step"
                           else [*args, "--export", str(path)])
    assert result.exit_code == 0, result.output
    return path.read_text(encoding="utf-8")


def _doc_id(doc) -> str:
    return "-".join(doc)


@pytest.fixture(scope="session")
def markdown_docs(tmp_path_factory) -> dict[str, str]:
    from typer.testing import CliRunner

    runner, folder = CliRunner(), tmp_path_factory.mktemp("md")
    docs = {}
    for sample, naming, command in DOCS:
        args = [COMMANDS[command][0], sample, *COMMANDS[command][1:], "--naming", naming]
        docs[_doc_id((sample, naming, command))] = _export(runner, args, folder / f"{sample}-{naming}-{command}.md")
    for name, args in CHARTS.items():
        docs[name] = _export(runner, args, folder / f"{name}.md")
    return docs


@pytest.fixture(scope="session")
def katex_report(markdown_docs) -> dict[str, list[tuple[str, dict]]]:
    """Every formula of every document, rendered by KaTeX in one node process."""
    ensure_node_packages()
    items = [(doc, tex, display) for doc, text in markdown_docs.items() for tex, display in formulas(text)]
    results = run_node("katex-render.mjs", [{"tex": tex, "display": display} for _, tex, display in items])
    report: dict[str, list] = {doc: [] for doc in markdown_docs}
    for (doc, tex, _), result in zip(items, results):
        report[doc].append((tex, result))
    return report


@pytest.fixture(scope="session")
def mermaid_report(markdown_docs) -> dict[str, list[tuple[str, dict]]]:
    """Every ```mermaid block of every document, parsed by Mermaid in one node process."""
    ensure_node_packages()
    items = [(doc, block) for doc, text in markdown_docs.items() for block in mermaid_blocks(text)]
    results = run_node("mermaid-parse.mjs", [block for _, block in items])
    report: dict[str, list] = {doc: [] for doc in markdown_docs}
    for (doc, block), result in zip(items, results):
        report[doc].append((block, result))
    return report


# ------------------------------------------------------------------ KaTeX

def _katex_params() -> list:
    return [pytest.param(_doc_id(doc), id=_doc_id(doc)) for doc in DOCS]


@pytest.mark.parametrize("doc", _katex_params())
def test_katex_renders_every_formula(katex_report, doc):
    rendered = katex_report[doc]
    assert len(rendered) >= 20, f"{doc}: only {len(rendered)} formulas found"
    errors = [f"{tex}\n    -> {r.get('error') or r['warnings']}" for tex, r in rendered
              if not r["ok"] or r["warnings"]]  # strict-mode warnings (LaTeX-incompatible input) count too
    assert not errors, f"{doc}: KaTeX rejects {len(errors)} of {len(rendered)} formulas:\n" + "\n".join(errors[:10])


def test_katex_helper_reports_errors():
    ensure_node_packages()
    results = run_node("katex-render.mjs", [{"tex": r"\frac{1}{2}", "display": True},
                                             {"tex": r"x^{1}^{2}", "display": False}, {"tex": r"\frac{1}", "display": True}])
    assert [r["ok"] for r in results] == [True, False, False]
    assert "Double superscript" in results[1]["error"]
    warned = run_node("katex-render.mjs", [{"tex": "é", "display": False}])[0]
    assert warned["ok"] and "unicodeTextInMathMode" in warned["warnings"][0]


def test_formulas_finds_display_and_inline_math():
    text = "Some $a_{1}$ text.\n\n$$\nz = 1\n$$\n\n| p | q |\n|---|---|\n| $w_{2}$ | 3 |\n"
    assert formulas(text) == [("a_{1}", False), ("z = 1", True), ("w_{2}", False)]


# ------------------------------------------------------------------ Mermaid

@pytest.mark.parametrize("doc", [_doc_id(d) for d in DOCS] + list(CHARTS))
def test_mermaid_parses_every_diagram(mermaid_report, doc):
    parsed = mermaid_report[doc]
    assert parsed, f"{doc}: no mermaid block"
    errors = [f"{block}\n    -> {r['error']}" for block, r in parsed if not r["ok"]]
    assert not errors, f"{doc}: Mermaid rejects {len(errors)} of {len(parsed)} diagrams:\n" + "\n".join(errors[:3])


def test_mermaid_helper_reports_errors():
    ensure_node_packages()
    results = run_node("mermaid-parse.mjs", ["graph LR\n    a --> b", "xychart-beta\n    line [1, 2e-05]",
                                             "graph LR\n    a -->"])
    assert [r["ok"] for r in results] == [True, False, False]


@pytest.mark.parametrize("doc", list(CHARTS))
def test_loss_chart_has_plain_numbers_and_few_labels(markdown_docs, doc):
    chart = next(b for b in mermaid_blocks(markdown_docs[doc]) if b.startswith("xychart-beta"))
    axis = re.search(r'x-axis "epoch" (.*)', chart).group(1)
    epochs = int(CHARTS[doc][-1])
    # either a numeric range over every epoch (Mermaid draws about ten ticks) or at most 12 labels
    assert axis == f"1 --> {epochs}" or len(axis.strip("[]").split(",")) <= 12, chart
    values = re.search(r"line \[(.*)\]", chart).group(1).split(",")
    assert all(re.fullmatch(r"\d+(\.\d+)?", v.strip()) for v in values), chart
    assert 12 < len(values) <= 40


def test_loss_chart_scales_tiny_losses_and_says_so():
    from bptrace.exports.markdown import loss_chart

    losses = [7.66e-05 * 0.9 ** i for i in range(30)]
    chart = loss_chart(losses)
    assert 'y-axis "loss (×10⁻⁵)"' in chart
    first = float(re.search(r"line \[([^,]+),", chart).group(1))
    assert first == pytest.approx(7.66, rel=1e-3)  # 7.66e-05 shown as 7.66 on an axis of ×10⁻⁵
    ensure_node_packages()
    assert run_node("mermaid-parse.mjs", [chart.strip().removeprefix("```mermaid").removesuffix("```")]) == [{"ok": True}]


# ------------------------------------------------------------------ pdflatex

MINIMAL_TEX = r"""\documentclass{article}
\usepackage{amsmath}
\begin{document}
$$z_{1} = w_{1}x_{1} + w_{2}x_{2} = 0.3\times0.1 + 0.25\times0.2 = 0.08$$
\end{document}
"""


def test_compile_tex_compiles_a_tiny_document():
    ensure_pdflatex()
    ok, log = compile_tex(MINIMAL_TEX)
    assert ok, tex_errors(log)
    assert "Output written on doc.pdf" in log


def test_compile_tex_reports_a_broken_document():
    ensure_pdflatex()
    ok, log = compile_tex(MINIMAL_TEX.replace("0.08$$", r"W^{(1)}_{11}^{+}$$"))
    assert not ok
    assert "Double superscript" in tex_errors(log)
    ok, log = compile_tex(MINIMAL_TEX.replace(r"\end{document}", ""))
    assert not ok


@pytest.mark.parametrize("sample", SAMPLES)
def test_tex_export_compiles(runner, tmp_path, sample):
    if "tex" not in exports.FORMATS:
        pytest.skip("the .tex export is not registered yet (bptrace.exports.FORMATS lacks 'tex')")
    ensure_pdflatex()
    text = _export(runner, ["run", sample], tmp_path / f"{sample}.tex")
    ok, log = compile_tex(text)
    assert ok, f"{sample}.tex does not compile:\n{tex_errors(log)}"


# ------------------------------------------------------------------ headless Chromium

def _assert_fits(page: Path, name: str, width: int = 1280) -> None:
    problems = overflow_report(page, width)
    if problems:
        keep = artefact_dir() / name
        keep.mkdir(exist_ok=True)
        shutil.copy(page, keep / page.name)
        png = screenshot(page, keep / f"{name}.png", width)
        details = "\n".join(str(p) for p in problems[:8])
        pytest.fail(f"{name}: {len(problems)} element(s) overflow their frame; screenshot: {png}\n{details}")


@pytest.mark.parametrize("args", [["run"], ["run", "deep", "--naming", "layered"], ["run", "dropout"], ["run", "cnn"],
                                  ["run", "rnn", "--naming", "layered"],
                                  ["step", "xor", "--epochs", "2000"],
                                  ["step", "xor", "--epochs", "5000", "--log-y"]], ids="-".join)
def test_html_export_fits_its_frame(runner, tmp_path, args):
    ensure_chromium()
    page = tmp_path / "export.html"
    _export(runner, args, page)
    _assert_fits(page, "html-" + "-".join(args))


def test_overflow_probe_finds_what_overflows(tmp_path):
    ensure_chromium()
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><div id='narrow' style='width:100px;white-space:nowrap'>"
                    + "wide text " * 30 + "</div><svg width='100' height='50' viewBox='0 0 100 50'>"
                    "<circle id='out' cx='300' cy='25' r='10'/></svg></body></html>", encoding="utf-8")
    problems = {(p["element"], p["problem"]) for p in overflow_report(page)}
    assert ("div#narrow", "content wider than its box") in problems
    assert ("circle#out", "outside its SVG frame") in problems


def test_python_api_html_of_a_run_fits_its_frame(tmp_path):
    ensure_chromium()
    page = tmp_path / "api.html"
    bptrace.export(bptrace.train("xor", epochs=2000), page)
    assert "<svg" in page.read_text(encoding="utf-8")
    _assert_fits(page, "api-step-xor-2000")


def _notebook_page(fragment: str) -> str:
    """A minimal page standing in for a notebook's output cell (about 900 px wide)."""
    return ("<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>cell</title></head>"
            "<body style='margin:0'><div class='output_area' style='width:900px;overflow-x:auto'>"
            f"{fragment}</div></body></html>")


@pytest.mark.parametrize("make", ["trace", "training"])
def test_notebook_display_fits_its_frame(tmp_path, make):
    ensure_chromium()
    shown = bptrace.run() if make == "trace" else bptrace.train("xor", epochs=2000)
    fragment = shown._repr_html_()
    assert not re.search(r"<(html|body|head)\b", fragment, re.I), "a notebook cell takes a fragment, not a page"
    style = re.search(r"<style>(.*?)</style>", fragment, re.S).group(1)
    assert all(rule.strip().startswith(".bptrace") for rule in re.findall(r"([^{}]+)\{", style)), style
    page = tmp_path / f"notebook-{make}.html"
    page.write_text(_notebook_page(fragment), encoding="utf-8")
    _assert_fits(page, f"notebook-{make}", width=1000)


# ------------------------------------------------------------------ the SVG loss chart itself

def _chart_geometry(svg: str):
    import xml.etree.ElementTree as ET

    ns = {"s": "http://www.w3.org/2000/svg"}
    root = ET.fromstring(svg)
    frame = root.find("s:rect", ns).attrib
    x0, y0 = float(frame["x"]), float(frame["y"])
    x1, y1 = x0 + float(frame["width"]), y0 + float(frame["height"])
    points = [tuple(map(float, p.split(","))) for p in root.find("s:polyline", ns).attrib["points"].split()]
    return (x0, y0, x1, y1), points, [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]


def test_svg_chart_maps_points_into_its_frame():
    from bptrace.render.svgplot import line_chart, nice_ticks

    assert nice_ticks(0, 0.164) == [0, 0.05, 0.1, 0.15]
    assert nice_ticks(1, 5000) == [1000, 2000, 3000, 4000, 5000]
    xs, ys = [1, 2, 3, 4, 5], [0.2, 0.1, 0.05, 0.01, 0.0]
    (x0, y0, x1, y1), points, labels = _chart_geometry(line_chart(xs, ys, "t", "epoch", "loss"))
    assert len(points) == 5 and all(x0 <= x <= x1 and y0 <= y <= y1 for x, y in points)
    assert points[0][0] == pytest.approx(x0, abs=0.1) and points[-1][0] == pytest.approx(x1, abs=0.1)
    assert points[-1][1] == pytest.approx(y1, abs=0.1)  # loss 0 on the bottom edge (linear axis from 0)
    assert points[0][1] == pytest.approx(y0, abs=0.1)  # the largest loss on the top edge
    # halfway in value is halfway in height: 0.1 of 0.2
    assert points[1][1] == pytest.approx((y0 + y1) / 2, abs=0.1)
    assert {"t", "epoch", "loss"} <= set(labels)


def test_svg_chart_log_scale():
    from bptrace.render.svgplot import line_chart

    (x0, y0, x1, y1), points, labels = _chart_geometry(line_chart([1, 2, 3], [1e-1, 1e-3, 0.0], log_y=True))
    assert len(points) == 2  # a zero has no logarithm: left out
    # the axis runs 10⁻³ .. 10⁻¹: one decade each side of 10⁻², so 1e-1 on top and 1e-3 at the bottom
    assert points[0][1] == pytest.approx(y0, abs=0.1) and points[1][1] == pytest.approx(y1, abs=0.1)
    assert "10⁻³" in labels and "10⁻¹" in labels


def test_a_missing_engine_skips_on_a_developer_machine_and_fails_in_ci(monkeypatch):
    from engines_support import unavailable

    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no such engine"):
        unavailable("no such engine")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no such engine.*CI is set"):
        unavailable("no such engine")
