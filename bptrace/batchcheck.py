"""`check` for one batch update (answers with `batch = "full"` or `batch = K`).

The gradient a batch update uses is the mean of its samples' gradients,
∂E_total/∂p = (1/B)·Σ_k ∂E_k/∂p (bptrace, like PyTorch's default reduction="mean"), and E_total is the
mean of the samples' losses. Claims name the batch's E_total, each gradient ∂E_total/∂p and each updated
p⁺, plus the givens (the weights before the update, α). A claim that summed over the batch where the
mean belongs is named: the most asked-about slip with batches.
"""

from __future__ import annotations

import math
from decimal import Decimal

from . import answers
from .check import Claim, Diagnosis, Finding, Report, agrees
from .errors import SpecError
from .misconceptions import Misconception
from .notation import Id, name as id_name

SUM_MEAN = Misconception(
    "sum-mean-batch", "sum versus mean over a batch",
    "a batch's gradient is the mean of its samples' gradients, (1/B)·Σ_k ∂E_k/∂p, and E_total their mean loss",
    variants=None)  # found here, from the batch's numbers, not by propagating one pass


def _quantities(it) -> dict[str, tuple[float, float | None, object, str]]:
    """name -> (correct value, the value summed over the batch or None, identity, what the sum does)."""
    B = len(it.passes)
    total = it.passes[0].loss.total
    out = {total.name: (it.loss_before, B * it.loss_before, total.ident,
                        f"is the sum of the {B} samples' losses; the batch's E_total is their mean")}
    plain = it.optimizer == "sgd"
    for u in it.updates:  # the gradients first, then the updates (the order `run` shows them in)
        g = Id("d", of=Id("E_total"), by=u.ident)
        out[id_name(g, it.names)] = (u.gradient, B * u.gradient, g,
                                     f"sums the {B} samples' gradients where the update uses their mean")
    for u in it.updates:
        # the update from the summed gradient, for plain descent (w⁺ = w − α·g, no weight decay) only
        a = it.alpha(u)  # its parameter group's α, else the iteration's
        plain_step = plain and not u.frozen and math.isclose(u.new, u.old - a * u.gradient, rel_tol=1e-12,
                                                             abs_tol=1e-15)
        out[f"{u.name}+"] = (u.new, u.old - a * B * u.gradient if plain_step else None, u.ident, "")
    return out


def check_batch(it, claims: dict[str, Decimal], source: str, epoch: int, sample: int,
                written: dict[str, str] | None = None) -> Report:
    """Grade claims about one batch update; a wrong claim that equals the summed-batch value is named."""
    from .notation import after

    values = _quantities(it)
    givens = {u.name: u.old for u in it.updates} | {answers.ALPHA: it.learning_rate}
    unknown = [k for k in claims if k not in values and k not in givens]
    if unknown:
        written = written or {}
        message = answers.unknown_message([(written.get(k, k), k) for k in unknown], [*givens, *values])
        raise SpecError(source, f"{message} (a batch update's claims are its E_total, each gradient "
                        "∂E_total/∂p and each updated p⁺; check one sample's pass with batch = \"online\")")
    order = [*givens, *values]
    out = [Claim(n, d, givens[n] if n in givens else values[n][0])
           for n, d in sorted(claims.items(), key=lambda kv: order.index(kv[0]))]
    wrong = {c.name for c in out if not c.holds}
    grads = {f"{u.name}+": id_name(Id("d", of=Id("E_total"), by=u.ident), it.names) for u in it.updates}
    diagnoses = [_diagnose(c, values, c.name in givens, grads.get(c.name) if grads.get(c.name) in wrong else c.name)
                 for c in out if not c.holds]
    idents = {u.name: u.ident for u in it.updates} | {n: (after(v[2]) if n.endswith("+") else v[2])
                                                     for n, v in values.items()}
    return Report(epoch, sample, out, diagnoses, None, it.names, idents, batch=len(it.passes))


def _diagnose(c: Claim, values: dict, given: bool, source: str) -> Diagnosis:
    """source: the wrong claim it is computed from (p⁺ from a wrong ∂E_total/∂p), or its own name."""
    if given:
        return Diagnosis(c, given=True)
    _, summed, _, phrase = values[c.name]
    wrong = [source] if source != c.name else []
    if summed is not None and agrees(c.claimed, summed):
        when = "the update used the sum of the batch's gradients instead of their mean"
        finding = Finding(SUM_MEAN, summed, phrase, when, SUM_MEAN.rule)
        return Diagnosis(c, wrong=wrong, source=source, finding=finding)
    return Diagnosis(c, wrong=wrong, source=source)
