"""Renderables for `bptrace check` and `bptrace gradcheck`."""

from __future__ import annotations

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..i18n import N_, _, ngettext
from .training import num  # the terminal notation: 1.2×10⁻⁹, −0.5
from ..notation import name as id_name
from .layout import Titled
from .tables import NAME_STYLE

OK, BAD = Text("✓", style="green"), Text("✗", style="bold red")
ROUNDED = Text("≈", style="yellow")  # holds for a calculation that rounds along the way


def _table(title: str) -> Table:
    return Titled(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, show_edge=False,
                  padding=(0, 1))  # the title may be wider than the columns


def check_report(report, precision: int = 8) -> Group:
    def named(n: str) -> str:  # a walked or given name, shown from its identity
        return id_name(report.idents[n], report.names, "unicode") if n in report.idents else "α"

    rounded = _("; every computed value rounded to {n} decimals").format(n=report.rounding) \
        if report.rounding is not None else ""
    where = _("sample {n}").format(n=report.sample) if not report.batch else ngettext(
        "the batch of {n} sample that holds sample {sample}", "the batch of {n} samples that holds sample {sample}",
        report.batch).format(n=report.batch, sample=report.sample)
    t = _table(_("Claims (epoch {epoch}, {where}{rounded})").format(epoch=report.epoch, where=where, rounded=rounded))
    t.add_column(_("quantity"), style=NAME_STYLE, no_wrap=True)
    t.add_column(_("claimed"), justify="right", no_wrap=True)
    t.add_column(_("correct"), justify="right", no_wrap=True)
    t.add_column("", no_wrap=True)
    for c in report.claims:
        correct = f"{c.correct:.{c.decimals}f}" if c.decimals <= 17 else num(c.correct, precision)
        t.add_row(named(c.name), str(c.claimed), correct, OK if c.exact else ROUNDED if c.holds else BAD)
    parts: list = [t]
    right = sum(c.holds for c in report.claims)
    summary = Text(_("{right} of {n} claims hold").format(
        right=right, n=len(report.claims)), style="bold green" if report.ok else "bold")
    if not report.ok:
        summary.append(_("; {n} wrong").format(n=len(report.claims) - right), style="bold red")
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
        more = _(" and the values before it") if len(c.used) > 1 else ""
        return _("{head} holds when computed from your rounded {used}{more} (unrounded: {exact}).").format(
            head=head, used=f"{named(c.used[0])} = {c.used_values[0]}", more=more, exact=exact)
    return _("{head} holds if intermediates are rounded to {n} decimals (unrounded: {exact}).").format(
        head=head, n=c.places, exact=exact)


def finding(d, named, precision: int = 8) -> str:
    """One plain sentence for one wrong claim: the misconception, the wrong value it came from, or the step."""
    c = d.claim
    head = f"{named(c.name)} = {c.claimed}"
    right = _correct(c, precision)
    f = d.finding
    if d.given:
        return _("{head}, but the spec gives {given}.").format(head=head, given=f"{named(c.name)} = {c.correct:g}")
    if f is not None and f.phrase:  # the misconception's own words (bptrace.misconceptions) are English
        return _("{head} {phrase}; {rule} (correct: {right}).").format(head=head, phrase=f.phrase, rule=f.rule, right=right)
    if f is not None:
        return _("{head} is what you get when {when}; {rule} (correct: {right}).").format(
            head=head, when=f.when, rule=f.rule, right=right)
    if d.source != c.name:
        return _("{head} should be {right}: it is computed from your {source}, which is wrong; fix {source} first.").format(
            head=head, right=right, source=named(d.source))
    if d.dependents_right:
        shown = listed([named(n) for n in d.dependents_right], 3)
        return ngettext("{head} should be {right}, yet {shown}, computed from it, holds: probably a slip in writing it down.",
                        "{head} should be {right}, yet {shown}, computed from it, hold: probably a slip in writing it down.",
                        len(d.dependents_right)).format(head=head, right=right, shown=shown)
    return _("{head} should be {right}; the values it is computed from hold (or were not written), "
             "so the slip is in this step.").format(head=head, right=right)


def summary_table(rows) -> Group:
    """One row per answers file: claims held of total, the first misconception (or wrong claim)."""
    from ..exports.summary import HEAD, cells

    t = _table(ngettext("Summary: {n} answers file", "Summary: {n} answers files", len(rows)).format(n=len(rows)))
    for i, h in enumerate(HEAD):
        t.add_column(_(h), justify="right" if i in (1, 2) else "left", no_wrap=i in (1, 2),
                     overflow="fold" if i == 0 else "ellipsis")  # a long path folds; the counts never do
    for r in rows:
        t.add_row(*cells(r), style="red" if r.error else None)
    graded = [r for r in rows if not r.error]
    all_right = ngettext("{ok} of {n} graded file all right", "{ok} of {n} graded files all right", len(graded))
    return Group(t, Text(all_right.format(ok=sum(r.ok for r in graded), n=len(graded)), style="bold"))


LISTED = 10  # names listed in a verdict before "… and N more"
KINK = N_("kink")


def listed(names: list[str], limit: int = LISTED) -> str:
    """'a, b, c', or the first `limit` and 'and N more'."""
    more = len(names) - limit
    return ", ".join(names[:limit]) + (_(" and {n} more").format(n=more) if more > 0 else "")


def gradcheck_table(rows, tol: float, precision: int = 8) -> Group:
    names = [_param(r) for r in rows]
    t = _table(_("Gradients: analytic (backpropagation) against central finite differences"))
    t.add_column(_("parameter"), style=NAME_STYLE, no_wrap=True, min_width=max(map(len, names), default=0))
    t.add_column(_("analytic"), justify="right", no_wrap=True)
    t.add_column(_("numeric"), justify="right", no_wrap=True)
    t.add_column(_("abs error"), justify="right", no_wrap=True)
    t.add_column(_("rel error"), justify="right", no_wrap=True)
    t.add_column("", no_wrap=True)
    for r, n in zip(rows, names):
        t.add_row(n, num(r.analytic, precision), num(r.numeric, precision), f"{r.abs_error:.1e}",
                  f"{r.rel_error:.1e}", Text(_(KINK), style="yellow") if r.at_kink else OK if r.ok else BAD)
    return Group(t, _verdict(rows, names, tol), *_kinks(rows, names, precision))


def _param(r) -> str:
    return r.name if r.ident is None else id_name(r.ident, r.names, "unicode")


def _verdict(rows, names: list[str], tol: float) -> Text:
    bad = [n for r, n in zip(rows, names) if not r.ok]
    kinks = sum(r.at_kink for r in rows)
    if bad:
        return Text(_("{bad} of {n} gradients disagree beyond {tol}: {names}").format(
            bad=len(bad), n=len(rows), tol=f"{tol:g}", names=listed(bad)), style="bold red")
    if kinks:
        return Text(_("{ok} of {n} gradients agree (relative error ≤ {tol}); {kinks} at a kink").format(
            ok=len(rows) - kinks, n=len(rows), tol=f"{tol:g}", kinks=kinks), style="bold green")
    return Text(_("all {n} gradients agree (relative error ≤ {tol})").format(n=len(rows), tol=f"{tol:g}"),
                style="bold green")


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
    if z.kind == "v" and z.of == "P":  # a max pool's window with two equal maxima (bptrace.front)
        return _("a tie between two maxima of one window ({z}): max has no derivative there, and the step ±h "
                 "picks a winner on each side; not a failure").format(z=f"{shown} = {num(value, precision)}")
    if value == 0:
        return _("at a kink ({z}): the derivative is one-sided there; not a failure").format(z=f"{shown} = 0")
    return _("near a kink ({z}): the step ±h crosses it, so the finite difference mixes both sides; "
             "a smaller --eps checks it; not a failure").format(z=f"{shown} = {num(value, precision)}")
