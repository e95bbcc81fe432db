"""Renderables for `bptrace check` and `bptrace gradcheck`."""

from __future__ import annotations

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..fmt import num
from ..naming import pretty
from .tables import NAME_STYLE

OK, BAD = Text("✓", style="green"), Text("✗", style="bold red")


def _table(title: str) -> Table:
    return Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, show_edge=False,
                 padding=(0, 1))


def check_report(report, precision: int = 8) -> Group:
    t = _table(f"Claims (epoch {report.epoch}, sample {report.sample})")
    t.add_column("quantity", style=NAME_STYLE, no_wrap=True)
    t.add_column("claimed", justify="right", no_wrap=True)
    t.add_column("correct", justify="right", no_wrap=True)
    t.add_column("", no_wrap=True)
    for c in report.claims:
        correct = f"{c.correct:.{c.decimals}f}" if c.decimals <= 17 else num(c.correct, precision)
        t.add_row(pretty(c.name), str(c.claimed), correct, OK if c.holds else BAD)
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
        text.append(pretty(c.name), style="bold")
        text.append(f": claimed {c.claimed}, correct {num(c.correct, precision)} "
                    f"(to {c.decimals} decimals: {c.correct:.{min(c.decimals, 17)}f})")
        if d.right or d.wrong:
            text.append("\n  depends on: ")
            for i, n in enumerate(d.wrong + d.right):
                text.append(", " if i else "")
                text.append(pretty(n) + (" ✗" if n in d.wrong else " ✓"), style="red" if n in d.wrong else "green")
        else:
            text.append("\n  none of the quantities it depends on was claimed")
        if d.source == c.name:
            text.append(f"\n  the error entered here: the claimed inputs of {pretty(c.name)} hold (or were not claimed), "
                        "so recompute this step")
        else:
            text.append("\n  likely source: ", style="bold")
            text.append(pretty(d.source), style="bold red")
            text.append(" (the earliest wrong value it depends on)")
        if d.dependents_right:
            shown = ", ".join(pretty(n) for n in d.dependents_right[:4]) + (" …" if len(d.dependents_right) > 4 else "")
            text.append(f"\n  yet {shown} {'hold' if len(d.dependents_right) > 1 else 'holds'}, though computed from it: "
                        "perhaps a slip in writing it down")
        parts.append(text)
    return Group(*parts)


def gradcheck_table(rows, tol: float, precision: int = 8) -> Group:
    t = _table("Gradients: analytic (backpropagation) against central finite differences")
    t.add_column("parameter", style=NAME_STYLE, no_wrap=True)
    t.add_column("analytic", justify="right", no_wrap=True)
    t.add_column("numeric", justify="right", no_wrap=True)
    t.add_column("abs error", justify="right", no_wrap=True)
    t.add_column("rel error", justify="right", no_wrap=True)
    t.add_column("", no_wrap=True)
    for r in rows:
        t.add_row(pretty(r.name), num(r.analytic, precision), num(r.numeric, precision), f"{r.abs_error:.1e}",
                  f"{r.rel_error:.1e}", OK if r.ok else BAD)
    bad = [r for r in rows if not r.ok]
    verdict = (Text(f"all {len(rows)} gradients agree (relative error ≤ {tol:g})", style="bold green") if not bad else
               Text(f"{len(bad)} of {len(rows)} gradients disagree beyond {tol:g}: "
                    + ", ".join(pretty(r.name) for r in bad[:10]), style="bold red"))
    return Group(t, verdict)
