"""The CLI's terminal: its consoles, Click's messages made safe, and the one error boundary.

CLI-side only (rich and Typer live here): a BptraceError becomes one line on stderr and its exit
code; a UsageError's parameter (`watch`, `learning_rate`) is shown as its flag (`--watch`, `--lr`).
"""

# No `from __future__ import annotations`: Typer reads the signatures of the commands and callbacks, and
# would compile and eval each annotation string at every start.

import os
import re
import sys
from contextlib import contextmanager

import typer

from . import ascii as _ascii
from . import i18n
from .errors import BptraceError, UsageError, clip, did_you_mean, safe_text
from .outputs import TrimmedLines

try:  # typer >= 0.2x carries its own copy of click
    from typer._click import exceptions as click_exceptions
    from typer._click import types as click_types
    from typer._click.globals import get_current_context
except ImportError:  # pragma: no cover
    from click import exceptions as click_exceptions
    from click import get_current_context
    from click import types as click_types
from typer.core import TyperArgument, TyperGroup, TyperOption

# `bptrace --help` lists the commands in this order (the README's command table's); others come before import
ORDER = ("run", "step", "check", "quiz", "gradcheck", "verify", "explore", "import", "init", "validate",
         "samples", "schema", "docs")
ASCII_HELP = "ASCII output only: dE_total/dw5, delta_o1, * and plain box lines."
LANG_HELP = ("Language of the words shown and exported: en or ko (default: from LC_ALL, LC_MESSAGES, LANG; "
             "--ascii means en).")
UNTRANSLATED = ("import", "schema", "init", "docs")  # code, data or English documents: no --lang


class _Group(TyperGroup):
    """bptrace's command group: Click's usage errors (unknown option or command, a bad value, a missing
    argument) become one `error:` line and exit 2, like every other mistake; every command takes --ascii."""

    def make_context(self, info_name, args, *rest, **kwargs):
        if "--ascii" in args[: args.index("--") if "--" in args else None]:
            use_ascii()  # before anything is parsed: a usage error is ASCII too
        _take_ascii(self)  # `bptrace --ascii --help`
        with _usage_errors(self):
            return super().make_context(info_name, args, *rest, **kwargs)

    def invoke(self, ctx):
        with _usage_errors(self, ctx), i18n.language(i18n.ENGLISH):  # --lang sets it within; restored after
            return super().invoke(ctx)

    def list_commands(self, ctx):
        rank = {name: i for i, name in enumerate(ORDER)}
        return sorted(super().list_commands(ctx), key=lambda n: rank.get(n, rank["import"] - 0.5))

    def get_command(self, ctx, name):
        command = super().get_command(ctx, name)
        self.chosen = (f"{ctx.command_path} {name}", command)  # for errors Click raises without a context
        if command is not None:
            _take_ascii(command)
            _take_lang(command, name)
        return command

    def resolve_command(self, ctx, args):
        name = args[0] if args else ""
        if name in self.commands or name.startswith("-"):
            return super().resolve_command(ctx, args)
        raise click_exceptions.UsageError(unknown_command(name, self.list_commands(ctx)), ctx)


def _take_ascii(command) -> None:
    """Give `command` an --ascii flag if it has none (make_context has already acted on it)."""
    if not any(p.name == "ascii" for p in command.params):
        command.params.append(TyperOption(param_decls=["--ascii"], is_flag=True, default=False,
                                          expose_value=False, help=ASCII_HELP))


def _take_lang(command, name: str) -> None:
    """Give `command` a --lang option (acted on as it is parsed: the language of everything it shows)."""
    if name not in UNTRANSLATED and not any(p.name == "lang" for p in command.params):
        command.params.append(TyperOption(param_decls=["--lang"], metavar="LANG", default=None, expose_value=False,
                                          callback=_set_language, help=LANG_HELP))


def _set_language(ctx, param, value) -> None:
    """The language asked for (None: the locale's); English where the output is ASCII only (--ascii, or a
    stream that cannot encode Hangul)."""
    try:
        lang = i18n.check(value)
    except BptraceError as e:
        raise click_exceptions.BadParameter(str(e).split(": ", 1)[1], ctx, param) from None
    if isinstance(sys.stdout, _AsciiOnly) or not _encodes(sys.stdout, "역전파"):
        lang = i18n.ENGLISH
    i18n.set_language(lang)


def _encodes(stream, text: str) -> bool:
    try:
        text.encode(getattr(stream, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def unknown_command(name: str, commands: list[str]) -> str:
    near = did_you_mean(name, commands)
    return f"{clip(name)}: no such command" + (near or f"; commands: {', '.join(commands)}")


@contextmanager
def _usage_errors(group, ctx=None):
    """Click's usage errors as bptrace's: one line, then at most a one-line hint; exit 2."""
    try:
        yield
    except click_exceptions.NoArgsIsHelpError as e:  # `bptrace` alone: the help, as Click shows it
        out.print(e.ctx.get_help(), markup=False, highlight=False, end="")
        raise typer.Exit(e.exit_code) from None
    except click_exceptions.ClickException as e:
        path, command = getattr(group, "chosen", (ctx.command_path if ctx else "bptrace", None))
        if getattr(e, "ctx", None) is not None:
            path, command = e.ctx.command_path, e.ctx.command
        line, hint = usage_message(e, path, command)
        err.print(f"[bold red]error:[/] {escape(safe_text(line))}", highlight=False, soft_wrap=True)
        if hint:
            err.print(escape(safe_text(hint)), highlight=False, soft_wrap=True)
        raise typer.Exit(e.exit_code) from None


def usage_message(e, path: str, command) -> tuple[str, str]:
    """(the error line, a hint line or '') for one of Click's exceptions raised in `command` (`path`)."""
    hint, param = f"try '{path} --help'", getattr(e, "param", None)
    if isinstance(e, click_exceptions.MissingParameter) and param is not None:
        return f"{_name(param)}: missing ({_what(param)})", hint
    if isinstance(e, click_exceptions.BadParameter) and param is not None:
        return f"{_name(param)}: {e.message}", ""
    if isinstance(e, click_exceptions.NoSuchOption):
        near = f" (did you mean {sorted(e.possibilities)[0]}?)" if e.possibilities else ""
        return f"{clip(e.option_name)}: no such option for '{path}'{near}", hint
    if isinstance(e, click_exceptions.BadOptionUsage):
        return _bad_option_usage(e, command), hint
    extra = re.fullmatch(r"Got unexpected extra argument(?:\(s\)|s)? \((.*)\)", e.message, flags=re.S)
    if extra:
        return f"{clip(extra.group(1))}: unexpected extra argument for '{path}'", hint
    return e.message.rstrip("."), hint


def _bad_option_usage(e, command) -> str:
    """'--export: expected PATH after it', '--quiet: takes no value (it is a switch)'."""
    params = command.params if command is not None else []
    param = next((p for p in params if e.option_name in p.opts), None)
    if "does not take a value" in e.message:
        return f"{e.option_name}: takes no value (it is a switch)"
    if "requires" in e.message:  # --epochs N: expected N after it (an integer from 1 to 10,000,000)
        words = getattr(param.type, "expected", None) if param else None
        return f"{e.option_name}: expected {getattr(param, 'metavar', None) or 'a value'} after it" + (
            f" ({words})" if words else "")
    return e.message.rstrip(".")


def _name(param) -> str:
    """How the user wrote the parameter: its longest flag, or an argument's metavar (SPEC)."""
    if param.param_type_name == "argument":
        return (param.metavar or param.name).upper()
    return max(param.opts, key=len)


def _what(param) -> str:
    """What a parameter expects, in words: its type's (an integer ≥ 1), else its help."""
    words = getattr(param.type, "expected", None)
    if words:
        return words
    help_ = (getattr(param, "help", None) or param.name).rstrip(".")
    return help_[:1].lower() + help_[1:]


class _AsciiOnly:
    """A text stream that writes ASCII only (--ascii): ∂ as d, δ as delta, … as ...; rich, seeing the
    encoding 'ascii', draws its boxes, rules and bars in ASCII too."""

    encoding = "ascii"

    def __init__(self, stream):
        self._stream = stream

    def __getattr__(self, name):
        return getattr(self._stream, name)

    def write(self, text: str) -> int:
        self._stream.write(text if text.isascii() else _ascii.transliterate(text))
        return len(text)


def use_ascii() -> None:
    """From now on stdout and stderr carry ASCII only (--ascii)."""
    if not isinstance(sys.stdout, _AsciiOnly):
        sys.stdout = _AsciiOnly(sys.stdout)
    if not isinstance(sys.stderr, _AsciiOnly):
        sys.stderr = _AsciiOnly(sys.stderr)


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


def escape(text: str) -> str:
    """rich.markup.escape (imported when a message is shown: rich's markup module costs each start)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def _console(stderr: bool = False):
    from rich.console import Console

    class _Console(Console):
        """On a stream that cannot encode Unicode, what is printed is made ASCII before rich measures it
        (render.plain), so columns keep their width (the codec's … -> ... would come after the layout)."""

        def print(self, *objects, **kwargs):
            if not self.encoding.startswith("utf"):
                from .render.grid import Doc
                from .render.plain import asciify

                # a Doc (run's tables as data) as the rich objects asciify knows how to make ASCII
                objects = tuple(asciify(o.to_rich() if isinstance(o, Doc) else o) for o in objects)
            super().print(*objects, **kwargs)

    # emoji=False: no ":name:" code is ever meant as an emoji here, and rich's table of them costs each start
    console = _Console(stderr=True, emoji=False) if stderr else _Console(file=STDOUT, emoji=False)
    if console.width < MIN_WIDTH:  # COLUMNS=2: not a real width; lay out as for a standard terminal
        console.width = 80
    console.width = min(console.width, MAX_WIDTH)
    return console


class _Lazy:
    """A console made when first used: a run whose output is plain text never imports rich.console."""

    def __init__(self, stderr: bool):
        object.__setattr__(self, "_stderr", stderr)
        object.__setattr__(self, "_made", None)

    def _get(self):
        if self._made is None:
            object.__setattr__(self, "_made", _console(self._stderr))
        return self._made

    def __getattr__(self, name):
        return getattr(self._get(), name)

    def __setattr__(self, name, value):
        setattr(self._get(), name, value)


def _is_terminal(stream, env=os.environ) -> bool:
    """Whether rich's Console would write escape codes to `stream` (Console.is_terminal, outside Jupyter)."""
    if hasattr(sys.stdin, "__module__") and sys.stdin.__module__.startswith("idlelib"):
        return False
    if env.get("TTY_COMPATIBLE", "") in ("0", "1"):
        return env["TTY_COMPATIBLE"] == "1"
    if env.get("FORCE_COLOR") is not None:
        return env["FORCE_COLOR"] != ""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _width(env=os.environ) -> int:
    """The width rich's Console lays out for (COLUMNS, else a terminal's on fd 0, 1 or 2, else 80), as
    _console bounds it."""
    columns, width = env.get("COLUMNS"), None
    if columns is not None and columns.isdigit():
        width = int(columns)
    else:
        for fd in (0, 1, 2):
            try:
                width = os.get_terminal_size(fd)[0]
                break
            except (AttributeError, ValueError, OSError):
                pass
    width = width or 80
    return min(80 if width < MIN_WIDTH else width, MAX_WIDTH)


def plain_text(renderable) -> str | None:
    """What out.print(renderable) would write, made without rich, when stdout shows no colour (a pipe, a
    file) and the renderable can draw itself as text (render.grid.Doc); else None."""
    import builtins

    from .render.grid import Doc, Unsupported

    if not isinstance(renderable, Doc) or sys.platform == "win32" or hasattr(builtins, "get_ipython"):
        return None  # (Windows: rich's legacy console; IPython: rich's Jupyter detection)
    if out._made is not None or _is_terminal(STDOUT):
        return None
    if not (getattr(STDOUT, "encoding", None) or "utf-8").lower().startswith("utf"):
        return None
    try:
        return renderable.plain(_width())
    except Unsupported:
        return None


_ascii.install(sys.stdout, sys.stderr)  # a stream that cannot encode ∂ or box drawing gets d and - | +
_drop_unusable_sizes()
STDOUT = TrimmedLines(lambda: sys.stdout)  # what out prints to (and plain text is written to)
out = _Lazy(stderr=False)
err = _Lazy(stderr=True)

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
    """No option holds a NUL; numbers in text options are 0-9 (numeric options are read by cli_options'
    Whole and Real, which refuse nan, inf and values out of range themselves)."""
    ctx = get_current_context(silent=True)
    if ctx is None:
        return
    for param in ctx.command.params:
        value, flag = ctx.params.get(param.name), max(param.opts, key=len)
        if param.param_type_name == "argument":
            flag = (param.metavar or param.name).upper()
        if any(isinstance(v, str) and "\x00" in v for v in (value if isinstance(value, (list, tuple)) else [value])):
            raise UsageError(f"{flag}: contains a NUL character (U+0000), which no file name or option value can hold")
        if param.name in DIGIT_OPTIONS and isinstance(value, str):
            if not value.isascii():
                raise UsageError(f"{flag}: numbers are written with the digits 0-9, got '{clip(value)}'")
            if re.search(r"\d{19}", value):  # int() of 5,000 digits raises; nothing here needs more than 18
                raise UsageError(f"{flag}: expected whole numbers of at most 18 digits, got '{clip(value)}'")


def report(paths) -> None:
    """'wrote PATH' on stderr, for each file written."""
    for path in paths:
        err.print(f"[dim]wrote {escape(safe_text(path))}[/]", highlight=False, soft_wrap=True)


def display(exports, renderable) -> None:
    """What a command shows on the terminal (unless an export took stdout), then the files it wrote.
    Without colour, a trace's tables are written as text laid out as rich would (render.grid)."""
    if not exports.to_stdout:
        text = plain_text(renderable)
        if text is None:
            out.print(renderable)
        else:
            STDOUT.write(text)
            STDOUT.flush()
    report(exports.written)


def only_the_command(app, argv: list[str]):
    """Typer makes a Click command of every registered command at each start; a run needs only the one it
    runs. The app with just that command (its callback and settings kept), or the whole app when no known
    command is named (help, --version, a mistyped name: those list every command)."""
    import copy

    from typer.main import get_command_name

    name = next((a for a in argv if not a.startswith("-")), None)
    chosen = [c for c in app.registered_commands if (c.name or get_command_name(c.callback.__name__)) == name]
    if not chosen:
        return app
    lean = copy.copy(app)
    lean.registered_commands = chosen
    return lean


def entry(app) -> None:
    """The entry point: signals and broken output end the run cleanly (exit 128+N, or 1 for a failed write)."""
    from . import signals
    from .outputs import guard_stdout

    guard_stdout()
    signals.install()
    try:
        with user_errors():  # also a failed write outside a command's boundary (schema's output)
            try:
                only_the_command(app, sys.argv[1:])()
            finally:
                sys.stdout.flush()  # what is still buffered may fail only now
    except signals.Stopped as e:
        from . import atomic  # (imported here: a run without exports never loads it, nor tempfile)

        atomic.cleanup()
        if e.message():
            try:
                err.print(e.message(), highlight=False)
            except OSError:
                pass  # the terminal is gone (SIGHUP)
        sys.exit(e.exit_code)
    except typer.Exit as e:
        sys.exit(e.exit_code)

