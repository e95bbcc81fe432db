"""Fuzzing: random TOML documents and random mutations of the valid samples, fed to the CLI.

Every run must end with exit code 0, 1 or 2 and never a traceback.
"""

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bptrace.cli import app
from conftest import SAMPLES

SAMPLE_TEXTS = [p.read_text() for p in sorted(SAMPLES.glob("*.toml")) if "answers" not in p.name]
KEYS = ["title", "loss", "learning_rate", "seed", "naming", "optimizer", "samples", "layers", "x", "target",
        "activation", "weights", "units", "bias", "train_bias", "slope", "name", "beta1", "momentum", "zzz"]
WORDS = ["sigmoid", "softmax", "relu", "tanh", "half_sse", "cross_entropy", "adam", "xavier", "zeros", "", "é",
         "[bold]x[/]", "$x$", "<b>"]
NUMBERS = ["0", "-1", "1e308", "-1e308", "1e-320", "nan", "inf", "-inf", "0.5", "1000000000", "3", "2.5e3",
           "-0.0", "true", '"7"', "[]", "[[]]", "[1, [2]]", "{}"]


def _value(draw, depth=0):
    kinds = ["int", "float", "str", "bool", "list"] + (["table"] if depth < 2 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "int":
        return str(draw(st.integers(-10**12, 10**12)))
    if kind == "float":
        return draw(st.sampled_from(NUMBERS))
    if kind == "str":
        return '"' + draw(st.sampled_from(WORDS)) + '"'
    if kind == "bool":
        return draw(st.sampled_from(["true", "false"]))
    if kind == "list":
        return "[" + ", ".join(_value(draw, depth + 1) for _ in range(draw(st.integers(0, 3)))) + "]"
    inner = ", ".join(f"{draw(st.sampled_from(KEYS))} = {_value(draw, depth + 1)}" for _ in range(draw(st.integers(0, 3))))
    return "{" + inner + "}"


@st.composite
def toml_documents(draw):
    lines = []
    for _ in range(draw(st.integers(0, 8))):
        choice = draw(st.integers(0, 9))
        if choice < 6:
            lines.append(f"{draw(st.sampled_from(KEYS))} = {_value(draw)}")
        elif choice < 8:
            lines.append(f"[[{draw(st.sampled_from(['samples', 'layers', 'optimizer']))}]]")
        else:
            lines.append(draw(st.text(max_size=20)))
    return "\n".join(lines) + "\n"


@st.composite
def mutated_samples(draw):
    lines = draw(st.sampled_from(SAMPLE_TEXTS)).splitlines()
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "number", "word", "truncate", "char"]))
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "number":
            numbers = list(re.finditer(r"-?\d+(\.\d+)?(e-?\d+)?", lines[i]))
            if numbers:
                m = numbers[draw(st.integers(0, len(numbers) - 1))]
                lines[i] = lines[i][:m.start()] + draw(st.sampled_from(NUMBERS)) + lines[i][m.end():]
        elif op == "word":
            lines[i] = re.sub(r'"[a-z_]+"', '"' + draw(st.sampled_from(WORDS)) + '"', lines[i], count=1)
        elif op == "truncate":
            lines[i] = lines[i][: draw(st.integers(0, max(len(lines[i]) - 1, 0)))]
        else:
            j = draw(st.integers(0, max(len(lines[i]) - 1, 0)))
            lines[i] = lines[i][:j] + draw(st.sampled_from(list("[]{}=\",.#x0"))) + lines[i][j + 1:]
    return "\n".join(lines) + "\n"


def _assert_clean_runs(tmp_path_factory, content, commands):
    """Write a spec and run each command on it: exit 0, 1 or 2, never a traceback."""
    from typer.testing import CliRunner

    path = tmp_path_factory.mktemp("fuzz") / "spec.toml"
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    runner = CliRunner()
    for command in commands:
        _assert_clean(runner.invoke(app, [*command, str(path)]))


def _assert_clean(result):
    assert result.exit_code in (0, 1, 2), (result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.function_scoped_fixture])


@FUZZ
@given(toml_documents())
def test_random_documents(tmp_path_factory, text):
    _assert_clean_runs(tmp_path_factory, text, (["run"], ["validate"]))


@FUZZ
@given(mutated_samples())
def test_mutated_samples(tmp_path_factory, text):
    _assert_clean_runs(tmp_path_factory, text, (["run"], ["gradcheck"]))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes(tmp_path_factory, data):
    _assert_clean_runs(tmp_path_factory, data, (["run"],))
