"""Training state as an immutable value, and the pure update over it.

A `State` is a network being trained: the spec, its parameters (W⁽ˡ⁾, b⁽ˡ⁾), the optimizer's state
(t, momentum buffers, Adam's m, v, m̂, v̂, RMSprop's ḡ, Adagrad's G, amsgrad's vₘₐₓ) and the step count, frozen, its arrays read-only copies.

    trace_step(state, batch) -> Iteration   the update of the samples in `batch` (0-based), traced
    advance(state, batch)    -> State       the state after that update

Neither changes its input, and the same state and batch give the same result. `tracer.Session` is
the mutable form the trainer drives; the fast path hands its state to the session in one place
(`fastpath.Paths`), and `Paths.state()` / `State.of(session)` read it out as a State.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .optim import _readonly


@dataclass(frozen=True, eq=False)
class State:
    spec: object  # bptrace.spec.Spec (frozen)
    W: tuple[np.ndarray, ...]  # W⁽ˡ⁾, shape (units, fan_in), read-only
    b: tuple[np.ndarray | None, ...]  # b⁽ˡ⁾, or None for a layer without a bias
    opt: tuple  # optim.Optimizer.snapshot(): (t, {buf, m, v, vmax, gbar, acc: arrays}, (m̂, v̂) per array)
    steps: int = 0  # updates made
    naming: str | None = None
    P: tuple = ()  # the front layers' parameter arrays (bptrace.front), read-only, per layer

    @classmethod
    def initial(cls, spec, naming: str | None = None) -> State:
        """The spec's starting point: its weights and biases, a fresh optimizer, no step taken."""
        from .tracer import Session

        return cls.of(Session(spec, naming), naming)

    @classmethod
    def of(cls, session, naming: str | None = None) -> State:
        """A numpy session's current state, copied (the session may go on changing)."""
        net = session.net
        return cls(session.spec, tuple(map(_readonly, net.W)),
                   tuple(None if b is None else _readonly(b) for b in net.b),
                   session.opt.snapshot(), session.steps, naming,
                   tuple(tuple(map(_readonly, params)) for params in net.P))

    def session(self):
        """A new numpy session holding a copy of this state."""
        from .tracer import Session

        s = Session(self.spec, self.naming)
        s.net.W = [w.copy() for w in self.W]
        s.net.b = [None if b is None else b.copy() for b in self.b]
        if self.P:
            s.net.P = [[p.copy() for p in params] for params in self.P]
        s.opt.restore(self.opt)
        s.steps = self.steps
        return s

    def arrays(self) -> list[np.ndarray]:
        """Every array of the state, parameters then optimizer state, in a fixed order."""
        t, kept, hat = self.opt
        return [*(p for params in self.P for p in params), *self.W, *(b for b in self.b if b is not None),
                *(a for arrays in kept.values() for a in arrays),
                *(a for pair in hat for a in pair)]

    def __eq__(self, other) -> bool:
        if not isinstance(other, State):
            return NotImplemented
        mine, theirs = self.arrays(), other.arrays()
        return (self.spec == other.spec and self.steps == other.steps and self.naming == other.naming
                and self.opt[0] == other.opt[0] and len(mine) == len(theirs)
                and all(np.array_equal(a, b) for a, b in zip(mine, theirs)))

    __hash__ = None


def trace_step(state: State, batch, epoch: int = 1):
    """The update of the samples in `batch` (0-based indices) from `state`, traced: an Iteration."""
    return state.session().trace_step(list(batch), epoch)


def advance(state: State, batch) -> State:
    """The state after the update of the samples in `batch` (a loss that is not finite leaves it as it was)."""
    session = state.session()
    session.step(list(batch))
    return State.of(session, state.naming)
