"""Regenerate the README's pictures of the exports, each drawn by the engine that displays it:

    python tools/render_examples.py

- docs/img/markdown-excerpt.png: `bptrace run --export blog.md` as GitHub shows it: the Markdown
  converted by markdown-it-py (dollarmath), every formula typeset by KaTeX (server-side, in node),
  the network diagram drawn by Mermaid (in Chromium), screenshot by headless Chromium.
- docs/img/latex-page.png: `bptrace run --export notes.tex` compiled by pdflatex; the page with
  backward step 1, rasterised by pdftoppm (poppler-utils).
- docs/img/html-loss-chart.png: `bptrace step xor --epochs 2000 --export run.html` in Chromium,
  cropped to its SVG loss chart.

Needs what the engine tests need (tests/engines_support.py): node with tests/engines/node_modules,
pdflatex, /usr/bin/chromium; and pdftoppm/pdftotext (Debian: apt-get install poppler-utils).
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from engines_support import ENGINES, _chromium, compile_tex, formulas, mermaid_blocks  # noqa: E402
from markdown_it import MarkdownIt  # noqa: E402
from mdit_py_plugins.dollarmath import dollarmath_plugin  # noqa: E402

OUT = ROOT / "docs" / "img"
SCALE = 1  # device pixels per CSS pixel: keeps each PNG well under 150 KB
KATEX_CSS = ENGINES / "node_modules" / "katex" / "dist" / "katex.min.css"
MERMAID_JS = ENGINES / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"

# KaTeX's own renderer, in node, resolving `katex` from tests/engines/node_modules.
KATEX_TO_HTML = """
import katex from "katex";
let input = "";
for await (const chunk of process.stdin) input += chunk;
const out = JSON.parse(input).map(([tex, display]) =>
  katex.renderToString(tex, { throwOnError: true, displayMode: display, strict: "error" }));
process.stdout.write(JSON.stringify(out));
"""

# A GitHub-like reading column (GitHub's markdown-body: 16 px system sans, 980 px wide at most).
PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<link rel="stylesheet" href="{katex_css}">
<style>
body {{ margin: 0; background: #fff; }}
.markdown-body {{ box-sizing: border-box; width: {width}px; padding: 16px 32px 8px;
  font: 16px/1.5 -apple-system, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif; color: #1f2328; }}
.markdown-body h1, .markdown-body h2 {{ border-bottom: 1px solid #d1d9e0; padding-bottom: .3em; }}
.markdown-body h1 {{ font-size: 2em; margin: .2em 0 .6em; }}
.markdown-body h2 {{ font-size: 1.5em; margin: 1em 0 .6em; }}
.markdown-body h3 {{ font-size: 1.25em; margin: 1em 0 .4em; }}
.markdown-body table {{ border-collapse: collapse; margin: 0 0 1em; }}
.markdown-body th, .markdown-body td {{ border: 1px solid #d1d9e0; padding: 6px 13px; }}
.markdown-body tr:nth-child(2n) {{ background: #f6f8fa; }}
.markdown-body code {{ background: #eff1f3; border-radius: 6px; padding: .2em .4em; font-size: 85%; }}
.markdown-body .katex-display {{ margin: .5em 0; }}
.markdown-body .omitted {{ color: #59636e; font-style: italic; }}
pre.mermaid {{ text-align: center; margin: 0 0 1em; }}
</style></head>
<body><article class="markdown-body">
{body}
</article>
<script src="{mermaid_js}"></script>
<script>mermaid.initialize({{ startOnLoad: true, theme: "default" }});</script>
</body></html>
"""


def bptrace(*args: str, cwd: Path) -> None:
    """Run the bptrace command line, as a user would."""
    subprocess.run([sys.executable, "-m", "bptrace", *args], cwd=cwd, check=True, capture_output=True)


# ------------------------------------------------------------------ Markdown, as GitHub shows it

def excerpt(markdown: str) -> str:
    """The network diagram, then backward step 1; the forward pass and errors are replaced by a line
    saying so; the title, the network table and everything from backward step 2 on are left out
    (the picture stays under 150 KB)."""
    diagram = markdown[markdown.index("The network before the update:"):markdown.index("## Forward pass")]
    step1 = markdown[markdown.index("## Backward pass"):markdown.index("### Step 2")]
    return "\n".join([diagram, omitted("forward pass and errors"), step1])


def omitted(what: str) -> str:
    return f'<p class="omitted">… {what} …</p>\n'


def katex_html(items: list[tuple[str, bool]]) -> list[str]:
    """Every (tex, display) formula as KaTeX's HTML, in one node process (a KaTeX error stops the run)."""
    done = subprocess.run(["node", "--input-type=module", "-e", KATEX_TO_HTML], input=json.dumps(items),
                          capture_output=True, text=True, cwd=ENGINES, timeout=300)
    if done.returncode:
        sys.exit(f"KaTeX refused a formula:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout)


def markdown_page(markdown: str, width: int) -> str:
    """The Markdown as a web page: formulas typeset by KaTeX, Mermaid fences left for Mermaid to draw."""
    found = formulas(markdown)
    typeset = dict(zip(found, katex_html(found)))
    md = MarkdownIt("commonmark", {"html": True}).enable("table").use(
        dollarmath_plugin, double_inline=True,
        renderer=lambda tex, opts: typeset[(tex.strip(), opts["display_mode"])])
    fence = md.renderer.rules["fence"]

    def mermaid_fence(renderer, tokens, idx, options, env):
        t = tokens[idx]
        if t.info.strip() != "mermaid":
            return fence(tokens, idx, options, env)
        return f'<pre class="mermaid">{html.escape(t.content)}</pre>\n'

    md.add_render_rule("fence", mermaid_fence)
    return PAGE.format(title="bptrace Markdown export", katex_css=KATEX_CSS.as_uri(), width=width,
                       mermaid_js=MERMAID_JS.as_uri(), body=md.render(markdown))


def page_height(page: Path, width: int) -> int:
    """The laid-out height of PAGE at WIDTH, once its scripts have run; stops if Mermaid drew no diagram."""
    probe = page.with_name(page.stem + ".measure.html")
    probe.write_text(page.read_text(encoding="utf-8").replace(
        "</body>", "<script>window.addEventListener('load', () => setTimeout(() => document.title = "
                   "'height=' + document.documentElement.scrollHeight + ' drawn=' + "
                   "document.querySelectorAll('pre.mermaid svg').length, 2000));</script></body>"), encoding="utf-8")
    done = _chromium([f"--window-size={width},600", "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()])
    found = re.search(r"<title>height=(\d+) drawn=(\d+)</title>", done.stdout)
    if not found or found.group(2) != str(page.read_text(encoding="utf-8").count('<pre class="mermaid">')):
        sys.exit(f"chromium did not lay out {page.name} or Mermaid drew no diagram:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def shoot(page: Path, png: Path, width: int, height: int) -> None:
    _chromium([f"--window-size={width},{height}", f"--force-device-scale-factor={SCALE}", "--hide-scrollbars", "--disable-lcd-text",
               "--virtual-time-budget=10000", f"--screenshot={png}", page.as_uri()])
    if not png.exists():
        sys.exit(f"chromium wrote no screenshot of {page.name}")


def markdown_excerpt(tmp: Path) -> Path:
    bptrace("run", "--export", "blog.md", cwd=tmp)
    markdown = excerpt((tmp / "blog.md").read_text(encoding="utf-8"))
    assert len(mermaid_blocks(markdown)) == 1, "the excerpt keeps the first diagram only"
    width = 820
    page = tmp / "blog.html"
    page.write_text(markdown_page(markdown, width), encoding="utf-8")
    png = OUT / "markdown-excerpt.png"
    shoot(page, png, width, page_height(page, width))
    return png


# ------------------------------------------------------------------ LaTeX, as pdflatex typesets it

def latex_page(tmp: Path) -> Path:
    bptrace("run", "--export", "notes.tex", cwd=tmp)
    ok, log = compile_tex((tmp / "notes.tex").read_text(encoding="utf-8"), pdf=tmp / "notes.pdf")
    if not ok:
        sys.exit(f"pdflatex failed on notes.tex:\n{log[-2000:]}")
    text = subprocess.run(["pdftotext", "-layout", "notes.pdf", "-"], cwd=tmp, capture_output=True,
                          text=True, check=True).stdout
    page = next(i for i, p in enumerate(text.split("\f"), 1) if "Step 1: output layer" in p)
    # 100 dpi: an A4/letter text block at about the size a screen shows it
    subprocess.run(["pdftoppm", "-png", "-r", "100", "-f", str(page), "-l", str(page), "-singlefile",
                    "notes.pdf", "latex-page"], cwd=tmp, check=True)
    png = OUT / "latex-page.png"
    png.write_bytes((tmp / "latex-page.png").read_bytes())
    return png


# ------------------------------------------------------------------ HTML, as a browser shows it

# Crops the page to its chart: the terminal tables around it are hidden, the chart is drawn as exported.
CHART_ONLY = "<style>.bptrace > :not(svg) { display: none !important }</style>"


def html_loss_chart(tmp: Path) -> Path:
    bptrace("step", "xor", "--epochs", "2000", "--export", "run.html", "--quiet", cwd=tmp)
    page = tmp / "run.shot.html"
    page.write_text((tmp / "run.html").read_text(encoding="utf-8").replace("</body>", CHART_ONLY + "</body>"),
                    encoding="utf-8")
    svg = re.search(r"<svg[^>]*width='(\d+)' height='(\d+)'", page.read_text(encoding="utf-8"))
    png = OUT / "html-loss-chart.png"
    shoot(page, png, int(svg.group(1)) + 16, int(svg.group(2)) + 16)
    return png


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bptrace-examples-") as tmp:
        for make in (markdown_excerpt, latex_page, html_loss_chart):
            png = make(Path(tmp))
            print(f"wrote {png.relative_to(ROOT)} ({png.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
