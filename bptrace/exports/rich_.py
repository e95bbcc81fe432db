"""HTML and SVG: the same tables as the terminal, through rich's own console export."""

from __future__ import annotations

import io

from rich.console import Console

WIDTH = 100


def _record(renderable) -> Console:
    console = Console(record=True, file=io.StringIO(), width=WIDTH, force_terminal=True, color_system="truecolor")
    console.print(renderable)
    return console


def html(renderable, title: str = "bptrace") -> str:
    from html import escape

    page = _record(renderable).export_html(inline_styles=True)
    return page.replace("<head>", f"<head>\n<title>{escape(title)}</title>", 1)


def svg(renderable, title: str = "bptrace") -> str:
    return _record(renderable).export_svg(title=title)
