import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent

# The tests read English unless they ask for a language (--lang, lang=): a Korean locale on the machine
# that runs them must not change what `bptrace run` prints (bptrace.i18n reads these variables).
for _var in ("LC_ALL", "LC_MESSAGES"):
    os.environ.pop(_var, None)
os.environ["LANG"] = "C.UTF-8"
SAMPLES = ROOT / "samples"

# Every number published in shared/reference/worked-example.md (the Korean blog post's example),
# by bptrace's name for it; "+" marks values after the update (the post's w5⁺ and its final check).
PUBLISHED = {
    "z1": 0.08, "z2": 0.11, "h1": 0.51998934, "h2": 0.52747230,
    "z3": 0.44498412, "z4": 0.68047592, "o1": 0.60944600, "o2": 0.66384491,
    "E_o1": 0.02193381, "E_o2": 0.00203809, "E_total": 0.02397190,
    "dE_total/do1": 0.20944600, "do1/dz3": 0.23802157, "dz3/dw5": 0.51998934,
    "dE_total/dw5": 0.02592286, "dE_total/dw6": 0.02629590,
    "dE_total/do2": 0.06384491, "do2/dz4": 0.22315485,
    "dE_total/dw7": 0.00740844, "dE_total/dw8": 0.00751506,
    "w5+": 0.43703857, "w6+": 0.38685205, "w7+": 0.69629578, "w8+": 0.59624247,
    "dE_o1/dh1": 0.02243370, "dE_o2/dh1": 0.00997311, "dE_total/dh1": 0.03240681,
    "dh1/dz1": 0.24960043, "dE_total/dw1": 0.00080888, "dE_total/dw2": 0.00161775,
    "dE_o1/dh2": 0.01994107, "dE_o2/dh2": 0.00854838, "dE_total/dh2": 0.02848945,
    "dh2/dz2": 0.24924527, "dE_total/dw3": 0.00071009, "dE_total/dw4": 0.00142017,
    "w1+": 0.29959556, "w2+": 0.24919112, "w3+": 0.39964496, "w4+": 0.34928991,
    "z1+": 0.07979778, "z2+": 0.10982248, "h1+": 0.51993887, "h2+": 0.52742806,
    "z3+": 0.43126996, "z4+": 0.67650625, "o1+": 0.60617688, "o2+": 0.66295848,
    "E_o1+": 0.02125445, "E_o2+": 0.00198189, "E_total+": 0.02323634,
}

BLOG = {
    "title": "worked example", "loss": "half_sse", "learning_rate": 0.5,
    "samples": [{"x": [0.1, 0.2], "target": [0.4, 0.6]}],
    "layers": [
        {"activation": "sigmoid", "weights": [[0.3, 0.25], [0.4, 0.35]]},
        {"activation": "sigmoid", "weights": [[0.45, 0.4], [0.7, 0.6]]},
    ],
}


def numbers_in(text: str) -> list[float]:
    """Every decimal number printed in a text (ASCII or Unicode minus)."""
    return [float(t.replace("−", "-")) for t in re.findall(r"[-−]?\d+\.\d+(?:e[-+]?\d+)?", text)]


class Runner(CliRunner):
    """Typer's CliRunner, building the Click command the way `bptrace` does (terminal.entry): only the
    command that runs (terminal.only_the_command), not all thirteen at each invocation."""

    def invoke(self, app, args=None, *rest, **kwargs):
        from bptrace.terminal import only_the_command

        if isinstance(args, (list, tuple)):
            app = only_the_command(app, [str(a) for a in args])
        return super().invoke(app, args, *rest, **kwargs)


@pytest.fixture
def runner():
    return Runner()


# ------------------------------------------------------------------ the quick suite and the full one
# `pytest` runs the quick suite; `pytest --all` (and any run with CI set, as .ci/run's is) adds the tests
# marked slow (property tests, PyTorch, long runs) or engines (KaTeX, Mermaid, pdflatex, Chromium).
FULL_ONLY = ("slow", "engines")


def pytest_addoption(parser):
    parser.addoption("--all", action="store_true", help="also run the slow tests and the rendering engines "
                     "(property tests, PyTorch, KaTeX, Mermaid, pdflatex, Chromium); CI always does")


def _full(config) -> bool:
    return bool(config.getoption("--all") or os.environ.get("CI") or config.getoption("markexpr"))


def pytest_collection_modifyitems(config, items):
    if _full(config):
        return
    kept, left = [], []
    for item in items:
        (left if any(m in item.keywords for m in FULL_ONLY) else kept).append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept
        config._bptrace_left = len(left)
        if hasattr(config, "workeroutput"):  # a pytest-xdist worker: the controller writes the summary
            config.workeroutput["bptrace_left"] = len(left)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """pytest-xdist: a worker has finished; each collected (and left out) the same tests."""
    left = getattr(node, "workeroutput", {}).get("bptrace_left", 0)
    node.config._bptrace_left = max(getattr(node.config, "_bptrace_left", 0), left)


def pytest_terminal_summary(terminalreporter, config):
    left = getattr(config, "_bptrace_left", 0)
    if left:
        terminalreporter.write_line(f"{left} slow or engine tests not run: `pytest --all` runs them (CI does)")


@pytest.fixture
def spawn():
    """subprocess.Popen for a long-running bptrace: the child starts with the default signal handlers
    (a test run started as a background job ignores SIGINT, which bptrace would keep), and any child
    still running when the test ends is killed (a failed test must not leave a run filling the disk)."""
    import signal
    import subprocess

    children = []

    def start(args, preexec=None, **kwargs):
        def defaults():
            for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
                signal.signal(s, signal.SIG_DFL)
            if preexec is not None:
                preexec()

        proc = subprocess.Popen(args, preexec_fn=defaults, **kwargs)
        children.append(proc)
        return proc

    yield start
    for proc in children:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
