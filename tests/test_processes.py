"""Every command once as a real process (`python -m bptrace ...`), in the quick suite.

The other quick tests drive the commands in-process (Typer's CliRunner); this one proves the entry
point, the error boundary and the exit codes of each command end to end. The processes run side by
side, so the whole check takes about as long as a few bptrace start-ups."""

import subprocess
import sys

from conftest import PUBLISHED


def test_every_command_as_a_real_process(tmp_path):
    (tmp_path / "answers.toml").write_text(f"z1 = {PUBLISHED['z1']}\nh1 = {PUBLISHED['h1']}\n")
    commands = {  # command: (arguments, exit code, text its stdout or stderr holds)
        "run": (["run"], 0, "Worked example"),
        "step": (["step", "xor", "-n", "3", "-q"], 0, "loss"),
        "check": (["check", "blog", "answers.toml"], 0, "z1"),
        "quiz": (["quiz", "--out", "quiz"], 0, "exercise.md"),
        "gradcheck": (["gradcheck"], 0, "w5"),
        "verify": (["verify", "xor", "--sample", "5"], 2, "--sample 5: xor.toml (built-in) has 4 samples"),
        "explore": (["explore"], 2, "explore is interactive"),
        "import": (["import", "missing.npz", "-a", "sigmoid"], 2, "missing.npz"),
        "init": (["init", "n.toml"], 0, "wrote n.toml"),
        "validate": (["validate", "xor"], 0, "is a valid spec"),
        "samples": (["samples"], 0, "han-kamber"),
        "schema": (["schema"], 0, '"$schema"'),
        "docs": (["docs"], 0, "worked-example"),
    }
    procs = {name: subprocess.Popen([sys.executable, "-m", "bptrace", *args], cwd=tmp_path, text=True,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for name, (args, _, _) in commands.items()}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        _, code, text = commands[name]
        assert proc.returncode == code, (name, err)
        assert text in out + err, (name, out, err)
        assert "Traceback" not in err, name
    assert (tmp_path / "n.toml").exists() and (tmp_path / "quiz" / "key.md").exists()


def test_typer_builds_only_the_running_command():
    from bptrace.cli import app
    from bptrace.terminal import only_the_command

    assert [c.callback.__name__ for c in only_the_command(app, ["run", "--sample", "1"]).registered_commands] == ["run"]
    assert [c.name for c in only_the_command(app, ["--ascii", "import", "m.npz"]).registered_commands] == ["import"]
    for argv in ([], ["--help"], ["-V"], ["rnu"]):  # help, version and a mistyped name see every command
        assert only_the_command(app, argv) is app
    assert len(app.registered_commands) == 13  # the app itself is left whole


def test_a_scalar_run_imports_only_what_it_shows():
    """`bptrace run` (start-up ≤ 1.5× the import floor is the aim): no matrix form, no trainer, no
    exports' renderers, no Textual, no rich emoji table."""
    code = ("import sys\nsys.argv = ['bptrace', 'run']\nfrom bptrace.cli import main\ntry:\n    main()\n"
            "except SystemExit:\n    pass\nprint(' '.join(sorted(sys.modules)), file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    loaded = set(proc.stderr.split())
    assert "bptrace.tracer" in loaded and "bptrace.render.tables" in loaded  # it did run
    for module in ("bptrace.matrix", "bptrace.trainer", "bptrace.fastpath", "bptrace.exports.markdown",
                   "textual", "rich._emoji_codes", "bptrace.quiz"):
        assert module not in loaded, module
