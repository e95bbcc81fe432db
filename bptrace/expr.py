"""Formulas as expression trees, rendered in any notation with or without the numbers put in.

Leaves: `Ref` (another traced quantity: its name, or its value), `Num` (a constant such as 1
or 2, shown as written) and `Sym` (a symbol with a value, such as α = 0.5). Inner nodes are
`Op(op, *args)`:

    add a + b + …      sub a − b      neg −a        mul a·b (numbers a×b)   chain a × b (spaced)
    div a / b          pow a^n        exp e^a       log log a               fn f(a, b)  (tanh, max, √)
    coef c·a (½(t − o)², −2(t − o))   if (a if z > 0 else b)               sum Σ (symbol; numbers expanded)

`render(e, style, names, numbers=False, precision=8)` gives the formula (`w1·x1 + w2·x2`) or its
numbers line (`0.3×0.1 + 0.25×0.2`). Negative and scientific numbers are parenthesised inside
a larger expression, never as a whole or as a function's argument.
"""

from __future__ import annotations

import re

from .fmt import SUPERSCRIPTS, is_negative, is_scientific, num
from .notation import name

ADD, MUL, UNARY, POW, ATOM = 1, 2, 3, 4, 5
BRACKETED = 0.5  # a negative or scientific number: bracketed inside any operator


class Ref:
    __slots__ = ("q",)

    def __init__(self, q):
        self.q = q  # a trace Quantity: .ident, .value, .given


class Num:
    __slots__ = ("v", "text")

    def __init__(self, v: float, text: str = ""):
        self.v, self.text = v, text  # text: a form other than the digits, e.g. ½


class Sym:
    __slots__ = ("forms", "v")

    def __init__(self, ascii: str, unicode: str, latex: str, v: float | None = None):
        self.forms, self.v = (ascii, unicode, latex), v


class Op:
    __slots__ = ("op", "args")

    def __init__(self, op: str, *args):
        self.op, self.args = op, args


def refs(e) -> list:
    """The quantities a formula reads, in order."""
    if isinstance(e, Ref):
        return [e.q]
    if isinstance(e, Op):
        return [q for a in e.args for q in refs(a)]
    return []


# ---------------------------------------------------------------- rendering

_S = {  # per style: ascii, unicode, latex
    "minus": (" - ", " − ", " - "), "neg": ("-", "−", "-"), "dot": ("*", "·", ""), "times": ("*", "×", r"\times"),
    "chain": (" * ", " × ", r" \times "), "half": ("0.5*", "½", r"\tfrac{1}{2}"),
}
_STYLE = {"ascii": 0, "unicode": 1, "latex": 2}
_FN = {"tanh": ("tanh", "tanh", r"\tanh"), "max": ("max", "max", r"\max"), "log": ("log", "log", r"\log"),
       "erf": ("erf", "erf", r"\operatorname{erf}"), "sigmoid": ("sigmoid", "σ", r"\sigma")}


class _R:
    def __init__(self, style: str, names, numbers: bool, precision: int):
        self.style, self.s, self.names, self.numbers, self.p = style, _STYLE[style], names, numbers, precision

    def t(self, key: str) -> str:
        return _S[key][self.s]

    def go(self, e, need: int = 0) -> str:
        """Render e; parenthesise it when its precedence is below `need` (0: a whole, or an argument)."""
        text, prec = self.node(e)
        if prec < need:
            return f"\\left({text}\\right)" if self.style == "latex" and "\\frac" in text else f"({text})"
        return text

    def number(self, v: float, given: bool) -> tuple[str, int]:
        s = num(v, self.p, given, self.style)
        # a negative or scientific number inside a larger expression is bracketed once
        return s, (BRACKETED if is_negative(s) or is_scientific(s) else ATOM)

    def node(self, e) -> tuple[str, int]:
        if isinstance(e, Ref):
            if self.numbers:
                return self.number(e.q.value, e.q.given)
            return name(e.q.ident, self.names, self.style), ATOM
        if isinstance(e, Num):
            if e.text and not self.numbers or e.text == "½":
                return self.t("half") if e.text == "½" else e.text, ATOM
            return self.number(e.v, True)
        if isinstance(e, Sym):
            if self.numbers and e.v is not None:
                return self.number(e.v, True)
            return e.forms[self.s], ATOM
        return getattr(self, "op_" + e.op)(*e.args)

    def op_add(self, *a):
        return " + ".join(self.go(x, ADD + 1 if i else ADD) for i, x in enumerate(a)), ADD

    def op_sub(self, a, b):
        return self.go(a, ADD) + self.t("minus") + self.go(b, ADD + 1), ADD

    def op_neg(self, a):
        # −t·log o reads as −(t·log o): a product under the minus is not bracketed
        if isinstance(a, Op) and a.op in ("mul", "coef", "div"):
            return self.t("neg") + self.go(a, MUL), MUL
        return self.t("neg") + self.go(a, POW), UNARY

    def op_mul(self, *a):
        sep = self.t("times") if self.numbers else self.t("dot")
        return _join(sep, [self.go(x, MUL + 1) for x in a]), MUL

    def op_chain(self, *a):
        return self.t("chain").join(self.go(x, MUL + 1) for x in a), MUL

    def op_coef(self, c, a):
        return self.go(c, ATOM) + self.go(a, POW), MUL

    def op_div(self, a, b):
        if self.style == "latex":
            return rf"\frac{{{self.go(a)}}}{{{self.go(b)}}}", ATOM
        return f"{self.go(a, MUL)} / {self.go(b, MUL + 1)}", MUL

    def op_pow(self, a, n):
        if self.style == "latex":  # a^{(1)}_{1} squared: {a^{(1)}_{1}}^{2}, never a double superscript
            base = self.go(a, ATOM)
            bare = ("^" in base or "_" in base) and not base.startswith(("(", r"\left("))
            return (f"{{{base}}}" if bare else base) + f"^{{{self.go(n)}}}", POW
        if self.style == "unicode" and isinstance(n, Num) and n.v == int(n.v):
            return self.go(a, ATOM) + str(int(n.v)).translate(SUPERSCRIPTS), POW
        return f"{self.go(a, ATOM)}^{self.go(n, ATOM)}", POW

    def op_exp(self, a):
        if self.style == "latex":
            return f"e^{{{self.go(a)}}}", POW
        return "e^" + self.go(a, UNARY), POW

    def op_sqrt(self, a):
        if self.style == "latex":
            return rf"\sqrt{{{self.go(a)}}}", ATOM
        return ("sqrt" if self.style == "ascii" else "√") + self.go(a, ATOM), UNARY

    def op_log(self, a):
        f = _FN["log"][self.s]
        return (f"{f} {self.go(a, ATOM)}" if self.style != "ascii" else f"log({self.go(a)})"), UNARY

    def op_fn(self, f, *a):
        left, right = (r"\left(", r"\right)") if self.style == "latex" else ("(", ")")
        return _FN[f][self.s] + left + ", ".join(self.go(x) for x in a) + right, ATOM

    def op_if(self, a, z, b, c=None):
        # a if z > c else b (c = 0 unless given: softplus's threshold)
        bound = "0" if c is None else self.go(c, ATOM)
        if self.style == "latex":
            return (rf"\begin{{cases}}{self.go(a)} & {self.go(z)} > {bound} \\ {self.go(b)} & \text{{otherwise}}\end{{cases}}",
                    ATOM)
        return f"{self.go(a, ADD)} if {self.go(z, ADD)} > {bound} else {self.go(b, ADD)}", 0

    def op_sum(self, label, *terms):
        if self.numbers or len(terms) <= 1:
            return self.op_add(*terms)
        return label.forms[self.s], ATOM


def _join(sep: str, parts: list[str]) -> str:
    """Join factors; in LaTeX a control word (\\lambda, \\times) before a letter needs a space."""
    out = parts[0]
    for p in parts[1:]:
        left = out + sep
        out = left + (" " if re.search(r"\\[A-Za-z]+$", left) and p[:1].isalpha() else "") + p
    return out


def render(e, style: str, names, numbers: bool = False, precision: int = 8, term: bool = False) -> str:
    """A formula in a notation (ascii, unicode, latex), or with numbers=True its numbers line.
    term=True: rendered as one term of a larger sum (bracketed as it would be there)."""
    return _R(style, names, numbers, precision).go(e, ADD + 1 if term else 0)
