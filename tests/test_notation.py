"""One expression model: names from identities, numbers lines from trees, the same number rules everywhere."""

import re

import pytest
from rich.console import Console

import bptrace
from bptrace import spec, tracer
from bptrace.cli import app
from bptrace.expr import Op, Ref, render
from bptrace.fmt import num
from bptrace.render.tables import render_trace
from conftest import BLOG, PUBLISHED

SAMPLES = ["blog", "xor", "softmax", "deep", "adam"]


@pytest.fixture(scope="module")
def blog():
    return tracer.run(spec.from_dict(BLOG))


@pytest.mark.parametrize("spelling", ["dE_total/dw5", "∂E_total/∂w5", " ∂E_total/∂w5 "])
def test_value_accepts_every_spelling_check_accepts(blog, spelling):
    assert round(blog.value(spelling), 8) == PUBLISHED["dE_total/dw5"]


@pytest.mark.parametrize("spelling", ["w5+", "w5⁺", "w5^+", "w5^{+}"])
def test_value_after_the_update(blog, spelling):
    assert round(blog.value(spelling), 8) == PUBLISHED["w5+"]


def test_value_delta_in_greek(blog):
    # delta_o1 = dE_total/do1 · do1/dz3, the post's definition, from the published factors
    assert blog.value("δ_o1") == pytest.approx(PUBLISHED["dE_total/do1"] * PUBLISHED["do1/dz3"], abs=1e-8)


def test_value_unknown_name_raises(blog):
    with pytest.raises(KeyError):
        blog.value("w99")


class _Q:
    def __init__(self, v, given=False):
        self.value, self.given, self.ident = v, given, None


def test_negative_bracketed_once_and_only_inside():
    z = _Q(-0.2)
    assert render(Op("fn", "tanh", Ref(z)), "unicode", None, True) == "tanh(−0.20000000)"
    assert render(Op("add", Ref(_Q(0.3, True)), Ref(z)), "unicode", None, True) == "0.3 + (−0.20000000)"
    assert render(Ref(z), "unicode", None, True) == "−0.20000000"  # a result: never bracketed
    assert render(Op("add", Ref(_Q(0.3, True)), Ref(z)), "ascii", None, True) == "0.3 + (-0.20000000)"


def test_number_rules():
    assert num(0.25, 1, given=True) == "0.25"  # given values are never rounded by --precision
    assert num(0.3, 0, given=True) == "0.3"
    assert num(1.15, 8) == "1.15000000"  # computed values always at --precision
    assert num(1.2e-9, 2, style="unicode") == "1.2×10⁻⁹"
    assert num(1.2e-9, 2, style="latex") == r"1.2\times10^{-9}"
    assert num(-1e-12, 8) == "-1.0000000e-12"
    assert num(-0.0, 8) == "0.00000000"


def test_precision_does_not_round_given_values(runner):
    for p in ("0", "1"):
        out = runner.invoke(app, ["run", "--precision", p]).output
        assert "0.3×0.1 + 0.25×0.2" in out


def test_latex_of_updated_layered_weight_has_one_superscript(tmp_path, runner):
    path = tmp_path / "deep.md"
    assert runner.invoke(app, ["run", "deep", "--naming", "layered", "--export", str(path)]).exit_code == 0
    text = path.read_text()
    assert r"W^{(1)+}_{11}" in text
    # a double superscript: a group's superscript, its subscript, and then another superscript
    assert not re.search(r"\^\{[^{}]*\}_\{[^{}]*\}\^", text)


@pytest.mark.parametrize("name", SAMPLES)
@pytest.mark.parametrize("width", [60, 80, 120])
def test_no_number_is_cut(name, width):
    console = Console(width=width, record=True, color_system=None, force_terminal=False)
    trace = bptrace.run(name)
    console.print(render_trace(trace))
    text = console.export_text()
    assert "…" not in text.replace(" … ", " ")  # the network summary's ranges (w1 … w4) are not cuts
    assert max(map(len, text.splitlines())) <= width
    # nor cropped: every value of the iteration stands whole on some line
    words = set(text.split())
    it = trace.iterations[0]
    for _, label, q in it.walk():
        value = q.new if hasattr(q, "new") else q.value
        assert num(value, 8, False, "unicode") in words or num(value, 8, True, "unicode") in words, (label, value)


@pytest.mark.parametrize("naming", ["seed", "layered"])
@pytest.mark.parametrize("sample", SAMPLES)
def test_ascii_names_are_rendered_from_identity(sample, naming):
    """The trace's ASCII keys (answers files, JSON) are exactly what the identity renders to."""
    from bptrace.notation import name

    it = bptrace.run(sample, naming=naming).iterations[0]
    for group, key, q in it.walk():
        shown = name(q.ident, it.names) + ("+" if group == "update" else "")
        assert shown == key, (group, key)
