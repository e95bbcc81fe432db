"""Renderables for `bptrace check` and `bptrace gradcheck`."""

from __future__ import annotations

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..fmt import counted
from .training import num  # the terminal notation: 1.2×10⁻⁹, −0.5
from ..notation import name as id_name
from .tables import NAME_STYLE, Titled

OK, BAD = Text("✓", style="green"), Text("✗", style="bold red")
ROUNDED = Text("≈", style="yellow")  # holds for a calculation that rounds along the way


def _table(title: str) -> Table:
    return Titled(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, show_edge=False,
                  padding=(0, 1))  # the title may be wider than the columns


def check_report(report, precision: int = 8) -> Group:
    def named(n: str) -> str:  # a walked or given name, shown from its identity
        return id_name(report.idents[n], report.names, "unicode") if n in report.idents else "α"

    rounded = f"; every computed value rounded to {report.rounding} decimals" if report.rounding is not None else ""
    where = f"sample {report.sample}" if not report.batch else \
        f"the batch of {counted(report.batch, 'sample')} that holds sample {report.sample}"
    t = _table(f"Claims (epoch {report.epoch}, {where}{rounded})")
    t.add_column("quantity", style=NAME_STYLE, no_wrap=True)
    t.add_column("claimed", justify="right", no_wrap=True)
    t.add_column("correct", justify="right", no_wrap=True)
    t.add_column("", no_wrap=True)
    for c in report.claims:
        correct = f"{c.correct:.{c.decimals}f}" if c.decimals <= 17 else num(c.correct, precision)
        t.add_row(named(c.name), str(c.claimed), correct, OK if c.exact else ROUNDED if c.holds else BAD)
    parts: list = [t]
    right = sum(c.holds for c in report.claims)
    summary = Text(f"{right} of {len(report.claims)} claims hold", style="bold green" if report.ok else "bold")
    if not report.ok:
        summary.append(f"; {len(report.claims) - right} wrong", style="bold red")
    parts.append(summary)
    for c in report.claims:
        if not c.exact and c.holds:
            parts.append(Text("\n≈ " + rounding_note(c, named, precision), style="yellow"))
    for d in report.diagnoses:
        text = Text("\n")
        text.append("✗ ", style="bold red")
        text.append(finding(d, named, precision))
        parts.append(text)
    return Group(*parts)


def _correct(c, precision: int) -> str:
    """The correct value at the claim's decimals (all of them when it was written with more than 17)."""
    return f"{c.correct:.{c.decimals}f}" if c.decimals <= 17 else num(c.correct, precision)


def rounding_note(c, named, precision: int = 8) -> str:
    """One sentence for a claim that holds only for a calculation rounded along the way."""
    head = f"{named(c.name)} = {c.claimed}"
    exact = num(c.correct, precision)
    if c.used:  # nearest first: name the value it is computed from directly
        more = " and the values before it" if len(c.used) > 1 else ""
        return (f"{head} holds when computed from your rounded {named(c.used[0])} = {c.used_values[0]}{more} "
                f"(unrounded: {exact}).")
    return f"{head} holds if intermediates are rounded to {c.places} decimals (unrounded: {exact})."


def finding(d, named, precision: int = 8) -> str:
    """One plain sentence for one wrong claim: the misconception, the wrong value it came from, or the step."""
    c = d.claim
    head = f"{named(c.name)} = {c.claimed}"
    right = _correct(c, precision)
    f = d.finding
    if d.given:
        return f"{head}, but the spec gives {named(c.name)} = {c.correct:g}."
    if f is not None and f.phrase:
        return f"{head} {f.phrase}; {f.rule} (correct: {right})."
    if f is not None:
        return f"{head} is what you get when {f.when}; {f.rule} (correct: {right})."
    if d.source != c.name:
        return (f"{head} should be {right}: it is computed from your {named(d.source)}, which is wrong; "
                f"fix {named(d.source)} first.")
    if d.dependents_right:
        shown = listed([named(n) for n in d.dependents_right], 3)
        return (f"{head} should be {right}, yet {shown}, computed from it, "
                f"{'hold' if len(d.dependents_right) > 1 else 'holds'}: probably a slip in writing it down.")
    return (f"{head} should be {right}; the values it is computed from hold (or were not written), "
            "so the slip is in this step.")


def summary_table(rows) -> Group:
    """One row per answers file: claims held of total, the first misconception (or wrong claim)."""
    from ..exports.summary import HEAD, cells

    t = _table(f"Summary: {counted(len(rows), 'answers file')}")
    for i, h in enumerate(HEAD):
        t.add_column(h, justify="right" if i in (1, 2) else "left", no_wrap=i in (1, 2),
                     overflow="fold" if i == 0 else "ellipsis")  # a long path folds; the counts never do
    for r in rows:
        t.add_row(*cells(r), style="red" if r.error else None)
    graded = [r for r in rows if not r.error]
    return Group(t, Text(f"{sum(r.ok for r in graded)} of {counted(len(graded), 'graded file')} all right", style="bold"))


LISTED = 10  # names listed in a verdict before "… and N more"
KINK = Text("kink", style="yellow")


def listed(names: list[str], limit: int = LISTED) -> str:
    """'a, b, c', or the first `limit` and 'and N more'."""
    more = len(names) - limit
    return ", ".join(names[:limit]) + (f" and {more} more" if more > 0 else "")


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
