"""The pure update: trace_step(state, batch) -> Iteration and advance(state, batch) -> State.

Expected numbers come from the published worked example (docs/worked-example.md); the other checks
compare two independent paths through bptrace (a state advanced step by step against the trainer,
which runs the generated fast path), never a number copied from bptrace's output."""

import numpy as np
import pytest

import bptrace
from bptrace.state import State, advance, trace_step


def blog():
    return State.initial(bptrace.load("blog"))


def test_the_first_update_is_the_published_one():
    it = trace_step(blog(), [0])
    assert it.value("dE_total/dw5") == pytest.approx(0.02592286, abs=5e-9)
    assert it.value("w5+") == pytest.approx(0.43703857, abs=5e-9)
    assert it.value("w1+") == pytest.approx(0.29959556, abs=5e-9)
    assert it.step == 1


def test_advance_gives_the_published_updated_weights_and_forward_pass():
    after = advance(blog(), [0])
    # W⁽¹⁾ = [[w1, w2], [w3, w4]], W⁽²⁾ = [[w5, w6], [w7, w8]] (docs/worked-example.md, "after the update")
    np.testing.assert_allclose(after.W[0], [[0.29959556, 0.24919112], [0.39964496, 0.34928991]], atol=5e-9)
    np.testing.assert_allclose(after.W[1], [[0.43703857, 0.38685205], [0.69629578, 0.59624247]], atol=5e-9)
    it = trace_step(after, [0], epoch=2)
    assert it.value("z1") == pytest.approx(0.07979778, abs=5e-9)
    assert it.value("h1") == pytest.approx(0.51993887, abs=5e-9)
    assert (it.epoch, it.step) == (2, 2)


@pytest.mark.parametrize("sample", ["blog", "xor", "adam", "softmax", "deep"])
def test_trace_step_and_advance_are_pure(sample):
    state = State.initial(bptrace.load(sample))
    state = advance(state, [0])  # optimizer state that is not all zeros
    before = [a.copy() for a in state.arrays()]
    one, two = trace_step(state, [0]), trace_step(state, [0])
    assert list(one.quantities()) == list(two.quantities())  # same input, same output
    assert advance(state, [0]) == advance(state, [0])
    assert all(np.array_equal(a, b) for a, b in zip(before, state.arrays()))  # input not mutated
    assert state.steps == 1
    with pytest.raises(ValueError):  # and cannot be: the arrays are read-only
        state.W[0][0, 0] = 1.0


def test_traced_and_untraced_updates_reach_the_same_state():
    state = State.initial(bptrace.load("adam"))
    it = trace_step(state, [0])
    after = advance(state, [0])
    assert [u.new for u in it.updates] == pytest.approx(after.W[0].ravel().tolist() + after.W[1].ravel().tolist(),
                                                        abs=1e-15)


@pytest.mark.parametrize("sample,batch", [("xor", "online"), ("xor", "full"), ("adam", "online"),
                                          ("softmax", "online"), ("deep", 2)])
def test_advancing_the_state_equals_the_trainer(sample, batch):
    """The trainer (generated scalar fast path for these small networks) against the state advanced one
    batch at a time, in order, for 30 epochs."""
    s = bptrace.load(sample)
    epochs, n = 30, len(s.samples)
    size = {"online": 1, "full": n}.get(batch, batch)
    state = State.initial(s)
    for _ in range(epochs):
        for first in range(0, n, size):
            state = advance(state, range(first, min(first + size, n)))
    result = bptrace.train(s, epochs=epochs, batch=batch)
    # naming order: each layer's weights row by row, then its biases
    params = np.concatenate([a.ravel() for W, b in zip(state.W, state.b) for a in (W, b) if a is not None])
    assert state.steps == epochs * -(-n // size)
    assert len(params) == len(result.final)
    for (name, value), mine in zip(result.final.items(), params):
        assert mine == pytest.approx(value, abs=1e-12), name


def test_the_trainer_hands_its_state_out_as_a_state():
    from bptrace import fastpath, tracer

    s = bptrace.load("xor")
    paths = fastpath.Paths(tracer.Session(s), fast=True)
    expected = State.initial(s)
    for i in range(4):
        paths.step([i])
        expected = advance(expected, [i])
    got = paths.state()
    assert got.steps == expected.steps == 4
    for a, b in zip(got.arrays(), expected.arrays()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-13)


@pytest.mark.parametrize("optimizer", [{"name": "rmsprop", "centered": True, "momentum": 0.5},
                                       {"name": "adagrad", "initial_accumulator_value": 0.1},
                                       {"name": "adam", "amsgrad": True}])
def test_a_state_keeps_every_optimizer_array(optimizer):
    """RMSprop's v, ḡ and b, Adagrad's G and amsgrad's vₘₐₓ go into the State and come back out: three
    updates made through States (each a fresh session restored from the last) equal three made in one
    session, the trainer's."""
    from conftest import BLOG

    s = bptrace.load({**BLOG, "optimizer": optimizer})
    state = State.initial(s)
    for _ in range(3):
        state = advance(state, [0])
    result = bptrace.train(s, epochs=3)
    params = np.concatenate([W.ravel() for W in state.W])
    for (name, value), mine in zip(result.final.items(), params):
        assert mine == pytest.approx(value, abs=1e-14), name
