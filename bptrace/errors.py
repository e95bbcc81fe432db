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
    """A parameter (an API keyword or a CLI option) with a value that does not fit.

    `param` names the parameter (`watch`, `learning_rate`, `format`); the message then starts with
    that name, which the CLI's error boundary shows as the option's flag (`--watch`)."""

    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.param = param


class ExportError(BptraceError):
    """An export that could not be written; nothing was left behind."""


class DivergedError(BptraceError):
    """Training produced a NaN or infinite value."""

    exit_code = 3


# ---------------------------------------------------------------- echoing user text

ECHO_LIMIT = 40  # characters of a user's key or value echoed in a message


def clip(text: str, limit: int = ECHO_LIMIT) -> str:
    """At most `limit` characters of `text`, with "…" when cut (a 5 MB key is not echoed whole)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def did_you_mean(name: str, choices) -> str:
    """' (did you mean xor?)' when `name` is a near miss of one of `choices`, else ''."""
    import difflib

    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6) if len(name) <= ECHO_LIMIT else []
    return f" (did you mean {close[0]}?)" if close else ""


def is_control(ch: str) -> bool:
    """C0 (U+0000–U+001F), DEL and C1 (U+0080–U+009F): characters a terminal may act on."""
    o = ord(ch)
    return o < 0x20 or 0x7F <= o <= 0x9F


def safe_text(text: str, keep: str = "") -> str:
    """`text` with every control character (except those in `keep`) shown as \\xNN, never acted on."""
    if not any(is_control(ch) and ch not in keep for ch in text):
        return text
    return "".join(f"\\x{ord(ch):02x}" if is_control(ch) and ch not in keep else ch for ch in text)


class WriteError(ExportError):
    """A write that failed after the work was done (disk full, closed output); nothing partial was left."""

    exit_code = 1
