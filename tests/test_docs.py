"""The README and --help stay in step: every command has help, and the README's reference matches it."""

import re

import pytest

from bptrace.cli import app
from conftest import ROOT

README = (ROOT / "README.md").read_text()
COMMANDS = sorted(c.name or c.callback.__name__ for c in app.registered_commands)


def test_commands_are_the_documented_ones():
    documented = sorted(re.findall(r"^\| `bptrace (\w+)", README, flags=re.M))
    assert documented == COMMANDS


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_matching_the_readme(runner, command):
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output
    info = next(c for c in app.registered_commands if (c.name or c.callback.__name__) == command)
    first_line = (info.callback.__doc__ or "").strip().splitlines()[0]
    assert first_line, f"{command} has no help"
    row = next(line for line in README.splitlines() if line.startswith(f"| `bptrace {command}"))
    assert first_line in row, (first_line, row)


def test_ci_runs_exactly_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    blocks = re.findall(r"```\n(.*?)\n```", README, flags=re.S)
    assert ci in blocks, ci
    assert any("bptrace run" in b and "pip install ." in b for b in blocks[:2])


def test_top_level_help(runner):
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output


def test_version_is_the_package_version(runner):
    import tomllib

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    for flag in ("--version", "-V"):
        result = runner.invoke(app, [flag])
        assert result.exit_code == 0 and result.stdout == f"bptrace {version}\n"


@pytest.mark.parametrize("command", COMMANDS)
def test_usage_lines_name_arguments_plainly(runner, command):
    usage = next(line for line in runner.invoke(app, [command, "--help"]).output.splitlines() if "Usage:" in line)
    assert "{" not in usage and "}" not in usage, usage


def test_every_test_the_reliability_section_names_exists():
    section = README.split("## Reliability", 1)[1].split("\n## ", 1)[0]
    named, current = [], None
    for ref in re.findall(r"`(tests/[\w/]+\.py)?(?:::(\w+))?`", section):
        path, test = ref
        current = path or current
        if path and not test:
            assert (ROOT / path).is_file(), path
        if test:
            named.append((current, test))
    assert len(named) >= 25
    for path, test in named:
        source = (ROOT / path).read_text()
        assert re.search(rf"^def {test}\(", source, flags=re.M), f"{path}::{test} is named in the README but does not exist"


def _excerpt(after: str) -> list[str]:
    block = README[README.index(after):]
    block = block[block.index("```\n") + 4:]
    return [line for line in block[:block.index("\n```")].splitlines() if line.strip() and line.strip() != "…"]


@pytest.mark.parametrize("after,args", [
    ("`bptrace run` (an excerpt", ["run"]),
    ("`bptrace run --form both` (an excerpt", ["run", "--form", "both"]),
    ("`bptrace run --lang ko` (an excerpt", ["run", "--lang", "ko"]),
    ("`bptrace run dropout` (an excerpt", ["run", "dropout"]),
    ("`bptrace run cnn` (an excerpt", ["run", "cnn"]),
    ("Here is the end of `bptrace step xor --epochs 5000 --every 1000`", ["step", "xor", "--epochs", "5000", "--every", "1000"]),
    ("`bptrace step vanishing --epochs 200 --health`:", ["step", "vanishing", "--epochs", "200", "--health"]),
])
def test_readme_terminal_excerpts_are_what_bptrace_prints(after, args):
    """Every line of the README's terminal excerpts is a line bptrace prints at 80 columns."""
    import subprocess
    import sys

    env = {**__import__("os").environ, "COLUMNS": "80"}
    printed = subprocess.run([sys.executable, "-m", "bptrace", *args], capture_output=True, text=True, env=env).stdout
    missing = [line for line in _excerpt(after) if line not in printed.splitlines()]
    assert missing == []
