"""Markdown that reads like the worked example: each quantity as display math with its
formula, the numbers put in, and the result; Mermaid diagrams of the network before and
after the update. Renders on GitHub (math in $$ blocks, Mermaid in mermaid fences).
"""

from __future__ import annotations

import html
import math
import re
from string import Template

import numpy as np

from .. import activations, losses
from ..fmt import generic_rule, num, signed
from ..naming import latex
from ..trace import Forward, Iteration, Loss, Pass, Product, Quantity, Sum, Trace


def text(s: str) -> str:
    """User text (titles) made safe for Markdown: HTML escaped, Markdown punctuation backslashed."""
    return re.sub(r"([\\`*_\[\]#|~$])", r"\\\1", html.escape(s, quote=False))


def tnum(v: float, precision: int) -> str:
    """A number for LaTeX: 1.2e-09 -> 1.2\\times10^{-9}; negative numbers in parentheses."""
    s = num(v, precision)
    m = re.fullmatch(r"(-?[\d.]+)e([-+]\d+)", s)
    if m:
        s = rf"{m.group(1)}\times10^{{{int(m.group(2))}}}"
    return f"({s})" if s.startswith("-") else s


def _math(*parts: str) -> str:
    return "$$\n" + " = ".join(p for p in parts if p) + "\n$$\n"


class _Writer:
    def __init__(self, spec, names, precision: int):
        self.spec, self.names, self.p = spec, names, precision
        self.lines: list[str] = []

    def add(self, *blocks: str) -> None:
        self.lines.extend(blocks)

    def n(self, v: float) -> str:
        return tnum(v, self.p)

    # ------------------------------------------------------------ network

    def network(self, level: int) -> None:
        spec, N = self.spec, self.names
        self.add(f"{'#' * level} The network\n")
        rows = ["| layer | neurons | activation | bias | parameters |", "|---|---|---|---|---|",
                f"| input | {', '.join(N.inputs)} | | | |"]
        for l, layer in enumerate(spec.layers):
            label = "output" if l == len(spec.layers) - 1 else f"hidden {l + 1}"
            bias = "none" if layer.bias is None else ("shared " if layer.shared_bias else "") + ", ".join(N.biases[l])
            if layer.bias is not None and not layer.train_bias:
                bias += " (frozen)"
            act = layer.activation + (f" (slope {layer.slope:g})" if layer.activation == "leaky_relu" else "")
            rows.append(f"| {label} | {', '.join(N.out[l])} | {act} | {bias} | {layer.n_params} |")
        self.add("\n".join(rows) + "\n")
        opt = spec.optimizer
        hyper = ", ".join(f"{k} = {v}" for k, v in opt.hyper.items() if v or k == "momentum")
        self.add(f"Loss `{spec.loss}`, learning rate $\\alpha = {spec.learning_rate:g}$, optimizer `{opt.name}`"
                 f"{f' ({hyper})' if hyper else ''}; {spec.n_params} parameters.\n")

    def mermaid(self, title: str, weights: dict[str, float], biases: dict[str, float]) -> None:
        N = self.names
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
                    lines.append(f'    {ids[src]} -->|"{w} = {num(weights[w], self.p)}"| {ids[N.out[l][j]]}')
        lines.append("```")
        self.add(f"{title}\n", "\n".join(lines) + "\n")
        if biases:
            self.add("Biases: " + ", ".join(f"{b} = {num(v, self.p)}" for b, v in biases.items()) + ".\n")

    # ------------------------------------------------------------ forward and errors

    def forward(self, level: int, f: Forward, title: str) -> None:
        self.add(f"{'#' * level} {title}\n")
        L = len(f.layers)
        for l, layer in enumerate(f.layers):
            self.add(f"{'#' * (level + 1)} {'Output layer' if l == L - 1 else f'Hidden layer {l + 1}'}\n")
            for n in layer:
                formula = " + ".join(f"{latex(t.weight.name)}{latex(t.source.name)}" for t in n.terms)
                numbers = " + ".join(f"{self.n(t.weight.value)}\\times{self.n(t.source.value)}" for t in n.terms)
                if n.bias:
                    formula += f" + {latex(n.bias.name)}"
                    numbers += f" + {self.n(n.bias.value)}"
                self.add(_math(latex(n.z.name), formula, numbers, self.n(n.z.value)))
            for n in layer:
                self.add(_math(latex(n.out.name), *self._activation(n, layer, l), self.n(n.out.value)))

    def _activation(self, n, layer, l: int) -> tuple[str, str]:
        act = activations.get(n.activation, self.spec.layers[l].slope)
        if n.activation == "softmax":
            zs = " + ".join(f"e^{{{self.n(m.z.value)}}}" for m in layer)
            return Template(act.tex).substitute(z=latex(n.z.name)), rf"\frac{{e^{{{self.n(n.z.value)}}}}}{{{zs}}}"
        return (Template(act.tex).substitute(z=latex(n.z.name)), Template(act.tex).substitute(z=self.n(n.z.value)))

    def errors(self, level: int, loss: Loss, f: Forward, title: str = "Errors") -> None:
        self.add(f"{'#' * level} {title}\n")
        tmpl = Template(losses.LOSSES[loss.kind].tex)
        outs = f.outputs
        for q, t, o in zip(loss.errors, loss.targets, outs):
            sym = tmpl.substitute(t=latex(t.name), o=latex(o.out.name), n=len(outs))
            val = tmpl.substitute(t=self.n(t.value), o=self.n(o.out.value), n=len(outs))
            self.add(_math(latex(q.name), sym, val, self.n(q.value)))
        self.add(_math(latex(loss.total.name), " + ".join(latex(q.name) for q in loss.errors),
                       " + ".join(self.n(q.value) for q in loss.errors), self.n(loss.total.value)))

    # ------------------------------------------------------------ backward

    def backward(self, level: int, p: Pass) -> None:
        self.add(f"{'#' * level} Backward pass\n")
        L = len(p.backward)
        values = self._values
        for step, layer in enumerate(p.backward, 1):
            what = "output layer" if layer.index == L - 1 else f"hidden layer {layer.index + 1}"
            self.add(f"{'#' * (level + 1)} Step {step}: {what}\n")
            for n in layer.neurons:
                if isinstance(n.dE_dout, Sum):
                    for term in n.dE_dout.terms:
                        self.product(term)
                    self.sum(n.dE_dout)
                else:
                    self.add(_math(*self._loss_derivative(p, n.dE_dout, n.out), self.n(n.dE_dout.value)))
                if n.dout_dz is not None:
                    self.add(_math(*self._act_derivative(n), self.n(n.dout_dz.value)))
                for q in n.jacobian:
                    self.add(_math(latex(q.name), self._jacobian_tex(q, n.out, values), self.n(q.value)))
                if isinstance(n.delta, Sum):
                    for term in n.delta.terms:
                        self.product(term)
                    self.sum(n.delta, rf"\frac{{\partial E_{{total}}}}{{\partial {latex(n.z)}}}")
                else:
                    self.product(n.delta, rf"\frac{{\partial E_{{total}}}}{{\partial {latex(n.z)}}}")
            for g in layer.gradients:
                self.sum(g) if isinstance(g, Sum) else self.product(g)

    def product(self, p: Product, alias: str = "") -> None:
        self.add(_math(latex(p.name), alias, r" \times ".join(latex(f.name) for f in p.factors),
                       r" \times ".join(self.n(f.value) for f in p.factors), self.n(p.value)))

    def sum(self, s: Sum, alias: str = "") -> None:
        self.add(_math(latex(s.name), alias, " + ".join(latex(t.name) for t in s.terms),
                       " + ".join(self.n(t.value) for t in s.terms), self.n(s.value)))

    def _loss_derivative(self, p: Pass, q: Quantity, out: str) -> tuple[str, str, str]:
        k = [n.out.name for n in p.forward.outputs].index(out)
        t = p.loss.targets[k]
        tmpl = Template(losses.LOSSES[p.loss.kind].dtex)
        n = len(p.loss.targets)
        return (latex(q.name), tmpl.substitute(t=latex(t.name), o=latex(out), n=n),
                tmpl.substitute(t=self.n(t.value), o=self.n(p.forward.outputs[k].out.value), n=n))

    def _act_derivative(self, n) -> tuple[str, str, str]:
        layer = next(sl for sl, names in zip(self.spec.layers, self.names.out) if n.out in names)
        act = activations.get(layer.activation, layer.slope)
        tmpl = Template(act.dtex)
        value, zval = self._values[n.out], self._values[n.z]
        return (latex(n.dout_dz.name), tmpl.substitute(out=latex(n.out), z=latex(n.z)),
                tmpl.substitute(out=self.n(value), z=self.n(zval)))

    def _jacobian_tex(self, q: Quantity, out_j: str, values) -> str:
        o_k = re.match(r"d(.+)/d", q.name).group(1)
        if o_k == out_j:
            return f"{latex(o_k)}(1 - {latex(o_k)}) = {self.n(values[o_k])}(1 - {self.n(values[o_k])})"
        return f"-{latex(o_k)}{latex(out_j)} = -{self.n(values[o_k])}\\times{self.n(values[out_j])}"

    # ------------------------------------------------------------ update and check

    def updates(self, level: int, it: Iteration) -> None:
        self.add(f"{'#' * level} Updates\n")
        rule = next((u for u in it.updates if not u.frozen), None)
        if rule is not None and it.optimizer == "sgd" and not self.spec.optimizer.hyper.get("weight_decay"):
            self.add(_math(r"p^{+}", r"p - \alpha\frac{\partial E_{total}}{\partial p}") +
                     f"with $\\alpha = {it.learning_rate:g}$:\n")
            for u in it.updates:
                if not u.frozen:
                    self.add(_math(latex(u.name) + "^{+}", latex(u.name) + rf" - \alpha{latex('dE_total/d' + u.name)}",
                                   rf"{self.n(u.old)} - {it.learning_rate:g}\times{self.n(u.gradient)}", self.n(u.new)))
        keys = list(dict.fromkeys(k for u in it.updates for k in u.state))
        head = ["parameter", "old", "gradient", *[{"m_hat": "m̂", "v_hat": "v̂"}.get(k, k) for k in keys], "new"]
        rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for u in it.updates:
            cells = [f"${latex(u.name)}$", num(u.old, self.p), num(u.gradient, self.p),
                     *[num(u.state[k], self.p) if k in u.state else "" for k in keys],
                     num(u.new, self.p) + (" (frozen)" if u.frozen else "")]
            rows.append("| " + " | ".join(cells) + " |")
        if rule is not None:
            self.add(f"Rule (`{it.optimizer}`): p⁺ = {generic_rule(rule.name, rule.rule)}\n")
        self.add("\n".join(rows) + "\n")

    def check(self, level: int, it: Iteration) -> None:
        self.add(f"{'#' * level} Check: forward pass with the updated weights\n")
        rows = ["| quantity | before | after | change |", "|---|---|---|---|"]
        for p, c in zip(it.passes, it.checks):
            before = _flat(p.forward, p.loss)
            for name, after in _flat(c.forward, c.loss).items():
                label = f"${latex(name)}$" + (f" (sample {p.sample})" if len(it.passes) > 1 else "")
                rows.append(f"| {label} | {num(before[name], self.p)} | {num(after, self.p)} | "
                            f"{signed(after - before[name], self.p)} |")
        self.add("\n".join(rows) + "\n")
        b, a = it.loss_before, it.loss_after
        if not math.isfinite(a):
            self.add(f"**$E_{{total}}$: {num(b, self.p)} → {num(a, self.p)}**: the update overflowed; "
                     "try a smaller learning rate.\n")
            return
        word = "down" if a < b else "up" if a > b else "unchanged"
        pct = f" ({(a - b) / b:+.2%})" if b else ""
        self.add(f"**$E_{{total}}$: {num(b, self.p)} → {num(a, self.p)}**, {word} by {num(abs(a - b), self.p)}{pct}.\n")

    def iteration(self, level: int, it: Iteration, diagrams: bool = True) -> None:
        for p in it.passes:
            self._values = p.values()
            suffix = f" (sample {p.sample})" if len(self.spec.samples) > 1 else ""
            self.forward(level, p.forward, "Forward pass" + suffix)
            self.errors(level, p.loss, p.forward, "Errors" + suffix)
            self.backward(level, p)
        self.updates(level, it)
        self.check(level, it)
        if diagrams:
            self.mermaid("The network after the update:", *self._params_after(it))

    def _params_before(self, p: Pass) -> tuple[dict, dict]:
        weights, biases = {}, {}
        for layer in p.forward.layers:
            for n in layer:
                for t in n.terms:
                    weights[t.weight.name] = t.weight.value
                if n.bias:
                    biases[n.bias.name] = n.bias.value
        return weights, biases

    def _params_after(self, it: Iteration) -> tuple[dict, dict]:
        bias_names = {b for layer in self.names.biases for b in layer}
        weights = {u.name: u.new for u in it.updates if u.name not in bias_names}
        biases = {u.name: u.new for u in it.updates if u.name in bias_names}
        return weights, biases


def _flat(f: Forward, loss: Loss) -> dict[str, float]:
    out = {}
    for layer in f.layers:
        out.update({n.z.name: n.z.value for n in layer})
        out.update({n.out.name: n.out.value for n in layer})
    out.update({q.name: q.value for q in loss.errors})
    out[loss.total.name] = loss.total.value
    return out


def trace_markdown(trace: Trace, precision: int = 8) -> str:
    w = _Writer(trace.spec, trace.names, precision)
    title = trace.spec.title or "bptrace trace"
    w.add(f"# {text(title)}\n", "*Traced by bptrace: every quantity as its formula, the numbers put in, "
          "and the result.*\n")
    first = trace.iterations[0]
    w.network(2)
    w.mermaid("The network before the update:", *w._params_before(first.passes[0]))
    for it in trace.iterations:
        if len(trace.iterations) > 1:
            w.add(f"## Epoch {it.epoch}, step {it.step}\n")
        w.iteration(2 if len(trace.iterations) == 1 else 3, it)
    return "\n".join(w.lines)


def run_markdown(r, precision: int = 8, every: int | None = None) -> str:
    from ..render.training import STOPS, loss_change, table_rows

    w = _Writer(r.spec, r.names, precision)
    w.add(f"# {text(r.spec.title or 'bptrace training run')}\n")
    w.network(2)
    p = r.plan
    w.add(f"Trained for {r.epochs_done} of {p.epochs} epochs ({STOPS[r.stop]}); batch `{p.batch}`"
          f"{', shuffled' if p.shuffle else ''}.\n")
    w.add("## Loss per epoch\n")
    idx = table_rows(r, rows=40)
    if idx:
        ys = ", ".join(f"{r.loss[i]:.6g}" for i in idx)
        xs = ", ".join(str(r.epoch[i]) for i in idx)
        w.add("```mermaid\nxychart-beta\n    title \"Loss per epoch\"\n"
              f"    x-axis \"epoch\" [{xs}]\n    y-axis \"loss\"\n    line [{ys}]\n```\n")
        watch = p.watch
        outs = [f"${latex(o)}$" for o in r.names.out[-1][:r.outputs.shape[1]]]  # the kept (first 8) outputs
        rows = ["| epoch | loss | ‖g‖ | " + " | ".join(outs) + " |", "|---:|---:|---:|" + "---:|" * len(outs)]
        for i in table_rows(r, every):
            rows.append(f"| {r.epoch[i]} | {num(r.loss[i], precision)} | {num(r.grad_norm[i], precision)} | "
                        + " | ".join(num(float(v), precision) for v in r.outputs[i]) + " |")
        w.add(f"Outputs are those of sample {watch}.\n", "\n".join(rows) + "\n")
    for it in r.traces:
        w.add(f"## Epoch {it.epoch}, step {it.step}\n")
        w.iteration(3, it, diagrams=False)
    w.add("## Parameters: initial → final\n")
    rows = ["| parameter | initial | final | change |", "|---|---:|---:|---:|"]
    for name, v0, v1 in zip(r.names.params(), r.initial_values.tolist(), r.final_values.tolist()):
        rows.append(f"| ${latex(name)}$ | {num(v0, precision)} | {num(v1, precision)} | {signed(v1 - v0, precision)} |")
    w.add("\n".join(rows) + "\n")
    w.add("## Outputs with the final weights\n")
    rows = ["| sample | x | target | output |", "|---:|---|---|---|"]
    for i, (s, o) in enumerate(zip(r.spec.samples, r.final_outputs), 1):
        rows.append(f"| {i} | {', '.join(num(v, precision) for v in s.x)} | "
                    f"{', '.join(num(v, precision) for v in s.target)} | {', '.join(num(float(v), precision) for v in np.atleast_1d(o))} |")
    w.add("\n".join(rows) + "\n")
    if r.epochs_done or r.divergence is not None:
        w.add(f"**Loss: {text(loss_change(r, precision))}** after {r.epochs_done} epochs.\n")
    return "\n".join(w.lines)
