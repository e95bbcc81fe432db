"""The formulas of GELU, ELU, softplus, SiLU and of label smoothing, shown by the engines that display
them: KaTeX renders every formula of the Markdown export, pdflatex compiles the .tex export."""

from __future__ import annotations

import pytest

from bptrace.cli import app
from engines_support import compile_tex, ensure_node_packages, ensure_pdflatex, formulas, run_node, tex_errors

pytestmark = pytest.mark.engines

HIDDEN = {"gelu": "", "gelu_tanh": 'approximate = "tanh"', "elu": "alpha = 0.5", "softplus": "beta = 2.0\nthreshold = 5.0",
          "silu": ""}


def spec_text(key: str) -> str:
    act = key.split("_")[0]
    return ('loss = "cross_entropy"\nlabel_smoothing = 0.1\nlearning_rate = 0.5\n'
            "[[samples]]\nx = [0.5, -0.3]\ntarget = 1\n"
            f'[[layers]]\nactivation = "{act}"\n{HIDDEN[key]}\nweights = [[0.3, -0.25], [-0.4, 0.35]]\nbias = 0.1\n'
            '[[layers]]\nactivation = "softmax"\nweights = [[0.1, 0.2], [0.3, -0.1], [-0.2, 0.5]]\n')


def export(runner, tmp_path, key: str, suffix: str) -> str:
    spec = tmp_path / f"{key}.toml"
    spec.write_text(spec_text(key))
    out = tmp_path / f"{key}{suffix}"
    result = runner.invoke(app, ["run", str(spec), "--export", str(out)])
    assert result.exit_code == 0, result.output
    return out.read_text(encoding="utf-8")


@pytest.mark.parametrize("key", HIDDEN)
def test_katex_renders_the_new_formulas(runner, tmp_path, key):
    ensure_node_packages()
    text = export(runner, tmp_path, key, ".md")
    found = formulas(text)
    names = {"gelu": r"\operatorname{erf}", "gelu_tanh": r"\tanh", "elu": "e^{", "softplus": r"\log", "silu": r"\sigma"}
    assert any(names[key] in tex for tex, _ in found), key
    results = run_node("katex-render.mjs", [{"tex": tex, "display": d} for tex, d in found])
    errors = [(tex, r.get("error") or r["warnings"]) for (tex, _), r in zip(found, results) if not r["ok"] or r["warnings"]]
    assert not errors, errors[:5]


@pytest.mark.parametrize("key", HIDDEN)
def test_tex_export_compiles(runner, tmp_path, key):
    ensure_pdflatex()
    ok, log = compile_tex(export(runner, tmp_path, key, ".tex"))
    assert ok, tex_errors(log)
