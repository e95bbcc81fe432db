"""Rich tables for one traced iteration, in the worked example's order.

Each quantity is one row: its name; its formula over the same formula with the numbers
put in; its value. Numbers are never cut: formula cells wrap at spaces, value cells
never wrap.
"""

from __future__ import annotations

import math

from rich import box
from rich.cells import cell_len
from rich.console import Group
from rich.measure import Measurement
from rich.rule import Rule
from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import Text

from .. import formulas
from ..expr import render
from ..fmt import num, percent, signed
from ..notation import name as id_name
from ..trace import Forward, Iteration, Loss, Pass, Quantity, Trace, backward_rows

NAME_STYLE = "cyan"
VALUE_STYLE = "bold"


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

    def __init__(self, parts, sep: str = " · ", style: str = "", indent: str = ""):
        self.parts = [p if isinstance(p, Text) else Text(p) for p in parts if p]
        self.sep, self.style, self.indent = sep, style, indent

    def lines(self, width: int) -> list[Text]:
        out = self.parts[:1]
        for part in self.parts[1:]:
            joined = out[-1] + self.sep + part
            if joined.cell_len <= width:
                out[-1] = joined
            else:
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


def _table(title: str, view: View, first: str = "quantity") -> Table:
    t = Titled(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, expand=False,
               padding=(0, 1), show_edge=False)
    t.add_column(first, style=NAME_STYLE, overflow="fold", max_width=20)  # long names wrap at " via "
    if view.formulas:
        t.add_column("formula  =  numbers", overflow="fold", ratio=1, min_width=20)
    t.add_column("value", justify="right", style=VALUE_STYLE, no_wrap=True)
    return t


def _row(t: Table, view: View, q) -> None:
    """One quantity: its name; its formula over the numbers put in; its value."""
    value = view.num(q.value, q.given)
    if not view.formulas:
        t.add_row(view.name(q), value)
        return
    lines = []
    if q.expr is not None:  # the formula, then its numbers; each wraps between terms, indented
        formula = render(q.expr, view.style, view.names)
        numbers = render(q.expr, view.style, view.names, True, view.precision)
        lines.append(Segments(terms(formula), " ", indent="  "))
        if numbers != formula and numbers != value:
            lines.append(Segments(terms("= " + numbers), " ", "dim", "    "))
    t.add_row(view.name(q), Group(*lines) if lines else "", value)


# ---------------------------------------------------------------- sections


def summary(spec, names, style: str = "unicode") -> "Fitting":
    """The network, one row per layer: as five columns where they fit the width, else as a layer
    column and one line of its details that wraps between them (never inside a name range)."""
    rows = [("input", _span_parts(names.inputs, f"{spec.n_inputs}: "), [], [], [])]
    L = len(spec.layers)
    for l, layer in enumerate(spec.layers):
        label = "output" if l == L - 1 else f"hidden {l + 1}"
        ws = [w for row in names.weights[l] for w in row]
        params = _span_parts(ws, f"{len(ws)} (", ")")
        bias = ["none"]
        if layer.bias is not None:
            bias = ["shared"] * layer.shared_bias + _span_parts(names.biases[l]) + ["(frozen)"] * (not layer.train_bias)
            params.append(f"+ {len(layer.bias)}")
        act = [layer.activation] + ([f"(slope {given(layer.slope, style)})"] if layer.activation == "leaky_relu" else [])
        rows.append((label, _span_parts(names.out[l], f"{layer.units}: "), act, bias, params))
    title = Text(spec.title or "Network")
    opt = spec.optimizer
    hyper = ", ".join(f"{k} {given(v, style)}" if not isinstance(v, bool) else f"{k} {str(v).lower()}"
                      for k, v in opt.hyper.items() if v or k == "momentum")
    caption = [f"{spec.n_params} parameters", f"loss {spec.loss}", f"learning rate α = {given(spec.learning_rate, style)}",
               f"optimizer {opt.name}{f' ({hyper})' if hyper else ''}"]
    return Fitting(_wide(title, rows, caption), _narrow(title, rows, caption))


NETWORK_COLUMNS = ("layer", "neurons", "activation", "bias", "parameters")


def _network_table(title: Text, columns, caption) -> Table:
    t = Titled(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, show_edge=False,
               padding=(0, 1), caption=Segments(caption, style="table.caption"), caption_justify="left")
    for col in columns:
        t.add_column(col, no_wrap=col == "layer", header_style="bold")
    return t


def _wide(title: Text, rows, caption) -> Table:
    t = _network_table(title, NETWORK_COLUMNS, caption)
    for label, *cells in rows:
        t.add_row(label, *[Segments(parts, " ") for parts in cells])
    return t


def _narrow(title: Text, rows, caption) -> Table:
    t = _network_table(title, ("layer", Segments(NETWORK_COLUMNS[1:])), caption)
    for label, neurons, act, bias, params in rows:
        details = [" ".join(neurons), " ".join(act)]
        details += [f"bias {' '.join(bias)}", f"parameters {' '.join(params)}"] if params else []
        t.add_row(label, Segments(details))
    return t


def _span_parts(names, before: str = "", after: str = "") -> list[str]:
    """A list of names as units that a line may break between: `w1 … w8` is one unit, `x1, x2` two."""
    names = list(names)
    parts = [f"{names[0]} … {names[-1]}"] if len(names) > 3 else [n + "," for n in names[:-1]] + names[-1:]
    parts[0] = before + parts[0]
    parts[-1] += after
    return parts


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


def given(v: float, style: str) -> str:
    """A value the user wrote (learning rate, a hyperparameter), as written: 0.5, 1×10²⁰⁰."""
    return num(v, given=True, style=style)


def forward_table(title: str, f: Forward, view: View) -> Table:
    t = _table(title, view)
    for layer in f.layers:
        for n in layer:
            _row(t, view, n.z)
        for n in layer:
            _row(t, view, n.out)
    return t


def loss_table(title: str, loss: Loss, view: View) -> Table:
    t = _table(title, view)
    for q in (*loss.errors, loss.total):
        _row(t, view, q)
    return t


def backward_tables(p: Pass, view: View, n_layers: int) -> list[Table]:
    out = []
    for step, layer in enumerate(p.backward, 1):
        what = "output layer" if layer.index == n_layers - 1 else f"hidden layer {layer.index + 1}"
        t = _table(f"Backward step {step}: {what}", view)
        for q in backward_rows(layer):
            _row(t, view, q)
        if layer.index == n_layers - 1 and p.loss.kind in SHORTCUTS:
            o, target = p.forward.outputs[0].out, p.loss.targets[0]
            t.caption = Segments([f"{SHORTCUTS[p.loss.kind]}:", "the chain above simplifies to δ = o − target,",
                                  f"e.g. {view.name(p.backward[0].neurons[0].delta)} = {view.name(o)} − "
                                  f"{view.name(target)} = {view.num(o.value - target.value)}"], " ", "table.caption")
            t.caption_justify = "left"
        out.append(t)
    return out


SHORTCUTS = {"cross_entropy": "softmax with cross-entropy", "binary_cross_entropy": "sigmoid with binary cross-entropy"}


STATE_PAIRS = (("m", "v"), ("m_hat", "v_hat"))


def updates_table(it: Iteration, view: View) -> list[Table]:
    """param | old | gradient | new, then the optimizer's state in tables of at most two columns,
    so that no number is cut at 60 columns."""
    title = f"Updates ({it.optimizer}, α = {given(it.learning_rate, view.style)})"
    t = _plain(title, ("param", "old", "gradient", "new"))
    for u in it.updates:
        new = view.num(u.new) + (" (frozen)" if u.frozen else "")
        t.add_row(id_name(u.ident, view.names, view.style), view.num(u.old, u.given), view.num(u.gradient), new)
    if it.rule is not None and any(not u.frozen for u in it.updates):
        t.caption = "p⁺ = " + render(it.rule, view.style, view.names)
        t.caption_justify = "left"
    out = [t]
    keys = list(dict.fromkeys(k for u in it.updates for k in u.state))
    for pair in STATE_PAIRS if "m" in keys else ((k,) for k in keys):
        heads = [id_name(formulas.state_id(k), None, view.style) for k in pair]
        s = _plain(f"Optimizer state: {', '.join(heads)}", ("param", *heads))
        for u in it.updates:
            if not u.frozen:
                s.add_row(id_name(u.ident, view.names, view.style), *[view.num(u.state[k]) for k in pair])
        out.append(s)
    return out


def _plain(title: str, columns) -> Table:
    t = Titled(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, show_edge=False,
               padding=(0, 1))
    t.add_column(columns[0], style=NAME_STYLE, no_wrap=True)
    for c in columns[1:]:
        t.add_column(c, justify="right", no_wrap=True, style=VALUE_STYLE if c == "new" else "")
    return t


def check_table(it: Iteration, view: View) -> Table:
    t = _plain("Check: forward pass again with the updated weights", ("quantity", "before", "after", "change"))
    for p, c in zip(it.passes, it.checks):
        if len(it.passes) > 1:
            t.add_section()
            t.add_row(f"sample {p.sample}", "", "", "")
        for b, q in zip(_forward_values(p.forward, p.loss), _forward_values(c.forward, c.loss)):
            t.add_row(view.name(b), view.num(b.value), view.num(q.value), signed(q.value - b.value, view.precision, view.style))
    return t


def _forward_values(f: Forward, loss: Loss) -> list[Quantity]:
    out = []
    for layer in f.layers:
        out += [n.z for n in layer] + [n.out for n in layer]
    return out + list(loss.errors) + [loss.total]


def verdict(it: Iteration, view: View) -> Segments:
    """E_total before → after, then how it changed (the two parts wrap apart, never a word alone)."""
    before, after = it.loss_before, it.loss_after
    change = Text.assemble(("E_total: ", "bold"), (f"{view.num(before)} → {view.num(after)}", "bold"))
    if not math.isfinite(after):
        change.stylize("red", len("E_total: "))
        return Segments([change, "the update overflowed; try a smaller learning rate"], "  ")
    diff = after - before
    pct = f" ({percent(diff / before, view.style)})" if before else ""
    word = "down" if diff < 0 else "up" if diff > 0 else "unchanged"
    return Segments([change, f"{word} by {view.num(abs(diff))}{pct}"], "  ")


def render_iteration(it: Iteration, spec, view: View) -> Group:
    parts: list = []
    n_layers = len(spec.layers)
    view.names = it.names
    for p in it.passes:
        label = f" (sample {p.sample})" if len(spec.samples) > 1 else ""
        parts.append(forward_table(f"Forward pass{label}", p.forward, view))
        parts.append(loss_table(f"Errors{label}", p.loss, view))
        parts += backward_tables(p, view, n_layers)
    parts += updates_table(it, view)
    parts.append(check_table(it, view))
    parts.append(verdict(it, view))
    return Group(*_spaced(parts))


def _spaced(parts: list) -> list:
    out = []
    for p in parts:
        out += [p, Text("")]
    return out[:-1]


def render_trace(trace: Trace, precision: int = 8, formulas: bool = True, style: str = "unicode") -> Group:
    view = View(precision, formulas, style)
    parts: list = [summary(trace.spec, trace.names, style), Text("")]
    for it in trace.iterations:
        if len(trace.iterations) > 1:
            parts.append(Rule(f"epoch {it.epoch}, step {it.step}"))
        parts.append(render_iteration(it, trace.spec, view))
    if style == "ascii":  # every character ASCII before rich measures a column (… as ...)
        from .plain import asciify

        return asciify(Group(*parts))
    return Group(*parts)
