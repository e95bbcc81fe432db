"""walk.html in the matrix form (`--form matrix|both`): the matrix equations as steps of the walk.

z⁽¹⁾ = W⁽¹⁾ h⁽⁰⁾ is worked out by hand below from the worked example's weights and inputs (w1…w4,
i1, i2); the other numbers are the post's (conftest.PUBLISHED).
"""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree

import pytest

import bptrace
from bptrace.cli import app
from conftest import PUBLISHED, SAMPLES, numbers_in
from test_walk_html import EVERY_STEP_FITS, _export, _highlighted, _open, browser  # noqa: F401 (a fixture)

# the worked example: i1 = 0.05, i2 = 0.10 … written here as the bptrace sample gives them to the first layer
W1 = [[0.3, 0.25], [0.4, 0.35]]
X = [0.1, 0.2]
Z1 = [W1[0][0] * X[0] + W1[0][1] * X[1], W1[1][0] * X[0] + W1[1][1] * X[1]]  # 0.08, 0.11
Z1_KEY = "matrix z⁽¹⁾"


def _section(page: str, key: str) -> str:
    start = page.index(f'data-key="{key}"')
    return page[start:page.index("</section>", start)]


def _math_text(fragment: str) -> str:
    return " ".join(" ".join(ElementTree.fromstring(m).itertext()) for m in re.findall(r"<math>.*?</math>", fragment))


def test_z1_in_matrix_form_has_the_posts_numbers(runner, tmp_path):
    page = _export(runner, tmp_path, "run", str(SAMPLES / "blog.toml"), "--form", "matrix").read_text(encoding="utf-8")
    z1 = _section(page, Z1_KEY)
    eq = z1[z1.index('<p class="eq mx">'):z1.index("</p>")]
    found = numbers_in(_math_text(eq))
    assert Z1 == pytest.approx([0.08, 0.11]) and [PUBLISHED["z1"], PUBLISHED["z2"]] == pytest.approx(Z1)
    assert found[-2:] == pytest.approx(Z1, abs=5e-9)  # the result, last
    assert found[:6] == pytest.approx([*W1[0], *W1[1], *X])  # W⁽¹⁾ and h⁽⁰⁾ written out
    small = z1[z1.index('class="shapes"'):]
    assert "shapes:" in small and "entries:" in small and "<small>" in small
    assert set(re.search(r'data-deps="([^"]*)"', z1).group(1).split("|")) >= {"w1", "w2", "w3", "w4", "z1", "z2"}
    # the scalar forward steps are left out in the matrix form; the errors and the check stay
    keys = re.findall(r'<section class="step[^"]*" id="it0s\d+" data-key="([^"]*)"', page)
    assert "z1" not in keys and "delta_o1" not in keys and {"E_total", "E_total+"} <= set(keys)


@pytest.mark.parametrize("form", ["matrix", "both"])
def test_every_mathml_piece_parses_and_the_policy_still_holds(tmp_path, form):
    page = bptrace.to_text(bptrace.run("blog"), "walk", form=form)
    pieces = re.findall(r"<math>.*?</math>", page)
    assert len(pieces) > 200
    for m in pieces:
        ElementTree.fromstring(m)
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert csp.startswith("default-src 'none';") and "unsafe" not in csp
    assert not re.search(r"<(link|img|iframe|object|embed)\b|\bsrc=|url\(|@import", page)


def test_both_puts_each_matrix_step_after_the_scalar_steps_it_sums_up():
    page = bptrace.to_text(bptrace.run("blog"), "walk", form="both")
    keys = re.findall(r'<section class="step[^"]*" id="it0s\d+" data-key="([^"]*)"', page)
    for before, matrix in [("z2", Z1_KEY), ("delta_o2", "matrix δ⁽²⁾"), ("dE_total/dw8", "matrix ∂E/∂W⁽²⁾"),
                           ("w8+", "matrix W⁽²⁾⁺")]:
        assert keys.index(matrix) == keys.index(before) + 1, matrix
    assert {"z1", "delta_o1", "w1+", "E_total+"} <= set(keys)


def test_scalar_is_the_default_and_unchanged():
    """--form scalar is the page without the matrix form: the same bytes as no form at all, no matrix step."""
    trace = bptrace.run("blog")
    scalar = bptrace.to_text(trace, "walk")
    assert bptrace.to_text(trace, "walk", form="scalar") == scalar
    assert "matrix" not in scalar and "shapes:" not in scalar


def test_a_training_run_walks_in_the_matrix_form_too(runner, tmp_path):
    page = _export(runner, tmp_path, "step", str(SAMPLES / "blog.toml"), "--epochs", "2", "--show", "1,2",
                   "--form", "both", name="run.walk.html").read_text(encoding="utf-8")
    sections = re.findall(r'<section class="step[^"]*" id="it(\d)s\d+" data-key="([^"]*)"', page)
    assert sections.count(("0", Z1_KEY)) == sections.count(("1", Z1_KEY)) == 1
    assert ("0", "z1") in sections and ("1", "w8+") in sections


def test_a_batch_names_each_samples_matrices():
    result = bptrace.train("xor", epochs=1, batch="full", show=[1])
    page = bptrace.to_text(result, "walk", form="matrix")
    keys = re.findall(r'<section class="step[^"]*" id="it0s\d+" data-key="([^"]*)"', page)
    assert {f"{Z1_KEY}@{s}" for s in range(1, 5)} <= set(keys) and len(keys) == len(set(keys))
    z1_at_3 = _section(page, f"{Z1_KEY}@3")
    assert "z1@3" in z1_at_3 and "z1@2" not in re.search(r'data-deps="([^"]*)"', z1_at_3).group(1)


# ------------------------------------------------------------------ in headless Chromium

@pytest.mark.engines
def test_the_keyboard_walks_to_the_matrix_steps_and_the_layer_lights_up(browser, runner, tmp_path):
    page = _export(runner, tmp_path, "run", str(SAMPLES / "blog.toml"), "--form", "both")
    _open(browser, page)
    current = lambda: browser.js('document.querySelector(".iter:not([hidden]) .step.current").dataset.key')
    for _ in range(5):
        if current() == Z1_KEY:
            break
        browser.key("ArrowRight")
    assert current() == Z1_KEY
    text = browser.js('[...document.querySelectorAll(".step.current .eq mn")].map(m => m.textContent).join(" ")')
    assert numbers_in(text)[-2:] == pytest.approx(Z1, abs=5e-9)
    assert {"z1", "z2", "x1", "x2"} <= _highlighted(browser, ".net .node.dep")
    assert {"w1", "w2", "w3", "w4"} <= _highlighted(browser, ".net .edge.dep")
    assert browser.js('[...document.querySelectorAll(".step.current .eq math")].every(m => m.getBoundingClientRect().width > 0)')
    browser.key("End")  # the update in matrix form on the way shows the diagram after the update
    assert browser.errors == [] and set(browser.requests) <= {page.as_uri()}




@pytest.mark.engines
@pytest.mark.parametrize("width", [375, 1280])
@pytest.mark.parametrize("args", [("run", "blog"), ("run", "softmax"),
                                  ("step", "xor", "--epochs", "1", "--batch", "full", "--show", "1")],
                         ids=["blog", "softmax", "xor-batch"])
def test_nothing_overflows_with_both_forms(browser, runner, tmp_path, args, width):
    page = _export(runner, tmp_path, *args, "--form", "both")
    _open(browser, page, width)
    count, bad = browser.js(EVERY_STEP_FITS)
    assert count > 20 and bad == [], f"{bad} pass the page's edge at {width} px"
    n = browser.js('document.querySelectorAll(".iter:not([hidden]) .step").length')
    browser.key("Home")
    for presses in range(0, n, 7):  # every 7th step, walking on from the last (Home + k presses each: O(n²))
        assert browser.overflow() == [], f"overflow at {width} px after {presses} presses"
        browser.key("ArrowRight", 7)
    assert browser.errors == [] and set(browser.requests) <= {page.as_uri()}
