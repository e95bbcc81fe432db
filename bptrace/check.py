"""Check someone's hand-computed answers against the trace, and find where an error entered.

A claim is compared at the precision it was written with: it holds when it equals the
correct value rounded to the claim's number of decimals (0.209446 matches 0.2094460049…;
0.21 matches at 2 decimals). For a wrong claim, the claimed quantities it depends on are
marked right or wrong; the earliest wrong one (a wrong claim none of whose own claimed
dependencies is wrong) is named as the likely source.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from . import deps
from .errors import ECHO_LIMIT, SpecError, clip
from .spec import describe, kind
from . import notation
from .notation import spellings
from .trace import Iteration

RESERVED = {"epoch": "the epoch the claims are about (default 1)",
            "sample": "the sample whose update the claims are about (default 1)"}


@dataclass(frozen=True)
class Claim:
    name: str
    claimed: Decimal
    correct: float

    @property
    def decimals(self) -> int:
        return max(-self.claimed.as_tuple().exponent, 0)

    @property
    def holds(self) -> bool:
        # equal to the correct value rounded to the claim's decimals (half a unit, plus float slack)
        tolerance = 0.5 * 10.0 ** -self.decimals
        return math.isfinite(self.correct) and abs(float(self.claimed) - self.correct) <= tolerance * (1 + 1e-9) + 1e-15


@dataclass(frozen=True)
class Diagnosis:
    claim: Claim
    right: list[str] = field(default_factory=list)  # claimed dependencies that hold
    wrong: list[str] = field(default_factory=list)  # claimed dependencies that do not
    source: str = ""  # the likely source of the error
    dependents_right: list[str] = field(default_factory=list)  # claims computed from this one that still hold


@dataclass(frozen=True)
class Report:
    epoch: int
    sample: int
    claims: list[Claim]
    diagnoses: list[Diagnosis]
    names: object = None  # naming.Names: what the idents are called in every notation
    idents: dict = field(default_factory=dict)  # ASCII name -> notation.Id, for every quantity named above

    @property
    def ok(self) -> bool:
        return all(c.holds for c in self.claims)


MAX_EPOCH = 1_000_000  # the latest epoch `check` trains to
MAX_DIGITS = 40  # significant digits of one claim (float64 holds 17)


def parse_answers(data: dict[str, Any], source: str, text: str = "") -> tuple[dict[str, Decimal], int, int]:
    """Claims by name, and the epoch and sample they are about. Floats arrive as Decimal (as written).

    `text` (the file's TOML) lets a message point at the lines of two spellings of one quantity.
    """
    where = {"epoch": 1, "sample": 1}
    claims: dict[str, Decimal] = {}
    keys: dict[str, str] = {}  # name -> the key it was written as
    for key, value in data.items():
        if key in RESERVED:
            where[key] = _whole(value, key, source)
            continue
        d = _claimed(value, key, source)
        name = _ascii(key)
        if name in claims and claims[name] != d:
            first = keys[name]
            raise SpecError(source, f'{_quoted(first, text)} and {_quoted(key, text)} are the same quantity with '
                            f"different claimed values ({describe(claims[name])} and {describe(d)}); keep one")
        claims.setdefault(name, d)
        keys.setdefault(name, key)
    if not claims:
        raise SpecError(source, 'no claims: write one `name = value` per line, e.g. z1 = 0.08 or "dE_total/dw5" = 0.0259')
    return claims, where["epoch"], where["sample"]


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


def _ascii(name: str) -> str:
    """Names as the terminal shows them are accepted too: ∂E_total/∂w5, δ_o1, w5⁺."""
    return spellings(name)


def check(it: Iteration, claims: dict[str, Decimal], source: str, epoch: int, sample: int) -> Report:
    values = {}
    for _, name, v in it.quantities():
        values.setdefault(name, v)
    unknown = [k for k in claims if k not in values]
    if unknown:
        name = unknown[0]
        close = difflib.get_close_matches(name, list(values), n=3, cutoff=0.5) if len(name) <= 2 * ECHO_LIMIT else []
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else "; see `bptrace run` for the names"
        raise SpecError(source, f"no such quantity{hint}", f'"{clip(name)}"')
    out = [Claim(name, d, values[name]) for name, d in claims.items()]
    order = {name: i for i, name in enumerate(values)}
    out.sort(key=lambda c: order[c.name])
    g = deps.graph(it)
    by_name = {c.name: c for c in out}
    diagnoses = []
    for c in out:
        if c.holds:
            continue
        claimed_deps = [n for n in deps.ancestors(g, c.name) if n in by_name]
        right = [n for n in claimed_deps if by_name[n].holds]
        wrong = [n for n in claimed_deps if not by_name[n].holds]
        # the earliest wrong claim: one whose own claimed dependencies all hold
        sources = [n for n in wrong if not any(not by_name[a].holds for a in deps.ancestors(g, n) if a in by_name)]
        source = min(sources, key=order.get) if sources else c.name
        after = [o.name for o in out if o.holds and c.name in deps.ancestors(g, o.name)]
        diagnoses.append(Diagnosis(c, right, wrong, source, after))
    return Report(epoch, sample, out, diagnoses, it.names, _idents(it))


def _idents(it: Iteration) -> dict:
    """Every walked name's identity; after the update (w5+, z1+) the quantity's Id marked `after`."""
    return {name: notation.after(q.ident) if group in ("update", "check") else q.ident for group, name, q in it.walk()}
