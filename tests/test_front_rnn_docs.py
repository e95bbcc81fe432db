"""docs/recurrent.md: every number of the worked sample, computed independently with PyTorch float64
autograd (retain_grad on each step's r_t and s_t), appears on the page, and every 8-decimal number on the
page is one of them."""

import math
import re

import numpy as np
import pytest

from conftest import ROOT

PAGE = (ROOT / "docs" / "recurrent.md").read_text(encoding="utf-8")
U0, W0, V0, X, TARGET, ALPHA = [[0.5], [-0.4]], [[0.3, -0.2], [0.1, 0.4]], [[0.6, -0.5]], [0.1, 0.4, 0.8], 1.0, 0.5


def unrolled(torch, U, W, V, keep=None):
    """o1 of the sample: s_t = tanh(U x_t + W s_{t−1}), s_0 = 0; o1 = σ(V s_3). keep: a list for (r_t, s_t)."""
    s = torch.zeros(2, dtype=torch.float64)
    for x in X:
        r = U[:, 0] * x + W @ s
        s = torch.tanh(r)
        if keep is not None:
            r.retain_grad(), s.retain_grad()
            keep.append((r, s))
    return torch.sigmoid(V @ s)[0]


def numbers():
    """Every value the page shows, by a label (the label only helps a failing test say which)."""
    torch = pytest.importorskip("torch")
    U, W, V = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (U0, W0, V0))
    return {k: float(v) for k, v in _values(torch, U, W, V).items()}


def _values(torch, U, W, V):
    steps = []
    o = unrolled(torch, U, W, V, steps)
    o.retain_grad()
    E = 0.5 * (TARGET - o) ** 2
    E.backward()
    out = {"o1": o, "E_total": E, "dE/do1": o.grad, "do1/dz1": o * (1 - o), "delta_o1": o.grad * o * (1 - o)}
    out["z1"] = torch.logit(o)
    s_prev = torch.zeros(2, dtype=torch.float64)
    for t, (r, s) in enumerate(steps, 1):
        for j in range(2):
            out[f"r_{t}{j + 1}"], out[f"s_{t}{j + 1}"] = r[j], s[j]
            out[f"ds_{t}{j + 1}/dr"] = 1 - s[j] ** 2
            out[f"delta_{t}{j + 1}"] = r.grad[j]
            out[f"dE/ds_{t}{j + 1}"] = s.grad[j]
            for m in range(2):  # the terms of ∂E/∂s_{t−1},m (s_0 is given: not shown) and of ∂E/∂W_jm
                if t > 1:
                    out[f"dE/ds_{t - 1}{m + 1} via r_{t}{j + 1}"] = r.grad[j] * W[j, m]
                out[f"dE/dW_{j + 1}{m + 1} via r_{t}{j + 1}"] = r.grad[j] * s_prev[m]
            out[f"dE/dU_{j + 1}1 via r_{t}{j + 1}"] = r.grad[j] * X[t - 1]
        out[f"g{t}"] = s.grad.norm()
        s_prev = s
    for name, p in (("U", U), ("W", W), ("w", V)):
        for idx in np.ndindex(*p.shape):
            key = f"{name}_{''.join(str(i + 1) for i in idx)}"
            out[f"dE/d{key}"], out[f"{key}+"] = p.grad[idx], p[idx] - ALPHA * p.grad[idx]
    with torch.no_grad():
        o_after = unrolled(torch, *(p - ALPHA * p.grad for p in (U, W, V)))
    out["o1+"], out["E_total+"] = o_after, 0.5 * (TARGET - o_after) ** 2
    sigma = float(np.linalg.svd(np.array(W0), compute_uv=False)[0])
    out["sigma_max(W)"] = sigma
    g = [s.grad.norm() for _, s in steps]
    out["g2/g3"], out["g1/g2"] = g[1] / g[2], g[0] / g[1]
    return {k: v.detach() if hasattr(v, "detach") else v for k, v in out.items()}


GIVEN_DIGITS = ("r_11", "r_12")  # 0.05 and −0.04: written with their own digits (test_the_first_step…)


def shown(v: float) -> str:
    """As the page writes a number: 8 decimals, a Unicode minus; exactly 0 as 0."""
    text = f"{v:.8f}"
    return "0" if float(text) == 0 else text.replace("-", "−")


def test_every_number_of_the_sample_is_on_the_page():
    missing = {k: shown(v) for k, v in numbers().items()
               if shown(v) != "0" and shown(v) not in PAGE and k not in GIVEN_DIGITS}
    assert not missing


def test_every_eight_decimal_number_on_the_page_is_checked():
    known = {shown(v) for v in numbers().values()}
    known |= {k.lstrip("−") for k in known}  # a − b: the regex reads b without its sign
    on_page = set(re.findall(r"−?\d+\.\d{8}\b", PAGE))
    assert on_page and on_page <= known, sorted(on_page - known)


def test_the_first_step_and_the_small_claims():
    n = numbers()
    assert n["r_11"] == pytest.approx(0.05) and n["r_12"] == pytest.approx(-0.04)
    assert "r_11 = U_11·x1 + W_11·s_01 + W_12·s_02 = 0.5×0.1 + 0.3×0 + (−0.2)×0 = 0.05" in PAGE
    assert n["dE/dW_12 via r_11"] == 0 and n["dE/dW_12 via r_31"] / n["dE/dW_12"] == pytest.approx(0.96, abs=0.005)
    assert "gives 96% of the sum" in PAGE
    assert n["g1"] < n["g2"] < n["g3"] and max(n["g2/g3"], n["g1/g2"]) <= n["sigma_max(W)"] <= 0.4515
    assert n["sigma_max(W)"] ** 30 == pytest.approx(4e-11, rel=0.1) and "≈ 4×10⁻¹¹" in PAGE


def test_the_spec_keys_table_names_every_key():
    from bptrace.front import rnn

    table = PAGE.split("### The spec keys")[1].split("\n\n")[1]
    assert [re.match(r"\| `(\w+)`", line).group(1) for line in table.splitlines()[2:]] == list(rnn.KEYS)


def test_the_sample_on_the_page_is_the_sample():
    import tomllib

    spec = tomllib.loads((ROOT / "samples" / "rnn.toml").read_text(encoding="utf-8"))
    rnn_table, dense = spec["layers"]
    assert (rnn_table["input_weights"], rnn_table["recurrent_weights"], dense["weights"]) == (U0, W0, V0)
    assert spec["samples"][0] == {"x": X, "target": [TARGET]} and spec["learning_rate"] == ALPHA
    assert spec["loss"] == "half_sse" and "bias" not in rnn_table and "h0" not in rnn_table
    assert math.isclose(numbers()["E_total"], 0.5 * (1 - numbers()["o1"]) ** 2)
