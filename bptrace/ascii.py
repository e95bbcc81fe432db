"""ASCII fallback for output streams that cannot encode what bptrace prints.

`PYTHONIOENCODING=ascii` (or an old terminal) cannot show ∂E_total/∂w5; instead of a
UnicodeEncodeError the stream writes dE_total/dw5. Registered as a codec error handler,
so it applies to everything written to stdout and stderr, and only to characters the
stream's encoding lacks.
"""

from __future__ import annotations

import codecs

HANDLER = "bptrace-ascii"

# the notation bptrace prints, spelled the way the answers file accepts it (∂ -> d, δ -> delta, ⁺ -> +)
TABLE = {
    "∂": "d", "δ": "delta", "⁺": "+", "−": "-", "–": "-", "—": "--", "×": "x", "·": "*", "⊙": "*",
    "⊗": "(x)", "α": "alpha", "β": "beta", "λ": "lambda", "μ": "mu", "ε": "eps", "τ": "tau", "η": "eta",
    "σ": "sigma", "θ": "theta", "Σ": "sum", "√": "sqrt", "²": "^2", "ᵀ": "^T", "\u0302": "^", "½": "1/2",
    "±": "+/-", "≤": "<=", "≥": ">=", "≈": "~", "→": "->", "←": "<-", "…": "...", "‖": "||",
    "✓": "ok", "✗": "x", "•": "*", "‘": "'", "’": "'", "“": '"', "”": '"',
    "\u0303": "~", "ã": "a~",  # dropout's h̃1, ã^(1)_1: h~1, a~^(1)_1 as the answers file spells them
}


def char(ch: str) -> str:
    """One character in ASCII: from the table, box drawing as - | +, else its plain letter, else ?."""
    if ch in TABLE:
        return TABLE[ch]
    if ch.isascii():
        return ch
    import unicodedata  # only when a stream lacks a character: not on every start

    name = unicodedata.name(ch, "")
    if name.startswith("BOX DRAWINGS"):
        return "-" if "HORIZONTAL" in name and "VERTICAL" not in name else "|" if "VERTICAL" in name and "HORIZONTAL" not in name else "+"
    if name.startswith(("BLOCK", "FULL BLOCK", "UPPER", "LOWER", "BRAILLE", "QUADRANT")):
        return "#"
    plain = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
    return plain or "?"


SUPERSCRIPT_DIGITS = "⁰¹²³⁴⁵⁶⁷⁸⁹"


def _superscripts(text: str) -> str:
    """Exponents and layer indices as ASCII: 10⁻⁵ -> 10^-5 (not 10?5), g⁽²⁾ -> g(2) (not g(^2)); x² stays x^2."""
    import re

    digits = str.maketrans(SUPERSCRIPT_DIGITS + "⁻", "0123456789-")
    text = re.sub(f"⁽([{SUPERSCRIPT_DIGITS}]+)⁾", lambda m: f"({m.group(1).translate(digits)})", text)
    return re.sub(f"⁻?[{SUPERSCRIPT_DIGITS}]+", lambda m: "^" + m.group(0).translate(digits), text)


def transliterate(text: str) -> str:
    if any(c in SUPERSCRIPT_DIGITS for c in text):
        text = _superscripts(text)
    return "".join(char(ch) for ch in text)


def _on_error(e: UnicodeError):
    if not isinstance(e, UnicodeEncodeError):
        raise e
    return transliterate(e.object[e.start:e.end]), e.end


def install(*streams) -> None:
    """Make each text stream write ASCII for what its encoding lacks (never UnicodeEncodeError)."""
    try:
        codecs.lookup_error(HANDLER)
    except LookupError:
        codecs.register_error(HANDLER, _on_error)
    for stream in streams:
        try:
            stream.reconfigure(errors=HANDLER)
        except (AttributeError, ValueError, OSError):  # not a TextIOWrapper (a test runner's capture)
            pass
