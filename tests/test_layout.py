"""Terminal layout as a user's terminal gets it (a fresh interpreter reads COLUMNS): every line fits
the width; lines wrap between whole parts, never leaving a word alone; --ascii tables stay aligned
on a stream that can only encode ASCII."""

import os
import subprocess
import sys

import pytest
from rich.cells import cell_len

SAMPLES = ["blog", "xor", "softmax", "deep", "adam"]


def bptrace(*args, columns: int, **env) -> str:
    environ = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "PYTHONIOENCODING")}
    proc = subprocess.run([sys.executable, "-m", "bptrace", *args], capture_output=True, timeout=300,
                          env={**environ, "COLUMNS": str(columns), **env})
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout.decode(env.get("PYTHONIOENCODING", "utf-8"))


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
@pytest.mark.parametrize("width", [60, 80, 120])
@pytest.mark.parametrize("sample", SAMPLES)
def test_run_and_step_fit_the_width(sample, width):
    for args in (["run", sample], ["step", sample, "-n", "20", "--show", "1"]):
        text = bptrace(*args, columns=width)
        wide = [line for line in text.splitlines() if cell_len(line) > width]
        assert not wide, (args, width, wide[:3])


def _block_after(text: str, first: str) -> list[str]:
    """The lines from the one starting with `first` up to the next blank line."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(first))
    end = next((i for i in range(start, len(lines)) if not lines[i].strip()), len(lines))
    return lines[start:end]


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
@pytest.mark.parametrize("width", [60, 80, 120])
@pytest.mark.parametrize("sample", SAMPLES)
def test_summary_lines_break_between_parts(sample, width):
    text = bptrace("step", sample, "-n", "2", columns=width)
    caption = [line.strip() for line in _block_after(text, " layer") if not line.startswith(" ") and "─" not in line]
    header = _block_after(text, "2 epochs")
    for line in caption + [line.strip() for line in header]:
        assert " " in line and not line.endswith("·"), (width, line)  # no word alone, no dangling separator
    if sample == "blog" and width >= 80:  # 65 and 80 columns: each on one line
        assert len(caption) == 1 and len(header) == 1, (caption, header)


def test_network_table_at_60_keeps_name_ranges_whole():
    text = bptrace("run", "deep", columns=60)
    network = "\n".join(_block_after(text, "Deep regression"))
    for unit in ("a^(1)_1 … a^(1)_4", "b^(2)_1 … b^(2)_4", "16 (W^(2)_11 … W^(2)_44) + 4", "leaky_relu (slope 0.1)",
                 "3 (W^(4)_11, W^(4)_12, W^(4)_13) + 1"):
        assert unit in network, unit


def test_gradcheck_title_on_one_line_at_80():
    text = bptrace("gradcheck", columns=80)
    assert text.splitlines()[0].rstrip().endswith("central finite differences")


@pytest.mark.parametrize("args", [["run", "blog", "--ascii"], ["run", "deep", "--ascii"], ["run", "deep"],
                                  ["step", "xor", "-n", "3", "--show", "1"]], ids="-".join)
@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
@pytest.mark.parametrize("width", [60, 80])
def test_ascii_tables_stay_aligned(args, width):
    """On an ASCII-only stream (with --ascii or without), no row is longer than its table's rule
    (… was replaced by ... after the columns were measured)."""
    text = bptrace(*args, columns=width, PYTHONIOENCODING="ascii")
    assert text.isascii()
    checked = 0
    for block in (b.splitlines() for b in text.split("\n\n")):
        rule = next((line for line in block if line and set(line) == {"-"}), None)
        if rule is None:
            continue
        rows = [line for line in block if line.startswith(" ")]  # the header and the rows (titles do not)
        assert all(len(line) <= len(rule) for line in rows), [line for line in rows if len(line) > len(rule)]
        checked += 1
    assert checked >= 5
    assert any(s in text for s in ("w1 ... w4", "a^(1)_1 ... a^(1)_4", "h1 ... h4"))


def test_formulas_break_after_operators_outside_brackets():
    from bptrace.render.tables import terms

    assert terms("w1·x1 + w2·x2 + b1") == ["w1·x1 +", "w2·x2 +", "b1"]
    assert terms("1 / (1 + e^−z1)") == ["1 /", "(1 + e^−z1)"]
    assert terms("= (−0.5) if (−0.5) > 0 else 0.1×(−0.5)") == ["= (−0.5)", "if (−0.5) > 0", "else 0.1×(−0.5)"]
    assert terms("max(0, z1 + b1)") == ["max(0, z1 + b1)"]


@pytest.mark.parametrize("width", [60, 80])
def test_wrapped_formulas_continue_indented_after_an_operator(width):
    import io

    from rich.console import Console

    import bptrace
    from bptrace.render.tables import render_trace

    out = io.StringIO()
    Console(width=width, file=out, color_system=None).print(render_trace(bptrace.run("deep")))
    wrapped = 0
    for block in out.getvalue().split("\n\n"):
        lines = block.splitlines()
        heads = [line for line in lines if "formula  =  numbers" in line]
        if not heads:
            continue
        column = heads[0].index("formula")
        for above, line in zip(lines, lines[1:]):
            text, prev = line[column:].rstrip(), above[column:].rstrip()
            if text.startswith("  ") and text.strip():  # a continuation line: the line above ends with an operator
                formula = prev.rsplit("  ", 1)[0].rstrip() if prev[-1:].isdigit() else prev  # without the value
                assert formula.endswith(("+", "−", "×", "/")) or text.strip().startswith(("if", "else")), (above, line)
                wrapped += 1
    assert wrapped > 10


def test_verdict_wraps_between_its_two_parts_at_60():
    text = bptrace("run", "xor", columns=60)
    lines = text.splitlines()
    i = next(i for i, line in enumerate(lines) if line.startswith("E_total:"))
    assert lines[i].rstrip().endswith("→ 0.06068866") and lines[i + 1].startswith("down by 0.04702136 (−43.66%)")


@pytest.mark.parametrize("width", [20, 27, 28, 40])
def test_a_broken_list_keeps_its_commas_within_the_width(width):
    from bptrace.render.layout import Segments

    parts = ["entries: a1 = w1", "a2 = w2", "a3 = w3", "a4 = w4", "a5 = w5"]
    lines = [line.plain for line in Segments(parts, ", ", indent="  ", keep=True).lines(width)]
    assert len(lines) > 1
    assert all(line.endswith(",") for line in lines[:-1]) and not lines[-1].endswith(",")
    assert all(cell_len(line) <= width for line in lines)
    # every entry appears once, in order, and nothing but the separators was added
    assert " ".join(line.strip() for line in lines) == ", ".join(parts)
