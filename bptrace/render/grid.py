"""The terminal's tables as plain data (a Grid of cells, a Line of parts), drawn two ways: as rich renderables
(`to_rich`: the same Titled tables, Segments and Fitting the renderers always built) or, for output without
colour, straight to text (`Doc.plain`), laid out as rich lays them out, so that `bptrace run | less` does not
import rich's console and table machinery nor pay for its layout at every start.

The text layout follows rich (15.x) for what these tables use: box SIMPLE_HEAD without edge, padding (0, 1),
not expanded; columns left or right, wrapping or not, overflow fold or ellipsis, a min/max width, narrowed
as rich narrows them (the widest wrapping columns first, then all evenly); cells that are strings, Lines
(Segments) or Stacks of Lines (a Group); lines wider than the console cropped. Anything else (markup or
an emoji code in a string, a newline or a tab, a column narrower than its padding, an epoch rule, --ascii)
raises Unsupported, and the caller draws with rich. tests/test_plain_layout.py checks the two agree byte
for byte on every sample, at every width from 40 to 130, in English and Korean, with and without formulas.
"""

from __future__ import annotations

import re

from rich.cells import cell_len as rich_cell_len, set_cell_size
from rich._wrap import divide_line


def cell_len(s: str) -> int:
    """Cells a string takes (rich.cells.cell_len; printable ASCII is one cell a character, counted in C)."""
    return len(s) if s.isascii() and s.isprintable() else rich_cell_len(s)


class Unsupported(Exception):
    """Something the text layout does not draw as rich would: draw it with rich."""


class Styled:
    """Text in styled pieces, [(text, style), ...], and spans styled afterwards [(style, start), ...]
    (rich: Text.assemble, then stylize); the text layout reads only `plain`."""

    def __init__(self, pieces, later=()):
        self.pieces, self.later = list(pieces), list(later)
        self.plain = "".join(text for text, _ in self.pieces)

    def __bool__(self) -> bool:
        return bool(self.plain)

    def to_rich(self):
        from rich.text import Text

        if len(self.pieces) == 1 and not self.pieces[0][1] and not self.later:
            return Text(self.plain)
        t = Text.assemble(*self.pieces)
        for style, start in self.later:
            t.stylize(style, start)
        return t


class Line:
    """A line of parts joined by a separator that wraps only between parts (render.layout.Segments, which
    to_rich makes); continuation lines start with `indent`; keep=True keeps the separator's mark at a break."""

    def __init__(self, parts, sep: str = " · ", style: str = "", indent: str = "", keep: bool = False):
        self.parts = [p for p in parts if p]
        self.sep, self.style, self.indent, self.keep = sep, style, indent, keep

    def to_rich(self):
        from .layout import Segments

        return Segments([rich_of(p) for p in self.parts], self.sep, self.style, self.indent, self.keep)

    def _texts(self) -> list[str]:
        return [p if isinstance(p, str) else p.plain for p in self.parts]

    def lines(self, width: int) -> list[str]:
        """Segments.lines, as plain strings."""
        parts = self._texts()
        mark = self.sep.rstrip() if self.keep else ""
        out = parts[:1]
        for i, part in enumerate(parts[1:], 2):
            joined = out[-1] + self.sep + part
            if cell_len(joined) <= width - (cell_len(mark) if i < len(parts) else 0):
                out[-1] = joined
            else:
                out[-1] = out[-1] + mark
                out.append(self.indent + part)
        return [_checked_line(line) for line in out]

    def measure(self) -> tuple[int, int]:
        """Segments.__rich_measure__: (its widest part, all on one line)."""
        parts = self._texts()
        narrowest = max((cell_len(p) + (i > 0) * cell_len(self.indent) for i, p in enumerate(parts)), default=0)
        return narrowest, sum(map(cell_len, parts)) + cell_len(self.sep) * (len(parts) - 1)


def _checked_line(s: str) -> str:
    if "\n" in s or "\t" in s or "\r" in s:
        raise Unsupported(repr(s))
    return s



class Column:
    """A column: its header (a str or a Line) and rich's add_column keywords."""

    def __init__(self, header, **options):
        self.header, self.options = header, options


class Grid:
    """A table: a title, columns, rows (each a list of cells and whether a section ends after it), a caption;
    `table` holds the keywords rich's Titled table is made with (box by name)."""

    def __init__(self, title, caption=None, caption_justify: str = "left", **table):
        self.title, self.caption, self.caption_justify, self.table = title, caption, caption_justify, table
        self.columns: list[Column] = []
        self.rows: list[list] = []
        self.ends: list[bool] = []

    def add_column(self, header, **options) -> None:
        self.columns.append(Column(header, **options))

    def add_row(self, *cells) -> None:
        self.rows.append(list(cells))
        self.ends.append(False)

    def add_section(self) -> None:
        if self.ends:
            self.ends[-1] = True

    def to_rich(self):
        from rich import box

        from .layout import Titled

        table = dict(self.table, box=getattr(box, self.table["box"]))
        t = Titled(title=rich_of(self.title), **table)
        for c in self.columns:
            t.add_column(rich_of(c.header), **c.options)
        for cells, end in zip(self.rows, self.ends):
            t.add_row(*map(rich_of, cells), end_section=end)
        if self.caption is not None:
            t.caption, t.caption_justify = rich_of(self.caption), self.caption_justify
        return t

    def __rich__(self):
        return self.to_rich()


class Stack:
    """Lines one under another in one cell (a rich Group)."""

    def __init__(self, *lines):
        self.lines = lines

    def to_rich(self):
        from rich.console import Group

        return Group(*map(rich_of, self.lines))


class Fit:
    """The first of several layouts that fits the width without wrapping a cell (render.layout.Fitting)."""

    def __init__(self, *layouts):
        self.layouts = layouts

    def to_rich(self):
        from .layout import Fitting

        return Fitting(*map(rich_of, self.layouts))

    def __rich__(self):
        return self.to_rich()


BLANK = Styled([("", "")])  # an empty line between sections (rich: Text(""))


class Doc:
    """What a command shows: blocks one after another (rich: a Group); `style` ascii is transliterated."""

    def __init__(self, blocks, style: str = "unicode"):
        self.blocks, self.style = list(blocks), style

    def to_rich(self):
        from rich.console import Group

        group = Group(*map(rich_of, self.blocks))
        if self.style == "ascii":  # every character ASCII before rich measures a column (… as ...)
            from .plain import asciify

            return asciify(group)
        return group

    def __rich__(self):
        return self.to_rich()

    def plain(self, width: int) -> str:
        """The text rich prints at this width without colour (Unsupported where it is not sure to be)."""
        if self.style != "unicode":
            raise Unsupported("ascii")
        lines = [line for block in self.blocks for line in _block(block, width)]
        return "".join(_crop(line, width) + "\n" for line in lines)


def _crop(line: str, width: int) -> str:
    """Console.print crops a line wider than the console (Segment.adjust_line_length)."""
    return set_cell_size(line, width) if cell_len(line) > width else line


def rich_of(x):
    """A part as rich draws it: str as is; Line, Stack, Grid, Fit, Styled by their to_rich."""
    return x if x is None or isinstance(x, str) else x.to_rich()


BREAK_AFTER = {"+", "−", "-", "×", "*", "/"}  # a formula's line may end after these operators …
BREAK_BEFORE = {"if", "else"}  # … or before these words


def terms(formula: str) -> list[str]:
    """A formula cut where a line may break: after a binary operator outside brackets (or before
    if/else), so `w1·x1 + w2·x2 + b1` is ['w1·x1 +', 'w2·x2 +', 'b1'] and `1 / (1 + e^−z1)` is
    ['1 /', '(1 + e^−z1)']."""
    tokens, depth, current = [], 0, ""
    for ch in formula:
        if ch == " " and depth == 0:
            tokens.append(current)
            current = ""
            continue
        depth += (ch in "([") - (ch in ")]")
        current += ch
    tokens.append(current)
    parts = tokens[:1]
    for before, token in zip(tokens, tokens[1:]):
        if before in BREAK_AFTER or token in BREAK_BEFORE:
            parts.append(token)
        else:
            parts[-1] += " " + token
    return parts


# ---------------------------------------------------------------- text layout (rich's, for these tables)

MARKUP = re.compile(r"\[[a-z#/@]|\\|:\S*:")  # what rich may read as a tag ([b], as rich.markup.RE_TAGS), an escape
# or an emoji code in a string: leave it to rich; "[1, 0]" is no tag and prints as it is


def _checked(s: str) -> str:
    if MARKUP.search(s) or "\n" in s or "\t" in s or "\r" in s:
        raise Unsupported(f"{s!r}")
    return s


def _block(block, width: int) -> list[str]:
    if isinstance(block, Fit):
        block = _choose(block, width)
    if isinstance(block, Grid):
        return _grid(block, width)
    if isinstance(block, Styled):
        return _wrap(_checked_line(block.plain), width, None, False)
    if isinstance(block, Line):
        return [w for line in block.lines(width) for w in _wrap(line, width, None, False)]
    raise Unsupported(type(block).__name__)


def _choose(fit: Fit, width: int) -> Grid:
    """Fitting.choose: the first layout whose widest measure (columns at their widest, plus dividers) fits."""
    for layout in fit.layouts:
        if sum(_measure_column(layout, c, 10 ** 4 - len(layout.columns) + 1)[1] for c in range(len(layout.columns))) \
                + len(layout.columns) - 1 <= width:
            return layout
    return fit.layouts[-1]


# -- measuring (rich.measure.Measurement.get, Padding and Table._measure_column)

def _normal(lo: int, hi: int, limit: int) -> tuple[int, int]:
    """Measurement.get's result: normalised, at most `limit`, (0, 0) when nothing is left."""
    lo = min(max(0, lo), hi)
    lo, hi = max(0, lo), max(0, max(lo, hi))
    lo, hi = min(lo, limit), min(hi, limit)
    if hi < 1:
        return 0, 0
    return min(max(0, lo), hi), max(0, max(lo, hi))


def _measure(cell, limit: int) -> tuple[int, int]:
    """(narrowest, widest) of a cell's content at most `limit` wide."""
    if limit < 1:
        return 0, 0
    if isinstance(cell, str):
        text = _checked(cell)
        widest = max(map(cell_len, text.splitlines()), default=0)
        words = text.split()
        return _normal(max(map(cell_len, words)) if words else widest, widest, limit)
    if isinstance(cell, Line):
        return _normal(*cell.measure(), limit)
    if isinstance(cell, Stack):
        if not cell.lines:
            return 0, 0
        sizes = [_measure(line, limit) for line in cell.lines]
        return _normal(max(s[0] for s in sizes), max(s[1] for s in sizes), limit)
    raise Unsupported(type(cell).__name__)


def _measure_padded(cell, limit: int) -> tuple[int, int]:
    """A cell with one space either side (rich's Padding)."""
    if limit - 2 < 1:
        lo = hi = limit
    else:
        lo, hi = _measure(cell, limit)
        lo, hi = min(lo + 2, limit), min(hi + 2, limit)
    return _normal(lo, hi, limit)


def _measure_column(g: Grid, c: int, limit: int) -> tuple[int, int]:
    if limit < 1:
        return 0, 0
    column = g.columns[c]
    sizes = [_measure_padded(cell, limit) for cell in [column.header] + [row[c] for row in g.rows]]
    lo, hi = max(s[0] for s in sizes), max(s[1] for s in sizes)
    lo, hi = min(lo, limit), min(hi, limit)
    low, high = column.options.get("min_width"), column.options.get("max_width")
    if low is not None:  # clamp: at least min_width, at most max_width (padding included)
        lo, hi = max(lo, low + 2), max(hi, low + 2)
    if high is not None:
        lo, hi = min(lo, high + 2), min(hi, high + 2)
    return lo, hi


# -- column widths (Table._calculate_column_widths, _collapse_widths, rich._ratio.ratio_reduce)

def _widths(g: Grid, limit: int) -> list[int]:
    n = len(g.columns)
    widths = [_measure_column(g, c, limit)[1] or 1 for c in range(n)]
    if sum(widths) > limit:
        wrapable = [not g.columns[c].options.get("no_wrap", False) for c in range(n)]
        widths = _collapse(widths, wrapable, limit)
        if sum(widths) > limit:  # last resort: every column narrowed evenly
            widths = _ratio_reduce(sum(widths) - limit, [1] * n, widths, widths)
        widths = [_measure_column(g, c, w)[1] or 0 for c, w in enumerate(widths)]
    return widths


def _collapse(widths: list[int], wrapable: list[bool], limit: int) -> list[int]:
    """Narrow the widest wrapable columns, step by step, until the table fits (as far as they can)."""
    total, excess = sum(widths), sum(widths) - limit
    if not any(wrapable):
        return widths
    while total and excess > 0:
        widest = max(w for w, ok in zip(widths, wrapable) if ok)
        second = max(w if ok and w != widest else 0 for w, ok in zip(widths, wrapable))
        ratios = [1 if (w == widest and ok) else 0 for w, ok in zip(widths, wrapable)]
        if not any(ratios) or not widest - second:
            break
        widths = _ratio_reduce(excess, ratios, [min(excess, widest - second)] * len(widths), widths)
        total, excess = sum(widths), sum(widths) - limit
    return widths


def _ratio_reduce(total: int, ratios: list[int], maximums: list[int], values: list[int]) -> list[int]:
    """rich._ratio.ratio_reduce: take `total` from the values in proportion to the ratios, each at most its maximum."""
    ratios = [r if m else 0 for r, m in zip(ratios, maximums)]
    total_ratio, remaining, out = sum(ratios), total, []
    if not total_ratio:
        return values[:]
    for r, m, v in zip(ratios, maximums, values):
        if r and total_ratio > 0:
            taken = min(m, round(r * remaining / total_ratio))
            out.append(v - taken)
            remaining -= taken
            total_ratio -= r
        else:
            out.append(v)
    return out


# -- drawing (Table._render, Padding, Text.wrap and Lines.justify)

def _grid(g: Grid, width: int) -> list[str]:
    """Title, header, rule, rows (a blank rule where a section ends), caption; each line as wide as the table."""
    _check_table(g)
    widths = _widths(g, width - (len(g.columns) - 1))
    if min(widths, default=0) < 3:
        raise Unsupported("a column narrower than its padding")
    rule = len(g.columns) - 1 + sum(widths)
    body = _row([c.header for c in g.columns], g, widths, header=True) + ["─" * rule]
    for i, (cells, end) in enumerate(zip(g.rows, g.ends)):
        body += _row(cells, g, widths)
        if end and i < len(g.rows) - 1:
            body.append(" " * rule)
    table_width = max(map(cell_len, body))
    return _annotation(g.title, width, table_width) + body + _annotation(g.caption, width, table_width)


OVERFLOWS = (None, "fold", "ellipsis")  # a column's overflow (rich's Column: ellipsis unless given)
TABLE = {"box": "SIMPLE_HEAD", "show_edge": False, "padding": (0, 1), "expand": False, "title_justify": "left"}


def _check_table(g: Grid) -> None:
    for key, value in TABLE.items():
        if g.table.get(key, {"expand": False}.get(key)) != value:
            raise Unsupported(f"{key}={g.table.get(key)!r}")
    if g.caption is not None and g.caption_justify != "left" or not g.columns:
        raise Unsupported("caption or columns")
    for c in g.columns:
        if c.options.get("justify", "left") not in ("left", "right") or c.options.get("overflow") not in OVERFLOWS \
                or c.options.get("width") is not None:
            raise Unsupported(f"column {c.options}")


def _row(cells: list, g: Grid, widths: list[int], header: bool = False) -> list[str]:
    """One row's lines: each cell padded to its column's width and to the row's height (a header's at the
    top, as rich aligns header cells to the bottom)."""
    drawn = [_cell(cell, c.options.get("justify", "left"), c.options.get("no_wrap", False),
                   c.options.get("overflow") or "ellipsis", w) for cell, c, w in zip(cells, g.columns, widths)]
    height = max(1, *map(len, drawn))
    drawn = [[" " * w] * (height - len(lines)) * header + lines + [" " * w] * (height - len(lines)) * (not header)
             for lines, w in zip(drawn, widths)]
    return [" ".join(parts) for parts in zip(*drawn)]


def _cell(cell, justify: str, no_wrap: bool, overflow: str, width: int) -> list[str]:
    """A padded cell's lines, each `width` cells wide."""
    inner = width - 2
    if isinstance(cell, str):
        lines = _wrap(_checked(cell), inner, justify, no_wrap, overflow)
    else:
        parts = cell.lines if isinstance(cell, Stack) else [cell]
        lines = [w for part in parts for line in part.lines(inner)
                 for w in _wrap(line, inner, justify, no_wrap, overflow)]
    return [" " + _fit(line, inner) + " " for line in lines]


def _fit(line: str, width: int) -> str:
    """Segment.adjust_line_length: padded with spaces, or cut, to exactly `width` cells."""
    n = cell_len(line)
    return line + " " * (width - n) if n < width else set_cell_size(line, width) if n > width else line


def _wrap(text: str, width: int, justify, no_wrap: bool, overflow: str = "fold") -> list[str]:
    """Text.wrap: lines cut between words (a word wider than the line folded, or cut with … for overflow
    ellipsis), then justified."""
    if no_wrap or len(text) <= width and cell_len(text) <= width:  # (divide_line would not cut it)
        lines = [text]
    else:
        cuts = [0, *divide_line(text, width, fold=overflow == "fold"), len(text)]
        lines = [_rstrip_end(text[a:b], width) for a, b in zip(cuts, cuts[1:])]
    return [_truncate(_justify(line, width, justify, overflow), width, overflow) for line in lines]


def _rstrip_end(line: str, width: int) -> str:
    """Text.rstrip_end: trailing whitespace beyond `width` characters removed."""
    excess = len(line) - width
    if excess > 0:
        spaces = len(line) - len(line.rstrip())
        return line[:len(line) - min(spaces, excess)]
    return line


def _truncate(line: str, width: int, overflow: str, pad: bool = False) -> str:
    """Text.truncate: cut to `width` cells (ending in … for overflow ellipsis); padded with pad=True."""
    n = cell_len(line)
    if n > width:
        line = set_cell_size(line, width - 1) + "…" if overflow == "ellipsis" else set_cell_size(line, width)
    return line + " " * (width - n) if pad and n < width else line


def _justify(line: str, width: int, justify, overflow: str) -> str:
    """Lines.justify: left (padded), right (stripped, padded on the left), or as it is."""
    if justify == "left":
        return _truncate(line, width, overflow, pad=True)
    if justify == "right":
        line = _truncate(line.rstrip(), width, overflow)
        return " " * (width - cell_len(line)) + line
    return line


def _annotation(text, width: int, table_width: int) -> list[str]:
    """Titled._annotation: a title or caption at the table's width, or its own up to the console's, left-justified."""
    if text is None or text == "":
        return []
    if isinstance(text, Styled):
        text = _checked_line(text.plain)
    elif isinstance(text, str):
        text = _checked(text)
    if isinstance(text, str):
        lo, hi = _measure(text, width)
    else:
        lo, hi = _measure(text, width)
    w = min(width, max(table_width, hi))
    if isinstance(text, str):
        return _wrap(text, w, "left", False)
    return [wrapped for line in text.lines(w) for wrapped in _wrap(line, w, "left", False)]
