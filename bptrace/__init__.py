"""bptrace: a step-by-step backpropagation tracer.

The Python API, for notebooks and scripts::

    import bptrace
    trace = bptrace.run()                        # the worked example (or a path, a dict, a sample name)
    trace.value("dE_total/dw5")                  # 0.0259228...
    bptrace.export(trace, "blog.md")             # .json .jsonl .md .html .svg .tex

    result = bptrace.train("xor", epochs=5000)   # a training run
    result.final["w1"], result.loss[-1]

In Jupyter a trace or a run displays as the same tables the terminal shows.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["load", "run", "train", "to_text", "export", "BptraceError"]

from .errors import BptraceError


def load(source=None):
    """A validated Spec from a path, a dict, TOML text, a built-in sample's name, or None (the worked example)."""
    from pathlib import Path

    from . import samples, spec

    if isinstance(source, spec.Spec):
        return source
    if isinstance(source, dict):
        return spec.from_dict(source)
    if isinstance(source, Path):
        return spec.load(source)
    if isinstance(source, str) and "\n" in source:
        return spec.loads(source)
    label, text = samples.resolve(source)
    return spec.load(label) if text is None else spec.loads(text, label)


def run(source=None, *, sample: int = 1, naming: str | None = None, learning_rate: float | None = None):
    """Trace one iteration on one sample (1-based): returns a Trace."""
    from . import tracer
    from .errors import UsageError

    s = load(source)
    if learning_rate is not None:
        s = s.with_learning_rate(learning_rate)
    if not 1 <= sample <= len(s.samples):
        raise UsageError(f"sample {sample}: {s.source} has {len(s.samples)} sample(s)")
    return tracer.run(s, sample=sample, naming=naming)


def train(source=None, *, epochs: int = 100, batch: str | int = "online", shuffle: bool = False,
          seed: int | None = None, show=(), until_loss: float | None = None, watch: int = 1,
          naming: str | None = None, learning_rate: float | None = None):
    """Train for a number of epochs: returns a Result (per-epoch history, final weights, traces of `show` epochs)."""
    from . import trainer as training

    s = load(source)
    if learning_rate is not None:
        s = s.with_learning_rate(learning_rate)
    shown = "all" if show == "all" else frozenset(show)
    plan = training.Plan(epochs, training.parse_batch(str(batch)), shuffle, seed, shown, False, until_loss, watch)
    return training.train(s, plan, naming)


def to_text(obj, fmt: str, precision: int = 8) -> str:
    """A Trace or a training Result as json, jsonl, md, html, svg, tex or py text."""
    from .exports import FORMATS, json_, markdown, rich_
    from .render import tables, training
    from .trace import Trace

    if fmt not in FORMATS:
        raise BptraceError(f"unknown format '{fmt}'; expected one of {', '.join(FORMATS)}")
    if fmt == "py":  # a PyTorch script of the same network (exports/torch_.py)
        from .exports.torch_ import torch_script
        return torch_script(obj, precision)
    if isinstance(obj, Trace):
        if fmt in ("json", "jsonl"):
            return json_.trace_json(obj) if fmt == "json" else json_.trace_jsonl(obj)
        if fmt == "md":
            return markdown.trace_markdown(obj, precision)
        if fmt == "tex":
            from .exports.latex import trace_latex

            return trace_latex(obj, precision)
        renderable = tables.render_trace(obj, precision)
    else:
        if fmt == "json":
            return json_.run_json(obj)
        if fmt == "jsonl":
            lines = [json_.header(obj.spec, "step"), *map(json_.iteration_record, obj.traces), json_.run_summary(obj)]
            return "".join(map(json_.jsonl_line, lines))
        if fmt == "md":
            return markdown.run_markdown(obj, precision)
        if fmt == "tex":
            from .exports.latex import run_latex

            return run_latex(obj, precision)
        if fmt == "html":  # the loss curve as an SVG chart, not rich's braille plot
            return rich_.run_html(obj, tables.View(precision), title=obj.spec.title or "bptrace")
        renderable = training.render_run(obj, tables.View(precision))
    title = obj.spec.title or "bptrace"
    return rich_.html(renderable, title) if fmt == "html" else rich_.svg(renderable, title)


def export(obj, path, format: str | None = None, precision: int = 8) -> None:
    """Write a Trace or Result to path, atomically; the format comes from the extension or `format`."""
    from .atomic import write_text
    from .exports import format_for

    write_text(path, to_text(obj, format_for(str(path), format), precision))
