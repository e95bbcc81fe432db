"""Signals that end a run (Ctrl-C, SIGTERM, SIGHUP, SIGQUIT, a closed pipe) unwind it like an exception.

Unwinding runs every `with` block on the way out, so temporary export files are removed; main() then
prints one line and exits with 128 + the signal number (130 for Ctrl-C, 143 for SIGTERM, 141, quietly,
for a reader that closed the pipe). A CLI-side helper: no domain logic.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager

FATAL = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT") if hasattr(signal, n))
SIGPIPE = getattr(signal, "SIGPIPE", 13)  # Windows has no SIGPIPE; the exit code stays 141


class Stopped(BaseException):
    """The run was stopped by a signal. A BaseException, so no `except Exception` swallows it."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum
        self.exit_code = 128 + signum

    def message(self) -> str:
        """One line for stderr; empty for a closed pipe (the Unix convention is to go quietly)."""
        if self.signum == SIGPIPE:
            return ""
        if self.signum == signal.SIGINT:
            return "interrupted"
        return f"stopped by {signal.Signals(self.signum).name}"


_stopping: list[int] = []  # the signal being handled: later ones are ignored while the run unwinds


def _raise(signum, frame) -> None:
    if _stopping:
        return
    _stopping.append(signum)
    raise Stopped(signum)


def install() -> None:
    """Make SIGINT, SIGTERM, SIGHUP and SIGQUIT unwind the program (call once, from main)."""
    _stopping.clear()
    for s in FATAL:
        if signal.getsignal(s) != signal.SIG_IGN:  # ignored at start (nohup, a background job): stays so
            signal.signal(s, _raise)


@contextmanager
def deferred():
    """Hold the fatal signals back while a temporary file is created, renamed or removed."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows: nothing to hold back
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, FATAL)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextmanager
def interruptible():
    """Ctrl-C sets a flag the training loop checks after each step; a second Ctrl-C stops at once."""
    pressed = []

    def handler(signum, frame):
        if pressed:
            raise Stopped(signum)
        pressed.append(True)

    try:
        if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
            raise ValueError("SIGINT is ignored (a background job)")
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # ignored, or not the main thread (e.g. inside a test runner's thread)
        yield lambda: False
        return
    try:
        yield lambda: bool(pressed)
    finally:
        signal.signal(signal.SIGINT, previous)
