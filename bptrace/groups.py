"""Per-layer learning rate and weight decay: PyTorch's parameter groups.

In a [[layers]] table, `learning_rate` (α > 0) and `weight_decay` (λ ≥ 0) override the spec's α and the
optimizer's λ for that layer's weights and bias; `bias_weight_decay` gives biases their own λ, per layer
or for every bias in [optimizer] ("no decay on biases": `bias_weight_decay = 0`). The most specific wins:

  α of layer l:      layers[l].learning_rate, else learning_rate
  λ of W⁽ˡ⁾:          layers[l].weight_decay, else optimizer.weight_decay
  λ of b⁽ˡ⁾:          layers[l].bias_weight_decay, else optimizer.bias_weight_decay, else λ of W⁽ˡ⁾

Each parameter array is then one group: its own α and λ through every rule (AdamW's p·(1 − αλ) included),
and a schedule scales each group's α as torch.optim.lr_scheduler does (bptrace.schedules.Schedule.rate of
the group's own base α). `--lr` sets the spec's α: a layer with its own keeps it, as the lr given to a
torch.optim constructor applies only to the groups that name none.
"""

from __future__ import annotations

from .i18n import _

LAYER_KEYS = ("learning_rate", "weight_decay", "bias_weight_decay")


def decay(c, table: dict, path: str, key: str = "bias_weight_decay") -> float | None:
    """A λ from a table (None when absent): a number >= 0."""
    if key not in table:
        return None
    v = c.number(table[key], path)
    if v < 0:
        c.fail(path, f"expected a number >= 0, got {v:g}")
    return v


def parse_layer(c, table: dict, path: str, has_bias: bool) -> dict:
    """A [[layers]] table's own learning_rate, weight_decay and bias_weight_decay (those it gives)."""
    out = {}
    if "learning_rate" in table:
        v = c.number(table["learning_rate"], f"{path}.learning_rate")
        if not v > 0:
            c.fail(f"{path}.learning_rate", f"expected a number > 0, got {v:g}")
        out["learning_rate"] = v
    for key in ("weight_decay", "bias_weight_decay"):
        v = decay(c, table, f"{path}.{key}", key)
        if v is not None:
            out[key] = v
    if "bias_weight_decay" in table and not has_bias:
        c.fail(f"{path}.bias_weight_decay", "this layer has no bias; add `bias = ...` or remove bias_weight_decay")
    return out


def any_groups(spec) -> bool:
    """Whether any parameter has an α or λ of its own (else the spec's α and the optimizer's λ hold for all)."""
    return spec.optimizer.bias_weight_decay is not None or any(
        getattr(layer, key) is not None for layer in spec.layers for key in LAYER_KEYS)


def base_rate(spec, l: int) -> float:
    """α of layer l before any schedule: its own, else the spec's (a front layer's arrays, l = "front": the spec's)."""
    if l == "front":
        return spec.learning_rate
    own = spec.layers[l].learning_rate
    return spec.learning_rate if own is None else own


def weight_decay(spec, l: int, kind: str) -> float:
    """λ of W⁽ˡ⁾ (kind "W") or b⁽ˡ⁾ (kind "b"): the most specific one given. A front layer's array (l = "front",
    kind (f, i)): the optimizer's λ, or for its bias c the optimizer's bias_weight_decay where given."""
    opt = spec.optimizer
    if l == "front":
        bias = spec.front[kind[0]].params[kind[1]].symbol == "c"
        own = opt.bias_weight_decay if bias else None
        return opt.hyper.get("weight_decay", 0.0) if own is None else own
    layer = spec.layers[l]
    tries = (layer.bias_weight_decay, opt.bias_weight_decay) if kind == "b" else ()
    for v in (*tries, layer.weight_decay):
        if v is not None:
            return v
    return opt.hyper.get("weight_decay", 0.0)


def rate(spec, l: int, epoch: int) -> float:
    """α of layer l in an epoch (1-based): its base α through the schedule, as each torch param group's lr."""
    base = base_rate(spec, l)
    return base if spec.schedule is None else spec.schedule.rate(base, epoch)


def rates(spec, trainable, epoch: int) -> list[float]:
    """α of every trainable array ((layer, "W" or "b") pairs) in an epoch."""
    return [rate(spec, l, epoch) for l, _kind in trainable]


def decays(spec, trainable) -> list[float]:
    """λ of every trainable array."""
    return [weight_decay(spec, l, kind) for l, kind in trainable]


def _own(it) -> dict[tuple[int, str], tuple[float, float]]:
    """(layer, "W" or "b") -> the (α, λ) its updates used (frozen ones left out)."""
    out = {}
    for u in it.updates:
        if not u.frozen and u.learning_rate is not None and u.ident.kind != "v":  # front layers: the spec's α
            out[u.ident.l, "W" if u.ident.kind == "w" else "b"] = (u.learning_rate, u.weight_decay)
    return out


def _given(spec) -> dict[tuple[int, str], tuple[float, float]]:
    """(layer, "W" or "b") -> the spec's (α, λ) for it, before any schedule."""
    return {(l, kind): (base_rate(spec, l), weight_decay(spec, l, kind))
            for l, layer in enumerate(spec.layers) for kind in ("W", "b") if kind == "W" or layer.bias is not None}


def summary(it, num=lambda v: f"{v:g}", alpha: str = "α", lam: str = "λ") -> str:
    """An iteration's α (and λ) per layer: "layer 1: α = 0.5; layer 2: α = 0.25, λ = 0.01 (biases: λ = 0)";
    "" for an iteration without parameter groups. num writes each value, alpha and lam the symbols."""
    return _text(_own(it), num, alpha, lam, getattr(it.names, "offset", 0))


def spec_summary(spec, num=lambda v: f"{v:g}", alpha: str = "α", lam: str = "λ") -> str:
    """summary() of the spec as given (base α, before any schedule); "" without parameter groups."""
    return _text(_given(spec), num, alpha, lam, len(spec.front)) if any_groups(spec) else ""


def _text(own: dict, num, alpha: str, lam: str, offset: int = 0) -> str:
    """offset: the front layers before the dense ones (a dense layer is named by its place in [[layers]])."""
    if not own:
        return ""
    decayed = any(d for _a, d in own.values())

    def text(pair) -> str:
        return f"{alpha} = {num(pair[0])}" + (f", {lam} = {num(pair[1])}" if decayed else "")

    parts = []
    for l in sorted({l for l, _k in own}):
        w, b = own.get((l, "W")), own.get((l, "b"))
        head = text(w or b)
        if w and b and b != w:  # the biases' own α or λ: only what differs from the weights'
            diff = [f"{alpha} = {num(b[0])}"] * (b[0] != w[0]) + [f"{lam} = {num(b[1])}"] * (b[1] != w[1])
            head += " " + _("(biases: {values})").format(values=", ".join(diff))
        parts.append(_("layer {l}: {values}").format(l=l + 1 + offset, values=head))
    return "; ".join(parts)


def trainable(spec) -> list[tuple[int, str]]:
    """(layer, "W" or "b") of every array the optimizer updates, in order (engine.Network.trainable's): a front
    layer's arrays first, as ("front", (f, i))."""
    front = [("front", (f, i)) for f, layer in enumerate(spec.front) for i in range(len(layer.params))]
    return front + [(l, kind) for l, layer in enumerate(spec.layers)
                    for kind in ("W", "b") if kind == "W" or (layer.bias is not None and layer.train_bias)]


def torch_groups(spec) -> list[tuple[list[int], dict]]:
    """PyTorch's param groups: (indices into trainable(spec), the group's own keys, lr and weight_decay where
    they differ from the constructor's), one group per distinct (α, λ) in order of first appearance."""
    by_pair: dict[tuple[float, float], list[int]] = {}
    for i, (l, kind) in enumerate(trainable(spec)):
        by_pair.setdefault((base_rate(spec, l), weight_decay(spec, l, kind)), []).append(i)
    lr, wd = spec.learning_rate, spec.optimizer.hyper.get("weight_decay", 0.0)
    return [(members, {**({"lr": a} if a != lr else {}), **({"weight_decay": d} if d != wd else {})})
            for (a, d), members in by_pair.items()]
