"""Numbers, the same rules in every notation (README, "Numbers").

- Given values (inputs, targets, the spec's weights, constants of a formula) print as the user
  wrote them: the shortest form that reads back as the same float (0.3, 0.25, 1e-05), never
  rounded by --precision.
- Computed values print with exactly `precision` decimals (0.08000000), unless they would
  round to zero (|v| < ½·10^-precision) or are 10^12 or more: then in scientific notation,
  1.2e-09 in ASCII, 1.2×10⁻⁹ in Unicode, 1.2\\times10^{-9} in LaTeX.
- Whether a negative number is bracketed is the formula renderer's business (bptrace.expr):
  only inside a larger expression, once.
"""

from __future__ import annotations

import math

SUPERSCRIPTS = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def counted(n: int, noun: str) -> str:
    """'1 sample', '4 samples', '1,000 epochs'."""
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def num(v: float, precision: int = 8, given: bool = False, style: str = "ascii") -> str:
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return ("" if v > 0 else "-") + ("inf" if style != "latex" else r"\infty")
    if given:
        out = repr(float(v))
        out = out[:-2] if out.endswith(".0") else out
    elif v != 0 and not 0.5 * 10.0 ** -precision <= abs(v) < 1e12:
        out = f"{v:.{max(precision - 1, 1)}e}"
    else:
        out = f"{v:.{precision}f}"
    if out.startswith("-") and float(out) == 0:
        out = out[1:]  # no -0.00000000
    return scientific(out, style) if "e" in out else out


def is_scientific(s: str) -> bool:
    return "e" in s and not s.endswith("inf") or "×10" in s or r"\times10" in s


def scientific(s: str, style: str) -> str:
    """'1.2e-09' in a notation: 1.2×10⁻⁹ (unicode), 1.2\\times10^{-9} (latex), as is (ascii)."""
    if style == "ascii":
        return s
    mantissa, exponent = s.split("e")
    e = str(int(exponent))
    return f"{mantissa}×10{e.translate(SUPERSCRIPTS)}" if style == "unicode" else rf"{mantissa}\times10^{{{e}}}"


def signed(v: float, precision: int = 8, style: str = "ascii") -> str:
    s = num(v, precision, False, style)
    return s if s.startswith("-") else f"+{s}"
