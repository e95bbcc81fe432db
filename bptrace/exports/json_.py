"""The JSON trace format, `bptrace.trace/1` (documented in docs/trace-format.md).

Floats keep full precision (display rounding never touches data). A value that is not
finite is written as the string "nan", "inf" or "-inf", so every file is valid JSON.
"""

from __future__ import annotations

import json
import math
from typing import Any, Iterator

from .. import __version__
from ..expr import refs, render
from ..notation import after as after_
from ..notation import name
from ..trace import Forward, Iteration, Layout, Loss, Pass, Product, Sum, Tag, Trace, layer_rows

SCHEMA = "bptrace.trace/1"


def _v(x: float) -> float | str:
    if math.isfinite(x):
        return x
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def forward_group(f: Forward) -> dict[str, Any]:
    out = {q.name: _v(q.value) for q in f.given}  # x: with front layers the image or sequence
    for block in f.front:  # front layers (bptrace.front): every quantity they make
        out.update((q.name, _v(q.value)) for q in block.rows)
    for layer in f.layers:
        for q in layer_rows(layer):  # z, out; with dropout the masks m and h~ = m·h / (1 − p)
            out[q.name] = _v(q.value)
    return out


def loss_group(loss: Loss) -> dict[str, Any]:
    out = {q.name: _v(q.value) for q in loss.targets}
    out.update({q.name: _v(q.value) for q in loss.errors})
    out[loss.total.name] = _v(loss.total.value)
    return out


def _products(p: Pass) -> Iterator[Product | Sum]:
    for layer in p.backward:
        for n in layer.neurons:
            if isinstance(n.dE_dout, Sum):
                yield from n.dE_dout.terms
                yield n.dE_dout
            if isinstance(n.delta, Sum):
                yield from n.delta.terms
            yield n.delta
        for g in layer.gradients:
            if isinstance(g, Sum):
                yield from g.terms
            yield g
    for block in p.front:  # front layers: their products and sums (each gradient's terms among them)
        yield from (q for q in block.rows if isinstance(q, (Product, Sum)))


def pass_record(p: Pass) -> dict[str, Any]:
    backward: dict[str, Any] = {}
    products: dict[str, Any] = {}
    for layer in p.backward:
        for n in layer.neurons:
            backward[n.dE_dout.name] = _v(n.dE_dout.value)
            if n.dout_dz is not None:
                backward[n.dout_dz.name] = _v(n.dout_dz.value)
            for q in n.jacobian:
                backward[q.name] = _v(q.value)
    for block in p.front:
        backward.update((q.name, _v(q.value)) for q in block.rows if not isinstance(q, (Product, Sum)))
    for item in _products(p):
        parts = item.factors if isinstance(item, Product) else item.terms
        for q in parts:
            backward.setdefault(q.name, _v(q.value))
        backward[item.name] = _v(item.value)
        op = "product" if isinstance(item, Product) else "sum"
        products[item.name] = {"op": op, "of": [q.name for q in parts]}
    return {"sample": p.sample, "forward": forward_group(p.forward), "loss": loss_group(p.loss),
            "backward": backward, "products": products}


def update_record(u) -> dict[str, Any]:
    out = {"old": _v(u.old), "gradient": _v(u.gradient), "new": _v(u.new), "rule": u.rule,
           "frozen": u.frozen, "state": {k: _v(v) for k, v in u.state.items()}}
    if u.learning_rate is not None:  # parameter groups: the α and λ of this parameter's update
        out["learning_rate"], out["weight_decay"] = u.learning_rate, u.weight_decay
    return out


def iteration_record(it: Iteration) -> dict[str, Any]:
    return {
        "kind": "iteration",
        "epoch": it.epoch,
        "step": it.step,
        "samples": [p.sample for p in it.passes],
        "learning_rate": it.learning_rate,
        "optimizer": it.optimizer,
        "passes": [pass_record(p) for p in it.passes],
        "update": {u.name: update_record(u) for u in it.updates},
        "check": [{"sample": c.sample, "forward": forward_group(c.forward), "loss": loss_group(c.loss)}
                  for c in it.checks],
        "loss_before": _v(it.loss_before),
        "loss_after": _v(it.loss_after),
    }


KINDS = {"x": "input", "w": "weight", "b": "bias", "z": "z", "out": "activation", "t": "target", "E": "error",
         "E_total": "error", "d": "partial", "delta": "delta", "mask": "dropout_mask", "drop": "dropped",
         "v": "front"}


def identity(ident, names, after: bool = False) -> dict[str, Any]:
    """What a quantity is, as data: kind; layer, neuron and source (1-based) where they apply; a partial's
    of/by/via as names; its name in LaTeX."""
    out: dict[str, Any] = {"kind": KINDS[ident.kind]}
    if ident.kind == "d":
        out.update({"of": name(ident.of, names), "by": name(ident.by, names)})
        if ident.via is not None:
            out["via"] = name(ident.via, names)
        if ident.of.kind == "E_total" and ident.by.kind in ("w", "b") and ident.via is None:
            out["kind"] = "gradient"
    elif ident.kind in ("w", "b", "z", "out", "delta", "mask", "drop"):
        out.update(layer=ident.l + 1, neuron=ident.j + 1)
        if ident.kind == "w":
            out["source"] = ident.k + 1
        if ident.kind == "out" and ident.l == len(names.widths) - 2:
            out["kind"] = "output"
    elif ident.kind in ("x", "t", "E"):
        out["neuron"] = ident.j + 1
    elif ident.kind == "v":  # a front layer's quantity (bptrace.front): its symbol, layer and 1-based index
        out.update(symbol=ident.of, layer=ident.l + 1, index=[i + 1 for i in ident.by])
    out["latex"] = name(after_(ident) if after else ident, names, "latex")
    if ident.after or after:
        out["after_update"] = True
    return out


def quantities_record(it: Iteration) -> dict[str, Any]:
    """Every quantity of an iteration's first pass, its update and check, by name: its identity and its
    formula in LaTeX (the same in every iteration, so written once)."""
    out: dict[str, Any] = {}
    for group, key, q in it.walk():
        if key in out or group != "update" and q.ident is None:
            continue
        record = identity(q.ident, it.names, after=group == "update")
        if group != "update" and q.expr is not None:
            record["formula"] = render(q.expr, "latex", it.names)
            for r in refs(q.expr):  # the inputs, targets and parameters the formulas read
                if group in ("forward", "loss") and r.ident.kind in ("x", "t", "w", "b") and r.name not in out:
                    out[r.name] = identity(r.ident, it.names)
        out[key] = record
    return out


def header(spec, command: str) -> dict[str, Any]:
    return {"schema": SCHEMA, "kind": "header", "generator": f"bptrace {__version__}", "command": command,
            "spec": spec.to_dict()}


def run_summary(r) -> dict[str, Any]:
    p = r.plan
    return {
        "kind": "summary",
        "epochs": p.epochs,
        "epochs_done": r.epochs_done,
        "stop": r.stop,
        "divergence": r.divergence.message() if r.divergence else None,
        "diverged_at": None if r.divergence is None else {
            "epoch": r.divergence.epoch, "sample": r.divergence.sample,
            "quantity": r.divergence.quantity, "value": _v(r.divergence.value)},
        "batch": p.batch,
        "shuffle": p.shuffle,
        "order": r.order,  # each epoch's sample order (1-based) when shuffled or given; a spec's `order` replays it
        "watch": p.watch,
        "epoch": [int(e) for e in r.epoch],
        "loss": [_v(x) for x in r.loss.tolist()],
        "grad_norm": [_v(x) for x in r.grad_norm.tolist()],
        "outputs": [[_v(x) for x in row] for row in r.outputs.tolist()],
        "initial": {k: _v(v) for k, v in r.initial.items()},
        "final": {k: _v(v) for k, v in r.final.items()},
        **({} if getattr(r, "health", None) is None else {"health": health_record(r)}),
    }


def health_record(r) -> dict[str, Any]:
    """step --health: each kept epoch's ‖∂E/∂W⁽ˡ⁾‖ per layer (row i is epoch[i]), the rules' thresholds, the findings."""
    from .. import health

    h = r.health
    return {
        "grad_norms": [[_v(x) for x in row] for row in h.norms.tolist()],
        "thresholds": {"sigmoid_slope": health.SIGMOID_SLOPE, "tanh_level": health.TANH_LEVEL,
                       "vanishing": health.VANISHING, "exploding": health.EXPLODING, "large": health.LARGE},
        "findings": [{"kind": f.kind, "epoch": f.epoch, "layer": None if f.layer is None else f.layer + 1,
                      "neuron": None if f.layer is None else r.names.out[f.layer][f.unit],
                      "activation": f.activation or None, "value": _v(f.value)} for f in h.findings],
    }


def dumps(obj: Any, indent: int | None = 2) -> str:
    return json.dumps(obj, indent=indent, allow_nan=False, ensure_ascii=False)


def trace_json(trace: Trace, form: str = "scalar") -> str:
    doc = header(trace.spec, "run")
    doc.update(kind="trace", quantities=quantities_record(trace.iterations[0]),
               iterations=[with_form(iteration_record(it), it, form) for it in trace.iterations])
    return dumps(doc) + "\n"


def run_json(r, form: str = "scalar") -> str:
    doc = header(r.spec, "step")
    doc.update(kind="trace", iterations=[with_form(iteration_record(it), it, form) for it in r.traces],
               run=run_summary(r))
    return dumps(doc) + "\n"


# ---------------------------------------------------------------- the matrix form (--form matrix|both)


def with_form(record: dict[str, Any], it, form: str) -> dict[str, Any]:
    """An iteration's record, with its matrix form added unless form is scalar."""
    if form != "scalar":
        record["matrix_form"] = matrix_record(it)
    return record


def matrix_record(it) -> list[dict[str, Any]]:
    """Every section of the matrix form: its equations, each with its formula (unicode and LaTeX), its
    shape line and every operand in full (values row by row, and which scalar each entry is)."""
    from .. import matrix as mx
    from ..expr import render
    from .matrix_tex import formula, tex_name

    view = mx.build(it, render(it.rule, "unicode", it.names) if it.rule is not None else "")

    def mat(m) -> dict[str, Any]:
        return {"name": m.sym, "latex": tex_name(m.tex), "shape": list(m.shape),
                "values": [[_v(c.value) for c in row] for row in m.rows],
                "entries": [[name(c.ident, it.names) if c.ident is not None else None for c in row]
                            for row in m.rows]}

    return [{"title": s.title, "kind": s.kind, "sample": s.sample or None, "notes": list(s.notes),
             "equations": [{"formula": eq.formula, "latex": formula(eq), "shapes": eq.shapes,
                            "operands": [mat(p) for p in eq.parts if isinstance(p, mx.Mat)],
                            "result": mat(eq.result)} for eq in s.equations]}
            for s in view.sections()]


def jsonl_line(record: dict[str, Any]) -> str:
    return dumps(record, indent=None) + "\n"


def iteration_line(it: Iteration) -> str:
    """jsonl_line(iteration_record(it)). An update held flat (a LazyIteration) is written from its numbers:
    its Layout's record, written once with a slot for each number, is filled with them (floats are written
    as json writes them, repr); one that is not finite is written the long way, as "nan", "inf" or "-inf"."""
    flat = getattr(it, "flat", None)
    if flat is None:
        return jsonl_line(iteration_record(it))
    template, leaves = flat.layout.memo("jsonl", lambda: _template(flat.layout))
    if template is None:
        return jsonl_line(iteration_record(it))
    values = flat.of("jsonl values", lambda probe: leaves)
    if not all(map(math.isfinite, values)):
        return jsonl_line(iteration_record(it))
    line = template % (it.epoch, it.step, *map(float.__repr__, values))
    if flat.layout.memo("jsonl checked", lambda: line == jsonl_line(iteration_record(it))):
        return line
    flat.layout._compiled["jsonl"] = (None, None)  # a number the template missed: never use it
    return jsonl_line(iteration_record(it))


SLOT = "@@slot@@"


def _template(layout: Layout):
    """(the probe's record as a %-format with a %s for the epoch, the step and each number; the numbers' Tags)."""
    leaves = []

    def mark(o):
        if isinstance(o, dict):
            return {k: mark(v) for k, v in o.items()}
        if isinstance(o, list):
            return [mark(v) for v in o]
        if isinstance(o, Tag) or (isinstance(o, str) and o in (Layout.EPOCH, Layout.STEP)):
            leaves.append(o)
            return SLOT
        return o

    pieces = jsonl_line(mark(iteration_record(layout.probe))).split(f'"{SLOT}"')
    if leaves[:2] != [Layout.EPOCH, Layout.STEP] or len(pieces) != len(leaves) + 1:
        return None, None
    return "%s".join(p.replace("%", "%%") for p in pieces), leaves[2:]


def trace_jsonl(trace: Trace, form: str = "scalar") -> str:
    lines = [jsonl_line(header(trace.spec, "run") | {"quantities": quantities_record(trace.iterations[0])})]
    lines += [jsonl_line(with_form(iteration_record(it), it, form)) for it in trace.iterations]
    return "".join(lines)


def schema_text() -> str:
    from pathlib import Path

    return (Path(__file__).resolve().parent.parent / "data" / "trace.schema.json").read_text(encoding="utf-8")
