"""The matrix form (bptrace.matrix): every entry is the scalar trace's own value (looked up by identity,
sample by sample, and the update's), every equation holds when evaluated with numpy from its operands
(so the shapes chain: numpy's @ refuses a mismatch), and a batch's gradient is the mean of the samples'.
The numpy evaluation is independent of bptrace: it reads only the numbers the matrix form shows."""

import numpy as np
import pytest
from rich.cells import cell_len

import bptrace
from bptrace import matrix as mx
from bptrace.notation import E_TOTAL, partial
from bptrace.trace import pass_items

SHARED = {  # one bias shared per layer, as the classic blog example with b1 = 0.35, b2 = 0.60
    "title": "shared biases", "learning_rate": 0.5,
    "samples": [{"x": [0.05, 0.10], "target": [0.01, 0.99]}, {"x": [0.2, -0.3], "target": [0.5, 0.1]}],
    "layers": [{"activation": "sigmoid", "weights": [[0.15, 0.20], [0.25, 0.30]], "bias": 0.35},
               {"activation": "sigmoid", "weights": [[0.40, 0.45], [0.50, 0.55]], "bias": 0.60}],
}
FROZEN = {**SHARED, "title": "frozen biases", "optimizer": "momentum",
          "layers": [{**SHARED["layers"][0], "bias": [0.1, -0.2], "train_bias": False}, SHARED["layers"][1]]}
DECAY = {**SHARED, "title": "sgd with weight decay", "optimizer": {"name": "sgd", "weight_decay": 0.1}}
CASES = [(DECAY, "online"), ("blog", "online"), ("softmax", "full"), ("softmax", "online"), ("xor", "full"), ("xor", 2),
         ("deep", "online"), ("adam", "online"), (SHARED, "full"), (SHARED, "online"), (FROZEN, "full")]
IDS = [f"{c if isinstance(c, str) else c['title']}-{b}" for c, b in CASES]


def iteration(source, batch):
    return bptrace.trace_at(bptrace.load(source), 1, 1, batch=batch)


def _scalars(p) -> dict:
    """Every scalar of one pass by its Id: inputs, weights, biases, z, h, errors, backward quantities."""
    out = {q.ident: q.value for q in p.forward.inputs}
    for layer in p.forward.layers:
        for n in layer:
            out.update({t.weight.ident: t.weight.value for t in n.terms})
            if n.bias is not None:
                out[n.bias.ident] = n.bias.value
    for _, _, q in pass_items(p):
        out[q.ident] = q.value
    return out


@pytest.mark.parametrize("source,batch", CASES, ids=IDS)
def test_every_entry_is_the_scalar_of_the_same_name(source, batch):
    it = iteration(source, batch)
    view = mx.build(it)
    checked = 0
    for p, (fwd, back) in zip(it.passes, view.passes):
        scalars = _scalars(p)
        for s in (fwd, *back):
            assert s.sample == p.sample
            for eq in s.equations:
                for m in eq.mats():
                    for cell in (c for row in m.rows for c in row if c.ident is not None):
                        assert cell.value == scalars[cell.ident], (s.title, eq.formula, cell.ident)
                        checked += 1
    updates = {}
    for u in it.updates:
        updates[u.ident], updates[u.ident._replace(after=True)] = u.old, u.new
        updates[partial(E_TOTAL, u.ident)] = u.gradient
    for eq in view.update.equations + (view.batch.equations if view.batch else ()):
        for cell in (c for row in eq.result.rows for c in row):
            assert cell.value == updates[cell.ident]
            checked += 1
    assert checked > 20


def _evaluate(eq: mx.Equation):
    """The right-hand side computed with numpy from the operands' numbers only."""
    fns = {"σ(": "(lambda a: 1 / (1 + np.exp(-a)))(", "tanh(": "np.tanh(", "softmax(": "_softmax(",
           "relu(": "np.maximum(0, ", "id(": "(",
           "lrelu(": "(lambda a: np.where(a > 0, a, 0.1 * a))(",  # deep.toml's slope = 0.1
           "(": "(", ")": ")", " ": " @ ", " + ": " + ", " − ": " - ",
           " ⊙ ": " * "}
    env, code = {"np": np, "_softmax": lambda a: np.exp(a) / np.exp(a).sum()}, []
    for n, p in enumerate(eq.parts):
        if isinstance(p, mx.Mat):
            env[f"m{n}"] = p.values()[0][0] if p.scalar else np.array(p.values())
            code.append(f"m{n}")
        elif p.sym.startswith("(1/"):  # (1/B)( … ): the batch mean
            code.append(f"{p.sym[1:p.sym.index(')')]} * (")
        elif p.sym == " " and getattr(eq.parts[n - 1], "scalar", False):  # α ∂E/∂W: a number times a matrix
            code.append(" * ")
        else:
            code.append(fns[p.sym])
    return eval("".join(code), env)


@pytest.mark.parametrize("source,batch", CASES, ids=IDS)
def test_every_equation_holds_and_shapes_chain(source, batch):
    it = iteration(source, batch)
    evaluated = 0
    for s in mx.build(it).sections():
        for eq in s.equations:
            if s.kind == "update" and not isinstance(eq.parts[0], mx.Mat):
                continue  # adam, momentum, weight decay: the values are the trace's (previous test), the rule entrywise
            got = _evaluate(eq)
            want = np.array(eq.result.values())
            assert got.shape == want.shape == eq.result.shape, (s.title, eq.formula)
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15, err_msg=f"{s.title}: {eq.formula}")
            evaluated += 1
            assert eq.shapes.endswith(eq.result.shape_text)
    assert evaluated >= 6


def test_batch_gradient_is_the_mean_of_the_samples_and_says_so():
    it = iteration("xor", "full")
    batch = mx.build(it).batch
    assert "B = 4" in " ".join(batch.notes) and "columns" in " ".join(batch.notes)
    eq = batch.equations[0]
    per = [np.array(p.values()) for p in eq.parts if isinstance(p, mx.Mat)]
    assert len(per) == 4
    np.testing.assert_allclose(sum(per) / 4, np.array(eq.result.values()), rtol=1e-12)
    assert eq.shapes == "(1/4)([1×4] + [1×4] + [1×4] + [1×4]) = [1×4]"


def test_shared_bias_is_one_value_and_its_gradient_sums_the_deltas():
    it = iteration(SHARED, "online")
    fwd, back = mx.build(it).passes[0]
    assert any("shared" in n for n in fwd.notes)
    z1 = fwd.equations[0]
    b = z1.parts[-1]
    assert b.shape == (2, 1) and b.rows[0][0].ident == b.rows[1][0].ident
    gb = [e for e in back[0].equations if e.lhs_sym.startswith("∂E/∂b")][0]
    assert gb.shapes == "[1×2]·[2×1] = [1×1]"


def test_softmax_uses_the_jacobian_transposed():
    it = iteration("softmax", "online")
    _, back = mx.build(it).passes[0]
    assert back[0].equations[0].formula == "δ⁽²⁾ = Jᵀ ∇ₒE"
    assert back[0].equations[0].shapes == "[3×3]·[3×1] = [3×1]"


def test_forward_shape_line_of_the_worked_example():
    fwd, _ = mx.build(bptrace.run("blog").iterations[0]).passes[0]
    assert fwd.equations[0].formula == "z⁽¹⁾ = W⁽¹⁾ h⁽⁰⁾"
    assert fwd.equations[0].shapes == "[2×2]·[2×1] = [2×1]"
    xor, _ = mx.build(iteration("xor", "online")).passes[0]
    assert xor.equations[0].shapes == "[4×2]·[2×1] + [4×1] = [4×1]"


def test_legend_names_each_entry():
    _, back = mx.build(bptrace.run("blog").iterations[0]).passes[0]
    pairs = dict(mx.legend(back[0].equations[0], bptrace.run("blog").names))
    assert pairs["δ⁽²⁾₁"] == "δ_o1" and pairs["δ⁽²⁾₂"] == "δ_o2" and pairs["∇ₒE₁"] == "∂E_total/∂o1"


def test_visible_elides_in_the_middle():
    assert mx.visible(6) == [0, 1, 2, 3, 4, 5]
    assert mx.visible(7) == [0, 1, 2, None, 5, 6]
    assert mx.visible(100, 4) == [0, 1, None, 99]


def test_batch_samples_are_columns():
    """Column s of Δ⁽ˡ⁾ is sample s's δ⁽ˡ⁾, and of H⁽ˡ⁻¹⁾ (written transposed) its h⁽ˡ⁻¹⁾; the per-sample
    gradients are labelled by their sample's number (here a batch of samples 3 and 4)."""
    it = bptrace.trace_at(bptrace.load("xor"), 1, 3, batch=2)  # the batch that holds sample 3: samples 3 and 4
    assert [p.sample for p in it.passes] == [3, 4]
    eqs = mx.build(it).batch.equations
    assert "∂E₃/∂W⁽²⁾ + ∂E₄/∂W⁽²⁾" in eqs[0].formula
    cols = eqs[1]
    assert cols.formula == "∂E/∂W⁽²⁾ = (1/2) Δ⁽²⁾ H⁽¹⁾ᵀ" and cols.shapes == "(1/2)·[1×2]·[2×4] = [1×4]"
    D, HT = cols.parts[2], cols.parts[4]
    for s, p in enumerate(it.passes):
        assert [row[s].value for row in D.rows] == [n.delta.value for n in p.backward[0].neurons]
        assert [c.value for c in HT.rows[s]] == [n.out.value for n in p.forward.layers[0]]


def test_weight_decay_is_not_written_as_plain_sgd():
    """p⁺ = p − α·(g + λp) is not W − α ∂E/∂W: the update is written as the rule, entry by entry."""
    it = iteration(DECAY, "online")
    eq = mx.build(it).update.equations[0]
    assert eq.formula.startswith("W⁽¹⁾⁺ = sgd(") and not mx.plain_step(it)
    assert mx.plain_step(iteration("blog", "online"))
    w, g, new = (np.array(m.values()) for m in (eq.parts[1], eq.parts[3], eq.result))
    np.testing.assert_allclose(new, w - 0.5 * (g + 0.1 * w), rtol=1e-12)  # the rule, worked here
