"""Check someone's hand-computed answers against the trace, and find where an error entered.

A claim is compared at the precision it was written with: it holds when it equals the
correct value rounded to the claim's number of decimals (0.209446 matches 0.2094460049…;
0.21 matches at 2 decimals). For a wrong claim, the claimed quantities it depends on are
marked right or wrong; the earliest wrong one (a wrong claim none of whose own claimed
dependencies is wrong) is named as the likely source.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from . import answers, deps, groups, misconceptions
from .errors import SpecError, clip
from .spec import describe, kind
from . import notation
from .notation import spellings
from .trace import Iteration

RESERVED = {"epoch": "the epoch the claims are about (default 1)",
            "sample": "the sample whose update the claims are about (default 1)",
            "batch": 'the update\'s batch: "online" (default), "full" or a mini-batch size K'}


@dataclass(frozen=True)
class Claim:
    name: str
    claimed: Decimal
    correct: float

    @property
    def decimals(self) -> int:
        return max(-self.claimed.as_tuple().exponent, 0)

    used: tuple = ()  # it holds when computed from these claims as the student rounded them (nearest first)
    used_values: tuple = ()  # their claimed values
    places: int | None = None  # it holds when every intermediate is rounded to this many decimals

    @property
    def exact(self) -> bool:
        return agrees(self.claimed, self.correct)

    @property
    def holds(self) -> bool:
        return self.exact or bool(self.used) or self.places is not None


def agrees(claimed: Decimal, value: float) -> bool:
    """`value` rounded to the claim's decimals is the claim (half a unit, plus float slack)."""
    tolerance = 0.5 * 10.0 ** -max(-claimed.as_tuple().exponent, 0)
    return math.isfinite(value) and abs(float(claimed) - value) <= tolerance * (1 + 1e-9) + 1e-15


@dataclass(frozen=True)
class Finding:
    """A wrong claim that a catalogued misconception explains."""

    misconception: object  # misconceptions.Misconception
    value: float  # the claim's value under the misconception
    phrase: str  # what the claim does wrong ("has the opposite sign"); "" when it follows from `when`
    when: str  # the slip as a clause, for a claim computed from it
    rule: str  # the right rule, with this network's α


@dataclass(frozen=True)
class Diagnosis:
    claim: Claim
    right: list[str] = field(default_factory=list)  # claimed dependencies that hold
    wrong: list[str] = field(default_factory=list)  # claimed dependencies that do not
    source: str = ""  # the likely source of the error
    dependents_right: list[str] = field(default_factory=list)  # claims computed from this one that still hold
    finding: Finding | None = None  # the misconception that explains it
    given: bool = False  # a value the spec gives (an input, a weight before the update, a target, α)


@dataclass(frozen=True)
class Report:
    epoch: int
    sample: int
    claims: list[Claim]
    diagnoses: list[Diagnosis]
    rounding: int | None = None  # the correct values are a calculation rounded to this many decimals
    names: object = None  # naming.Names: what the idents are called in every notation
    idents: dict = field(default_factory=dict)  # ASCII name -> notation.Id, for every quantity named above
    batch: int | None = None  # a batch update's number of samples (claims about the batch, batchcheck.py)

    @property
    def ok(self) -> bool:
        return all(c.holds for c in self.claims)


MAX_EPOCH = 1_000_000  # the latest epoch `check` trains to
MAX_DIGITS = 40  # significant digits of one claim (float64 holds 17)


def parse_answers(data: dict[str, Any], source: str, text: str = "",
                  canon=spellings) -> tuple[dict[str, Decimal], dict[str, Any], dict[str, str]]:
    """Claims by name, where they are (epoch, sample, batch: "online", "full" or K). Floats arrive as Decimal (as written);
    a blank ("", as `bptrace quiz` writes the template) is not graded.

    `text` (the file's TOML) lets a message point at the lines of two spellings of one quantity;
    `canon` turns a key as written into the trace's name (answers.canonical).
    """
    where: dict[str, Any] = {"epoch": 1, "sample": 1, "batch": "online"}
    claims: dict[str, Decimal] = {}
    keys: dict[str, str] = {}  # name -> the key it was written as
    blank = 0
    for key, value in data.items():
        if key in RESERVED:
            where[key] = _batch(value, source) if key == "batch" else _whole(value, key, source)
            continue
        if value == "":  # a template's blank: not answered, not graded
            blank += 1
            continue
        d = _claimed(value, key, source)
        name = canon(key)
        if name in claims and claims[name] != d:
            first = keys[name]
            raise SpecError(source, f'{_quoted(first, text)} and {_quoted(key, text)} are the same quantity with '
                            f"different claimed values ({describe(claims[name])} and {describe(d)}); keep one")
        claims.setdefault(name, d)
        keys.setdefault(name, key)
    if not claims and blank:
        raise SpecError(source, f'no claims: all {blank} answers are blank (""); write a value in place of ""')
    if not claims:
        raise SpecError(source, 'no claims: write one `name = value` per line, e.g. z1 = 0.08 or "dE_total/dw5" = 0.0259')
    return claims, where, keys


def _batch(value: Any, source: str) -> str | int:
    """batch: "online", "full" or a mini-batch size K ≥ 1."""
    if value in ("online", "full") or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return value
    raise SpecError(source, f'expected "online", "full" or a whole number ≥ 1 (a mini-batch size), got {kind(value)}',
                    "batch")


def _whole(value: Any, key: str, source: str) -> int:
    """epoch or sample: a whole number from 1 to MAX_EPOCH."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_EPOCH:
        raise SpecError(source, f"expected a whole number from 1 to {MAX_EPOCH:,} ({RESERVED[key]}), "
                        f"got {kind(value)}", key)
    return value


def _claimed(value: Any, key: str, source: str) -> Decimal:
    """A claimed value: a finite number of at most MAX_DIGITS significant digits."""
    path = f'"{clip(key)}"'
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise SpecError(source, f"expected a number (the claimed value), got {kind(value)}", path)
    d = Decimal(value)
    if not d.is_finite():
        raise SpecError(source, f"expected a finite number, got {describe(d)}", path)
    if len(d.as_tuple().digits) > MAX_DIGITS:
        raise SpecError(source, f"expected a number of at most {MAX_DIGITS} significant digits, "
                        f"got {kind(value)}", path)
    return d


def _quoted(key: str, text: str) -> str:
    """"key" (line N): the key as written, and the line that defines it when it can be found."""
    pattern = rf"^[ \t]*(?:\"{re.escape(key)}\"|'{re.escape(key)}'|{re.escape(key)})[ \t]*="
    m = re.search(pattern, text, re.MULTILINE)
    line = f" (line {text.count(chr(10), 0, m.start()) + 1})" if m else ""
    return f'"{clip(key)}"{line}'


def givens(it: Iteration) -> dict[str, float]:
    """The values a student is given (inputs, weights and biases before the update, targets, α): restated
    in an answers file, they are checked like any claim."""
    p = it.passes[0]
    out = {q.name: q.value for q in p.forward.given}
    out.update({u.name: u.old for u in it.updates})
    out.update({q.name: q.value for q in p.loss.targets})
    out[answers.ALPHA] = it.learning_rate
    return out


def check(it: Iteration, claims: dict[str, Decimal], source: str, epoch: int, sample: int,
          written: dict[str, str] | None = None, rounding: int | None = None) -> Report:
    """`written`: name -> the key as the answers file wrote it (for messages); `rounding`: the correct values
    are those of a hand calculation that rounds every computed value to that many decimals."""
    values = givens(it)
    givens_ = set(values)
    idents = _idents(it)
    net = misconceptions.Net(it, givens(it), idents)
    computed = net.propagate({}, rounding) if rounding is not None else {}
    for _, name, v in it.quantities():
        values.setdefault(name, computed.get(name, v))
    unknown = [k for k in claims if k not in values]
    if unknown:
        written = written or {}
        raise SpecError(source, answers.unknown_message([(written.get(k, k), k) for k in unknown], list(values)))
    out = [Claim(name, d, values[name]) for name, d in claims.items()]
    order = {name: i for i, name in enumerate(values)}
    out.sort(key=lambda c: order[c.name])
    g = deps.graph(it)
    if rounding is None and len(net.walked) <= misconceptions.MAX_WALK:
        out = _rounded(out, net, g)
    by_name = {c.name: c for c in out}
    held = frozenset(c.name for c in out if c.holds)  # blame stops at the student's own right values
    tried = _Variants(net)
    diagnoses = []
    for c in out:
        if c.holds:
            continue
        before = deps.ancestors(g, c.name, held)
        claimed_deps = [n for n in before if n in by_name]
        right = [n for n in claimed_deps if by_name[n].holds]
        wrong = [n for n in claimed_deps if not by_name[n].holds]
        # the earliest wrong claim: one whose own claimed dependencies all hold
        sources = [n for n in wrong if not any(a in by_name and a not in held for a in deps.ancestors(g, n, held))]
        source = min(sources, key=order.get) if sources else c.name
        after = [o.name for o in out if o.holds and c.name in deps.ancestors(g, o.name)]
        finding = tried.explain(c, [by_name[n] for n in claimed_deps])
        diagnoses.append(Diagnosis(c, right, wrong, source, after, finding, c.name in givens_))
    return Report(epoch, sample, out, diagnoses, rounding, it.names, idents)


def _rounded(claims: list[Claim], net, g) -> list[Claim]:
    """Claims (in the trace's order) that are off only because the student rounded along the way: they hold
    when computed from the student's own rounded values, or with every intermediate rounded to the
    decimals the claim is written with."""
    mine: dict[str, float] = {}  # the student's values that hold, as written
    written = {c.name: c.claimed for c in claims}
    out = []
    for c in claims:
        if not c.holds and math.isfinite(c.correct):
            used = tuple(n for n in deps.ancestors(g, c.name) if n in mine and mine[n] != net.values[n])
            if used and agrees(c.claimed, net.propagate(mine).get(c.name, math.nan)):
                c = replace(c, used=used, used_values=tuple(written[n] for n in used))
            elif agrees(c.claimed, net.propagate(mine, c.decimals).get(c.name, math.nan)):
                c = replace(c, places=c.decimals)
        if c.holds:
            mine[c.name] = float(c.claimed)
        out.append(c)
    return out


class _Variants:
    """The catalogue's variants of one update, each propagated once, when first needed."""

    def __init__(self, net):
        self.net, self._done = net, None

    def all(self):
        if self._done is None:
            self._done = [(m, v, self.net.propagate(v.overrides)) for m, v in misconceptions.variants(self.net)]
        return self._done

    def explain(self, c: Claim, claimed_before: list[Claim]) -> Finding | None:
        """The first misconception that gives claim c's value: made in c itself, or in a value c is
        computed from that every claimed value on the way agrees with. A claim of fewer than
        MIN_DIGITS significant digits is too coarse to tell, unless it is the variant's value exactly (relu′ = 1)."""
        coarse = len(c.claimed.as_tuple().digits) < misconceptions.MIN_DIGITS
        for m, v, vals in self.all():
            wrong = v.overrides.get(c.name, math.nan)
            if float(c.claimed) == wrong or not coarse and agrees(c.claimed, wrong):
                return Finding(m, wrong, v.phrases[c.name], v.when, self.rule(m))
        if coarse:
            return None
        for m, v, vals in self.all():
            if agrees(c.claimed, vals.get(c.name, math.nan)) and all(agrees(a.claimed, vals[a.name])
                                                                     for a in claimed_before):
                return Finding(m, vals[c.name], "", v.when, self.rule(m))
        return None

    def rule(self, m) -> str:
        it = self.net.it
        own = groups.summary(it)  # parameter groups: each layer's own α too
        return m.rule.replace("{alpha}", f"{it.learning_rate:g}" + (f" ({own})" if own else ""))


def _idents(it: Iteration) -> dict:
    """Every walked or given name's identity; after the update (w5+, z1+) the quantity's Id marked `after`.
    α has none (the renderers show it as α)."""
    p = it.passes[0]
    out = {q.name: q.ident for q in (*p.forward.given, *p.loss.targets, *it.updates)}
    out.update({name: notation.after(q.ident) if group in ("update", "check") else q.ident
                for group, name, q in it.walk()})
    return out


@dataclass(frozen=True)
class Row:
    """One answers file in a class summary."""

    file: str
    held: int = 0
    total: int = 0
    first: str = ""  # the first misconception named, else the first wrong claim
    error: str = ""  # why the file could not be graded

    @property
    def ok(self) -> bool:
        return not self.error and self.held == self.total


def row(file: str, report: Report) -> Row:
    """A report in one row: claims held of total, and the first misconception (or wrong claim)."""
    named = [d for d in report.diagnoses if d.finding is not None]
    if named:
        d = named[0]
        first = f"{d.finding.misconception.title} ({d.claim.name})"
    elif report.diagnoses:
        first = f"{report.diagnoses[0].claim.name} wrong"
    else:
        first = ""
    return Row(file, sum(c.holds for c in report.claims), len(report.claims), first)


def summary(source, files: list[str], naming: str | None = None, rounding: int | None = None) -> list[Row]:
    """One Row per answers file, for a whole class; a file that cannot be graded says why in its row."""
    from . import check_answers
    from .errors import BptraceError

    rows = []
    for f in files:
        try:
            rows.append(row(f, check_answers(source, f, naming, rounding)))
        except BptraceError as e:
            rows.append(Row(f, error=str(e).removeprefix(f"{f}: ")))
    return rows
