"""The matrix form (bptrace.matrix) as LaTeX math, shared by the Markdown (KaTeX) and LaTeX exports.

An equation is three lines of math: its formula over names (z^{(1)} = W^{(1)} h^{(0)}), the same with
every matrix written out as a `bmatrix` of numbers, and its shape line ([2×2]·[2×1] = [2×1]). A matrix
larger than matrix.MAX_FULL either way is elided in the middle (\\vdots, \\cdots, \\ddots); its shape
is on the shape line. `legend` says which scalar each entry is (both form).
"""

from __future__ import annotations

import re

from .. import matrix as mx
from ..fmt import num
from ..i18n import N_
from ..notation import name

SHAPE_HEAD = N_("shapes")  # translated where shown (i18n)
LEGEND_HEAD = N_("entries")


def tex_name(s: str) -> str:
    """A name safe for TeX: W^{(2)}^{\\top} (a double superscript) as W^{(2)\\top}."""
    return re.sub(r"\^\{(\([^{}]*\))\}\^\{", r"^{\1", s)


def bmatrix(m: mx.Mat, precision: int) -> str:
    """The numbers of a matrix, elided beyond MAX_FULL rows or columns."""
    if m.scalar:
        return num(m.rows[0][0].value, precision, m.rows[0][0].given, "latex")
    rows, cols = mx.visible(m.shape[0]), mx.visible(m.shape[1])
    lines = []
    for i in rows:
        cells = []
        for j in cols:
            if i is None:
                cells.append(r"\ddots" if j is None else r"\vdots")
            elif j is None:
                cells.append(r"\cdots")
            else:
                c = m.rows[i][j]
                cells.append(num(c.value, precision, c.given, "latex"))
        lines.append(" & ".join(cells))
    return r"\begin{bmatrix}" + r" \\ ".join(lines) + r"\end{bmatrix}"


def _op(p: mx.Op) -> str:
    return p.tex


def formula(eq: mx.Equation) -> str:
    return tex_name(eq.lhs_tex) + " = " + " ".join(tex_name(p.tex) if isinstance(p, mx.Mat) else _op(p)
                                                    for p in eq.parts)


def numbers(eq: mx.Equation, precision: int) -> str:
    rhs = " ".join(bmatrix(p, precision) if isinstance(p, mx.Mat) else _op(p) for p in eq.parts)
    return bmatrix(eq.result, precision) + " = " + rhs


LINE_CHARS = 60  # a row of numbers wider than this (in characters of numbers) is broken, for an A4 page


def _width(p, precision: int) -> int:
    """About how many characters of numbers a token takes."""
    if isinstance(p, mx.Op):
        return 2
    if p.scalar:
        return len(num(p.rows[0][0].value, precision, p.rows[0][0].given))
    rows, cols = mx.visible(p.shape[0]), mx.visible(p.shape[1])
    return 2 + max(sum(2 + (1 if i is None or j is None else len(num(p.rows[i][j].value, precision, p.rows[i][j].given)))
                       for j in cols) for i in rows)


def numbers_rows(eq: mx.Equation, precision: int, limit: int = LINE_CHARS) -> list[str]:
    """The numbers line, broken before an operand or operator where it would pass `limit` (then the
    brackets are fixed-size \\Biggl( \\Biggr), which need no partner on the same row)."""
    tokens = [eq.result, mx.Op(" = ", "=")] + list(eq.parts)
    if sum(_width(t, precision) for t in tokens) <= limit:
        return [numbers(eq, precision)]
    rows, row, used = [], [], 0
    for t in tokens:
        w = _width(t, precision)
        if row and used + w > limit and not (isinstance(t, mx.Op) and t.tex in (r"\right)", ")")):
            rows.append(row)
            row, used = [], 0
        row.append(bmatrix(t, precision) if isinstance(t, mx.Mat) else t.tex)
        used += w
    rows.append(row)
    return [" ".join(r).replace(r"\left(", r"\Biggl(").replace(r"\right)", r"\Biggr)") for r in rows]


def shapes(eq: mx.Equation) -> str:
    def one(p) -> str:
        if isinstance(p, mx.Mat):
            return tex_name(p.tex) if p.scalar else "[{}{{\\times}}{}]".format(*p.shape)
        return r"\cdot" if p.shape == "·" else p.tex

    return " ".join(map(one, eq.parts)) + " = [{}{{\\times}}{}]".format(*eq.result.shape)


def legend(eq: mx.Equation, names) -> list[str]:
    """`(W^{(1)})_{12} = w_{2}` for every named entry, each matrix once."""
    out, seen = [], set()
    for m in eq.mats():
        if m.tex in seen or m.scalar or all(c.ident is None for row in m.rows for c in row):
            continue
        seen.add(m.tex)
        r, c = m.shape
        for i, row in enumerate(m.rows):
            for j, cell in enumerate(row):
                if cell.ident is not None:
                    idx = str((i if c == 1 else j) + 1) if 1 in (r, c) else f"{i + 1}{',' if max(r, c) > 9 else ''}{j + 1}"
                    out.append(rf"\left({tex_name(m.tex)}\right)_{{{idx}}} = {name(cell.ident, names, 'latex')}")
    return out
