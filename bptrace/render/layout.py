"""Layout pieces that keep the terminal's tables readable at any width (60, 80, 120 columns):
lines that wrap only between whole parts, titles wider than their table, a choice of layouts."""

from __future__ import annotations

from rich.cells import cell_len
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import Text


class Titled(Table):
    """A table whose title and caption may be wider than its columns: each is laid out at the
    table's width, or at its own up to the full width, so a long title stays on one line where it
    fits (rich's Table wraps both at the columns' width, leaving a word alone on the last line)."""

    def __rich_console__(self, console, options):
        title, caption = self.title, self.caption
        self.title = self.caption = None
        try:
            body = list(Table.__rich_console__(self, console, options))
        finally:
            self.title, self.caption = title, caption
        width = max((Segment.get_line_length(line) for line in Segment.split_lines(body)), default=0)
        if title:
            yield from self._annotation(console, options, width, title, self.title_style, "table.title",
                                        self.title_justify)
        yield from body
        if caption:
            yield from self._annotation(console, options, width, caption, self.caption_style, "table.caption",
                                        self.caption_justify)

    def _annotation(self, console, options, width: int, text, style, default_style: str, justify):
        style = Style.pick_first(style, default_style)
        if isinstance(text, str):
            text = console.render_str(text, style=style, highlight=False)
        elif isinstance(text, Text):
            text = text.copy()
            text.stylize_before(style)
        wanted = Measurement.get(console, options, text).maximum
        width = min(options.max_width, max(width, wanted))
        yield from console.render(text, options.update(width=width, justify=justify))


class Segments:
    """A line of parts (str or styled Text) joined by a separator (`8 parameters · loss half_sse · …`)
    that wraps only between parts, never inside one, and drops the separator where it breaks;
    continuation lines start with `indent`."""

    def __init__(self, parts, sep: str = " · ", style: str = "", indent: str = "", keep: bool = False):
        self.parts = [p if isinstance(p, Text) else Text(p) for p in parts if p]
        self.sep, self.style, self.indent = sep, style, indent
        self.mark = sep.rstrip() if keep else ""  # keep=True: a list's "," stays at the end of a broken line

    def lines(self, width: int) -> list[Text]:
        out = self.parts[:1]
        for i, part in enumerate(self.parts[1:], 2):
            joined = out[-1] + self.sep + part
            if joined.cell_len <= width - (cell_len(self.mark) if i < len(self.parts) else 0):
                out[-1] = joined
            else:
                out[-1] = out[-1] + self.mark
                out.append(Text(self.indent) + part)
        return out

    def __rich_console__(self, console, options):
        for line in self.lines(options.max_width):
            line = line.copy()
            line.stylize_before(self.style)
            line.end = "\n"
            yield line

    def __rich_measure__(self, console, options):
        narrowest = max((p.cell_len + (i > 0) * cell_len(self.indent) for i, p in enumerate(self.parts)), default=0)
        return Measurement(narrowest, sum(p.cell_len for p in self.parts) + cell_len(self.sep) * (len(self.parts) - 1))


from .grid import BREAK_AFTER, BREAK_BEFORE, terms  # noqa: E402,F401  (pure: the text layout uses them too)


class Fitting:
    """The first of several layouts that fits the width without wrapping a cell (the last one otherwise)."""

    def __init__(self, *layouts):
        self.layouts = layouts

    def choose(self, console, options):
        roomy = options.update_width(10 ** 4)
        for layout in self.layouts:
            if Measurement.get(console, roomy, layout).maximum <= options.max_width:
                return layout
        return self.layouts[-1]

    def __rich_console__(self, console, options):
        yield self.choose(console, options)

    def __rich_measure__(self, console, options):
        return Measurement.get(console, options, self.choose(console, options))
