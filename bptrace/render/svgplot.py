"""A small SVG line chart (axes, ticks, labels, optional log y-axis) for the HTML export and
Jupyter, where rich's braille plot falls back to another font and breaks its frame.

Pure Python; returns the <svg> element as text. Everything is drawn inside the viewBox.
"""

from __future__ import annotations

import math
from html import escape

import numpy as np

FONT = "font-family='DejaVu Sans, Helvetica, Arial, sans-serif' font-size='12'"


def nice_step(lo: float, hi: float, count: int = 5, integer: bool = False) -> float:
    """The tick spacing for [lo, hi]: 1, 2 or 5 × 10^k, the smallest giving at most about `count`
    intervals (at least 1 for whole numbers such as epochs)."""
    raw = (hi - lo) / count
    k = 10.0 ** math.floor(math.log10(raw))
    step = next(m * k for m in (1, 2, 5, 10) if m * k >= raw)
    return max(step, 1.0) if integer else step


def nice_ticks(lo: float, hi: float, count: int = 5, integer: bool = False) -> list[float]:
    """Round tick values inside [lo, hi]: multiples of a step of 1, 2 or 5 × 10^k, about `count` of them."""
    if not hi > lo:
        return [lo]
    step = nice_step(lo, hi, count, integer)
    first = math.ceil(lo / step - 1e-9) * step
    return [round(first + i * step, 12) for i in range(int((hi - first) / step + 1e-9) + 1)]


def log_ticks(lo: float, hi: float) -> list[float]:
    """Round ticks for a log axis over [lo, hi] (lo > 0): the powers of ten inside it, or, within
    less than a decade or two, 1, 2 and 5 × 10^k."""
    e0, e1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    for mantissas in ((1,), (1, 2, 5), (1, 1.5, 2, 3, 5, 7)):
        ticks = [float(f"{m}e{e}") for e in range(e0, e1 + 1) for m in mantissas if lo <= float(f"{m}e{e}") <= hi]
        if len(ticks) >= 3:
            return ticks
    return ticks


def nice_top(lo: float, hi: float, count: int = 5) -> float:
    """The first tick at or above hi, so that an axis from lo ends on a tick (ticks evenly spaced to the edge)."""
    if not hi > lo:
        return hi
    step = nice_step(lo, hi, count)
    return round(math.ceil(hi / step - 1e-9) * step, 12)


def tick_label(v: float) -> str:
    return f"{v:.3g}" if v and (abs(v) < 1e-3 or abs(v) >= 1e5) else f"{v:.6g}"


def _pow10(e: int) -> str:
    sup = str(e).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))
    return f"10{sup}"


def line_chart(xs, ys, title: str = "", xlabel: str = "", ylabel: str = "", log_y: bool = False,
               width: int = 640, height: int = 300) -> str:
    """The points (xs, ys) joined by a line, inside a framed plot area with ticked axes.
    Non-finite points are left out; with log_y, non-positive ones too."""
    x, y = np.asarray(xs, float), np.asarray(ys, float)
    keep = np.isfinite(x) & np.isfinite(y) & ((y > 0) if log_y else True)
    x, y = x[keep], y[keep]
    left, right, top, bottom = 70, 20, 30 if title else 12, 46 if xlabel else 30
    pw, ph = width - left - right, height - top - bottom
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' class='bptrace-plot' width='{width}' height='{height}' "
             f"viewBox='0 0 {width} {height}' role='img' aria-label='{escape(title or 'line chart')}' {FONT}>",
             f"<rect x='{left}' y='{top}' width='{pw}' height='{ph}' fill='none' stroke='#888'/>"]
    if title:
        parts.append(f"<text x='{left + pw / 2}' y='18' text-anchor='middle' font-weight='bold'>{escape(title)}</text>")
    if xlabel:
        parts.append(f"<text x='{left + pw / 2}' y='{height - 8}' text-anchor='middle'>{escape(xlabel)}</text>")
    if ylabel:
        parts.append(f"<text transform='translate(14 {top + ph / 2}) rotate(-90)' text-anchor='middle'>"
                     f"{escape(ylabel)}</text>")
    if x.size:
        parts += _plot(x, y, log_y, left, top, pw, ph)
    parts.append("</svg>")
    return "\n".join(parts)


def _plot(x, y, log_y: bool, left: float, top: float, pw: float, ph: float) -> list[str]:
    x0, x1 = float(x.min()), float(x.max())
    x1 = x1 if x1 > x0 else x0 + 1
    if log_y:
        e0, e1 = math.floor(math.log10(y.min())), math.ceil(math.log10(y.max()))
        e1 = e1 if e1 > e0 else e0 + 1
        y0, y1, fy = float(e0), float(e1), np.log10
        step = max(1, math.ceil((e1 - e0) / 6))
        e1 = e0 + math.ceil((e1 - e0) / step) * step  # the top edge on a tick
        yticks = [(float(e), _pow10(e)) for e in range(e0, e1 + 1, step)]
    else:
        y0, y1 = min(0.0, float(y.min())), float(y.max())
        y1 = nice_top(y0, y1 if y1 > y0 else y0 + 1)  # the top edge on a tick: ticks evenly spaced to it
        yticks = [(t, tick_label(t)) for t in nice_ticks(y0, y1)]
        fy = lambda v: v  # noqa: E731

    # screen coordinates: px = left + (x - x0)/(x1 - x0)·pw ; py = top + ph − (f(y) − y0)/(y1 − y0)·ph
    def px(v):
        return left + (v - x0) / (x1 - x0) * pw

    def py(v):
        return top + ph - (fy(v) - y0) / (y1 - y0) * ph

    out = []
    for t, text in yticks:
        yy = top + ph - (t - y0) / (y1 - y0) * ph
        out.append(f"<line x1='{left - 4}' y1='{yy:.1f}' x2='{left + pw}' y2='{yy:.1f}' stroke='#ddd'/>"
                   f"<text x='{left - 6}' y='{yy + 4:.1f}' text-anchor='end'>{text}</text>")
    for t in nice_ticks(x0, x1, integer=bool(np.all(x == np.round(x)))):
        xx = px(t)
        out.append(f"<line x1='{xx:.1f}' y1='{top + ph}' x2='{xx:.1f}' y2='{top + ph + 4}' stroke='#888'/>"
                   f"<text x='{xx:.1f}' y='{top + ph + 17}' text-anchor='middle'>{tick_label(t)}</text>")
    points = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(x.tolist(), y.tolist()))
    out.append(f"<polyline class='curve' points='{points}' fill='none' stroke='#1f77b4' stroke-width='1.5'/>")
    return out
