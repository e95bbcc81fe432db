"""The matrix form in the HTML export, shown in headless Chromium: no element leaves its frame and no
monospaced line is wider than its cells (a bracket glyph from a fallback font would break the matrix)."""

import pytest

from bptrace.cli import app
from engines_support import ensure_chromium, overflow_report, screenshot, artefact_dir

pytestmark = pytest.mark.engines


@pytest.mark.parametrize("args", [["run", "--form", "both"], ["run", "deep", "--form", "matrix"],
                                  ["step", "xor", "--epochs", "1", "--batch", "full", "--show", "1", "--form",
                                   "matrix"]], ids="-".join)
def test_matrix_html_fits_its_frame(runner, tmp_path, args):
    ensure_chromium()
    page = tmp_path / "matrix.html"
    result = runner.invoke(app, [*args, "--export", str(page)])
    assert result.exit_code == 0, result.output
    text = page.read_text(encoding="utf-8")
    assert "⎡" in text and "[2×2]" in text or "[4×2]" in text
    problems = overflow_report(page)
    if problems:
        png = screenshot(page, artefact_dir() / ("matrix-" + "-".join(args) + ".png"))
        pytest.fail(f"{len(problems)} element(s) overflow; screenshot: {png}\n" + "\n".join(map(str, problems[:8])))
