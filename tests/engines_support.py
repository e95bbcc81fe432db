"""The tools that display bptrace's exports, driven from the tests: KaTeX and Mermaid (node),
pdflatex, and headless Chromium.

Each tool is looked up once. On a developer machine a missing tool skips its tests with the reason;
with CI set (CI runs `bash .ci/run` with CI=true) a missing tool fails them instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

try:
    import fcntl  # POSIX: the lock around `npm ci`
except ImportError:  # pragma: no cover
    fcntl = None

import pytest
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin

ENGINES = Path(__file__).resolve().parent / "engines"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def unavailable(reason: str):
    """Skip on a developer machine; fail in CI, where every engine must be installed."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so every engine must be present: see .ci/run)", pytrace=False)
    pytest.skip(reason)


# ------------------------------------------------------------------ node: KaTeX and Mermaid

def ensure_node_packages() -> None:
    """node and npm on PATH, and tests/engines/node_modules installed from its lock file. The suite runs
    in several processes (pytest-xdist): the first to get here installs, the others wait for it."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        unavailable("node and npm are not installed (Debian: apt-get install nodejs npm)")
    installed = ENGINES / "node_modules" / ".package-lock.json"  # written once the install is complete
    if installed.exists():
        return
    with open(ENGINES / ".npm-ci.lock", "w") as lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or the process dies
        if installed.exists():  # another worker installed them while this one waited
            return
        done = subprocess.run(["npm", "ci", "--prefix", str(ENGINES), "--no-audit", "--no-fund", "--loglevel=error"],
                              capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        unavailable(f"npm ci --prefix tests/engines failed: {done.stderr.strip()[-500:]}")


def run_node(script: str, payload) -> list[dict]:
    """Run tests/engines/SCRIPT with PAYLOAD as JSON on stdin; return its JSON report."""
    done = subprocess.run(["node", str(ENGINES / script)], input=json.dumps(payload), capture_output=True,
                          text=True, timeout=300, cwd=ENGINES)
    assert done.returncode == 0, f"node {script} failed:\n{done.stderr[-3000:]}"
    return json.loads(done.stdout)


def formulas(markdown: str) -> list[tuple[str, bool]]:
    """Every formula of a Markdown text as (tex, display): $$…$$ blocks and inline $…$, as
    markdown-it's dollarmath plugin finds them (the way GitHub-flavoured renderers split them)."""
    md = MarkdownIt("commonmark").enable("table").use(dollarmath_plugin, double_inline=True)
    found = []
    for token in md.parse(markdown):
        if token.type in ("math_block", "math_block_eqno"):
            found.append((token.content.strip(), True))
        for child in token.children or ():
            if child.type in ("math_inline", "math_inline_double"):
                found.append((child.content.strip(), child.type == "math_inline_double"))
    return found


def mermaid_blocks(markdown: str) -> list[str]:
    """The text of every ```mermaid fence."""
    md = MarkdownIt("commonmark")
    return [t.content for t in md.parse(markdown) if t.type == "fence" and t.info.strip() == "mermaid"]


# ------------------------------------------------------------------ pdflatex

def ensure_pdflatex() -> None:
    if shutil.which("pdflatex") is None:
        unavailable("pdflatex is not installed (Debian: apt-get install texlive-latex-base "
                    "texlive-latex-recommended)")


def compile_tex(text: str, pdf: Path | None = None) -> tuple[bool, str]:
    """Compile a LaTeX document with pdflatex (non-interactive, stop at the first error), keeping the
    PDF at `pdf` if given. Returns (a PDF was written and no error was reported, the log)."""
    with tempfile.TemporaryDirectory(prefix="bptrace-tex-") as tmp:
        src = Path(tmp) / "doc.tex"
        src.write_text(text, encoding="utf-8")
        done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape",
                               "doc.tex"], cwd=tmp, capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
        log_file = Path(tmp) / "doc.log"
        log = log_file.read_text(errors="replace") if log_file.exists() else done.stdout.decode(errors="replace")
        ok = done.returncode == 0 and (Path(tmp) / "doc.pdf").exists() and "\n! " not in log
        if ok and pdf is not None:
            shutil.copy(Path(tmp) / "doc.pdf", pdf)
        return ok, log


def tex_errors(log: str) -> str:
    """The error lines of a pdflatex log ('! …' and the two lines after), for a failure message."""
    lines = log.splitlines()
    picked = [" | ".join(lines[i:i + 3]) for i, line in enumerate(lines) if line.startswith("!")]
    return "\n".join(picked) or log[-1500:]


# ------------------------------------------------------------------ headless Chromium

def ensure_chromium() -> None:
    if not os.access(CHROMIUM, os.X_OK):
        unavailable(f"{CHROMIUM} is not installed (Debian: apt-get install chromium)")


# Runs in the page after load: every element whose box leaves its container's box (or the page's
# width) while the container does not scroll or clip it visibly. Writes a JSON report into the DOM.
OVERFLOW_PROBE = """
<script>
window.addEventListener("load", () => {
  const tol = 1, found = [];
  const label = e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") +
    (e.getAttribute("class") ? "." + e.getAttribute("class").trim().split(/\\s+/).join(".") : "");
  const pageWidth = document.documentElement.clientWidth;
  for (const e of document.querySelectorAll("body *")) {
    if (["SCRIPT", "STYLE", "TITLE"].includes(e.tagName)) continue;
    const r = e.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (!e.ownerSVGElement && e.scrollWidth > e.clientWidth + tol && getComputedStyle(e).overflowX === "visible" && e.clientWidth > 0)
      found.push({element: label(e), problem: "content wider than its box", scrollWidth: e.scrollWidth,
                  clientWidth: e.clientWidth, text: (e.textContent || "").trim().slice(0, 60)});
    if (r.right > pageWidth + tol)
      found.push({element: label(e), problem: "past the page's right edge", right: r.right, page: pageWidth,
                  text: (e.textContent || "").trim().slice(0, 60)});
    const svg = e.ownerSVGElement;
    if (svg) {
      const b = svg.getBoundingClientRect();
      if (r.left < b.left - tol || r.right > b.right + tol || r.top < b.top - tol || r.bottom > b.bottom + tol)
        found.push({element: label(e), problem: "outside its SVG frame", box: [r.left, r.top, r.right, r.bottom],
                    frame: [b.left, b.top, b.right, b.bottom]});
    }
  }
  // Monospaced text drawn as a grid (tables, box-drawn plots): a line must be exactly as wide as its
  // characters' cells; a glyph from a fallback font widens the line and breaks the frame's border.
  for (const pre of document.querySelectorAll("pre, code")) {
    const probe = document.createElement("span");
    probe.textContent = "0".repeat(100);
    pre.appendChild(probe);
    const cell = probe.getBoundingClientRect().width / 100;
    probe.remove();
    const widths = [], texts = [];
    let line = 0;
    const walker = document.createTreeWalker(pre, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const parts = node.data.split("\\n");
      let offset = 0;
      parts.forEach((part, i) => {
        if (i > 0) line += 1;
        if (part.length) {
          const range = document.createRange();
          range.setStart(node, offset);
          range.setEnd(node, offset + part.length);
          const box = node.parentElement.classList.contains("w") ? node.parentElement : range;  // a 2-cell box
          widths[line] = (widths[line] || 0) + box.getBoundingClientRect().width;
          texts[line] = (texts[line] || "") + part;
        }
        offset += part.length + 1;
      });
    }
    // Hangul and other East Asian wide characters take two cells (as the terminal, rich and the exports count)
    const wide = ch => /[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/.test(ch);
    widths.forEach((w, i) => {
      const chars = [...texts[i]], wides = chars.filter(wide).length, cells = chars.length + wides;
      if (w > cells * cell + cell / 2)
        found.push({element: label(pre), problem: "a monospaced line is wider than its cells (font fallback)",
                    line: i + 1, cells, expected: cells * cell, width: w, text: texts[i].trim().slice(0, 60)});
      if (wides && w < cells * cell - cell / 2)  // wide glyphs narrower than two cells: the columns after them shift
        found.push({element: label(pre), problem: "wide characters narrower than two cells (columns shift)",
                    line: i + 1, cells, expected: cells * cell, width: w, text: texts[i].trim().slice(0, 60)});
    });
  }
  const out = document.createElement("pre");
  out.id = "bptrace-overflow-report";
  out.textContent = JSON.stringify(found);
  document.body.appendChild(out);
});
</script>
"""


def _chromium(args: list[str], timeout: int = 120) -> subprocess.CompletedProcess:
    # a Chromium helper may still be writing to the profile as the browser exits: its removal may not fail the test
    with tempfile.TemporaryDirectory(prefix="bptrace-chromium-", ignore_cleanup_errors=True) as profile:
        return subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def overflow_report(page: Path, width: int = 1280) -> list[dict]:
    """Open PAGE (an HTML file) in headless Chromium with the overflow probe appended; return the
    probe's list of overflowing elements."""
    probed = page.with_name(page.stem + ".probed.html")
    probed.write_text(page.read_text(encoding="utf-8") + OVERFLOW_PROBE, encoding="utf-8")
    done = _chromium([f"--window-size={width},900", "--virtual-time-budget=5000", "--dump-dom", probed.as_uri()])
    start = done.stdout.find('<pre id="bptrace-overflow-report">')
    assert start >= 0, f"chromium did not run the probe (exit {done.returncode}):\n{done.stderr[-2000:]}"
    end = done.stdout.index("</pre>", start)
    import html

    return json.loads(html.unescape(done.stdout[start + len('<pre id="bptrace-overflow-report">'):end]))


# Runs in the page after load: draws Hangul in the font of the page's first <pre> (or SVG <text>) on a canvas.
# Missing glyphs are drawn as one and the same box (tofu): distinct syllables that draw alike are tofu.
GLYPH_PROBE = """
<script>
window.addEventListener("load", () => {
  const el = document.querySelector("pre, svg text");
  const font = getComputedStyle(el).fontFamily;
  const draw = ch => {
    const c = document.createElement("canvas");
    c.width = c.height = 48;
    const ctx = c.getContext("2d");
    ctx.font = "40px " + font;
    ctx.fillText(ch, 2, 40);
    return {pixels: Array.from(ctx.getImageData(0, 0, 48, 48).data).join(","), width: ctx.measureText(ch).width,
            latin: ctx.measureText("0").width};
  };
  const syllables = ["역", "전", "파", "층"].map(draw), tofu = draw("\\uffff");
  const out = document.createElement("pre");
  out.id = "bptrace-glyph-report";
  out.textContent = JSON.stringify({font, distinct: new Set(syllables.map(g => g.pixels)).size,
    tofu: syllables.filter(g => g.pixels === tofu.pixels).length, ratio: syllables[0].width / syllables[0].latin});
  document.body.appendChild(out);
});
</script>
"""


def glyph_report(page: Path) -> dict:
    """Open PAGE in headless Chromium and report how its monospaced font draws Hangul: how many of four
    syllables are distinct glyphs, how many draw as the missing-glyph box, and a syllable's width in
    Latin cells."""
    probed = page.with_name(page.stem + ".glyphs.html")
    probed.write_text(page.read_text(encoding="utf-8") + GLYPH_PROBE, encoding="utf-8")
    done = _chromium(["--window-size=1280,900", "--virtual-time-budget=5000", "--dump-dom", probed.as_uri()])
    start = done.stdout.find('<pre id="bptrace-glyph-report">')
    assert start >= 0, f"chromium did not run the probe (exit {done.returncode}):\n{done.stderr[-2000:]}"
    end = done.stdout.index("</pre>", start)
    import html

    return json.loads(html.unescape(done.stdout[start + len('<pre id="bptrace-glyph-report">'):end]))


def screenshot(page: Path, png: Path, width: int = 1280, height: int = 2400) -> Path:
    """A full-width screenshot of PAGE, kept as a test artefact."""
    _chromium([f"--window-size={width},{height}", "--hide-scrollbars", f"--screenshot={png}", page.as_uri()])
    return png


def artefact_dir() -> Path:
    """Where failing pages keep their screenshots (printed in the failure message)."""
    path = Path(os.environ.get("BPTRACE_ARTEFACTS", Path(tempfile.gettempdir()) / "bptrace-test-artefacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def katex_errors(markdown: str) -> list[tuple[str, object]]:
    """(formula, error or warnings) of every formula of a Markdown text that KaTeX rejects or warns about."""
    ensure_node_packages()
    found = formulas(markdown)
    results = run_node("katex-render.mjs", [{"tex": tex, "display": d} for tex, d in found])
    return [(tex, r.get("error") or r["warnings"]) for (tex, _), r in zip(found, results) if not r["ok"] or r["warnings"]]
