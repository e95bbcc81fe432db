"""`--export walk.html`: the page that steps through a trace, checked as a file and in headless Chromium.

Expected numbers are the worked example's published ones (conftest.PUBLISHED); the chain of w1 is
written out by hand from the worked example's derivation, not read from bptrace.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

from bptrace import exports
from bptrace.cli import app
from conftest import PUBLISHED, SAMPLES, numbers_in
from engines_support import artefact_dir, ensure_chromium

# ∂E_total/∂w1 = ∂E_total/∂h1 · ∂h1/∂z1 · ∂z1/∂w1, where ∂E_total/∂h1 = ∂E_o1/∂h1 + ∂E_o2/∂h1 and
# ∂E_ok/∂h1 = δ_ok · w (δ_ok = ∂E_total/∂ok · ∂ok/∂z): the output deltas first, then the hidden terms.
W1_CHAIN = ["dE_total/do1", "do1/dz3", "delta_o1", "dE_total/do2", "do2/dz4", "delta_o2",
            "dE_o1/dh1", "dE_o2/dh1", "dE_total/dh1", "dh1/dz1", "dz1/dw1", "dE_total/dw1", "w1+"]


def _export(runner, tmp_path: Path, *args: str, name: str = "walk.html") -> Path:
    out = tmp_path / name
    result = runner.invoke(app, [*args, "--export", str(out)] + (["--quiet"] if args[0] == "step" else []))
    assert result.exit_code == 0, result.output
    return out


# ------------------------------------------------------------------ the file

@pytest.mark.parametrize("path, fmt", [("walk.html", "walk"), ("notes/Walk.HTML", "walk"), ("blog.walk.html", "walk"),
                                       ("blog.html", "html"), ("sidewalk.html", "html"), ("walk.htm", "html")])
def test_the_file_name_chooses_the_walk(path, fmt):
    assert exports.detect(path) == fmt


def test_format_walk_works_with_any_name(runner, tmp_path):
    out = tmp_path / "page.html"
    result = runner.invoke(app, ["run", str(SAMPLES / "blog.toml"), "--export", str(out), "--format", "walk"])
    assert result.exit_code == 0, result.output
    assert 'id="next"' in out.read_text(encoding="utf-8")


def test_the_library_writes_the_walk_too(tmp_path):
    import bptrace

    trace = bptrace.run("blog")
    bptrace.export(trace, tmp_path / "walk.html")
    page = (tmp_path / "walk.html").read_text(encoding="utf-8")
    assert page == bptrace.to_text(trace, "walk") and page.startswith("<!DOCTYPE html>")


def test_the_page_is_one_file_that_forbids_every_request(runner, tmp_path):
    page = _export(runner, tmp_path, "run", str(SAMPLES / "blog.toml")).read_text(encoding="utf-8")
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert csp.startswith("default-src 'none';") and "unsafe" not in csp
    assert not re.search(r"<(link|img|iframe|object|embed)\b|\bsrc=|url\(|@import", page)
    # the only URLs are XML namespaces, which are names, not requests
    assert set(re.findall(r"https?://[^\s\"']+", page)) <= {"http://www.w3.org/1998/Math/MathML",
                                                            "http://www.w3.org/2000/svg"}


def test_every_string_from_the_spec_is_escaped(runner, tmp_path):
    spec = tmp_path / "evil.toml"
    spec.write_text((SAMPLES / "blog.toml").read_text(encoding="utf-8").replace(
        'title = "', 'title = "<script>alert(1)</script> & \\" ', 1), encoding="utf-8")
    page = _export(runner, tmp_path, "run", str(spec)).read_text(encoding="utf-8")
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;" in page


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
def test_steps_come_after_what_they_read(runner, tmp_path):
    """Textbook order: every step's inputs that are steps themselves come earlier."""
    page = _export(runner, tmp_path, "run", str(SAMPLES / "deep.toml")).read_text(encoding="utf-8")
    sections = re.findall(r'<section class="step(?: first)?" id="it0s\d+" data-key="([^"]*)" data-deps="([^"]*)"', page)
    seen = set()
    keys = {k for k, _ in sections}
    for k, deps in sections:
        assert not [d for d in deps.split("|") if d in keys and d not in seen and d != k], k
        seen.add(k)
    assert len(sections) > 100


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
def test_sizes(runner, tmp_path):
    """The page stays small enough to mail: the numbers are in the README."""
    blog = _export(runner, tmp_path, "run", str(SAMPLES / "blog.toml"), name="blog.walk.html").stat().st_size
    deep = _export(runner, tmp_path, "run", str(SAMPLES / "deep.toml"), name="deep.walk.html").stat().st_size
    print(f"walk.html: worked example {blog // 1024} KB, deep {deep // 1024} KB")
    assert blog < 250 * 1024 and deep < 1200 * 1024


# ------------------------------------------------------------------ in headless Chromium

@pytest.fixture(scope="module")
def browser():
    ensure_chromium()
    pytest.importorskip("websocket")
    from walk_browser import Browser

    with Browser(1280) as b:
        yield b


@pytest.fixture(scope="module")
def blog_page(tmp_path_factory):
    from typer.testing import CliRunner

    return _export(CliRunner(), tmp_path_factory.mktemp("walk"), "run", str(SAMPLES / "blog.toml"))


def _open(b, page: Path, width: int = 1280) -> None:
    b.resize(width)
    b.requests.clear()
    b.errors.clear()
    b.open(page)


def _current(b) -> tuple[str, float]:
    """The shown step's key and the last number of its equation (the result)."""
    key = b.js('document.querySelector(".iter:not([hidden]) .step.current").dataset.key')
    text = b.js('[...document.querySelectorAll(".iter:not([hidden]) .step.current .eq math")].map(m => m.textContent).join(" ")')
    found = numbers_in(text)
    return key, found[-1] if found else None


def _choose(b, select: str, value: str) -> None:
    b.js(f'{{ const s = document.getElementById("{select}"); s.value = "{value}"; '
         's.dispatchEvent(new Event("change")); }')


def _highlighted(b, selector: str) -> set[str]:
    keys = b.js(f'[...document.querySelectorAll("{selector}")].map(e => e.dataset.keys || e.dataset.key)')
    return {k for ks in keys for k in ks.split("|")}


@pytest.mark.engines
def test_the_first_step_is_z1(browser, blog_page):
    _open(browser, blog_page)
    key, value = _current(browser)
    assert key == "z1" and value == pytest.approx(PUBLISHED["z1"], abs=5e-9)
    assert browser.js('document.getElementById("prev").disabled') is True


@pytest.mark.engines
def test_arrow_keys_walk_to_dE_total_dw5_with_its_inputs_highlighted(browser, blog_page):
    _open(browser, blog_page)
    presses = int(browser.js('document.querySelector("nav.steps button[data-key=\'dE_total/dw5\']").dataset.step'))
    browser.key("ArrowRight", presses)
    key, value = _current(browser)
    assert key == "dE_total/dw5" and value == pytest.approx(PUBLISHED["dE_total/dw5"], abs=5e-9)
    assert browser.js('document.querySelector(".step.current .eq").textContent').count("∂") >= 8  # the chain
    nodes, edges = _highlighted(browser, ".net .node.dep"), _highlighted(browser, ".net .edge.dep")
    assert {"h1", "delta_o1"} <= nodes and "w5" in edges
    assert not edges - {"w5", "w5+"}  # no other weight
    assert "delta_o1" in _highlighted(browser, "nav.steps button.dep")
    browser.key("ArrowLeft")
    assert _current(browser)[0] == "dz3/dw5"
    assert browser.errors == []


# The diagram's text as drawn: every text node whose element is rendered (a hidden <tspan> has no box).
DIAGRAM_TEXT = """(() => {
  const svg = document.querySelector(".iter:not([hidden]) svg.net"), out = [];
  const walker = document.createTreeWalker(svg, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode())
    if (n.parentElement.getBoundingClientRect().width > 0) out.push(n.data);
  return out.join(" ");
})()"""


@pytest.mark.engines
def test_the_diagram_shows_the_new_values_from_the_update_on(browser, blog_page):
    _open(browser, blog_page)
    before = numbers_in(browser.js(DIAGRAM_TEXT))
    assert 0.45 in before and round(PUBLISHED["h1"], 4) in before and round(PUBLISHED["w5+"], 4) not in before
    browser.key("ArrowRight", int(browser.js('document.querySelector("nav.steps button[data-key=\'w1+\']")'
                                             '.dataset.step')))
    after = numbers_in(browser.js(DIAGRAM_TEXT))
    assert round(PUBLISHED["w5+"], 4) in after and round(PUBLISHED["h1+"], 4) in after and 0.45 not in after
    assert "w5⁺" in browser.js(DIAGRAM_TEXT)


@pytest.mark.engines
def test_focus_walks_exactly_the_chain_of_w1(browser, blog_page):
    _open(browser, blog_page)
    _choose(browser, "focus", "w1")
    walked = [_current(browser)]
    while not browser.js('document.getElementById("next").disabled'):
        browser.key("ArrowRight")
        walked.append(_current(browser))
    assert [k for k, _ in walked] == W1_CHAIN
    published = {k: v for k, v in walked if k in PUBLISHED}
    assert len(published) >= 8  # and the numbers on the way are the published ones
    assert published == {k: pytest.approx(PUBLISHED[k], abs=5e-9) for k in published}
    browser.key("Home")
    assert _current(browser) == ("dE_total/do1", pytest.approx(PUBLISHED["dE_total/do1"], abs=5e-9))
    browser.key("End")
    assert _current(browser) == ("w1+", pytest.approx(PUBLISHED["w1+"], abs=5e-9))


@pytest.mark.engines
def test_the_keyboard_alone_reaches_and_presses_every_control(browser, blog_page):
    _open(browser, blog_page)
    reached = []
    for _ in range(8):
        browser.key("Tab")
        reached.append(browser.js("document.activeElement.id || document.activeElement.tagName"))
        if reached[-1] == "next":
            break
    assert reached[-1] == "next" and "focus" not in reached  # Next comes before the other controls
    browser.key("Enter")
    browser.key("Enter")
    assert browser.js('document.getElementById("position").textContent').startswith("Step 3 of ")
    browser.key("Tab")
    assert browser.js("document.activeElement.id") == "focus"


@pytest.mark.engines
def test_the_end_shows_the_update_table_and_E_before_and_after(browser, blog_page):
    _open(browser, blog_page)
    browser.key("End")
    text = browser.js('document.querySelector(".iter:not([hidden]) .step.current").innerText')
    assert "w5" in text and str(PUBLISHED["w5+"]) in text
    before, after = numbers_in(browser.js('document.querySelector(".step.current .check").innerText'))[:2]
    assert before == pytest.approx(PUBLISHED["E_total"], abs=5e-9)
    assert after == pytest.approx(PUBLISHED["E_total+"], abs=5e-9)


@pytest.mark.engines
def test_naming_toggle_shows_layered_names(browser, blog_page):
    _open(browser, blog_page)
    def visible() -> str:  # MathML draws identifiers in mathematical italic (𝑤): NFKC makes them w again
        text = browser.js('document.querySelector(".step.current .eq").innerText')
        return unicodedata.normalize("NFKC", re.sub(r"\s+", "", text))

    assert "w1" in visible()
    browser.js('document.getElementById("naming").click()')
    layered = visible()
    assert "W" in layered and "(1)" in layered and "w1" not in layered
    assert browser.js('document.querySelector(".net .node .nm").textContent.trim()')  # labels still there
    browser.js('document.getElementById("naming").click()')
    assert "w1" in visible()


@pytest.mark.engines
@pytest.mark.parametrize("width", [375, 1280])
def test_nothing_overflows_and_nothing_is_requested(browser, blog_page, width):
    _open(browser, blog_page, width)
    for presses in (0, 18, 80):  # the first step, a long chain, the update table
        browser.key("ArrowRight", presses)
        assert browser.overflow() == [], f"overflow at {width} px after {presses} presses"
    browser.key("Home")
    browser.key("ArrowRight", int(browser.js('document.querySelector("nav.steps button[data-key=\'dE_total/dw5\']")'
                                             '.dataset.step')))
    shot = browser.screenshot(artefact_dir() / f"walk-{width}.png")
    assert shot.stat().st_size > 10_000
    assert browser.errors == []
    assert set(browser.requests) <= {blog_page.as_uri()}, browser.requests


# Every step laid out at once (as without the script, which shows one at a time: the same styles); returns
# the steps whose equation passes the page's right edge.
EVERY_STEP_FITS = """(() => {
  document.body.classList.remove("js");
  const width = document.documentElement.clientWidth;
  const steps = [...document.querySelectorAll(".iter:not([hidden]) .step")];
  const bad = steps.filter(s => [s, ...s.querySelectorAll("*")].some(e => e.getBoundingClientRect().right > width + 1))
                   .map(s => s.dataset.key || "summary");
  document.body.classList.add("js");
  return [steps.length, bad];
})()"""


@pytest.mark.engines
@pytest.mark.parametrize("sample", ["blog", "xor", "softmax", "deep", "adam"])
@pytest.mark.parametrize("naming", ["seed", "layered"])
def test_every_step_of_every_sample_fits_a_phone(browser, runner, tmp_path, sample, naming):
    page = _export(runner, tmp_path, "run", sample, "--naming", naming)
    _open(browser, page, 375)
    count, bad = browser.js(EVERY_STEP_FITS)
    assert count > 60 and bad == []
    assert browser.errors == [] and set(browser.requests) <= {page.as_uri()}


@pytest.mark.engines
def test_print_shows_every_step_in_order(browser, blog_page):
    _open(browser, blog_page)
    browser.send("Emulation.setEmulatedMedia", media="print")
    try:
        shown = browser.js('[...document.querySelectorAll(".step")].filter(s => s.offsetParent !== null).length')
        total = browser.js('document.querySelectorAll(".step").length')
        controls = browser.js('document.querySelector(".controls").offsetParent')
    finally:
        browser.send("Emulation.setEmulatedMedia", media="")
    assert shown == total > 60 and controls is None


@pytest.mark.engines
def test_dark_scheme_follows_the_system(browser, blog_page):
    _open(browser, blog_page)
    bg = 'getComputedStyle(document.body).backgroundColor'
    light = browser.js(bg)
    browser.send("Emulation.setEmulatedMedia", features=[{"name": "prefers-color-scheme", "value": "dark"}])
    try:
        dark = browser.js(bg)
    finally:
        browser.send("Emulation.setEmulatedMedia", features=[{"name": "prefers-color-scheme", "value": "light"}])
    luminance = [sum(map(int, re.findall(r"\d+", c)[:3])) for c in (light, dark)]
    assert luminance[0] > 600 and luminance[1] < 150


@pytest.mark.engines
def test_a_training_run_has_its_loss_curve_and_an_iteration_selector(browser, tmp_path, runner):
    page = _export(runner, tmp_path, "step", str(SAMPLES / "blog.toml"), "--epochs", "3", "--show", "1,3",
                   name="run.walk.html")
    _open(browser, page)
    assert browser.js('document.querySelectorAll(".loss svg polyline, .loss svg path").length') >= 1
    assert browser.js('[...document.getElementById("iteration").options].map(o => o.textContent)') == [
        "epoch 1, step 1", "epoch 3, step 3"]
    assert _current(browser) == ("z1", pytest.approx(PUBLISHED["z1"], abs=5e-9))
    _choose(browser, "iteration", "it1")
    assert browser.js('document.querySelector(".iter:not([hidden])").dataset.epoch') == "3"
    assert browser.js('[...document.querySelectorAll(".iter")].map(i => i.offsetParent !== null)') == [False, True]
    key, z1 = _current(browser)
    # online training on one sample: epoch 3 starts from the weights after two updates, w1 and w2 lower
    assert key == "z1" and z1 < PUBLISHED["z1+"] < PUBLISHED["z1"]
    browser.key("ArrowRight", 2)
    assert _current(browser)[0] == "h1"
    assert browser.errors == [] and set(browser.requests) <= {page.as_uri()}
    assert browser.overflow() == []


@pytest.mark.engines
def test_the_harness_sees_a_request_and_the_policy_blocking_it(browser, blog_page, tmp_path):
    """The checks above can fail: an image from the network is blocked by the page's policy (an error),
    and requested once the policy is gone."""
    html = blog_page.read_text(encoding="utf-8")
    url = "http://127.0.0.1:9/x.png"
    tampered = tmp_path / "tampered.html"
    tampered.write_text(html.replace("<footer>", f'<img src="{url}" alt=""><footer>'), encoding="utf-8")
    _open(browser, tampered)
    browser.js("new Promise(r => setTimeout(r, 300))")
    assert any("Content Security Policy" in e for e in browser.errors) and browser.blocked.get(url) == "csp"
    tampered.write_text(re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "",
                               html.replace("<footer>", f'<img src="{url}" alt=""><footer>')), encoding="utf-8")
    browser.blocked.clear()
    _open(browser, tampered)
    assert url in browser.requests and url not in browser.blocked


@pytest.mark.engines
def test_a_batch_keeps_its_samples_apart(browser, tmp_path, runner):
    """xor's four samples in one full batch: each sample's quantities are its own steps, and w1's update
    (the mean of the four gradients) focuses on the four chains."""
    page = _export(runner, tmp_path, "step", "xor", "--epochs", "1", "--batch", "full", "--show", "1",
                   name="batch.walk.html")
    _open(browser, page)
    keys = browser.js('[...document.querySelectorAll(".iter:not([hidden]) .step")].map(s => s.dataset.key)')
    keys = [k for k in keys if k]
    assert len(keys) == len(set(keys)) and {"z1@1", "z1@4", "w1+"} <= set(keys)
    _choose(browser, "focus", "w1")
    walked = [_current(browser)[0]]
    while not browser.js('document.getElementById("next").disabled'):
        browser.key("ArrowRight")
        walked.append(_current(browser)[0])
    assert walked[-1] == "w1+" and {f"dE_total/dw1@{i}" for i in range(1, 5)} <= set(walked)
    assert not [k for k in walked if k.startswith("dE_total/dw2")]
    assert browser.errors == []


@pytest.mark.engines
def test_a_run_without_traced_iterations_says_how_to_get_one(browser, tmp_path, runner):
    page = _export(runner, tmp_path, "step", "xor", "--epochs", "20", name="run.walk.html")
    _open(browser, page)
    assert "--show first,last" in browser.js("document.body.innerText")
    assert browser.js('document.querySelectorAll(".loss svg").length') == 1
    assert browser.errors == []


def test_readme_screenshot_is_a_walk_page():
    """docs/img/walk.png is made by this suite (walk-1280.png in the artefacts) and shown in the README."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert "(docs/img/walk.png)" in readme and "needs nothing but a browser" in readme
