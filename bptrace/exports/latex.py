"""A standalone LaTeX document of a trace, in the terminal's order (`--export notes.tex`).

Compiles with pdflatex from a basic TeX Live (amsmath, amssymb, geometry, booktabs). Each layer
is an `align*`; a quantity's formula and its numbers stand on rows of their own, and a long sum
of numbers is broken every few terms, so nothing runs off the page.
"""

from __future__ import annotations

import math

from .. import groups
from ..expr import Op, render
from ..fmt import num, signed
from ..formulas import state_id, update_tree
from ..i18n import N_, _, ngettext
from ..labels import (DROPOUT_FORMULA, DROPOUT_FORMULA_TEX, dropout_note, epoch_heading, front_bias, front_title, grid_label, sample_label,
                      smoothing_label)
from ..notation import E_TOTAL, after, name, partial
from ..schedules import described
from .markdown import TEX, _own
from ..trace import Iteration, LayerBackward, Trace, forward_items, layer_rows, neuron_rows

PREAMBLE = r"""\documentclass[10pt]{article}
\usepackage[a4paper,margin=2cm]{geometry}
\usepackage{amsmath,amssymb}
\usepackage{booktabs}
\allowdisplaybreaks
\setlength{\parindent}{0pt}
"""
FRACTIONS_PER_ROW = 3  # ∂E_total/∂k_12 via u_11 + …: a wide fraction each
TERMS_PER_ROW = 3  # a sum of numbers longer than this continues on the next row
TABLE_ROWS = 40  # a table longer than this is split (a tabular cannot break across pages)
_ESCAPES = {"\\": r"\textbackslash{}", "#": r"\#", "$": r"\$", "%": r"\%", "&": r"\&", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


KOTEX = r"\usepackage{kotex}"  # Korean (Debian: texlive-lang-korean), loaded when the text has Hangul


def is_hangul(c: str) -> bool:
    """Hangul syllables and jamo: what kotex typesets."""
    return "\uac00" <= c <= "\ud7a3" or "\u1100" <= c <= "\u11ff" or "\u3130" <= c <= "\u318f"


def escape(s: str) -> str:
    """Text (titles, labels) safe for LaTeX: \\ # $ % & _ { } ~ ^ escaped; Hangul kept (kotex); other non-ASCII
    dropped to '?'."""
    return "".join(c if is_hangul(c) else _ESCAPES.get(c, c).encode("ascii", "replace").decode("ascii") for c in s)


class _Doc:
    def __init__(self, names, precision: int, form: str = "scalar"):
        self.names, self.p = names, precision
        self.form = form  # scalar, matrix or both (bptrace.matrix)
        self.out: list[str] = []

    def add(self, *lines: str) -> None:
        self.out.extend(lines)

    def n(self, v: float, given: bool = False) -> str:
        return num(v, self.p, given, "latex")

    def name(self, ident) -> str:
        return name(ident, self.names, "latex")

    # ------------------------------------------------------------ equations

    def rows(self, lhs: str, tree, value: str, alias: str = "") -> str:
        """lhs &= [alias \\ &=] formula \\ &= numbers = value, the numbers broken every few terms."""
        rows = [f"{lhs} &= {alias}"] if alias else []
        if tree is None:
            rows.append(f"{'' if alias else lhs + ' '}&= {value}")
            return " \\\\\n".join(rows)
        formula = render(tree, "latex", self.names)
        parts = self.formula(tree)
        rows.append(f"{'' if rows else lhs + ' '}&= {parts[0]}")
        rows += [f"&\\quad {part}" for part in parts[1:]]
        numbers = self.numbers(tree)
        if numbers[-1] != formula:
            rows += [f"&= {numbers[0]}"] + [f"&\\quad {part}" for part in numbers[1:]]
        rows[-1] += f" = {value}"
        return " \\\\\n".join(rows)

    def formula(self, tree) -> list[str]:
        """The formula, as one row or (a long sum of fractions: a gradient's terms, one per position or time
        step) several rows of at most FRACTIONS_PER_ROW terms."""
        if isinstance(tree, Op) and tree.op == "add" and len(tree.args) > FRACTIONS_PER_ROW:
            terms = [render(a, "latex", self.names, term=True) for a in tree.args]
            if any("\\frac" in t for t in terms):
                chunks = [terms[i:i + FRACTIONS_PER_ROW] for i in range(0, len(terms), FRACTIONS_PER_ROW)]
                return [" + ".join(chunks[0])] + ["+ " + " + ".join(c) for c in chunks[1:]]
        return [render(tree, "latex", self.names)]

    def numbers(self, tree) -> list[str]:
        """The numbers line, as one row or (a long sum) several rows of at most TERMS_PER_ROW terms."""
        if isinstance(tree, Op) and tree.op == "add" and len(tree.args) > TERMS_PER_ROW:
            terms = [render(a, "latex", self.names, True, self.p, term=True) for a in tree.args]
            chunks = [terms[i:i + TERMS_PER_ROW] for i in range(0, len(terms), TERMS_PER_ROW)]
            return [" + ".join(chunks[0])] + ["+ " + " + ".join(c) for c in chunks[1:]]
        return [render(tree, "latex", self.names, True, self.p)]

    def equations(self, items) -> None:
        """items: (lhs, tree, value, alias) -> one align* block."""
        self.add(r"\begin{align*}", " \\\\[4pt]\n".join(self.rows(*i) for i in items), r"\end{align*}")

    def q(self, q, alias: str = ""):
        return self.name(q.ident), q.expr, self.n(q.value, q.given), alias

    # ------------------------------------------------------------ sections

    def iteration(self, it: Iteration, spec, level: str = "section") -> None:
        if self.form != "scalar":
            return self.in_form(it, spec, level)
        for p in it.passes:
            suffix = sample_label(spec, p)
            self.heading(level, _('Forward pass') + suffix)
            for block in p.forward.front:
                self.block("sub" + level, front_title(block), block)
            L = len(p.forward.layers)
            for l, layer in enumerate(p.forward.layers):
                self.heading("sub" + level, _('Output layer') if l == L - 1 else _('Hidden layer {n}').format(n=l + 1))
                self.equations([self.q(q) for q in layer_rows(layer)])  # with dropout: m and h̃ too
            note = dropout_note(p.forward)
            if note:
                self.add(" ".join(DROPOUT_FORMULA_TEX if t == DROPOUT_FORMULA else escape(t) for t in note))
            self.heading(level, _('Errors') + suffix)
            smoothed = [t for t in p.loss.targets if t.formula is not None]  # label smoothing: the targets read
            self.equations([self.q(e) for e in (*smoothed, *p.loss.errors, p.loss.total)])
            self.heading(level, _('Backward pass') + suffix)
            for step, lb in enumerate(p.backward, 1):
                self.heading("sub" + level, _('Step {step}: {what}').format(step=step, what=layer_word(lb, L)))
                items = []
                for n, nf in zip(lb.neurons, p.forward.layers[lb.index]):
                    alias = self.name(partial(E_TOTAL, nf.z.ident))
                    items += [self.q(q, alias if q is n.delta else "")
                              for q in neuron_rows(LayerBackward(lb.index, (n,), ()))]
                self.equations(items + [self.q(g) for g in lb.gradients])
            for step, block in enumerate(p.front, len(p.backward) + 1):
                self.block("sub" + level, front_title(block, step, under=True), block)
        self.updates(it, spec, level)
        self.check(it, level)

    def block(self, level: str, title: str, block) -> None:
        """A front layer's step (bptrace.front): its equations, then each grid of values as a small matrix."""
        self.heading(level, escape(title))
        self.equations([self.q(q) for q in block.rows])
        for label, cells in block.grids:
            rows = [r" & ".join(self.n(q.value, q.given) for q in row) for row in cells]
            self.add(r"\[" + rf"\text{{{escape(grid_label(label, 'ascii'))}}}:\ \begin{{bmatrix}}" + r" \\ ".join(rows) + r"\end{bmatrix}\]")

    # ------------------------------------------------------------ the matrix form

    def in_form(self, it: Iteration, spec, level: str) -> None:
        """--form matrix: the matrix steps with the errors and the check; both: each after its scalar step."""
        from .. import matrix as mx

        both = self.form == "both"
        view = mx.build(it, render(it.rule, "unicode", self.names) if it.rule is not None else "")
        for p, (fwd, back) in zip(it.passes, view.passes):
            suffix = sample_label(spec, p)
            L = len(p.forward.layers)
            for block in p.forward.front:  # front layers (bptrace.front): as in the scalar form
                self.block(level, front_title(block) + suffix, block)
            if both:
                self.heading(level, _('Forward pass') + suffix)
                self.equations([self.q(q) for layer in p.forward.layers for q in layer_rows(layer)])
            self.matrix_section(fwd, level)
            self.heading(level, _('Errors') + suffix)
            self.equations([self.q(e) for e in (*p.loss.errors, p.loss.total)])
            for step, (lb, b) in enumerate(zip(p.backward, back), 1):
                if both:
                    what = _("Backward step {step}: {what}").format(step=step, what=layer_word(lb, L))
                    self.add(rf"\{level}*{{{what}{suffix}}}")
                    items = []
                    for n, nf in zip(lb.neurons, p.forward.layers[lb.index]):
                        alias = self.name(partial(E_TOTAL, nf.z.ident))
                        items += [self.q(q, alias if q is n.delta else "")
                                  for q in neuron_rows(LayerBackward(lb.index, (n,), ()))]
                    self.equations(items + [self.q(g) for g in lb.gradients])
                self.matrix_section(b, level)
            for step, block in enumerate(p.front, len(back) + 1):
                self.block(level, front_title(block, step) + suffix, block)
        if view.batch is not None:
            self.matrix_section(view.batch, level)
        if both:
            self.updates(it, spec, level)
        self.matrix_section(view.update, level)
        self.check(it, level)

    def matrix_section(self, s, level: str) -> None:
        """Each equation: its formula, its numbers (bmatrix), its shape line; both: which scalar each entry is."""
        from . import matrix_tex as mt

        self.add(rf"\{level}*{{{escape(s.title)}}}")
        for note in s.notes:
            self.add(rf"\emph{{{escape(note)}}}\par")
        for eq in s.equations:
            self.add(r"\begin{gather*}", mt.formula(eq) + r" \\",
                     *(row + r" \\" for row in mt.numbers_rows(eq, self.p)),
                     r"\text{" + _(mt.SHAPE_HEAD) + rf": }} {mt.shapes(eq)}", r"\end{gather*}")
            if self.form == "both":
                pairs = mt.legend(eq, self.names)
                if pairs:
                    self.add(r"{\small\sloppy " + _(mt.LEGEND_HEAD) + ": " + ", ".join(f"${p}$" for p in pairs) + r"\par}")

    def updates(self, it: Iteration, spec, level: str) -> None:
        self.heading(level, _('Updates'))
        live = [u for u in it.updates if not u.frozen]
        if live:
            self.add(_("With {lr} (optimizer {optimizer}):").format(
                lr=rf"$\alpha = {it.learning_rate:g}$" + _own(groups.summary(it, **TEX)), optimizer=rf"\texttt{{{escape(it.optimizer)}}}"))
            items = [("p^{+}", None, render(it.rule, "latex", self.names), "")]
            items += [(self.name(after(u.ident)), update_tree(it, spec.optimizer.hyper, u), self.n(u.new), "")
                      for u in live]
            self.equations(items)
        keys = list(dict.fromkeys(k for u in it.updates for k in u.state))
        head = [_("parameter"), _("old"), _("gradient"), *[f"${name(state_id(k), None, 'latex')}$" for k in keys], _("new")]
        rows = [[f"${self.name(u.ident)}$", f"${self.n(u.old, u.given)}$", f"${self.n(u.gradient)}$",
                 *[f"${self.n(u.state[k])}$" if k in u.state else "" for k in keys],  # a frozen one keeps no state
                 f"${self.n(u.new)}$" + (" " + _("(frozen)") if u.frozen else "")]
                for u in it.updates]
        self.table(head, rows)

    def check(self, it: Iteration, level: str) -> None:
        self.heading(level, _('Check: forward pass with the updated weights'))
        rows = []
        for p, c in zip(it.passes, it.checks):
            for (*_x, b), (*_y, q) in zip(forward_items(p.forward, p.loss), forward_items(c.forward, c.loss)):
                rows.append([f"${self.name(b.ident)}$", f"${self.n(b.value)}$", f"${self.n(q.value)}$",
                             f"${signed(q.value - b.value, self.p, 'latex')}$"])
        self.table([_("quantity"), _("before"), _("after"), _("change")], rows)
        b, a = it.loss_before, it.loss_after
        verdict = _("the update overflowed; try a smaller learning rate") if not math.isfinite(a) else (
            _("down") if a < b else _("up") if a > b else _("unchanged"))
        self.add(rf"\textbf{{$E_{{total}}$: ${self.n(b)}$ $\to$ ${self.n(a)}$}}, {verdict}.", "")

    def table(self, head: list[str], rows: list[list[str]]) -> None:
        spec = "l" + "r" * (len(head) - 1)
        for i in range(0, max(len(rows), 1), TABLE_ROWS):
            self.add(r"\begin{center}", rf"\begin{{tabular}}{{{spec}}}", r"\toprule", " & ".join(head) + r" \\",
                     r"\midrule", *[" & ".join(r) + r" \\" for r in rows[i:i + TABLE_ROWS]], r"\bottomrule",
                     r"\end{tabular}", r"\end{center}")

    def heading(self, level: str, title: str) -> None:
        self.add(rf"\{level}*{{{title}}}")

    def network(self, spec) -> None:
        N = self.names
        self.heading("section", _("The network"))
        rows = [[_("input"), ", ".join(f"${self.name(q)}$" for q in _ids("x", N.widths[0])), "", "", ""]]
        if spec.front:  # front layers (bptrace.front): the input's shape, then each layer's output shape
            rows = [[_("input"), r"$\times$".join(map(str, spec.x_shape)), "", "", ""]]
            rows += [[escape(f.kind), r"$\times$".join(map(str, f.out_shape)), escape(getattr(f, "activation", "")),
                      front_bias(f), str(f.n_params)] for f in spec.front]
        for l, layer in enumerate(spec.layers):
            label = _("output") if l == len(spec.layers) - 1 else _("hidden {n}").format(n=l + 1)
            outs = [f"${self.name(i)}$" for i in _ids("out", layer.units, l)]
            bias = _("none") if layer.bias is None else (_("shared") if layer.shared_bias else str(len(layer.bias)))
            act = escape(layer.activation)
            if layer.dropout:
                act += " " + escape(_("(dropout p = {p})").format(p=f"{layer.dropout:g}"))
            rows.append([label, _span(outs), act, bias, str(layer.n_params)])
        self.table([_(c) for c in NETWORK_HEAD], rows)
        smoothing = smoothing_label(rf"$\varepsilon = {spec.label_smoothing:g}$") if spec.label_smoothing else ""
        self.add(_("Loss {loss}{smoothing}, learning rate {lr}, optimizer {optimizer}; {n} parameters.").format(
            loss=rf"\texttt{{{escape(spec.loss)}}}", smoothing=smoothing,
            lr=rf"$\alpha = {spec.learning_rate:g}$" + escape(described(spec)) + _own(groups.spec_summary(spec, **TEX)),
            optimizer=rf"\texttt{{{escape(spec.optimizer.name)}}}", n=f"{spec.n_params:,}"), "")


NETWORK_HEAD = (N_("layer"), N_("neurons"), N_("activation"), N_("bias"), N_("parameters"))


def _ids(kind: str, count: int, l: int = 0):
    from ..notation import Id

    return [Id(kind, l, j) for j in range(count)]


def _span(items: list[str]) -> str:
    return ", ".join(items) if len(items) <= 3 else f"{items[0]}, \\dots, {items[-1]}"


def layer_word(lb, L: int) -> str:
    return _("output layer") if lb.index == L - 1 else _("hidden layer {n}").format(n=lb.index + 1)


def _document(title: str, body: list[str]) -> str:
    korean = any(map(is_hangul, title)) or any(is_hangul(c) for line in body for c in line)
    return "\n".join([PREAMBLE + (KOTEX + "\n" if korean else ""), rf"\title{{{escape(title)}}}", r"\date{}", r"\begin{document}", r"\maketitle",
                      *body, r"\end{document}", ""])


def trace_latex(trace: Trace, precision: int = 8, form: str = "scalar") -> str:
    d = _Doc(trace.names, precision, form)
    d.network(trace.spec)
    for it in trace.iterations:
        if len(trace.iterations) > 1:
            d.add(rf"\section*{{{epoch_heading(it)}}}")
        d.iteration(it, trace.spec, "section" if len(trace.iterations) == 1 else "subsection")
    return _document(trace.spec.title or _("bptrace trace"), d.out)


def run_latex(r, precision: int = 8, form: str = "scalar") -> str:
    """A training run: the network, each traced iteration, and the loss from first to last epoch."""
    d = _Doc(r.names, precision, form)
    d.network(r.spec)
    for it in r.traces:
        d.add(rf"\section*{{{epoch_heading(it)}}}")
        d.iteration(it, r.spec, "subsection")
    if r.epochs_done:
        after = ngettext("after {n} epoch", "after {n} epochs", r.epochs_done).format(n=f"{r.epochs_done:,}")
        d.add(r"\textbf{" + _("Loss") + rf": ${d.n(r.loss[0])}$ $\to$ ${d.n(r.loss[-1])}$}} {after}.")
    return _document(r.spec.title or _("bptrace training run"), d.out)
