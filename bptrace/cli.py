"""The command line: a thin Typer layer. Each command parses its options, makes one library call,
renders and exits. The library names parameters; the error boundary (terminal.py) shows them as flags.
With terminal.py and progress.py, the only place that prints, writes files or exits."""

# No `from __future__ import annotations`: Typer reads the signatures of the commands and callbacks, and
# would compile and eval each annotation string at every start.

import sys

import typer

import bptrace  # the library: one call per command

from . import _check_sample as _sample, load, samples
from .cli_options import (
    SpecArg, Precision, Naming, LR, NoFormulas, Export, Format, Sample, Ascii, Focus, Epochs, Batch, Shuffle, Seed,
    Show, Every, Watch, UntilLoss, LogY, Quiet, Spec, Answers, GradcheckSample, Tol, Atol, Eps, Against,
    VerifyEpochs, VerifyBatch, VerifySample, VerifyTol, VerifyAtol, Model, Activations, Loss, Lr, X, Target,
    MaxParams, ValidateSpec, Path, Force, Name, Topic, VerifyPrecision, Version,
    QuizSpec, QuizSeed, Ask, QuizOut, Shape, Activation, QuizLoss, Summary, SummaryExport, Round, RunRound, Form,
    Health,
)
from .errors import DivergedError, UsageError, clip, safe_text
from .exports import REGISTRY, Options
from .outputs import Exports, write_new
from .terminal import _Group, display, entry, err, escape, out, user_errors

app = typer.Typer(
    name="bptrace", help="Step-by-step backpropagation tracer: every z, h, o, E, chain-rule factor and update, "
    "worked the way a textbook example is.", add_completion=False, no_args_is_help=True,
    pretty_exceptions_enable=False, cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})


@app.callback()
def _options(version: Version = False) -> None:
    """Step-by-step backpropagation tracer: every z, h, o, E, chain-rule factor and update,
    worked the way a textbook example is."""


def load_spec(spec: str | None, lr: float | None = None, naming: str | None = None):
    return load(spec, learning_rate=lr, naming=naming)


def _precision(precision: int, round_: int | None) -> int:
    return precision if round_ is None else min(precision, round_)  # shown to the decimals it keeps


@app.command()
def run(spec: SpecArg = None, sample: Sample = 1, precision: Precision = 8, lr: LR = None, naming: Naming = None,
        no_formulas: NoFormulas = False, export: Export = None, format: Format = None, ascii: Ascii = False,
        round_: RunRound = None, focus: Focus = None, form: Form = "scalar"):
    """Trace one iteration: forward pass, errors, backward pass, updates, and the check."""
    from .divergence import advise, blowup

    with user_errors():
        s = load_spec(spec, lr, naming)
        opts = Options(_precision(precision, round_), not no_formulas, "ascii" if ascii else "unicode", form=form)
        with Exports(export or [], format, inputs=[spec]) as exports:
            trace = bptrace.run(s, sample=sample, naming=naming, round=round_, focus=focus, form=form,
                                tables=exports.tabulates)
            display(exports, exports.finish_trace(trace, opts))
        blown = blowup(trace.iterations[0])
        if blown is not None:  # shown and exported as computed; the exit code says it blew up
            raise DivergedError(advise(blown, s).message())


@app.command()
def explore(spec: SpecArg = None, batch: Batch = "online", precision: Precision = 8, lr: LR = None,
            naming: Naming = None):
    """Walk one update quantity by quantity on the network diagram, in a full-screen terminal app."""
    from . import limits, walk

    with user_errors():
        s = load_spec(spec, lr, naming)
        limits.check_run(s, tables=True)
        b = bptrace.plan(s, epochs=1, batch=batch).batch
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise UsageError("explore is interactive: run it in a terminal (for a script or notes: "
                             "bptrace run --focus PARAM, or bptrace run --export walk.html)")
        it = walk.first_iteration(s, naming, b)
    from .explore import Explorer  # Textual: imported by this command only

    Explorer(s, it, precision, naming, b).run()


@app.command()
def step(spec: SpecArg = None, epochs: Epochs = 100, batch: Batch = "online", shuffle: Shuffle = False,
         seed: Seed = None, show: Show = None, every: Every = None, watch: Watch = 1, until_loss: UntilLoss = None,
         log_y: LogY = False, quiet: Quiet = False, precision: Precision = 8, lr: LR = None, naming: Naming = None,
         no_formulas: NoFormulas = False, export: Export = None, format: Format = None, round_: RunRound = None,
         form: Form = "scalar", health: Health = False):
    """Train for N epochs and show the run: per-epoch table, loss curve, final weights and outputs.

    Exit codes: 0 done; 1 an export could not be written; 2 bad input;
    3 training diverged (a NaN or an infinity); 130 interrupted (Ctrl-C).
    """
    from . import progress

    with user_errors():
        s = load_spec(spec, lr, naming)
        plan = bptrace.plan(s, epochs=epochs, batch=batch, shuffle=shuffle, seed=seed, show=show,
                            until_loss=until_loss, watch=watch, round=round_, health=health)
        opts = Options(_precision(precision, round_), not no_formulas, every=every, log_y=log_y, form=form)
        with Exports(export or [], format, inputs=[spec]) as exports:
            result, shown = progress.train(s, plan, naming, exports, opts, quiet)
            exports.finish(lambda fmt: REGISTRY[fmt].run(result, opts), streamed=True)
        display(exports, shown)
        if result.divergence is not None:
            raise DivergedError(result.divergence.message())
        if result.stop == "interrupted":
            raise typer.Exit(130)


@app.command()
def check(spec: Spec, answers: Answers, summary: Summary = False, export: SummaryExport = None,
          round_: Round = None, precision: Precision = 8, naming: Naming = None):
    """Check hand-computed answers: which claims hold, and where a wrong one came from.

    Exit code 0 when every claim holds, 1 when any is wrong, 2 for bad input.
    """
    from . import cli_show

    with user_errors():
        s = load_spec(spec, None, naming)
        if summary or export is not None:
            return cli_show.class_summary(s, answers, export, naming, round_)
        cli_show.check_reports(answers, [bptrace.check_answers(s, a, naming, round_) for a in answers], precision)


@app.command()
def quiz(spec: QuizSpec = None, seed: QuizSeed = 1, ask: Ask = "forward,errors,output-deltas,gradients,updates",
         out_dir: QuizOut = "quiz", shape: Shape = None, activation: Activation = "sigmoid",
         loss: QuizLoss = "half_sse", precision: Precision = 8, force: Force = False):
    """Write an exercise on one update, with its answers template and its worked key.

    Writes exercise.md/.tex, answers.toml and key.md/.tex to --out; without SPEC, the exercise is on a
    made-up network with nice numbers."""
    import os

    from .quiz import make

    with user_errors():
        files = make(spec, shape, activation, loss, seed, ask, precision)
        os.makedirs(out_dir, exist_ok=True)
        for name, text in files.items():
            write_new(os.path.join(out_dir, name), text, force)
        err.print(f"wrote {', '.join(files)} to {escape(safe_text(out_dir))}", highlight=False)


@app.command()
def gradcheck(spec: SpecArg = None, sample: GradcheckSample = None, tol: Tol = 1e-5, atol: Atol = 1e-8,
              eps: Eps = 1e-6, precision: Precision = 8, naming: Naming = None):
    """Compare every analytic gradient with central finite differences (exit 1 if any disagrees)."""
    from .gradcheck import gradcheck as run_gradcheck
    from .render.check import gradcheck_table

    with user_errors():
        s = load_spec(spec, None, naming)
        rows = run_gradcheck(s, None if sample is None else [_sample(s, sample) - 1], eps, tol, atol, naming)
        out.print(gradcheck_table(rows, tol, precision))
        if not all(r.ok for r in rows):
            raise typer.Exit(1)


@app.command()
def verify(spec: SpecArg = None, against: Against = "torch", epochs: VerifyEpochs = None,
           batch: VerifyBatch = "online", sample: VerifySample = 1, tol: VerifyTol = 1e-9,
           atol: VerifyAtol = 1e-12, precision: VerifyPrecision = 12):
    """Run the same spec in PyTorch and compare every value (exit 1 if any differs)."""
    from . import trainer as train
    from . import verify as verifying

    with user_errors():
        if against != "torch":
            raise UsageError(f"--against: expected torch, got '{clip(against)}'")
        s = load_spec(spec)
        report_ = verifying.compare(s, epochs, train.parse_batch(batch), _sample(s, sample), tol, atol)
        out.print(verifying.render(report_, precision))
        if not report_.ok:
            raise typer.Exit(1)


@app.command("import")
def import_(model: Model, activations: Activations, loss: Loss = "half_sse", lr: Lr = 0.1, x: X = None,
            target: Target = None, max_params: MaxParams = 10_000):
    """Write a spec from a small fully connected model's weights (.npz, .safetensors or a PyTorch state_dict)."""
    from .importer import import_model

    with user_errors():
        sys.stdout.write(import_model(model, activations, loss, lr, x or [], target or [], max_params))


@app.command()
def validate(spec: ValidateSpec):
    """Check a spec without running it, and print the network it describes."""
    from .cli_show import valid_spec

    with user_errors():
        valid_spec(load_spec(spec))


@app.command()
def init(path: Path = "network.toml", force: Force = False):
    """Write a commented starter spec (the worked example, every key explained) to edit."""
    with user_errors():
        if not path.strip():
            raise UsageError("init: PATH is empty; expected a file name such as network.toml")
        write_new(path, samples.starter(), force)
        err.print(f"wrote {escape(safe_text(path))}; try [bold]bptrace run {escape(safe_text(path))}[/]", highlight=False)


@app.command()
def schema():
    """Print the JSON Schema of bptrace's JSON and JSON Lines exports."""
    from .exports.json_ import schema_text

    sys.stdout.write(schema_text())


@app.command("samples")
def samples_cmd(name: Name = None):
    """List the built-in sample specs, or print one."""
    from .cli_show import sample_list

    with user_errors():
        if name is None:
            return sample_list()
        sys.stdout.write(samples.text(name))


@app.command("docs")
def docs_cmd(topic: Topic = None):
    """Read the documentation in the terminal: the spec format, the worked example, the trace format, gradient health, dropout, recurrent and convolution layers."""
    from .cli_show import docs_topic

    with user_errors():
        docs_topic(topic)


def main() -> None:
    """The entry point (see terminal.entry)."""
    entry(app)
