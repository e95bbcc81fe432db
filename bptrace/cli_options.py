"""The CLI's options and arguments, declared once (Typer's Annotated types); cli.py uses them by name.

Numbers are read by `Whole` and `Real`, which say what they expect in words, in the help
(`(1 to 10,000,000)`) and in the one-line error (`--epochs: expected an integer from 1 to 10,000,000, got 0`).
"""

# No `from __future__ import annotations`: Typer reads the signatures of the commands and callbacks, and
# would compile and eval each annotation string at every start.

import math
import re
import sys
from typing import Annotated, Optional

import typer

from .errors import clip
from .exports import FORMATS, extensions_text
from .terminal import ASCII_HELP, click_types
from .limits import VERIFY_STEPS as MAX_STEPS


class Whole(click_types.ParamType):
    """An integer in [lo, hi], written with the digits 0-9 (at most 18 of them: int() of 5,000 digits raises)."""

    name = "integer"

    def __init__(self, lo: int | None = None, hi: int | None = None):
        self.lo, self.hi = lo, hi
        self.range = _range(lo, hi, "≥")
        self.expected = _expected("an integer", self.range, lo, hi)

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        text = str(value).strip()
        n = int(text) if re.fullmatch(r"[+-]?[0-9]{1,18}", text) else None
        if n is None or not _within(n, self.lo, self.hi):
            self.fail(f"expected {self.expected}, got {_shown(value)}", param, ctx)
        return n


class Real(click_types.ParamType):
    """A finite number in [lo, hi] (or > lo with `above`): nan and inf fit no range a user means."""

    name = "number"

    def __init__(self, lo: float | None = None, hi: float | None = None, above: bool = False):
        self.lo, self.hi, self.above = lo, hi, above
        self.range = _range(lo, hi, ">" if above else "≥")
        self.expected = _expected("a number", self.range.replace(">", "greater than"), lo, hi)

    def convert(self, value, param, ctx):
        x = _float(value)
        if x is None:
            self.fail(f"expected {self.expected}, got {_shown(value)}", param, ctx)
        if not math.isfinite(x):  # nan, inf, 1e400
            self.fail(f"expected a finite number, got {x}", param, ctx)
        if not _within(x, self.lo, self.hi) or (self.above and x == self.lo):
            self.fail(f"expected {self.expected}, got {_shown(value)}", param, ctx)
        return x


def _float(value) -> float | None:
    """The number written (ASCII only: float() also reads '٣'), or None."""
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value) if str(value).isascii() else None
    except ValueError:
        return None


def _range(lo, hi, at_least: str) -> str:
    """'≥ 1', '> 0', '0 to 17' or '' (any)."""
    if lo is not None and hi is not None:
        return f"{_num(lo)} to {_num(hi)}"
    return f"{at_least} {_num(lo)}" if lo is not None else ""


def _num(x) -> str:
    return f"{x:,}" if isinstance(x, int) else f"{x:g}"


def _expected(what: str, range_: str, lo, hi) -> str:
    """'an integer ≥ 1', 'an integer from 0 to 17'."""
    return f"{what} from {range_}" if lo is not None and hi is not None else f"{what} {range_}".rstrip()


def _within(x, lo, hi) -> bool:
    return (lo is None or x >= lo) and (hi is None or x <= hi)


def _shown(value) -> str:
    text = str(value)
    return text if re.fullmatch(r"[-+0-9.eE]+|nan|-?inf", text) else f"'{clip(text)}'"


class _Words(click_types.StringParamType):
    """Text whose metavar says what it is (SPEC, PATH): the help lists no `<str>` beside it."""

    def get_metavar(self, param, ctx=None):
        return ""


TEXT = _Words()


def number(*decls: str, kind, help: str, **kwargs):
    """An option read by `kind` (Whole or Real), its range in words at the end of its help."""
    help = help.rstrip(".")
    if kind.range:  # "Epochs to train (passes over every sample; 1 to 10,000,000)."
        help = f"{help[:-1]}; {kind.range})" if help.endswith(")") else f"{help} ({kind.range})"
    return typer.Option(*decls, click_type=kind, help=help + ".", **kwargs)


def text_arg(help: str, metavar: str, **kwargs):
    return typer.Argument(help=help, metavar=metavar, click_type=TEXT, show_default=False, **kwargs)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        sys.stdout.write(f"bptrace {version('bptrace')}\n")
        raise typer.Exit()


Version = Annotated[bool, typer.Option("--version", "-V", callback=_version, is_eager=True,
                                      help="Print bptrace's version and exit.")]
SpecArg = Annotated[Optional[str], text_arg(
    "Spec file (TOML), or a built-in sample's name. Default: the built-in worked example.", "SPEC")]
QuizSpec = Annotated[Optional[str], text_arg(
    "Spec file (TOML), or a built-in sample's name. Default: a made-up network (--shape, --activation, --loss).",
    "SPEC")]
Precision = Annotated[int, number("--precision", "-p", kind=Whole(0, 17), metavar="DIGITS",
                                  help="Decimals shown for computed values.")]
Naming = Annotated[Optional[str], typer.Option("--naming", metavar="SCHEME", help="Naming scheme: seed (w1, h1, o1) or layered (W^(l)_jk).",
                                                show_default="from the spec, else seed")]
LR = Annotated[Optional[float], number("--lr", kind=Real(0.0, above=True), metavar="RATE",
                                       help="Override the spec's learning rate (a layer with its own keeps it).", show_default=False)]
NoFormulas = Annotated[bool, typer.Option("--no-formulas", help="Values only, no formulas (for wide networks).")]
Export = Annotated[Optional[list[str]], typer.Option(
    "--export", "-o", help=f"Write the trace to PATH ({extensions_text().replace(' or ', ', ')}; - for stdout). Repeatable.",
    show_default=False, metavar="PATH")]
Format = Annotated[Optional[str], typer.Option(
    "--format", "-f", metavar="FORMAT", help=f"Export format when the extension does not say: {', '.join(FORMATS)}.",
    show_default=False)]
Sample = Annotated[int, number("--sample", "-s", kind=Whole(1), metavar="N", help="Which sample to trace (1-based).")]
Focus = Annotated[Optional[str], typer.Option(
    "--focus", metavar="PARAM", help="Only the chain of one parameter: what its gradient is computed from, and its update (e.g. w1).",
    show_default=False)]
Ascii = Annotated[bool, typer.Option("--ascii", help=ASCII_HELP)]
Epochs = Annotated[int, number("--epochs", "-n", kind=Whole(1, 10_000_000), metavar="N",
                               help="Epochs to train (passes over every sample).")]
Batch = Annotated[str, typer.Option("--batch", "-b", metavar="MODE", help="online (one update per sample), full (mean gradient of all samples) or K (mini-batches of K).")]
Shuffle = Annotated[bool, typer.Option("--shuffle", help="Shuffle the samples every epoch.")]
Seed = Annotated[Optional[int], number("--seed", kind=Whole(0, 2**32 - 1), metavar="N", help="Shuffle seed.",
                                       show_default="the spec's seed")]
Show = Annotated[Optional[str], typer.Option("--show", metavar="EPOCHS", help="Epochs to trace in full: first,last or 1,10,100 or all.", show_default=False)]
Every = Annotated[Optional[int], number("--every", kind=Whole(1), metavar="K", help="List every K-th epoch in the epoch table.",
                                        show_default="about 20 rows")]
Watch = Annotated[int, number("--watch", "-w", kind=Whole(1), metavar="N", help="Sample whose outputs the epoch table shows (1-based).")]
UntilLoss = Annotated[Optional[float], number("--until-loss", kind=Real(0.0), metavar="LOSS",
                                              help="Stop once an epoch's loss is at or below this.", show_default=False)]
LogY = Annotated[bool, typer.Option("--log-y", help="Draw the loss curve on a log scale.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print only the final summary.")]
Spec = Annotated[str, text_arg("Spec file (TOML), or a built-in sample's name.", "SPEC")]
Answers = Annotated[list[str], text_arg("Answers file (TOML), one or more: claimed values by name, e.g. z1 = 0.08.", "ANSWERS")]
Summary = Annotated[bool, typer.Option("--summary", help="One row per answers file: claims held, the first misconception.")]
SummaryExport = Annotated[Optional[str], typer.Option("--export", "-o", help="With --summary: write the table to PATH "
                                                      "(.csv or .md; - for stdout).", show_default=False, metavar="PATH")]
GradcheckSample = Annotated[Optional[int], number("--sample", "-s", kind=Whole(1), metavar="N",
                                                  help="Check the gradient of one sample (1-based).",
                                                  show_default="the mean over all samples")]
Tol = Annotated[float, number("--tol", kind=Real(0.0), metavar="X", help="Largest relative error allowed.")]
Atol = Annotated[float, number("--atol", kind=Real(0.0), metavar="X", help="Absolute errors below this always pass.")]
Eps = Annotated[float, number("--eps", kind=Real(1e-12, 1.0), metavar="H", help="Step h of the central difference.")]
Against = Annotated[str, typer.Option("--against", metavar="ENGINE", help="What to compare with: torch (PyTorch float64 autograd and torch.optim).")]
VerifyEpochs = Annotated[Optional[int], number(
    "--epochs", "-n", kind=Whole(1), metavar="N", show_default=False,
    help=f"Compare a training run of N epochs instead of one update (at most {MAX_STEPS:,} updates in all).")]
VerifyBatch = Annotated[str, typer.Option("--batch", "-b", metavar="MODE", help="With --epochs: online, full or K (mini-batches of K).")]
VerifySample = Annotated[int, number("--sample", "-s", kind=Whole(1), metavar="N",
                                     help="Without --epochs: the sample to update on (1-based).")]
VerifyTol = Annotated[float, number("--tol", kind=Real(0.0), metavar="X", help="Largest relative difference allowed.")]
VerifyAtol = Annotated[float, number("--atol", kind=Real(0.0), metavar="X", help="Absolute differences below this always pass.")]
VerifyPrecision = Annotated[int, number("--precision", "-p", kind=Whole(0, 17), metavar="DIGITS", help="Decimals shown.")]
Model = Annotated[str, text_arg("The model's weights: .npz (numpy.savez), .safetensors or .pt/.pth (torch.save of a state_dict).", "MODEL")]
Activations = Annotated[str, typer.Option("--activations", "-a", metavar="LIST",
                                          help="One activation per linear layer, e.g. relu,softmax.", show_default=False)]
Loss = Annotated[str, typer.Option("--loss", metavar="NAME", help="The loss: half_sse, sse, mse, cross_entropy, binary_cross_entropy.")]
Lr = Annotated[float, number("--lr", kind=Real(0.0, above=True), metavar="RATE", help="The spec's learning rate.")]
X = Annotated[Optional[list[str]], typer.Option("--x", metavar="VALUES", help="A sample's inputs, e.g. 0.5,1 (repeatable).",
                                                show_default="one sample, all zeros")]
Target = Annotated[Optional[list[str]], typer.Option("--target", metavar="VALUES", help="A sample's targets, e.g. 1,0 (one --target per --x).",
                                                     show_default="zeros; 1,0,0,… for cross_entropy")]
MaxParams = Annotated[int, number("--max-params", kind=Whole(1, 5_000_000), metavar="N", help="Refuse larger models.")]
ValidateSpec = Annotated[str, text_arg("Spec file (TOML), or a built-in sample's name, to check.", "SPEC")]
Path = Annotated[str, typer.Argument(help="Where to write the starter spec.", metavar="PATH", click_type=TEXT)]
Force = Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")]
Name = Annotated[Optional[str], text_arg("Print this sample's TOML, to start from it.", "NAME")]
Topic = Annotated[Optional[str], text_arg("spec, worked-example, trace-format, gradient-health, dropout, recurrent or convolution.", "TOPIC")]
QuizSeed = Annotated[int, number("--seed", kind=Whole(0, 2**32 - 1), metavar="N",
                                 help="Seed of the made-up network's numbers (same seed, same exercise).")]
Ask = Annotated[str, typer.Option("--ask", metavar="LIST", help="What to ask: names (z1, dE_total/dw5, w5+) and groups (forward, errors, "
                                  "output-deltas, hidden-deltas, gradients, updates) or all, comma-separated.")]
QuizOut = Annotated[str, typer.Option("--out", metavar="DIR", help="Folder to write exercise.md/.tex, answers.toml and key.md/.tex to.")]
Shape = Annotated[Optional[str], typer.Option("--shape", metavar="WIDTHS", help="Without SPEC: the made-up network's layer widths, e.g. 2-2-2.",
                                              show_default="2-2-2")]
Activation = Annotated[str, typer.Option("--activation", metavar="NAME", help="Without SPEC: the activation (or one per layer, comma-separated).")]
QuizLoss = Annotated[str, typer.Option("--loss", metavar="NAME", help="Without SPEC: the loss (half_sse, sse, mse, cross_entropy, binary_cross_entropy).")]
Round = Annotated[Optional[int], number("--round", kind=Whole(0, 12), metavar="N", help="Grade against a hand calculation that "
                                        "rounds every computed value to N decimals.", show_default=False)]
RunRound = Annotated[Optional[int], number("--round", kind=Whole(0, 12), metavar="N", help="Round every computed value to N decimals "
                                           "before anything uses it, as a hand calculation does.", show_default=False)]
Form = Annotated[str, typer.Option(
    "--form", metavar="FORM",
    help="scalar (neuron by neuron), matrix (W⁽ˡ⁾ h⁽ˡ⁻¹⁾ + b⁽ˡ⁾, δ⁽ˡ⁾, δ⁽ˡ⁾h⁽ˡ⁻¹⁾ᵀ, with shapes) or both side by side.")]
Health = Annotated[bool, typer.Option("--health", help="Gradient health: each layer's gradient norm per epoch (a table "
                                       "and a plot), and warnings for saturated sigmoid/tanh units, dead ReLUs and "
                                       "vanishing or exploding gradients, with the epoch they appear.")]
