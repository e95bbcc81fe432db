"""The command line: a thin Typer layer. Each command parses its options, makes one library call,
renders and exits. The library names parameters; the error boundary (terminal.py) shows them as flags.
With terminal.py and progress.py, the only place that prints, writes files or exits."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer
from rich.markup import escape

from . import samples
from .errors import DivergedError, UsageError, clip, safe_text
from .exports import FORMATS, REGISTRY, Options, extensions_text
from .outputs import Exports
from .terminal import _Group, err, out, report, user_errors

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
    "--export", "-o", help=f"Write the trace to PATH ({extensions_text().replace(' or ', ', ')}; - for stdout). Repeatable.",
    show_default=False, metavar="PATH")]
Format = Annotated[Optional[str], typer.Option(
    "--format", "-f", help=f"Export format when the extension does not say: {', '.join(FORMATS)}.", show_default=False)]


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
    from . import _check_sample, limits, tracer
    from . import trainer as train

    with user_errors():
        s = load_spec(spec, lr, naming)
        _check_sample(s, sample)
        opts = Options(precision, not no_formulas, "ascii" if ascii else "unicode")
        with Exports(export or [], format, inputs=[spec]) as exports:
            limits.check_run(s, tables=_draws(exports) or bool(exports.formats & {"md", "tex"}))
            trace = tracer.run(s, sample=sample, naming=naming)
            opts = _with_tables(trace, opts, _draws(exports))
            exports.finish(lambda fmt: REGISTRY[fmt].trace(trace, opts))
        if not exports.to_stdout:
            out.print(opts.tables)
        report(exports.written)
        blowup = train.blowup(trace.iterations[0])
        if blowup is not None:  # shown and exported as computed; the exit code says it blew up
            raise DivergedError(train.advise(blowup, s).message())


def _draws(exports) -> bool:
    """Whether the rich tables get built: for the terminal, or for an export that draws them (.html, .svg)."""
    return not exports.to_stdout or any(REGISTRY[f].draws_tables for f in exports.formats)


def _with_tables(trace, opts: Options, build: bool) -> Options:
    from dataclasses import replace

    from .render.tables import render_trace

    return replace(opts, tables=render_trace(trace, opts.precision, opts.formulas, opts.style)) if build else opts


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
    from .trainer import Plan

    with user_errors():
        s = load_spec(spec, lr, naming)
        plan = Plan.build(s, epochs=epochs, batch=batch, shuffle=shuffle, seed=seed, show=show,
                          until_loss=until_loss, watch=watch)
        opts = Options(precision, not no_formulas, every=every, log_y=log_y)
        with Exports(export or [], format, inputs=[spec]) as exports:
            result, shown = _train(s, plan, naming, exports, opts, quiet)
            exports.finish(lambda fmt: REGISTRY[fmt].run(result, opts), streamed=True)
        if not exports.to_stdout:
            out.print(shown)
        report(exports.written)
        if result.divergence is not None:
            raise DivergedError(result.divergence.message())
        if result.stop == "interrupted":
            raise typer.Exit(130)


def _train(s, plan, naming, exports, opts: Options, quiet: bool):
    """Train with progress, Ctrl-C and .jsonl streaming: (the Result, what the terminal shows)."""
    from . import limits, progress
    from . import trainer as train
    from .exports import JsonlStream
    from .render import training
    from .signals import interruptible

    n, tables = len(s.samples), not quiet and not exports.to_stdout
    printed = bool(plan.traces(n)) and (tables or bool(exports.formats & {"md", "tex", "html", "svg"}))
    streams = exports.streams()
    limits.check_step(s, plan.steps(n) if streams else plan.traces(n), printed, exports.formats)
    if tables:  # the network first, so there is something to read while it trains
        from .naming import for_spec

        out.print(training.header(s, for_spec(s, naming), plan))
    jsonl = JsonlStream(streams, s, None if quiet else progress.size_note(err, plan.steps(n))) if streams else None
    bar = progress.EpochProgress(plan.epochs, enabled=not quiet and out.is_terminal and not exports.to_stdout, console=out)
    with interruptible() as stopped, bar:
        result = train.train(s, plan, naming, on_epoch=bar, should_stop=stopped, on_trace=jsonl and jsonl.record)
    if jsonl:
        jsonl.summary(result)
    width = min(out.width, 100) - 2
    shown = training.summary(result, opts.precision) if quiet else \
        training.render_run(result, opts.view, opts.every, opts.log_y, width, with_header=False)
    return result, shown


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
    from . import trace_at
    from .render.check import check_report

    with user_errors():
        s = load_spec(spec, None, naming)
        label, text = samples.resolve(answers)
        text = spec_mod.read_text(label) if text is None else text
        claims, epoch, sample = checking.parse_answers(spec_mod.parse_toml(text, label, parse_float=Decimal), label, text)
        with _in_file(label):
            it = trace_at(s, epoch, sample, naming)
        report_ = checking.check(it, claims, label, epoch, sample)
        out.print(check_report(report_, precision))
        if not report_.ok:
            raise typer.Exit(1)


def _in_file(label: str):
    """Errors about values read from a file name the file, not a parameter: 'answers.toml: sample = 5, …'."""
    from contextlib import contextmanager

    from .errors import BptraceError

    @contextmanager
    def scope():
        try:
            yield
        except BptraceError as e:
            raise type(e)(f"{label}: {e}") from None

    return scope()


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
    from . import _check_sample
    from .gradcheck import gradcheck as run_gradcheck
    from .render.check import gradcheck_table

    with user_errors():
        s = load_spec(spec, None, naming)
        if sample is not None:
            _check_sample(s, sample)
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
    from . import _check_sample
    from . import trainer as train
    from . import verify as verifying

    with user_errors():
        if against != "torch":
            raise UsageError(f"--against: expected torch, got '{clip(against)}'")
        s = load_spec(spec)
        _check_sample(s, sample)
        report_ = verifying.compare(s, epochs, train.parse_batch(batch), sample, tol, atol)
        out.print(verifying.render(report_, precision))
        if not report_.ok:
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
    from .render.samples import samples_table

    with user_errors():
        if name is not None:
            sys.stdout.write(samples.text(name))
            return
        out.print(samples_table())
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
