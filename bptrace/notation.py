"""Every quantity's identity, and its name in every notation, rendered from that identity.

An `Id` says what a quantity is (kind, layer l, neuron j, source k, 0-based) and, for a
partial derivative, of what by what. Its name is assembled from parts (base symbol, layer
superscript, subscript), never parsed from another name:

    Id("w", 1, 0, 0)                 seed  w5        layered  W^(2)_11
    Id("d", of=E_total, by=w5)       ascii dE_total/dw5   unicode ∂E_total/∂w5
                                     latex \\frac{\\partial E_{total}}{\\partial w_{5}}
    Id("w", 1, 0, 0, after=True)     w5+ / w5⁺ / w_{5}^{+} (layered: W^{(2)+}_{11})
"""

from __future__ import annotations

from collections import namedtuple
from functools import cache

# kind: x input, w weight, b bias, z weighted sum, out activation (h/a/o), t target, E error of one
# output, E_total, d partial (of, by, via), delta, p any parameter (the update rule), state (name in `of`),
# mask a dropout mask entry m_h1 (layered m^(1)_1), drop an output after dropout h̃1 (ã^(1)_1)
Id = namedtuple("Id", "kind l j k of by via after", defaults=(0, 0, 0, None, None, None, False))

E_TOTAL = Id("E_total")
P = Id("p")
STYLES = ("ascii", "unicode", "latex")


@cache
def after(i: Id) -> Id:
    """The same quantity after the update (w5 -> w5+)."""
    return i._replace(after=True)


# Ids are interned: a traced run names the same quantities every update, and a namedtuple (unlike a
# plain tuple) stays tracked by the garbage collector, whose passes grow with every live object.
@cache
def leaf(kind: str, l: int = 0, j: int = 0, k: int = 0, post: bool = False) -> Id:
    """A quantity's Id (post: its value after the update, w5+)."""
    return Id(kind, l, j, k, after=post)


@cache
def partial(of: Id, by: Id, via: Id | None = None) -> Id:
    return Id("d", 0, 0, 0, of, by, via, False)


def _idx(*i: int) -> str:
    return ",".join(map(str, i)) if any(v >= 10 for v in i) else "".join(map(str, i))


def _parts(i: Id, N) -> tuple[str, str | None, object]:
    """(base, layer superscript, subscript: a str or a nested Id) of a leaf quantity."""
    kind, l, j, k = i.kind, i.l, i.j, i.k
    if kind == "E_total":
        return "E", None, "total"
    if kind == "p":
        return "p", None, None
    widths = N.widths
    L = len(widths) - 1
    if N.scheme == "layered":
        if kind == "x":
            return "x", None, str(j + 1)
        first = N.offset + 1  # front layers come first (bptrace.front)
        if kind == "b" and len(N.biases[l]) == 1 and widths[l + 1] > 1:
            return "b", str(l + first), None  # one bias shared by the layer
        base = {"w": "W", "out": "a", "E": "E", "t": "t", "mask": "m"}.get(kind, kind)
        sub = _idx(j + 1, k + 1) if kind == "w" else str(j + 1)
        return base, (None if kind in ("E", "t") else str(l + first)), sub
    if kind == "x":
        return "x", None, str(j + 1)
    if kind == "w":
        return "w", None, str(sum(widths[m] * widths[m + 1] for m in range(l)) + j * widths[l] + k + 1)
    if kind == "b":
        return "b", None, str(sum(map(len, N.biases[:l])) + j + 1)
    if kind == "z":
        return "z", None, str(sum(widths[1:l + 1]) + j + 1)
    if kind == "out":
        if l == L - 1:
            return "o", None, str(j + 1)
        return "h", None, str(sum(widths[1:l + 1]) + j + 1)
    base = {"t": "target", "E": "E", "delta": "delta", "mask": "m"}[kind]
    return base, None, Id("out", L - 1 if kind not in ("delta", "mask") else l, j)


def name(i: Id, N, style: str = "ascii") -> str:
    """The name of quantity `i` in a notation: ascii (dE_total/dw5), unicode (∂E_total/∂w5) or latex."""
    if i.kind == "d":
        return _partial(i, N, style)
    if i.kind == "state":
        return _state(i, N, style)
    if i.kind == "v":
        return _front(i, N, style)
    if i.kind == "drop":
        return _tilde(name(i._replace(kind="out"), N, style), style)
    base, sup, sub = _parts(i, N)
    if style == "latex":
        return _latex_leaf(base, sup, sub, N, i.after)
    if base == "delta" and style == "unicode":
        base = "δ"
    s = base + (f"^({sup})" if sup else "")
    if isinstance(sub, Id):
        s += "_" + name(sub, N, style)
    elif sub is not None:
        s += sub if sub.isdigit() and len(base) == 1 and N.scheme == "seed" else "_" + sub
    return s + ({"ascii": "+", "unicode": "⁺"}[style] if i.after else "")


def _front(i: Id, N, style: str) -> str:
    """A front layer's quantity (bptrace.front): symbol `of`, 0-based index `by`, layer l. Seed scheme: f1,
    k_12 (one index joined to a one-letter symbol, several after _); layered: k^(1)_12 (x has no layer)."""
    symbol, idx = i.of, _idx(*(v + 1 for v in i.by)) if i.by else ""
    sup = str(i.l + 1) if (N.scheme == "layered" or symbol in getattr(N, "repeated", ())) and symbol != "x" else None
    if style == "latex":
        return _latex_leaf(symbol, sup, idx or None, N, i.after)
    s = symbol + (f"^({sup})" if sup else "")
    if idx:
        s += idx if len(i.by) == 1 and not sup else "_" + idx
    return s + ({"ascii": "+", "unicode": "⁺"}[style] if i.after else "")


def _tilde(out: str, style: str) -> str:
    """An output after dropout: h1 -> h~1 (ascii), h̃1 (unicode), \\tilde{h}_{1} (latex)."""
    mark = {"ascii": "~", "unicode": "\u0303"}.get(style)
    return out[0] + mark + out[1:] if mark else rf"\tilde{{{out[0]}}}" + out[1:]


def _latex_leaf(base: str, sup, sub, N, plus: bool) -> str:
    base = {"delta": r"\delta", "target": r"\mathrm{target}"}.get(base, base)
    if isinstance(sub, Id):
        sub = name(sub, N, "latex")
    s = base
    if sup is not None:  # layered: the update's + joins the layer: W^{(1)+}_{11}
        s += f"^{{({sup}){'+' if plus else ''}}}"
    if sub is not None:
        s += f"_{{{sub}}}"
    if plus and sup is None:
        s += "^{+}"
    return s


def _partial(i: Id, N, style: str) -> str:
    of, by = name(i.of, N, style), name(i.by, N, style)
    if style == "latex":
        s = rf"\frac{{\partial {of}}}{{\partial {by}}}"
        return s + (rf"\big|_{{{name(i.via, N, style)}}}" if i.via else "")
    d = "∂" if style == "unicode" else "d"
    return f"{d}{of}/{d}{by}" + (f" via {name(i.via, N, style)}" if i.via else "")


STATE = {"m": ("m", "m", "m"), "v": ("v", "v", "v"), "m_hat": ("m_hat", "m̂", r"\hat{m}"),
         "v_hat": ("v_hat", "v̂", r"\hat{v}"), "v_max": ("v_max", "vₘₐₓ", r"v_{\max}"),
         "g_bar": ("g_bar", "ḡ", r"\bar{g}"), "b": ("b", "b", "b"), "G": ("G", "G", "G"),
         "alpha_t": ("alpha_t", "αₜ", r"\alpha_t")}


def _state(i: Id, N, style: str) -> str:
    """Optimizer state of a parameter (`of` holds the state's key; `by` the parameter, or None for any p)."""
    return STATE[i.of][STYLES.index(style)]


def spellings(n: str) -> str:
    """A name as a user may type it (∂E_total/∂w5, δ_o1, w5⁺, w5^+) in the ascii form the trace keys by."""
    n = n.strip().replace("\u0303", "~").replace("ã", "a~").replace("∂", "d").replace("δ", "delta").replace("⁺", "+").replace("^+", "+").replace("^{+}", "+")
    return n.replace("−", "-").replace(" ", "") if " via " not in n else n


def param_ids(N):
    """Every parameter's Id, in numbering order (the order of Names.params()): front layers' first."""
    yield from N.front_ids
    for l, layer in enumerate(N.weights):
        for j in range(len(layer)):
            for k in range(N.widths[l]):
                yield Id("w", l, j, k)
        for j in range(len(N.biases[l])):
            yield Id("b", l, j)
