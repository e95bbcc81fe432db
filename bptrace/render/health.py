"""Renderables for a run's gradient health (`step --health`, bptrace.health): the norms per layer as
columns beside the epoch table's rows, their log10 plot, and the findings with what to try."""

from __future__ import annotations

import math

import numpy as np
from rich.console import Group
from rich.text import Text

from .. import fmt, health as rules
from ..i18n import N_, _
from ..notation import leaf
from ..notation import name as id_name
from .layout import Titled
from .tables import NAME_STYLE
from .svgplot import nice_ticks

STYLE = "unicode"
SHOWN = 12  # lines of findings listed; the rest counted
UNITS = 8  # units named in one line of findings


def sci(v: float, style: str = STYLE) -> str:
    """A norm with two significant digits, always scientific (they span orders of magnitude): 1.6×10⁻⁵."""
    if not math.isfinite(v) or v == 0:
        return fmt.num(v, 0, False, style)  # nan, inf, 0
    out = fmt.scientific(f"{v:.1e}", style)
    return fmt.MINUS[style] + out[1:] if out.startswith("-") else out


def layer_norm(l: int, style: str = STYLE) -> str:
    """‖g⁽ˡ⁾‖ for layer l (1-based): the Frobenius norm of ∂E/∂W⁽ˡ⁾."""
    if style == "latex":
        return rf"\lVert g^{{({l})}} \rVert"
    if style == "ascii":
        return f"||g({l})||"
    return f"‖g⁽{str(l).translate(fmt.SUPERSCRIPTS)}⁾‖"


def norm_table(r, every: int | None = None, style: str = STYLE):
    """The epoch table's rows with one column per layer: ‖∂E/∂W⁽ˡ⁾‖ at the start of the epoch."""
    from rich import box

    from .training import table_rows

    t = Titled(title=_("Gradient norm per layer, ‖g⁽ˡ⁾‖ = ‖∂E/∂W⁽ˡ⁾‖"), title_justify="left", title_style="bold",
               box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 0, 0, 1))  # 7 layers fit 80 columns
    t.caption = _("at the start of each epoch, mean loss over every sample (Frobenius norm)")
    t.caption_justify = "left"
    t.add_column(_("epoch"), justify="right", style=NAME_STYLE, no_wrap=True)
    for l in range(1, r.health.norms.shape[1] + 1):
        t.add_column(layer_norm(l, style), justify="right", no_wrap=True)
    for i in table_rows(r, every):
        t.add_row(str(int(r.epoch[i])), *[sci(float(v), style) for v in r.health.norms[i]])
    return t


def log_norms(r) -> tuple[np.ndarray, np.ndarray]:
    """(epochs, log10 of the norms): rows of r's kept epochs, one column per layer (nan where 0 or not finite)."""
    with np.errstate(all="ignore"):
        y = np.log10(r.health.norms)
    return r.epoch[:len(y)], np.where(np.isfinite(y), y, np.nan)


def norm_plot(r, width: int = 76, height: int = 16) -> Text:
    """log10 ‖g⁽ˡ⁾‖ over the epochs, one line per layer drawn with the layer's number."""
    import plotext as plt

    x, y = log_norms(r)
    plt.clear_figure()
    for l in range(y.shape[1]):
        keep = np.isfinite(y[:, l])
        if keep.any():
            plt.plot(x[keep].tolist(), y[keep, l].tolist(), marker=str(l + 1) if l < 9 else "•")
    plt.plotsize(width, height)
    plt.theme("clear")
    plt.title("log₁₀ ‖g⁽ˡ⁾‖ per epoch (each line drawn with its layer's number l)")  # plotext: one cell a character
    plt.xlabel("epoch")
    plt.xticks([int(t) for t in nice_ticks(1, max(r.epochs_done, 1), integer=True)])
    finite = y[np.isfinite(y)]
    if finite.size and finite.max() > finite.min():
        lo, hi = math.floor(finite.min()), math.ceil(finite.max())
        ticks = list(range(lo, hi + 1, max(1, math.ceil((hi - lo) / 6))))
        plt.yticks(ticks, [str(t).replace("-", "−") for t in ticks])
    text = plt.build()
    plt.clear_figure()
    return Text.from_ansi(text.rstrip("\n"))


ADVICE = {
    "saturated": N_("try smaller initial weights (xavier), inputs scaled to about −1…1, or relu"),
    "dead": N_("try a small positive bias, a smaller learning rate, or leaky_relu"),
    "vanishing": N_("try relu hidden layers, xavier or he initial weights, fewer layers, or adam"),
    "exploding": N_("try a smaller learning rate or smaller initial weights"),
}


def finding_text(f: rules.Finding, names, n_layers: int, style: str = STYLE) -> str:
    """One finding in words: when, which neuron or layers, the measure against its threshold, what to try."""
    v = sci(f.value, style)
    if f.kind in ("saturated", "dead"):
        v = fmt.num(f.value, 3, False, style)  # z, σ′(z) or |tanh z|: near 1, or small
        unit = id_name(leaf("out", f.layer, f.unit), names, style)
        z = id_name(leaf("z", f.layer, f.unit), names, style)
        if f.kind == "dead":
            what = _("{unit} (relu) is dead: {z} ≤ 0 for every sample (largest {v}), so its gradient is 0")
        elif f.activation == "tanh":
            what = _("{unit} (tanh) is saturated: |{unit}| > {t} for every sample (smallest {v})")
        else:
            what = _("{unit} (sigmoid) is saturated: σ′({z}) < {t} for every sample (largest {v})")
        t = rules.TANH_LEVEL if f.activation == "tanh" else rules.SIGMOID_SLOPE
        what = what.format(unit=unit, z=z, v=v, t=f"{t:g}")
    else:
        ratio = f"{layer_norm(1, style)} / {layer_norm(n_layers, style)}"
        if f.kind == "vanishing":
            what = _("vanishing gradients: {ratio} = {v}, below {t}").format(ratio=ratio, v=v,
                                                                            t=sci(rules.VANISHING, style))
        elif f.value > rules.LARGE:
            what = _("exploding gradients: a layer's norm is {v}, above {t}").format(v=v, t=sci(rules.LARGE, style))
        else:
            what = _("exploding gradients: {ratio} = {v}, above {t}").format(ratio=ratio, v=v,
                                                                            t=sci(rules.EXPLODING, style))
    return _("epoch {epoch}: {what}; {advice}").format(epoch=f"{f.epoch:,}", what=what, advice=_(ADVICE[f.kind]))


def group_text(group: list, names, style: str = STYLE) -> str:
    """Several units of one layer found the same way in the same epoch, in one line: h1, h3, h4 (relu) are dead."""
    f = group[0]
    units = [id_name(leaf("out", g.layer, g.unit), names, style) for g in group]
    listed = ", ".join(units[:UNITS]) + (", …" + _(" ({n} in all)").format(n=f"{len(units):,}") if len(units) > UNITS else "")
    if f.kind == "dead":
        what = _("{units} (relu) are dead: z ≤ 0 for every sample, so their gradients are 0")
    elif f.activation == "tanh":
        what = _("{units} (tanh) are saturated: |tanh z| > {t} for every sample")
    else:
        what = _("{units} (sigmoid) are saturated: σ′(z) < {t} for every sample")
    t = rules.TANH_LEVEL if f.activation == "tanh" else rules.SIGMOID_SLOPE
    return _("epoch {epoch}: {what}; {advice}").format(epoch=f"{f.epoch:,}", what=what.format(units=listed, t=f"{t:g}"),
                                                       advice=_(ADVICE[f.kind]))


def grouped(fs: list) -> list[list]:
    """The findings in order, consecutive units of one layer found the same way in the same epoch together."""
    groups: list[list] = []
    for f in fs:
        same = groups and f.layer is not None and (groups[-1][0].kind, groups[-1][0].epoch, groups[-1][0].layer,
                                                   groups[-1][0].activation) == (f.kind, f.epoch, f.layer, f.activation)
        groups[-1].append(f) if same else groups.append([f])
    return groups


def findings(r, style: str = STYLE) -> list[str]:
    """Every finding in words (one line per layer's units found alike), the first SHOWN lines and a count of the rest."""
    fs, n = r.health.findings, r.health.norms.shape[1]
    if not fs:
        return [_("no saturated or dead units, no vanishing or exploding gradients")]
    groups = grouped(fs)
    lines = [finding_text(g[0], r.names, n, style) if len(g) == 1 else group_text(g, r.names, style)
             for g in groups[:SHOWN]]
    if len(groups) > SHOWN:
        lines.append(_("… and {n} more").format(n=f"{sum(map(len, groups[SHOWN:])):,}"))
    return lines


def findings_text(r, style: str = STYLE) -> Text:
    text = Text(_("Gradient health") + "\n", style="bold")
    mark = ("!" if style == "ascii" else "⚠") if r.health.findings else ("ok" if style == "ascii" else "✓")
    for i, line in enumerate(findings(r, style)):
        text.append(("\n" if i else "") + f"{mark} {line}")
    return text


class InNotation:
    """A renderable made when printed, in the console's notation: ASCII (10^-5 would not fit where 10⁻⁵ was laid
    out) on a console that cannot show Unicode (--ascii), else Unicode."""

    def __init__(self, make):
        self.make = make

    def __rich_console__(self, console, options):
        if not options.ascii_only:
            yield self.make(STYLE)
            return
        from .plain import asciify  # the rest of it (the boxes, …) as the console's other tables

        yield asciify(self.make("ascii"))


def health_parts(r, every: int | None = None, width: int = 76) -> list:
    """What --health adds after the loss curve: the norms table, their plot and the findings."""
    if r.health is None or not r.epochs_done:
        return []
    return [InNotation(lambda style: norm_table(r, every, style)), Text(""), norm_plot(r, width), Text(""),
            InNotation(lambda style: findings_text(r, style)), Text("")]


def with_findings(r, summary) -> Group:
    """The findings before a run's summary (step --health --quiet shows no table or plot)."""
    return Group(InNotation(lambda style: findings_text(r, style)), Text(""), summary)


def health_group(r, every: int | None = None, width: int = 76) -> Group:
    return Group(*health_parts(r, every, width))


COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def norm_chart(r, width: int = 640, height: int = 300) -> str:
    """log10 ‖g⁽ˡ⁾‖ over the epochs as an SVG chart (the HTML export), one coloured line per layer, labelled
    at its right end; the y-axis ticks are powers of ten."""
    from html import escape

    from .svgplot import FONT, _pow10, tick_label

    x, y = log_norms(r)
    left, top, pw, ph = 60, 30, width - 118, height - 76  # margins: 60 left, 58 right (labels), 30 top, 46 bottom
    finite = y[np.isfinite(y)]
    e0, e1 = (math.floor(finite.min()), math.ceil(finite.max())) if finite.size else (0, 1)
    e1 = e1 if e1 > e0 else e0 + 1
    x0, x1 = float(x.min()) if x.size else 1.0, float(x.max()) if x.size else 2.0
    x1 = x1 if x1 > x0 else x0 + 1
    px = lambda v: left + (v - x0) / (x1 - x0) * pw  # noqa: E731  (screen x of an epoch)
    py = lambda v: top + ph - (v - e0) / (e1 - e0) * ph  # noqa: E731  (screen y of a log10 norm)
    title, epoch = _("log₁₀ ‖g⁽ˡ⁾‖ per epoch, one line per layer"), _("epoch")
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' class='bptrace-plot' width='{width}' height='{height}' "
             f"viewBox='0 0 {width} {height}' role='img' aria-label='{escape(title)}' {FONT}>",
             f"<rect x='{left}' y='{top}' width='{pw}' height='{ph}' fill='none' stroke='#888'/>",
             f"<text x='{left + pw / 2}' y='18' text-anchor='middle' font-weight='bold'>{escape(title)}</text>",
             f"<text x='{left + pw / 2}' y='{height - 8}' text-anchor='middle'>{escape(epoch)}</text>"]
    for e in range(e0, e1 + 1, max(1, math.ceil((e1 - e0) / 6))):
        parts.append(f"<line x1='{left - 4}' y1='{py(e):.1f}' x2='{left + pw}' y2='{py(e):.1f}' stroke='#ddd'/>"
                     f"<text x='{left - 6}' y='{py(e) + 4:.1f}' text-anchor='end'>{_pow10(e)}</text>")
    for t in nice_ticks(x0, x1, integer=True):
        parts.append(f"<text x='{px(t):.1f}' y='{top + ph + 17}' text-anchor='middle'>{tick_label(t)}</text>")
    return "\n".join(parts + _chart_lines(x, y, px, py, left + pw + 4) + ["</svg>"])


def _chart_lines(x, y, px, py, label_x: float) -> list[str]:
    """One polyline per layer (its column of y), in its colour, with ‖g⁽ˡ⁾‖ written at its right end."""
    from html import escape

    out = []
    for l in range(y.shape[1]):
        keep = np.isfinite(y[:, l])
        pts = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(x[keep].tolist(), y[keep, l].tolist()))
        colour = COLOURS[l % len(COLOURS)]
        out.append(f"<polyline class='curve' points='{pts}' fill='none' stroke='{colour}' stroke-width='1.5'/>")
        if keep.any():
            out.append(f"<text x='{label_x}' y='{py(y[keep, l][-1]) + 4:.1f}' fill='{colour}'>"
                       f"{escape(layer_norm(l + 1))}</text>")
    return out
