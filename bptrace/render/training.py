"""Renderables for a training run: per-epoch table, loss curve, weights and outputs, verdict."""

from __future__ import annotations

import numpy as np
from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..fmt import num, signed
from ..naming import pretty
from .tables import NAME_STYLE, VALUE_STYLE


def thin(n: int, every: int | None = None, rows: int = 20) -> list[int]:
    """0-based epochs to list: all when few; else first, last and evenly spaced (or every K-th)."""
    if n == 0:
        return []
    if every:
        picked = set(range(every - 1, n, every)) | {0, n - 1}
    elif n <= rows + 5:
        picked = set(range(n))
    else:
        picked = set(np.linspace(0, n - 1, rows).round().astype(int).tolist())
    return sorted(picked)


def _table(title: str) -> Table:
    return Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, show_edge=False,
                 padding=(0, 1))


def epoch_table(r, precision: int = 8, every: int | None = None) -> Table:
    watch = r.plan.watch
    t = _table(f"Epochs ({r.epochs_done} run{'' if every is None else f', every {every}'}; outputs of sample {watch})")
    t.add_column("epoch", justify="right", style=NAME_STYLE, no_wrap=True)
    t.add_column("loss", justify="right", style=VALUE_STYLE, no_wrap=True)
    t.add_column("‖g‖", justify="right", no_wrap=True)
    targets = r.spec.samples[watch - 1].target
    for name, target in zip(r.names.out[-1], targets):
        t.add_column(f"{pretty(name)} (t={num(target, precision, True)})", justify="right", no_wrap=True)
    for i in thin(r.epochs_done, every):
        t.add_row(str(i + 1), num(r.loss[i], precision), num(r.grad_norm[i], precision),
                  *[num(v, precision) for v in r.outputs[i]])
    return t


def loss_curve(r, log_y: bool = False, width: int = 76, height: int = 16) -> Text:
    import plotext as plt

    n = r.epochs_done
    idx = np.unique(np.linspace(0, n - 1, min(n, 2 * width)).round().astype(int))
    y = r.loss[idx]
    if log_y:
        positive = y[y > 0]
        y = np.maximum(y, positive.min() if positive.size else 1e-300)
    plt.clear_figure()
    plt.plot((idx + 1).tolist(), y.tolist(), marker="braille")
    plt.plotsize(width, height)
    plt.theme("clear")
    plt.title("loss per epoch" + (" (log scale)" if log_y else ""))
    plt.xlabel("epoch")
    plt.xticks(sorted(set(np.linspace(1, n, min(n, 5)).round().astype(int).tolist())))
    if log_y:
        plt.yscale("log")
    text = plt.build()
    plt.clear_figure()
    return Text.from_ansi(text.rstrip("\n"))


def weights_table(r, precision: int = 8, limit: int = 60) -> Table:
    t = _table("Parameters: initial → final")
    t.add_column("param", style=NAME_STYLE, no_wrap=True)
    t.add_column("initial", justify="right", no_wrap=True)
    t.add_column("final", justify="right", style=VALUE_STYLE, no_wrap=True)
    t.add_column("change", justify="right", no_wrap=True)
    names = r.names.iter_params()
    for name, v0, v1 in zip(names, r.initial_values[:limit].tolist(), r.final_values[:limit].tolist()):
        t.add_row(pretty(name), num(v0, precision), num(v1, precision), signed(v1 - v0, precision))
    if r.initial_values.size > limit:
        t.caption = f"… and {r.initial_values.size - limit:,} more (export the run to see every parameter)"
        t.caption_justify = "left"
    return t


def outputs_table(r, precision: int = 8, limit: int = 30) -> Table:
    t = _table("Outputs with the final weights")
    t.add_column("sample", justify="right", style=NAME_STYLE, no_wrap=True)
    t.add_column("x", overflow="fold")
    t.add_column("target", overflow="fold")
    t.add_column("output", style=VALUE_STYLE, overflow="fold")
    for i, (s, o) in enumerate(zip(r.spec.samples[:limit], r.final_outputs), 1):
        t.add_row(str(i), _vec(s.x, precision, given=True), _vec(s.target, precision, given=True), _vec(o, precision))
    if len(r.spec.samples) > limit:
        t.caption = f"… and {len(r.spec.samples) - limit:,} more samples"
        t.caption_justify = "left"
    return t


def _vec(values, precision: int, limit: int = 8, given: bool = False) -> str:
    shown = ", ".join(num(float(v), precision, given) for v in list(values)[:limit])
    return shown + (f", … ({len(values)} in all)" if len(values) > limit else "")


STOPS = {
    "completed": "all completed",
    "until_loss": "stopped early: loss reached --until-loss",
    "interrupted": "interrupted (Ctrl-C); summary so far",
    "diverged": "stopped: a value became NaN or infinite",
}


def verdict(r, precision: int = 8) -> Text:
    text = Text()
    if r.epochs_done:
        first, last = r.loss[0], r.loss[r.epochs_done - 1]
        text.append("loss: ", style="bold")
        text.append(f"{num(first, precision)} → {num(last, precision)}", style="bold")
        if first:
            text.append(f"  ({(last - first) / first:+.2%})")
    text.append(f"\n{r.epochs_done} epoch{'s' if r.epochs_done != 1 else ''} run: {STOPS[r.stop]}")
    return text


def summary(r, precision: int = 8) -> Group:
    return Group(weights_table(r, precision), Text(""), outputs_table(r, precision), Text(""), verdict(r, precision))


def header(r_spec, names, plan) -> Group:
    """The network and the run's settings: what `step` shows before it starts training."""
    from .tables import summary as network

    batch = {"online": "online (one update per sample)", "full": "full batch"}.get(plan.batch,
                                                                                  f"mini-batches of {plan.batch}")
    seed = r_spec.seed if plan.seed is None else plan.seed
    order = f"shuffled (seed {seed})" if plan.shuffle else "in order"
    return Group(network(r_spec, names), Text(""),
                 Text(f"{plan.epochs} epochs · {len(r_spec.samples)} sample(s) {order} · {batch} · "
                      f"optimizer {r_spec.optimizer.name}", style="dim"), Text(""))


def render_run(r, view, every: int | None = None, log_y: bool = False, width: int = 80,
               with_header: bool = True) -> Group:
    """Everything `step` shows, in order: network, settings, traces, epochs, curve, summary."""
    from rich.rule import Rule

    from .tables import render_iteration

    parts: list = [header(r.spec, r.names, r.plan)] if with_header else []
    for it in r.traces:
        parts += [Rule(f"epoch {it.epoch}, step {it.step}"), render_iteration(it, r.spec, view), Text("")]
    if r.epochs_done:
        parts += [epoch_table(r, view.precision, every), Text(""), loss_curve(r, log_y, width=width), Text("")]
    parts.append(summary(r, view.precision))
    return Group(*parts)
