"""`bptrace quiz`: exercise, answers template and key; the round trip through `check` (issue 12, item 4)."""

import re
import shutil
import subprocess
import tomllib

import pytest

from bptrace.cli import app
from conftest import PUBLISHED


def key_values(folder) -> dict[str, str]:
    """name -> the result the key gives, as written ("1. `z1` = 0.08000000")."""
    text = (folder / "key.md").read_text()
    return dict(re.findall(r"^\d+\. `(.+?)` = (\S+)$", text, flags=re.M))


def fill(folder, values: dict[str, str]) -> str:
    """The template with each blank replaced by a value; the filled file's path."""
    text = (folder / "answers.toml").read_text()
    for name, v in values.items():
        text = text.replace(f'"{name}" = ""', f'"{name}" = {v}')
    path = folder / "filled.toml"
    path.write_text(text)
    return str(path)


def quiz(runner, tmp_path, *args, out="q"):
    result = runner.invoke(app, ["quiz", *args, "--out", str(tmp_path / out)])
    assert result.exit_code == 0, result.output + result.stderr
    return tmp_path / out


def test_round_trip(runner, tmp_path):
    folder = quiz(runner, tmp_path, "--seed", "7", "--ask", "all")
    assert {p.name for p in folder.iterdir()} == {"exercise.md", "exercise.tex", "answers.toml", "key.md",
                                                  "key.tex", "network.toml"}
    key = key_values(folder)
    template = tomllib.loads((folder / "answers.toml").read_text())
    assert set(template) - {"epoch", "sample"} == set(key) and all(template[k] == "" for k in key)
    spec = str(folder / "network.toml")
    ok = runner.invoke(app, ["check", spec, fill(folder, key)])
    assert ok.exit_code == 0, ok.output
    assert f"{len(key)} of {len(key)} claims hold" in ok.output
    # w5⁺ worked without α: w5 − ∂E_total/∂w5, from the given w5 and the key's gradient
    w5 = tomllib.loads((folder / "network.toml").read_text())["layers"][1]["weights"][0][0]
    wrong = dict(key, **{"w5+": f"{w5 - float(key['dE_total/dw5']):.8f}"})
    bad = runner.invoke(app, ["check", spec, fill(folder, wrong)])
    assert bad.exit_code == 1
    assert "w5⁺ = " in bad.output and "uses α = 1" in " ".join(bad.output.split())


def test_a_spec_s_key_gives_the_published_numbers(runner, tmp_path):
    folder = quiz(runner, tmp_path, "blog", "--ask", 'z1,h1,"dE_total / dw5",w5_new,hidden-deltas')
    key = key_values(folder)
    for name in ("z1", "h1", "dE_total/dw5", "w5+", "dE_total/dh1", "dh1/dz1"):
        assert float(key[name]) == pytest.approx(PUBLISHED[name], abs=5e-9), name
    assert list(key)[:4] == ["z1", "h1", "dE_o1/dh1", "dE_o2/dh1"]  # the trace's order
    assert "network.toml" not in {p.name for p in folder.iterdir()}
    assert "bptrace check blog answers.toml" in (folder / "answers.toml").read_text()


def test_the_same_seed_gives_the_same_exercise(runner, tmp_path):
    a = quiz(runner, tmp_path, "--seed", "5", out="a")
    b = quiz(runner, tmp_path, "--seed", "5", out="b")
    c = quiz(runner, tmp_path, "--seed", "6", out="c")
    for name in ("exercise.md", "exercise.tex", "answers.toml", "key.md", "key.tex", "network.toml"):
        assert (a / name).read_text() == (b / name).read_text()
    assert (a / "network.toml").read_text() != (c / "network.toml").read_text()


def test_given_numbers_are_nice(runner, tmp_path):
    folder = quiz(runner, tmp_path, "--seed", "11", "--shape", "3-2-2", "--activation", "tanh,sigmoid")
    spec = tomllib.loads((folder / "network.toml").read_text())
    numbers = [w for layer in spec["layers"] for row in layer["weights"] for w in row] + spec["samples"][0]["x"]
    assert all(round(v, 1) == v and v != 0 for v in numbers)
    assert all(round(t, 2) == t for t in spec["samples"][0]["target"])
    assert [layer["activation"] for layer in spec["layers"]] == ["tanh", "sigmoid"]
    exercise = (folder / "exercise.md").read_text()
    assert "## Questions" in exercise and "```mermaid" in exercise and "x_{3}" in exercise


def test_blank_template_is_not_graded(runner, tmp_path):
    folder = quiz(runner, tmp_path)
    result = runner.invoke(app, ["check", str(folder / "network.toml"), str(folder / "answers.toml")])
    assert result.exit_code == 2 and "all 33 answers are blank" in result.stderr


def test_quiz_refuses_to_overwrite(runner, tmp_path):
    quiz(runner, tmp_path)
    again = runner.invoke(app, ["quiz", "--out", str(tmp_path / "q")])
    assert again.exit_code == 2 and "already exists; use --force" in again.stderr
    assert runner.invoke(app, ["quiz", "--out", str(tmp_path / "q"), "--force"]).exit_code == 0


@pytest.mark.parametrize("args,message", [
    (["--ask", "z1,bogus"], "--ask: expected names or groups"),
    (["--shape", "2-x-2"], "--shape: expected layer widths such as 2-2-2"),
    (["blog", "--shape", "2-2-2"], "give a spec or --shape, not both"),
])
def test_bad_quiz_options(runner, tmp_path, args, message):
    result = runner.invoke(app, ["quiz", *args, "--out", str(tmp_path / "q")])
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
@pytest.mark.parametrize("name", ["exercise", "key"])
@pytest.mark.parametrize("args", [["--seed", "2"], ["deep"],
                                  ["--shape", "2-3-3", "--activation", "tanh,softmax", "--loss", "cross_entropy"]])
@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
def test_tex_compiles_without_overfull_lines(runner, tmp_path, name, args):
    folder = quiz(runner, tmp_path, *args, "--ask", "all")
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"], cwd=folder,
                          capture_output=True, text=True, timeout=120)
    log = (folder / f"{name}.log").read_text(errors="replace")
    assert done.returncode == 0, log[-2000:]
    assert "Overfull \\hbox" not in log
