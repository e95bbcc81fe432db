"""The one error hierarchy. Every message is written for the user, not the developer."""


class BptraceError(Exception):
    """Base class: the CLI prints the message and exits with `exit_code`."""

    exit_code = 2


class SpecError(BptraceError):
    """A spec (or answers) file that cannot be read or does not describe a valid network."""

    def __init__(self, source: str, message: str, path: str | None = None):
        self.source = source
        self.path = path
        self.detail = message
        where = f"{source}: {path}: " if path else f"{source}: "
        super().__init__(where + message)


class UsageError(BptraceError):
    """A command-line option with a value that does not fit the spec."""


class ExportError(BptraceError):
    """An export that could not be written; nothing was left behind."""


class DivergedError(BptraceError):
    """Training produced a NaN or infinite value."""

    exit_code = 3


class WriteError(ExportError):
    """A write that failed after the work was done (disk full, closed output); nothing partial was left."""

    exit_code = 1
