"""Exporters: read a trace (or a training run) and return text. They never write files.

REGISTRY is the one list of export formats: for each, how a Trace and a training Result become
text, its file extensions, whether it is written as the run goes (streamed), and a description.
The API (`bptrace.to_text`, `bptrace.export`) and the CLI (`--export`, `--format`) both read it;
adding a format is one entry here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import UsageError
from ..i18n import N_, _


@dataclass(frozen=True)
class Options:
    """How to render: decimals, formulas or values only, notation style, epoch-table spacing, log axis."""

    precision: int = 8
    formulas: bool = True
    style: str = "unicode"
    every: int | None = None
    log_y: bool = False
    tables: Any = None  # a trace's terminal tables already built (the CLI's), reused by html and svg
    form: str = "scalar"  # scalar, matrix or both (bptrace.matrix)

    def __post_init__(self):
        from ..errors import UsageError
        from ..forms import check_form

        check_form(self.form)
        if isinstance(self.precision, bool) or not isinstance(self.precision, int) or not 0 <= self.precision <= 17:
            raise UsageError(f"precision: expected a whole number from 0 to 17, got {self.precision!r}", param="precision")
        if self.every is not None and (isinstance(self.every, bool) or not isinstance(self.every, int) or self.every < 1):
            raise UsageError(f"every: expected a whole number ≥ 1, got {self.every!r}", param="every")

    @property
    def view(self):
        from ..render.tables import View

        view = View(self.precision, self.formulas)
        view.form = self.form  # read by render_run (step --show): the matrix form beside or instead of the tables
        return view


@dataclass(frozen=True)
class Format:
    """One export format: its name, extensions, how a Trace and a Result become text."""

    name: str
    extensions: tuple[str, ...]
    trace: Callable[[Any, Options], str]  # Trace -> text
    run: Callable[[Any, Options], str]  # training Result -> text
    description: str
    streamed: bool = False  # a run's export is written step by step (JsonlStream), not at the end
    draws_tables: bool = False  # a trace's export draws the terminal tables (rich)


TRACE_TITLE, RUN_TITLE = N_("bptrace trace"), N_("bptrace training run")  # when the spec has no title


def _trace_tables(trace, o: Options):
    from ..render.tables import render_trace

    if o.tables is None and o.form != "scalar":
        from ..render.matrix import render_trace as in_form

        return in_form(trace, o.precision, o.formulas, o.style, o.form)
    return o.tables if o.tables is not None else render_trace(trace, o.precision, o.formulas, o.style)


def _json(obj, o: Options) -> str:
    from . import json_

    return json_.trace_json(obj, o.form) if _is_trace(obj) else json_.run_json(obj, o.form)


def _jsonl_trace(trace, o: Options) -> str:
    from .json_ import trace_jsonl

    return trace_jsonl(trace, o.form)


def _jsonl_run(result, o: Options) -> str:
    import io

    buffer = io.StringIO()
    stream = JsonlStream([buffer], result.spec)
    for it in result.traces:
        stream.record(it)
    stream.summary(result)
    return buffer.getvalue()


def _md_trace(trace, o: Options) -> str:
    from .markdown import trace_markdown

    return trace_markdown(trace, o.precision, o.form)


def _md_run(result, o: Options) -> str:
    from .markdown import run_markdown

    return run_markdown(result, o.precision, o.every, o.form)


def _tex_trace(trace, o: Options) -> str:
    from .latex import trace_latex

    return trace_latex(trace, o.precision, o.form)


def _tex_run(result, o: Options) -> str:
    from .latex import run_latex

    return run_latex(result, o.precision, o.form)


def _py(obj, o: Options) -> str:
    from .torch_ import torch_script

    return torch_script(obj, o.precision)


def _html_trace(trace, o: Options) -> str:
    from .rich_ import html

    return html(_trace_tables(trace, o), trace.spec.title or _(TRACE_TITLE))


def _html_run(result, o: Options) -> str:  # the loss curve as an SVG chart, not rich's braille plot
    from .rich_ import run_html

    return run_html(result, o.view, o.every, o.log_y, result.spec.title or _(RUN_TITLE))


def _walk_trace(trace, o: Options) -> str:
    from .walk_html import trace_walk

    return trace_walk(trace, o.precision, o.form)


def _walk_run(result, o: Options) -> str:
    from .walk_html import run_walk

    return run_walk(result, o.precision, o.log_y, o.form)


def _svg_trace(trace, o: Options) -> str:
    from .rich_ import svg

    return svg(_trace_tables(trace, o), trace.spec.title or _(TRACE_TITLE))


def _svg_run(result, o: Options) -> str:
    from ..render.training import render_run
    from .rich_ import WIDTH, svg

    return svg(render_run(result, o.view, o.every, o.log_y, WIDTH - 2), result.spec.title or _(RUN_TITLE))


REGISTRY: dict[str, Format] = {f.name: f for f in (
    Format("json", (".json",), _json, _json, "every value, one JSON document (see `bptrace schema`)"),
    Format("jsonl", (".jsonl",), _jsonl_trace, _jsonl_run, "JSON Lines: a header, one record per step, a summary",
           streamed=True),
    Format("md", (".md", ".markdown"), _md_trace, _md_run, "Markdown with LaTeX math"),
    Format("tex", (".tex",), _tex_trace, _tex_run, "a LaTeX document"),
    Format("html", (".html", ".htm"), _html_trace, _html_run, "the terminal's tables as a web page",
           draws_tables=True),
    Format("walk", (".walk.html",), _walk_trace, _walk_run,
           "one page that steps through the trace in a browser, needing nothing else"),
    Format("svg", (".svg",), _svg_trace, _svg_run, "the terminal's tables as an image", draws_tables=True),
    Format("py", (".py",), _py, _py, "a PyTorch script of the same network"),
)}
FORMATS = ("json", "jsonl", "md", "html", "walk", "svg", "tex", "py")  # the order messages list them in
assert set(FORMATS) == set(REGISTRY)
EXTENSIONS = {ext: f.name for f in REGISTRY.values() for ext in f.extensions}


def _is_trace(obj) -> bool:
    from ..trace import Trace

    return isinstance(obj, Trace)


def listed(words: list[str], last: str = "or") -> str:
    """'a, b or c'."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {last} {words[-1]}"


def extensions_text() -> str:
    """'.json, .jsonl, .md, .html, .walk.html, .svg, .tex or .py' (each format's first extension)."""
    return listed([REGISTRY[name].extensions[0] for name in FORMATS])


def check_format(name: str) -> Format:
    if name not in REGISTRY:
        raise UsageError(f"format: expected one of {', '.join(FORMATS)}, got '{name}'", param="format")
    return REGISTRY[name]


def detect(path: str) -> str | None:
    """The format a file name's extension says, or None. Names ending in `.walk.html` (and a file named
    `walk.html`) are the walk; other `.html` names are the terminal's tables."""
    base = "." + Path(path).name.lower()  # a file named walk.html ends in .walk.html too
    return next((EXTENSIONS[e] for e in sorted(EXTENSIONS, key=len, reverse=True) if base.endswith(e)), None)


def format_for(path: str, forced: str | None = None) -> str:
    """The export format: `forced` if given, else the file's extension."""
    if forced is not None:
        return check_format(forced).name
    found = detect(path)
    if found is None:
        ext = Path(path).suffix.lower()
        raise UsageError(f"{path}: cannot tell the format from '{ext or 'no extension'}'; "
                         f"use {extensions_text()}, or give the format (one of {', '.join(FORMATS)})")
    return found


def to_text(obj, fmt: str, options: Options | None = None) -> str:
    """A Trace or a training Result as text in format `fmt`."""
    f = check_format(fmt)
    return (f.trace if _is_trace(obj) else f.run)(obj, options or Options())


class JsonlStream:
    """A run's JSON Lines export as it happens: a header line, one record per step, a summary line.

    `on_first(n_bytes)` is called once, with the size of the first record (to estimate the whole);
    `form` matrix or both adds each step's matrix form to its record, as `run --export x.jsonl` does."""

    def __init__(self, writers: list, spec, on_first: Callable[[int], None] | None = None, form: str = "scalar"):
        from .json_ import header, jsonl_line

        self.writers, self.on_first, self.form = writers, on_first, form
        self._write(jsonl_line(header(spec, "step")))

    def _write(self, line: str) -> None:
        for w in self.writers:
            w.write(line)

    def record(self, it) -> None:
        from .json_ import iteration_line, iteration_record, jsonl_line, with_form

        line = iteration_line(it) if self.form == "scalar" else jsonl_line(with_form(iteration_record(it), it, self.form))
        self._write(line)
        if self.on_first is not None:
            self.on_first(len(line.encode("utf-8")))
            self.on_first = None

    def summary(self, result) -> None:
        from .json_ import jsonl_line, run_summary

        self._write(jsonl_line(run_summary(result)))
