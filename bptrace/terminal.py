"""The CLI's terminal: its consoles, Click's messages made safe, and the one error boundary.

CLI-side only (rich and Typer live here): a BptraceError becomes one line on stderr and its exit
code; a UsageError's parameter (`watch`, `learning_rate`) is shown as its flag (`--watch`, `--lr`).
"""

from __future__ import annotations

import math
import os
import re
import sys
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape

from . import ascii as _ascii
from .errors import BptraceError, UsageError, clip, safe_text

try:  # typer >= 0.2x carries its own copy of click
    from typer._click import exceptions as click_exceptions
    from typer._click.globals import get_current_context
except ImportError:  # pragma: no cover
    from click import exceptions as click_exceptions
    from click import get_current_context
from typer.core import TyperArgument, TyperGroup


class _Group(TyperGroup):
    """Click's own messages (unknown option, bad value) echo the command line: escape its control characters."""

    def make_context(self, *args, **kwargs):
        with _safe_click_messages():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx):
        with _safe_click_messages():
            return super().invoke(ctx)


@contextmanager
def _safe_click_messages():
    try:
        yield
    except click_exceptions.ClickException as e:
        e.message = safe_text(e.message)
        raise


_typer_metavar = TyperArgument.make_metavar


def _plain_metavar(self, *args, **kwargs) -> str:
    """Usage lines read `check [OPTIONS] SPEC ANSWERS`, as POSIX writes them (Typer writes `{SPEC}`)."""
    var = _typer_metavar(self, *args, **kwargs)
    return var[1:-1] if var.startswith("{") and var.endswith("}") else var


TyperArgument.make_metavar = _plain_metavar

MIN_WIDTH, MAX_WIDTH = 40, 1000  # columns bptrace lays out for, whatever COLUMNS or the terminal says


def _drop_unusable_sizes(env=os.environ) -> None:
    """Remove a COLUMNS or LINES that is not a whole number > 0 in ASCII digits: rich (every Console in
    the process, the exports' too) would call int('²') or lay out for 0 columns."""
    for key in ("COLUMNS", "LINES"):
        value = env.get(key)
        if value is not None and not (value.isascii() and value.isdigit() and len(value) <= 5 and int(value) > 0):
            del env[key]


class _Console(Console):
    """On a stream that cannot encode Unicode, what is printed is made ASCII before rich measures it
    (render.plain), so columns keep their width (the codec's … -> ... would come after the layout)."""

    def print(self, *objects, **kwargs):
        if not self.encoding.startswith("utf"):
            from .render.plain import asciify

            objects = tuple(map(asciify, objects))
        super().print(*objects, **kwargs)


def _console(stderr: bool = False) -> Console:
    from .outputs import TrimmedLines

    console = _Console(stderr=True) if stderr else _Console(file=TrimmedLines(lambda: sys.stdout))
    if console.width < MIN_WIDTH:  # COLUMNS=2: not a real width; lay out as for a standard terminal
        console.width = 80
    console.width = min(console.width, MAX_WIDTH)
    return console


_ascii.install(sys.stdout, sys.stderr)  # a stream that cannot encode ∂ or box drawing gets d and - | +
_drop_unusable_sizes()
out = _console()
err = _console(stderr=True)

# Parameters whose flag is not "--" + the name with "_" as "-" (the one place they are mapped)
FLAGS = {"learning_rate": "--lr"}


def flag(param: str) -> str:
    return FLAGS.get(param, "--" + param.replace("_", "-"))


def for_cli(e: BptraceError) -> str:
    """The message as the CLI shows it: a leading parameter name becomes its flag."""
    text, param = str(e), getattr(e, "param", None)
    if param and text.startswith(param) and text[len(param):][:1] in (" ", ":"):
        text = flag(param) + text[len(param):]
    return safe_text(text)


@contextmanager
def user_errors():
    """The one error boundary: a BptraceError becomes one message (one line, no control characters)
    and its exit code. The running command's options are checked first."""
    try:
        _check_options()
        yield
    except BptraceError as e:
        err.print(f"[bold red]error:[/] {escape(for_cli(e))}", highlight=False, soft_wrap=True)
        raise typer.Exit(e.exit_code) from None


DIGIT_OPTIONS = ("batch", "show")  # text options that hold whole numbers: ASCII digits only ('²'.isdigit() is True)


def _check_options() -> None:
    """Every float option must be finite (--tol nan would pass every check); numbers in text options are 0-9."""
    ctx = get_current_context(silent=True)
    if ctx is None:
        return
    for param in ctx.command.params:
        value, flag = ctx.params.get(param.name), max(param.opts, key=len)
        if param.param_type_name == "argument":
            flag = (param.metavar or param.name).upper()
        if any(isinstance(v, str) and "\x00" in v for v in (value if isinstance(value, (list, tuple)) else [value])):
            raise UsageError(f"{flag}: contains a NUL character (U+0000), which no file name or option value can hold")
        if isinstance(value, float) and not math.isfinite(value):
            raise UsageError(f"{flag}: expected a finite number, got {value}")
        if param.name in DIGIT_OPTIONS and isinstance(value, str):
            if not value.isascii():
                raise UsageError(f"{flag}: numbers are written with the digits 0-9, got '{clip(value)}'")
            if re.search(r"\d{19}", value):  # int() of 5,000 digits raises; nothing here needs more than 18
                raise UsageError(f"{flag}: expected whole numbers of at most 18 digits, got '{clip(value)}'")




def report(paths) -> None:
    """'wrote PATH' on stderr, for each file written."""
    for path in paths:
        err.print(f"[dim]wrote {escape(safe_text(path))}[/]", highlight=False, soft_wrap=True)


def entry(app) -> None:
    """The entry point: signals and broken output end the run cleanly (exit 128+N, or 1 for a failed write)."""
    from . import atomic, signals
    from .outputs import guard_stdout

    guard_stdout()
    signals.install()
    try:
        with user_errors():  # also a failed write outside a command's boundary (schema's output)
            try:
                app()
            finally:
                sys.stdout.flush()  # what is still buffered may fail only now
    except signals.Stopped as e:
        atomic.cleanup()
        if e.message():
            try:
                err.print(e.message(), highlight=False)
            except OSError:
                pass  # the terminal is gone (SIGHUP)
        sys.exit(e.exit_code)
    except typer.Exit as e:
        sys.exit(e.exit_code)

