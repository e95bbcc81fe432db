"""The words bptrace shows, in the reader's language: standard gettext catalogues
(bptrace/locale/LANG/LC_MESSAGES/bptrace.mo, compiled from the .po files at build time by hatch_build.py).

The language is per call, not a process global: `language("ko")` sets it for the code inside the
`with` (a ContextVar, so API calls and threads do not leak into one another); without one, it comes
from the locale (LC_ALL, LC_MESSAGES, LANG: `ko_KR.UTF-8` is Korean). Formulas and quantity names are
never translated. Nothing here knows of rich or Typer.
"""

from __future__ import annotations

import gettext
import os
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path

from .errors import UsageError

DOMAIN = "bptrace"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
ENGLISH = "en"
LOCALE_VARS = ("LC_ALL", "LC_MESSAGES", "LANG")  # POSIX precedence: the first one set wins

_current: ContextVar[str | None] = ContextVar("bptrace_language", default=None)


@cache
def languages() -> tuple[str, ...]:
    """English (the msgids themselves) and every language with a catalogue: adding a .po adds one.
    Read once per process: `_()` asks through from_locale() for every word an API call shows."""
    return (ENGLISH, *sorted(p.name for p in LOCALE_DIR.iterdir() if (p / "LC_MESSAGES" / f"{DOMAIN}.po").is_file()))


def from_locale(environ=os.environ) -> str:
    """The language the locale asks for: `ko_KR.UTF-8` → ko; C, POSIX, unset or unknown → en."""
    for var in LOCALE_VARS:
        value = environ.get(var)
        if value:
            code = value.split(".")[0].split("_")[0].lower()
            return code if code in languages() else ENGLISH
    return ENGLISH


def check(lang: str | None) -> str:
    """`lang` as a known language code (None: the locale's); a UsageError names the known ones."""
    if lang is None:
        return from_locale()
    code = str(lang).strip().lower().replace("-", "_").split("_")[0]
    if code not in languages():
        raise UsageError(f"lang: expected one of {', '.join(languages())}, got '{lang}'", param="lang")
    return code


def current() -> str:
    lang = _current.get()
    return from_locale() if lang is None else lang


@contextmanager
def language(lang: str | None):
    """Within the block, text is in `lang` (None: the locale's); the caller's language after it."""
    token = _current.set(check(lang))
    try:
        yield
    finally:
        _current.reset(token)


def set_language(lang: str | None) -> None:
    """For the CLI, whose process runs one command (its group restores the language afterwards)."""
    _current.set(check(lang))


@cache
def catalogue(lang: str) -> gettext.NullTranslations:
    if lang == ENGLISH:
        return gettext.NullTranslations()
    mo, po = (LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}{ext}" for ext in (".mo", ".po"))
    if mo.is_file() and (not po.is_file() or mo.stat().st_mtime >= po.stat().st_mtime):  # not one left stale
        with mo.open("rb") as f:
            return gettext.GNUTranslations(f)
    return _compiled_now(lang)  # a source checkout that was never built


def _compiled_now(lang: str) -> gettext.NullTranslations:
    """The .po compiled in memory with Babel (what hatch_build.py writes to the .mo at build time)."""
    import io

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with (LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as f:
        buf = io.BytesIO()
        write_mo(buf, read_po(f))
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def _(message: str) -> str:
    """`message` in the current language (itself in English, or where a catalogue lacks it)."""
    return catalogue(current()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return catalogue(current()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Marks a message for the catalogue where it is defined (a table of labels); `_()` it where shown."""
    return message


def is_english() -> bool:
    return current() == ENGLISH
