"""The command line: a thin Typer layer. The only module that prints, writes files or exits."""

from __future__ import annotations

import math
import os
import re
import sys
import time
from contextlib import contextmanager
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from . import ascii as _ascii
from . import samples
from .errors import BptraceError, DivergedError, UsageError, clip, safe_text
from .outputs import Exports as _Exports
from .signals import interruptible as _interruptible

try:  # typer >= 0.2x carries its own copy of click
    from typer._click import exceptions as click_exceptions
    from typer._click.globals import get_current_context
except ImportError:  # pragma: no cover
    from click import exceptions as click_exceptions
    from click import get_current_context
from typer.core import TyperArgument, TyperGroup


class _Group(TyperGroup):
    """Click's own messages (unknown option, bad value) echo the command line: escape its control characters."""

    def make_context(self, *args, **kwargs):
        with _safe_click_messages():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx):
        with _safe_click_messages():
            return super().invoke(ctx)


@contextmanager
def _safe_click_messages():
    try:
        yield
    except click_exceptions.ClickException as e:
        e.message = safe_text(e.message)
        raise


_typer_metavar = TyperArgument.make_metavar


def _plain_metavar(self, *args, **kwargs) -> str:
    """Usage lines read `check [OPTIONS] SPEC ANSWERS`, as POSIX writes them (Typer writes `{SPEC}`)."""
    var = _typer_metavar(self, *args, **kwargs)
    return var[1:-1] if var.startswith("{") and var.endswith("}") else var


TyperArgument.make_metavar = _plain_metavar

app = typer.Typer(
    name="bptrace",
    help="Step-by-step backpropagation tracer: every z, h, o, E, chain-rule factor and update, "
    "worked the way a textbook example is.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"]},
)



def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        sys.stdout.write(f"bptrace {version('bptrace')}\n")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[bool, typer.Option("--version", "-V", callback=_version, is_eager=True,
                                          help="Print bptrace's version and exit.")] = False,
) -> None:
    """Step-by-step backpropagation tracer: every z, h, o, E, chain-rule factor and update,
    worked the way a textbook example is."""


MIN_WIDTH, MAX_WIDTH = 40, 1000  # columns bptrace lays out for, whatever COLUMNS or the terminal says


def _drop_unusable_sizes(env=os.environ) -> None:
    """Remove a COLUMNS or LINES that is not a whole number > 0 in ASCII digits: rich (every Console in
    the process, the exports' too) would call int('²') or lay out for 0 columns."""
    for key in ("COLUMNS", "LINES"):
        value = env.get(key)
        if value is not None and not (value.isascii() and value.isdigit() and len(value) <= 5 and int(value) > 0):
            del env[key]


def _console(stderr: bool = False) -> Console:
    from .outputs import TrimmedLines

    console = Console(stderr=True) if stderr else Console(file=TrimmedLines(lambda: sys.stdout))
    if console.width < MIN_WIDTH:  # COLUMNS=2: not a real width; lay out as for a standard terminal
        console.width = 80
    console.width = min(console.width, MAX_WIDTH)
    return console


_ascii.install(sys.stdout, sys.stderr)  # a stream that cannot encode ∂ or box drawing gets d and - | +
_drop_unusable_sizes()
out = _console()
err = _console(stderr=True)

SpecArg = Annotated[
    Optional[str],
    typer.Argument(help="Spec file (TOML), or a built-in sample's name. Default: the built-in worked example.",
                   show_default=False, metavar="SPEC"),
]
Precision = Annotated[int, typer.Option("--precision", "-p", min=0, max=17, help="Decimals shown for computed values.")]
Naming = Annotated[Optional[str], typer.Option("--naming", help="Naming scheme: seed (w1, h1, o1) or layered (W^(l)_jk).",
                                                show_default="from the spec, else seed")]
LR = Annotated[Optional[float], typer.Option("--lr", help="Override the spec's learning rate.", show_default=False)]
NoFormulas = Annotated[bool, typer.Option("--no-formulas", help="Values only, no formulas (for wide networks).")]
Export = Annotated[Optional[list[str]], typer.Option(
    "--export", "-o", help="Write the trace to PATH (.json, .jsonl, .md, .html, .svg, .tex, .py; - for stdout). Repeatable.",
    show_default=False, metavar="PATH")]
Format = Annotated[Optional[str], typer.Option("--format", "-f", help="Export format when the extension does not say: json, jsonl, md, html, svg, tex, py.",
                                               show_default=False)]


@contextmanager
def user_errors():
    """The one error boundary: a BptraceError becomes one message (one line, no control characters)
    and its exit code. The running command's options are checked first."""
    try:
        _check_options()
        yield
    except BptraceError as e:
        err.print(f"[bold red]error:[/] {escape(safe_text(str(e)))}", highlight=False, soft_wrap=True)
        raise typer.Exit(e.exit_code) from None


DIGIT_OPTIONS = ("batch", "show")  # text options that hold whole numbers: ASCII digits only ('²'.isdigit() is True)


def _check_options() -> None:
    """Every float option must be finite (--tol nan would pass every check); numbers in text options are 0-9."""
    ctx = get_current_context(silent=True)
    if ctx is None:
        return
    for param in ctx.command.params:
        value, flag = ctx.params.get(param.name), max(param.opts, key=len)
        if param.param_type_name == "argument":
            flag = (param.metavar or param.name).upper()
        if any(isinstance(v, str) and "\x00" in v for v in (value if isinstance(value, (list, tuple)) else [value])):
            raise UsageError(f"{flag}: contains a NUL character (U+0000), which no file name or option value can hold")
        if isinstance(value, float) and not math.isfinite(value):
            raise UsageError(f"{flag}: expected a finite number, got {value}")
        if param.name in DIGIT_OPTIONS and isinstance(value, str):
            if not value.isascii():
                raise UsageError(f"{flag}: numbers are written with the digits 0-9, got '{clip(value)}'")
            if re.search(r"\d{19}", value):  # int() of 5,000 digits raises; nothing here needs more than 18
                raise UsageError(f"{flag}: expected whole numbers of at most 18 digits, got '{clip(value)}'")


def load_spec(spec: str | None, lr: float | None = None, naming: str | None = None):
    from . import spec as spec_mod

    label, text = samples.resolve(spec)
    s = spec_mod.load(label) if text is None else spec_mod.loads(text, label)
    if lr is not None:
        s = s.with_learning_rate(lr)
    if naming is not None and naming not in spec_mod.NAMINGS:
        raise UsageError(f"--naming: expected one of {', '.join(spec_mod.NAMINGS)}, got '{naming}'")
    return s


@app.command()
def run(
    spec: SpecArg = None,
    sample: Annotated[int, typer.Option("--sample", "-s", min=1, help="Which sample to trace (1-based).")] = 1,
    precision: Precision = 8,
    lr: LR = None,
    naming: Naming = None,
    no_formulas: NoFormulas = False,
    export: Export = None,
    format: Format = None,
    ascii: Annotated[bool, typer.Option("--ascii", help="ASCII names and operators (dE_total/dw5, delta_o1, *).")] = False,
):
    """Trace one iteration: forward pass, errors, backward pass, updates, and the check."""
    from . import limits, tracer
    from . import trainer as train
    from .render.tables import render_trace

    with user_errors():
        s = load_spec(spec, lr, naming)
        if sample > len(s.samples):
            raise UsageError(f"--sample {sample}: {s.source} has {len(s.samples)} sample(s)")
        with _Exports(export or [], format, inputs=[spec]) as exports:
            build = _needs_tables(exports)
            limits.check_run(s, tables=build or any(f in ("md", "tex") for _, f in exports.targets))
            trace = tracer.run(s, sample=sample, naming=naming)
            tables = render_trace(trace, precision=precision, formulas=not no_formulas,
                                  style="ascii" if ascii else "unicode") if build else None
            exports.finish(lambda fmt: _trace_text(fmt, trace, tables, precision))
        if not exports.to_stdout:
            out.print(tables)
        _report(exports)
        blowup = train.blowup(trace.iterations[0])
        if blowup is not None:  # shown and exported as computed; the exit code says it blew up
            raise DivergedError(train.advise(blowup, s).message())


def _needs_tables(exports) -> bool:
    """Whether the rich tables get built: for the terminal, or for an .html or .svg export."""
    return not exports.to_stdout or any(f in ("html", "svg") for _, f in exports.targets)


def _trace_text(fmt: str, trace, tables, precision: int) -> str:
    from .exports import json_, markdown, rich_
    from .exports.torch_ import torch_script

    if fmt == "json":
        return json_.trace_json(trace)
    if fmt == "jsonl":
        return json_.trace_jsonl(trace)
    if fmt == "md":
        return markdown.trace_markdown(trace, precision)
    if fmt == "tex":
        from .exports.latex import trace_latex

        return trace_latex(trace, precision)
    if fmt == "py":
        return torch_script(trace, precision)
    title = trace.spec.title or "bptrace trace"
    return rich_.html(tables, title) if fmt == "html" else rich_.svg(tables, title)


def _report(exports) -> None:
    for path in exports.written:
        err.print(f"[dim]wrote {escape(safe_text(path))}[/]", highlight=False, soft_wrap=True)


@app.command()
def step(
    spec: SpecArg = None,
    epochs: Annotated[int, typer.Option("--epochs", "-n", min=1, max=10_000_000, help="Epochs to train (passes over every sample).")] = 100,
    batch: Annotated[str, typer.Option("--batch", "-b", help="online (one update per sample), full (mean gradient of all samples) or K (mini-batches of K).")] = "online",
    shuffle: Annotated[bool, typer.Option("--shuffle", help="Shuffle the samples every epoch.")] = False,
    seed: Annotated[Optional[int], typer.Option("--seed", min=0, help="Shuffle seed.", show_default="the spec's seed")] = None,
    show: Annotated[Optional[str], typer.Option("--show", help="Epochs to trace in full: first,last or 1,10,100 or all.", show_default=False)] = None,
    every: Annotated[Optional[int], typer.Option("--every", min=1, help="List every K-th epoch in the epoch table.", show_default="about 20 rows")] = None,
    watch: Annotated[int, typer.Option("--watch", "-w", min=1, help="Sample whose outputs the epoch table shows (1-based).")] = 1,
    until_loss: Annotated[Optional[float], typer.Option("--until-loss", help="Stop once an epoch's loss is at or below this.", show_default=False)] = None,
    log_y: Annotated[bool, typer.Option("--log-y", help="Draw the loss curve on a log scale.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the final summary.")] = False,
    precision: Precision = 8,
    lr: LR = None,
    naming: Naming = None,
    no_formulas: NoFormulas = False,
    export: Export = None,
    format: Format = None,
):
    """Train for N epochs and show the run: per-epoch table, loss curve, final weights and outputs."""
    from . import limits
    from . import trainer as train
    from .render import tables, training

    with user_errors():
        s = load_spec(spec, lr, naming)
        shown, last = train.parse_show(show, epochs)
        plan = train.Plan(epochs, train.parse_batch(batch), shuffle, seed, shown, last, until_loss, watch)
        traces = (epochs if shown == "all" else len(shown)) * len(train.batches(len(s.samples), plan, None))
        if traces > 10_000:
            raise UsageError(f"--show would print {traces:,} full traces; pick a few epochs (--show first,last) "
                             "or write every one to a file (--export run.jsonl)")
        view = tables.View(precision, not no_formulas)
        with _Exports(export or [], format, inputs=[spec]) as exports:
            show_tables = not quiet and not exports.to_stdout
            steps = epochs * len(train.batches(len(s.samples), plan, None))
            printed = bool(traces) and (show_tables or any(f in ("md", "tex", "html", "svg") for _, f in exports.targets))
            limits.check_step(s, steps if exports.stream("jsonl") else traces, printed, {f for _, f in exports.targets})
            if show_tables:  # the network first, so there is something to read while it trains
                from .naming import for_spec

                out.print(training.header(s, for_spec(s, naming), plan))
            streams = exports.stream("jsonl")
            on_trace = _jsonl_streamer(streams, s, steps, quiet) if streams else None
            progress = _EpochProgress(epochs, enabled=not quiet and out.is_terminal and not exports.to_stdout)
            with _interruptible() as stopped:
                try:
                    result = train.train(s, plan, naming, on_epoch=progress, should_stop=stopped, on_trace=on_trace)
                finally:
                    progress.close()
            width = min(out.width, 100) - 2
            shown_run = None if quiet else training.render_run(result, view, every, log_y, width, with_header=False)
            if streams:
                from .exports import json_

                for w in streams:
                    w.write(json_.jsonl_line(json_.run_summary(result)))
            exports.finish(lambda fmt: _run_text(fmt, result, view, every, log_y), skip=("jsonl",))
        if not exports.to_stdout:
            out.print(shown_run if shown_run is not None else training.summary(result, precision))
        _report(exports)
        if result.divergence is not None:
            raise DivergedError(result.divergence.message())
        if result.stop == "interrupted":
            raise typer.Exit(130)


def _jsonl_streamer(streams, spec, steps: int, quiet: bool):
    from .exports import json_

    head = json_.jsonl_line(json_.header(spec, "step"))
    for w in streams:
        w.write(head)
    first = []

    def write(it) -> None:
        line = json_.jsonl_line(json_.iteration_record(it))
        for w in streams:
            w.write(line)
        if not first:  # one record written: the size of them all is known
            first.append(len(line.encode("utf-8")))
            if not quiet:
                _note_size(first[0] * steps, steps)

    return write


JSONL_NOTE_BYTES = 10_000_000


def _note_size(total: int, records: int) -> None:
    """Say up front what a long .jsonl export will weigh (from its first record), when it is over 10 MB."""
    if total >= JSONL_NOTE_BYTES:
        err.print(f"[dim]note: the .jsonl export will take about {total / 1e6:,.0f} MB ({records:,} records); "
                  "Ctrl-C stops early and keeps the records written so far[/]", highlight=False, soft_wrap=True)


def _run_text(fmt: str, result, view, every, log_y) -> str:
    from .exports import json_, markdown, rich_
    from .exports.torch_ import torch_script
    from .render import training

    if fmt == "json":
        return json_.run_json(result)
    if fmt == "md":
        return markdown.run_markdown(result, view.precision, every)
    if fmt == "tex":
        from .exports.latex import run_latex

        return run_latex(result, view.precision)
    if fmt == "py":
        return torch_script(result, view.precision)
    title = result.spec.title or "bptrace training run"
    if fmt == "html":
        return rich_.run_html(result, view, every, log_y, title)
    return rich_.svg(training.render_run(result, view, every, log_y, 98), title)


class _EpochProgress:
    """A progress bar that appears only once a run has lasted half a second, and only on a terminal;
    it is refreshed by time (ten times a second), however long an epoch takes."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.enabled = total, enabled
        self.start = self.shown = time.monotonic()
        self.bar = None

    def __call__(self, epoch: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.shown < 0.1 or now - self.start < 0.5:
            return
        self.shown = now
        if self.bar is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("epoch"), MofNCompleteColumn(), BarColumn(), TimeRemainingColumn(),
                                console=out, transient=True)
            self.task = self.bar.add_task("training", total=self.total)
            self.bar.start()
        self.bar.update(self.task, completed=epoch)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


@app.command()
def check(
    spec: Annotated[str, typer.Argument(help="Spec file (TOML), or a built-in sample's name.", show_default=False,
                                        metavar="SPEC")],
    answers: Annotated[str, typer.Argument(help="Answers file (TOML): claimed values by name, e.g. z1 = 0.08.",
                                           show_default=False, metavar="ANSWERS")],
    precision: Precision = 8,
    naming: Naming = None,
):
    """Check hand-computed answers: which claims hold, and where a wrong one came from.

    Exit code 0 when every claim holds, 1 when any is wrong, 2 for bad input.
    """
    from decimal import Decimal

    from . import check as checking
    from . import spec as spec_mod
    from .render.check import check_report

    with user_errors():
        s = load_spec(spec, None, naming)
        label, text = samples.resolve(answers)
        text = spec_mod.read_text(label) if text is None else text
        data = spec_mod.parse_toml(text, label, parse_float=Decimal)
        claims, epoch, sample = checking.parse_answers(data, label, text)
        it = _iteration_for(s, epoch, sample, naming, label)
        report = checking.check(it, claims, label, epoch, sample)
        out.print(check_report(report, precision))
        if not report.ok:
            raise typer.Exit(1)


def _iteration_for(s, epoch: int, sample: int, naming, label: str):
    """The traced update of `sample` in `epoch` (online training in order, as the worked example does)."""
    from . import tracer
    from . import trainer as train

    if sample > len(s.samples):
        raise UsageError(f"{label}: sample = {sample}, but {s.source} has {len(s.samples)} sample(s)")
    if epoch == 1 and sample == 1:
        return tracer.run(s, sample=1, naming=naming).iterations[0]
    if epoch > 1_000_000:
        raise UsageError(f"{label}: epoch = {epoch} is more than bptrace checks (at most 1,000,000)")
    result = train.train(s, train.Plan(epoch, show=frozenset({epoch})), naming)
    found = next((it for it in result.traces if it.passes[0].sample == sample), None)
    if found is None and result.divergence is not None:
        raise DivergedError(f"{label}: epoch = {epoch}, sample = {sample} is never reached: the run diverges first "
                            f"({result.divergence.message()})")
    return found


@app.command()
def gradcheck(
    spec: SpecArg = None,
    sample: Annotated[Optional[int], typer.Option("--sample", "-s", min=1, help="Check the gradient of one sample (1-based).",
                                                  show_default="the mean over all samples")] = None,
    tol: Annotated[float, typer.Option("--tol", min=0.0, help="Largest relative error allowed.")] = 1e-5,
    atol: Annotated[float, typer.Option("--atol", min=0.0, help="Absolute errors below this always pass.")] = 1e-8,
    eps: Annotated[float, typer.Option("--eps", min=1e-12, max=1.0, help="Step h of the central difference.")] = 1e-6,
    precision: Precision = 8,
    naming: Naming = None,
):
    """Compare every analytic gradient with central finite differences (exit 1 if any disagrees)."""
    from .gradcheck import gradcheck as run_gradcheck
    from .render.check import gradcheck_table

    with user_errors():
        s = load_spec(spec, None, naming)
        if sample is not None and sample > len(s.samples):
            raise UsageError(f"--sample {sample}: {s.source} has {len(s.samples)} sample(s)")
        rows = run_gradcheck(s, None if sample is None else [sample - 1], eps, tol, atol, naming)
        out.print(gradcheck_table(rows, tol, precision))
        if not all(r.ok for r in rows):
            raise typer.Exit(1)


@app.command()
def verify(
    spec: SpecArg = None,
    against: Annotated[str, typer.Option("--against", help="What to compare with: torch (PyTorch float64 autograd and torch.optim).")] = "torch",
    epochs: Annotated[Optional[int], typer.Option("--epochs", "-n", min=1, help="Compare a training run of N epochs (default: one update).", show_default=False)] = None,
    batch: Annotated[str, typer.Option("--batch", "-b", help="With --epochs: online, full or K (mini-batches of K).")] = "online",
    sample: Annotated[int, typer.Option("--sample", "-s", min=1, help="Without --epochs: the sample to update on (1-based).")] = 1,
    tol: Annotated[float, typer.Option("--tol", min=0.0, help="Largest relative difference allowed.")] = 1e-9,
    atol: Annotated[float, typer.Option("--atol", min=0.0, help="Absolute differences below this always pass.")] = 1e-12,
    precision: Annotated[int, typer.Option("--precision", "-p", min=0, max=17, help="Decimals shown.")] = 12,
):
    """Run the same spec in PyTorch and compare every value (exit 1 if any differs)."""
    from . import trainer as train
    from . import verify as verifying

    with user_errors():
        if against != "torch":
            raise UsageError(f"--against: expected torch, got '{clip(against)}'")
        s = load_spec(spec)
        if sample > len(s.samples):
            raise UsageError(f"--sample {sample}: {s.source} has {len(s.samples)} sample(s)")
        report = verifying.compare(s, epochs, train.parse_batch(batch), sample, tol, atol)
        out.print(verifying.render(report, precision))
        if not report.ok:
            raise typer.Exit(1)


@app.command("import")
def import_(
    model: Annotated[str, typer.Argument(help="The model's weights: .npz (numpy.savez) or .pt/.pth (torch.save of a state_dict).",
                                         show_default=False, metavar="MODEL")],
    activations: Annotated[str, typer.Option("--activations", "-a", help="One activation per linear layer, e.g. relu,softmax.",
                                             show_default=False)],
    loss: Annotated[str, typer.Option("--loss", help="The loss: half_sse, sse, mse, cross_entropy, binary_cross_entropy.")] = "half_sse",
    lr: Annotated[float, typer.Option("--lr", help="The spec's learning rate.")] = 0.1,
    x: Annotated[Optional[list[str]], typer.Option("--x", help="A sample's inputs, e.g. 0.5,1 (repeatable).", show_default="zeros")] = None,
    target: Annotated[Optional[list[str]], typer.Option("--target", help="Its targets (one --target per --x).", show_default="zeros")] = None,
    max_params: Annotated[int, typer.Option("--max-params", min=1, max=5_000_000, help="Refuse larger models.")] = 10_000,
):
    """Write a spec from a small fully connected model's weights (.npz or a PyTorch state_dict)."""
    from .importer import import_model

    with user_errors():
        sys.stdout.write(import_model(model, activations, loss, lr, x or [], target or [], max_params))


@app.command()
def validate(spec: Annotated[str, typer.Argument(help="Spec file (TOML) to check.", show_default=False,
                                                 metavar="SPEC")]):
    """Check a spec without running it, and print the network it describes."""
    from .naming import for_spec
    from .render.tables import summary

    with user_errors():
        s = load_spec(spec)
        out.print(summary(s, for_spec(s)))
        out.print(f"[green]✓[/] {escape(safe_text(s.source))} is a valid spec: {len(s.samples)} sample(s), {s.n_params} parameters.")


@app.command()
def init(
    path: Annotated[str, typer.Argument(help="Where to write the starter spec.", metavar="PATH")] = "network.toml",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
):
    """Write a commented starter spec (the worked example, every key explained) to edit."""
    from .atomic import create_text, write_text

    with user_errors():
        if not path.strip():
            raise UsageError("init: PATH is empty; expected a file name such as network.toml")
        try:
            (write_text if force else create_text)(path, samples.starter())
        except FileExistsError:  # checked when the file is created: of racing inits, exactly one wins
            raise UsageError(f"{clip(safe_text(path))} already exists; use --force to overwrite it") from None
        err.print(f"wrote {escape(safe_text(path))}; try [bold]bptrace run {escape(safe_text(path))}[/]", highlight=False)


@app.command()
def schema():
    """Print the JSON Schema of bptrace's JSON and JSON Lines exports."""
    from .exports.json_ import schema_text

    sys.stdout.write(schema_text())


@app.command("samples")
def samples_cmd(
    name: Annotated[Optional[str], typer.Argument(help="Print this sample's TOML, to start from it.", show_default=False,
                                                  metavar="NAME")] = None,
):
    """List the built-in sample specs, or print one."""
    from . import spec as spec_mod

    with user_errors():
        if name is not None:
            sys.stdout.write(samples.text(name))
            return
        from rich.table import Table
        from rich.text import Text

        t = Table(box=None, show_header=True, padding=(0, 2))
        t.add_column("name", style="cyan")
        t.add_column("network")
        t.add_column("title")
        for n in samples.names():
            s = spec_mod.loads(samples.text(n), f"{n}.toml")
            widths = "-".join(map(str, s.widths))
            t.add_row(n, f"{widths} {s.layers[-1].activation}, {s.loss}", Text(s.title))
        out.print(t)
        out.print("\nRun one with [bold]bptrace run NAME[/]; copy one with [bold]bptrace samples NAME > my.toml[/].")


@app.command("docs")
def docs_cmd(
    topic: Annotated[Optional[str], typer.Argument(help="spec, worked-example or trace-format.", show_default=False,
                                                   metavar="TOPIC")] = None,
):
    """Read the documentation in the terminal: the spec format, the worked example, the trace format."""
    from . import guide

    with user_errors():
        if topic is None:
            for name, (_, what) in guide.TOPICS.items():
                out.print(f"[cyan]{name:<16}[/] {what}", highlight=False)
            out.print("\nRead one with [bold]bptrace docs TOPIC[/].")
            return
        text = guide.text(topic)
        if out.is_terminal:
            from rich.markdown import Markdown

            out.print(Markdown(text))
        else:
            sys.stdout.write(text)


def main() -> None:
    """The entry point: signals and broken output end the run cleanly (exit 128+N, or 1 for a failed write)."""
    from . import atomic, signals
    from .outputs import guard_stdout

    guard_stdout()
    signals.install()
    try:
        with user_errors():  # also a failed write outside a command's boundary (schema's output)
            try:
                app()
            finally:
                sys.stdout.flush()  # what is still buffered may fail only now
    except signals.Stopped as e:
        atomic.cleanup()
        if e.message():
            try:
                err.print(e.message(), highlight=False)
            except OSError:
                pass  # the terminal is gone (SIGHUP)
        sys.exit(e.exit_code)
    except typer.Exit as e:
        sys.exit(e.exit_code)


if __name__ == "__main__":
    main()
