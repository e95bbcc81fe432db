"""Loss plots tick at round values (1, 2 or 5 × 10^k apart, evenly spaced to the edge), and the
.py export says what it needs to run."""

import re
import xml.etree.ElementTree as ET

import pytest
from rich.console import Console

import bptrace
from bptrace.cli import app
from bptrace.render.svgplot import line_chart
from bptrace.render.training import loss_curve

SVG = "{http://www.w3.org/2000/svg}"


def _round_step(step: float) -> bool:
    """step = m × 10^k with m in 1, 2, 5."""
    mantissa = step / 10 ** int(f"{step:e}".split("e")[1])
    return any(abs(mantissa - m) < 1e-9 for m in (1, 2, 5))


def _svg_ticks(svg: str):
    root = ET.fromstring(svg)
    frame = root.find(f"{SVG}rect").attrib
    top, bottom = float(frame["y"]), float(frame["y"]) + float(frame["height"])
    texts = [t for t in root.iter(f"{SVG}text") if t.get("text-anchor") in ("end", "middle")]
    y = [(float(t.get("y")) - 4, float(t.text)) for t in texts if t.get("text-anchor") == "end"]
    x = [float(t.text) for t in texts if t.get("text-anchor") == "middle" and re.fullmatch(r"[\d.]+", t.text)]
    return top, bottom, y, x


@pytest.mark.parametrize("losses", [[0.02397190, 0.02323634, 0.02251965], [0.164, 0.1, 0.02, 0.0071],
                                    [3.2, 1.7, 0.4]])
def test_svg_loss_ticks_are_round_and_evenly_spaced_to_the_top(losses):
    epochs = list(range(1, len(losses) + 1))
    top, bottom, yticks, xticks = _svg_ticks(line_chart(epochs, losses, "loss", "epoch", "loss"))
    positions = [p for p, _ in yticks]
    values = [v for _, v in yticks]
    steps = {round(b - a, 12) for a, b in zip(values, values[1:])}
    assert len(steps) == 1 and _round_step(steps.pop()), values
    gaps = [b - a for a, b in zip(positions, positions[1:])]
    assert max(gaps) - min(gaps) < 0.2  # evenly spaced on the page
    assert min(positions) == pytest.approx(top, abs=0.1) and max(values) >= max(losses)  # the top edge is a tick
    assert max(positions) == pytest.approx(bottom, abs=0.1)  # and so is the bottom (0)
    assert all(x == int(x) for x in xticks), xticks  # epochs are whole: no tick at epoch 1.5


def _curve_text(epochs: int, log_y: bool = False) -> list[str]:
    console = Console(width=80, record=True, color_system=None, force_terminal=False, file=open("/dev/null", "w"))
    console.print(loss_curve(bptrace.train("blog", epochs=epochs), log_y, width=76))
    return console.export_text().splitlines()


@pytest.mark.parametrize("epochs", [3, 30, 100, 250])
def test_terminal_loss_curve_ticks_are_round(epochs):
    lines = _curve_text(epochs)
    xlabels = [int(v) for v in lines[-2].split()]
    steps = {b - a for a, b in zip(xlabels, xlabels[1:])}
    assert len(steps) == 1 and _round_step(steps.pop()), xlabels
    ylabels = [float(m.group(1)) for line in lines if (m := re.match(r"\s*([\d.]+)┤", line))]
    assert len(ylabels) >= 2
    ysteps = {round(a - b, 12) for a, b in zip(ylabels, ylabels[1:])}
    assert len(ysteps) == 1 and _round_step(ysteps.pop()), ylabels


def test_terminal_log_curve_ticks_are_powers_of_ten():
    lines = _curve_text(200, log_y=True)
    ylabels = [float(m.group(1)) for line in lines if (m := re.match(r"\s*([\d.e-]+)┤", line))]
    assert len(ylabels) >= 2
    assert all(_round_step(v) for v in ylabels), ylabels


def test_py_export_says_torch_is_needed_and_names_no_fixed_file(runner, tmp_path):
    path = tmp_path / "my_model.py"
    assert runner.invoke(app, ["run", "--export", str(path)]).exit_code == 0
    import ast

    doc = ast.get_docstring(ast.parse(path.read_text()))
    assert "pip install 'bptrace[torch]'" in doc and "pip install torch" in doc
    assert "net.py" not in doc
