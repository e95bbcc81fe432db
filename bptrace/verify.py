"""`bptrace verify --against torch`: the same spec run in PyTorch (float64 autograd, torch.optim),
compared value by value with bptrace's trace.

PyTorch is an optional extra: it is imported here, lazily, and nowhere else. The network is
built from PyTorch's own pieces (nn.Linear, nn.Sigmoid, ..., torch.optim.SGD/Adam/AdamW,
F.mse_loss / F.cross_entropy / F.binary_cross_entropy_with_logits), so agreement is evidence,
not bptrace checking itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from . import frozen, groups
from .errors import UsageError
from .i18n import N_, _, ngettext
from .limits import VERIFY_STEPS as MAX_STEPS  # updates compared in one run (each traced in full)

TORCH_MISSING = ("PyTorch is not installed; `{}` needs it: pip install torch "
                 "(or pip install 'bptrace[torch]'; from a clone, pip install '.[torch]')")


def import_torch(needed_by: str = "verify"):
    """The torch module, or a UsageError (exit 2) saying how to install it."""
    try:
        import torch
    except ImportError:
        raise UsageError(TORCH_MISSING.format(needed_by)) from None
    return torch


# ---------------------------------------------------------------- the network in PyTorch


def shared_bias_module(torch, value: float, trainable: bool):
    """One bias shared by every neuron of a layer: z_j = (W·x)_j + b, b a single nn.Parameter broadcast."""

    class SharedBias(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.b = torch.nn.Parameter(torch.tensor([value], dtype=torch.float64), requires_grad=trainable)

        def forward(self, z):
            return z + self.b

    return SharedBias()


def activation_module(torch, layer):
    nn = torch.nn
    return {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU, "linear": nn.Identity,
            "softmax": lambda: nn.Softmax(dim=-1),
            "leaky_relu": lambda: nn.LeakyReLU(layer.slope),
            "gelu": lambda: nn.GELU(approximate=layer.approximate), "elu": lambda: nn.ELU(alpha=layer.alpha),
            "softplus": lambda: nn.Softplus(beta=layer.beta, threshold=layer.threshold),
            "silu": nn.SiLU}[layer.activation]()


@dataclass
class TorchNet:
    """Per layer: the nn.Linear, its shared bias (or None) and its activation; parameters in bptrace's order."""

    blocks: list  # (linear, shared bias module or None, activation module)
    ordered: list  # parameter tensors in bptrace's numbering order: W1, b1, W2, b2, ...
    trainable: list  # the ones the optimizer updates (frozen biases excluded)
    masks: list = field(default_factory=list)  # dropout: per layer the mask of every sample (a tensor), or None
    p: list = field(default_factory=list)  # dropout: per layer the drop probability
    front: list = field(default_factory=list)  # the front layers' modules (bptrace.front), each FrontLayer.torch_module()
    shape: tuple = ()  # one sample's input to the first front layer

    def forward(self, x, rows=None):
        """(zs, outs, dropped) per layer for a batch of rows x; with `rows` (0-based samples) each dropout
        layer's output is multiplied by the samples' masks / (1 − p) (the spec's masks, not torch's RNG)."""
        zs, outs, dropped = [], [], []
        if self.front:  # each sample's flat x as an image or a sequence, through the front layers, flattened
            n, x = x.shape[0], x.reshape(x.shape[0], *self.shape)
            for module in self.front:
                x = module(x)
            x = x.reshape(n, -1)
        self.features = x  # what the first dense layer read (with front layers: their output, flattened)
        for l, (linear, shared, act) in enumerate(self.blocks):
            z = linear(x) if shared is None else shared(linear(x))
            x = act(z)
            zs.append(z)
            outs.append(x)
            if rows is not None and self.masks and self.masks[l] is not None:
                x = x * self.masks[l][rows] / (1 - self.p[l])  # inverted dropout, train mode
            dropped.append(x)
        return zs, outs, dropped


def build(torch, spec) -> TorchNet:
    blocks, ordered, trainable = [], [], []
    for layer in spec.layers:
        per_neuron = layer.bias is not None and not layer.shared_bias
        linear = torch.nn.Linear(layer.fan_in, layer.units, bias=per_neuron, dtype=torch.float64)
        shared = None
        with torch.no_grad():
            linear.weight.copy_(torch.tensor(layer.weights, dtype=torch.float64))
            if per_neuron:
                linear.bias.copy_(torch.tensor(layer.bias, dtype=torch.float64))
        if layer.bias is not None and layer.shared_bias:
            shared = shared_bias_module(torch, layer.bias[0], True)
        bias = None if layer.bias is None else (linear.bias if per_neuron else shared.b)
        # a frozen bias keeps requires_grad (its gradient is compared too) but the optimizer never sees it
        ordered += [linear.weight] + ([bias] if bias is not None else [])
        trainable += [linear.weight] + ([bias] if bias is not None and layer.train_bias else [])
        blocks.append((linear, shared, activation_module(torch, layer)))
    masks = [None if not layer.dropout else torch.tensor(layer.mask, dtype=torch.float64) for layer in spec.layers]
    front = [f.torch_module() for f in spec.front]
    mine = [p for m in front for p in m.bptrace_params]  # in bptrace's order (FrontLayer.torch_module sets it)
    return TorchNet(blocks, mine + ordered, mine + trainable, masks, [layer.dropout for layer in spec.layers], front,
                    spec.front[0].in_shape if spec.front else ())


def held_masks(torch, spec, net: TorchNet) -> list:
    """(tensor, mask) of every trainable tensor with frozen entries (`frozen`): True where frozen."""
    if not frozen.any_frozen(spec):
        return []
    masks = [m for w, b in frozen.masks(spec) for m in (w, b) if m is not None]
    trainable = {id(p) for p in net.trainable}
    return [(p, torch.tensor(m)) for p, m in zip(net.ordered, masks) if m.any() and id(p) in trainable]


def _step_held(torch, opt, held: list) -> None:
    """optimizer.step(), then the frozen entries put back: p⁺ = p whatever weight decay or momentum did."""
    kept = [p.detach()[m].clone() for p, m in held]
    opt.step()
    with torch.no_grad():
        for (p, m), v in zip(held, kept):
            p[m] = v


def targets(torch, spec):
    """The targets as PyTorch takes them: class indices (a long tensor) where the spec gives `target = k`,
    else the rows as given (before label smoothing, which F.cross_entropy applies itself)."""
    if spec.samples[0].target_class is not None:
        return torch.tensor([s.target_class for s in spec.samples], dtype=torch.long)
    return torch.tensor([s.target if s.given_target is None else s.given_target for s in spec.samples],
                        dtype=torch.float64)


def sample_losses(torch, loss: str, z, o, t, label_smoothing: float = 0.0):
    """E_total of each row: the sum over outputs of E_k (mse: the mean), with PyTorch's own loss functions."""
    F = torch.nn.functional
    if loss == "half_sse":
        return 0.5 * F.mse_loss(o, t, reduction="none").sum(-1)
    if loss == "sse":
        return F.mse_loss(o, t, reduction="none").sum(-1)
    if loss == "mse":
        return F.mse_loss(o, t, reduction="none").mean(-1)
    if loss == "cross_entropy":  # -sum_k t_k log softmax(z)_k: probability targets or class indices
        return F.cross_entropy(z, t, reduction="none", label_smoothing=label_smoothing)
    if loss == "binary_cross_entropy":
        return F.binary_cross_entropy_with_logits(z, t, reduction="none").sum(-1)
    raise UsageError(f"verify: loss '{loss}' has no PyTorch counterpart here")


def scheduler(torch, spec, opt):
    """The torch.optim.lr_scheduler of the spec's [schedule], or None."""
    s, lrs = spec.schedule, torch.optim.lr_scheduler
    if s is None:
        return None
    if s.name == "step":
        return lrs.StepLR(opt, step_size=s.hyper["step_size"], gamma=s.hyper["gamma"])
    if s.name == "exponential":
        return lrs.ExponentialLR(opt, gamma=s.hyper["gamma"])
    return lrs.CosineAnnealingLR(opt, T_max=s.hyper["T_max"], eta_min=s.hyper["eta_min"])


def param_groups(spec, params: list) -> list:
    """The trainable tensors as given to torch.optim: as they are, or with parameter groups a list of
    {"params": [...], "lr": ..., "weight_decay": ...} (each key only where the group has its own)."""
    if not groups.any_groups(spec):
        return params
    return [{"params": [params[i] for i in members], **own} for members, own in groups.torch_groups(spec)]


def optimizer(torch, spec, params):
    """The torch.optim optimizer with the spec's hyperparameters (bptrace follows PyTorch's rules)."""
    h, lr, opt = spec.optimizer.hyper, spec.learning_rate, torch.optim
    name = spec.optimizer.name
    try:
        if name == "sgd":
            return opt.SGD(params, lr=lr, weight_decay=h["weight_decay"])
        if name == "momentum":
            return opt.SGD(params, lr=lr, momentum=h["momentum"], dampening=h["dampening"],
                           nesterov=h["nesterov"], weight_decay=h["weight_decay"])
        if name == "rmsprop":
            return opt.RMSprop(params, lr=lr, alpha=h["alpha"], eps=h["eps"], weight_decay=h["weight_decay"],
                               momentum=h["momentum"], centered=h["centered"])
        if name == "adagrad":
            return opt.Adagrad(params, lr=lr, lr_decay=h["lr_decay"], weight_decay=h["weight_decay"],
                               initial_accumulator_value=h["initial_accumulator_value"], eps=h["eps"])
        cls = opt.Adam if name == "adam" else opt.AdamW
        return cls(params, lr=lr, betas=(h["beta1"], h["beta2"]), eps=h["eps"], weight_decay=h["weight_decay"],
                   amsgrad=h["amsgrad"])
    except ValueError as e:  # e.g. Nesterov momentum with dampening
        raise UsageError(f"optimizer: PyTorch refuses these settings ({e})") from None


# ---------------------------------------------------------------- the comparison


@dataclass(frozen=True)
class Row:
    name: str
    ours: float
    theirs: float

    @property
    def abs_diff(self) -> float:
        return abs(self.ours - self.theirs)

    @property
    def rel_diff(self) -> float:
        # |a − b| / max(|a|, |b|); 0 when both are 0
        scale = max(abs(self.ours), abs(self.theirs))
        return 0.0 if self.abs_diff == 0 else self.abs_diff / scale

    def agrees(self, tol: float, atol: float) -> bool:
        if not (math.isfinite(self.ours) and math.isfinite(self.theirs)):
            return self.ours == self.theirs or (math.isnan(self.ours) and math.isnan(self.theirs))
        return self.abs_diff <= atol or self.rel_diff <= tol


@dataclass
class Step:
    step: int
    epoch: int
    samples: list[int]  # 1-based
    rows: list[Row] = field(default_factory=list)


@dataclass
class Report:
    title: str
    torch_version: str
    tol: float
    atol: float
    steps: list[Step]
    # (step, parameter) where an adaptive optimizer stepped on a gradient that is zero but for rounding
    amplified: list[tuple[int, str]] = field(default_factory=list)

    def rows(self):
        return [r for s in self.steps for r in s.rows]

    def failures(self) -> list[Row]:
        return [r for r in self.rows() if not r.agrees(self.tol, self.atol)]

    @property
    def ok(self) -> bool:
        return not self.failures()

    def explained_by_rounding(self) -> bool:
        """Every difference follows from rounding that an adaptive optimizer amplified: in the first step
        that differs, only the updates of the `amplified` parameters differ (everything later starts from them)."""
        failing = [s for s in self.steps if any(not r.agrees(self.tol, self.atol) for r in s.rows)]
        if not failing or not self.amplified:
            return False
        first = failing[0]
        names = {f"{p}+" for step, p in self.amplified if step == first.step}
        return all(r.name in names for r in first.rows if not r.agrees(self.tol, self.atol))


def plan_steps(spec, epochs: int | None, batch: str | int, sample: int) -> list[tuple[int, list[int]]]:
    """(epoch, 0-based sample rows) of every update: one update on `sample` without epochs, else bptrace's order."""
    if epochs is None:
        return [(1, [sample - 1])]
    n = len(spec.samples)
    size = 1 if batch == "online" else n if batch == "full" else int(batch)
    per_epoch = [list(range(i, min(i + size, n))) for i in range(0, n, size)]
    if epochs * len(per_epoch) > MAX_STEPS:
        raise UsageError(f"--epochs {epochs}: that is {epochs * len(per_epoch):,} updates; verify compares at most "
                         f"{MAX_STEPS:,} (try fewer epochs or a larger --batch)")
    if spec.order is not None:  # the spec's recorded order of each epoch
        from .order import of_epoch

        return [(e, rows[i:i + size]) for e in range(1, epochs + 1) for rows in [of_epoch(spec, e)]
                for i in range(0, n, size)]
    return [(e, rows) for e in range(1, epochs + 1) for rows in per_epoch]


def bptrace_iterations(spec, epochs: int | None, batch: str | int, sample: int):
    """bptrace's own trace: a Trace-like object with value(name, i) and iterations[i].updates."""
    import bptrace

    if epochs is None:
        return bptrace.run(spec, sample=sample)
    from .naming import for_spec
    from .trace import Trace

    result = bptrace.train(spec, epochs=epochs, batch=batch, show="all")
    return Trace(spec=spec, names=for_spec(spec), iterations=tuple(result.traces))


def compare(spec, epochs: int | None = None, batch: str | int = "online", sample: int = 1,
            tol: float = 1e-9, atol: float = 1e-12) -> Report:
    """Run the spec in bptrace and in PyTorch and pair every forward value, gradient and update."""
    torch = import_torch()
    from .naming import deriv, for_spec

    schedule = plan_steps(spec, epochs, batch, sample)
    ours = bptrace_iterations(spec, epochs, batch, sample)
    names = for_spec(spec)
    param_names = names.params()
    net = build(torch, spec)
    opt = optimizer(torch, spec, param_groups(spec, net.trainable))
    held = held_masks(torch, spec, net)
    sched, at = scheduler(torch, spec, opt), 1  # stepped once per epoch, as a PyTorch training loop does
    X = torch.tensor([s.x for s in spec.samples], dtype=torch.float64)
    T = targets(torch, spec)
    steps, amplified = [], []
    adaptive = spec.optimizer.name in ADAPTIVE
    for i, (epoch, rows) in enumerate(schedule):
        if i >= len(ours.iterations):  # bptrace stopped (diverged): nothing more to compare
            break
        step = Step(i + 1, epoch, [r + 1 for r in rows])
        for _ in range(at, epoch if sched else at):
            sched.step()
        at = max(at, epoch)
        for p in net.ordered:  # frozen biases too: the optimizer's zero_grad never sees them
            p.grad = None
        zs, outs, dropped = net.forward(X[rows], rows)
        E = sample_losses(torch, spec.loss, zs[-1], outs[-1], T[rows], label_smoothing=spec.label_smoothing)
        E.mean().backward()  # the batch's gradient: the mean of the samples' dE_total/dp
        forward = per_sample(ours.iterations[i])
        for r in range(len(rows)):  # forward values and E_total of every sample in the batch
            label = f" (sample {rows[r] + 1})" if len(rows) > 1 else ""
            if spec.front:  # the front layers' output: what the first dense layer read (f1 …, s_31 …)
                step.rows += [Row(q + label, forward[q][r], v) for q, v in zip(names.inputs, net.features[r].tolist())]
            for l, (zl, hl) in enumerate(zip(zs, outs)):
                for j, (z, h) in enumerate(zip(zl[r].tolist(), hl[r].tolist())):
                    step.rows.append(Row(names.z[l][j] + label, forward[names.z[l][j]][r], z))
                    step.rows.append(Row(names.out[l][j] + label, forward[names.out[l][j]][r], h))
                step.rows += _dropped_rows(spec, names, l, dropped[l][r].tolist(), forward, r, label)
            step.rows.append(Row(names.total + label, forward[names.total][r], E[r].item()))
        grads = _flat(torch, [p.grad if p.grad is not None else torch.zeros_like(p) for p in net.ordered])
        _step_held(torch, opt, held)
        new = _flat(torch, [p.detach() for p in net.ordered])
        updates = {u.name: u for u in ours.iterations[i].updates}
        scale = max((abs(g) for g in grads), default=0.0)
        for name, g, p in zip(param_names, grads, new):
            u = updates[name]
            step.rows.append(Row(deriv(names.total, name), u.gradient, g))
            step.rows.append(Row(f"{name}+", u.new, p))
            if adaptive and g != u.gradient and max(abs(g), abs(u.gradient)) <= ROUNDING * scale:
                amplified.append((step.step, name))
        steps.append(step)
    return Report(spec.title or spec.source, torch.__version__, tol, atol, steps, amplified)


def _dropped_rows(spec, names, l: int, values: list[float], forward: dict, r: int, label: str) -> list[Row]:
    """Dropout: each h̃ = m·h / (1 − p) of layer l against PyTorch's."""
    if not spec.layers[l].dropout:
        return []
    from .notation import leaf, name

    keys = [name(leaf("drop", l, j), names) for j in range(len(values))]
    return [Row(k + label, forward[k][r], v) for k, v in zip(keys, values)]


def per_sample(iteration) -> dict[str, list[float]]:
    """Each forward and loss value of an iteration, by name: one entry per sample of its batch, in order."""
    values: dict[str, list[float]] = {}
    for group, name, value in iteration.quantities():
        if group in ("forward", "loss"):
            values.setdefault(name, []).append(value)
    return values


def _flat(torch, tensors) -> list[float]:
    """Tensors flattened in order (a weight matrix row by row), as Python floats."""
    return torch.cat([t.detach().reshape(-1) for t in tensors]).tolist()


# ---------------------------------------------------------------- rendering (rich, only when shown)

# Adam, AdamW, RMSprop and Adagrad divide a gradient by √v̂ + ε: one that is zero but for rounding
# (|g| ≤ ROUNDING × the step's largest gradient, e.g. from symmetric weights) becomes a step of about α·g/ε,
# so each framework's rounding shows in the new value (seen: 3.5e-11 from a gradient of 7e-18)
ADAPTIVE = ("adam", "adamw", "rmsprop", "adagrad")
ROUNDING = 1e-14

FULL_TABLES = 5  # at most this many steps get a full table; longer runs get one summary row per step


def render(report: Report, precision: int = 12):
    """The comparison as rich renderables: full tables for short runs, else a summary and the failing steps."""
    from rich.console import Group
    from rich.text import Text

    parts = []
    failing = [s for s in report.steps if any(not r.agrees(report.tol, report.atol) for r in s.rows)]
    if len(report.steps) <= FULL_TABLES:
        parts += [_step_table(s, report, precision) for s in report.steps]
    else:
        parts.append(_summary_table(report))
        parts += [_step_table(s, report, precision) for s in failing[:3]]
    n, bad = len(report.rows()), len(report.failures())
    against = f"PyTorch {report.torch_version}, float64 (rel {report.tol:g}, abs {report.atol:g})"
    if bad:
        parts.append(Text("✗ " + _("{bad} of {n} values differ from {against}").format(bad=bad, n=n, against=against),
                          style="bold red"))
        if report.explained_by_rounding():
            step, p = report.amplified[0]
            parts.append(Text(_("note: in step {step}, ∂E_total/∂{p} is zero but for rounding; the optimizer divides "
                                "it by √v̂ + ε, which turns each framework's rounding into a visible step. The two "
                                "agree on the method; the difference is rounding.").format(step=step, p=p), style="yellow"))
    else:
        parts.append(Text("✓ " + _("all {n} values agree with {against}").format(n=n, against=against), style="green"))
    largest = max((r.rel_diff for r in report.rows()), default=0.0)
    parts.append(Text(_("largest relative difference: {x}").format(x=f"{largest:.1e}"), style="dim"))
    return Group(*parts)


def _mark(row: Row, report: Report) -> str:
    return "✓" if row.agrees(report.tol, report.atol) else "✗"


def _step_table(step: Step, report: Report, precision: int):
    from rich.table import Table
    from rich.text import Text

    samples = ngettext("sample {list}", "samples {list}", len(step.samples)).format(list=", ".join(map(str, step.samples)))
    t = Table(title=_("Step {step} (epoch {epoch}, {samples})").format(step=step.step, epoch=step.epoch, samples=samples),
              title_justify="left", box=None, show_header=True, header_style="bold", padding=(0, 1))
    for col, just in ((_("quantity"), "left"), ("bptrace", "right"), ("PyTorch", "right"),
                      ("|diff|", "right"), ("rel", "right"), ("", "left")):
        t.add_column(col, justify=just)
    for r in step.rows:
        t.add_row(Text(r.name), f"{r.ours:.{precision}f}", f"{r.theirs:.{precision}f}",
                  f"{r.abs_diff:.1e}", f"{r.rel_diff:.1e}", _mark(r, report))
    return t


def _summary_table(report: Report):
    from rich.table import Table

    t = Table(title=_("Every step against PyTorch"), title_justify="left", box=None, header_style="bold",
              padding=(0, 1))
    for col in (N_("step"), N_("epoch"), N_("values"), "max |diff|", "max rel", ""):
        t.add_column(_(col) if col else col, justify="right" if col else "left")
    every = max(1, len(report.steps) // 20)  # about 20 rows, and every failing step
    for s in report.steps:
        ok = all(r.agrees(report.tol, report.atol) for r in s.rows)
        if ok and (s.step - 1) % every and s.step != len(report.steps):
            continue
        ok = all(r.agrees(report.tol, report.atol) for r in s.rows)
        t.add_row(str(s.step), str(s.epoch), str(len(s.rows)), f"{max(r.abs_diff for r in s.rows):.1e}",
                  f"{max(r.rel_diff for r in s.rows):.1e}", "✓" if ok else "✗")
    return t
