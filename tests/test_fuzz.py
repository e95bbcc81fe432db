"""Fuzzing: random TOML documents and random mutations of the valid samples, fed to the CLI.

Every run must end with exit code 0, 1 or 2 and never a traceback. The hostile part (marked
`slow`) adds huge integers, nan, control characters, deep nesting, odd digits and out-of-range
option values, for every command, and also requires: no Python repr and no control
character from the input on stdout or stderr.
"""

import re

import pytest
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
    assert result.exit_code in (0, 1, 2, 3), (result.exit_code, result.output)  # 3: the run diverged (README)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.function_scoped_fixture])


@pytest.mark.slow
@FUZZ
@given(toml_documents())
def test_random_documents(tmp_path_factory, text):
    _assert_clean_runs(tmp_path_factory, text, (["run"], ["validate"]))


@pytest.mark.slow
@FUZZ
@given(mutated_samples())
def test_mutated_samples(tmp_path_factory, text):
    _assert_clean_runs(tmp_path_factory, text, (["run"], ["gradcheck"]))


@pytest.mark.slow
@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes(tmp_path_factory, data):
    _assert_clean_runs(tmp_path_factory, data, (["run"],))


# ---------------------------------------------------------------- hostile input for every command

HUGE = ["1" + "0" * 400, "-1" + "0" * 400, "1" + "0" * 5000, "0x" + "f" * 300, "1" + "0" * 30]
HOSTILE = [*HUGE, "nan", "-inf", "1e999", "0.08e-99999999999999999999", "1979-05-27", "07:32:00",
           '"\\u001b[2J\\u001b]0;pwned\\u001b\\\\"', '"\\u0000"', '"\\u009b31m"', '"a\\nb\\t---\\n# c"',
           '"\\u0007\\u0008\\u007f"', "[" * 60 + "]" * 60, "[" * 400 + "1" + "]" * 400, "{a = {b = {c = 1}}}",
           '"' + "x" * 3000 + '"', "0", "-0.0", "1e-320", "true"]
CONTROLS = set(chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]) - set("\n\t")
OPTION_VALUES = ["nan", "inf", "-inf", "1e400", "-1", "0", "²", "٣", "", " ", "1" + "0" * 400, "1" + "0" * 5000,
                 "first,last", "all", "full", "2", "0.5", "1e-320", "\x1b[2J", "\x00", "seed", "layered", "\u009b"]
OPTIONS = {  # command -> options it takes (files and --epochs stay fixed so each run is short)
    "run": ["--sample", "--precision", "--lr", "--naming", "--format"],
    "step": ["--batch", "--show", "--every", "--watch", "--until-loss", "--seed", "--lr", "--precision", "--naming"],
    "gradcheck": ["--sample", "--tol", "--atol", "--eps", "--precision", "--naming"],
    "check": ["--precision", "--naming"],
    "validate": [],
}
ANSWER_KEYS = ["z1", "h1", '"dE_total/dw5"', '"∂E_total/∂w5"', '"w5+"', '"w5⁺"', "epoch", "sample", '"δ_o1"',
               '"\\u001b[2J"', '"' + "k" * 300 + '"', "E_total"]


def _hostile_line(draw, line: str) -> str:
    """Replace one value on a `key = value` line with a hostile one."""
    if "=" not in line or line.lstrip().startswith("#"):
        return line
    key = line.split("=", 1)[0]
    return f"{key}= {draw(st.sampled_from(HOSTILE))}"


@st.composite
def hostile_specs(draw):
    lines = draw(st.sampled_from(SAMPLE_TEXTS)).splitlines()
    values = [i for i, line in enumerate(lines) if "=" in line and not line.lstrip().startswith("#")]
    inject = draw(st.booleans())
    for _ in range(draw(st.integers(0 if inject else 1, 2))):
        i = draw(st.sampled_from(values))
        lines[i] = _hostile_line(draw, lines[i])
    if inject:  # the text a spec carries to the screen: its title, and its keys
        where = draw(st.sampled_from(["title", "key"]))
        text = draw(st.sampled_from([v for v in HOSTILE if v.startswith('"')]))
        lines.insert(0, f"title = {text}" if where == "title" else f"{text} = 1")
        lines = [line for i, line in enumerate(lines) if i == 0 or not line.startswith("title")]
    text = "\n".join(lines) + "\n"
    return ("\ufeff" if draw(st.booleans()) else "") + text


@st.composite
def hostile_answers(draw):
    pairs = [f"{draw(st.sampled_from(ANSWER_KEYS))} = {draw(st.sampled_from([*HOSTILE, '0.08', '0.02592286', '0.1', '2']))}"
             for _ in range(draw(st.integers(1, 4)))]
    return "\n".join(pairs) + "\n"


@st.composite
def invocations(draw):
    command = draw(st.sampled_from(sorted(OPTIONS)))
    args = [command]
    if command == "step":
        args += ["-n", "3"]
    chosen = draw(st.lists(st.sampled_from(OPTIONS[command]), max_size=3, unique=True)) if OPTIONS[command] else []
    for option in chosen:
        args += [option, draw(st.one_of(st.sampled_from(OPTION_VALUES), st.text(max_size=6)))]
    return args


def _assert_hostile_clean(result, given: str):
    assert result.exit_code in (0, 1, 2, 3, 130), (result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    for stream in (result.stdout, result.stderr):
        assert "Traceback" not in stream
        assert not re.search(r"Decimal\(|datetime\.|<class |Error\(", stream), stream[:500]  # no Python reprs
        leaked = CONTROLS & set(given) & set(stream)
        assert not leaked, (sorted(map(hex, map(ord, leaked))), stream[:500])


def _unescaped(text: str) -> str:
    """The characters a TOML text stands for, escapes included (what could reach the output)."""
    return text + re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)


HOSTILE_FUZZ = settings(max_examples=70, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                             HealthCheck.function_scoped_fixture])


@pytest.mark.slow
@HOSTILE_FUZZ
@given(hostile_specs(), st.sampled_from([["run"], ["step", "-n", "2"], ["gradcheck"], ["validate"]]))
def test_hostile_specs(tmp_path_factory, text, command):
    from typer.testing import CliRunner

    path = tmp_path_factory.mktemp("hostile") / "spec.toml"
    path.write_text(text, encoding="utf-8")
    _assert_hostile_clean(CliRunner().invoke(app, [*command, str(path)]), _unescaped(text))


@pytest.mark.slow
@settings(HOSTILE_FUZZ, max_examples=40)
@given(hostile_answers())
def test_hostile_answers(tmp_path_factory, text):
    from typer.testing import CliRunner

    path = tmp_path_factory.mktemp("answers") / "answers.toml"
    path.write_text(text, encoding="utf-8")
    _assert_hostile_clean(CliRunner().invoke(app, ["check", "blog", str(path)]), _unescaped(text))


@pytest.mark.slow
@settings(HOSTILE_FUZZ, max_examples=40)
@given(invocations())
def test_hostile_options(tmp_path_factory, args):
    from typer.testing import CliRunner

    answers = tmp_path_factory.mktemp("opts") / "answers.toml"
    answers.write_text("z1 = 0.08\n")
    files = ["blog", str(answers)] if args[0] == "check" else ["blog"]
    _assert_hostile_clean(CliRunner().invoke(app, [*args, *files]), "".join(args))
