"""The matrix (vectorised) form of a traced update, built from the trace's own quantities.

Every entry of every matrix is a scalar the trace already holds (its value and its notation.Id), so
the matrix form and the neuron-by-neuron form show the same numbers by construction:

    forward    z⁽ˡ⁾ = W⁽ˡ⁾ h⁽ˡ⁻¹⁾ + b⁽ˡ⁾,  h⁽ˡ⁾ = f(z⁽ˡ⁾)          (h⁽⁰⁾ = x)
               dropout: h̃⁽ˡ⁾ = m⁽ˡ⁾ ⊙ h⁽ˡ⁾ / (1 − p), read by the next layer in h⁽ˡ⁾'s place
    backward   δ⁽ᴸ⁾ = ∇ₒE ⊙ f′(z⁽ᴸ⁾)   (softmax: δ⁽ᴸ⁾ = J_softmaxᵀ ∇ₒE)
               δ⁽ˡ⁾ = (W⁽ˡ⁺¹⁾ᵀ δ⁽ˡ⁺¹⁾) ⊙ f′(z⁽ˡ⁾)   (dropout: ⊙ m⁽ˡ⁾/(1 − p) before f′)
               ∂E/∂W⁽ˡ⁾ = δ⁽ˡ⁾ h⁽ˡ⁻¹⁾ᵀ (an outer product),  ∂E/∂b⁽ˡ⁾ = δ⁽ˡ⁾ (shared bias: 𝟏ᵀ δ⁽ˡ⁾)
    batch      ∂E/∂W⁽ˡ⁾ = (1/B) Σₛ ∂Eₛ/∂W⁽ˡ⁾   (the engine averages over the batch)
    update     W⁽ˡ⁾⁺ = W⁽ˡ⁾ − α ∂E/∂W⁽ˡ⁾   (other optimizers: their rule, elementwise)

Vectors are columns; a batch's samples are the columns of H⁽⁰⁾ = X. Renderers (render/matrix.py,
exports) read these records only. Words shown to the user are the module-level constants below.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from .forms import FOCUS_ERROR, FORM_ERROR, FORMS, check_focus, check_form  # noqa: F401 (the form checks live there)
from .i18n import N_, _
from .notation import E_TOTAL, leaf, partial
from .trace import Iteration, Pass, Product, Sum

MAX_FULL = 6  # a matrix up to 6×6 is written out in full; a larger one is elided in the middle (⋯ ⋮ ⋱)

# words shown to the user (one place, for the translator)
FORWARD_TITLE = N_("Forward pass, matrix form")
BACKWARD_TITLE = N_("Backward step {step}, matrix form")
BATCH_TITLE = N_("Batch gradients, matrix form")
UPDATE_TITLE = N_("Updates, matrix form")
SAMPLE_LABEL = N_(" (sample {sample})")
COLUMNS_NOTE = N_("vectors are columns; in Δ⁽ˡ⁾ and H⁽ˡ⁾ column s is sample s (the batch's samples as columns)")
MEAN_NOTE = N_("the update averages the per-sample gradients over the batch of B = {B}: (1/B) Σₛ")
DROPOUT_NOTE = N_("dropout on layer {l}: p = {p}; m{sup} is the mask (1 kept, 0 dropped)")
SHARED_NOTE = N_("one bias shared by layer {l}: every entry of b{sup} is {name}")
FROZEN_NOTE = N_("{name} is frozen: not updated ({name}⁺ = {name})")
RULE_NOTE = N_("elementwise: {rule}")
LEGEND = N_("entries")

_SUP = str.maketrans("0123456789+-()L", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁽⁾ᴸ")
FUNCS = {"sigmoid": ("σ", r"\sigma"), "tanh": ("tanh", r"\tanh"), "relu": ("relu", r"\operatorname{relu}"),
         "leaky_relu": ("lrelu", r"\operatorname{lrelu}"), "linear": ("id", r"\operatorname{id}"),
         "softmax": ("softmax", r"\operatorname{softmax}")}


@dataclass(frozen=True)
class Cell:
    """One entry: its value and which scalar of the trace it is (a notation.Id; None for a constant)."""

    value: float
    ident: object = None
    given: bool = False  # written by the user (shown as written)


@dataclass(frozen=True)
class Mat:
    """A matrix (a column vector is n×1), named in unicode and LaTeX."""

    sym: str
    tex: str
    rows: tuple[tuple[Cell, ...], ...]
    scalar: bool = False  # a number (α) written as one, not as a [1×1] matrix

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.rows), len(self.rows[0]) if self.rows else 0

    @property
    def shape_text(self) -> str:
        return self.sym if self.scalar else "[{}×{}]".format(*self.shape)

    @property
    def T(self) -> "Mat":
        tex = f"{{{self.tex}}}" if "^" in self.tex else self.tex  # never a double superscript
        return Mat(self.sym + "ᵀ", tex + "^{\\top}", tuple(zip(*self.rows)))

    def values(self) -> list[list[float]]:
        return [[c.value for c in r] for r in self.rows]


@dataclass(frozen=True)
class Op:
    """An operator or bracket between operands: unicode and LaTeX."""

    sym: str
    tex: str
    shape: str | None = None  # in the shape line (default: sym)


@dataclass(frozen=True)
class Equation:
    """lhs = parts (operands and operators in reading order) = result, with its shape line."""

    lhs_sym: str
    lhs_tex: str
    parts: tuple  # Mat | Op
    result: Mat
    note: str = ""

    @property
    def formula(self) -> str:
        return f"{self.lhs_sym} = " + "".join(p.sym if isinstance(p, Op) else p.sym for p in self.parts)

    @property
    def formula_tex(self) -> str:
        return f"{self.lhs_tex} = " + " ".join(p.tex for p in self.parts)

    @property
    def shapes(self) -> str:
        return "".join((p.sym if p.shape is None else p.shape) if isinstance(p, Op) else p.shape_text
                       for p in self.parts) + " = " + self.result.shape_text

    def mats(self) -> list[Mat]:
        return [p for p in self.parts if isinstance(p, Mat)] + [self.result]


@dataclass(frozen=True)
class Section:
    """A titled group of equations, where the scalar tables have the same step."""

    title: str
    equations: tuple[Equation, ...]
    notes: tuple[str, ...] = ()
    kind: str = ""  # forward, backward, batch, update
    sample: int = 0
    step: int = 0  # backward step (1: output layer)


# ---------------------------------------------------------------- names


# front layers (bptrace.front) come first: the dense layers are numbered from their place in [[layers]], as
# their layered names are (W^(4) after three front layers); build sets it for the update it shows
_OFFSET = ContextVar("front_layers", default=0)


def _n(l) -> int:
    """Layer l of the dense part (h⁽⁰⁾ its input) as it is numbered among all the spec's layers."""
    return l + _OFFSET.get()


def sup(l) -> str:
    return f"({_n(l)})".translate(_SUP)


def _v(base: str, l, tex: str | None = None) -> tuple[str, str]:
    """A layer's vector or matrix name: unicode W⁽²⁾, LaTeX W^{(2)} (or the layer where `tex` has @)."""
    tex, n = tex or base, _n(l)
    return f"{base}{sup(l)}", (tex.replace("@", f"^{{({n})}}") if "@" in tex else f"{tex}^{{({n})}}")


MUL, ADD, SUB, HAD = Op(" ", r"\,", "·"), Op(" + ", "+"), Op(" − ", "-"), Op(" ⊙ ", r"\odot")
LP, RP = Op("(", r"\left("), Op(")", r"\right)")


def col(sym: str, tex: str, qs) -> Mat:
    return Mat(sym, tex, tuple((_cell(q),) for q in qs))


def _cell(q) -> Cell:
    return Cell(q.value, q.ident, bool(getattr(q, "given", False)))


# ---------------------------------------------------------------- per sample


def forward_section(p: Pass, label: str = "") -> Section:
    eqs, notes = [], []
    f = p.forward
    h_prev = col(*_v("h", 0), f.inputs)
    for l, layer in enumerate(f.layers, 1):
        W = Mat(*_v("W", l), tuple(tuple(_cell(t.weight) for t in n.terms) for n in layer))
        z = col(*_v("z", l), [n.z for n in layer])
        h = col(*_v("h", l), [n.out for n in layer])
        parts: tuple = (W, MUL, h_prev)
        if layer[0].bias is not None:
            b = col(*_v("b", l), [n.bias for n in layer])
            parts += (ADD, b)
            if len({n.bias.ident for n in layer}) == 1 and len(layer) > 1:
                notes.append(_(SHARED_NOTE).format(l=_n(l), sup=sup(l), name=layer[0].bias.name))
        eqs.append(Equation(z.sym, z.tex, parts, z))
        fs, ft = FUNCS.get(layer[0].activation, (layer[0].activation, rf"\operatorname{{{layer[0].activation}}}"))
        eqs.append(Equation(h.sym, h.tex, (Op(fs + "(", ft + r"\left("), z, Op(")", r"\right)")), h))
        h_prev = h
        if layer[0].dropped is not None:  # dropout: h̃ = m ⊙ h / (1 − p), what the next layer reads
            m = col(*_v("m", l), [n.mask for n in layer])
            h_prev = _dropped(l, layer)
            eqs.append(Equation(h_prev.sym, h_prev.tex, (m, HAD, h, SCALE), h_prev))
            notes.append(_(DROPOUT_NOTE).format(l=_n(l), sup=sup(l), p=f"{p_of(layer):g}"))
    return Section(_(FORWARD_TITLE) + label, tuple(eqs), tuple(notes), "forward", p.sample)


SCALE = Op(" / (1 − p)", r"/ (1 - p)", " / (1 − p)")


def p_of(layer) -> float:
    """A dropout layer's p, as its h̃ = m·h / (1 − p) holds it (the trace's formula: the matrix form reads only
    the trace)."""
    from .expr import Sym

    e = layer[0].dropped.expr  # Op(div, Op(mul, m, h), Op(sub, 1, Sym p))
    sym = e.args[1].args[1]
    return sym.v if isinstance(sym, Sym) else float("nan")


def _dropped(l: int, layer) -> Mat:
    return col(*_v("h̃", l, r"\tilde{h}"), [n.dropped for n in layer])


def backward_sections(p: Pass, label: str = "") -> list[Section]:
    f, out, L = p.forward, [], len(p.forward.layers)
    hs = [col(*_v("h", 0), f.inputs)] + [_dropped(l, layer) if layer[0].dropped is not None else
                                         col(*_v("h", l), [n.out for n in layer]) for l, layer in enumerate(f.layers, 1)]
    for step, lb in enumerate(p.backward, 1):
        l = lb.index + 1  # 1-based layer
        layer = f.layers[lb.index]
        delta = col(*_v("δ", l, r"\delta"), [n.delta for n in lb.neurons])
        eqs = []
        if l == L:
            grad_o = col("∇ₒE", r"\nabla_{o} E", [n.dE_dout for n in lb.neurons])
            if lb.neurons[0].dout_dz is None:  # softmax: J[k][j] = ∂o_k/∂z_j, held by neuron j
                J = Mat("J", "J", tuple(tuple(_cell(n.jacobian[k]) for n in lb.neurons) for k in range(len(lb.neurons))))
                eqs.append(Equation(delta.sym, delta.tex, (J.T, MUL, grad_o), delta))
            else:
                fp = col(f"f′(z{sup(l)})", f"f'(z^{{({_n(l)})}})", [n.dout_dz for n in lb.neurons])
                eqs.append(Equation(delta.sym, delta.tex, (grad_o, HAD, fp), delta))
        else:
            nxt = p.backward[step - 2]  # the layer above, traced just before
            W_next = Mat(*_v("W", l + 1), tuple(tuple(_cell(t.weight) for t in n.terms) for n in f.layers[l]))
            d_next = col(*_v("δ", l + 1, r"\delta"), [n.delta for n in nxt.neurons])
            fp = col(f"f′(z{sup(l)})", f"f'(z^{{({_n(l)})}})", [n.dout_dz for n in lb.neurons])
            keep = ()
            if lb.neurons[0].keep is not None:  # dropout: ∂h̃/∂h = m / (1 − p)
                keep = (HAD, col(f"m{sup(l)}/(1−p)", rf"\frac{{m^{{({_n(l)})}}}}{{1 - p}}", [n.keep for n in lb.neurons]))
            eqs.append(Equation(delta.sym, delta.tex, (LP, W_next.T, MUL, d_next, RP, *keep, HAD, fp), delta))
        eqs += gradient_equations(lb, layer, delta, hs[l - 1], l)
        out.append(Section(_(BACKWARD_TITLE).format(step=step) + label, tuple(eqs), (), "backward", p.sample, step))
    return out


def gradient_equations(lb, layer, delta: Mat, h_prev: Mat, l: int) -> list[Equation]:
    """∂E/∂W⁽ˡ⁾ = δ⁽ˡ⁾ h⁽ˡ⁻¹⁾ᵀ; ∂E/∂b⁽ˡ⁾ = δ⁽ˡ⁾ (a shared bias: 𝟏ᵀ δ⁽ˡ⁾). Entries are the trace's gradients."""
    rows, cols = delta.shape[0], h_prev.shape[0]
    g = {q.ident.by: q for q in lb.gradients}
    gW = Mat(*_v("∂E/∂W", l, r"\frac{\partial E}{\partial W@}"),
             tuple(tuple(_cell(g[leaf("w", l - 1, j, k)]) for k in range(cols)) for j in range(rows)))
    eqs = [Equation(gW.sym, gW.tex, (delta, MUL, h_prev.T), gW)]
    biases = [q for q in lb.gradients if q.ident.by.kind == "b"]
    if biases:
        gb = col(*_v("∂E/∂b", l, r"\frac{\partial E}{\partial b@}"), biases)
        if len(biases) == 1 and rows > 1:  # shared: the sum of the layer's deltas
            ones = Mat("𝟏", r"\mathbf{1}", tuple((Cell(1.0, None, True),) for _row in range(rows)))
            eqs.append(Equation(gb.sym, gb.tex, (ones.T, MUL, delta), gb))
        else:
            eqs.append(Equation(gb.sym, gb.tex, (delta,), gb))
    return eqs


# ---------------------------------------------------------------- the batch and the update


def _param_mats(it: Iteration, l: int, after: bool = False, grad: bool = False):
    """W⁽ˡ⁾ (and b⁽ˡ⁾) as held by the updates: old values, gradients, or new values."""
    by = {u.ident: u for u in it.updates}
    f = it.passes[0].forward.layers[l - 1]
    rows, cols = len(f), len(f[0].terms)

    def cell(u):
        if grad:
            return Cell(u.gradient, partial(E_TOTAL, u.ident))
        return Cell(u.new, u.ident._replace(after=True)) if after else Cell(u.old, u.ident, u.given)

    W = tuple(tuple(cell(by[leaf("w", l - 1, j, k)]) for k in range(cols)) for j in range(rows))
    bs = [u for u in it.updates if u.ident.kind == "b" and u.ident.l == l - 1]
    return W, tuple((cell(u),) for u in bs), bs


def batch_section(it: Iteration) -> Section | None:
    """∂E/∂W⁽ˡ⁾ = (1/B)(∂E₁/∂W⁽ˡ⁾ + … + ∂E_B/∂W⁽ˡ⁾), from each pass's gradients to the update's."""
    B = len(it.passes)
    if B < 2:
        return None
    eqs = []
    for l in range(len(it.passes[0].forward.layers), 0, -1):
        per = []
        for p in it.passes:
            lb = next(b for b in p.backward if b.index == l - 1)
            layer = p.forward.layers[l - 1]
            g = gradient_equations(lb, layer, col("δ", "δ", [n.delta for n in lb.neurons]),
                                   col("h", "h", [t.source for t in layer[0].terms]), l)
            per.append([e.result for e in g])
        W, b, _frozen = _param_mats(it, l, grad=True)
        for i, rows in enumerate((W, b)):
            if not rows:
                continue
            base = "W" if i == 0 else "b"
            parts: list = [Op(f"(1/{B})(", rf"\frac{{1}}{{{B}}}\left(")]
            for s, (m, p) in enumerate(zip(per, it.passes)):  # ∂E_s/∂W: sample s's own gradient
                sym, tex = _v(f"∂E{_sub(p.sample)}/∂{base}", l,
                              rf"\frac{{\partial E_{{{p.sample}}}}}{{\partial {base}@}}")
                parts += [ADD] if s else []
                parts.append(Mat(sym, tex, m[i].rows))
            parts.append(RP)
            res = Mat(*_v(f"∂E/∂{base}", l, rf"\frac{{\partial E}}{{\partial {base}@}}"), rows)
            eqs.append(Equation(res.sym, res.tex, tuple(parts), res))
            eqs.append(columns_equation(it, l, i, res))
    return Section(_(BATCH_TITLE), tuple(eqs), (_(COLUMNS_NOTE), _(MEAN_NOTE).format(B=B)), "batch")


def columns_equation(it: Iteration, l: int, bias: int, res: Mat) -> Equation:
    """The same mean with the samples as columns: ∂E/∂W⁽ˡ⁾ = (1/B) Δ⁽ˡ⁾ H⁽ˡ⁻¹⁾ᵀ, ∂E/∂b⁽ˡ⁾ = (1/B) Δ⁽ˡ⁾ 𝟏
    (a shared bias: (1/B) 𝟏ᵀ Δ⁽ˡ⁾ 𝟏), where column s of Δ⁽ˡ⁾ is sample s's δ⁽ˡ⁾ and of H⁽ˡ⁻¹⁾ its h⁽ˡ⁻¹⁾."""
    B = len(it.passes)
    inv = Mat(f"(1/{B})", rf"\frac{{1}}{{{B}}}", ((Cell(1 / B, None, True),),), True)
    layers = [next(b for b in p.backward if b.index == l - 1) for p in it.passes]
    D = Mat(*_v("Δ", l, r"\Delta"), tuple(zip(*[[_cell(n.delta) for n in lb.neurons] for lb in layers])))
    if bias:
        ones = Mat("𝟏", r"\mathbf{1}", tuple((Cell(1.0, None, True),) for _col in range(B)))
        if res.shape[0] == 1 and D.shape[0] > 1:  # shared: every entry of Δ summed
            up = Mat("𝟏", r"\mathbf{1}", tuple((Cell(1.0, None, True),) for _row in range(D.shape[0])))
            return Equation(res.sym, res.tex, (inv, MUL, up.T, MUL, D, MUL, ones), res)
        return Equation(res.sym, res.tex, (inv, MUL, D, MUL, ones), res)
    sources = [[_cell(t.source) for t in p.forward.layers[l - 1][0].terms] for p in it.passes]
    H = Mat(*_v("H", l - 1), tuple(zip(*sources)))
    return Equation(res.sym, res.tex, (inv, MUL, D, MUL, H.T), res)


_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def _sub(n: int) -> str:
    return str(n).translate(_SUB)


def plain_step(it: Iteration) -> bool:
    """Whether the update is p⁺ = p − α·g (SGD without weight decay, momentum 0), read from the trace's
    rule; otherwise the matrix form writes the optimizer's rule entry by entry."""
    from .expr import Op as Node, Ref

    r = it.rule
    if r is None:
        return it.optimizer == "sgd"
    return (isinstance(r, Node) and r.op == "sub" and isinstance(r.args[1], Node) and r.args[1].op == "mul"
            and isinstance(r.args[1].args[-1], Ref) and r.args[1].args[-1].q.ident.kind == "d")  # α·g, not α·v


def _alpha(it: Iteration, l: int, base: str, alpha: Mat) -> Mat:
    """α of W⁽ˡ⁾ or b⁽ˡ⁾ (0-based l): its parameter group's when it has one, else the iteration's."""
    own = [u.learning_rate for u in it.updates if u.learning_rate is not None and u.ident.l == l
           and u.ident.kind == base.lower()]
    return alpha if not own or own[0] == alpha.rows[0][0].value else Mat("α", r"\alpha", ((Cell(own[0], None, True),),), True)


def update_section(it: Iteration, rule_text: str = "") -> Section:
    """W⁽ˡ⁾⁺ = W⁽ˡ⁾ − α ∂E/∂W⁽ˡ⁾ (sgd); for another optimizer the same matrices and its elementwise rule."""
    eqs, notes = [], []
    alpha = top = Mat("α", r"\alpha", ((Cell(it.learning_rate, None, True),),), True)
    sgd = plain_step(it)
    frozen = {u.ident for u in it.updates if u.frozen}
    for l in range(1, len(it.passes[0].forward.layers) + 1):
        old, new, grad = _param_mats(it, l), _param_mats(it, l, after=True), _param_mats(it, l, grad=True)
        for i, base in enumerate(("W", "b")):
            held = [c.ident in frozen for row in old[i] for c in row]
            if not old[i] or all(held):  # nothing to update (a frozen bias: said in a note)
                continue
            sym, tex = _v(base, l)
            alpha = _alpha(it, l - 1, base, top)
            P = Mat(sym, tex, old[i])
            G = Mat(*_v(f"∂E/∂{base}", l, rf"\frac{{\partial E}}{{\partial {base}@}}"), grad[i])
            R = Mat(sym + "⁺", tex[:-1] + "+}", new[i])  # W^{(1)+}
            parts = (P, SUB, alpha, MUL, G) if sgd and not any(held) else (Op(f"{it.optimizer}(", rf"\operatorname{{{it.optimizer}}}\left("),
                                                        P, Op(", ", ","), G, RP)
            eqs.append(Equation(R.sym, R.tex, parts, R))
        layer = [u for u in it.updates if u.ident.l == l - 1 and u.ident.kind in ("w", "b")]
        notes += [_(FROZEN_NOTE).format(name=u.name) for u in layer if u.frozen]
    if (not sgd or frozen) and rule_text:
        notes.append(_(RULE_NOTE).format(rule=rule_text))
    return Section(_(UPDATE_TITLE), tuple(eqs), tuple(notes), "update")


@dataclass(frozen=True)
class MatrixView:
    """An iteration in matrix form: per sample its forward and backward sections; the batch; the update."""

    passes: tuple[tuple[Section, tuple[Section, ...]], ...]  # (forward, backward steps) per sample
    batch: Section | None
    update: Section

    def sections(self):
        for fwd, back in self.passes:
            yield fwd
            yield from back
        if self.batch is not None:
            yield self.batch
        yield self.update


def build(it: Iteration, rule_text: str = "") -> MatrixView:
    """The matrix form of one traced update."""
    token = _OFFSET.set(getattr(it.names, "offset", 0))
    try:
        many = len(it.passes) > 1
        passes = []
        for p in it.passes:
            label = _(SAMPLE_LABEL).format(sample=p.sample) if many else ""
            passes.append((forward_section(p, label), tuple(backward_sections(p, label))))
        return MatrixView(tuple(passes), batch_section(it), update_section(it, rule_text))
    finally:
        _OFFSET.reset(token)


def legend(eq: Equation, names, style: str = "unicode") -> list[tuple[str, str]]:
    """(matrix entry, scalar) pairs for an equation's named entries, e.g. ('δ⁽²⁾₁', 'δ_o1'); each once."""
    from .notation import name as id_name

    out, seen = [], set()
    for m in eq.mats():
        if m.sym in seen or m.sym in ("𝟏", "α", "𝟏ᵀ"):
            continue
        seen.add(m.sym)
        r, c = m.shape
        if r > MAX_FULL or c > MAX_FULL:  # an elided matrix: its entries are named in the scalar tables
            continue
        for i, row in enumerate(m.rows):
            for j, cell in enumerate(row):
                if cell.ident is None:
                    continue
                if c == 1 or r == 1:  # a vector (or a transposed one): one index
                    idx = _sub((i if c == 1 else j) + 1)
                else:
                    idx = _sub(i + 1) + ("," if max(r, c) > 9 else "") + _sub(j + 1)
                sym = f"[{m.sym}]" if m.sym.endswith(")") else m.sym
                out.append((sym + idx, id_name(cell.ident, names, style)))
    return out


def visible(n: int, limit: int = MAX_FULL) -> list[int | None]:
    """The indices shown of n rows (or columns): all up to `limit`, else the first and last few, None for ⋮/⋯."""
    if n <= limit:
        return list(range(n))
    head = (limit + 1) // 2
    tail = limit - head - 1
    return list(range(head)) + [None] + list(range(n - tail, n))
