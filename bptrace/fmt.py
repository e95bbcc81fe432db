"""Number formatting and formula substitution shared by every renderer and exporter.

Given values (inputs, targets, weights as written in the spec) print as written: 0.3,
not 0.30000000; computed values print with exactly `precision` decimals, as the worked
example does. Values too small or too large for fixed decimals print in scientific form.
"""

from __future__ import annotations

import math
import re

from .naming import pretty


def num(v: float, precision: int = 8) -> str:
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    short = repr(float(v))
    if "e" not in short and len(short.split(".")[1]) <= precision:
        out = short[:-2] if short.endswith(".0") else short  # as written: 0.3, 1
    elif v != 0 and (abs(v) < 0.5 * 10.0**-precision or abs(v) >= 1e12):
        out = f"{v:.{max(precision - 1, 1)}e}"
    else:
        out = f"{v:.{precision}f}"
    if re.fullmatch(r"-0(\.0*)?", out):
        out = out[1:]
    return out


def signed(v: float, precision: int = 8) -> str:
    s = num(v, precision)
    return s if s.startswith("-") else f"+{s}"


_TOKEN_CACHE: dict[tuple[str, ...], re.Pattern] = {}


def substitute(formula: str, values: dict[str, float], precision: int = 8) -> str:
    """Put the numbers in: 'w1·x1 + w2·x2' -> '0.3×0.1 + 0.25×0.2'."""
    keys = tuple(sorted(values, key=len, reverse=True))
    pattern = _TOKEN_CACHE.get(keys)
    if pattern is None:
        alternatives = "|".join(re.escape(k) for k in keys)
        pattern = re.compile(rf"(?<![A-Za-z0-9_])(?:{alternatives})(?![A-Za-z0-9_^(])")
        _TOKEN_CACHE.clear()
        _TOKEN_CACHE[keys] = pattern

    def put(m: re.Match) -> str:
        s = num(values[m.group(0)], precision)
        return f"({s})" if s.startswith("-") else s

    return pattern.sub(put, formula).replace("·", "×")


def pretty_formula(formula: str) -> str:
    """ASCII names inside a formula in their display form: dE_total/dw5 -> ∂E_total/∂w5."""
    return re.sub(r"(?<![\w])(d[A-Za-z][\w^()]*/d[A-Za-z][\w^()]*|delta[\w^()]*)", lambda m: pretty(m.group(0)), formula)


def generic_rule(name: str, rule: str) -> str:
    """An update rule for one parameter written for any parameter p: 'w5 − α·dE_total/dw5' -> 'p − α·∂E_total/∂p'."""
    return pretty_formula(re.sub(rf"(?<![\w/]){re.escape(name)}(?!\w)", "p", rule.replace(f"/d{name}", "/dp")))
