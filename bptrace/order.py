"""The sample order of each epoch: recorded when `step --shuffle` runs, and given back in a spec
(`order = [[2, 3, 1], [1, 3, 2]]`, 1-based) to replay that shuffled run exactly.

Epoch e takes order[(e − 1) mod len(order)]: the given orders repeat after the last one."""

from __future__ import annotations

MAX_RECORDED = 1_000_000  # sample numbers a run records (epochs × samples); beyond, `order` is not kept


def parse(c, value, n: int) -> tuple[tuple[int, ...], ...] | None:
    """`order`: a list of epochs, each every sample number 1..n once (validated with the spec's checker)."""
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(e, list) for e in value):
        c.fail("order", "expected a list of epochs, each a list of sample numbers, such as [[2, 1, 3], [3, 1, 2]]")
    if len(value) * n > MAX_RECORDED:
        c.fail("order", f"too long ({len(value)} epochs of {n} samples); at most {MAX_RECORDED:,} numbers")
    out = []
    for e, epoch in enumerate(value, 1):
        path = f"order[{e}]"
        numbers = [c.integer(k, path, 1, n) for k in epoch]
        if sorted(numbers) != list(range(1, n + 1)):
            missing = sorted(set(range(1, n + 1)) - set(numbers))
            twice = sorted({k for k in numbers if numbers.count(k) > 1}) if len(numbers) < 50 else []
            why = f"missing {', '.join(map(str, missing[:5]))}" if missing else f"{twice[0] if twice else 'one'} twice"
            c.fail(path, f"expected every sample number 1 to {n} exactly once, got {len(numbers)} numbers ({why})")
        out.append(tuple(numbers))
    return tuple(out)


def of_epoch(spec, epoch: int) -> list[int] | None:
    """The 0-based sample rows of epoch `epoch` from the spec's `order`, or None (no order given)."""
    if spec.order is None:
        return None
    return [k - 1 for k in spec.order[(epoch - 1) % len(spec.order)]]
