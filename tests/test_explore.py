"""`bptrace explore`, driven headless with Textual's pilot (App.run_test): keys pressed, the screen read back.

Expected numbers are the worked example's published ones (conftest.PUBLISHED) or worked out here; the
order of the walk is the textbook's, counted by hand in tests/test_walk_lib.py."""

import asyncio
import subprocess
import sys

import pytest

import bptrace
from bptrace.cli import app as cli
from conftest import PUBLISHED, ROOT, numbers_in
from test_walk_lib import W1_CHAIN, W5_PLACE

pytest.importorskip("textual")
from bptrace.explore import Explorer  # noqa: E402


def screen(app) -> str:
    """The whole screen as text, as the terminal shows it."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def step_text(app) -> str:
    """The step panel: from the phase title down to 'used next for'."""
    lines = screen(app).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("─"))
    return "\n".join(line.strip() for line in lines[start + 1:-1]).strip()


def explore(keys_then_check, source=None, size=(80, 24), naming=None):
    """Run the app on `source`; `keys_then_check(app, pilot)` is an async function doing the rest."""
    spec = bptrace.load(source)
    app = Explorer(spec, bptrace.run(spec, naming=naming), 8, naming)

    async def go():
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await keys_then_check(app, pilot)
    asyncio.run(go())
    return app


async def type_in(pilot, *keys: str) -> None:
    await pilot.press(*keys)
    await pilot.pause()


def result_of(text: str) -> float:
    """The step's result: the last number of its equation (the line before 'used next for')."""
    eq = [line for line in text.splitlines() if line.lstrip().startswith(("=", "∂", "δ", "z", "w", "E"))]
    return numbers_in(eq[-1])[-1]


def test_the_first_step_is_z1_with_0_08():
    async def check(app, pilot):
        text = step_text(app)
        assert text.splitlines()[0] == "Forward pass"
        assert "z1 = w1·x1 + w2·x2" in text and "= 0.3×0.1 + 0.25×0.2" in text
        assert result_of(text) == pytest.approx(0.3 * 0.1 + 0.25 * 0.2, abs=5e-9)  # 0.08
        assert "used next for: h1" in text
        assert screen(app).splitlines()[0].lstrip().startswith("step 1/62")
    explore(check)


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
@pytest.mark.parametrize("keys", [["n"] * W5_PLACE, ["right"] * 9 + ["space"] * 9])
def test_next_reaches_dE_total_dw5_at_its_place(keys):
    async def check(app, pilot):
        await type_in(pilot, *keys)
        text = step_text(app)
        assert "∂E_total/∂w5 = ∂E_total/∂o1 × ∂o1/∂z3 × ∂z3/∂w5" in text
        assert result_of(text) == pytest.approx(PUBLISHED["dE_total/dw5"], abs=5e-9)
        # its factors are the published ∂E_total/∂o1, ∂o1/∂z3, ∂z3/∂w5 (= h1)
        factors = numbers_in(next(line for line in text.splitlines() if "×" in line and "∂" not in line))
        assert factors == [pytest.approx(PUBLISHED[k], abs=5e-9) for k in ("dE_total/do1", "do1/dz3", "dz3/dw5")]
        assert "used next for: w5⁺" in text
    explore(check)


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
def test_previous_home_and_end():
    async def check(app, pilot):
        await type_in(pilot, "n", "n", "n", "p", "left")
        assert step_text(app).splitlines()[1].startswith("z2 =")
        await type_in(pilot, "end")
        text = step_text(app)
        assert text.startswith("Check: forward pass with the updated values") and "E_total⁺ =" in text
        assert result_of(text.split("E_total:")[0]) == pytest.approx(PUBLISHED["E_total+"], abs=5e-9)
        before, after = numbers_in(text.split("E_total:")[1])[:2]  # E_total before → after
        assert (before, after) == (pytest.approx(PUBLISHED["E_total"], abs=5e-9),
                                   pytest.approx(PUBLISHED["E_total+"], abs=5e-9))
        await type_in(pilot, "home")
        assert step_text(app).splitlines()[1].startswith("z1 =")
    explore(check)


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
@pytest.mark.parametrize("typed", ["w5+", "w5^+", "W^(2)_11+"])
def test_slash_jumps_to_w5_plus(typed):
    async def check(app, pilot):
        await type_in(pilot, "slash", *typed, "enter")
        text = step_text(app)
        assert "w5⁺ = w5 − α·∂E_total/∂w5" in text
        assert result_of(text) == pytest.approx(PUBLISHED["w5+"], abs=5e-9)
        # w5⁺ = 0.45 − 0.5 × 0.02592286, with the published gradient
        assert result_of(text) == pytest.approx(0.45 - 0.5 * PUBLISHED["dE_total/dw5"], abs=5e-9)
    explore(check)


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
@pytest.mark.parametrize("typed", ["w5⁺", "∂E_total/∂w5", "δ_o1"])
def test_slash_accepts_unicode_names(typed):
    """Names typed with ⁺, ∂ or δ (pasted, or a keyboard that has them) reach the input as text."""
    expected = {"w5⁺": "w5+", "∂E_total/∂w5": "dE_total/dw5", "δ_o1": "delta_o1"}[typed]

    async def check(app, pilot):
        await type_in(pilot, "slash")
        app.query_one("#ask").insert_text_at_cursor(typed)
        await type_in(pilot, "enter")
        assert app.current.key == expected
        published = PUBLISHED.get(expected, PUBLISHED["dE_total/do1"] * PUBLISHED["do1/dz3"])  # δ_o1
        assert result_of(step_text(app)) == pytest.approx(published, abs=5e-9)
    explore(check)


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
def test_slash_with_an_unknown_name_says_so_and_stays():
    async def check(app, pilot):
        await type_in(pilot, "n", "slash", *"q9", "enter")
        assert "'q9': no such quantity" in screen(app)
        assert app.current.key == "z2"
        await type_in(pilot, "n")  # the keys walk again
        assert app.current.key == "h1"
    explore(check)


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
def test_escape_closes_the_question():
    async def check(app, pilot):
        await type_in(pilot, "slash", "w", "escape", "n")
        assert app.current.key == "z2"
    explore(check)


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
def test_focus_w1_walks_exactly_its_chain_in_order():
    async def check(app, pilot):
        await type_in(pilot, "f", "w", "1", "enter")
        walked = []
        for _ in range(len(W1_CHAIN) + 3):  # more presses than steps: the end stays the end
            key = app.current.key
            if not walked or walked[-1][0] != key:
                walked.append((key, result_of(step_text(app))))
            await type_in(pilot, "n")
        assert [k for k, _ in walked] == W1_CHAIN
        shown = {k: v for k, v in walked if k in PUBLISHED}
        assert len(shown) >= 8 and shown == {k: pytest.approx(PUBLISHED[k], abs=5e-9) for k in shown}
        assert f"of w1's chain" in screen(app).splitlines()[0]
        await type_in(pilot, "f", "enter", "home")  # empty: every step again
        assert app.current.key == "z1" and "chain" not in screen(app).splitlines()[0]
    explore(check)


def test_focus_on_something_not_a_parameter():
    async def check(app, pilot):
        await type_in(pilot, "f", *"z1", "enter")
        assert "no such parameter" in screen(app)
        assert app.chain is None
    explore(check)


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
def test_u_walks_the_second_update_from_its_z1():
    async def check(app, pilot):
        await type_in(pilot, "n", "u")
        text = step_text(app)
        assert text.splitlines()[1].startswith("z1 = w1·x1 + w2·x2")
        # the second update's z1 is w1⁺·x1 + w2⁺·x2 with the published w1⁺, w2⁺ (= the published z1⁺)
        assert result_of(text) == pytest.approx(PUBLISHED["w1+"] * 0.1 + PUBLISHED["w2+"] * 0.2, abs=5e-9)
        assert "update 2 (epoch 2, sample 1)" in screen(app).splitlines()[0]
        await type_in(pilot, "end")
        assert "E_total:" in step_text(app)
    explore(check)


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
def test_s_switches_to_layered_names_and_back():
    async def check(app, pilot):
        await type_in(pilot, *["n"] * W5_PLACE, "s")
        text = step_text(app)
        assert "∂E_total/∂W^(2)_11 =" in text and result_of(text) == pytest.approx(PUBLISHED["dE_total/dw5"], abs=5e-9)
        assert "W^(2)_11" in screen(app)  # the diagram's edge too
        await type_in(pilot, "s")
        assert "∂E_total/∂w5 =" in step_text(app)
    explore(check)


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
def test_help_lists_the_keys_and_closes():
    async def check(app, pilot):
        await type_in(pilot, "question_mark")
        text = screen(app)
        for what in ("next quantity", "jump to a quantity", "focus", "apply the update", "switch naming", "quit"):
            assert what in text
        await type_in(pilot, "escape", "n")
        assert app.current.key == "z2" and "next quantity" not in screen(app)
    explore(check)


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
def test_clicking_an_edge_jumps_to_its_weight():
    async def check(app, pilot):
        lines = screen(app).splitlines()
        row = next(i for i, line in enumerate(lines) if "w7 0.7" in line)
        await pilot.click(offset=(lines[row].index("w7 0.7") + 1, row))
        await pilot.pause()
        assert app.current.key == "z4"  # w7 is given: the first step that reads it, z4 = w7·h1 + w8·h2
    explore(check)


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
def test_clicking_a_neuron_jumps_to_its_output():
    async def check(app, pilot):
        lines = screen(app).splitlines()
        row = next(i for i, line in enumerate(lines) if "h2 0.5275" in line)  # h2 = σ(z2), published 0.52747230
        await pilot.click(offset=(lines[row].index("h2 0.5275"), row))
        await pilot.pause()
        assert app.current.key == "h2"
        assert result_of(step_text(app)) == pytest.approx(PUBLISHED["h2"], abs=5e-9)
    explore(check)


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
@pytest.mark.parametrize("key", ["q", "ctrl+c"])
def test_q_and_ctrl_c_quit(key):
    ran = {}

    async def check(app, pilot):
        await type_in(pilot, key)
        ran["running"] = app.is_running
    explore(check)
    assert ran == {"running": False}


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
def test_softmax_network_walks_to_the_end():
    async def check(app, pilot):
        assert "softmax" in app.spec.layers[-1].activation
        await type_in(pilot, "end")
        assert "E_total:" in step_text(app)
        await type_in(pilot, "f", "w", "1", "enter")
        assert app.current.phase == "backward" and app.chain
    explore(check, "softmax")


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
def test_a_large_network_is_drawn_as_layer_boxes():
    async def check(app, pilot):
        text = screen(app).replace("\u00a0", " ")
        assert "[ 2 inputs ]" in text and "[ 4 relu ]" in text  # deep: 2-4-4-3-1
        await type_in(pilot, "n")
        assert app.index == 1 and "z^(1)_2 =" in step_text(app)  # deep names its quantities layered
    explore(check, "deep")


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
def test_a_wide_screen_draws_the_deep_networks_neurons_with_each_layers_edges_as_a_count():
    async def check(app, pilot):
        text = screen(app)
        assert "[ 2" not in text.replace("\u00a0", " ")  # no layer boxes at 120×40
        assert "─ 16 w ─▶" in text and "a^(2)_4" in text  # 4×4 weights into the second hidden layer
    explore(check, "deep", size=(120, 40))

    async def after(app, pilot):  # the updated values are wider (−9.481×10⁻⁴): 140 columns
        await type_in(pilot, "end")
        assert "─ 16 w⁺ ─▶" in screen(app)
    explore(after, "deep", size=(140, 40))


# ------------------------------------------------------------------ the command line

def test_explore_with_a_bad_spec_is_one_line_and_exit_2(runner, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("learning_rate = 'fast'\n")
    result = runner.invoke(cli, ["explore", str(bad)])
    assert result.exit_code == 2
    assert "bad.toml" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_textual_is_imported_by_explore_only():
    """Every other command starts as fast as before: `run` never imports Textual."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "bptrace", "run", "--no-formulas"],
                          capture_output=True, text=True, cwd=ROOT, check=True)
    imported = [line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line]
    assert not [m for m in imported if m.split(".")[0] == "textual"]
    assert "rich" in [m.split(".")[0] for m in imported]  # the probe sees imports at all


# ------------------------------------------------------------------ the diagram's highlights

def styles_of(text, piece: str):
    """The styles on the cell whose text starts with `piece`."""
    start = text.plain.index(piece)
    return [s.style for s in text.spans if s.start <= start < s.end]


@pytest.mark.parametrize("current, lit, read", [
    # z1 = w1·x1 + w2·x2: neuron h1 (it holds z1) is current; the inputs and both weights into h1 are read
    ("z1", ["h1 0.5200"], ["x1 0.1", "x2 0.2", "x1→h1 w1", "x2→h1 w2"]),
    # ∂E_total/∂w5 = δ_o1·h1: the edge of w5 is current; o1 (δ_o1) and h1 are read
    ("dE_total/dw5", ["h1→o1 w5"], ["o1 0.6094", "h1 0.5200"]),
])
def test_the_current_quantity_and_what_it_reads_are_highlighted(current, lit, read):
    from bptrace import walk
    from bptrace.explore.diagram import CURRENT, DEP, diagram

    t = bptrace.run()
    step = next(s for s in walk.steps(t) if s.key == current)
    text = diagram(t.iterations[0], t.names, step.key, set(step.depends_on), False, (78, 12))
    for piece in lit:
        assert any(s.bgcolor == CURRENT.bgcolor for s in styles_of(text, piece)), piece
    for piece in read:
        assert any(s.color == DEP.color for s in styles_of(text, piece)), piece
    others = [p for p in ("x1→h2 w3", "h2→o2 w8", "o2 0.6638") if p not in lit + read]
    for piece in others:
        assert not any(s.color == DEP.color or s.bgcolor == CURRENT.bgcolor for s in styles_of(text, piece)), piece


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
def test_a_full_batch_walks_sample_by_sample_and_u_goes_to_the_next_epoch():
    from bptrace import walk

    spec = bptrace.load("xor")
    app = Explorer(spec, walk.first_iteration(spec, batch="full"), 8, None, "full")
    steps_of_1 = sum(1 for s in app.steps if s.sample == 1 and s.phase in ("forward", "loss", "backward"))

    async def check(app, pilot):
        await type_in(pilot, *["n"] * steps_of_1)
        assert step_text(app).startswith("Forward pass (sample 2)")
        assert "sample 2" in screen(app).splitlines()[0]
        # sample 2 is x = (0, 1): its z1 = w1·0 + w2·1 + b1 is w2 + b1
        z1 = app.current.q.value
        assert app.current.key == "z1@2" and z1 == pytest.approx(spec.layers[0].weights[0][1] + spec.layers[0].bias[0])
        from bptrace.explore.diagram import CURRENT, DEP, diagram

        text = diagram(app.it, app.N, "z1@2", set(app.current.depends_on), False, (78, 14), sample=2)
        assert any(st.bgcolor == CURRENT.bgcolor for st in styles_of(text, "h1 0."))  # z1@2 lives in node h1
        assert any(st.color == DEP.color for st in styles_of(text, "x2 1"))  # sample 2's input x2 = 1 is read
        await type_in(pilot, "u")
        assert "update 2 (epoch 2, sample 1)" in screen(app).splitlines()[0]

    async def go():
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            await check(app, pilot)
    asyncio.run(go())


def test_explore_with_a_bad_batch_is_one_line_and_exit_2(runner):
    result = runner.invoke(cli, ["explore", "xor", "--batch", "half"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == ["error: --batch: expected online, full or a whole number > 0, got 'half'"]


def test_explore_without_a_terminal_says_what_to_use_instead(runner):
    result = runner.invoke(cli, ["explore"])  # CliRunner's stdin and stdout are no terminal
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: explore is interactive: run it in a terminal (for a script or notes: bptrace run --focus PARAM, "
        "or bptrace run --export walk.html)"]


# ------------------------------------------------------------------ the same numbers as `run`

def run_values(runner, *args: str) -> dict[str, str]:
    """Every value `bptrace run --no-formulas` prints, by its name as shown (w5⁺, z1⁺ after the update)."""
    out = runner.invoke(cli, ["run", "--no-formulas", *args]).output
    values, section = {}, ""
    for line in out.splitlines():
        if line and not line.startswith((" ", "─")):
            section = line.split()[0]
            continue
        cells = line.split()
        if len(cells) < 2 or not numbers_in(cells[-1]):
            continue
        if section == "Updates":  # param, old, gradient, new
            values[cells[0] + "⁺"] = cells[3]
        elif section == "Check:":  # quantity, before, after, change
            values[cells[0] + "⁺"] = cells[2]
        else:  # name (∂E_total/∂h1 via z4 has spaces), value
            values[" ".join(cells[:-1])] = cells[-1]
    return values


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
@pytest.mark.parametrize("source", [None, "softmax"])
def test_every_number_explore_shows_is_the_one_run_prints(runner, source):
    expected = run_values(runner, *([source] if source else []))

    async def check(app, pilot):
        shown = {}
        for _ in range(len(app.steps)):
            eq = step_text(app).splitlines()[1:]
            name = eq[0].split(" = ")[0].strip()
            shown[name] = [ln for ln in eq if ln.startswith("=") or ln.startswith(name)][-1].split("= ")[-1]
            await type_in(pilot, "n")
        assert len(expected) >= 40 and set(expected) <= set(shown), sorted(set(expected) - set(shown))
        assert {k: shown[k] for k in expected} == expected  # the same strings: the same numbers
    explore(check, source)


def test_dropout_sample_walks_through_h_tilde():
    """The dropout sample: the step after h2 is h̃1 = m_h1·h1 / (1 − p), and every step can be walked."""
    async def check(app, pilot):
        await type_in(pilot, *["n"] * 4)  # z1, z2, h1, h2, then h̃1
        text = step_text(app)
        assert "h̃1 = m_h1·h1 / (1 − p)" in text and "= 1×0.51998934 / (1 − 0.5)" in text
        assert result_of(text) == pytest.approx(2 * 0.51998934, abs=5e-8)
        await type_in(pilot, *["n"] * 80)  # past the end: the last step
        first = screen(app).splitlines()[0].split()
        assert first[0] == "step" and first[1].split("/")[0] == first[1].split("/")[1]
    explore(check, source=str(ROOT / "samples" / "dropout.toml"))
