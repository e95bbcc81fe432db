"""The matrix form (bptrace.matrix) as steps of walk.html: `--form matrix` or `both`.

Each equation of the matrix form is one step: its formula = its numbers (every matrix a `bmatrix`
as MathML) = its result, the shape line, and in small print which scalar each entry is. A step
highlights the keys of every scalar its matrices hold (the whole layer lights up in the diagram).

matrix: the matrix steps, with the errors and the check as scalar steps; both: each matrix step right
after the scalar step of the last entry of its result (z⁽¹⁾ after z2, ∂E/∂W⁽²⁾ after ∂E_total/∂w8).
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import matrix as mx
from ..expr import render
from ..i18n import _
from ..notation import name
from . import matrix_tex as mt

# the update's matrix step shows the diagram after the update and is in no parameter's chain, as the summary
PHASES = {"forward": "forward", "backward": "backward", "batch": "backward", "update": "summary"}


@dataclass(frozen=True)
class MatrixStep:
    """One matrix equation of the walk: a unique key, its section, and the keys of its entries."""

    key: str
    eq: mx.Equation
    title: str
    phase: str
    depends_on: tuple[str, ...]  # every scalar of its matrices (highlighted with it)
    result: tuple[str, ...]  # the scalars of its result: in both form, it follows the last of them
    notes: tuple[str, ...] = ()
    sample: int = 1
    reads: tuple[str, ...] = ()  # what a parameter's chain follows from it: nothing


def _keys(m: mx.Mat, names, tags: tuple[int, ...]) -> list[str]:
    """The walk's keys of a matrix's entries (walk_html.key): w5 is shared, z1@2 is sample 2's z1."""
    out = []
    for row in m.rows:
        for c in row:
            if c.ident is None:
                continue
            n = name(c.ident, names, "ascii")
            shared = c.ident.kind in ("w", "b") or tags == (0,)
            out += [n] if shared else [f"{n}@{t}" for t in tags]
    return out


def matrix_steps(it, names) -> list[MatrixStep]:
    """Every equation of the iteration's matrix form, in the matrix form's order."""
    view = mx.build(it, render(it.rule, "unicode", names) if it.rule is not None else "")
    multi = len(it.passes) > 1
    every = tuple(p.sample for p in it.passes) if multi else (0,)
    steps, seen = [], set()
    for s in view.sections():
        tags = (s.sample,) if multi and s.sample else every  # the batch and the update: every sample's
        for i, eq in enumerate(s.equations):
            key = "matrix " + eq.lhs_sym + (f"@{s.sample}" if multi and s.sample else "")
            while key in seen:  # the batch's mean, then the same with the samples as columns
                key += "'"
            seen.add(key)
            deps = tuple(dict.fromkeys(k for m in eq.mats() for k in _keys(m, names, tags)))
            steps.append(MatrixStep(key, eq, s.title, PHASES[s.kind], deps, tuple(_keys(eq.result, names, tags)),
                                    s.notes if i == 0 else (), s.sample or 1))
    return steps


def walk(scalar: list, it, names, form: str) -> list:
    """The walk's steps in `form`: matrix (the matrix steps, the errors and the check), or both."""
    matrix = matrix_steps(it, names)
    if form == "matrix":
        loss = [s for s in scalar if s.phase == "loss"]
        check = [s for s in scalar if s.phase == "check"]
        forward = [m for m in matrix if m.phase == "forward"]
        return forward + loss + [m for m in matrix if m.phase != "forward"] + check
    at = {s.key: i for i, s in enumerate(scalar)}
    after: dict[int, list] = {}
    for m in matrix:
        found = [at[k] for k in m.result if k in at] or [at[k] for k in m.depends_on if k in at]
        after.setdefault(max(found, default=len(scalar) - 1), []).append(m)
    return [x for i, s in enumerate(scalar) for x in (s, *after.get(i, []))]


# ---------------------------------------------------------------- as MathML


def _pieces(eq: mx.Equation, precision: int) -> list[str]:
    """The numbers side in LaTeX pieces, one operand each (a narrow screen wraps between them): an
    operator opens the piece of the operand after it, a closing bracket ends the piece before it."""
    pieces, has_mat = [[]], False
    for p in eq.parts:
        closing = isinstance(p, mx.Op) and p.tex == r"\right)"
        if has_mat and not closing and (isinstance(p, mx.Op) or not pieces[-1]):
            pieces.append([])
            has_mat = False
        pieces[-1].append(mt.bmatrix(p, precision) if isinstance(p, mx.Mat) else p.tex)
        has_mat = has_mat or isinstance(p, mx.Mat) or closing
    return [" ".join(p).replace(r"\left(", r"\Biggl(").replace(r"\right)", r"\Biggr)") for p in pieces if p]


def equation(eq: mx.Equation, precision: int, mathml) -> str:
    """name = formula = numbers = result, each side (and each operand of the numbers) its own <math>."""
    lhs, formula = mt.tex_name(eq.lhs_tex), mt.formula(eq).split(" = ", 1)[1]
    numbers = "".join(mathml(("= " if i == 0 else "") + t) for i, t in enumerate(_pieces(eq, precision)))
    return (f'<span class="side">{mathml(lhs)}</span> <span class="side">{mathml("= " + formula)}</span> '
            f'<span class="side">{numbers}</span> <span class="side">{mathml("= " + mt.bmatrix(eq.result, precision))}'
            '</span>')


def small_print(step: MatrixStep, schemes: dict, mathml, esc) -> str:
    """The shape line, the notes and the entries legend (in each naming scheme)."""
    legend = "".join(f'<span class="{s}">' + ", ".join(mathml(t) for t in mt.legend(step.eq, N)) + "</span>"
                     for s, N in schemes.items()) if mt.legend(step.eq, next(iter(schemes.values()))) else ""
    notes = "".join(f"<br>{esc(n)}" for n in step.notes)
    shapes, entries = _(mt.SHAPE_HEAD), _(mt.LEGEND_HEAD)  # in the page's language
    return (f'<p class="shapes"><small>{shapes}: {mathml(mt.shapes(step.eq))}{notes}'
            + (f"<br>{entries}: {legend}" if legend else "") + "</small></p>")
