"""Export targets: regular files are replaced atomically, special files are written through.

A regular file or a new path gets a temporary file in the target's folder, renamed over the target
at the end: a failed or interrupted export leaves no partial file and never damages an existing one.
A symlink to a regular file replaces the file it points to, not the link. A character device, a FIFO
or one of the process's own streams (/dev/stdout, /dev/fd/N, /proc/self/fd/N) is opened and written
directly: renaming over it would replace the device with a regular file.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
from pathlib import Path

from .errors import ExportError, WriteError
from .signals import deferred

LIVE: set[str] = set()  # temporary files not yet renamed or removed
CLOSED: set[int] = set()  # standard streams that were closed when we started (held by /dev/null since)
_STREAM = re.compile(r"/(dev/(?P<std>stdin|stdout|stderr)|dev/fd/(?P<fd>\d+)|proc/(?P<pid>self|thread-self|\d+)/fd/(?P<pfd>\d+))")
_NO_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.ENOSYS}


def reason(e: OSError) -> str:
    """An OSError for the user: 'no space left on device', not '[Errno 28] No space left on device'."""
    text = e.strerror or str(e)
    return text[:1].lower() + text[1:]


def _stream(path: str) -> tuple[bool, int | None]:
    """Is this /dev/stdout, /dev/fd/N, /proc/PID/fd/N (or a symlink to one)? And our own descriptor N,
    if it is ours: that one is shared (dup), so the export lands after what we wrote, not over it."""
    for _ in range(40):
        m = _STREAM.fullmatch(os.path.abspath(path))
        if m:
            if m["std"]:
                return True, ("stdin", "stdout", "stderr").index(m["std"])
            if m["fd"]:
                return True, int(m["fd"])
            ours = m["pid"] in ("self", "thread-self", str(os.getpid()))
            return True, int(m["pfd"]) if ours else None
        if not os.path.islink(path):
            return False, None
        path = os.path.join(os.path.dirname(path), os.readlink(path))
    return False, None


def _check_folder(path: str, folder: str) -> None:
    """The folder must exist and be a folder; name the first part of it that is wrong."""
    if os.path.isdir(folder):
        return
    part = folder
    while part and not os.path.lexists(part) and os.path.dirname(part) != part:
        part = os.path.dirname(part)
    if part and os.path.exists(part) and not os.path.isdir(part):
        raise ExportError(f"cannot write {path}: {part} is not a folder")
    raise ExportError(f"cannot write {path}: the folder {folder} does not exist")


def _check_name(path: str, folder: str, name: str) -> None:
    try:
        limit = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    size = len(os.fsencode(name))
    if size > limit:
        raise ExportError(f"cannot write {path}: the file name is {size} bytes long; the file system allows {limit}")


def open_target(path: str | Path):
    """Check a target and open it (before any work): an AtomicFile, or a PassThrough for special files."""
    path = os.fspath(path)
    if not path:
        raise ExportError("cannot write to an empty path; expected a file name")
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        mode = None  # a new file (or a symlink to one); the folder is checked next
    except OSError as e:
        if e.errno == errno.ENAMETOOLONG:
            return AtomicFile(path)  # which says how long the name is
        raise ExportError(f"cannot write {path}: {reason(e)}") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise ExportError(f"cannot write {path}: it is a directory")
    if mode is not None and (stat.S_ISBLK(mode) or stat.S_ISSOCK(mode)):
        kind = "a block device (a disk)" if stat.S_ISBLK(mode) else "a socket"
        raise ExportError(f"cannot write {path}: it is {kind}; bptrace writes files, pipes and character devices")
    stream, fd = _stream(path)
    if stream or (mode is not None and not stat.S_ISREG(mode)):
        return PassThrough(path, fd)
    return AtomicFile(path)


class _Target:
    """An open export target: `write` as you go; a failure removes what was begun and says why."""

    path: str

    def write(self, text: str) -> None:
        try:
            self.file.write(text)
        except OSError as e:
            self._failed(e)

    def _failed(self, e: OSError):
        self.abort()
        raise WriteError(f"cannot write {self.path}: {reason(e)}") from None

    def abort(self) -> None:
        raise NotImplementedError


def _create_temp(folder: str, name: str) -> tuple[int, str]:
    """A new temporary file `.NAME.XXXXXXXX.part` in folder, named in LIVE *before* it exists.

    A signal that arrived just before deferred() blocked it still runs its Python handler at the next
    bytecode, even inside the block; so the name goes into LIVE first (cleanup() ignores a name that
    was never created), never after the file is made, as tempfile.mkstemp would have it."""
    names = tempfile._get_candidate_names()
    for _ in range(100):
        tmp = os.path.join(folder, f".{name[:32]}.{next(names)}.part")
        LIVE.add(tmp)
        try:
            return os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600), tmp
        except FileExistsError:
            LIVE.discard(tmp)  # someone else's; on any other failure the name stays (it may exist)
    raise FileExistsError(errno.EEXIST, "no free temporary file name", folder)


class AtomicFile(_Target):
    """A temporary file beside the (real) target: write as you go, then commit or abort."""

    def __init__(self, path: str | Path):
        self.path = os.fspath(path)
        self.real = os.path.realpath(self.path)  # a symlink: replace what it points to
        _check_folder(self.path, os.path.dirname(self.path) or ".")
        folder, name = os.path.split(self.real)
        _check_folder(self.path, folder)
        _check_name(self.path, folder, name)
        if os.path.exists(self.real) and not os.access(self.real, os.W_OK):
            raise ExportError(f"cannot write {self.path}: permission denied")
        try:
            with deferred():
                fd, self.tmp = _create_temp(folder, name)
        except PermissionError:
            raise ExportError(f"cannot write {self.path}: permission denied in {folder}") from None
        except OSError as e:
            raise ExportError(f"cannot write {self.path}: {reason(e)}") from None
        self.file = os.fdopen(fd, "w", encoding="utf-8", newline="\n")

    def commit(self, exclusive: bool = False) -> None:
        """Rename the temporary file over the target; `exclusive`: raise FileExistsError if it exists."""
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            self._copy_mode()
            with deferred():
                self._link() if exclusive else os.replace(self.tmp, self.real)
                LIVE.discard(self.tmp)
        except FileExistsError:
            raise
        except OSError as e:
            self._failed(e)
        finally:
            self.abort()  # after a link, or after a failure: the temporary file goes

    def _copy_mode(self) -> None:
        """The new file keeps the old one's permissions and owner (else the umask's default)."""
        try:
            old = os.stat(self.real)
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(self.tmp, 0o666 & ~umask)
            return
        os.chmod(self.tmp, stat.S_IMODE(old.st_mode))
        try:
            os.chown(self.tmp, old.st_uid, old.st_gid)
        except OSError:
            pass  # not allowed (not root): the file becomes ours, as any editor's save does

    def _link(self) -> None:
        """Create the target only if it does not exist: exactly one of several racing writers wins."""
        try:
            os.link(self.tmp, self.real)
        except OSError as e:
            if e.errno not in _NO_LINKS:
                raise
            os.close(os.open(self.real, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # no hard links here
            os.replace(self.tmp, self.real)

    def abort(self) -> None:
        """Close without flushing errors, remove the temporary file; safe to call twice."""
        with deferred():
            try:
                self.file.close()
            except OSError:
                pass  # the flush on close failed (disk full): the file is closed all the same
            try:
                os.unlink(self.tmp)
            except FileNotFoundError:
                pass
            LIVE.discard(self.tmp)


class PassThrough(_Target):
    """A device, FIFO or the process's own stream: opened now, written directly, never replaced."""

    def __init__(self, path: str, fd: int | None = None):
        self.path = path
        try:
            if fd in CLOSED:
                raise WriteError(f"cannot write {path}: the stream is closed")
            if fd is not None:  # our own stream: share its offset
                self.file = os.fdopen(os.dup(fd), "w", encoding="utf-8", newline="\n")
            else:
                self.file = open(path, "a", encoding="utf-8", newline="\n")  # no truncation of what is there
        except OSError as e:
            raise ExportError(f"cannot write {path}: {reason(e)}") from None

    def commit(self, exclusive: bool = False) -> None:
        try:
            self.file.close()
        except OSError as e:
            self._failed(e)

    def abort(self) -> None:
        try:
            self.file.close()
        except OSError:
            pass


def cleanup() -> None:
    """Remove every temporary file still open (the last resort when a run is stopped)."""
    for tmp in list(LIVE):
        try:
            os.unlink(tmp)
        except OSError:
            pass
        LIVE.discard(tmp)


def write_text(path: str | Path, text: str) -> None:
    f = open_target(path)
    f.write(text)
    f.commit()


def create_text(path: str | Path, text: str) -> None:
    """Write a new file; FileExistsError if the path exists (checked atomically, at the rename)."""
    if os.path.lexists(path):
        raise FileExistsError(errno.EEXIST, "exists", os.fspath(path))
    f = AtomicFile(path)
    f.write(text)
    f.commit(exclusive=True)
