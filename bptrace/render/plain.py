"""ASCII from the start (`run --ascii`): every string of a renderable is transliterated before rich
measures it, so each column is as wide as what is printed (… is already ... when widths are
computed, never replaced afterwards by the output stream's encoder)."""

from __future__ import annotations

from functools import cache

from rich import box as boxes
from rich.console import Group
from rich.rule import Rule
from rich.table import Table
from rich.text import Span, Text

from ..ascii import char, transliterate
from .layout import Fitting, Segments

SEPARATORS = {" · ": "; "}  # a list's separator in ASCII (· alone is the product: *)


def text(t: Text) -> Text:
    """The same Text in ASCII, each style span moved with the characters it covers."""
    starts = [0]  # starts[i]: where character i of t begins in the ASCII text
    for ch in t.plain:
        starts.append(starts[-1] + len(char(ch)))
    out = t.copy()
    out.plain = transliterate(t.plain)
    out.spans = [Span(starts[s.start], starts[min(s.end, len(t.plain))], s.style) for s in t.spans]
    return out


@cache
def box(b: boxes.Box) -> boxes.Box:
    return boxes.Box(transliterate(str(b)), ascii=True)


def asciify(r):
    """A renderable (str, Text, Group, Table, Rule) with its text in ASCII; anything else as it is."""
    if isinstance(r, str):
        return transliterate(r)
    if isinstance(r, Text):
        return text(r)
    if isinstance(r, Group):
        return Group(*map(asciify, r.renderables), fit=r.fit)
    if isinstance(r, Rule):
        return Rule(asciify(r.title), characters="-", style=r.style, end=r.end, align=r.align)
    if isinstance(r, Table):
        return _table(r)
    if isinstance(r, Segments):
        return Segments(map(text, r.parts), SEPARATORS.get(r.sep, transliterate(r.sep)), r.style, r.indent)
    if isinstance(r, Fitting):
        return Fitting(*map(asciify, r.layouts))
    return r


def _table(t: Table) -> Table:
    t.title, t.caption = asciify(t.title), asciify(t.caption)
    if t.box is not None:
        t.box = box(t.box)
    for column in t.columns:
        column.header = asciify(column.header)
        column._cells = [asciify(cell) for cell in column._cells]
    return t
