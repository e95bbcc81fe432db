"""The README's pictures of the exports (made by `python tools/render_examples.py`) exist, are PNGs,
and stay small enough for a README (< 150 KB each)."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IMAGES = re.findall(r"!\[[^\]]*\]\((docs/img/[^)]+)\)", (ROOT / "README.md").read_text(encoding="utf-8"))


def test_the_readme_shows_each_rendered_export():
    assert sorted(Path(i).name for i in IMAGES) == ["explore.svg", "html-loss-chart.png", "latex-page.png",
                                                         "markdown-excerpt.png", "walk.png"]


@pytest.mark.parametrize("image", IMAGES)
def test_image_is_a_small_png(image):
    data = (ROOT / image).read_bytes()
    if image.endswith(".svg"):  # Textual's screenshot of `bptrace explore` (tests/test_explore_snapshots.py)
        assert data.startswith(b"<svg") and len(data) < 150 * 1024
        return
    assert data.startswith(b"\x89PNG\r\n\x1a\n"), f"{image} is not a PNG"
    assert len(data) < 150 * 1024, f"{image} is {len(data) // 1024} KB"
