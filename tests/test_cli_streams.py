"""What reaches the terminal: --ascii (and an ASCII-only stream) never lets a non-ASCII byte through,
and a reader that leaves a pipe early ends bptrace as the README says."""

import os
import subprocess
import sys

import numpy as np
import pytest

from bptrace.cli import app
from conftest import ROOT

SAMPLES = ["adam", "blog", "deep", "softmax", "xor"]


def _is_ascii(text: str) -> bool:
    return all(ord(ch) < 128 for ch in text)


def _per_sample(name):
    return [["run", name], ["step", name, "-n", "3", "--show", "first,last"], ["check", name, "blog-answers"],
            ["gradcheck", name], ["validate", name], ["samples", name], ["run", name, "-o", "-", "-f", "md"]]


def _others(tmp_path):
    model = tmp_path / "model.npz"
    np.savez(model, W1=np.array([[0.3, 0.25], [0.4, 0.35]]), W2=np.array([[0.45, 0.4], [0.7, 0.6]]))
    return [["verify", "blog"], ["import", str(model), "-a", "sigmoid,sigmoid"], ["init", str(tmp_path / "n.toml")],
            ["samples"], ["schema"], ["docs"], ["docs", "worked-example"], ["--help"], ["rnu"],
            ["step", "--until-loss", "-1"], ["run", "xorr"], ["run", "--sample", "²"], ["check"],
            ["step", "deep", "--lr", "1e6", "-n", "50"]]


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
@pytest.mark.parametrize("name", SAMPLES)
def test_ascii_option_on_every_command_and_sample(runner, name):
    for args in _per_sample(name) + [[command, "--help"] for command in ("run", "step", "check", "gradcheck")]:
        result = runner.invoke(app, [*args, "--ascii"])
        assert result.exit_code in (0, 1, 2, 3), (args, result.output)
        assert _is_ascii(result.output), (args, [ch for ch in result.output if ord(ch) > 127][:5])


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
def test_ascii_option_on_the_other_commands(runner, tmp_path):
    for args in _others(tmp_path):
        result = runner.invoke(app, [*args, "--ascii"] if args[0] != "--help" else args + ["--ascii"])
        assert _is_ascii(result.output), (args, [ch for ch in result.output if ord(ch) > 127][:5])


def test_without_ascii_the_notation_is_unicode(runner):
    """The check above can fail: the same commands print ∂, ─ and … when not asked for ASCII."""
    run = runner.invoke(app, ["run"]).output
    assert "∂E_total/∂w5" in run and "─" in run
    assert "dE_total/dw5" in runner.invoke(app, ["run", "--ascii"]).output
    assert "≥" in runner.invoke(app, ["step", "--until-loss", "-1"]).output
    assert "error: --until-loss: expected a number >= 0, got -1" in runner.invoke(
        app, ["step", "--until-loss", "-1", "--ascii"]).output


def _bptrace(*args, **env):
    environ = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "PYTHONIOENCODING")}
    return subprocess.run([sys.executable, "-m", "bptrace", *args], capture_output=True, env={**environ, **env},
                          timeout=300)


@pytest.mark.parametrize("args", [["step", "deep", "-n", "3", "--show", "last"], ["docs", "spec"], ["schema"],
                                  ["samples", "xor"], ["frobnicate"], ["gradcheck", "softmax"]])
@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
def test_ascii_in_a_real_process(args, tmp_path):
    for proc in (_bptrace(*args, "--ascii"), _bptrace(*args, PYTHONIOENCODING="ascii")):
        assert proc.returncode in (0, 2) and b"Traceback" not in proc.stderr
        proc.stdout.decode("ascii"), proc.stderr.decode("ascii")  # raises on any byte >= 128


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_ascii_progress_bar_on_a_terminal():
    """On a terminal the progress bar and tables are drawn: with --ascii, in ASCII."""
    import pty

    def on_a_terminal(*args):
        master, slave = pty.openpty()
        env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}
        proc = subprocess.Popen([sys.executable, "-m", "bptrace", *args], stdin=slave, stdout=slave, stderr=slave,
                                env={**env, "TERM": "xterm", "COLUMNS": "80"})
        os.close(slave)
        chunks = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child has closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        os.close(master)
        assert proc.wait(timeout=300) == 0
        return b"".join(chunks)

    plain = on_a_terminal("step", "xor", "-n", "60000", "-q")
    assert any(byte >= 128 for byte in plain)  # the bar and the table rules, in Unicode
    ascii_ = on_a_terminal("step", "xor", "-n", "60000", "-q", "--ascii")
    assert b"epoch" in ascii_ and all(byte < 128 for byte in ascii_)


# ------------------------------------------------------------------ a reader that leaves the pipe

def _piped_into_head(*args):
    """`bptrace ARGS | head -1` through a real pipe: (bptrace's exit code, its stderr, head's output)."""
    bp = subprocess.Popen([sys.executable, "-m", "bptrace", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    head = subprocess.Popen(["head", "-1"], stdin=bp.stdout, stdout=subprocess.PIPE)
    bp.stdout.close()  # head alone holds the reading end
    first = head.communicate(timeout=300)[0]
    return bp.wait(timeout=300), bp.stderr.read(), first


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes and head")
def test_output_cut_short_by_the_reader_exits_141_quietly():
    """Megabytes (far more than a pipe holds): head leaves after one line, bptrace's next write fails."""
    code, err, first = _piped_into_head("step", "xor", "-n", "8", "--show", "all")  # about 300 KB
    assert (code, err) == (141, b"") and first.strip()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes")
def test_output_the_pipe_took_whole_exits_0():
    """The trace (about 7 KB) fits in a pipe: every write succeeds before the reader reads a line and
    leaves, so nothing was lost and the exit is 0, as for `cat`."""
    read_end, write_end = os.pipe()
    bp = subprocess.Popen([sys.executable, "-m", "bptrace", "run"], stdout=write_end, stderr=subprocess.PIPE)
    os.close(write_end)
    code = bp.wait(timeout=300)  # the reader has not read a byte yet
    with os.fdopen(read_end, "rb") as reader:
        first = reader.readline()
    assert (code, bp.stderr.read()) == (0, b"") and first.strip()


def test_the_readme_says_what_the_pipe_tests_show():
    readme = (ROOT / "README.md").read_text()
    assert "as in `bptrace run | head -1`" not in readme
    assert "test_output_cut_short_by_the_reader_exits_141_quietly" in readme
    assert "test_output_the_pipe_took_whole_exits_0" in readme


def test_ascii_before_the_command(runner):
    """`bptrace --ascii COMMAND` is the same as `bptrace COMMAND --ascii`."""
    top = runner.invoke(app, ["--ascii", "--help"])
    assert top.exit_code == 0 and "--ascii" in top.output and _is_ascii(top.output)
    run = runner.invoke(app, ["--ascii", "run"])
    assert run.exit_code == 0 and "dE_total/dw5" in run.output and _is_ascii(run.output)
