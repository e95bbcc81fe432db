"""HTML and SVG: the same tables as the terminal, through rich's own console export.

In HTML (a file or a notebook cell) the loss curve is an inline SVG chart instead of rich's braille
plot, whose glyphs fall back to another font in a browser and break the plot's frame.
"""

from __future__ import annotations

import io
from html import escape

import numpy as np
from rich.console import Console

WIDTH = 100

# Styles scoped to the wrapper, so a notebook page keeps its own.
STYLE = (".bptrace pre{margin:0;font-family:Menlo,'DejaVu Sans Mono',Consolas,'Courier New',monospace;"
         "line-height:1.25;white-space:pre;overflow-x:auto}.bptrace svg{display:block;margin:0.5em 0;"
         "max-width:100%;height:auto}")
PRE = "<pre style=\"color:{foreground};background-color:{background}\">{code}</pre>"


def _record(renderable) -> Console:
    console = Console(record=True, file=io.StringIO(), width=WIDTH, force_terminal=True, color_system="truecolor")
    console.print(renderable)
    return console


def _pre(renderable) -> str:
    return _record(renderable).export_html(inline_styles=True, code_format=PRE)


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
    from ..render.tables import render_iteration

    pieces: list = [training.header(r.spec, r.names, r.plan)]
    for it in r.traces:
        pieces += [Rule(f"epoch {it.epoch}, step {it.step}"), render_iteration(it, r.spec, view), Text("")]
    if r.epochs_done:
        idx = np.unique(np.linspace(0, r.epochs_done - 1, min(r.epochs_done, 1200)).round().astype(int))
        pieces += [training.epoch_table(r, view.precision, every),
                   line_chart(idx + 1, r.loss[idx], "loss per epoch" + (" (log scale)" if log_y else ""),
                              "epoch", "loss", log_y)]
    pieces.append(training.summary(r, view.precision))
    return pieces


def run_html(r, view, every: int | None = None, log_y: bool = False, title: str = "bptrace") -> str:
    return page(fragment(*run_pieces(r, view, every, log_y)), title)


def svg(renderable, title: str = "bptrace") -> str:
    return _record(renderable).export_svg(title=title)
