"""docs/convolution.md: every number of the worked sample (samples/cnn.toml, its first update: sample 1,
online SGD) computed here in plain Python from the spec's numbers, by the textbook formulas (loops, no
numpy, no bptrace), then looked up in the page; and the same numbers from bptrace's front layers."""

import math
import re
import tomllib

import numpy as np
import pytest

from conftest import ROOT
from front_support import chain, run, back, values

SAMPLE = tomllib.loads((ROOT / "samples" / "cnn.toml").read_text())
PAGE = (ROOT / "docs" / "convolution.md").read_text()


def by_hand() -> dict:
    """The first update of samples/cnn.toml (sample 1, the vertical bar), named as the page names it."""
    x, t = SAMPLE["samples"][0]["x"], SAMPLE["samples"][0]["target"]
    conv, dense = SAMPLE["layers"][0], SAMPLE["layers"][3]
    k, c, W, b, lr = conv["kernel"], conv["bias"], dense["weights"], dense["bias"], SAMPLE["learning_rate"]
    n = {}
    # u_ij = Σ_ab k_ab·x_(i+a)(j+b) + c;  v = relu(u)
    u = [[sum(k[a][bb] * x[i + a][j + bb] for a in range(2) for bb in range(2)) + c for j in range(3)] for i in range(3)]
    v = [[max(0.0, u[i][j]) for j in range(3)] for i in range(3)]
    # P_ij = max of the 2×2 window at (i, j) (stride 1); the winner is the first maximum
    P, win = [[0.0] * 2 for _ in range(2)], {}
    for i in range(2):
        for j in range(2):
            cells = [(i + a, j + bb) for a in range(2) for bb in range(2)]
            best = max(cells, key=lambda ab: (v[ab[0]][ab[1]], -cells.index(ab)))
            P[i][j], win[(i, j)] = v[best[0]][best[1]], best
    f = [P[0][0], P[0][1], P[1][0], P[1][1]]
    z = [sum(W[m][j] * f[j] for j in range(4)) + b[m] for m in range(2)]
    e = [math.exp(zm) for zm in z]
    o = [em / sum(e) for em in e]
    E = -sum(tm * math.log(om) for tm, om in zip(t, o))
    d_o = [om - tm for om, tm in zip(o, t)]  # softmax + cross-entropy: ∂E/∂z = o − target
    dW = [[d_o[m] * f[j] for j in range(4)] for m in range(2)]
    df = [sum(d_o[m] * W[m][j] for m in range(2)) for j in range(4)]
    dP = [[df[0], df[1]], [df[2], df[3]]]
    dv = [[0.0] * 3 for _ in range(3)]
    for (i, j), (a, bb) in win.items():  # each window's ∂E/∂P goes to its maximum
        dv[a][bb] += dP[i][j]
    du = [[dv[i][j] * (1.0 if u[i][j] > 0 else 0.0) for j in range(3)] for i in range(3)]
    dk = [[sum(du[i][j] * x[i + a][j + bb] for i in range(3) for j in range(3)) for bb in range(2)] for a in range(2)]
    dc = sum(du[i][j] for i in range(3) for j in range(3))
    for i in range(3):
        for j in range(3):
            n[f"u_{i + 1}{j + 1}"], n[f"v_{i + 1}{j + 1}"] = u[i][j], v[i][j]
            n[f"dE_total/dv_{i + 1}{j + 1}"], n[f"dE_total/du_{i + 1}{j + 1}"] = dv[i][j], du[i][j]
    for i in range(2):
        for j in range(2):
            n[f"P_{i + 1}{j + 1}"], n[f"dE_total/dP_{i + 1}{j + 1}"] = P[i][j], dP[i][j]
            n[f"dE_total/dk_{i + 1}{j + 1}"] = dk[i][j]
            n[f"k_{i + 1}{j + 1}+"] = k[i][j] - lr * dk[i][j]
    for m in range(2):
        n[f"z{m + 1}"], n[f"o{m + 1}"], n[f"delta_o{m + 1}"] = z[m], o[m], d_o[m]
    for j in range(4):
        n[f"f{j + 1}"], n[f"dE_total/df{j + 1}"] = f[j], df[j]
    for m in range(2):
        for j in range(4):  # w1..w4 into o1, w5..w8 into o2
            n[f"dE_total/dw{4 * m + j + 1}"], n[f"w{4 * m + j + 1}+"] = dW[m][j], W[m][j] - lr * dW[m][j]
    for i in range(3):
        for j in range(3):  # the terms of ∂E/∂k_12: δ_ij · x_i(j+1)
            n[f"dE_total/dk_12 via u_{i + 1}{j + 1}"] = du[i][j] * x[i][j + 1]
    n.update({"E_total": E, "dE_total/dc1": dc, "c1+": c - lr * dc, "win": win})
    return n


def winners(sample: int) -> dict:
    """Which v wins each max-pool window, for another sample (the page's remark on sample 2)."""
    x, k, c = SAMPLE["samples"][sample]["x"], SAMPLE["layers"][0]["kernel"], SAMPLE["layers"][0]["bias"]
    v = [[max(0.0, sum(k[a][b] * x[i + a][j + b] for a in range(2) for b in range(2)) + c) for j in range(3)]
         for i in range(3)]
    out = {}
    for i in range(2):
        for j in range(2):
            cells = [(i + a, j + b) for a in range(2) for b in range(2)]
            out[(i, j)] = max(cells, key=lambda ab: (v[ab[0]][ab[1]], -cells.index(ab)))
    return out


def shown(v: float) -> str:
    """A number as the page writes it: 8 decimals, trailing zeros dropped, a Unicode minus."""
    s = f"{v:.8f}".rstrip("0").rstrip(".")
    s = "0" if s in ("-0", "") else s
    return s.replace("-", "−")


def _ascii(line: str) -> str:
    return line.replace("∂", "d").replace("δ", "delta").replace("⁺", "+")


def _joined(page: str) -> list[str]:
    """The page's lines, a line that starts with "=" joined to the one before (a long equation, continued)."""
    out = []
    for line in page.splitlines():
        if line.strip().startswith("= ") and out:
            out[-1] += " " + line.strip()
        else:
            out.append(line)
    return out


def test_every_named_number_on_the_page_is_the_one_worked_out_here():
    hand, checked = by_hand(), 0
    for line in _joined(PAGE):
        # "name = … = number" (several per line, separated by 3+ spaces)
        for part in re.split(r"\s{3,}", _ascii(line).strip()):
            m = re.match(r"^(\S+(?: via \S+)?) = .*?(?<![\w.])(−?\d+(?:\.\d+)?)$", part)
            if not m or m.group(1) not in hand:
                continue
            name, number = m.groups()
            assert number == shown(hand[name]), (name, number, shown(hand[name]))
            checked += 1
    assert checked >= 40, checked


def test_every_number_in_the_worked_blocks_is_accounted_for():
    """Each number in the page's indented blocks is an input, a parameter or a value worked out here."""
    hand = by_hand()
    spec_numbers = [v for s in SAMPLE["samples"] for row in s["x"] for v in row]
    spec_numbers += [v for row in SAMPLE["layers"][0]["kernel"] for v in row] + [SAMPLE["layers"][0]["bias"]]
    spec_numbers += [v for row in SAMPLE["layers"][3]["weights"] for v in row] + [SAMPLE["learning_rate"], 1, 4]
    allowed = {shown(v) for v in spec_numbers} | {shown(v) for v in hand.values() if isinstance(v, float)}
    blocks = [line for line in PAGE.splitlines() if line.startswith("    ")]
    assert len(blocks) > 40
    for line in blocks:
        for number in re.findall(r"(?<![\w.])−?\d+(?:\.\d+)?(?![\w.])", line):
            assert number.lstrip("−") in allowed or number in allowed, (number, line)


def test_the_page_names_each_winner():
    win = by_hand()["win"]
    for (i, j), (a, b) in win.items():
        assert f"P_{i + 1}{j + 1} = v_{a + 1}{b + 1}" in PAGE
    two = winners(1)  # "sample 2 has such a v: v_12 wins P_11 and P_12"
    assert two[(0, 0)] == two[(0, 1)] == (0, 1) and "v_12 wins P_11 and P_12" in PAGE


def test_bptrace_front_layers_give_the_same_numbers():
    """The hand numbers again, from the front layers' numpy (the dense part is the test's own)."""
    hand = by_hand()
    layers = chain([{k: v for k, v in t.items()} for t in SAMPLE["layers"][:3]], (4, 4))
    x = np.array(SAMPLE["samples"][0]["x"])[None, None]
    Y, caches = run(layers, x)
    assert Y[0].tolist() == pytest.approx([hand[f"f{j}"] for j in range(1, 5)], rel=1e-12)
    dF = np.array([[hand[f"dE_total/df{j}"] for j in range(1, 5)]])
    dX, grads = back(layers, caches, dF)
    assert grads[0][0].ravel().tolist() == pytest.approx([hand[f"dE_total/dk_{a}{b}"] for a in (1, 2) for b in (1, 2)],
                                                         rel=1e-12)
    assert grads[0][1][0] == pytest.approx(hand["dE_total/dc1"], rel=1e-12)
    assert caches[0][1][0, 0].ravel().tolist() == pytest.approx([hand[f"u_{i}{j}"] for i in (1, 2, 3) for j in (1, 2, 3)],
                                                                rel=1e-12)
