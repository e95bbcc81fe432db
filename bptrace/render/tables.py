"""Rich tables for one traced iteration, in the worked example's order.

Each quantity is one row: its name; its formula over the same formula with the numbers
put in; its value. Numbers are never cut: formula cells wrap at spaces, value cells
never wrap.
"""

from __future__ import annotations

import math

from rich import box
from rich.console import Group
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from ..fmt import generic_rule, num, pretty_formula, signed, substitute
from ..naming import pretty
from ..trace import Forward, Iteration, Loss, Pass, Product, Quantity, Sum, Trace

NAME_STYLE = "cyan"
VALUE_STYLE = "bold"


class View:
    """How to show numbers: precision and whether formulas are shown."""

    def __init__(self, precision: int = 8, formulas: bool = True):
        self.precision = precision
        self.formulas = formulas

    def num(self, v: float) -> str:
        return num(v, self.precision)


def _table(title: str, view: View, first: str = "quantity") -> Table:
    t = Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, expand=False,
              padding=(0, 1), show_edge=False)
    t.add_column(first, style=NAME_STYLE, no_wrap=True)
    if view.formulas:
        t.add_column("formula  =  numbers", overflow="fold", ratio=1)
    t.add_column("value", justify="right", style=VALUE_STYLE, no_wrap=True)
    return t


def _row(t: Table, view: View, name: str, value: float, formula: str = "", numbers: str = "") -> None:
    if not view.formulas:
        t.add_row(pretty(name), view.num(value))
        return
    cell = Text(pretty_formula(formula)) if formula else Text("")
    if numbers and numbers != view.num(value):
        cell.append(("\n" if formula else "") + "= " + numbers, style="dim")
    t.add_row(pretty(name), cell, view.num(value))


def _quantity_row(t: Table, view: View, q: Quantity, values: dict[str, float]) -> None:
    _row(t, view, q.name, q.value, q.formula, substitute(q.formula, values, view.precision) if q.formula else "")


def _product_row(t: Table, view: View, p: Product) -> None:
    formula = " × ".join(f.name for f in p.factors)
    numbers = " × ".join(_paren(view.num(f.value)) for f in p.factors)
    _row(t, view, p.name, p.value, formula, numbers)


def _sum_row(t: Table, view: View, s: Sum) -> None:
    formula = " + ".join(term.name for term in s.terms)
    numbers = " + ".join(_paren(view.num(term.value)) for term in s.terms)
    _row(t, view, s.name, s.value, formula, numbers)


def _paren(s: str) -> str:
    return f"({s})" if s.startswith("-") else s


# ---------------------------------------------------------------- sections


def summary(spec, names) -> Table:
    t = Table(title=Text(spec.title or "Network"), title_justify="left", title_style="bold", box=box.SIMPLE_HEAD,
              show_edge=False, padding=(0, 1))
    for col in ("layer", "neurons", "activation", "bias", "parameters"):
        t.add_column(col, overflow="fold")
    t.add_row("input", f"{spec.n_inputs}: {_span(names.inputs)}", "", "", "")
    L = len(spec.layers)
    for l, layer in enumerate(spec.layers):
        label = "output" if l == L - 1 else f"hidden {l + 1}"
        ws = [w for row in names.weights[l] for w in row]
        params = f"{len(ws)} ({_span(ws)})"
        bias = "none"
        if layer.bias is not None:
            bias = ("shared " if layer.shared_bias else "") + _span(names.biases[l])
            bias += "" if layer.train_bias else " (frozen)"
            params += f" + {len(layer.bias)}"
        act = layer.activation + (f" (slope {layer.slope:g})" if layer.activation == "leaky_relu" else "")
        t.add_row(label, f"{layer.units}: {_span(names.out[l])}", act, bias, params)
    opt = spec.optimizer
    hyper = ", ".join(f"{k} {v:g}" if not isinstance(v, bool) else f"{k} {str(v).lower()}"
                      for k, v in opt.hyper.items() if v or k == "momentum")
    t.caption = (f"{spec.n_params} parameters · loss {spec.loss} · learning rate α = {spec.learning_rate:g}"
                 f" · optimizer {opt.name}{f' ({hyper})' if hyper else ''}")
    t.caption_justify = "left"
    return t


def _span(names) -> str:
    names = list(names)
    return ", ".join(names) if len(names) <= 3 else f"{names[0]} … {names[-1]}"


def forward_table(title: str, f: Forward, values: dict[str, float], view: View) -> Table:
    t = _table(title, view)
    for layer in f.layers:
        for n in layer:
            numbers = " + ".join(f"{_paren(view.num(x.weight.value))}×{_paren(view.num(x.source.value))}" for x in n.terms)
            if n.bias:
                numbers += f" + {_paren(view.num(n.bias.value))}"
            _row(t, view, n.z.name, n.z.value, n.z.formula, numbers)
        for n in layer:
            _quantity_row(t, view, n.out, values)
    return t


def loss_table(title: str, loss: Loss, values: dict[str, float], view: View) -> Table:
    t = _table(title, view)
    for q in loss.errors:
        _quantity_row(t, view, q, values)
    numbers = " + ".join(view.num(q.value) for q in loss.errors)
    _row(t, view, loss.total.name, loss.total.value, loss.total.formula, numbers)
    return t


def backward_tables(p: Pass, values: dict[str, float], view: View, n_layers: int) -> list[Table]:
    out = []
    for step, layer in enumerate(p.backward, 1):
        what = "output layer" if layer.index == n_layers - 1 else f"hidden layer {layer.index + 1}"
        t = _table(f"Backward step {step}: {what}", view)
        for n in layer.neurons:
            if isinstance(n.dE_dout, Sum):
                for term in n.dE_dout.terms:
                    _product_row(t, view, term)
                _sum_row(t, view, n.dE_dout)
            else:
                _quantity_row(t, view, n.dE_dout, values)
            if n.dout_dz is not None:
                _quantity_row(t, view, n.dout_dz, values)
            for q in n.jacobian:
                _quantity_row(t, view, q, values)
            if isinstance(n.delta, Sum):
                for term in n.delta.terms:
                    _product_row(t, view, term)
                _sum_row(t, view, n.delta)
            else:
                _product_row(t, view, n.delta)
        for g in layer.gradients:
            if isinstance(g, Sum):
                _sum_row(t, view, g)
            else:
                _product_row(t, view, g)
        if layer.index == n_layers - 1 and p.loss.kind in SHORTCUTS:
            o, target = p.forward.outputs[0].out.name, p.loss.targets[0].name
            t.caption = (f"{SHORTCUTS[p.loss.kind]}: the chain above simplifies to δ = o − target, "
                         f"e.g. δ_{o} = {o} − {target} = {view.num(p.forward.outputs[0].out.value - p.loss.targets[0].value)}")
            t.caption_justify = "left"
        out.append(t)
    return out


SHORTCUTS = {"cross_entropy": "softmax with cross-entropy", "binary_cross_entropy": "sigmoid with binary cross-entropy"}


def updates_table(it: Iteration, view: View) -> Table:
    state_keys = list(dict.fromkeys(k for u in it.updates for k in u.state))
    first = next((u for u in it.updates if not u.frozen), None)
    title = f"Updates ({it.optimizer}, α = {it.learning_rate:g})"
    t = Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, show_edge=False,
              padding=(0, 1))
    t.add_column("param", style=NAME_STYLE, no_wrap=True)
    t.add_column("old", justify="right", no_wrap=True)
    t.add_column("gradient", justify="right", no_wrap=True)
    for k in state_keys:
        t.add_column({"m_hat": "m̂", "v_hat": "v̂"}.get(k, k), justify="right", no_wrap=True)
    t.add_column("new", justify="right", style=VALUE_STYLE, no_wrap=True)
    for u in it.updates:
        new = view.num(u.new) + (" (frozen)" if u.frozen else "")
        t.add_row(f"{pretty(u.name)}", view.num(u.old), view.num(u.gradient),
                  *[view.num(u.state[k]) if k in u.state else "" for k in state_keys], new)
    if first is not None:
        t.caption = "p⁺ = " + generic_rule(first.name, first.rule)
        t.caption_justify = "left"
    return t


def check_table(it: Iteration, view: View) -> Table:
    t = Table(title="Check: forward pass again with the updated weights", title_justify="left",
              title_style="bold", box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1))
    t.add_column("quantity", style=NAME_STYLE, no_wrap=True)
    t.add_column("before", justify="right", no_wrap=True)
    t.add_column("after", justify="right", style=VALUE_STYLE, no_wrap=True)
    t.add_column("change", justify="right", no_wrap=True)
    for p, c in zip(it.passes, it.checks):
        if len(it.passes) > 1:
            t.add_section()
            t.add_row(f"sample {p.sample}", "", "", "")
        before = {n.name: n.value for n in _forward_values(p.forward, p.loss)}
        for q in _forward_values(c.forward, c.loss):
            b = before[q.name]
            t.add_row(pretty(q.name), view.num(b), view.num(q.value), signed(q.value - b, view.precision))
    return t


def _forward_values(f: Forward, loss: Loss) -> list[Quantity]:
    out = []
    for layer in f.layers:
        out += [n.z for n in layer] + [n.out for n in layer]
    return out + list(loss.errors) + [loss.total]


def verdict(it: Iteration, view: View) -> Text:
    before, after = it.loss_before, it.loss_after
    if not math.isfinite(after):
        text = Text("E_total: ", style="bold")
        text.append(f"{view.num(before)} → {view.num(after)}", style="bold red")
        text.append("  the update overflowed; try a smaller learning rate")
        return text
    change = after - before
    pct = f" ({change / before:+.2%})" if before else ""
    word = "down" if change < 0 else "up" if change > 0 else "unchanged"
    text = Text("E_total: ", style="bold")
    text.append(f"{view.num(before)} → {view.num(after)}", style="bold")
    text.append(f"  {word} by {view.num(abs(change))}{pct}")
    return text


def render_iteration(it: Iteration, spec, view: View) -> Group:
    parts: list = []
    n_layers = len(spec.layers)
    for p in it.passes:
        values = p.values()
        label = f" (sample {p.sample})" if len(spec.samples) > 1 else ""
        parts.append(forward_table(f"Forward pass{label}", p.forward, values, view))
        parts.append(loss_table(f"Errors{label}", p.loss, values, view))
        parts += backward_tables(p, values, view, n_layers)
    parts.append(updates_table(it, view))
    parts.append(check_table(it, view))
    parts.append(verdict(it, view))
    return Group(*_spaced(parts))


def _spaced(parts: list) -> list:
    out = []
    for p in parts:
        out += [p, Text("")]
    return out[:-1]


def render_trace(trace: Trace, precision: int = 8, formulas: bool = True) -> Group:
    view = View(precision, formulas)
    parts: list = [summary(trace.spec, trace.names), Text("")]
    for it in trace.iterations:
        if len(trace.iterations) > 1:
            parts.append(Rule(f"epoch {it.epoch}, step {it.step}"))
        parts.append(render_iteration(it, trace.spec, view))
    return Group(*parts)
