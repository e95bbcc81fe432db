"""Numbers, the same rules in every notation (README, "Numbers").

- Given values (inputs, targets, the spec's weights, constants of a formula) print as the user
  wrote them: the shortest form that reads back as the same float (0.3, 0.25, 1e-05), never
  rounded by --precision.
- Computed values print with exactly `precision` decimals (0.08000000), unless they would round
  to zero, or keep fewer than two significant digits while below 0.001 (0.00000005 would keep
  one), or are 10^12 or more: then in scientific notation with precision-1 decimals, 1.2e-09 in ASCII,
  1.2×10⁻⁹ in Unicode, 1.2\\times10^{-9} in LaTeX.
- A negative number's sign is the notation's minus: - in ASCII and LaTeX, − (U+2212) in Unicode,
  the same sign the formulas' operators use (e^−z, so e^−(−0.14), never e^−(-0.14)).
- Whether a negative number is bracketed is the formula renderer's business (bptrace.expr):
  only inside a larger expression, once.
"""

from __future__ import annotations

import math

SUPERSCRIPTS = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
MINUS = {"ascii": "-", "unicode": "−", "latex": "-"}


def scientific_needed(v: float, precision: int) -> bool:
    """Whether a computed value prints in scientific notation: with `precision` decimals it would
    round to zero (|v| < ½·10^-p), or keep fewer than two significant digits while below 0.001
    (|v| < 10^(1-p): 0.00000005 at p = 8; --precision 2 keeps 0.05), or it is 10^12 or more."""
    return v != 0 and not smallest_fixed(precision) <= abs(v) < 1e12


def smallest_fixed(p: int) -> float:
    """The smallest |v| printed with p decimals: max(½·10^-p, min(10^(1-p), 10^-3))."""
    return max(0.5 * 10.0 ** -p, min(10.0 ** (1 - p), 1e-3))


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
    elif scientific_needed(v, precision):
        out = f"{v:.{max(precision - 1, 1)}e}"
    else:
        out = f"{v:.{precision}f}"
    if out.startswith("-") and float(out) == 0:
        out = out[1:]  # no -0.00000000
    out = scientific(out, style) if "e" in out else out
    return MINUS[style] + out[1:] if out.startswith("-") else out


def is_negative(s: str) -> bool:
    """Whether a number as `num` printed it is negative (in any notation)."""
    return s.startswith(("-", "−"))


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
    return s if is_negative(s) else f"+{s}"


def percent(ratio: float, style: str = "ascii") -> str:
    """A signed relative change with two decimals (+1.25%, −3.07%), its minus the notation's."""
    s = f"{ratio:+.2%}"
    return MINUS[style] + s[1:] if s.startswith("-") else s
