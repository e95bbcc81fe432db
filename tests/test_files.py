"""Export targets and `init` never damage anything: special files are written through, a target named
twice or an input file is refused, long names work, and of racing `init`s exactly one wins."""

import json
import os
import stat
import subprocess
import sys
import threading

import pytest

from bptrace import outputs, samples
from bptrace.cli import app
from conftest import ROOT

SPEC = (ROOT / "samples" / "blog.toml").read_text()


def _names(folder):
    return sorted(p.name for p in folder.iterdir())


def _char_device(path):
    """A private copy of /dev/null (same major/minor), so a regression damages only a test file."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, OSError) as e:
        pytest.skip(f"cannot create a character device here: {e}")


def test_character_device_is_written_through_not_replaced(tmp_path, runner):
    dev = tmp_path / "null"
    _char_device(dev)
    result = runner.invoke(app, ["run", "--export", str(dev), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert stat.S_ISCHR(os.stat(dev).st_mode) and os.stat(dev).st_rdev == os.makedev(1, 3)
    assert _names(tmp_path) == ["null"]  # no temporary file beside it


def test_fifo_is_written_through(tmp_path, runner):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    result = runner.invoke(app, ["run", "--export", str(fifo), "--format", "json"])
    reader.join(timeout=60)
    if reader.is_alive():  # never opened for writing (replaced by a file): release the reader
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert result.exit_code == 0, result.output
    assert json.loads(got[0])["schema"] == "bptrace.trace/1"
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and _names(tmp_path) == ["pipe"]


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
@pytest.mark.parametrize("target", ["stdout.md", "/dev/fd/1", "/proc/self/fd/1"])
def test_own_stdout_is_written_through(tmp_path, target):
    """stdout a regular file (`> out.txt`): the export is appended after the tables, never renamed over it.
    /dev/stdout is reached through a symlink in tmp_path: a regression then replaces the link, not the
    machine's /dev/stdout (the old code did exactly that)."""
    os.symlink("/dev/stdout", tmp_path / "stdout.md")
    out = tmp_path / "out.txt"
    with open(out, "w") as f:
        proc = subprocess.run([sys.executable, "-m", "bptrace", "run", "--export", target, "--format", "md"],
                              stdout=f, stderr=subprocess.PIPE, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert "Forward pass" in text and "$$" in text  # the tables and the Markdown, both in the one file
    assert _names(tmp_path) == ["out.txt", "stdout.md"] and os.readlink(tmp_path / "stdout.md") == "/dev/stdout"


def test_symlink_replaces_its_target_not_the_link(tmp_path, runner, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "real.json").write_text("old\n")
    os.chmod(tmp_path / "real.json", 0o640)
    os.symlink("real.json", tmp_path / "link.json")
    assert runner.invoke(app, ["run", "--export", "link.json"]).exit_code == 0
    assert os.readlink(tmp_path / "link.json") == "real.json"
    assert json.loads((tmp_path / "real.json").read_text())["schema"] == "bptrace.trace/1"
    assert stat.S_IMODE(os.stat(tmp_path / "real.json").st_mode) == 0o640
    assert _names(tmp_path) == ["link.json", "real.json"]


@pytest.mark.parametrize("second", ["a.json", "./a.json", "sub/../a.json", "link.json", "hard.json"])
@pytest.mark.parametrize("exists", [False, True])
def test_same_target_twice_is_refused_before_any_work(tmp_path, runner, monkeypatch, second, exists):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    if exists:
        (tmp_path / "a.json").write_text("old\n")
    os.symlink("a.json", tmp_path / "link.json")
    if second == "hard.json":
        if not exists:
            pytest.skip("a hard link needs an existing file")
        os.link(tmp_path / "a.json", tmp_path / "hard.json")
    before = _names(tmp_path)
    result = runner.invoke(app, ["run", "--export", "a.json", "--export", second])
    assert result.exit_code == 2
    assert "give each target once" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert _names(tmp_path) == before  # no temporary file, no new file
    if exists:
        assert (tmp_path / "a.json").read_text() == "old\n"


def test_jsonl_named_twice_is_refused(tmp_path, runner, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["step", "xor", "--epochs", "3", "-q", "-o", "r.jsonl", "-o", "./r.jsonl"])
    assert result.exit_code == 2 and _names(tmp_path) == []


def test_names_differing_in_case(tmp_path, runner, monkeypatch):
    """Two files on a case-sensitive file system; one file (refused) where case is ignored."""
    monkeypatch.chdir(tmp_path)
    sensitive = not outputs._case_insensitive(str(tmp_path))
    result = runner.invoke(app, ["run", "-o", "A.json", "-o", "a.json"])
    assert result.exit_code == (0 if sensitive else 2)
    for f in tmp_path.iterdir():
        f.unlink()
    monkeypatch.setattr(outputs, "_case_insensitive", lambda folder: True)
    result = runner.invoke(app, ["run", "-o", "A.json", "-o", "a.json"])
    assert result.exit_code == 2 and "name the same file" in result.stderr and _names(tmp_path) == []


@pytest.mark.parametrize("command", [["run"], ["step", "--epochs", "2", "-q"]])
@pytest.mark.parametrize("target", ["spec.toml", "./spec.toml", "same.toml"])
def test_export_onto_the_input_spec_is_refused(tmp_path, runner, monkeypatch, command, target):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.toml").write_text(SPEC)
    os.symlink("spec.toml", tmp_path / "same.toml")
    result = runner.invoke(app, [command[0], "spec.toml", *command[1:], "--export", target, "--format", "md"])
    assert result.exit_code == 2 and "would overwrite the input file spec.toml" in result.stderr
    assert (tmp_path / "spec.toml").read_text() == SPEC
    assert _names(tmp_path) == ["same.toml", "spec.toml"]


def test_a_long_valid_name_works(tmp_path, runner):
    """NAME_MAX is 255 bytes: a 250-byte name is valid, and so must be the temporary file beside it."""
    target = tmp_path / ("a" * 245 + ".json")
    assert len(target.name) == 250
    result = runner.invoke(app, ["run", "--export", str(target)])
    assert result.exit_code == 0, result.output
    assert json.loads(target.read_text())["schema"] == "bptrace.trace/1" and _names(tmp_path) == [target.name]


def test_a_name_too_long_is_refused_before_any_work(tmp_path, runner):
    target = tmp_path / ("a" * 251 + ".json")
    result = runner.invoke(app, ["run", "--export", str(target)])
    assert result.exit_code == 2 and "the file name is 256 bytes long" in result.stderr and _names(tmp_path) == []


@pytest.mark.parametrize("target", ["blog.toml/x.json", "blog.toml/deeper/x.json"])
def test_a_file_used_as_a_folder(tmp_path, runner, monkeypatch, target):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "blog.toml").write_text(SPEC)
    result = runner.invoke(app, ["run", "--export", target])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: cannot write {target}: blog.toml is not a folder"


@pytest.mark.parametrize("path", ["", "   "])
def test_init_with_an_empty_path(tmp_path, runner, monkeypatch, path):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["init", path])
    assert result.exit_code == 2 and "PATH is empty" in result.stderr and "already exists" not in result.stderr
    assert _names(tmp_path) == []


def test_init_refuses_an_existing_file_and_force_replaces_it(tmp_path, runner, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "n.toml").write_text("mine\n")
    result = runner.invoke(app, ["init", "n.toml"])
    assert result.exit_code == 2 and "n.toml already exists; use --force" in result.stderr
    assert (tmp_path / "n.toml").read_text() == "mine\n"
    assert runner.invoke(app, ["init", "n.toml", "--force"]).exit_code == 0
    assert (tmp_path / "n.toml").read_text() == samples.starter() and _names(tmp_path) == ["n.toml"]


RACER = """
import os, sys, time
from bptrace.cli import main
while not os.path.exists("go"):
    time.sleep(0.001)
sys.argv = ["bptrace", "init", "race.toml"]
main()
"""


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
def test_concurrent_inits_exactly_one_wins(tmp_path):
    """Eight processes, released together: one writes the file, seven say it already exists."""
    procs = [subprocess.Popen([sys.executable, "-c", RACER], cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(8)]
    (tmp_path / "go").write_text("")
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0] + [2] * 7, results
    assert sum("wrote race.toml" in e for _, e in results) == 1
    assert sum("race.toml already exists" in e for _, e in results) == 7
    assert (tmp_path / "race.toml").read_text() == samples.starter()
    assert _names(tmp_path) == ["go", "race.toml"]


def test_stdout_named_twice_is_refused(runner):
    result = runner.invoke(app, ["run", "--export", "-", "--export", "-", "--format", "json"])
    assert result.exit_code == 2 and "--export - twice" in result.stderr and result.stdout == ""


def test_python_api_writes_through_a_device(tmp_path):
    import bptrace

    dev = tmp_path / "null"
    _char_device(dev)
    bptrace.export(bptrace.run(), dev, "json")
    assert stat.S_ISCHR(os.stat(dev).st_mode) and _names(tmp_path) == ["null"]


@pytest.mark.parametrize("make, message", [
    (lambda p: p.mkdir(), "it is a directory"),
    (lambda p: os.symlink(p.name, p), "too many levels of symbolic links"),
])
def test_targets_that_cannot_be_files(tmp_path, runner, make, message):
    target = tmp_path / "t.json"
    make(target)
    result = runner.invoke(app, ["run", "--export", str(target)])
    assert result.exit_code == 2 and result.stderr.strip() == f"error: cannot write {target}: {message}"
