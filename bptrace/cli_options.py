"""The CLI's options and arguments, declared once (Typer's Annotated types); cli.py uses them by name."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from .exports import FORMATS, extensions_text


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        sys.stdout.write(f"bptrace {version('bptrace')}\n")
        raise typer.Exit()


Version = Annotated[bool, typer.Option("--version", "-V", callback=_version, is_eager=True,
                                      help="Print bptrace's version and exit.")]
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
Sample = Annotated[int, typer.Option("--sample", "-s", min=1, help="Which sample to trace (1-based).")]
Focus = Annotated[Optional[str], typer.Option(
    "--focus", help="Only the chain of one parameter: what its gradient is computed from, and its update (e.g. w1).",
    show_default=False, metavar="PARAM")]
Ascii = Annotated[bool, typer.Option("--ascii", help="ASCII names and operators (dE_total/dw5, delta_o1, *).")]
Epochs = Annotated[int, typer.Option("--epochs", "-n", min=1, max=10_000_000, help="Epochs to train (passes over every sample).")]
Batch = Annotated[str, typer.Option("--batch", "-b", help="online (one update per sample), full (mean gradient of all samples) or K (mini-batches of K).")]
Shuffle = Annotated[bool, typer.Option("--shuffle", help="Shuffle the samples every epoch.")]
Seed = Annotated[Optional[int], typer.Option("--seed", min=0, help="Shuffle seed.", show_default="the spec's seed")]
Show = Annotated[Optional[str], typer.Option("--show", help="Epochs to trace in full: first,last or 1,10,100 or all.", show_default=False)]
Every = Annotated[Optional[int], typer.Option("--every", min=1, help="List every K-th epoch in the epoch table.", show_default="about 20 rows")]
Watch = Annotated[int, typer.Option("--watch", "-w", min=1, help="Sample whose outputs the epoch table shows (1-based).")]
UntilLoss = Annotated[Optional[float], typer.Option("--until-loss", help="Stop once an epoch's loss is at or below this.", show_default=False)]
LogY = Annotated[bool, typer.Option("--log-y", help="Draw the loss curve on a log scale.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print only the final summary.")]
Spec = Annotated[str, typer.Argument(help="Spec file (TOML), or a built-in sample's name.", show_default=False,
                                        metavar="SPEC")]
Answers = Annotated[str, typer.Argument(help="Answers file (TOML): claimed values by name, e.g. z1 = 0.08.",
                                           show_default=False, metavar="ANSWERS")]
GradcheckSample = Annotated[Optional[int], typer.Option("--sample", "-s", min=1, help="Check the gradient of one sample (1-based).",
                                                  show_default="the mean over all samples")]
Tol = Annotated[float, typer.Option("--tol", min=0.0, help="Largest relative error allowed.")]
Atol = Annotated[float, typer.Option("--atol", min=0.0, help="Absolute errors below this always pass.")]
Eps = Annotated[float, typer.Option("--eps", min=1e-12, max=1.0, help="Step h of the central difference.")]
Against = Annotated[str, typer.Option("--against", help="What to compare with: torch (PyTorch float64 autograd and torch.optim).")]
VerifyEpochs = Annotated[Optional[int], typer.Option("--epochs", "-n", min=1, help="Compare a training run of N epochs (default: one update).", show_default=False)]
VerifyBatch = Annotated[str, typer.Option("--batch", "-b", help="With --epochs: online, full or K (mini-batches of K).")]
VerifySample = Annotated[int, typer.Option("--sample", "-s", min=1, help="Without --epochs: the sample to update on (1-based).")]
VerifyTol = Annotated[float, typer.Option("--tol", min=0.0, help="Largest relative difference allowed.")]
VerifyAtol = Annotated[float, typer.Option("--atol", min=0.0, help="Absolute differences below this always pass.")]
VerifyPrecision = Annotated[int, typer.Option("--precision", "-p", min=0, max=17, help="Decimals shown.")]
Model = Annotated[str, typer.Argument(help="The model's weights: .npz (numpy.savez) or .pt/.pth (torch.save of a state_dict).",
                                         show_default=False, metavar="MODEL")]
Activations = Annotated[str, typer.Option("--activations", "-a", help="One activation per linear layer, e.g. relu,softmax.",
                                             show_default=False)]
Loss = Annotated[str, typer.Option("--loss", help="The loss: half_sse, sse, mse, cross_entropy, binary_cross_entropy.")]
Lr = Annotated[float, typer.Option("--lr", help="The spec's learning rate.")]
X = Annotated[Optional[list[str]], typer.Option("--x", help="A sample's inputs, e.g. 0.5,1 (repeatable).", show_default="zeros")]
Target = Annotated[Optional[list[str]], typer.Option("--target", help="Its targets (one --target per --x).", show_default="zeros")]
MaxParams = Annotated[int, typer.Option("--max-params", min=1, max=5_000_000, help="Refuse larger models.")]
ValidateSpec = Annotated[str, typer.Argument(help="Spec file (TOML) to check.", show_default=False,
                                                 metavar="SPEC")]
Path = Annotated[str, typer.Argument(help="Where to write the starter spec.", metavar="PATH")]
Force = Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")]
Name = Annotated[Optional[str], typer.Argument(help="Print this sample's TOML, to start from it.", show_default=False,
                                                  metavar="NAME")]
Topic = Annotated[Optional[str], typer.Argument(help="spec, worked-example or trace-format.", show_default=False,
                                                   metavar="TOPIC")]
