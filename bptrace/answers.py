"""Answers files as students write them: reading the file, and every spelling of a quantity's name.

Accepted for one quantity (the blog network's names; any network's work the same way):

    ASCII / terminal       dE_total/dw5   ∂E_total/∂w5   "dE_total / dw5"   delta_o1   δ_o1   δo1
    after the update       w5+   w5⁺   w5^+   w5_new   w5new   w5'
    Mazur's notation       net_h1 (= z1)   out_h1 (= h1)   out_o1 (= o1)   E_o1   target_o1
                           "dE_total/dout_o1" (= dE_total/do1)   "dnet_o1/dw5" (= dz3/dw5)
    E for E_total          "dE/dw5"   "dEtotal/dw5"
    given values           x1   w5   b1   target_o1 (t_o1)   alpha (α, eta, η, lr, learning_rate)
"""

from __future__ import annotations

import difflib
import re

from . import samples, spec
from .errors import ECHO_LIMIT, SpecError, clip
from .notation import spellings

EXPECTED = "an answers file"
EMPTY_HINT = ": one `name = value` per line, e.g. z1 = 0.08 or \"dE_total/dw5\" = 0.0259"
ALPHA = "alpha"  # the learning rate's name in answers files
ALPHAS = {"alpha", "α", "eta", "η", "lr", "learning_rate", "learningrate"}
_AFTER = re.compile(r"(?:_?new|\^\{?new\}?|'|_updated|\(new\))$", re.IGNORECASE)
_TOTAL = {"e", "etotal", "e_total", "e_tot", "etot"}


def read(answers: str) -> tuple[str, str]:
    """(label, text) of an answers file (a path, a built-in name, or the TOML text itself: several
    lines, or one `name = value` line that names no file)."""
    if _is_text(answers):
        return "answers", answers
    label, text = samples.resolve(answers)
    return label, spec.read_text(label, EXPECTED, EMPTY_HINT) if text is None else text


def _is_text(answers) -> bool:
    from pathlib import Path

    if isinstance(answers, Path):
        return False
    return "\n" in answers or ("=" in answers and not Path(answers).exists())


def mazur(names) -> dict[str, str]:
    """Mazur's names (net_h1, out_h1) for the trace's (z1, h1), and dE_total/dz1 for delta_h1, for a
    network named by `names`."""
    table = {}
    for zs, outs, deltas in zip(names.z, names.out, names.delta):
        for z, o, d in zip(zs, outs, deltas):
            table[f"net_{o}"], table[f"out_{o}"], table[f"dE_total/d{z}"] = z, o, d
    table.update({f"t_{o}": t for o, t in zip(names.out[-1], names.targets)})
    return table


def canonical(key: str, aliases: dict[str, str]) -> str:
    """The trace's ASCII name for a key as a student may write it (see the module docstring)."""
    n = spellings(key)
    if n.lower() in ALPHAS:
        return ALPHA
    plus = ""
    if n.endswith("+") or _AFTER.search(n):
        n, plus = _AFTER.sub("", n.removesuffix("+")), "+"
    if "/" in n and " via " not in n:
        of, _, by = n.partition("/")
        n = f"d{_token(of.removeprefix('d'), aliases, True)}/d{_token(by.removeprefix('d'), aliases)}"
    else:
        n = _token(n, aliases)
    return aliases.get(n, n) + plus


def _token(t: str, aliases: dict[str, str], numerator: bool = False) -> str:
    """One name: Mazur's alias, E for E_total (in a derivative's numerator), deltao1 for delta_o1."""
    if numerator and t.lower() in _TOTAL:
        return "E_total"
    if t.lower() in ("etotal", "e_total"):
        return "E_total"
    m = re.fullmatch(r"delta_?([A-Za-z]\w*)", t)
    if m and not t.startswith("delta^"):
        return "delta_" + _token(m.group(1), aliases)
    return aliases.get(t, t)


def unknown_message(unknown: list[tuple[str, str]], known: list[str]) -> str:
    """Every unknown name at once (as written, as understood), each with its closest known names."""
    def hint(name: str) -> str:
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5) if len(name) <= 2 * ECHO_LIMIT else []
        return f"did you mean {', '.join(repr(c) for c in close)}?" if close else ""

    if len(unknown) == 1:
        (key, name), = unknown
        return f'"{clip(key)}": no such quantity; ' + (hint(name) or "see `bptrace run` for the names")
    parts = [f'"{clip(k)}"' + (f" ({hint(n)})" if hint(n) else "") for k, n in unknown[:8]]
    more = f" and {len(unknown) - 8} more" if len(unknown) > 8 else ""
    return f"{len(unknown)} names are not quantities of this network: {', '.join(parts)}{more}; " \
           "see `bptrace run` for the names"
