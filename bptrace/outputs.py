"""Where output goes: the --export targets, and standard output guarded against write failures.

CLI-side I/O helpers (no domain logic): targets are checked and opened before any work and
committed together at the end; a failed write becomes one message and exit code 1; a reader that
closes the pipe ends the run quietly (exit 141).
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

from .errors import UsageError, WriteError, clip, safe_text
from .signals import SIGPIPE, Stopped, deferred


def identity(path: str) -> tuple:
    """What a path writes to, equal for two names of one file (./a, ../x/a, a symlink, a hard link):
    ("file", device, inode) of an existing file, else ("new", the real folder's device and inode, name)."""
    if path == "-":
        try:
            st = os.fstat(sys.stdout.fileno())
            return ("file", st.st_dev, st.st_ino)
        except (OSError, AttributeError, ValueError):
            return ("stdout",)
    try:
        st = os.stat(path)
        return ("file", st.st_dev, st.st_ino)
    except OSError:
        pass
    folder, name = os.path.split(os.path.realpath(path))
    try:
        st = os.stat(folder)
    except OSError:
        return ("path", os.path.join(folder, name))
    return ("new", st.st_dev, st.st_ino, name, folder)


def _same(a: tuple, b: tuple) -> bool:
    """Two identities name one target: equal, or new names differing only in case where case is ignored."""
    if a[:4] == b[:4]:
        return True
    return (a[0] == b[0] == "new" and a[1:3] == b[1:3] and a[3].casefold() == b[3].casefold()
            and _case_insensitive(a[4]))


@functools.cache
def _case_insensitive(folder: str) -> bool:
    """Does this folder's file system ignore case? (A probe file, looked up in upper case.)"""
    import tempfile

    with deferred():
        try:
            fd, probe = tempfile.mkstemp(dir=folder, prefix=".bptrace-case-")
        except OSError:
            return False
        os.close(fd)
        try:
            return os.path.exists(os.path.join(folder, os.path.basename(probe).upper()))
        finally:
            os.unlink(probe)


def _refuse_clashes(paths: list[str], inputs: list[str]) -> None:
    """The same target twice, or a target that is an input file: refused before any work."""
    seen: list[tuple[tuple, str]] = []
    for p in paths:
        key = identity(p)
        for other_key, other in seen:
            if _same(key, other_key):
                same = "twice" if other == p else f"and --export {other} name the same file"
                raise UsageError(f"--export {p} {same}; give each target once")
        seen.append((key, p))
    for source in inputs:
        if source != "-" and os.path.isfile(source):
            key = identity(source)
            for other_key, other in seen:
                if _same(key, other_key):
                    raise UsageError(f"--export {other} would overwrite the input file {source}; "
                                     "choose another file name")


def target_format(path: str, forced: str | None) -> str:
    """The format of an --export target: --format, else the extension (messages from the registry)."""
    from .exports import FORMATS, check_format, detect, extensions_text, listed

    if forced is not None:
        return check_format(forced).name
    if path == "-":
        raise UsageError(f"--export -: writing to stdout needs --format ({listed(list(FORMATS))})")
    found = detect(path)
    if found is None:
        ext = Path(path).suffix.lower()
        raise UsageError(f"--export {path}: cannot tell the format from '{ext or 'no extension'}'; "
                         f"use {extensions_text()}, or give --format")
    return found


class Exports:
    """The --export targets: checked and opened before any work, written atomically at the end."""

    def __init__(self, paths: list[str], forced: str | None, inputs: list[str | None] = ()):
        self.targets = [(p, target_format(p, forced)) for p in paths]
        _refuse_clashes(paths, [i for i in inputs if i])
        self.to_stdout = "-" in paths
        if self.to_stdout and isinstance(sys.stdout, ClosedStdout):
            sys.stdout.write("")  # refused before any work
        self.files = {}
        self.written: list[str] = []

    def __enter__(self):
        try:
            for path, _ in self.targets:
                if path != "-":
                    from . import atomic

                    self.files[path] = atomic.open_target(path)
        except BaseException:
            self.abort()
            raise
        return self

    def __exit__(self, kind, value, tb):
        if kind is not None:
            self.abort()
        return False

    @property
    def draws_tables(self) -> bool:
        """Whether the terminal tables get built: to be shown, or for an export that draws them (.html, .svg)."""
        from .exports import REGISTRY

        return not self.to_stdout or any(REGISTRY[f].draws_tables for f in self.formats)

    @property
    def tabulates(self) -> bool:
        """Whether a trace is drawn as tables (shown, or exported as tables or text), so limited as such."""
        return self.draws_tables or bool(self.formats & {"md", "tex", "walk"})

    def finish_trace(self, trace, opts):
        """Write every target of a trace; returns its terminal tables (built once: shown, or drawn by .html/.svg)."""
        from dataclasses import replace

        from .exports import REGISTRY

        if self.draws_tables:
            opts = replace(opts, tables=_tables(trace, opts))
        self.finish(lambda fmt: REGISTRY[fmt].trace(trace, opts))
        return opts.tables

    @property
    def formats(self) -> set[str]:
        return {f for _, f in self.targets}

    def streams(self):
        """Writers (file-like) for the targets of formats written as a run goes (.jsonl)."""
        from .exports import REGISTRY

        return [sys.stdout if p == "-" else self.files[p] for p, f in self.targets if REGISTRY[f].streamed]

    def finish(self, render, streamed: bool = False) -> None:
        """Write every target (`render(fmt)` gives its text) and commit them together; with
        streamed=True, targets of streamed formats were written as the run went."""
        from .exports import REGISTRY

        for path, fmt in self.targets:
            if not (streamed and REGISTRY[fmt].streamed):
                text = render(fmt)
                (sys.stdout if path == "-" else self.files[path]).write(text)
        if self.to_stdout:
            sys.stdout.flush()
        for path, f in self.files.items():
            f.commit()
            self.written.append(path)
        self.files = {}

    def abort(self) -> None:
        for f in self.files.values():
            f.abort()
        self.files = {}


def _tables(trace, opts):
    """A trace's terminal tables; the matrix form's module is imported only when that form is asked for."""
    if opts.form == "scalar":
        from .render.tables import render_trace

        return render_trace(trace, opts.precision, opts.formulas, opts.style)
    from .render.matrix import render_trace

    return render_trace(trace, opts.precision, opts.formulas, opts.style, opts.form)


def write_new(path: str, text: str, force: bool) -> None:
    """Write a file the command creates (init, quiz); an existing one only with --force. Checked when the
    file is created: of racing writers, exactly one wins."""
    from .atomic import create_text, write_text

    try:
        (write_text if force else create_text)(path, text)
    except FileExistsError:
        raise UsageError(f"{clip(safe_text(path))} already exists; use --force to overwrite it") from None


class GuardedStdout:
    """sys.stdout whose failures are the user's kind: disk full -> WriteError (exit 1),
    a closed pipe -> Stopped(SIGPIPE) (quiet, exit 141). Everything else is the real stream's."""

    def __init__(self, stream):
        self._stream = stream

    def __getattr__(self, name):
        return getattr(self._stream, name)

    def write(self, text: str) -> int:
        return self._guard(self._stream.write, text)

    def flush(self) -> None:
        self._guard(self._stream.flush)

    def _guard(self, call, *args):
        try:
            return call(*args)
        except BrokenPipeError:
            self._silence()
            raise Stopped(SIGPIPE) from None
        except OSError as e:
            from .atomic import reason

            self._silence()
            raise WriteError(f"cannot write to standard output: {reason(e)}") from None

    def _silence(self) -> None:
        """Point fd 1 at /dev/null, so the interpreter's last flush does not fail a second time."""
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass


class TrimmedLines:
    """The stream `get()` returns at each write (sys.stdout, whatever it is then), with the spaces that
    rich pads table rows with removed from the ends of lines when the output is not a terminal
    (a file, a pipe): `bptrace run > trace.txt` has no trailing spaces."""

    def __init__(self, get):
        self._get = get
        self._line = ""  # the unfinished last line, held until its end is known

    def __getattr__(self, name):
        return getattr(self._get(), name)

    def write(self, text: str) -> int:
        stream = self._get()
        if stream.isatty():
            return stream.write(text)
        *lines, self._line = (self._line + text).split("\n")
        if lines:
            stream.write("".join(line.rstrip(" ") + "\n" for line in lines))
        return len(text)

    def flush(self) -> None:
        stream = self._get()
        if self._line:
            stream.write(self._line)
            self._line = ""
        stream.flush()


class ClosedStdout:
    """Standard output that was closed (`>&-`): any write is a WriteError."""

    encoding = "utf-8"

    def write(self, text: str) -> int:
        raise WriteError("cannot write to standard output: it is closed")

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        raise OSError("standard output is closed")


def guard_stdout() -> None:
    """Install the guard (from main). A closed fd 1 is held by /dev/null so no file we open takes it."""
    if sys.stdout is None:
        from . import atomic

        fd = os.open(os.devnull, os.O_WRONLY)
        if fd != 1:
            os.dup2(fd, 1)
            os.close(fd)
        sys.stdout = ClosedStdout()
        atomic.CLOSED.add(1)
    elif not isinstance(sys.stdout, (GuardedStdout, ClosedStdout)):
        sys.stdout = GuardedStdout(sys.stdout)
