"""Textbook rounding in `check` (issue 12, item 3): answers that are right for a calculation that rounds
along the way are recognised, and `--round N` grades against such a calculation."""

import math
from decimal import ROUND_HALF_UP, Decimal

from bptrace.cli import app
from conftest import SAMPLES


def r(v: float, n: int) -> float:
    """Rounded half up, as by hand."""
    return float(Decimal(repr(v)).quantize(Decimal(1).scaleb(-n), ROUND_HALF_UP))


def sig(z):
    return 1 / (1 + math.exp(-z))


def blog_by_hand(n: int) -> dict[str, float]:
    """The worked example by hand, every computed value rounded to n decimals before it is used."""
    x, t, a = (0.1, 0.2), (0.4, 0.6), 0.5
    w = {"w1": 0.3, "w2": 0.25, "w3": 0.4, "w4": 0.35, "w5": 0.45, "w6": 0.4, "w7": 0.7, "w8": 0.6}
    v = {}
    v["z1"] = r(w["w1"] * x[0] + w["w2"] * x[1], n)
    v["z2"] = r(w["w3"] * x[0] + w["w4"] * x[1], n)
    v["h1"], v["h2"] = r(sig(v["z1"]), n), r(sig(v["z2"]), n)
    v["z3"] = r(w["w5"] * v["h1"] + w["w6"] * v["h2"], n)
    v["z4"] = r(w["w7"] * v["h1"] + w["w8"] * v["h2"], n)
    v["o1"], v["o2"] = r(sig(v["z3"]), n), r(sig(v["z4"]), n)
    for k, o in ((1, "o1"), (2, "o2")):
        v[f"dE_total/d{o}"] = r(-(t[k - 1] - v[o]), n)
        v[f"d{o}/dz{k + 2}"] = r(v[o] * (1 - v[o]), n)
        v[f"delta_{o}"] = r(v[f"dE_total/d{o}"] * v[f"d{o}/dz{k + 2}"], n)
    v["dE_total/dw5"] = r(v["dE_total/do1"] * v["do1/dz3"] * v["h1"], n)
    v["dE_o1/dh1"], v["dE_o2/dh1"] = r(v["delta_o1"] * w["w5"], n), r(v["delta_o2"] * w["w7"], n)
    v["dE_total/dh1"] = r(v["dE_o1/dh1"] + v["dE_o2/dh1"], n)
    v["dh1/dz1"] = r(v["h1"] * (1 - v["h1"]), n)
    v["dE_total/dw1"] = r(v["dE_total/dh1"] * v["dh1/dz1"] * x[0], n)
    v["w5+"] = r(w["w5"] - a * v["dE_total/dw5"], n)
    v["w1+"] = r(w["w1"] - a * v["dE_total/dw1"], n)
    return v


def invoke(runner, tmp_path, text, *args, spec="blog"):
    path = tmp_path / "answers.toml"
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["check", spec, str(path), *args])
    return result, " ".join(result.output.split())


def test_the_textbook_s_rounded_numbers_all_hold(runner):
    result = runner.invoke(app, ["check", str(SAMPLES / "han-kamber.toml"), str(SAMPLES / "han-kamber-answers.toml")])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    # the book's Err6 = 0.474(1 − 0.474)(1 − 0.474) = 0.1311 from its rounded o1; unrounded it is 0.1312
    o = sig(-0.3 * sig(-0.7) - 0.2 * sig(0.1) + 0.1)
    assert round(o * (1 - o) * (1 - o), 4) == 0.1312 and round(0.474 * 0.526 * 0.526, 4) == 0.1311
    assert "δ_o1 = -0.1311 holds when computed from your rounded o1 = 0.474" in text
    assert "20 of 20 claims hold" in text


def test_a_calculation_rounded_to_4_decimals_is_recognised(runner, tmp_path):
    by_hand, exact = blog_by_hand(4), blog_by_hand(17)
    drifted = [k for k in by_hand if r(exact[k], 4) != by_hand[k]]
    assert drifted, "the 4-decimal calculation drifts somewhere"
    name = drifted[-1]
    result, text = invoke(runner, tmp_path, f'"{name}" = {by_hand[name]:.4f}\n')
    assert result.exit_code == 0, result.output
    assert "holds if intermediates are rounded to 4 decimals" in text


def test_round_option_grades_against_the_rounded_calculation(runner, tmp_path):
    by_hand = blog_by_hand(4)
    answers = "".join(f'"{k}" = {v:.4f}\n' for k, v in by_hand.items())
    result, text = invoke(runner, tmp_path, answers, "--round", "4")
    assert result.exit_code == 0, result.output
    assert f"{len(by_hand)} of {len(by_hand)} claims hold" in text
    assert "every computed value rounded to 4 decimals" in text
    assert "≈" not in text  # each value is the rounded calculation's own


def test_rounding_does_not_excuse_a_real_mistake(runner, tmp_path):
    by_hand = blog_by_hand(4)
    result, text = invoke(runner, tmp_path, f'h1 = {by_hand["h1"]:.4f}\n"dE_total/dw5" = 0.0300\n')
    assert result.exit_code == 1
    assert "≈" not in text


def test_run_round_rounds_every_computed_value_before_it_is_used(runner):
    import json

    result = runner.invoke(app, ["run", "--round", "4", "--export", "-", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["spec"]["title"].endswith("(every computed value rounded to 4 decimals)")
    it = data["iterations"][0]
    p = it["passes"][0]
    got = {**p["forward"], **p["loss"], **p["backward"], **{f"{k}+": u["new"] for k, u in it["update"].items()}}
    by_hand = blog_by_hand(4)
    assert {k: got[k] for k in by_hand} == by_hand


def test_run_round_shows_the_rounded_decimals_and_refuses_adam(runner):
    result = runner.invoke(app, ["run", "--round", "3"])
    assert result.exit_code == 0 and "rounded to 3 decimals" in " ".join(result.output.split())
    assert " 0.520 " in result.output  # h1, shown to the 3 decimals kept
    adam = runner.invoke(app, ["run", "adam", "--round", "3"])
    assert adam.exit_code == 2 and adam.stderr.startswith("error: --round: textbook rounding follows plain")
