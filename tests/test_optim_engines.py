"""The update rows of RMSprop, Adagrad, amsgrad and a scheduled α, shown by the engines that display them:
KaTeX renders every formula of the Markdown export, pdflatex compiles the .tex export (scalar and matrix)."""

from __future__ import annotations

import pytest

from bptrace.cli import app
from engines_support import compile_tex, ensure_pdflatex, katex_errors, tex_errors

pytestmark = pytest.mark.engines

OPTIMIZERS = {  # the [optimizer] line, and a piece of its rule or state the export must show
    "rmsprop": ('{ name = "rmsprop", centered = true, weight_decay = 0.01 }', r"\bar{g}"),
    "rmsprop-momentum": ('{ name = "rmsprop", momentum = 0.5 }', r"\alpha b"),
    "adagrad": ('{ name = "adagrad", lr_decay = 0.1, initial_accumulator_value = 0.1 }', r"\alpha_t"),
    "amsgrad": ('{ name = "adamw", amsgrad = true }', "vₘₐₓ"),  # a column of the state table
}


def export(runner, tmp_path, key: str, suffix: str, form: str = "scalar") -> str:
    spec = tmp_path / f"{key}.toml"
    spec.write_text(f"optimizer = {OPTIMIZERS[key][0]}\nlearning_rate = 0.5\n"
                    'schedule = { name = "cosine", T_max = 3 }\n'
                    "[[samples]]\nx = [0.5, -0.3]\ntarget = [0.2, 0.8]\n"
                    "[[layers]]\nactivation = \"tanh\"\nweights = [[0.3, -0.25], [-0.4, 0.35]]\nbias = 0.1\n"
                    "[[layers]]\nactivation = \"sigmoid\"\nweights = [[0.1, 0.2], [0.3, -0.1]]\n")
    out = tmp_path / f"{key}-{form}{suffix}"
    result = runner.invoke(app, ["step", str(spec), "--epochs", "3", "--show", "3", "--form", form, "-q",
                                 "--export", str(out)])
    assert result.exit_code == 0, result.output
    return out.read_text(encoding="utf-8")


@pytest.mark.parametrize("key", OPTIMIZERS)
def test_katex_renders_the_update_rows(runner, tmp_path, key):
    text = export(runner, tmp_path, key, ".md")
    assert OPTIMIZERS[key][1] in text, key
    errors = katex_errors(text)
    assert not errors, errors[:5]


@pytest.mark.parametrize("form", ["scalar", "matrix"])
@pytest.mark.parametrize("key", OPTIMIZERS)
def test_tex_export_compiles(runner, tmp_path, key, form):
    ensure_pdflatex()
    text = export(runner, tmp_path, key, ".tex", form)
    ok, log = compile_tex(text)
    assert ok, tex_errors(log)


@pytest.mark.parametrize("key", OPTIMIZERS)
def test_tex_export_with_a_frozen_bias_and_optimizer_state(runner, tmp_path, key):
    """A frozen bias keeps no optimizer state: its row of the state table is left blank (once a KeyError)."""
    ensure_pdflatex()
    spec = tmp_path / "frozen.toml"
    spec.write_text(f"optimizer = {OPTIMIZERS[key][0]}\nlearning_rate = 0.5\n"
                    "[[samples]]\nx = [0.5, -0.3]\ntarget = [0.2, 0.8]\n"
                    "[[layers]]\nactivation = \"tanh\"\nweights = [[0.3, -0.25], [-0.4, 0.35]]\nbias = 0.1\n"
                    "train_bias = false\n"
                    "[[layers]]\nactivation = \"sigmoid\"\nweights = [[0.1, 0.2], [0.3, -0.1]]\n")
    out = tmp_path / "frozen.tex"
    result = runner.invoke(app, ["run", str(spec), "--export", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert "(frozen)" in text
    ok, log = compile_tex(text)
    assert ok, tex_errors(log)
