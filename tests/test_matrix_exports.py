"""The matrix form in the exports (--form matrix|both): Markdown and LaTeX write every matrix as a bmatrix
of the trace's numbers, elided beyond 6 rows or columns; JSON holds every matrix in full, valid against
the schema, each entry named after the scalar it is. Engines (marked): KaTeX renders every formula,
pdflatex compiles, headless Chromium lays out the HTML without overflow."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest

import bptrace
from bptrace.exports import json_
from conftest import PUBLISHED, numbers_in
from engines_support import (compile_tex, ensure_chromium, ensure_node_packages, ensure_pdflatex, formulas,
                             overflow_report, run_node, tex_errors)

VALIDATOR = jsonschema.Draft202012Validator(json.loads(json_.schema_text()))

WIDE = {  # 8 inputs, 7 hidden units: W⁽¹⁾ is 7×8, written elided
    "title": "wide", "learning_rate": 0.1, "seed": 3,
    "samples": [{"x": [0.1 * k for k in range(8)], "target": [1.0]}],
    "layers": [{"activation": "tanh", "units": 7, "weights": "xavier", "bias": "zeros"},
               {"activation": "sigmoid", "units": 1, "weights": "xavier"}],
}
SHARED = {
    "title": "shared biases", "learning_rate": 0.5,
    "samples": [{"x": [0.05, 0.10], "target": [0.01, 0.99]}, {"x": [0.2, -0.3], "target": [0.5, 0.1]}],
    "layers": [{"activation": "sigmoid", "weights": [[0.15, 0.20], [0.25, 0.30]], "bias": 0.35},
               {"activation": "sigmoid", "weights": [[0.40, 0.45], [0.50, 0.55]], "bias": 0.60}],
}


def _batch(source, batch="full"):
    """A one-epoch training run whose first update (a batch) is traced."""
    return bptrace.train(source, epochs=1, batch=batch, show=[1])


def documents(fmt: str) -> dict[str, str]:
    return {
        "blog-both": bptrace.to_text(bptrace.run("blog"), fmt, form="both"),
        "blog-matrix": bptrace.to_text(bptrace.run("blog"), fmt, form="matrix"),
        "softmax-matrix": bptrace.to_text(bptrace.run("softmax"), fmt, form="matrix"),
        "xor-full-both": bptrace.to_text(_batch("xor"), fmt, form="both"),
        "shared-full-both": bptrace.to_text(_batch(SHARED), fmt, form="both"),
        "adam-both": bptrace.to_text(bptrace.run("adam"), fmt, form="both"),
        "wide-matrix": bptrace.to_text(bptrace.run(WIDE), fmt, form="matrix"),
    }


def test_markdown_both_shows_every_published_number():
    md = bptrace.to_text(bptrace.run("blog"), "md", form="both")
    printed = {round(v, 8) for v in numbers_in(md)}
    missing = {n: v for n, v in PUBLISHED.items() if round(v, 8) not in printed}
    assert not missing


def test_markdown_matrix_writes_the_worked_example_as_bmatrices():
    md = bptrace.to_text(bptrace.run("blog"), "md", form="matrix")
    # z⁽¹⁾ = W⁽¹⁾ x with the post's numbers: W = [[0.3, 0.25], [0.4, 0.35]], x = (0.1, 0.2), z = (0.08, 0.11)
    assert (r"\begin{bmatrix}0.08000000 \\ 0.11000000\end{bmatrix} = \begin{bmatrix}0.3 & 0.25 \\ 0.4 & 0.35"
            r"\end{bmatrix} \, \begin{bmatrix}0.1 \\ 0.2\end{bmatrix}") in md
    assert r"shapes: $[2{\times}2] \cdot [2{\times}1] = [2{\times}1]$" in md
    assert "Forward pass\n" not in md.replace("Forward pass, matrix", "")  # matrix alone: no scalar tables
    both = bptrace.to_text(bptrace.run("blog"), "md", form="both")
    assert both.index("## Forward pass\n") < both.index("## Forward pass, matrix form")
    assert r"\left(\delta^{(2)}\right)_{1} = \delta_{o_{1}}" in both  # the legend names δ⁽²⁾₁ as δ_o1


def test_scalar_form_is_unchanged():
    t = bptrace.run("blog")
    assert bptrace.to_text(t, "md") == bptrace.to_text(t, "md", form="scalar")
    assert "bmatrix" not in bptrace.to_text(t, "md") and "matrix_form" not in bptrace.to_text(t, "json")


@pytest.mark.parametrize("fmt", ["md", "tex"])
def test_large_matrices_are_elided_in_the_middle(fmt):
    text = bptrace.to_text(bptrace.run(WIDE), fmt, form="matrix")
    assert r"[7{\times}8]" in text  # the shape line keeps the full shape
    assert r"\vdots" in text and r"\cdots" in text and r"\ddots" in text
    bodies = re.findall(r"\\begin\{bmatrix\}(.*?)\\end\{bmatrix\}", text)
    widest = max(row.count("&") for body in bodies for row in body.split(r" \\ "))
    assert widest == 5  # 6 columns shown: 3, ⋯, 2


def test_batch_reduction_is_written_as_the_mean():
    md = bptrace.to_text(_batch("xor"), "md", form="both")
    assert r"\frac{1}{4}\left(" in md and "B = 4" in md


@pytest.mark.parametrize("name", ["blog", "softmax", "adam"])
def test_json_matrices_hold_the_trace_values(name):
    trace = bptrace.run(name)
    doc = json.loads(bptrace.to_text(trace, "json", form="both"))
    VALIDATOR.validate(doc)
    it = trace.iterations[0]
    given = {q.name: q.value for q in it.passes[0].forward.inputs}  # inputs and weights are not in the walk
    for layer in it.passes[0].forward.layers:
        for n in layer:
            given.update({t.weight.name: t.weight.value for t in n.terms})
            given.update({n.bias.name: n.bias.value} if n.bias is not None else {})
    checked = 0
    for section in doc["iterations"][0]["matrix_form"]:
        for eq in section["equations"]:
            for m in (*eq["operands"], eq["result"]):
                assert [len(m["values"]), len(m["values"][0])] == m["shape"]
                for row_v, row_n in zip(m["values"], m["entries"]):
                    for v, n in zip(row_v, row_n):
                        if n is not None:
                            assert v == (given[n] if n in given else it.value(n)), (section["title"], n)
                            checked += 1
    assert checked > 40


def test_json_of_a_batch_run_is_valid_and_full_size():
    doc = json.loads(bptrace.to_text(_batch("xor"), "json", form="matrix"))
    VALIDATOR.validate(doc)
    kinds = [s["kind"] for s in doc["iterations"][0]["matrix_form"]]
    assert kinds.count("forward") == 4 and "batch" in kinds
    wide = json.loads(bptrace.to_text(bptrace.run(WIDE), "json", form="matrix"))
    W1 = wide["iterations"][0]["matrix_form"][0]["equations"][0]["operands"][0]
    assert W1["shape"] == [7, 8] and len(W1["values"]) == 7  # data in full; only the display elides


# ------------------------------------------------------------------ engines


@pytest.mark.engines
def test_katex_renders_every_matrix_formula():
    ensure_node_packages()
    items = [(doc, tex, display) for doc, text in documents("md").items() for tex, display in formulas(text)]
    report = run_node("katex-render.mjs", [{"tex": tex, "display": display} for _, tex, display in items])
    bad = [f"{doc}: {tex[:120]} -> {r.get('error') or r['warnings']}" for (doc, tex, _), r in zip(items, report)
           if not r["ok"] or r["warnings"]]
    matrices = sum("bmatrix" in tex for _, tex, _ in items)
    assert matrices > 100
    assert not bad, "\n".join(bad[:10])


@pytest.mark.engines
@pytest.mark.parametrize("name", ["blog-both", "softmax-matrix", "xor-full-both", "shared-full-both", "adam-both",
                                  "wide-matrix"])
def test_tex_with_matrices_compiles(name):
    ensure_pdflatex()
    ok, log = compile_tex(documents("tex")[name])
    assert ok, f"{name}.tex does not compile:\n{tex_errors(log)}"
    overfull = [float(pt) for pt in re.findall(r"Overfull \\hbox \((\d+\.\d+)pt", log)]
    assert max(overfull, default=0) < 20, f"{name}: a row runs {max(overfull)}pt off the page"  # long rows are broken


@pytest.mark.engines
@pytest.mark.parametrize("form", ["matrix", "both"])
def test_html_with_matrices_fits_its_frame(tmp_path, form):
    ensure_chromium()
    page = tmp_path / f"blog-{form}.html"
    page.write_text(bptrace.to_text(bptrace.run("blog"), "html", form=form), encoding="utf-8")
    assert "⎡" in page.read_text(encoding="utf-8")
    assert not overflow_report(page, 1280)


def test_jsonl_of_a_trace_carries_the_matrix_form():
    lines = [json.loads(line) for line in bptrace.to_text(bptrace.run("blog"), "jsonl", form="matrix").splitlines()]
    record = lines[1]
    VALIDATOR.validate(record)
    assert [s["kind"] for s in record["matrix_form"]][:3] == ["forward", "backward", "backward"]
    z1 = record["matrix_form"][0]["equations"][0]["result"]
    assert z1["values"] == [[pytest.approx(0.08, abs=1e-15)], [pytest.approx(0.11, abs=1e-15)]]  # the post's z1, z2


def test_step_streams_the_matrix_form_into_its_jsonl(runner, tmp_path):
    from bptrace.cli import app

    out = tmp_path / "run.jsonl"
    result = runner.invoke(app, ["step", "blog", "--epochs", "2", "--form", "both", "--export", str(out), "-q"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()][1:-1]
    assert len(records) == 2
    for r in records:
        VALIDATOR.validate(r)
    z = [r["matrix_form"][0]["equations"][0]["result"]["values"] for r in records]
    assert z[0] == [[pytest.approx(0.08, abs=1e-15)], [pytest.approx(0.11, abs=1e-15)]]  # the post's z1, z2
    # the second update starts from the post's w1⁺ … w4⁺: z⁽¹⁾ = W⁽¹⁾⁺ x with x = (0.1, 0.2)
    w = [[PUBLISHED["w1+"], PUBLISHED["w2+"]], [PUBLISHED["w3+"], PUBLISHED["w4+"]]]
    expected = [row[0] * 0.1 + row[1] * 0.2 for row in w]
    assert [v[0] for v in z[1]] == [pytest.approx(e, abs=1e-8) for e in expected]


@pytest.mark.parametrize("fmt", ["md", "tex"])
def test_both_puts_each_matrix_step_after_its_scalar_step(fmt):
    text = bptrace.to_text(bptrace.run("blog"), fmt, form="both")
    order = ["Forward pass", "Forward pass, matrix form", "Errors", "output layer", "Backward step 1, matrix form",
             "hidden layer 1", "Backward step 2, matrix form", "Updates", "Updates, matrix form", "Check"]
    at = [text.index(t) for t in order]
    assert at == sorted(at), [t for t, a in zip(order, at)]


@pytest.mark.engines
@pytest.mark.parametrize("name", ["deep", "softmax"])
def test_tex_entry_legends_break_within_the_page(name):
    # the legend is set \sloppy; its \par must come inside that group, or the paragraph is broken with
    # the document's strict tolerance and ran up to 10.8pt into the margin (deep: 7 lines, softmax: 1)
    ensure_pdflatex()
    ok, log = compile_tex(bptrace.to_text(bptrace.run(name), "tex", form="both"))
    assert ok, tex_errors(log)
    assert "Overfull \\hbox" not in log
