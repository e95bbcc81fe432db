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

__all__ = ["load", "run", "plan", "train", "trace_at", "check_answers", "to_text", "export", "BptraceError"]

from .errors import BptraceError


def load(source=None, *, learning_rate: float | None = None, naming: str | None = None):
    """A validated Spec from a path, a dict, TOML text, a built-in sample's name, or None (the worked example);
    learning_rate overrides the spec's (a layer with its own keeps it); naming, when given, is checked too (the
    scheme its quantities are named by)."""
    s = _with_rate(_load(source), learning_rate)
    _check_naming(naming)
    return s


def _load(source):
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


def run(source=None, *, sample: int = 1, naming: str | None = None, learning_rate: float | None = None,
        round: int | None = None, focus: str | None = None, form: str = "scalar", tables: bool = False):
    """Trace one iteration on one sample (1-based): returns a Trace. round=N: every computed value rounded
    to N decimals (textbook rounding); focus="w1": only that parameter's chain; tables=True: refuse a
    network too large to tabulate (as the CLI does when it prints the tables)."""
    from . import limits, tracer
    from .forms import check_focus, check_form

    s = load(source, learning_rate=learning_rate, naming=naming)
    _check_sample(s, sample)
    check_form(form)
    check_focus(form, focus)
    if round is not None:
        from .rounding import check_rounding

        check_rounding(s.optimizer.name, 1, round)
    limits.check_run(s, tables=tables)
    trace = tracer.run(s, sample=sample, naming=naming)
    if round is not None:  # textbook rounding
        from .rounding import round_trace

        trace = round_trace(trace, round)
    if focus is not None:
        from .walk import focused

        trace = focused(trace, focus)
    return trace


def _with_rate(s, learning_rate: float | None):
    return s if learning_rate is None else s.with_learning_rate(learning_rate)


def _check_naming(naming: str | None) -> None:
    from .errors import UsageError
    from .spec import NAMINGS

    if naming is not None and naming not in NAMINGS:
        raise UsageError(f"naming: expected one of {', '.join(NAMINGS)}, got '{naming}'", param="naming")


def _check_sample(s, sample: int, param: str = "sample") -> int:
    """`sample` (1-based) if the spec has it."""
    from .errors import UsageError
    from .fmt import counted

    if not 1 <= sample <= len(s.samples):
        raise UsageError(f"{param} {sample}: {s.source} has {counted(len(s.samples), 'sample')}", param=param)
    return sample


def plan(source=None, *, epochs: int = 100, batch: str | int = "online", shuffle: bool = False,
         seed: int | None = None, show=(), until_loss: float | None = None, watch: int = 1, round: int | None = None,
         health: bool = False):
    """A checked training plan (see trainer.Plan.build); show: "first,last", ["first", "last"], [1, 10] or "all";
    round=N: textbook rounding, every computed value rounded half up to N decimals (sgd, online);
    health: per-layer gradient norms per epoch and warnings (saturated, dead, vanishing; see bptrace.health)."""
    from .trainer import Plan

    return Plan.build(load(source), epochs=epochs, batch=batch, shuffle=shuffle, seed=seed, show=show,
                      until_loss=until_loss, watch=watch, round=round, health=health)


def train(source=None, *, epochs: int = 100, batch: str | int = "online", shuffle: bool = False,
          seed: int | None = None, show=(), until_loss: float | None = None, watch: int = 1,
          naming: str | None = None, learning_rate: float | None = None, round: int | None = None,
          health: bool = False):
    """Train for a number of epochs: returns a Result (per-epoch history, final weights, traces of `show` epochs;
    with health=True, result.health: per-layer gradient norms and findings, see bptrace.health)."""
    from . import trainer as training

    s = load(source, learning_rate=learning_rate, naming=naming)
    p = plan(s, epochs=epochs, batch=batch, shuffle=shuffle, seed=seed, show=show, until_loss=until_loss, watch=watch,
             round=round, health=health)
    return training.train(s, p, naming)


MAX_TRACE_EPOCH = 1_000_000  # trace_at replays at most this many epochs


def trace_at(source, epoch: int, sample: int, naming: str | None = None, round: int | None = None,
             batch: str | int = "online"):
    """The traced update of `sample` in `epoch` (1-based), training in order (online, as the worked example
    does, or in batches: the update of the batch that holds `sample`); round=N: every update before it too
    rounded to N decimals (textbook rounding)."""
    from . import tracer
    from . import trainer as training
    from .errors import DivergedError, UsageError
    from .fmt import counted

    s = load(source)
    _check_naming(naming)
    if not 1 <= sample <= len(s.samples):
        raise UsageError(f"sample = {sample}, but {s.source} has {counted(len(s.samples), 'sample')}", param="sample")
    if epoch == 1 and sample == 1 and round is None and batch == "online":
        return tracer.run(s, sample=1, naming=naming).iterations[0]
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1:
        raise UsageError(f"epoch = {epoch!r}: expected a whole number ≥ 1", param="epoch")
    if epoch > MAX_TRACE_EPOCH:
        raise UsageError(f"epoch = {epoch} is more than bptrace checks (at most {MAX_TRACE_EPOCH:,})", param="epoch")
    plan = training.Plan(epoch, training.parse_batch(batch), show=frozenset({epoch}), round=round)
    result = training.train(s, plan, naming)
    found = next((it for it in result.traces if any(p.sample == sample for p in it.passes)), None)
    if found is None and result.divergence is not None:
        raise DivergedError(f"epoch = {epoch}, sample = {sample} is never reached: the run diverges first "
                            f"({result.divergence.message()})")
    return found


def check_answers(source, answers, naming: str | None = None, rounding: int | None = None):
    """Check hand-computed answers (a TOML file's path, or its text) against the update they name: a Report.
    rounding=N: against a hand calculation that rounds every computed value to N decimals.

    Errors about the answers' epoch or sample name the answers file."""
    from decimal import Decimal

    from . import answers as answers_, check, spec
    from .errors import DivergedError, UsageError
    from .naming import for_spec

    s = load(source)
    _check_naming(naming)
    label, text = answers_.read(answers)
    aliases = answers_.mazur(for_spec(s, naming))
    claims, where, written = check.parse_answers(spec.parse_toml(text, label, parse_float=Decimal), label,
                                                 text, lambda key: answers_.canonical(key, aliases))
    epoch, sample, batch = where["epoch"], where["sample"], where["batch"]
    if batch != "online" and rounding is not None:
        raise UsageError(f"{label}: textbook rounding follows one sample per update; this file is about a "
                         f'batch (batch = {batch!r})', param="round")
    try:
        it = trace_at(s, epoch, sample, naming, rounding if rounding is not None and s.optimizer.name == "sgd" else None,
                      batch)
    except (UsageError, DivergedError) as e:
        raise type(e)(f"{label}: {e}") from None
    if batch != "online" and len(it.passes) > 1:  # claims about the batch: its E_total, gradients, updates
        from .batchcheck import check_batch

        return check_batch(it, claims, label, epoch, sample, written)
    return check.check(it, claims, label, epoch, sample, written, rounding)


def to_text(obj, fmt: str, precision: int = 8, lang: str | None = None, **options) -> str:
    """A Trace or a training Result as json, jsonl, md, html, walk, svg, tex or py text (bptrace.exports.REGISTRY).

    options: formulas (bool), style ("unicode" or "ascii"), every (epoch-table spacing), log_y (bool).
    lang: "en" or "ko", the language of the words (None: the locale's, LC_ALL / LC_MESSAGES / LANG)."""
    from .exports import Options
    from .exports import to_text as render
    from .i18n import language

    with language(lang):
        return render(obj, fmt, Options(precision=precision, **options))


def export(obj, path, format: str | None = None, precision: int = 8, lang: str | None = None, **options) -> None:
    """Write a Trace or Result to path, atomically; the format comes from the extension or `format`."""
    from .atomic import write_text
    from .exports import format_for

    write_text(path, to_text(obj, format_for(str(path), format), precision, lang, **options))
