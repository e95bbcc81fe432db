"""`walk.html`: one self-contained page that steps through a trace in a browser.

Everything is inline: the stylesheet and script (bptrace/data/walk/), the network as SVG, every
formula as MathML (LaTeX from the expression model, converted by latex2mathml: browsers render
MathML natively and screen readers read it). A Content-Security-Policy forbids every request; the
inline style and script are allowed by their SHA-256 hashes only.

Each step is a <section> holding `name = formula = numbers = result`; the script shows one at a
time (all of them print, in order, and show without the script). Highlights are by key: a
step's ASCII name (`w5`, `delta_o1`, `w5+` after the update); diagram nodes and edges list the
keys they stand for.
"""

from __future__ import annotations

import base64
import hashlib
import html
import math
from dataclasses import dataclass
from importlib.resources import files
from xml.etree import ElementTree

from latex2mathml.converter import convert

from .. import groups, i18n
from ..front.base import is_param
from ..i18n import N_, _, ngettext
from ..labels import epoch_title
from ..expr import refs, render
from ..fmt import num
from ..formulas import update_tree
from ..naming import for_spec
from ..notation import E_TOTAL, Id, after, name, partial
from ..trace import Iteration, Product, forward_items, neuron_rows
from .markdown import _own
from .walk_matrix import MatrixStep, equation, small_print, walk

MAX_DIAGRAM_WEIGHTS = 60  # wider networks get no diagram (unreadable), as in the Markdown export
SCHEMES = ("seed", "layered")


# ---------------------------------------------------------------- the steps, in textbook order

@dataclass(frozen=True)
class Step:
    """One quantity of the walk: its key (ASCII name), the traced object, its phase, and the keys of others."""

    key: str
    q: object  # a trace Quantity, Product or Sum; an Update in the update phase
    phase: str  # forward, loss, backward, update, check
    depends_on: tuple[str, ...]  # highlighted with it: what its formula reads, and more (∂E_total/∂w5: δ_o1, h1, w5)
    sample: int = 1
    reads: tuple[str, ...] = ()  # what its formula reads


def key(q, sample: int = 0) -> str:
    """A quantity's key: its ASCII name, with + when it is a value after the update, and in a batch of
    several samples @sample on everything but the parameters (z1@2 is sample 2's z1; w5 is shared)."""
    plus = getattr(q.ident, "after", False) and not q.name.endswith("+")
    shared = not sample or getattr(q.ident, "kind", None) in ("w", "b") or is_param(q.ident)
    return q.name + ("+" if plus else "") + ("" if shared else f"@{sample}")


def _reads(q, sample: int = 0) -> tuple[str, ...]:
    e = q.expr
    return tuple(dict.fromkeys(key(r, sample) for r in refs(e))) if e is not None else ()


def _gradient_extras(p, g, sample: int) -> tuple[str, ...]:
    """∂E_total/∂w of w from source s into neuron j equals δ_j·s: the δ, the source and w itself."""
    by = g.ident.by if g.ident is not None and g.ident.kind == "d" else None
    if by is None or by.kind not in ("w", "b"):
        return ()
    layer = next(b for b in p.backward if b.index == by.l)
    delta = key(layer.neurons[by.j].delta, sample)
    neuron = p.forward.layers[by.l][by.j]
    if by.kind == "b":
        return (delta, key(neuron.bias)) if neuron.bias else (delta,)
    term = neuron.terms[by.k]
    return delta, key(term.source, sample), key(term.weight)


def _pass_steps(p, sample: int) -> list[Step]:
    steps, seen = [], set()

    def add(q, phase, extra=()):
        k = key(q, sample)
        if k not in seen:
            seen.add(k)
            reads = _reads(q, sample)
            steps.append(Step(k, q, phase, tuple(dict.fromkeys(reads + extra)), p.sample, reads))

    for group, _, q in forward_items(p.forward, p.loss):
        if q.formula is not None:  # a dropout mask is given, as the inputs are: read, not computed
            add(q, group)
    for layer in p.backward:
        for q in neuron_rows(layer):
            add(q, "backward")
        for g in layer.gradients:  # a gradient's factors (∂z3/∂w5 …) come just before it
            for f in (g.factors if isinstance(g, Product) else g.terms):
                add(f, "backward")
            add(g, "backward", _gradient_extras(p, g, sample))
    for block in p.front:  # front layers (bptrace.front): their rows, each gradient after its terms
        for q in block.rows:
            add(q, "backward")
    return steps


def _tag(it: Iteration, sample: int) -> int:
    """The sample a key names: 0 (none) when the iteration has one sample."""
    return sample if len(it.passes) > 1 else 0


def _steps(it: Iteration) -> list[Step]:
    """Every quantity of one iteration once, in textbook order: forward, errors, backward (output layer
    first, each gradient after its factors), updates, the forward pass again with the new values.
    An update reads the gradient of every sample of the batch (it uses their mean)."""
    steps = [s for p in it.passes for s in _pass_steps(p, _tag(it, p.sample))]
    grads: dict = {}
    for p in it.passes:
        for layer in (*p.backward, *p.front):
            for g in layer.gradients:
                if g.ident is not None and g.ident.kind == "d":
                    grads.setdefault(g.ident.by, []).append(key(g, _tag(it, p.sample)))
    for u in it.updates:
        if not u.frozen:
            steps.append(Step(f"{u.name}+", u, "update", (u.name, *grads.get(u.ident, [f"dE_total/d{u.name}"]))))
    for c in it.checks:
        for group, _, q in forward_items(c.forward, c.loss):
            if q.formula is None:  # a dropout mask
                continue
            steps.append(Step(key(q, _tag(it, c.sample)), q, "check", _reads(q, _tag(it, c.sample)), c.sample))
    return steps


def _chain_reads(s: Step) -> tuple[str, ...]:
    """What the chain of a parameter follows from this step (the page's Focus walks it back from p's update):
    an update reads its gradient; a backward step what its formula reads (not δ_h1 in ∂E_total/∂w1's
    highlights: it is no factor of it)."""
    if s.phase == "update":
        return s.depends_on[1:]
    return s.reads if s.phase == "backward" else ()


# ---------------------------------------------------------------- formulas as MathML

def mathml(tex: str) -> str:
    """LaTeX as MathML, split before each top-level + and − (in a product, ×) into <math> pieces that a
    narrow screen wraps between (MathML itself never breaks a line). A word subscript (E_total) is upright."""
    root = ElementTree.fromstring(convert(tex.replace("_{total}", r"_{\text{total}}")))
    for el in root.iter():
        el.tag = el.tag.rpartition("}")[2]
    row = root[0] if len(root) == 1 and root[0].tag == "mrow" else root
    ops, depth = [], 0  # top-level operators (not inside brackets written as separate <mo>( … <mo>))
    for el in row:
        op = (el.text or "").strip() if el.tag == "mo" else ""
        ops.append(op if depth == 0 else "")
        depth += (op == "(") - (op == ")")
    # a sum breaks before its terms; a chain of factors (no top-level + or −) before its ×
    breaks = {"+", "−"} if {"+", "−"} & set(ops[1:]) else {"×"}
    pieces: list[list] = [[]]
    prev = ""
    for el, op in zip(row, ops):
        if pieces[-1] and op in breaks:
            pieces.append([])
        if not pieces[-1] and op in breaks | {"="}:
            el.set("form", "infix")  # an operator opening a piece keeps its spacing (a sign would not)
        if el.tag == "mo" and (el.text or "").strip() == "−" and prev in ("", "(", "="):
            el.set("form", "prefix")  # a negative number's sign, not a subtraction: set tight
        pieces[-1].append(el)
        prev = (el.text or "").strip() if el.tag == "mo" else "x"
    return "".join("<math><mrow>" + "".join(ElementTree.tostring(el, encoding="unicode") for el in piece)
                   + "</mrow></math>" for piece in pieces)


def equation_html(parts: list[str], first: bool) -> str:
    """`a = b = c`, each side in its own <span>, so a long equation wraps between its sides on a phone."""
    return "".join(f'<span class="side">{mathml(t if first and i == 0 else "= " + t)}</span> '
                   for i, t in enumerate(parts))


class _Math:
    """Renders a step's equation in both naming schemes."""

    def __init__(self, spec, names, precision: int):
        self.names = {names.scheme: names}
        for s in SCHEMES:
            self.names.setdefault(s, for_spec(spec, s))
        self.spec, self.p = spec, precision

    def n(self, v: float, given: bool = False) -> str:
        return num(v, self.p, given, "latex")

    def equation(self, step: Step, it: Iteration) -> tuple[dict[str, list[str]], list[str]]:
        """({scheme: [name, formula] in LaTeX}, [numbers, result] in LaTeX): the sides of the equation."""
        q = step.q
        if step.phase == "update":
            tree = update_tree(it, self.spec.optimizer.hyper, q)
            heads = {s: [name(after(q.ident), N, "latex"), render(tree, "latex", N)] for s, N in self.names.items()}
            tail = [render(tree, "latex", None, True, self.p), self.n(q.new)]
        else:
            e = q.expr
            ident = after(q.ident) if step.phase == "check" and not q.ident.after else q.ident
            heads = {s: [name(ident, N, "latex")] + ([render(e, "latex", N)] if e is not None else [])
                     for s, N in self.names.items()}
            numbers = render(e, "latex", None, True, self.p) if e is not None else ""
            tail = [numbers, self.n(q.value, q.given)]
            for s, N in self.names.items():
                alias = self._alias(step, N)
                if alias:
                    heads[s].insert(1, alias)
        return heads, [t for t in tail if t]

    @staticmethod
    def _alias(step: Step, N) -> str | None:
        """δ_o1 is also ∂E_total/∂z3 (the same neuron's z)."""
        i = step.q.ident
        return name(partial(E_TOTAL, Id("z", i.l, i.j)), N, "latex") if i is not None and i.kind == "delta" else None


def step_name(step: Step, N, style: str = "unicode") -> str:
    q = step.q
    ident = q.ident
    if step.phase in ("update", "check") and not ident.after:
        ident = after(ident)
    return name(ident, N, style)


# ---------------------------------------------------------------- the network diagram

R = 26  # a node's radius, in the diagram's units


def diagram(it: Iteration, names: dict, precision: int) -> str:
    """The network as inline SVG: nodes (input, h, o) with their values, edges labelled with weights, each
    before the update and after it (the page shows the second from the first update step on). Each node
    and edge carries the keys it stands for (data-keys, |-separated). The first sample's values."""
    p = it.passes[0]
    if sum(len(n.terms) for layer in p.forward.layers for n in layer) > MAX_DIAGRAM_WEIGHTS:
        return ""
    cols = [it.names.inputs, *it.names.out]
    W, H = 200 * (len(cols) - 1) + 120, 90 * max(map(len, cols)) + 20
    pos = {(c, j): (60 + 200 * c, (H - 90 * len(col)) / 2 + 45 + 90 * j) for c, col in enumerate(cols)
           for j in range(len(col))}
    lines, labels = _edges(it, pos, names, min(precision, 4))
    return (f'<svg class="net" viewBox="0 0 {W} {H}" role="img" aria-label="the network: '
            f'{len(cols[0])} inputs, {" and ".join(str(len(c)) for c in cols[1:])} neurons">'
            + lines + labels + _nodes(it, cols, pos, names, min(precision, 4)) + "</svg>")


def _edges(it: Iteration, pos: dict, names: dict, d: int) -> tuple[str, str]:
    """Every weight's line, and its label (drawn after every line, so no line crosses a label)."""
    new = {u.name: u.new for u in it.updates}
    lines, labels = [], []
    for l, layer in enumerate(it.passes[0].forward.layers):
        for j, n in enumerate(layer):
            x2, y2 = pos[(l + 1, j)]
            for k, t in enumerate(n.terms):
                x1, y1 = pos[(l, k)]
                f = 0.28 + 0.1 * (k % 2)  # labels of crossing edges at different distances
                w = t.weight
                keys = html.escape(f"{key(w)}|{key(w)}+")
                lines.append(f'<g class="edge" data-keys="{keys}"><line x1="{x1 + R}" y1="{y1}" '
                             f'x2="{x2 - R}" y2="{y2}"/></g>')
                labels.append(
                    f'<g class="edge" data-keys="{keys}"><text x="{x1 + (x2 - x1) * f + R * 0.6:.1f}" '
                    f'y="{y1 + (y2 - y1) * f - 4:.1f}">'
                    f'<tspan class="v-before">{_labels(w.ident, names)} = {num(w.value, d, w.given)}</tspan>'
                    f'<tspan class="v-after">{_labels(after(w.ident), names)} = '
                    f'{num(new.get(w.name, w.value), d, w.name not in new and w.given)}</tspan></text></g>')
    return "".join(lines), "".join(labels)


def _nodes(it: Iteration, cols: list, pos: dict, names: dict, d: int) -> str:
    """Every input and neuron: its name, its value before the update and after it."""
    p = it.passes[0]
    checked = it.checks[0].forward if it.checks else p.forward
    nodes = []
    for c, col in enumerate(cols):
        for j in range(len(col)):
            x, y = pos[(c, j)]
            q = p.forward.inputs[j] if c == 0 else p.forward.layers[c - 1][j].out
            q2 = checked.inputs[j] if c == 0 else checked.layers[c - 1][j].out
            keys = [k for pp in it.passes for k in
                    ([key(pp.forward.inputs[j], _tag(it, pp.sample))] if c == 0 else _neuron_keys(it, pp, c - 1, j))]
            nodes.append(
                f'<g class="node" data-keys="{html.escape("|".join(keys))}"><circle cx="{x}" cy="{y}" r="{R}"/>'
                f'<text x="{x}" y="{y - 2}" class="nm">{_labels(q.ident, names)}</text>'
                f'<text x="{x}" y="{y + 12}" class="val"><tspan class="v-before">{num(q.value, d, q.given)}</tspan>'
                f'<tspan class="v-after">{num(q2.value, d, q2.given)}</tspan></text></g>')
    return "".join(nodes)


def _neuron_keys(it: Iteration, p, l: int, j: int) -> list[str]:
    """A neuron's own quantities in one pass: z, out, δ, ∂E/∂out, ∂out/∂z, and z⁺, out⁺ after the update."""
    s = _tag(it, p.sample)
    n = p.forward.layers[l][j]
    b = next(b for b in p.backward if b.index == l).neurons[j]
    own = [n.z, n.out, b.delta, b.dE_dout] + ([b.dout_dz] if b.dout_dz is not None else [])
    c = next((c.forward.layers[l][j] for c in it.checks if c.sample == p.sample), None)
    return [key(q, s) for q in own] + ([key(c.z, s), key(c.out, s)] if c is not None else [])


def _labels(ident, names: dict) -> str:
    """A quantity's name in both schemes (Unicode), one shown at a time."""
    return "".join(f'<tspan class="{s}">{html.escape(name(ident, N, "unicode"))}</tspan>' for s, N in names.items())


# ---------------------------------------------------------------- the page

PHASES = {"forward": N_("Forward pass"), "loss": N_("Errors"), "backward": N_("Backward pass"), "update": N_("Updates"),
          "check": N_("Check: forward pass with the updated values")}  # _() where shown


def _asset(filename: str) -> str:
    return files("bptrace.data").joinpath("walk", filename).read_text(encoding="utf-8")


def _sha(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def _esc(s: str) -> str:
    return html.escape(s, quote=True)


class _Page:
    def __init__(self, spec, names, precision: int, form: str = "scalar"):
        self.spec, self.p, self.form, self.trace_names = spec, precision, form, names
        self.m = _Math(spec, names, precision)
        self.names = self.m.names

    def steps(self, it: Iteration) -> list:
        """The iteration's steps in the page's form (scalar, matrix or both: bptrace.matrix)."""
        if self.form == "scalar":
            return _steps(it)
        return walk(_steps(it), it, self.trace_names, self.form)

    def label(self, step) -> str:
        if isinstance(step, MatrixStep):
            return f"<span>{_esc(step.eq.lhs_sym)}</span>"
        return "".join(f'<span class="{s}">{_esc(step_name(step, N))}</span>' for s, N in self.names.items())

    def iteration(self, it: Iteration, tag: str, hidden: bool) -> str:
        """One iteration's diagram, its steps (one <section> each, the summary last) and their list."""
        steps = self.steps(it)
        multi = len(it.passes) > 1
        sections, items, phase = [], [], None
        for i, s in enumerate(steps):
            title = s.title if isinstance(s, MatrixStep) else (  # a matrix step's title: the matrix form's, translated
                _(PHASES[s.phase]) + (" (" + _("sample {n}").format(n=s.sample) + ")" if multi and s.phase != "update" else ""))
            if title != phase:  # the first step of a phase: its heading prints
                items.append(f'<li class="phase" aria-hidden="true">{_esc(title)}</li>')
            sections.append(self.section(it, s, f"{tag}s{i}", title, title != phase))
            items.append(f'<li><button type="button" data-step="{i}" data-key="{_esc(s.key)}">{self.label(s)}'
                         '</button></li>')
            phase = title
        sections.append(f'<section class="step summary" id="{tag}s{len(steps)}" data-key="" data-deps="" '
                        f'data-phase="summary">{self.summary(it)}</section>')  # in no parameter's chain
        summary = _esc(_("Update table and check"))
        items.append(f'<li><button type="button" data-step="{len(steps)}">{summary}</button></li>')
        values = _("Values of sample {n}; every sample's quantities are highlighted here.").format(n=it.passes[0].sample)
        caption = f"<figcaption>{_esc(values)}</figcaption>" if multi else ""
        return (f'<div class="iter" id="{tag}" data-epoch="{it.epoch}" data-step="{it.step}"'
                f'{" hidden" if hidden else ""}>'
                f'<div class="stage"><figure class="diagram">{diagram(it, self.names, self.p)}{caption}</figure>'
                f'<div class="current" aria-live="polite">{"".join(sections)}</div></div>'
                f'<nav class="steps" aria-label="every step"><ol>{"".join(items)}</ol></nav></div>')

    def section(self, it: Iteration, s: Step, id_: str, title: str, first: bool) -> str:
        """A step: name = formula = numbers = result, with the keys the page highlights and follows."""
        if isinstance(s, MatrixStep):
            math, tail = equation(s.eq, self.p, mathml), small_print(s, self.names, mathml, _esc)
        else:
            heads, numbers = self.m.equation(s, it)
            math = "".join(f'<span class="{sc}">{equation_html(h, True)}</span> ' for sc, h in heads.items())
            math, tail = math + equation_html(numbers, False), ""
        return (f'<section class="step{" first" * first}" id="{id_}" data-key="{_esc(s.key)}" '
                f'data-deps="{_esc("|".join(s.depends_on))}" data-reads="{_esc("|".join(_chain_reads(s)))}" '
                f'data-phase="{s.phase}" data-sample="{s.sample}"><h3>{_esc(title)}</h3>'
                f'<p class="eq{" mx" * isinstance(s, MatrixStep)}">{math}</p>{tail}</section>')

    def summary(self, it: Iteration) -> str:
        """The update table and E_total before → after."""
        rows = []
        for u in it.updates:
            cells = [f'<th scope="row">{self.m_name(u)}</th>', _td(num(u.old, self.p, u.given)),
                     _td(num(u.gradient, self.p)), _td(num(u.new, self.p) + (" " + _("(frozen)") if u.frozen else ""))]
            rows.append("<tr>" + "".join(cells) + "</tr>")
        b, a = it.loss_before, it.loss_after
        how = _("unchanged") if a == b else (_("down by {amount}") if a < b else _("up by {amount}")).format(
            amount=num(abs(a - b), self.p))
        change = (how + (f" ({(a - b) / b:+.2%})" if b else "") if math.isfinite(a)
                  else _("the update overflowed; try a smaller learning rate"))
        head = "".join('<th scope="col">' + _esc(_(c)) + "</th>" for c in UPDATE_HEAD)
        title = _esc(_("Updates and check"))
        return (f'<h3>{title}</h3><div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>'
                + "".join(rows) + "</tbody></table></div>"
                f'<p class="check"><strong>E<sub>total</sub>: <span class="before">{num(b, self.p)}</span> → '
                f'<span class="after">{num(a, self.p)}</span></strong>, {_esc(change)}.</p>')

    def m_name(self, u) -> str:
        return "".join(f'<span class="{s}">{_esc(name(u.ident, N, "unicode"))}</span>' for s, N in self.names.items())

    def controls(self, iterations: list) -> str:
        """Previous / Next, the position, Focus, the naming switch and (for several) the iteration picker."""
        if not iterations:
            return '<p class="note">' + _esc(_("No iteration was traced: export with {show} (or epoch numbers) to walk "
                                               "through one.")).format(show="<code>--show first,last</code>") + "</p>"
        picker = ""
        if len(iterations) > 1:
            opts = "".join(f'<option value="it{i}">{_esc(epoch_title(it))}</option>' for i, it in enumerate(iterations))
            picker = "<label>" + _esc(_("Iteration")) + f' <select id="iteration">{opts}</select></label>'
        other = "layered" if next(iter(self.names)) == "seed" else "seed"
        w = {k: _esc(v) for k, v in (("prev", _("Previous")), ("next", _("Next")), ("position", _("Step {i} of {n}")),
                                     ("focus", _("Focus")), ("every", _("every step")),
                                     ("names", _("{scheme} names").format(scheme=other)))}
        return ('<div class="controls" role="toolbar" aria-label="walk">'
                f'<button type="button" id="prev" aria-keyshortcuts="ArrowLeft">← {w["prev"]}</button>'
                f'<span id="position" aria-live="polite" data-format="{w["position"]}"></span>'
                f'<button type="button" id="next" aria-keyshortcuts="ArrowRight">{w["next"]} →</button>'
                f'<label>{w["focus"]} <select id="focus"><option value="">{w["every"]}</option></select>'
                f'</label><label><input type="checkbox" id="naming" data-other="{other}"> {w["names"]}</label>'
                f'{picker}</div>')

    def page(self, title: str, body: str, iterations: list, kind: str) -> str:
        css, js = _asset("walk.css") + (_asset("matrix.css") if self.form != "scalar" else ""), _asset("walk.js")
        csp = f"default-src 'none'; style-src {_sha(css)}; script-src {_sha(js)}; img-src data:"
        scheme = next(iter(self.names))
        footer = _esc(_("Traced by bptrace. This file needs nothing but a browser."))
        return (
            f'<!DOCTYPE html>\n<html lang="{i18n.current()}"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta name="generator" content="bptrace walk.html ({kind})">'
            f'<title>{_esc(title)}</title><style>{css}</style></head>'
            f'<body class="scheme-{scheme}" data-scheme="{scheme}"><header><h1>{_esc(title)}</h1>'
            f'<p class="about">{self.about()}</p></header>{self.controls(iterations)}'
            f'<main>{body}</main>'
            f'<footer>{footer}</footer>'
            f'<script>{js}</script></body></html>\n')

    def about(self) -> str:
        s = self.spec
        layers = ", ".join([*(_esc(f.kind) for f in s.front),  # front layers (bptrace.front) first, by type
                            *(f"{len(layer.weights)} {_esc(layer.activation)}" for layer in s.layers)])
        return _esc(_("{n} inputs; layers: {layers}. Loss {loss}, learning rate α = {lr}, optimizer {optimizer}. "
                      "Use ← and → (or the buttons and the list) to walk through every quantity.").format(
            n="×".join(map(str, s.x_shape)) if s.front else s.widths[0], layers=layers, loss=s.loss, lr=f"{s.learning_rate:g}" + _own(groups.spec_summary(s)),
            optimizer=s.optimizer.name))


UPDATE_HEAD = (N_("parameter"), N_("old"), N_("gradient"), N_("new"))


def _td(text: str) -> str:
    return f"<td>{_esc(text)}</td>"


def trace_walk(trace, precision: int = 8, form: str = "scalar") -> str:
    page = _Page(trace.spec, trace.names, precision, form)
    its = list(trace.iterations)
    body = "".join(page.iteration(it, f"it{i}", i > 0) for i, it in enumerate(its))
    return page.page(trace.spec.title or _("bptrace trace"), body, its, "trace")


def run_walk(result, precision: int = 8, log_y: bool = False, form: str = "scalar") -> str:
    from ..render.svgplot import line_chart
    from ..render.training import curve_points, loss_change

    page = _Page(result.spec, result.names, precision, form)
    its = list(result.traces)
    body = ""
    if result.epochs_done:
        epochs, losses = curve_points(result, 1200)
        chart = line_chart(epochs, losses, _("loss per epoch") + (" " + _("(log scale)") if log_y else ""), _("epoch"),
                           _("loss"), log_y)
        after = ngettext("after {n} epoch", "after {n} epochs", result.epochs_done).format(n=f"{result.epochs_done:,}")
        heading = _esc(_("Loss per epoch"))
        body = (f'<section class="loss"><h2>{heading}</h2><figure>{chart}</figure>'
                f'<p>{_esc(loss_change(result, precision))} {_esc(after)}.</p></section>')
    body += "".join(page.iteration(it, f"it{i}", i > 0) for i, it in enumerate(its))
    return page.page(result.spec.title or _("bptrace training run"), body, its, "run")
