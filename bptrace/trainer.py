"""Training runs: many epochs, batching, early stopping and divergence, with per-epoch history.

Per epoch only a few numbers are kept (mean loss, mean gradient norm, the watched sample's
outputs) in preallocated arrays; full traces only for the epochs asked for. Nothing here
prints: progress and interruption reach the loop through callbacks.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import engine, fastpath
from .errors import UsageError
from .fastpath import ScalarNet
from .trace import Iteration
from .tracer import Session


OUTPUT_ROWS = 1000  # final outputs are computed for at most this many samples


@dataclass(frozen=True)
class Plan:
    epochs: int
    batch: str | int = "online"  # online (one update per sample), full, or a mini-batch size
    shuffle: bool = False
    seed: int | None = None  # shuffle seed; default the spec's seed
    show: frozenset[int] | str = frozenset()  # epochs to trace fully, or "all"
    show_last: bool = False
    until_loss: float | None = None
    watch: int = 1  # 1-based sample whose outputs the per-epoch table shows


@dataclass
class Divergence:
    epoch: int
    sample: int
    quantity: str
    value: float

    def message(self) -> str:
        what = "became nan" if math.isnan(self.value) else f"overflowed to {'-' if self.value < 0 else ''}inf"
        return f"epoch {self.epoch}, sample {self.sample}: {self.quantity} {what}; try a smaller learning rate"


@dataclass
class Result:
    spec: object
    names: object
    plan: Plan
    loss: np.ndarray  # per epoch: mean E_total over the epoch's samples, before each update
    grad_norm: np.ndarray  # per epoch: mean over the epoch's updates of ||g||_2
    outputs: np.ndarray  # per epoch: the watched sample's outputs, as computed in that epoch
    epochs_done: int
    initial_values: np.ndarray  # every parameter, in naming order (see names.params())
    final_values: np.ndarray
    final_outputs: np.ndarray  # the outputs of the first OUTPUT_ROWS samples with the final weights
    traces: list[Iteration] = field(default_factory=list)
    stop: str = "completed"  # completed, until_loss, diverged, interrupted
    divergence: Divergence | None = None

    def __rich__(self):
        from .render.tables import View
        from .render.training import render_run

        return render_run(self, View())

    def _repr_html_(self) -> str:  # Jupyter
        from .exports.rich_ import fragment, run_pieces
        from .render.tables import View

        return fragment(*run_pieces(self, View()))

    @property
    def initial(self) -> dict[str, float]:
        return dict(zip(self.names.params(), self.initial_values.tolist()))

    @property
    def final(self) -> dict[str, float]:
        return dict(zip(self.names.params(), self.final_values.tolist()))


def parse_batch(value: str) -> str | int:
    if value in ("online", "full"):
        return value
    if value.isdigit() and int(value) > 0:
        return int(value)
    raise UsageError(f"--batch: expected online, full or a whole number > 0, got '{value}'")


def parse_show(value: str | None, epochs: int) -> tuple[frozenset[int] | str, bool]:
    """'first,last' / '1,10,100' / 'all' -> (epochs to show, whether to show the last)."""
    if not value:
        return frozenset(), False
    if value == "all":
        return "all", False
    shown, last = set(), False
    for part in value.split(","):
        part = part.strip()
        if part == "first":
            shown.add(1)
        elif part == "last":
            last = True
        elif part.isdigit() and 1 <= int(part) <= epochs:
            shown.add(int(part))
        else:
            raise UsageError(f"--show: expected first, last, all or epoch numbers from 1 to {epochs}, got '{part}'")
    if last:
        shown.add(epochs)
    return frozenset(shown), last


def batches(n: int, plan: Plan, rng: np.random.Generator | None) -> list:
    """The epoch's batches of sample indices; in order, each is a range (rows taken as a view)."""
    size = 1 if plan.batch == "online" else n if plan.batch == "full" else plan.batch
    if rng is None:
        return [range(i, min(i + size, n)) for i in range(0, n, size)]
    order = rng.permutation(n).tolist()
    return [order[i:i + size] for i in range(0, n, size)]


def param_values(session: Session) -> np.ndarray:
    """Every parameter, in numbering order (weights of a layer row by row, then its biases)."""
    net = session.net
    parts = []
    for W, b in zip(net.W, net.b):
        parts.append(W.ravel())
        if b is not None:
            parts.append(b)
    return np.concatenate(parts)


def train(spec, plan: Plan, naming: str | None = None,
          on_epoch: Callable[[int], None] | None = None,
          should_stop: Callable[[], bool] | None = None,
          on_trace: Callable[[Iteration], None] | None = None) -> Result:
    """Run the plan; overflow is not warned about but detected, and reported as a Divergence.

    on_trace, if given, receives the full trace of every step as it happens (for streaming
    exports); only the epochs in plan.show are kept in the result.
    """
    with np.errstate(all="ignore"):
        return _train(spec, plan, naming, on_epoch, should_stop, on_trace)


def _train(spec, plan, naming, on_epoch, should_stop, on_trace) -> Result:
    session = Session(spec, naming)
    n, n_out = len(spec.samples), spec.layers[-1].units
    if not 1 <= plan.watch <= n:
        raise UsageError(f"--watch {plan.watch}: {spec.source} has {n} sample(s)")
    rng = np.random.default_rng(spec.seed if plan.seed is None else plan.seed) if plan.shuffle else None
    loss = np.empty(plan.epochs)
    gnorm = np.empty(plan.epochs)
    outs = np.empty((plan.epochs, n_out))
    initial = param_values(session)
    traces: list[Iteration] = []
    watch = plan.watch - 1
    keep_snapshot = plan.show_last and plan.until_loss is not None
    snapshot = None
    stop, divergence, done = "completed", None, 0
    fixed = batches(n, plan, None) if rng is None else None
    use_fast = fastpath.supports(session) and plan.show != "all" and on_trace is None
    fast = ScalarNet(session) if use_fast else None
    for epoch in range(1, plan.epochs + 1):
        epoch_batches = fixed or batches(n, plan, rng)
        keep = plan.show == "all" or epoch in plan.show
        show = keep or on_trace is not None
        if fast is not None and (show or keep_snapshot):
            fast.store(session)
        if keep_snapshot:
            snapshot = (copy.deepcopy(session.net), copy.deepcopy(session.opt), session.steps, epoch_batches)
        total, norms = 0.0, 0.0
        for batch in epoch_batches:
            step_loss, norm, o = _step(session, fast, batch, epoch, show, watch)
            if show:
                it = o
                if keep:
                    traces.append(it)
                if on_trace is not None:
                    on_trace(it)
                o = [n.out.value for n in it.passes[batch.index(watch)].forward.outputs] if watch in batch else None
            if o is not None:
                outs[epoch - 1] = o
            if not math.isfinite(step_loss):
                if fast is not None and not show:
                    fast.store(session)
                divergence = _diagnose(session, batch, epoch)
                break
            total += step_loss * len(batch)
            norms += norm
            if should_stop is not None and should_stop():
                stop = "interrupted"
                break
        if fast is not None and show:
            fast.load(session)
        if divergence is not None:
            stop = "diverged"
            break
        if stop == "interrupted":
            break
        loss[epoch - 1] = total / n
        gnorm[epoch - 1] = norms / len(epoch_batches)
        done = epoch
        if on_epoch is not None:
            on_epoch(epoch)
        if plan.until_loss is not None and loss[epoch - 1] <= plan.until_loss:
            stop = "until_loss"
            break
    if fast is not None:
        fast.store(session)
    if stop == "completed" and not _finite(session):
        divergence, stop = _diagnose(session, list(range(n)), done), "diverged"
    if plan.show_last and done and done != plan.epochs and snapshot is not None and stop != "diverged":
        traces += _replay(spec, naming, snapshot, done)
    final_outputs = engine.forward(session.net, session.X[:OUTPUT_ROWS])[1][-1]
    return Result(spec, session.names, plan, loss[:done], gnorm[:done], outs[:done], done, initial,
                  param_values(session), final_outputs, traces, stop, divergence)


def _step(session: Session, fast, batch, epoch: int, trace: bool, watch: int):
    """One update: (mean E_total before it, ||g||, the watched sample's outputs or None).

    With trace=True the third item is the whole Iteration instead."""
    if trace:
        it = session.step(batch, epoch, trace=True)
        return it.loss_before, math.sqrt(sum(u.gradient ** 2 for u in it.updates if not u.frozen)), it
    if fast is not None:
        loss, outputs, norm = fast.step(batch)
        session.steps += 1
    else:
        loss, outputs, grads = session.step(batch, epoch)
        norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
    return loss, norm, outputs[batch.index(watch)] if watch in batch else None


def _finite(session: Session) -> bool:
    return all(np.all(np.isfinite(a)) for a in session.net.arrays())


def _replay(spec, naming, snapshot, epoch: int) -> list[Iteration]:
    """Trace an epoch again from the state saved at its start (for --show last after an early stop)."""
    net, opt, steps, epoch_batches = snapshot
    session = Session(spec, naming)
    session.net, session.opt, session.steps = net, opt, steps
    return [session.step(b, epoch, trace=True) for b in epoch_batches]


def _diagnose(session: Session, batch: list[int], epoch: int) -> Divergence:
    """Name the first quantity that is NaN or infinite: a parameter, else z, out or E of a sample."""
    with np.errstate(all="ignore"):
        N = session.names
        for name, value in zip(N.iter_params(), param_values(session).tolist()):
            if not math.isfinite(value):
                return Divergence(epoch, batch[0] + 1, name, value)
        for i in batch:
            X, T = session.X[i:i + 1], session.T[i:i + 1]
            zs, outs = engine.forward(session.net, X)
            for l, (z, a) in enumerate(zip(zs, outs)):
                for names, values in ((N.z[l], z[0]), (N.out[l], a[0])):
                    for name, v in zip(names, values):
                        if not math.isfinite(v):
                            return Divergence(epoch, i + 1, name, float(v))
            E = engine.errors(session.net, T, zs, outs)[0]
            for name, v in zip(N.errors, E):
                if not math.isfinite(v):
                    return Divergence(epoch, i + 1, name, float(v))
    return Divergence(epoch, batch[0] + 1, N.total, float("nan"))
