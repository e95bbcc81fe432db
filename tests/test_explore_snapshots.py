"""SVG snapshots of `bptrace explore` at 80×24 and 120×40, for the worked example and a softmax network
(pytest-textual-snapshot). They hold the layout, not the numbers (tests/test_explore.py checks those
against the published ones). After an intended change of the screen: pytest tests/test_explore_snapshots.py
--snapshot-update, and look at the new SVGs (a report opens for differences)."""

import pytest

import bptrace

pytest.importorskip("pytest_textual_snapshot")
from bptrace.explore import Explorer  # noqa: E402
from test_walk_lib import W5_PLACE  # noqa: E402


def app_for(source=None):
    spec = bptrace.load(source)
    return Explorer(spec, bptrace.run(spec))


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_blog_at_dE_total_dw5(snap_compare, size):
    assert snap_compare(app_for(), press=["n"] * W5_PLACE, terminal_size=size)


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_softmax_in_the_backward_pass(snap_compare, size):
    assert snap_compare(app_for("softmax"), press=["n"] * 30, terminal_size=size)


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
def test_blog_focus_on_w1_after_the_update(snap_compare):
    assert snap_compare(app_for(), press=["f", "w", "1", "enter", "end"], terminal_size=(80, 24))


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
def test_deep_network_as_layer_boxes(snap_compare):
    assert snap_compare(app_for("deep"), press=["n"] * 5, terminal_size=(80, 24))


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
def test_the_readme_screenshot_is_current():
    """docs/img/explore.svg is Textual's screenshot of this screen (BPTRACE_SCREENSHOT=write redraws it)."""
    import asyncio
    import os

    from conftest import ROOT

    app = app_for()

    async def shoot() -> str:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press(*["n"] * W5_PLACE)
            await pilot.pause()
            return app.export_screenshot(title="bptrace explore")
    svg = asyncio.run(shoot())
    path = ROOT / "docs" / "img" / "explore.svg"
    if os.environ.get("BPTRACE_SCREENSHOT") == "write":
        path.write_text(svg, encoding="utf-8")
    assert "∂E_total/∂w5" in svg.replace("&#160;", " ")
    assert path.read_text(encoding="utf-8") == svg, "the screen changed: BPTRACE_SCREENSHOT=write redraws the picture"
