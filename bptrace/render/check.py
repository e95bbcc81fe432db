"""Renderables for `bptrace check` and `bptrace gradcheck`."""

from __future__ import annotations

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from .training import num  # the terminal notation: 1.2×10⁻⁹, −0.5
from ..notation import name as id_name
from .tables import NAME_STYLE, Titled

OK, BAD = Text("✓", style="green"), Text("✗", style="bold red")


def _table(title: str) -> Table:
    return Titled(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, show_edge=False,
                  padding=(0, 1))  # the title may be wider than the columns


def check_report(report, precision: int = 8) -> Group:
    def named(n: str) -> str:  # a walked name, shown from its identity
        return id_name(report.idents[n], report.names, "unicode")

    t = _table(f"Claims (epoch {report.epoch}, sample {report.sample})")
    t.add_column("quantity", style=NAME_STYLE, no_wrap=True)
    t.add_column("claimed", justify="right", no_wrap=True)
    t.add_column("correct", justify="right", no_wrap=True)
    t.add_column("", no_wrap=True)
    for c in report.claims:
        correct = f"{c.correct:.{c.decimals}f}" if c.decimals <= 17 else num(c.correct, precision)
        t.add_row(named(c.name), str(c.claimed), correct, OK if c.holds else BAD)
    parts: list = [t]
    right = sum(c.holds for c in report.claims)
    summary = Text(f"{right} of {len(report.claims)} claims hold", style="bold green" if report.ok else "bold")
    if not report.ok:
        summary.append(f"; {len(report.claims) - right} wrong", style="bold red")
    parts.append(summary)
    for d in report.diagnoses:
        c = d.claim
        text = Text("\n")
        text.append("✗ ", style="bold red")
        text.append(named(c.name), style="bold")
        text.append(f": claimed {c.claimed}, correct {num(c.correct, precision)} "
                    f"(to {c.decimals} decimals: {c.correct:.{min(c.decimals, 17)}f})")
        if d.right or d.wrong:
            text.append("\n  depends on: ")
            for i, n in enumerate(d.wrong + d.right):
                text.append(", " if i else "")
                text.append(named(n) + (" ✗" if n in d.wrong else " ✓"), style="red" if n in d.wrong else "green")
        else:
            text.append("\n  none of the quantities it depends on was claimed")
        if d.source == c.name:
            text.append(f"\n  the error entered here: the claimed inputs of {named(c.name)} hold (or were not claimed), "
                        "so recompute this step")
        else:
            text.append("\n  likely source: ", style="bold")
            text.append(named(d.source), style="bold red")
            text.append(" (the earliest wrong value it depends on)")
        if d.dependents_right:
            shown = ", ".join(named(n) for n in d.dependents_right[:4]) + (" …" if len(d.dependents_right) > 4 else "")
            text.append(f"\n  yet {shown} {'hold' if len(d.dependents_right) > 1 else 'holds'}, though computed from it: "
                        "perhaps a slip in writing it down")
        parts.append(text)
    return Group(*parts)


LISTED = 10  # names listed in a verdict before "… and N more"
KINK = Text("kink", style="yellow")


def listed(names: list[str], limit: int = LISTED) -> str:
    """'a, b, c', or the first `limit` and '… and N more'."""
    more = len(names) - limit
    return ", ".join(names[:limit]) + (f", … and {more} more" if more > 0 else "")


def gradcheck_table(rows, tol: float, precision: int = 8) -> Group:
    names = [_param(r) for r in rows]
    t = _table("Gradients: analytic (backpropagation) against central finite differences")
    t.add_column("parameter", style=NAME_STYLE, no_wrap=True, min_width=max(map(len, names), default=0))
    t.add_column("analytic", justify="right", no_wrap=True)
    t.add_column("numeric", justify="right", no_wrap=True)
    t.add_column("abs error", justify="right", no_wrap=True)
    t.add_column("rel error", justify="right", no_wrap=True)
    t.add_column("", no_wrap=True)
    for r, n in zip(rows, names):
        t.add_row(n, num(r.analytic, precision), num(r.numeric, precision), f"{r.abs_error:.1e}",
                  f"{r.rel_error:.1e}", KINK if r.at_kink else OK if r.ok else BAD)
    return Group(t, _verdict(rows, names, tol), *_kinks(rows, names, precision))


def _param(r) -> str:
    return r.name if r.ident is None else id_name(r.ident, r.names, "unicode")


def _verdict(rows, names: list[str], tol: float) -> Text:
    bad = [n for r, n in zip(rows, names) if not r.ok]
    kinks = sum(r.at_kink for r in rows)
    if bad:
        return Text(f"{len(bad)} of {len(rows)} gradients disagree beyond {tol:g}: {listed(bad)}", style="bold red")
    if kinks:
        return Text(f"{len(rows) - kinks} of {len(rows)} gradients agree (relative error ≤ {tol:g}); "
                    f"{kinks} at a kink", style="bold green")
    return Text(f"all {len(rows)} gradients agree (relative error ≤ {tol:g})", style="bold green")


def _kinks(rows, names: list[str], precision: int) -> list[Text]:
    """One line per kinked z: the rows whose central difference straddles it."""
    by_z: dict = {}
    for r, n in zip(rows, names):
        if r.at_kink:
            by_z.setdefault((r.kink, r.kink_z), []).append(n)
    return [Text(f"{listed(ns)}: {_kink(z, value, rows[0].names, precision)}", style="yellow")
            for (z, value), ns in by_z.items()]


def _kink(z, value: float, names, precision: int) -> str:
    """At the kink the derivative is one-sided; near it, the step crosses it."""
    shown = id_name(z, names, "unicode")
    if value == 0:
        return f"at a kink ({shown} = 0): the derivative is one-sided there; not a failure"
    return (f"near a kink ({shown} = {num(value, precision)}): the step ±h crosses it, so the finite difference "
            "mixes both sides; a smaller --eps checks it; not a failure")
