"""bptrace.walk: the textbook-order walk behind `bptrace explore`, held to the worked example's published
numbers (conftest.PUBLISHED) and to the chain rule worked out here by hand."""

import pytest

import bptrace
from bptrace import walk
from bptrace.errors import UsageError
from conftest import PUBLISHED


@pytest.fixture(scope="module")
def blog():
    t = bptrace.run()
    return t, walk.steps(t)


# The worked example's order, counted by hand: the forward pass is z1 z2 h1 h2 z3 z4 o1 o2 (8), the errors
# E_o1 E_o2 E_total (3); the backward pass starts with each output neuron's ∂E_total/∂o, ∂o/∂z, δ (2 × 3),
# then the first weight gradient's own factor ∂z3/∂w5 and ∂E_total/∂w5 itself.
FORWARD = ["z1", "z2", "h1", "h2", "z3", "z4", "o1", "o2"]
ERRORS = ["E_o1", "E_o2", "E_total"]
OUTPUT_NEURONS = ["dE_total/do1", "do1/dz3", "delta_o1", "dE_total/do2", "do2/dz4", "delta_o2"]
W5_PLACE = len(FORWARD) + len(ERRORS) + len(OUTPUT_NEURONS) + 1  # after ∂z3/∂w5

# ∂E_total/∂w1 = ∂E_total/∂h1 · ∂h1/∂z1 · ∂z1/∂w1, with ∂E_total/∂h1 = ∂E_o1/∂h1 + ∂E_o2/∂h1 and
# ∂E_ok/∂h1 = δ_ok · w(h1→ok), δ_ok = ∂E_total/∂ok · ∂ok/∂z: every backward quantity w1's update reads,
# in the order the walk computes them (output neurons first), then w1⁺ itself.
W1_CHAIN = OUTPUT_NEURONS + ["dE_o1/dh1", "dE_o2/dh1", "dE_total/dh1", "dh1/dz1", "dz1/dw1", "dE_total/dw1", "w1+"]


def test_the_walk_starts_with_z1_and_follows_the_textbook(blog):
    t, steps = blog
    assert [s.key for s in steps[:W5_PLACE - 1]] == FORWARD + ERRORS + OUTPUT_NEURONS
    assert steps[0].key == "z1" and walk.value(steps[0]) == pytest.approx(0.08, abs=1e-12)
    assert walk.value(steps[0]) == pytest.approx(0.3 * 0.1 + 0.25 * 0.2, abs=1e-15)  # w1·x1 + w2·x2


def test_dE_total_dw5_is_at_its_place_with_the_published_number(blog):
    t, steps = blog
    s = steps[W5_PLACE]
    assert s.key == "dE_total/dw5"
    assert walk.value(s) == pytest.approx(PUBLISHED["dE_total/dw5"], abs=5e-9)
    eq = walk.equation(s, t.iterations[0], t.spec, t.names)
    assert eq.name == "∂E_total/∂w5" and eq.formula == "∂E_total/∂o1 × ∂o1/∂z3 × ∂z3/∂w5"
    assert eq.result == "0.02592286"


def test_every_published_number_appears_once_in_the_walk(blog):
    t, steps = blog
    values = {s.key: walk.value(s) for s in steps}
    assert len(values) == len(steps)  # each quantity once
    assert {k: values[k] for k in PUBLISHED} == {k: pytest.approx(v, abs=5e-9) for k, v in PUBLISHED.items()}


def test_focus_w1_is_exactly_its_chain_in_order(blog):
    t, steps = blog
    chain = walk.focus(steps, "w1")
    assert [s.key for s in chain] == W1_CHAIN
    assert [s.key for s in walk.focus(steps, "∂E_total/∂w1")] == W1_CHAIN  # the gradient names the same chain
    # w5's chain: ∂E_total/∂w5 = ∂E_total/∂o1 · ∂o1/∂z3 · ∂z3/∂w5, nothing of the hidden layer
    assert [s.key for s in walk.focus(steps, "w5⁺")] == ["dE_total/do1", "do1/dz3", "dz3/dw5", "dE_total/dw5", "w5+"]


def test_focus_on_something_not_a_parameter_names_the_parameters(blog):
    _, steps = blog
    with pytest.raises(UsageError, match=r"focus 'z1': no such parameter .*w1, w2, .*w8"):
        walk.focus(steps, "z1")


@pytest.mark.parametrize("text, expected", [
    ("w5⁺", "w5+"), ("w5+", "w5+"), ("w5^+", "w5+"), ("dE_total/dw5", "dE_total/dw5"),
    ("∂E_total/∂w5", "dE_total/dw5"), ("delta_o1", "delta_o1"), ("δ_o1", "delta_o1"),
    ("W^(2)_11+", "w5+"),  # the layered name of w5⁺ (layer 2, neuron 1, source 1)
    ("∂E_total/∂W^(2)_11", "dE_total/dw5"), ("E_total+", "E_total+"),
    ("w5", "z3"), ("x1", "z1"),  # a given value: the first step that reads it
])
def test_find_accepts_every_name_check_accepts(blog, text, expected):
    t, steps = blog
    it = t.iterations[0]
    assert steps[walk.find(steps, text, it, walk.names_for(t.spec, it))].key == expected


def test_find_of_an_unknown_name_is_a_usage_error(blog):
    _, steps = blog
    with pytest.raises(UsageError, match="'q9': no such quantity"):
        walk.find(steps, "q9")


def test_used_for_lists_the_later_steps_that_read_it(blog):
    _, steps = blog
    # δ_o1 feeds ∂E_total/∂w5 and ∂E_total/∂w6 (δ_o1·h1, δ_o1·h2) and the hidden layer's ∂E_o1/∂h1, ∂E_o1/∂h2
    i = [s.key for s in steps].index("delta_o1")
    assert {s.key for s in walk.used_for(steps, i)} == {"dE_total/dw5", "dE_total/dw6", "dE_o1/dh1", "dE_o1/dh2"}


def test_next_iteration_starts_from_the_updated_weights(blog):
    t, _ = blog
    it2 = walk.next_iteration(t.spec, t.iterations[0])
    assert it2.step == 2
    # z1 of the second update is z1⁺ of the first: w1⁺·x1 + w2⁺·x2 with the published w1⁺, w2⁺
    z1 = walk.value(walk.steps(it2)[0])
    assert z1 == pytest.approx(PUBLISHED["w1+"] * 0.1 + PUBLISHED["w2+"] * 0.2, abs=1e-8)
    assert z1 == pytest.approx(PUBLISHED["z1+"], abs=5e-9)


def test_next_iteration_with_several_samples_goes_through_the_epoch():
    spec = bptrace.load("xor")
    it = bptrace.run(spec).iterations[0]
    seen = []
    for _ in range(4):
        it = walk.next_iteration(spec, it)
        seen.append((it.epoch, it.step, it.passes[0].sample))
    assert seen == [(1, 2, 2), (1, 3, 3), (1, 4, 4), (2, 5, 1)]


# ------------------------------------------------------------------ run --focus: the same chain, without a UI

def test_run_focus_w1_prints_the_chain_and_only_w1s_gradient_and_update(runner):
    from bptrace.cli import app

    result = runner.invoke(app, ["run", "--focus", "w1", "--no-formulas"])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split()[-1] for line in result.output.splitlines() if len(line.split()) >= 2}
    assert float(rows["∂E_total/∂w1"]) == pytest.approx(PUBLISHED["dE_total/dw1"], abs=5e-9)
    for k in ("dE_total/do1", "dE_o1/dh1", "dE_o2/dh1", "dE_total/dh1", "dh1/dz1"):  # its chain, as published
        assert float(rows[k.replace("d", "∂").replace("∂elta", "δ")]) == pytest.approx(PUBLISHED[k], abs=5e-9)
    assert float(rows["w1"]) == pytest.approx(PUBLISHED["w1+"], abs=5e-9)  # the update row: old, gradient, new
    for other in ("∂E_total/∂w5", "∂E_total/∂w2", "∂E_total/∂w4", "w5", "w2"):
        assert other not in rows, other


def test_run_focus_reaches_every_export(runner, tmp_path):
    import json

    from bptrace.cli import app

    paths = [tmp_path / f"f.{ext}" for ext in ("json", "md", "tex", "html")]
    result = runner.invoke(app, ["run", "--focus", "∂E_total/∂w5", *sum((["-o", str(p)] for p in paths), [])])
    assert result.exit_code == 0, result.output
    data = json.loads(paths[0].read_text())
    names = set(data["quantities"])
    assert "dE_total/dw5" in names and not {"dE_total/dw1", "dE_total/dw6", "w6+"} & names
    md = paths[1].read_text()
    assert r"\partial w_{5}}" in md and r"\partial w_{6}}" not in md  # LaTeX names
    assert f'"w5 = {PUBLISHED["w5+"]:.8f}"' in md and '"w6 = 0.4"' in md  # the diagram after: w6 not updated here


def test_run_focus_on_no_parameter_is_one_line_and_exit_2(runner):
    from bptrace.cli import app

    result = runner.invoke(app, ["run", "--focus", "z1"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: --focus 'z1': no such parameter is updated (parameters: w1, w2, w3, w4, w5, w6, w7, w8)"]


# ------------------------------------------------------------------ a batch: each sample's pass, then the mean step

def test_a_full_batch_walks_each_samples_pass_then_the_mean_update():
    spec = bptrace.load("xor")
    it = walk.first_iteration(spec, batch="full")
    steps = walk.steps(it)
    starts = [(s.key, s.sample) for s in steps if s.key.startswith("z1@")]
    assert starts == [("z1@1", 1), ("z1@2", 2), ("z1@3", 3), ("z1@4", 4)]  # every sample's pass, in order
    samples = [s.sample for s in steps if s.phase in ("forward", "loss", "backward")]
    assert samples == sorted(samples)
    # the update reads every sample's gradient: w1⁺ = w1 − α·mean(∂E_total/∂w1 over the four samples)
    grads = [walk.value(s) for s in steps if s.key.startswith("dE_total/dw1@")]
    w1_plus = next(s for s in steps if s.key == "w1+")
    w1 = spec.layers[0].weights[0][0]
    assert len(grads) == 4
    assert walk.value(w1_plus) == pytest.approx(w1 - spec.learning_rate * sum(grads) / 4, abs=1e-12)
    i = [s.key for s in steps].index("dE_total/dw1@2")
    assert [s.key for s in walk.used_for(steps, i)] == ["w1+"]  # not sample 3's steps, which are named alike
    assert steps[walk.find(steps, "z1")].key == "z1@1" and steps[walk.find(steps, "z1@3")].sample == 3
    assert steps[walk.find(steps, "x1", it)].key == "z1@1" and steps[walk.find(steps, "x2@4", it)].key == "z1@4"
    assert walk.next_iteration(spec, it, batch="full").step == 2
