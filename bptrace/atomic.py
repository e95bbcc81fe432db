"""Atomic file writes: a temporary file in the target folder, renamed over the target at the end.

A failed or interrupted export leaves no partial file and never damages an existing one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import ExportError


class AtomicFile:
    """Open now (so a bad path fails before any work), write as you go, then commit or abort."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        folder = self.path.parent
        if self.path.is_dir():
            raise ExportError(f"cannot write {path}: it is a directory")
        if not folder.is_dir():
            raise ExportError(f"cannot write {path}: the folder {folder} does not exist")
        try:
            fd, self.tmp = tempfile.mkstemp(dir=folder, prefix=f".{self.path.name}.", suffix=".part")
        except PermissionError:
            raise ExportError(f"cannot write {path}: permission denied in {folder}") from None
        except OSError as e:
            raise ExportError(f"cannot write {path}: {e.strerror}") from None
        self.file = os.fdopen(fd, "w", encoding="utf-8", newline="\n")

    def write(self, text: str) -> None:
        try:
            self.file.write(text)
        except OSError as e:
            self.abort()
            raise ExportError(f"cannot write {self.path}: {e.strerror}") from None

    def commit(self) -> None:
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            if self.path.exists():  # keep the old file's permissions
                os.chmod(self.tmp, self.path.stat().st_mode & 0o777)
            else:
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(self.tmp, 0o666 & ~umask)
            os.replace(self.tmp, self.path)
        except OSError as e:
            self.abort()
            raise ExportError(f"cannot write {self.path}: {e.strerror}") from None

    def abort(self) -> None:
        try:
            self.file.close()
        finally:
            try:
                os.unlink(self.tmp)
            except FileNotFoundError:
                pass


def write_text(path: str | Path, text: str) -> None:
    f = AtomicFile(path)
    f.write(text)
    f.commit()
