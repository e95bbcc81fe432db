"""Markdown that reads like the worked example: each quantity as display math with its
formula, the numbers put in, and the result; Mermaid diagrams of the network before and
after the update. Renders on GitHub (math in $$ blocks, Mermaid in mermaid fences).
"""

from __future__ import annotations

import html
import math
import re

import numpy as np

from .. import activations, groups
from ..expr import render
from ..fmt import num, signed
from ..formulas import state_id, update_tree
from ..i18n import N_, _, ngettext
from ..labels import (dropout_note, epoch_heading, eval_mode_note, front_bias, front_title, grid_label,
                      sample_label, smoothing_label)
from ..notation import E_TOTAL, Id, after, name, param_ids, partial
from ..schedules import described
from ..trace import Forward, Iteration, LayerBackward, Loss, Pass, Trace, forward_items, layer_rows, neuron_rows


def text(s: str) -> str:
    """User text (titles) made safe for Markdown: HTML escaped, Markdown punctuation backslashed."""
    return re.sub(r"([\\`*_\[\]#|~$])", r"\\\1", html.escape(s, quote=False))


def _math(*parts: str) -> str:
    return "$$\n" + " = ".join(p for p in parts if p) + "\n$$\n"


TEX = {"alpha": r"$\alpha$", "lam": r"$\lambda$"}  # groups.summary's symbols in Markdown and LaTeX text


def _own(text: str) -> str:
    """ (layer 2: α = 0.25) after α, with parameter groups."""
    return f" ({text})" if text else ""


class _Writer:
    def __init__(self, spec, names, precision: int, form: str = "scalar"):
        self.spec, self.names, self.p = spec, names, precision
        self.form = form  # scalar, matrix or both (bptrace.matrix)
        self.lines: list[str] = []

    def add(self, *blocks: str) -> None:
        self.lines.extend(blocks)

    def n(self, v: float, given: bool = False) -> str:
        return num(v, self.p, given, "latex")

    def name(self, q) -> str:
        return name(q.ident, self.names, "latex")

    def eq(self, q, alias: str = "") -> None:
        """name = formula = numbers = value, the way the worked example writes it."""
        parts = [self.name(q), alias]
        if q.expr is not None:
            formula, numbers = render(q.expr, "latex", self.names), render(q.expr, "latex", self.names, True, self.p)
            parts += [formula, numbers if numbers != formula else ""]
        self.add(_math(*parts, self.n(q.value, q.given)))

    # ------------------------------------------------------------ network

    def heading(self, level: int, title: str) -> None:
        self.add(f"{'#' * level} {title}\n")

    def network(self, level: int) -> None:
        spec, N = self.spec, self.names
        self.heading(level, _('The network'))
        head = [_(c) for c in NETWORK_HEAD]
        inputs = "×".join(map(str, spec.x_shape)) if spec.front else ", ".join(N.inputs)  # an image: its shape
        rows = ["| " + " | ".join(head) + " |", "|---|---|---|---|---|", "| " + _("input") + f" | {inputs} | | | |"]
        if spec.front:  # front layers (bptrace.front): then each layer's output shape
            rows += [f"| {f.kind} | {'×'.join(map(str, f.out_shape))} | {getattr(f, 'activation', '')} | "
                     f"{front_bias(f)} | {f.n_params} |" for f in spec.front]
        for l, layer in enumerate(spec.layers):
            label = _("output") if l == len(spec.layers) - 1 else _("hidden {n}").format(n=l + 1)
            bias = _("none") if layer.bias is None else (_("shared") + " " if layer.shared_bias else "") + ", ".join(N.biases[l])
            if layer.bias is not None and not layer.train_bias:
                bias += " " + _("(frozen)")
            act = layer.activation + (" " + _("(slope {slope})").format(slope=f"{layer.slope:g}") if layer.activation == "leaky_relu" else "")
            act += f" ({activations.params_text(layer, lambda v: f'{v:g}')})" if activations.params_text(layer) else ""
            act += " " + _("(dropout p = {p})").format(p=f"{layer.dropout:g}") if layer.dropout else ""
            rows.append(f"| {label} | {', '.join(N.out[l])} | {act} | {bias} | {layer.n_params} |")
        self.add("\n".join(rows) + "\n")
        opt = spec.optimizer
        hyper = ", ".join(f"{k} = {v}" for k, v in opt.hyper.items() if v or k == "momentum")
        smoothing = smoothing_label(f"$\\varepsilon = {spec.label_smoothing:g}$") if spec.label_smoothing else ""
        self.add(_("Loss {loss}{smoothing}, learning rate {lr}, optimizer {optimizer}; {n} parameters.").format(
            loss=f"`{spec.loss}`", smoothing=smoothing, lr=f"$\\alpha = {spec.learning_rate:g}$" + described(spec) + _own(groups.spec_summary(spec, **TEX)),
            optimizer=f"`{opt.name}`" + (f" ({hyper})" if hyper else ""), n=f"{spec.n_params:,}") + "\n")

    def mermaid(self, title: str, weights: dict[str, float], biases: dict[str, float],
                given: frozenset[str] = frozenset()) -> None:
        """The network as a Mermaid graph, each edge labelled with its weight. Parameters named in
        `given` are the spec's, shown as written (w1 = 0.3); the others were computed (at --precision)."""
        N = self.names

        def label(p: str, v: float) -> str:
            return f"{p} = {num(v, self.p, p in given)}"

        if sum(len(r) for layer in N.weights for r in layer) > 60:
            return  # a diagram of a wide network is unreadable
        ids = {}
        lines = ["```mermaid", "graph LR"]
        for layer_names in (N.inputs, *N.out):
            for name in layer_names:
                ids[name] = f"n{len(ids)}"
                lines.append(f'    {ids[name]}(("{name}"))')
        for l, layer in enumerate(N.weights):
            for j, row in enumerate(layer):
                for k, w in enumerate(row):
                    src = N.source(l, k)
                    lines.append(f'    {ids[src]} -->|"{label(w, weights[w])}"| {ids[N.out[l][j]]}')
        lines.append("```")
        self.add(f"{title}\n", "\n".join(lines) + "\n")
        if biases:
            self.add(_("Biases:") + " " + ", ".join(label(b, v) for b, v in biases.items()) + ".\n")

    # ------------------------------------------------------------ forward and errors

    def block(self, level: int, title: str, block) -> None:
        """A front layer's step (bptrace.front): each quantity's equation, then its grids of values."""
        self.heading(level, title)
        for q in block.rows:
            self.eq(q)
        for label, cells in block.grids:
            head = "| " + text(grid_label(label)) + " | " + " | ".join(str(c + 1) for c in range(cells.shape[1])) + " |"
            rows = [head, "|---" * (cells.shape[1] + 1) + "|"]
            rows += [f"| {r + 1} | " + " | ".join(self.u(q.value, q.given) for q in cells[r]) + " |"
                     for r in range(cells.shape[0])]
            self.add("\n".join(rows) + "\n")

    def forward(self, level: int, f: Forward, title: str) -> None:
        self.add(f"{'#' * level} {title}\n")
        for block in f.front:
            self.block(level + 1, front_title(block), block)
        L = len(f.layers)
        for l, layer in enumerate(f.layers):
            self.heading(level + 1, _('Output layer') if l == L - 1 else _('Hidden layer {n}').format(n=l + 1))
            for q in layer_rows(layer):  # z, out; with dropout m and h̃ = m·h / (1 − p)
                self.eq(q)
        if dropout_note(f):
            self.add(" ".join(dropout_note(f)) + "\n")

    def errors(self, level: int, loss: Loss, f: Forward, title: str) -> None:
        self.add(f"{'#' * level} {title}\n")
        smoothed = [t for t in loss.targets if t.formula is not None]  # label smoothing: the targets the loss reads
        for q in (*smoothed, *loss.errors, loss.total):
            self.eq(q)

    # ------------------------------------------------------------ backward

    def backward(self, level: int, p: Pass, after_step=None) -> None:
        """The backward pass step by step; after_step(step) adds what follows each step (--form both)."""
        self.heading(level, _('Backward pass'))
        L = len(p.backward)
        for step, layer in enumerate(p.backward, 1):
            what = _("output layer") if layer.index == L - 1 else _("hidden layer {n}").format(n=layer.index + 1)
            self.heading(level + 1, _('Step {step}: {what}').format(step=step, what=what))
            for n, nf in zip(layer.neurons, p.forward.layers[layer.index]):
                alias = name(partial(E_TOTAL, nf.z.ident), self.names, "latex")
                for q in neuron_rows(LayerBackward(layer.index, (n,), ())):
                    self.eq(q, alias if q is n.delta else "")
            for g in layer.gradients:
                self.eq(g)
            if after_step is not None:
                after_step(step)
        for step, block in enumerate(p.front, L + 1):
            self.block(level + 1, front_title(block, step, under=True), block)

    # ------------------------------------------------------------ update and check

    def updates(self, level: int, it: Iteration) -> None:
        self.heading(level, _('Updates'))
        live = [u for u in it.updates if not u.frozen]
        if live:
            self.add(_math("p^{+}", render(it.rule, "latex", self.names)) + _("with {lr}:").format(lr=f"$\\alpha = {it.learning_rate:g}$" + _own(groups.summary(it, **TEX))) + "\n")
        hyper = self.spec.optimizer.hyper
        for u in live:
            tree = update_tree(it, hyper, u)
            self.add(_math(name(after(u.ident), self.names, "latex"), render(tree, "latex", self.names),
                           render(tree, "latex", self.names, True, self.p), self.n(u.new)))
        keys = list(dict.fromkeys(k for u in it.updates for k in u.state))
        head = [_("parameter"), _("old"), _("gradient"), *[name(state_id(k), None, "unicode") for k in keys], _("new")]
        rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for u in it.updates:
            cells = [f"${name(u.ident, self.names, 'latex')}$", self.u(u.old, u.given), self.u(u.gradient),
                     *[self.u(u.state[k]) if k in u.state else "" for k in keys],
                     self.u(u.new) + (" " + _("(frozen)") if u.frozen else "")]
            rows.append("| " + " | ".join(cells) + " |")
        self.add("\n".join(rows) + "\n")

    def u(self, v: float, given: bool = False) -> str:
        """A number in a table cell (Unicode: 1.2×10⁻⁹)."""
        return num(v, self.p, given, "unicode")

    def check(self, level: int, it: Iteration) -> None:
        self.heading(level, _('Check: forward pass with the updated weights'))
        rows = ["| " + " | ".join(map(_, CHECK_HEAD)) + " |", "|---|---|---|---|"]
        for p, c in zip(it.passes, it.checks):
            for (*_x, b), (*_y, q) in zip(forward_items(p.forward, p.loss), forward_items(c.forward, c.loss)):
                label = f"${self.name(b)}$" + (" (" + _("sample {n}").format(n=p.sample) + ")" if len(it.passes) > 1 else "")
                rows.append(f"| {label} | {self.u(b.value)} | {self.u(q.value)} | {signed(q.value - b.value, self.p, 'unicode')} |")
        self.add("\n".join(rows) + "\n")
        b, a = it.loss_before, it.loss_after
        if not math.isfinite(a):
            self.add(f"**$E_{{total}}$: {self.u(b)} → {self.u(a)}**: " + _("the update overflowed; try a smaller learning rate") + ".\n")
            return
        pct = f" ({(a - b) / b:+.2%})" if b else ""
        how = _("unchanged") if a == b else (_("down by {amount}") if a < b else _("up by {amount}")).format(
            amount=self.u(abs(a - b))) + pct
        self.add(f"**$E_{{total}}$: {self.u(b)} → {self.u(a)}**, {how}.\n")

    def iteration(self, level: int, it: Iteration, diagrams: bool = True) -> None:
        if self.form != "scalar":
            return self.in_form(level, it, diagrams)
        for p in it.passes:
            suffix = sample_label(self.spec, p)
            self.forward(level, p.forward, _("Forward pass") + suffix)
            self.errors(level, p.loss, p.forward, _("Errors") + suffix)
            self.backward(level, p)
        self.updates(level, it)
        self.check(level, it)
        if diagrams:
            self.mermaid(_("The network after the update:"), *self._params_after(it))

    # ------------------------------------------------------------ the matrix form

    def in_form(self, level: int, it: Iteration, diagrams: bool) -> None:
        """--form matrix: the matrix steps with the errors and the check; both: each after its scalar step."""
        from .. import matrix as mx

        both = self.form == "both"
        view = mx.build(it, render(it.rule, "unicode", self.names) if it.rule is not None else "")
        for p, (fwd, back) in zip(it.passes, view.passes):
            suffix = sample_label(self.spec, p)
            if both:
                self.forward(level, p.forward, _("Forward pass") + suffix)
            else:  # front layers (bptrace.front): their steps as in the scalar form
                for block in p.forward.front:
                    self.block(level, front_title(block) + suffix, block)
            self.matrix_section(level, fwd)
            self.errors(level, p.loss, p.forward, _("Errors") + suffix)
            if both:  # each matrix step right after its scalar step
                self.backward(level, p, lambda step, back=back: self.matrix_section(level + 1, back[step - 1]))
            else:
                for b in back:
                    self.matrix_section(level, b)
                for step, block in enumerate(p.front, len(back) + 1):
                    self.block(level, front_title(block, step) + suffix, block)
        if view.batch is not None:
            self.matrix_section(level, view.batch)
        if both:
            self.updates(level, it)
        self.matrix_section(level, view.update)
        self.check(level, it)
        if diagrams:
            self.mermaid(_("The network after the update:"), *self._params_after(it))

    def matrix_section(self, level: int, s) -> None:
        """A section of the matrix form: each equation's formula, its numbers (bmatrix), its shapes."""
        from . import matrix_tex as mt

        self.add(f"{'#' * level} {text(s.title)}\n")
        for note in s.notes:
            self.add(f"*{text(note)}*\n")
        for eq in s.equations:
            self.add("$$\n" + mt.formula(eq) + "\n$$\n", "$$\n" + mt.numbers(eq, self.p) + "\n$$\n",
                     _(mt.SHAPE_HEAD) + f": ${mt.shapes(eq)}$\n")
            if self.form == "both":
                pairs = mt.legend(eq, self.names)
                if pairs:
                    self.add(_(mt.LEGEND_HEAD) + ": " + ", ".join(f"${p}$" for p in pairs) + "\n")

    def _params_before(self, p: Pass) -> tuple[dict, dict, frozenset]:
        """The parameters of the forward pass, and the names of those written in the spec."""
        ws = [t.weight for layer in p.forward.layers for n in layer for t in n.terms]
        bs = [n.bias for layer in p.forward.layers for n in layer if n.bias]
        return ({q.name: q.value for q in ws}, {q.name: q.value for q in bs},
                frozenset(q.name for q in (*ws, *bs) if q.given))

    def _params_after(self, it: Iteration) -> tuple[dict, dict, frozenset]:
        bias_names = {b for layer in self.names.biases for b in layer}
        weights, biases, given = self._params_before(it.passes[0])  # a focused trace (run --focus) updates a few
        weights.update((u.name, u.new) for u in it.updates if u.name not in bias_names)
        biases.update((u.name, u.new) for u in it.updates if u.name in bias_names)
        return weights, biases, given - {u.name for u in it.updates if not u.frozen}  # never changed


NETWORK_HEAD = (N_("layer"), N_("neurons"), N_("activation"), N_("bias"), N_("parameters"))
CHECK_HEAD = (N_("quantity"), N_("before"), N_("after"), N_("change"))
PARAMS_HEAD = (N_("parameter"), N_("initial"), N_("final"), N_("change"))
OUTPUTS_HEAD = (N_("sample"), "x", N_("target"), N_("output"))


def trace_markdown(trace: Trace, precision: int = 8, form: str = "scalar") -> str:
    w = _Writer(trace.spec, trace.names, precision, form)
    title = trace.spec.title or _("bptrace trace")
    w.add(f"# {text(title)}\n", "*" + _("Traced by bptrace: every quantity as its formula, the numbers put in, "
                                         "and the result.") + "*\n")
    first = trace.iterations[0]
    w.network(2)
    w.mermaid(_("The network before the update:"), *w._params_before(first.passes[0]))
    for it in trace.iterations:
        if len(trace.iterations) > 1:
            w.add(f"## {epoch_heading(it)}\n")
        w.iteration(2 if len(trace.iterations) == 1 else 3, it)
    return "\n".join(w.lines)


SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _plain(values: list[float]) -> tuple[list[str], int]:
    """Losses as plain decimals (Mermaid reads no 7.6e-05) and the power of ten they were scaled by:
    when the largest loss is below 0.01, every loss is multiplied by 10^k so the largest lies in [1, 10)."""
    top = max((abs(v) for v in values), default=0.0)
    k = -math.floor(math.log10(top)) if 0 < top < 0.01 else 0
    scaled = [v * 10.0 ** k for v in values]
    smallest = min((abs(v) for v in scaled if v), default=1.0)
    decimals = min(max(2 - math.floor(math.log10(smallest)), 0), 12)  # three significant digits of the smallest
    return [f"{v:.{decimals}f}".rstrip("0").rstrip(".") or "0" for v in scaled], k


def loss_chart(loss, epoch=None, points: int = 40) -> str:
    """The loss curve as a Mermaid xychart: loss[i] is epoch[i]'s loss (default epoch i + 1). At most
    about `points` round epochs (and the first and last) on a numeric x-axis (Mermaid picks about ten
    ticks), losses as plain decimals, scaled when tiny."""
    from ..render.training import round_step

    epoch = list(range(1, len(loss) + 1)) if epoch is None else [int(e) for e in epoch]
    if not epoch:
        return ""
    step = round_step(epoch[-1], points)
    idx = [i for i, e in enumerate(epoch) if (e == 1 or e == epoch[-1] or e % step == 0) and math.isfinite(loss[i])]
    if not idx:
        return ""
    ys, k = _plain([float(loss[i]) for i in idx])
    axis = _("loss") + (f" (×10{f'-{k}'.translate(SUPERSCRIPT)})" if k else "")
    if len(idx) <= 12:
        x = "[" + ", ".join(str(epoch[i]) for i in idx) + "]"  # a few epochs: one label each
    else:
        x = f"{epoch[idx[0]]} --> {epoch[idx[-1]]}"
    return ("```mermaid\nxychart-beta\n    title \"" + _("Loss per epoch") + "\"\n"
            "    x-axis \"" + _("epoch") + f"\" {x}\n    y-axis \"{axis}\"\n    line [{', '.join(ys)}]\n```\n")


def health_markdown(r, every: int | None = None) -> list[str]:
    """step --health: the norms per layer as columns of the epoch rows, their log10 chart, the findings."""
    from ..render.health import findings, layer_norm, log_norms, sci
    from ..render.training import round_step, table_rows

    L = r.health.norms.shape[1]
    rows = ["| " + _("epoch") + " | " + " | ".join(f"${layer_norm(l, 'latex')}$" for l in range(1, L + 1)) + " |",
            "|---:|" + "---:|" * L]
    for i in table_rows(r, every):
        rows.append(f"| {r.epoch[i]} | " + " | ".join(sci(float(v), "latex").join("$$") for v in r.health.norms[i]) + " |")
    x, y = log_norms(r)
    step = round_step(int(x[-1]), 40)
    keep = [i for i, e in enumerate(x.tolist()) if (e == 1 or e == x[-1] or e % step == 0) and np.isfinite(y[i]).all()]
    chart = ""
    if keep:
        lines = "".join(f"    line [{', '.join(f'{y[i, l]:.3f}' for i in keep)}]\n" for l in range(L))
        axis = f"[{', '.join(str(x[i]) for i in keep)}]" if len(keep) <= 12 else f"{x[keep[0]]} --> {x[keep[-1]]}"
        chart = ("```mermaid\nxychart-beta\n    title \"" + _("log₁₀ ‖g⁽ˡ⁾‖ per epoch, one line per layer") + "\"\n"
                 "    x-axis \"" + _("epoch") + f"\" {axis}\n    y-axis \"log₁₀ ‖g‖\"\n{lines}```\n")
    caption = _("at the start of each epoch, mean loss over every sample (Frobenius norm)")
    notes = "\n".join(f"- {text(line)}" for line in findings(r, "unicode"))
    return [f"$\\lVert g^{{(l)}} \\rVert = \\lVert \\partial E / \\partial W^{{(l)}} \\rVert$, {caption}.\n",
            "\n".join(rows) + "\n", chart, notes + "\n"]


def run_markdown(r, precision: int = 8, every: int | None = None, form: str = "scalar") -> str:
    from ..render.training import STOPS, loss_change, table_rows

    w = _Writer(r.spec, r.names, precision, form)
    w.add("# " + text(r.spec.title or _("bptrace training run")) + "\n")
    w.network(2)
    p = r.plan
    trained = ngettext("Trained for {done} of {n} epoch ({how}); batch {batch}{shuffled}.",
                       "Trained for {done} of {n} epochs ({how}); batch {batch}{shuffled}.", p.epochs)
    w.add(trained.format(done=r.epochs_done, n=f"{p.epochs:,}", how=_(STOPS[r.stop]), batch=f"`{p.batch}`",
                         shuffled=_(", shuffled") if p.shuffle else "") + "\n")
    w.heading(2, _('Loss per epoch'))
    idx = table_rows(r, rows=40)
    if idx:
        w.add(loss_chart(r.loss, r.epoch))
        watch = p.watch
        outs = [f"${name(Id('out', len(r.names.out) - 1, j), r.names, 'latex')}$"
                for j in range(r.outputs.shape[1])]  # the kept (first 8) outputs
        rows = ["| " + _("epoch") + " | " + _("loss") + " | ‖g‖ | " + " | ".join(outs) + " |", "|---:|---:|---:|" + "---:|" * len(outs)]
        for i in table_rows(r, every):
            rows.append(f"| {r.epoch[i]} | {num(r.loss[i], precision)} | {num(r.grad_norm[i], precision)} | "
                        + " | ".join(num(float(v), precision) for v in r.outputs[i]) + " |")
        w.add(_("Outputs are those of sample {n}.").format(n=watch) + "\n", "\n".join(rows) + "\n")
    if getattr(r, "health", None) is not None and idx:  # step --health
        w.heading(2, _("Gradient health"))
        w.add(*health_markdown(r, every))
    for it in r.traces:
        w.add(f"## {epoch_heading(it)}\n")
        w.iteration(3, it, diagrams=False)
    w.heading(2, _('Parameters: initial → final'))
    rows = ["| " + " | ".join(map(_, PARAMS_HEAD)) + " |", "|---|---:|---:|---:|"]
    for ident, v0, v1 in zip(param_ids(r.names), r.initial_values.tolist(), r.final_values.tolist()):
        rows.append(f"| ${name(ident, r.names, 'latex')}$ | {num(v0, precision)} | {num(v1, precision)} | {signed(v1 - v0, precision)} |")
    w.add("\n".join(rows) + "\n")
    w.heading(2, _('Outputs with the final weights') + eval_mode_note(r.spec))
    rows = ["| " + " | ".join(map(_, OUTPUTS_HEAD)) + " |", "|---:|---|---|---|"]
    for i, (s, o) in enumerate(zip(r.spec.samples, r.final_outputs), 1):
        rows.append(f"| {i} | {', '.join(num(v, precision, True) for v in s.x)} | "
                    f"{', '.join(num(v, precision, True) for v in s.target)} | {', '.join(num(float(v), precision) for v in np.atleast_1d(o))} |")
    w.add("\n".join(rows) + "\n")
    if r.epochs_done or r.divergence is not None:
        after = ngettext("after {n} epoch", "after {n} epochs", r.epochs_done).format(n=f"{r.epochs_done:,}")
        w.add("**" + _("Loss") + f": {text(loss_change(r, precision))}** {after}.\n")
    return "\n".join(w.lines)
