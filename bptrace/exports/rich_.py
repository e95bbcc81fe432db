"""HTML and SVG: the same tables as the terminal, through rich's own console export.

In HTML (a file or a notebook cell) the loss curve is an inline SVG chart instead of rich's braille
plot, whose glyphs fall back to another font in a browser and break the plot's frame.
"""

from __future__ import annotations

import io
import re
from html import escape
from html import unescape as html_unescape

from rich._export_format import CONSOLE_SVG_FORMAT
from rich.cells import cell_len
from rich.console import Console

from ..i18n import _

WIDTH = 100
# fonts already on the reader's machine; Hangul (two cells wide) from a Korean font after them (Debian: fonts-noto-cjk)
MONOSPACE = ("Menlo,'DejaVu Sans Mono',Consolas,'Courier New','Noto Sans Mono CJK KR','Noto Sans CJK KR',"
             "'Apple SD Gothic Neo','Malgun Gothic',monospace")

# Styles scoped to the wrapper, so a notebook page keeps its own. A double-width character (Hangul) stands in
# a box two cells (2ch) wide: no Korean font's glyph is exactly two Latin cells, and the columns must line up.
STYLE = (f".bptrace pre{{margin:0;font-family:{MONOSPACE};"
         "line-height:1.25;white-space:pre;overflow-x:auto}.bptrace svg{display:block;margin:0.5em 0;"
         "max-width:100%;height:auto}.bptrace .w{display:inline-block;width:2ch;text-align:center}")
PRE = "<pre style=\"color:{foreground};background-color:{background}\">{code}</pre>"


def _record(renderable) -> Console:
    console = Console(record=True, file=io.StringIO(), width=WIDTH, force_terminal=True, color_system="truecolor")
    console.print(renderable)
    return console


def _pre(renderable) -> str:
    return two_cells(trimmed(_record(renderable).export_html(inline_styles=True, code_format=PRE)))


def two_cells(code: str) -> str:
    """Each double-width character (cell_len 2: Hangul, CJK) in a box of two cells (class w)."""
    return "".join(f'<span class="w">{c}</span>' if c > "\u10ff" and cell_len(c) == 2 else c for c in code)


# spaces (bare, or a span of nothing else) at the end of a line, and a span's own trailing spaces
_PADDING = re.compile(r"(?: |<span[^>]*> *</span>)+(?=\n)")
_SPAN_PADDING = re.compile(r" +</span>(?=\n)")


def trimmed(code: str) -> str:
    """The lines without the spaces that pad every row to the console's width: where a page or a
    notebook wraps preformatted text, a padded row spills onto an empty-looking second line."""
    previous = None
    while code != previous:
        previous, code = code, _PADDING.sub("", _SPAN_PADDING.sub("</span>", code))
    return code


def fragment(*pieces) -> str:
    """An HTML fragment a notebook can embed: rich renderables as <pre> blocks, strings (inline SVG)
    as they are, inside one <div class="bptrace"> with its scoped styles."""
    body = "\n".join(p if isinstance(p, str) else _pre(p) for p in pieces)
    return f"<div class=\"bptrace\">\n<style>{STYLE}</style>\n{body}\n</div>"


def page(body: str, title: str = "bptrace") -> str:
    return (f"<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"UTF-8\">\n<title>{escape(title)}</title>\n"
            f"</head>\n<body>\n{body}\n</body>\n</html>\n")


def html(renderable, title: str = "bptrace") -> str:
    return page(fragment(renderable), title)


def run_pieces(r, view, every: int | None = None, log_y: bool = False) -> list:
    """What `step` shows, in order, with the loss curve as an SVG chart."""
    from rich.rule import Rule
    from rich.text import Text

    from ..render import training
    from ..render.svgplot import line_chart
    from ..render.tables import epoch_title
    from ..render.matrix import iteration_in_form  # the view's form: scalar, matrix or both

    pieces: list = [training.header(r.spec, r.names, r.plan)]
    for it in r.traces:
        pieces += [Rule(epoch_title(it)), iteration_in_form(it, r.spec, view), Text("")]
    if r.epochs_done:
        epochs, losses = training.curve_points(r, 1200)
        pieces += [training.epoch_table(r, view.precision, every),
                   line_chart(epochs, losses, _("loss per epoch") + (" " + _("(log scale)") if log_y else ""),
                              _("epoch"), _("loss"), log_y)]
        if getattr(r, "health", None) is not None:  # step --health: the norms, their chart, the findings
            from ..render import health

            pieces += [health.norm_table(r, every), health.norm_chart(r), health.findings_text(r)]
    pieces.append(training.summary(r, view.precision))
    return pieces


def run_html(r, view, every: int | None = None, log_y: bool = False, title: str = "bptrace") -> str:
    return page(fragment(*run_pieces(r, view, every, log_y)), title)


def _self_contained(template: str) -> str:
    """rich's SVG template without what it fetches: its @font-face rules load Fira Code from a CDN
    (a network request when the file is opened) and its comment names a web site."""
    template = re.sub(r"@font-face \{\{.*?\}\}\s*", "", template, flags=re.S)
    template = re.sub(r"<!--.*?-->\s*", "", template, flags=re.S)
    return template.replace("font-family: Fira Code, monospace", "font-family: {{font}}")


SVG_FORMAT = _self_contained(CONSOLE_SVG_FORMAT)
ASPECT = 0.6  # width / height of a cell in DejaVu Sans Mono and Menlo (rich's 0.61 is Fira Code's)
_TEXT = re.compile(r'(<text [^>]*?textLength=")([0-9.]+)("[^>]*>)([^<]*)(</text>)')


def _wide_text(svg_text: str) -> str:
    """rich sizes each run of text at len(text) cells (textLength) but places the next at its cell_len: a
    run with double-width characters (Hangul) is squeezed into half its cells. Each is given its cells."""
    def fix(m):
        text = html_unescape(m.group(4))
        cells = cell_len(text)
        if cells == len(text):
            return m.group(0)
        return f"{m.group(1)}{float(m.group(2)) / len(text) * cells:g}{m.group(3)}{m.group(4)}{m.group(5)}"

    return _TEXT.sub(fix, svg_text)


def svg(renderable, title: str = "bptrace") -> str:
    code_format = SVG_FORMAT.replace("{{font}}", MONOSPACE)
    return _wide_text(_record(renderable).export_svg(title=title, code_format=code_format, font_aspect_ratio=ASPECT))
