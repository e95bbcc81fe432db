"""Renderables for a training run: per-epoch table, loss curve, weights and outputs, verdict."""

from __future__ import annotations

import numpy as np
from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from .. import fmt
from ..i18n import N_, _, ngettext
from ..labels import eval_mode_note
from ..notation import leaf, param_ids
from ..notation import name as id_name
from .layout import Segments, Titled
from .svgplot import log_ticks, nice_ticks, tick_label
from .tables import NAME_STYLE, VALUE_STYLE, epoch_title

STYLE = "unicode"  # the terminal's notation: 1.2×10⁻⁹, −0.5 (the same rules as `run`: bptrace.fmt)


def num(v: float, precision: int = 8, given: bool = False) -> str:
    return fmt.num(v, precision, given, STYLE)


def signed(v: float, precision: int = 8) -> str:
    return fmt.signed(v, precision, STYLE)


def round_step(n: int, rows: int = 20) -> int:
    """The smallest round step (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, …) that lists n epochs in at most `rows` rows."""
    scale = 1
    while True:
        for m in (1, 2, 2.5, 5):
            step = m * scale
            if step == int(step) and n / step <= rows:
                return int(step)
        scale *= 10


def table_rows(r, every: int | None = None, rows: int = 20) -> list[int]:
    """Rows of r's history to list: all when few; else epoch 1, the multiples of a round step
    (or of --every K) and the last epoch. (Decimated histories keep the ends of buckets of round
    sizes, so round epochs are there.)"""
    n = r.epochs_done
    if n == 0:
        return []
    epoch = r.epoch
    if not every and len(epoch) <= rows + 5 and n <= rows + 5:
        return list(range(len(epoch)))
    step = every or round_step(n, rows)
    return np.flatnonzero((epoch % step == 0) | (epoch == 1) | (epoch == n)).tolist()


def curve_points(r, points: int) -> tuple[np.ndarray, np.ndarray]:
    """(epochs, losses) for a loss curve of about `points` points: every kept row when they fit,
    else per slice of rows its first, lowest, highest and last (so spikes and the minimum show)."""
    x, y = r.epoch[:len(r.loss)], r.loss
    if len(y) <= points:
        return x, y
    keep = {0, len(y) - 1}
    edges = np.linspace(0, len(y), max(points // 4, 1) + 1).round().astype(int)
    for a, b in zip(edges[:-1], edges[1:]):
        if b > a:
            keep.update((a, a + int(np.argmin(y[a:b])), a + int(np.argmax(y[a:b])), b - 1))
    idx = np.array(sorted(keep))
    return x[idx], y[idx]


def _table(title: str) -> Table:
    return Titled(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, show_edge=False,
                  padding=(0, 1))


def epoch_table(r, precision: int = 8, every: int | None = None) -> Table:
    watch = r.plan.watch
    title = _("Epochs ({n} run)") if every is None else _("Epochs ({n} run, every {every})")
    t = _table(title.format(n=f"{r.epochs_done:,}", every=f"{every or 0:,}"))
    t.caption, t.caption_justify = _("outputs of sample {n}").format(n=watch), "left"
    t.add_column(_("epoch"), justify="right", style=NAME_STYLE, no_wrap=True)
    t.add_column(_("loss"), justify="right", style=VALUE_STYLE, no_wrap=True)
    t.add_column("‖g‖", justify="right", no_wrap=True)
    targets = r.spec.samples[watch - 1].target
    kept = r.outputs.shape[1] if r.outputs.ndim == 2 else len(targets)
    last = len(r.names.out) - 1
    for j, target in enumerate(targets[:kept]):
        o = id_name(leaf("out", last, j), r.names, STYLE)
        t.add_column(f"{o} (t={num(target, precision, True)})", justify="right", no_wrap=True)
    if kept < len(targets):
        t.caption += _(" (the first {kept} of {n} outputs)").format(kept=kept, n=len(targets))
    for i in table_rows(r, every):
        t.add_row(str(int(r.epoch[i])), num(r.loss[i], precision), num(r.grad_norm[i], precision),
                  *[num(float(v), precision) for v in r.outputs[i]])
    return t


def loss_curve(r, log_y: bool = False, width: int = 76, height: int = 16) -> Text:
    import plotext as plt

    n = r.epochs_done
    x, y = curve_points(r, 4 * width)
    if log_y:
        positive = y[y > 0]
        y = np.maximum(y, positive.min() if positive.size else 1e-300)
    plt.clear_figure()
    plt.plot(x.tolist(), y.tolist(), marker="braille")
    plt.plotsize(width, height)
    plt.theme("clear")
    plt.title("loss per epoch" + (" (log scale)" if log_y else ""))
    plt.xlabel("epoch")
    plt.xticks([int(t) for t in nice_ticks(1, n, integer=True)])  # 1, 2 or 5 × 10^k apart: evenly spaced
    if log_y:
        plt.yscale("log")
    if len(y) and y.max() > y.min():
        ticks = (log_ticks if log_y else nice_ticks)(float(y.min()), float(y.max()))
        plt.yticks(ticks, [tick_label(t) for t in ticks])
    text = plt.build()
    plt.clear_figure()
    return Text.from_ansi(text.rstrip("\n"))


def weights_table(r, precision: int = 8, limit: int = 60) -> Table:
    t = _table(_("Parameters: initial → final"))
    t.add_column(_("param"), style=NAME_STYLE, no_wrap=True)
    t.add_column(_("initial"), justify="right", no_wrap=True)
    t.add_column(_("final"), justify="right", style=VALUE_STYLE, no_wrap=True)
    t.add_column(_("change"), justify="right", no_wrap=True)
    rows = zip(param_ids(r.names), given_params(r.spec), r.initial_values[:limit].tolist(), r.final_values[:limit].tolist())
    for p, given, v0, v1 in rows:
        t.add_row(id_name(p, r.names, STYLE), num(v0, precision, given), num(v1, precision), signed(v1 - v0, precision))
    if r.initial_values.size > limit:
        t.caption = _("… and {n} more (export the run to see every parameter)").format(n=f"{r.initial_values.size - limit:,}")
        t.caption_justify = "left"
    return t


def given_params(spec):
    """Per parameter, in numbering order: whether the spec wrote its initial value (a weight matrix
    written out, every bias) rather than an initialiser making it."""
    for f in spec.front:  # front layers first (bptrace.front)
        for p in f.params:
            yield from [p.given] * p.value.size
    for layer in spec.layers:
        yield from [layer.init == "given"] * (layer.units * layer.fan_in)
        yield from [True] * (0 if layer.bias is None else len(layer.bias))


def outputs_table(r, precision: int = 8, limit: int = 30) -> Table:
    t = _table(_("Outputs with the final weights") + eval_mode_note(r.spec))
    t.add_column(_("sample"), justify="right", style=NAME_STYLE, no_wrap=True)
    t.add_column("x", overflow="fold")
    t.add_column(_("target"), overflow="fold")
    t.add_column(_("output"), style=VALUE_STYLE, overflow="fold")
    for i, (s, o) in enumerate(zip(r.spec.samples[:limit], r.final_outputs), 1):
        t.add_row(str(i), _vec(s.x, precision, given=True), _vec(s.target, precision, given=True), _vec(o, precision))
    if len(r.spec.samples) > limit:
        t.caption = _("… and {n} more samples").format(n=f"{len(r.spec.samples) - limit:,}")
        t.caption_justify = "left"
    return t


def _vec(values, precision: int, limit: int = 8, given: bool = False) -> str:
    shown = ", ".join(num(float(v), precision, given) for v in list(values)[:limit])
    return shown + (", … (" + _("{n} in all").format(n=len(values)) + ")" if len(values) > limit else "")


STOPS = {
    "completed": N_("all completed"),
    "until_loss": N_("stopped early: loss reached --until-loss"),
    "interrupted": N_("interrupted (Ctrl-C); summary so far"),
    "diverged": N_("stopped: a value became NaN or infinite"),
}


def loss_change(r, precision: int = 8) -> str:
    """'0.16448965 → 0.00007044  (-99.96%)', or after a blow-up '0.25 → diverged at epoch 163 (w1 overflowed to inf)'."""
    if not len(r.loss):
        return r.divergence.short() if r.divergence is not None else ""
    first = num(r.loss[0], precision)
    if r.divergence is not None:
        return f"{first} → {r.divergence.short()}"
    a, b = float(r.loss[0]), float(r.loss[-1])
    change = f"  ({fmt.percent((b - a) / a, STYLE)})" if a and abs((b - a) / a) < 1e6 else ""
    return f"{first} → {num(b, precision)}{change}"


def verdict(r, precision: int = 8) -> Text:
    text = Text()
    if r.epochs_done or r.divergence is not None:
        text.append(_("loss") + ": ", style="bold")
        text.append(loss_change(r, precision), style="bold")
    text.append("\n" + ngettext("{n} epoch run: {how}", "{n} epochs run: {how}", r.epochs_done).format(
        n=f"{r.epochs_done:,}", how=_(STOPS[r.stop])))
    if r.spec.schedule is not None and r.epochs_done:
        text.append("\n" + _("α per epoch ({name} schedule): {rates}").format(name=r.spec.schedule.name,
                                                                             rates=_rates(r, precision)))
        for l, layer in enumerate(r.spec.layers):  # parameter groups: a layer's own α, scheduled from its own
            if layer.learning_rate is not None:
                text.append("\n  " + _("layer {l}: {rates}").format(l=l + 1, rates=_rates(r, precision, l)))
    return text


def _rates(r, precision: int, layer: int | None = None) -> str:
    """α of each epoch run (the spec's, or a layer's own): all of them for a short run, else the first three,
    … and the last."""
    from .. import groups, schedules

    n = r.epochs_done
    shown = range(1, n + 1) if n <= 8 else [1, 2, 3, n]
    rate = (lambda e: schedules.rate(r.spec, e)) if layer is None else (lambda e: groups.rate(r.spec, layer, e))
    parts = [f"{e}: {num(rate(e), precision)}" for e in shown]
    return ", ".join(parts) if n <= 8 else ", ".join(parts[:3]) + f", …, {parts[3]}"


def summary(r, precision: int = 8) -> Group:
    return Group(weights_table(r, precision), Text(""), outputs_table(r, precision), Text(""), verdict(r, precision))


def header(r_spec, names, plan) -> Group:
    """The network and the run's settings: what `step` shows before it starts training."""
    from .tables import summary as network

    n = len(r_spec.samples)
    batch = {"online": _("online (one update per sample)"), "full": _("full batch")}.get(
        plan.batch, _("mini-batches of {n}").format(n=plan.batch))
    if isinstance(plan.batch, int) and plan.batch >= n:  # K ≥ n: one batch of every sample, as full
        batch = ngettext("batches of {k}: the {n} sample in one (a full batch)",
                         "batches of {k}: all {n} samples in one (a full batch)", n).format(k=f"{plan.batch:,}", n=f"{n:,}")
    seed = r_spec.seed if plan.seed is None else plan.seed
    order = _("shuffled (seed {seed})").format(seed=seed) if plan.shuffle else _("in order")
    samples = ngettext("{n} sample {order}", "{n} samples {order}", n).format(n=f"{n:,}", order=order)
    return Group(network(r_spec, names), Text(""),
                 Segments([ngettext("{n} epoch", "{n} epochs", plan.epochs).format(n=f"{plan.epochs:,}"), samples, batch,
                           _("optimizer {name}").format(name=r_spec.optimizer.name)], style="dim"), Text(""))


def render_run(r, view, every: int | None = None, log_y: bool = False, width: int = 80,
               with_header: bool = True) -> Group:
    """Everything `step` shows, in order: network, settings, traces, epochs, curve, summary."""
    from rich.rule import Rule

    from .matrix import iteration_in_form as in_form

    parts: list = [header(r.spec, r.names, r.plan)] if with_header else []
    for it in r.traces:
        parts += [Rule(epoch_title(it)), in_form(it, r.spec, view), Text("")]
    if r.epochs_done:
        parts += [epoch_table(r, view.precision, every), Text(""), loss_curve(r, log_y, width=width), Text("")]
    if r.health is not None:  # step --health
        from .health import health_parts

        parts += health_parts(r, every, width)
    parts.append(summary(r, view.precision))
    return Group(*parts)
