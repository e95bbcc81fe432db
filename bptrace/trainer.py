"""Training runs: many epochs, batching, early stopping and divergence, with per-epoch history.

Per epoch only a few numbers are kept (mean loss, mean gradient norm, the watched sample's
first WATCH_OUTPUTS outputs), in a `History` of bounded size: every epoch while they fit, then
the lowest, highest and last loss of each bucket of epochs. Full traces only for the epochs
asked for. Nothing here prints: progress and interruption reach the loop through callbacks.
"""

from __future__ import annotations

import copy
import math
from dataclasses import replace, dataclass, field
from typing import Callable

import numpy as np

from . import engine, optim
from . import order as sample_order
from .errors import UsageError
from .fmt import counted
from .naming import deriv
from .trace import Iteration
from .tracer import Session
from .divergence import Divergence, advise, blowup  # noqa: F401 (a run's blow-up is diagnosed there)


OUTPUT_ROWS = 1000  # final outputs are computed for at most this many samples
WATCH_OUTPUTS = 8  # the watched sample's outputs kept per epoch (the first ones)
HISTORY_ROWS = 10_000  # epochs kept per run: every epoch up to this many, then decimated


class History:
    """Per-epoch rows (epoch, loss, ‖g‖, outputs) in memory that does not grow with the epochs.

    Epochs fall into buckets of B consecutive epochs ((k−1)·B, k·B]; each bucket keeps the rows
    of its lowest loss, its highest loss and its last epoch (as loss-curve tools decimate), and
    epoch 1 is always kept. B starts at 1 (every epoch kept); when the rows would no longer fit
    in `capacity`, B grows through 5, 10, 50, 100, … (each a multiple of the one before, so the
    coarser buckets are unions of finer ones and their min, max and last are exact), and the
    kept rows are merged accordingly. So the first epoch, the last, and the lowest loss of the
    whole run always survive, and the bucket ends sit on round epochs.
    """

    def __init__(self, n_outputs: int, capacity: int = HISTORY_ROWS):
        self.k = min(n_outputs, WATCH_OUTPUTS)
        self.capacity = max(capacity, 16)
        self.rows: list[tuple] = []  # (epoch, loss, ‖g‖, outputs): at most `capacity`
        self.bucket = 1  # B
        self._lo = self._hi = self._last = None  # the open bucket's rows

    @property
    def n(self) -> int:
        return len(self.rows)

    def add(self, epoch: int, loss: float, gnorm: float, outputs, norms: tuple | None = None) -> None:
        """One epoch's numbers; outputs: at most WATCH_OUTPUTS values (the caller truncates), or None;
        norms: the layers' gradient norms (step --health, see health.py), or None."""
        row = (epoch, loss, gnorm, outputs, norms)
        if self.bucket == 1:  # every epoch kept
            self.rows.append(row)
            if len(self.rows) > self.capacity:
                self._coarsen()
            return
        if self._last is None:
            self._lo = self._hi = row
        elif loss < self._lo[1]:
            self._lo = row
        elif loss > self._hi[1]:
            self._hi = row
        self._last = row
        if epoch % self.bucket == 0:
            self._close()

    def _close(self) -> None:
        self.rows += sorted({r[0]: r for r in (self._lo, self._hi, self._last)}.values(), key=lambda r: r[0])
        self._lo = self._hi = self._last = None
        if len(self.rows) > self.capacity:
            self._coarsen()

    def _coarsen(self) -> None:
        """Grow B (×5, ×2 alternately: 1, 5, 10, 50, …) until the kept rows take at most half the room."""
        while len(self.rows) > self.capacity // 2:
            self.bucket *= 5 if str(self.bucket)[0] == "1" else 2
            epoch = np.fromiter((r[0] for r in self.rows), np.int64, len(self.rows))
            loss = np.fromiter((r[1] for r in self.rows), float, len(self.rows))
            groups = (epoch - 1) // self.bucket  # nondecreasing
            starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
            lowest = np.lexsort((loss, groups))[starts]  # sorted by group, then loss: each group's min first
            highest = np.lexsort((-loss, groups))[starts]
            last = np.r_[starts[1:], len(loss)] - 1
            kept = np.unique(np.concatenate(([0], lowest, highest, last)))  # row 0 is epoch 1
            self.rows = [self.rows[i] for i in kept.tolist()]

    def arrays(self):
        """(epoch, loss, grad_norm, outputs) of the kept rows, the open bucket closed first."""
        if self._last is not None:
            self._close()
        n = len(self.rows)
        outs = np.full((n, self.k), np.nan)
        for i, r in enumerate(self.rows):
            if r[3] is not None:
                outs[i] = r[3]
        return (np.fromiter((r[0] for r in self.rows), np.int64, n), np.fromiter((r[1] for r in self.rows), float, n),
                np.fromiter((r[2] for r in self.rows), float, n), outs)

    def norms(self, layers: int) -> np.ndarray:
        """The kept rows' gradient norms per layer, (rows, layers) (nan where none were measured); after arrays()."""
        out = np.full((len(self.rows), layers), np.nan)
        for i, r in enumerate(self.rows):
            if r[4] is not None:
                out[i] = r[4]
        return out


MAX_TRACES = 10_000  # full traces a plan may keep (each is every value of one step)


@dataclass(frozen=True)
class Plan:
    """What a training run does: epochs, batching, shuffling, the epochs traced, when to stop."""

    epochs: int
    batch: str | int = "online"  # online (one update per sample), full, or a mini-batch size
    shuffle: bool = False
    seed: int | None = None  # shuffle seed; default the spec's seed
    show: frozenset[int] | str = frozenset()  # epochs to trace fully, or "all"
    show_last: bool = False
    until_loss: float | None = None
    watch: int = 1  # 1-based sample whose outputs the per-epoch table shows
    round: int | None = None  # textbook rounding: every computed value rounded to this many decimals
    health: bool = False  # measure per-layer gradient norms and find saturated, dead, vanishing (health.py)

    @classmethod
    def build(cls, spec, *, epochs: int, batch: str | int = "online", shuffle: bool = False, seed: int | None = None,
              show=(), until_loss: float | None = None, watch: int = 1, round: int | None = None,
              health: bool = False) -> "Plan":
        """A checked plan for `spec`; show: "first,last", "1,10,100", "all", or a list such as
        ["first", "last"] or [1, 10]. Refuses epochs < 1, a watched sample the spec lacks, and more
        than MAX_TRACES traced steps."""
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise UsageError(f"epochs: expected a whole number ≥ 1, got {epochs}", param="epochs")
        _check_stop_and_seed(until_loss, seed)
        shown, last = parse_show(show, epochs)
        plan = cls(epochs, parse_batch(batch), shuffle, seed, shown, last, until_loss, watch, round, bool(health))
        check_watch(plan, spec)
        _check_health(health, round)
        if round is not None:
            from .rounding import check_rounding

            check_rounding(spec.optimizer.name, 1 if plan.batch == "online" else 0, round)
        if plan.traces(len(spec.samples)) > MAX_TRACES:
            raise UsageError(f"show would print {plan.traces(len(spec.samples)):,} full traces; pick a few epochs "
                             "(first,last) or stream every step to a .jsonl export", param="show")
        return plan

    def steps_per_epoch(self, n: int) -> int:
        """Updates per epoch of n samples: n online, 1 full, ⌈n/K⌉ in mini-batches of K."""
        size = 1 if self.batch == "online" else n if self.batch == "full" else self.batch
        return -(-n // size)

    def steps(self, n: int) -> int:
        return self.epochs * self.steps_per_epoch(n)

    def traces(self, n: int) -> int:
        """Full traces the plan keeps: every step of each shown epoch."""
        return (self.epochs if self.show == "all" else len(self.show)) * self.steps_per_epoch(n)


def titled(spec, plan: Plan):
    """The spec as the run shows it: with textbook rounding, its title says so (as run --round's does)."""
    if plan.round is None:
        return spec
    from .rounding import rounded_title

    return replace(spec, title=rounded_title(spec, plan.round))


def _check_stop_and_seed(until_loss, seed) -> None:
    """until_loss: a finite loss ≥ 0; seed: a whole number from 0 to 2³² − 1 (numpy's seeds)."""
    if until_loss is not None and not (isinstance(until_loss, (int, float)) and 0 <= until_loss < math.inf):
        raise UsageError(f"until_loss: expected a finite number ≥ 0, got {until_loss!r}", param="until_loss")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32):
        raise UsageError(f"seed: expected a whole number from 0 to {2**32 - 1:,}, got {seed!r}", param="seed")


def _check_health(health, round) -> None:
    """health: True or False, and not with textbook rounding (its norms would be computed unrounded)."""
    if not isinstance(health, bool):
        raise UsageError(f"health: expected true or false, got {health!r}", param="health")
    if health and round is not None:
        raise UsageError("health: cannot be combined with round (textbook rounding): the gradient norms are "
                         "measured unrounded; drop one of the two", param="health")


def check_watch(plan: Plan, spec) -> None:
    n = len(spec.samples)
    if isinstance(plan.watch, bool) or not isinstance(plan.watch, int) or not 1 <= plan.watch <= n:
        raise UsageError(f"watch {plan.watch}: {spec.source} has {counted(n, 'sample')}", param="watch")


@dataclass
class Result:
    """A finished training run: per-epoch history, initial and final parameters, kept traces, why it stopped."""

    spec: object
    names: object
    plan: Plan
    # The kept epochs (see History: every epoch of short runs; min, max and last per bucket of
    # long ones) and, for each, its numbers; row i is epoch epoch[i].
    loss: np.ndarray  # mean E_total over the epoch's samples, before each update
    grad_norm: np.ndarray  # mean over the epoch's updates of ||g||_2
    outputs: np.ndarray  # the watched sample's first WATCH_OUTPUTS outputs, as computed in that epoch
    epochs_done: int
    initial_values: np.ndarray  # every parameter, in naming order (see names.params())
    final_values: np.ndarray
    final_outputs: np.ndarray  # the outputs of the first OUTPUT_ROWS samples with the final weights
    traces: list[Iteration] = field(default_factory=list)
    stop: str = "completed"  # completed, until_loss, diverged, interrupted
    divergence: Divergence | None = None
    epoch: np.ndarray | None = None  # 1-based epoch of each kept row (every epoch when None)
    order: list[list[int]] | None = None  # each epoch's sample order (1-based) when shuffled or given
    health: object = None  # health.Health with plan.health (per-layer gradient norms of the kept rows, findings)

    def __post_init__(self):
        if self.epoch is None:
            self.epoch = np.arange(1, len(self.loss) + 1)

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


def parse_batch(value: str | int) -> str | int:
    """online, full, or a mini-batch size K > 0 (a whole number, or its digits)."""
    if value in ("online", "full"):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and int(value) > 0:
        return int(value)
    raise UsageError(f"batch: expected online, full or a whole number > 0, got '{value}'", param="batch")


def parse_show(value, epochs: int) -> tuple[frozenset[int] | str, bool]:
    """'first,last' / '1,10,100' / 'all' / ['first', 'last'] / [1, 10] -> (epochs to show, whether to show the last)."""
    if value is None or value == "" or (isinstance(value, (list, tuple, set, frozenset)) and not value):
        return frozenset(), False
    if value == "all":
        return "all", False
    parts = value.split(",") if isinstance(value, str) else [value] if isinstance(value, int) else list(value)
    shown, last = set(), False
    for part in parts:
        part = part.strip() if isinstance(part, str) else part
        if part == "first":
            shown.add(1)
        elif part == "last":
            last = True
        elif _epoch_number(part, epochs) is not None:
            shown.add(_epoch_number(part, epochs))
        else:
            raise UsageError(f"show: expected first, last, all or epoch numbers from 1 to {epochs}, got '{part}'",
                             param="show")
    if last:
        shown.add(epochs)
    return frozenset(shown), last


def _epoch_number(part, epochs: int) -> int | None:
    """An epoch 1..epochs written as a whole number or its ASCII digits, else None."""
    if isinstance(part, str) and part.isascii() and part.isdigit():
        part = int(part)
    if isinstance(part, int) and not isinstance(part, bool) and 1 <= part <= epochs:
        return part
    return None


def batches(n: int, plan: Plan, rng: np.random.Generator | None, given: list[int] | None = None) -> list:
    """The epoch's batches of sample indices; in order, each is a range (rows taken as a view).
    `given`: the spec's order for this epoch (0-based rows), used instead of the shuffle."""
    size = 1 if plan.batch == "online" else n if plan.batch == "full" else plan.batch
    if rng is None and given is None:
        return [range(i, min(i + size, n)) for i in range(0, n, size)]
    rows = given if given is not None else rng.permutation(n).tolist()
    return [rows[i:i + size] for i in range(0, n, size)]


def param_values(session: Session) -> np.ndarray:
    """Every parameter, in numbering order (weights of a layer row by row, then its biases)."""
    net = session.net
    parts = [p.ravel() for params in net.P for p in params]  # front layers first (bptrace.front)
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
    from . import fastpath  # not imported by `run`, which only asks about blow-ups

    session = Session(spec, naming)
    spec = titled(spec, plan)
    n, n_out = len(spec.samples), spec.layers[-1].units
    check_watch(plan, spec)
    rng = np.random.default_rng(spec.seed if plan.seed is None else plan.seed) if plan.shuffle else None
    history = History(n_out)
    initial = param_values(session)
    traces: list[Iteration] = []
    watch = plan.watch - 1
    keep_snapshot = plan.show_last and plan.until_loss is not None
    snapshot = None
    stop, divergence, done = "completed", None, 0
    fixed = batches(n, plan, None) if rng is None and spec.order is None else None
    orders = [] if fixed is None else None  # each epoch's sample order (1-based): shuffled or the spec's
    monitor = _monitor(spec, plan)
    fast = fastpath.supports(session) and plan.show != "all" and on_trace is None and plan.round is None
    paths = fastpath.Paths(session, fast)
    for epoch in range(1, plan.epochs + 1):
        session.at_epoch(epoch)  # the fast path takes α from the session at each step
        epoch_batches = fixed or batches(n, plan, rng, sample_order.of_epoch(spec, epoch))
        if orders is not None:
            orders = orders if len(orders) * n < sample_order.MAX_RECORDED else None  # too long to keep
            if orders is not None:
                orders.append([i + 1 for b in epoch_batches for i in b])
        keep = plan.show == "all" or epoch in plan.show
        show = keep or on_trace is not None
        if keep_snapshot:
            s = paths.numpy()
            snapshot = (copy.deepcopy(s.net), copy.deepcopy(s.opt), s.steps, epoch_batches)
        total, norms, watched = 0.0, 0.0, None
        health = monitor and monitor.measure(paths, epoch)  # at the epoch's start; the state stays where it is
        for batch in epoch_batches:
            try:
                step_loss, norm, o = _step(paths, batch, epoch, show and ("stream" if on_trace else "keep"), watch,
                                              plan.round)
            except (ArithmeticError, ValueError):  # a safety net: every operation is meant to give inf or nan
                step_loss, norm, o = math.nan, math.nan, None
            it = None
            if show and o is not None:
                it = o
                if keep:
                    traces.append(it)
                if on_trace is not None:
                    on_trace(it)
                o = it.outputs(batch.index(watch))[:WATCH_OUTPUTS] if watch in batch else None
            if o is not None:
                watched = o
            # a blow-up: the loss before the update, ||g||, or (numpy path) a parameter after it
            numpy_blowup = paths.fast is None and not _settled(it, session)
            if not (math.isfinite(step_loss) and math.isfinite(norm)) or numpy_blowup:
                traced = blowup(it) if it is not None else None
                divergence = advise(traced, spec) if traced else _diagnose(paths.numpy(), batch, epoch)
                break
            total += step_loss * len(batch)
            norms += norm
            if should_stop is not None and should_stop():
                stop = "interrupted"
                break
        if divergence is not None:
            stop = "diverged"
            break
        if stop == "interrupted":
            break
        epoch_loss = total / n
        history.add(epoch, epoch_loss, norms / len(epoch_batches), watched, health)
        done = epoch
        if on_epoch is not None:
            on_epoch(epoch)
        if plan.until_loss is not None and epoch_loss <= plan.until_loss:
            stop = "until_loss"
            break
    session = paths.numpy()
    if stop == "completed" and not _finite(session):
        divergence, stop = _diagnose(session, list(range(n)), done), "diverged"
    if plan.show_last and done and done != plan.epochs and snapshot is not None and stop != "diverged":
        traces += _replay(spec, naming, snapshot, done)
    final_outputs = engine.forward(session.net, session.X[:OUTPUT_ROWS])[1][-1]
    epochs, loss, gnorm, outs = history.arrays()
    return Result(spec, session.names, plan, loss, gnorm, outs, done, initial,
                  param_values(session), final_outputs, traces, stop, divergence, epochs, orders,
                  monitor and monitor.result(history.norms(len(spec.layers))))


def _monitor(spec, plan: Plan):
    """A health.Monitor when the plan asks for gradient health, else None."""
    if not plan.health:
        return None
    from .health import Monitor

    return Monitor(spec)


def _step(paths: fastpath.Paths, batch, epoch: int, trace, watch: int, rounding: int | None = None):
    """One update: (mean E_total before it, ||g||, the watched sample's outputs or None).

    With trace "keep" the third item is the whole Iteration instead; with "stream" (every step goes to a
    streamed export, whose record needs only its numbers), one that makes its quantities when first read.
    With rounding, every update is traced and rounded (textbook rounding), whether shown or not."""
    if rounding is not None:
        from .rounding import rounded_step

        it = rounded_step(paths.numpy(), batch, epoch, rounding)
        if trace:
            return it.loss_before, it.grad_norm, it
        return it.loss_before, it.grad_norm, it.outputs(0)[:WATCH_OUTPUTS] if watch in batch else None
    if trace:
        it = paths.trace_step(batch, epoch) if trace == "keep" else paths.numpy().stream_step(batch, epoch)
        return it.loss_before, it.grad_norm, it
    loss, outputs, norm = paths.step(batch)
    k = batch.index(watch) if watch in batch else len(outputs)
    if k >= len(outputs):  # not in this batch (or an arithmetic exception came first)
        return loss, norm, None
    o = outputs[k]  # a tuple (fast path) or a row of the batch's outputs: copied, never a view
    if isinstance(o, tuple):
        return loss, norm, o if len(o) <= WATCH_OUTPUTS else o[:WATCH_OUTPUTS]
    return loss, norm, o[:WATCH_OUTPUTS].tolist()


def _finite(session: Session) -> bool:
    """Every parameter and every optimizer state value (momentum's buffer, Adam's m and v) is finite."""
    opt = session.opt
    state = [a for key in optim.STATES if getattr(opt, key) is not None for a in getattr(opt, key)]
    return all(np.all(np.isfinite(a)) for a in (*session.net.arrays(), *state))


def _settled(it, session: Session) -> bool:
    """_finite(session), known without looking when a streamed update's numbers (which hold every parameter
    and optimizer state value after it) are all finite."""
    flat = getattr(it, "flat", None)
    return (flat is not None and flat.finite) or _finite(session)


def _state_values(session: Session):
    """(name, value) of the optimizer's state: 'v of w1', 'm of b1', … (trainable parameters only)."""
    N, net, opt = session.names, session.net, session.opt
    front = iter(N.front_params)
    for i, (l, kind) in enumerate(net.trainable()):
        if l == "front":  # a front layer's array (bptrace.front): its names come first, in order
            names = [next(front) for _ in range(net.P[kind[0]][kind[1]].size)]
        else:
            names = [w for row in N.weights[l] for w in row] if kind == "W" else list(N.biases[l])
        for key, a in opt.state_of(i).items():
            for name, v in zip(names, a.ravel().tolist()):
                yield f"{key} of {name}", v


def _replay(spec, naming, snapshot, epoch: int) -> list[Iteration]:
    """Trace an epoch again from the state saved at its start (for --show last after an early stop)."""
    net, opt, steps, epoch_batches = snapshot
    session = Session(spec, naming)
    session.net, session.opt, session.steps = net, opt, steps
    session.at_epoch(epoch)
    return [session.trace_step(b, epoch) for b in epoch_batches]


def _diagnose(session: Session, batch: list[int], epoch: int) -> Divergence:
    """The first quantity that is NaN or infinite: a parameter, else z, out, E or a gradient of a sample."""
    return advise(_first_nonfinite(session, batch, epoch), session.spec)


def _first_nonfinite(session: Session, batch: list[int], epoch: int) -> Divergence:
    with np.errstate(all="ignore"):
        N = session.names
        for name, value in (*zip(N.iter_params(), param_values(session).tolist()), *_state_values(session)):
            if not math.isfinite(value):
                return Divergence(epoch, batch[0] + 1, name, value)
        for i in batch:
            X, T = session.X[i:i + 1], session.T[i:i + 1]
            keep = session.net.keep([i])  # dropout: train mode, as the update ran
            zs, outs = engine.forward(session.net, X, keep)
            for l, (z, a) in enumerate(zip(zs, outs)):
                for names, values in ((N.z[l], z[0]), (N.out[l], a[0])):
                    for name, v in zip(names, values):
                        if not math.isfinite(v):
                            return Divergence(epoch, i + 1, name, float(v))
            E = engine.errors(session.net, T, zs, outs)[0]
            for name, v in zip(N.errors, E):
                if not math.isfinite(v):
                    return Divergence(epoch, i + 1, name, float(v))
            back = engine.backward(session.net, X, T, zs, outs, for_trace=False, keep=keep)
            grads = [g for W, b in zip(back.gW, back.gb) for g in (W.ravel(), () if b is None else b)]
            for name, v in zip(N.iter_params(), np.concatenate(grads).tolist()):
                if not math.isfinite(v):
                    return Divergence(epoch, i + 1, deriv(N.total, name), v)
    return Divergence(epoch, batch[0] + 1, N.total, float("nan"))
