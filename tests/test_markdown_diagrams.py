"""The Mermaid network diagrams of the Markdown export: parameters written in the spec are labelled as
written (w1 = 0.3), computed ones (an initialiser's, or any after the update) at --precision."""

from __future__ import annotations

import re

import pytest

from bptrace.cli import app
from conftest import BLOG, PUBLISHED
from engines_support import ensure_node_packages, mermaid_blocks, run_node


def _labels(block: str) -> dict[str, str]:
    """Edge labels of a Mermaid graph: {'w1': '0.3', ...}."""
    return dict(re.findall(r'-->\|"(\S+) = (\S+)"\|', block))


def _diagrams(runner, tmp_path, *args: str) -> tuple[str, list[str]]:
    path = tmp_path / "out.md"
    result = runner.invoke(app, ["run", *args, "--export", str(path)])
    assert result.exit_code == 0, result.output
    text = path.read_text(encoding="utf-8")
    return text, [b for b in mermaid_blocks(text) if b.startswith("graph LR")]


def test_given_weights_as_written_updated_at_precision(runner, tmp_path):
    _, (before, after) = _diagrams(runner, tmp_path)
    written = [w for row in BLOG["layers"][0]["weights"] + BLOG["layers"][1]["weights"] for w in row]
    assert _labels(before) == {f"w{i}": str(w) for i, w in enumerate(written, 1)}  # w1 = 0.3, not 0.30000000
    assert _labels(after)["w1"] == "0.29959556"  # the published w1⁺
    assert {k: float(v) for k, v in _labels(after).items()} == {f"w{i}": PUBLISHED[f"w{i}+"] for i in range(1, 9)}


def test_precision_applies_to_updated_weights_only(runner, tmp_path):
    _, (before, after) = _diagrams(runner, tmp_path, "--precision", "3")
    assert _labels(before)["w2"] == "0.25" and _labels(after)["w1"] == "0.300"  # 0.29959556 to 3 decimals


def test_initialised_weights_are_computed_given_biases_as_written(runner, tmp_path):
    text, (before, _) = _diagrams(runner, tmp_path, "deep")  # He-initialised weights, biases written as 0.1
    assert all(re.fullmatch(r"-?\d\.\d{8}", v) for v in _labels(before).values()), before
    first_biases = text[text.index(before):].split("Biases: ", 1)[1].split("\n", 1)[0]
    assert "b^(1)_1 = 0.1," in first_biases


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
def test_diagrams_still_parse(runner, tmp_path):
    _, blocks = _diagrams(runner, tmp_path)
    ensure_node_packages()
    assert run_node("mermaid-parse.mjs", blocks) == [{"ok": True}, {"ok": True}]
