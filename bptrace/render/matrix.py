"""The matrix form on the terminal: each equation as its formula, its shape line and its numbers.

An equation's numbers are drawn side by side (`result = W h + b`, brackets ⎡⎢⎣ ⎤⎥⎦) where they fit the
width; otherwise one operand per line (`W⁽¹⁾ = ⎡…⎤`), with columns elided (⋯) until each fits. A matrix
larger than matrix.MAX_FULL in either direction is elided in the middle (⋮ ⋯ ⋱); its shape is on the
shape line. `form` is scalar (the tables only), matrix, or both (each matrix step after the scalar table
it summarises, with a legend of which scalar each entry is).
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Group
from rich.text import Text

from .. import matrix as mx
from ..expr import render
from ..trace import Trace
from .layout import Segments
from ..i18n import _
from ..labels import front_title, sample_label
from .tables import (View, _spaced, backward_tables, block_grids, check_table, epoch_title, forward_table, loss_table,
                     summary, updates_table, verdict)

# --ascii: the matrix notation spelled in ASCII before widths are measured (the rest: bptrace.ascii)
ASCII_SUP = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾⁺⁻ᴸᴮˡ", "0123456789()+-LBl")
ASCII_SUB = str.maketrans("₀₁₂₃₄₅₆₇₈₉ₛₒ", "0123456789so")
ASCII_SIGNS = {"∇ₒE": "grad_o E", "⊙": ".*", "′": "'", "𝟏": "1", "⎡": "[", "⎢": "[", "⎣": "[", "⎤": "]", "⎥": "]",
               "⎦": "]", "⋯": "...", "⋮": ":", "⋱": "."}
BRACKETS = {"top": ("⎡", "⎤"), "mid": ("⎢", "⎥"), "bot": ("⎣", "⎦"), "one": ("[", "]")}


def plain(s: str) -> str:
    """The matrix notation in ASCII: W⁽²⁾ᵀ → W(2)^T, δ⁽²⁾₁ → delta(2)_1, ⊙ → .*, ⎡ → [."""
    import re

    from ..ascii import transliterate

    for a, b in ASCII_SIGNS.items():
        s = s.replace(a, b)
    s = re.sub("[₀-₉ₛₒ](?:,?[₀-₉ₛₒ])*", lambda m: "_" + m.group().translate(ASCII_SUB), s)
    return transliterate(s.translate(ASCII_SUP))


def _same(s: str) -> str:
    return s


def _tr(view: View):
    """How the view's strings are spelled: as they are, or in ASCII (run --ascii)."""
    return plain if getattr(view, "ascii", False) else _same


def block(m: mx.Mat, view: View, col_limit: int = mx.MAX_FULL) -> list[str]:
    """A matrix's lines with brackets, elided beyond the limits (⋮ rows, ⋯ columns, ⋱ both)."""
    tr = _tr(view)
    if m.scalar:
        return [tr(view.num(m.rows[0][0].value, m.rows[0][0].given))]
    rows, cols = mx.visible(m.shape[0]), mx.visible(m.shape[1], col_limit)
    cells = [[tr(("⋱" if j is None else "⋮") if i is None else ("⋯" if j is None else
              view.num(m.rows[i][j].value, m.rows[i][j].given))) for j in cols] for i in rows]
    widths = [max(cell_len(r[c]) for r in cells) for c in range(len(cols))]
    lines = []
    for n, r in enumerate(cells):
        where = "one" if len(cells) == 1 else "top" if n == 0 else "bot" if n == len(cells) - 1 else "mid"
        left, right = map(tr, BRACKETS[where])
        body = "  ".join(" " * (w - cell_len(c)) + c for c, w in zip(r, widths))
        lines.append(f"{left}{body}{right}")
    return lines


def _side_by_side(items: list[list[str]]) -> list[str]:
    """Blocks and operators joined left to right, centred on the tallest."""
    height = max(map(len, items))
    out = [""] * height
    for it in items:
        w = max(map(cell_len, it))
        top = (height - len(it)) // 2
        for r in range(height):
            s = it[r - top] if 0 <= r - top < len(it) else ""
            out[r] += s + " " * (w - cell_len(s))
    return [line.rstrip() for line in out]


def _labelled(label: str, lines: list[str]) -> list[str]:
    pad = " " * cell_len(label)
    return [(label if n == 0 else pad) + s for n, s in enumerate(lines)]


class EquationView:
    """One equation on the terminal, fitted to the width it is given."""

    def __init__(self, eq: mx.Equation, view: View, legend: list[tuple[str, str]] | None = None):
        self.eq, self.view, self.legend = eq, view, legend

    def numbers(self, width: int) -> list[str]:
        eq, view = self.eq, self.view
        items = [block(eq.result, view), [" = "]]
        items += [block(p, view) if isinstance(p, mx.Mat) else [_tr(view)(p.sym)] for p in eq.parts]
        lines = _side_by_side(items)
        if max(map(cell_len, lines)) + 2 <= width:
            return ["  " + s for s in lines]
        out, seen = [], set()
        for m in [p for p in eq.parts if isinstance(p, mx.Mat)] + [eq.result]:
            if m.sym in seen:
                continue
            seen.add(m.sym)
            for limit in (mx.MAX_FULL, 4, 3):
                lines = _labelled(f"  {_tr(view)(m.sym)} = ", block(m, view, limit))
                if max(map(cell_len, lines)) <= width:
                    break
            out += lines
        return out

    def __rich_console__(self, console, options):
        width = options.max_width
        tr = _tr(self.view)
        yield Text(tr(self.eq.formula), style="cyan")
        yield Text("  " + tr(self.eq.shapes), style="dim")
        for line in self.numbers(width):
            yield Text(line, no_wrap=True, overflow="ellipsis")
        if self.legend:
            pairs = [tr(f"{a} = {b}") for a, b in self.legend]
            yield Segments([_(mx.LEGEND) + f": {pairs[0]}"] + pairs[1:], ", ", "dim", "  ", keep=True)


def section(s: mx.Section, view: View, legend: bool = False) -> Group:
    tr = _tr(view)
    items: list = [Text(tr(s.title), style="bold")]
    items += [Text(tr(n), style="dim italic") for n in s.notes]
    for eq in s.equations:
        items.append(EquationView(eq, view, mx.legend(eq, view.names, view.style) if legend else None))
    return Group(*items)


def render_iteration(it, spec, view: View, form: str) -> Group:
    """The iteration in `form`: matrix (the matrix steps with the errors, check and verdict) or both."""
    view.names = it.names
    mv = mx.build(it, "p⁺ = " + render(it.rule, view.style, it.names) if it.rule is not None else "")
    both = form == "both"
    parts: list = []
    n_layers = len(spec.layers)
    for p, (fwd, back) in zip(it.passes, mv.passes):
        label = sample_label(spec, p)
        for block in p.forward.front:  # front layers (bptrace.front): their steps, as in the scalar form
            parts += [g.to_rich() for g in block_grids(front_title(block) + label, block, view)]
        if both:
            parts.append(forward_table(_("Forward pass") + label, p.forward, view))
        parts.append(section(fwd, view, both))
        parts.append(loss_table(_("Errors") + label, p.loss, view))
        tables = backward_tables(p, view, n_layers) if both else [None] * len(back)
        for t, b in zip(tables, back):
            parts += [t] if t is not None else []
            parts.append(section(b, view, both))
        for step, block in enumerate(p.front, len(p.backward) + 1):
            parts += [g.to_rich() for g in block_grids(front_title(block, step) + label, block, view)]
    if mv.batch is not None:
        parts.append(section(mv.batch, view, both))
    if both:
        parts += updates_table(it, view)
    parts.append(section(mv.update, view, both))
    parts.append(check_table(it, view))
    parts.append(verdict(it, view))
    return Group(*_spaced(parts))


def iteration_in_form(it, spec, view: View) -> Group:
    """An iteration in the form its view asks for (view.form: scalar, the default, matrix or both)."""
    from .tables import render_iteration as scalar

    form = getattr(view, "form", "scalar")
    return scalar(it, spec, view) if form == "scalar" else render_iteration(it, spec, view, form)


def render_trace(trace: Trace, precision: int = 8, formulas: bool = True, style: str = "unicode",
                 form: str = "scalar") -> Group:
    """The trace's tables (form scalar), its matrix form, or both."""
    from .tables import render_trace as scalar

    if mx.check_form(form) == "scalar":
        return scalar(trace, precision, formulas, style)
    from rich.rule import Rule

    view = View(precision, formulas, "unicode")
    view.ascii = style == "ascii"  # the matrix steps spelled in ASCII as they are drawn (render.plain the rest)
    parts: list = [summary(trace.spec, trace.names, "unicode"), Text("")]
    for it in trace.iterations:
        if len(trace.iterations) > 1:
            parts.append(Rule(epoch_title(it)))
        parts.append(render_iteration(it, trace.spec, view, form))
    if style == "ascii":
        from .plain import asciify

        return asciify(Group(*parts))
    return Group(*parts)
