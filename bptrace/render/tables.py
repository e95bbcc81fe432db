"""The tables for one traced iteration, in the worked example's order.

Each quantity is one row: its name; its formula over the same formula with the numbers
put in; its value. Numbers are never cut: formula cells wrap after an operator (grid.terms),
value cells never wrap.

The tables are built as plain data (render.grid: Grid, Line, Fit); the public functions return them as
rich renderables, and render_trace returns a grid.Doc, which rich draws (it has __rich__) and which
draws itself as text for output without colour (Doc.plain), without rich's console or table modules.
"""

from __future__ import annotations

import math

from .. import activations, formulas, groups
from ..expr import render
from ..fmt import num, percent, signed
from ..i18n import N_, _
from ..labels import dropout_note, epoch_title, front_bias, front_title, grid_label, sample_label, smoothing_label
from ..notation import name as id_name
from ..trace import Forward, Iteration, Loss, Pass, Quantity, Trace, backward_rows, layer_rows
from .grid import BLANK, Doc, Fit, Grid, Line, Stack, Styled, rich_of, terms

NAME_STYLE = "cyan"
VALUE_STYLE = "bold"


class View:
    """How to show numbers and names: precision, whether formulas are shown, the notation (unicode or ascii)."""

    def __init__(self, precision: int = 8, formulas: bool = True, style: str = "unicode"):
        self.precision = precision
        self.formulas = formulas
        self.style = style
        self.names = None  # set per iteration

    def num(self, v: float, given: bool = False) -> str:
        return num(v, self.precision, given, self.style)

    def name(self, q) -> str:
        return id_name(q.ident, self.names, self.style)


def _table(title: str, view: View, first: str = N_("quantity")) -> Grid:
    t = Grid(title=title, title_justify="left", title_style="bold", box="SIMPLE_HEAD", expand=False,
             padding=(0, 1), show_edge=False)
    t.add_column(_(first), style=NAME_STYLE, overflow="fold", max_width=24)  # long names wrap at " via "
    if view.formulas:
        t.add_column(_("formula  =  numbers"), overflow="fold", ratio=1, min_width=20)
    t.add_column(_("value"), justify="right", style=VALUE_STYLE, no_wrap=True)
    return t


def _row(t: Grid, view: View, q) -> None:
    """One quantity: its name; its formula over the numbers put in; its value."""
    value = view.num(q.value, q.given)
    name = _name_cell(view.name(q))
    if not view.formulas:
        t.add_row(name, value)
        return
    lines = []
    if q.expr is not None:  # the formula, then its numbers; each wraps between terms, indented
        formula = render(q.expr, view.style, view.names)
        numbers = render(q.expr, view.style, view.names, True, view.precision)
        lines.append(Line(terms(formula), " ", indent="  "))
        if numbers != formula and numbers != value:
            lines.append(Line(terms("= " + numbers), " ", "dim", "    "))
    t.add_row(name, Stack(*lines) if lines else "", value)


def _name_cell(name: str):
    """A term's name, `∂E_total/∂h1 via z3`: where it does not fit its column, `via z3` goes on an indented
    line of its own (read as the name's end, never as the start of the numbers line beside it)."""
    if " via " not in name:
        return name
    head, via = name.split(" via ", 1)
    return Line([head, "via " + via], " ", indent="  ")


# ---------------------------------------------------------------- sections


def summary(spec, names, style: str = "unicode"):
    """The network, one row per layer: as five columns where they fit the width, else as a layer
    column and one line of its details that wraps between them (never inside a name range)."""
    return rich_of(summary_grid(spec, names, style))


def summary_grid(spec, names, style: str = "unicode") -> Fit:
    """summary as plain data."""
    if spec.front:  # front layers (bptrace.front): the input's shape, then each layer's output shape
        rows = [(_("input"), ["×".join(map(str, spec.x_shape))], [], [], [])] + [_front_row(f) for f in spec.front]
    else:
        rows = [(_("input"), _span_parts(names.inputs, f"{spec.n_inputs}: "), [], [], [])]
    L = len(spec.layers)
    for l, layer in enumerate(spec.layers):
        label = _("output") if l == L - 1 else _("hidden {n}").format(n=l + 1)
        ws = [w for row in names.weights[l] for w in row]
        params = _span_parts(ws, f"{len(ws)} (", ")")
        bias = [_("none")]
        if layer.bias is not None:
            bias = [_("shared")] * layer.shared_bias + _span_parts(names.biases[l]) + [_("(frozen)")] * (not layer.train_bias)
            params.append(f"+ {len(layer.bias)}")
        act = [layer.activation] + ([_("(slope {slope})").format(slope=given(layer.slope, style))] if layer.activation == "leaky_relu" else [])
        act += [f"({p})" for p in [activations.params_text(layer, lambda v: given(v, style))] if p]  # elu, softplus, gelu
        act += [_("(dropout p = {p})").format(p=given(layer.dropout, style))] if layer.dropout else []
        rows.append((label, _span_parts(names.out[l], f"{layer.units}: "), act, bias, params))
    title = Styled([(spec.title or _("Network"), "")])
    opt = spec.optimizer
    hyper = ", ".join(f"{k} {given(v, style)}" if not isinstance(v, bool) else f"{k} {str(v).lower()}"
                      for k, v in opt.hyper.items() if v or k == "momentum")
    smoothing = smoothing_label("ε = " + given(spec.label_smoothing, style)) if spec.label_smoothing else ""
    caption = [_("{n} parameters").format(n=f"{spec.n_params:,}"), _("loss {loss}").format(loss=spec.loss) + smoothing,
               _("learning rate α = {lr}").format(lr=given(spec.learning_rate, style)) + _schedule(spec, style)
               + _own(spec, style),
               _("optimizer {name}").format(name=opt.name) + (f" ({hyper})" if hyper else "")]
    return Fit(_wide(title, rows, caption), _narrow(title, rows, caption))


def _front_row(f) -> tuple:
    """A front layer's summary row: its type, output shape, activation, bias and parameter count."""
    act = getattr(f, "activation", None)
    bias = [front_bias(f)]
    params = [str(f.n_params)] if f.params else []
    return (f.kind, ["×".join(map(str, f.out_shape))], [act] if act else [], bias if f.params else [], params)


NETWORK_COLUMNS = (N_("layer"), N_("neurons"), N_("activation"), N_("bias"), N_("parameters"))



def _network_table(title: Styled, columns, caption) -> Grid:
    t = Grid(title=title, title_justify="left", title_style="bold", box="SIMPLE_HEAD", show_edge=False,
             padding=(0, 1), caption=Line(caption, style="table.caption"), caption_justify="left")
    for i, col in enumerate(columns):
        t.add_column(_(col) if isinstance(col, str) else col, no_wrap=i == 0, header_style="bold")
    return t


def _wide(title: Styled, rows, caption) -> Grid:
    t = _network_table(title, NETWORK_COLUMNS, caption)
    for label, *cells in rows:
        t.add_row(label, *[Line(parts, " ") for parts in cells])
    return t


def _narrow(title: Styled, rows, caption) -> Grid:
    t = _network_table(title, ("layer", Line(map(_, NETWORK_COLUMNS[1:]))), caption)
    for label, neurons, act, bias, params in rows:
        details = [" ".join(neurons), " ".join(act)]
        details += [_("bias {bias}").format(bias=" ".join(bias)), _("parameters {params}").format(params=" ".join(params))] if params else []
        t.add_row(label, Line(details))
    return t


def _span_parts(names, before: str = "", after: str = "") -> list[str]:
    """A list of names as units that a line may break between: `w1 … w8` is one unit, `x1, x2` two."""
    names = list(names)
    parts = [f"{names[0]} … {names[-1]}"] if len(names) > 3 else [n + "," for n in names[:-1]] + names[-1:]
    parts[0] = before + parts[0]
    parts[-1] += after
    return parts


def _schedule(spec, style: str) -> str:
    """ (cosine schedule: T_max = 4, eta_min = 0.01), or nothing for a constant α."""
    from ..schedules import described

    return described(spec, lambda v: given(v, style))


def given(v: float, style: str) -> str:
    """A value the user wrote (learning rate, a hyperparameter), as written: 0.5, 1×10²⁰⁰."""
    return num(v, given=True, style=style)


def forward_table(title: str, f: Forward, view: View):
    return forward_grid(title, f, view).to_rich()


def forward_grid(title: str, f: Forward, view: View) -> Grid:
    t = _table(title, view)
    for layer in f.layers:
        for q in layer_rows(layer):
            _row(t, view, q)
    note = dropout_note(f)
    if note:
        t.caption, t.caption_justify = Line(note, " ", "table.caption"), "left"
    return t


def block_grids(title: str, block, view: View) -> list:
    """A front layer's step (bptrace.front): its quantities, one row each, then its small grids of values."""
    t = _table(title, view)
    for q in block.rows:
        _row(t, view, q)
    return [t, *(value_grid(label, cells, view) for label, cells in block.grids)]


def value_grid(label: str, cells, view: View) -> Fit:
    """A 2-D array of quantities as a small grid of their values, rows and columns numbered from 1; where
    the grid is wider than the terminal, one line per value (row,column  value): numbers are never cut."""
    label = grid_label(label, view.style)
    t = _small_grid(label)
    t.add_column("", style=NAME_STYLE, no_wrap=True)
    for c in range(cells.shape[1]):
        t.add_column(str(c + 1), justify="right", no_wrap=True)
    for r in range(cells.shape[0]):
        t.add_row(str(r + 1), *(view.num(q.value, q.given) for q in cells[r]))
    narrow = _small_grid(label)
    narrow.add_column("", style=NAME_STYLE, no_wrap=True)
    narrow.add_column("", justify="right", no_wrap=True)
    for r in range(cells.shape[0]):
        for c in range(cells.shape[1]):
            narrow.add_row(f"{r + 1},{c + 1}", view.num(cells[r, c].value, cells[r, c].given))
    return Fit(t, narrow)


def _small_grid(label: str) -> Grid:
    return Grid(title=label, title_justify="left", title_style="bold", box="SIMPLE_HEAD", expand=False,
                padding=(0, 1), show_edge=False)


def loss_table(title: str, loss: Loss, view: View):
    return loss_grid(title, loss, view).to_rich()


def loss_grid(title: str, loss: Loss, view: View) -> Grid:
    t = _table(title, view)
    smoothed = [q for q in loss.targets if q.formula is not None]  # label smoothing: the targets the loss reads
    for q in (*smoothed, *loss.errors, loss.total):
        _row(t, view, q)
    return t


def backward_tables(p: Pass, view: View, n_layers: int) -> list:
    return [g.to_rich() for g in backward_grids(p, view, n_layers)]


def backward_grids(p: Pass, view: View, n_layers: int) -> list[Grid]:
    out = []
    for step, layer in enumerate(p.backward, 1):
        what = _("output layer") if layer.index == n_layers - 1 else _("hidden layer {n}").format(n=layer.index + 1)
        t = _table(_("Backward step {step}: {what}").format(step=step, what=what), view)
        for q in backward_rows(layer):
            _row(t, view, q)
        if layer.index == n_layers - 1 and p.loss.kind in SHORTCUTS:
            o, target = p.forward.outputs[0].out, p.loss.targets[0]
            example = (f"{view.name(p.backward[0].neurons[0].delta)} = {view.name(o)} − {view.name(target)} = "
                       f"{view.num(o.value - target.value)}")
            t.caption = Line([_(SHORTCUTS[p.loss.kind]) + ":", _("the chain above simplifies to δ = o − target,"),
                              _("e.g. {example}").format(example=example)], " ", "table.caption")
            t.caption_justify = "left"
        out.append(t)
    return out


SHORTCUTS = {"cross_entropy": N_("softmax with cross-entropy"),
             "binary_cross_entropy": N_("sigmoid with binary cross-entropy")}


def _pairs(keys: list[str]):
    """The state keys two by two (m and v, m̂ and v̂, ...), so each state table fits 60 columns."""
    return [tuple(keys[i:i + 2]) for i in range(0, len(keys), 2)]


def _own(spec, style: str) -> str:
    """ (layer 2: α = 0.25) after the learning rate, with parameter groups."""
    own = groups.spec_summary(spec, lambda v: given(v, style))
    return f" ({own})" if own else ""


def updates_table(it: Iteration, view: View) -> list:
    return [g.to_rich() for g in updates_grids(it, view)]


def updates_grids(it: Iteration, view: View) -> list[Grid]:
    """param | old | gradient | new, then the optimizer's state in tables of at most two columns,
    so that no number is cut at 60 columns."""
    lr = given(it.learning_rate, view.style) if len(repr(it.learning_rate)) <= 10 else view.num(it.learning_rate)
    # a scheduled α (0.12004999999999998) at the view's precision
    title = _("Updates ({optimizer}, α = {lr})").format(optimizer=it.optimizer, lr=lr)
    own = groups.summary(it, lambda v: given(v, view.style) if len(repr(v)) <= 10 else view.num(v))
    if own:  # parameter groups: each layer's own α and λ
        title = _("Updates ({optimizer}; {rates})").format(optimizer=it.optimizer, rates=own)
    t = _plain(title, (N_("param"), N_("old"), N_("gradient"), N_("new")))
    for u in it.updates:
        new = view.num(u.new) + (" " + _("(frozen)") if u.frozen else "")
        t.add_row(id_name(u.ident, view.names, view.style), view.num(u.old, u.given), view.num(u.gradient), new)
    if it.rule is not None and any(not u.frozen for u in it.updates):
        t.caption = "p⁺ = " + render(it.rule, view.style, view.names)
        t.caption_justify = "left"
    out = [t]
    keys = list(dict.fromkeys(k for u in it.updates for k in u.state))
    for pair in _pairs(keys):
        heads = [id_name(formulas.state_id(k), None, view.style) for k in pair]
        s = _plain(_("Optimizer state: {names}").format(names=", ".join(heads)), (N_("param"), *heads))
        for u in it.updates:
            if not u.frozen:
                s.add_row(id_name(u.ident, view.names, view.style), *[view.num(u.state[k]) for k in pair])
        out.append(s)
    return out


def _plain(title: str, columns) -> Grid:
    t = Grid(title=title, title_justify="left", title_style="bold", box="SIMPLE_HEAD", show_edge=False,
             padding=(0, 1))
    t.add_column(_(columns[0]), style=NAME_STYLE, no_wrap=True)
    for c in columns[1:]:  # the optimizer state's names (m, v) pass through the catalogue unchanged
        t.add_column(_(c), justify="right", no_wrap=True, style=VALUE_STYLE if c == "new" else "")
    return t


def check_table(it: Iteration, view: View):
    return check_grid(it, view).to_rich()


def check_grid(it: Iteration, view: View) -> Grid:
    t = _plain(_("Check: forward pass again with the updated weights"),
               (N_("quantity"), N_("before"), N_("after"), N_("change")))
    for p, c in zip(it.passes, it.checks):
        if len(it.passes) > 1:
            t.add_section()
            t.add_row(_("sample {n}").format(n=p.sample), "", "", "")
        for b, q in zip(_forward_values(p.forward, p.loss), _forward_values(c.forward, c.loss)):
            t.add_row(view.name(b), view.num(b.value, b.given), view.num(q.value), signed(q.value - b.value, view.precision, view.style))
    return t


def _forward_values(f: Forward, loss: Loss) -> list[Quantity]:
    out = [q for block in f.front for q in block.rows]
    for layer in f.layers:
        out += layer_rows(layer, masks=False)
    return out + list(loss.errors) + [loss.total]


def verdict(it: Iteration, view: View):
    return verdict_line(it, view).to_rich()


def verdict_line(it: Iteration, view: View) -> Line:
    """E_total before → after, then how it changed (the two parts wrap apart, never a word alone)."""
    before, after = it.loss_before, it.loss_after
    pieces = [("E_total: ", "bold"), (f"{view.num(before)} → {view.num(after)}", "bold")]
    if not math.isfinite(after):
        change = Styled(pieces, [("red", len("E_total: "))])
        return Line([change, _("the update overflowed; try a smaller learning rate")], "  ")
    change = Styled(pieces)
    diff = after - before
    pct = f" ({percent(diff / before, view.style)})" if before else ""
    if diff == 0:
        return Line([change, _("unchanged")], "  ")
    how = _("down by {amount}") if diff < 0 else _("up by {amount}")
    return Line([change, how.format(amount=view.num(abs(diff))) + pct], "  ")


def render_iteration(it: Iteration, spec, view: View):
    """The iteration's tables as one rich Group."""
    from rich.console import Group

    return Group(*map(rich_of, iteration_blocks(it, spec, view)))


def iteration_blocks(it: Iteration, spec, view: View) -> list:
    """The iteration's tables as plain data, a blank line between them."""
    parts: list = []
    n_layers = len(spec.layers)
    view.names = it.names
    for p in it.passes:
        label = sample_label(spec, p)
        for block in p.forward.front:
            parts += block_grids(front_title(block) + label, block, view)
        parts.append(forward_grid(_("Forward pass") + label, p.forward, view))
        parts.append(loss_grid(_("Errors") + label, p.loss, view))
        parts += backward_grids(p, view, n_layers)
        for step, block in enumerate(p.front, len(p.backward) + 1):
            parts += block_grids(front_title(block, step) + label, block, view)
    parts += updates_grids(it, view)
    parts.append(check_grid(it, view))
    parts.append(verdict_line(it, view))
    return _spaced(parts, BLANK)


def _spaced(parts: list, blank=None) -> list:
    if blank is None:
        from rich.text import Text

        blank = Text("")
    out = []
    for p in parts:
        out += [p, blank]
    return out[:-1]


class _Rule:
    """A rule between epochs (rich's Rule; the text layout leaves it to rich)."""

    def __init__(self, title: str):
        self.title = title

    def to_rich(self):
        from rich.rule import Rule

        return Rule(self.title)


def render_trace(trace: Trace, precision: int = 8, formulas: bool = True, style: str = "unicode") -> Doc:
    """The trace's tables: a Doc, which rich draws and which draws itself as text (Doc.plain)."""
    view = View(precision, formulas, style)
    parts: list = [summary_grid(trace.spec, trace.names, style), BLANK]
    for it in trace.iterations:
        if len(trace.iterations) > 1:
            parts.append(_Rule(epoch_title(it)))
        parts += iteration_blocks(it, trace.spec, view)
    return Doc(parts, style)
