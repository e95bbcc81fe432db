"""The command line: a thin Typer layer. The only module that prints, writes files or exits."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from . import samples
from .errors import BptraceError, UsageError

app = typer.Typer(
    name="bptrace",
    help="Step-by-step backpropagation tracer: every z, h, o, E, chain-rule factor and update, "
    "worked the way a textbook example is.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

out = Console()
err = Console(stderr=True)

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


@contextmanager
def user_errors():
    """The one error boundary: a BptraceError becomes one message and its exit code."""
    try:
        yield
    except BptraceError as e:
        err.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
        raise typer.Exit(e.exit_code) from None


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
):
    """Trace one iteration: forward pass, errors, backward pass, updates, and the check."""
    from . import tracer
    from .render.tables import render_trace

    with user_errors():
        s = load_spec(spec, lr, naming)
        if sample > len(s.samples):
            raise UsageError(f"--sample {sample}: {s.source} has {len(s.samples)} sample(s)")
        trace = tracer.run(s, sample=sample, naming=naming)
        out.print(render_trace(trace, precision=precision, formulas=not no_formulas))


@app.command("samples")
def samples_cmd(
    name: Annotated[Optional[str], typer.Argument(help="Print this sample's TOML, to start from it.", show_default=False)] = None,
):
    """List the built-in sample specs, or print one."""
    from . import spec as spec_mod

    with user_errors():
        if name is not None:
            sys.stdout.write(samples.text(name))
            return
        from rich.table import Table

        t = Table(box=None, show_header=True, padding=(0, 2))
        t.add_column("name", style="cyan")
        t.add_column("network")
        t.add_column("title")
        for n in samples.names():
            s = spec_mod.loads(samples.text(n), f"{n}.toml")
            widths = "-".join(map(str, s.widths))
            t.add_row(n, f"{widths} {s.layers[-1].activation}, {s.loss}", s.title)
        out.print(t)
        out.print("\nRun one with [bold]bptrace run NAME[/]; copy one with [bold]bptrace samples NAME > my.toml[/].")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
