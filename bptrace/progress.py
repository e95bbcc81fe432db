"""Training on the terminal (`step`): a progress bar refreshed by time, Ctrl-C that stops the run
and keeps what it has, .jsonl records streamed as they happen with their size said up front.
CLI-side only: the training loop reports through callbacks."""

from __future__ import annotations

import time

JSONL_NOTE_BYTES = 10_000_000


class EpochProgress:
    """A progress bar that appears only once a run has lasted half a second, and only on a terminal;
    it is refreshed by time (ten times a second), however long an epoch takes."""

    def __init__(self, total: int, enabled: bool, console=None):
        self.total, self.enabled, self.console = total, enabled, console
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
            self._open()
        self.bar.update(self.task, completed=epoch)

    def _open(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(TextColumn("epoch"), MofNCompleteColumn(), BarColumn(), TimeRemainingColumn(),
                            console=self.console, transient=True)
        self.task = self.bar.add_task("training", total=self.total)
        self.bar.start()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def size_note(console, records: int):
    """A JsonlStream `on_first` callback: from the first record's size, say what a .jsonl export of
    `records` records will weigh, when it is over JSONL_NOTE_BYTES."""

    def note(first_bytes: int) -> None:
        total = first_bytes * records
        if total >= JSONL_NOTE_BYTES:
            console.print(f"[dim]note: the .jsonl export will take about {_size(total)} ({records:,} records); "
                          "Ctrl-C stops early and keeps the records written so far[/]", highlight=False, soft_wrap=True)

    return note


def train(s, plan, naming, exports, opts, quiet: bool):
    """Train with progress, Ctrl-C and .jsonl streaming: (the Result, what the terminal shows)."""
    from . import limits
    from .terminal import err, out
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

        out.print(training.header(train.titled(s, plan), for_spec(s, naming), plan))
    jsonl = JsonlStream(streams, train.titled(s, plan), None if quiet else size_note(err, plan.steps(n)),
                        opts.form) if streams else None
    live = not quiet and out.is_terminal and not exports.to_stdout
    bar = EpochProgress(plan.epochs, enabled=live, console=out)
    with interruptible() as stopped, bar:
        result = train.train(s, plan, naming, on_epoch=bar, should_stop=stopped, on_trace=jsonl and jsonl.record)
    if jsonl:
        jsonl.summary(result)
    width = min(out.width, 100) - 2
    shown = training.summary(result, opts.precision) if quiet else \
        training.render_run(result, opts.view, opts.every, opts.log_y, width, with_header=False)
    if quiet and result.health is not None and result.epochs_done:  # --health -q: the warnings, then the summary
        from .render.health import with_findings

        shown = with_findings(result, shown)
    return result, shown


def _size(n: float) -> str:
    """Bytes in words: '61 MB', '86 GB', '1.2 TB'."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}" if n < 10 * scale else f"{n / scale:,.0f} {unit}"
    return f"{n / 1e3:,.0f} kB"
