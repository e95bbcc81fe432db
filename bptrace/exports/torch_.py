"""The `py` export: a short, runnable PyTorch script of the same network, data, loss and optimizer.

It prints the loss, every parameter's gradient and its new value under bptrace's names
(`dE_total/dw5`, `w5+`) with bptrace's number format, so it can be run beside `bptrace run`.
Reads only the trace (its spec) and returns text; needs no torch to write.
"""

from __future__ import annotations

from .. import frozen as frozen_
from .. import groups
from ..errors import ExportError

ACTIVATIONS = {"sigmoid": "nn.Sigmoid()", "tanh": "nn.Tanh()", "relu": "nn.ReLU()", "linear": "nn.Identity()",
               "softmax": "nn.Softmax(dim=-1)", "silu": "nn.SiLU()"}
LOSSES = {  # E_total of each sample (row), from the output layer's z and o, with PyTorch's own loss functions
    "half_sse": ("E_total = sum_k ½(target_k − o_k)²", '0.5 * F.mse_loss(o, t, reduction="none").sum(-1)'),
    "sse": ("E_total = sum_k (target_k − o_k)²", 'F.mse_loss(o, t, reduction="none").sum(-1)'),
    "mse": ("E_total = mean_k (target_k − o_k)²", 'F.mse_loss(o, t, reduction="none").mean(-1)'),
    "cross_entropy": ("E_total = −sum_k target_k·log o_k, o = softmax(z)", 'F.cross_entropy(z, t, reduction="none")'),
    "binary_cross_entropy": ("E_total = −sum_k (t_k·log o_k + (1 − t_k)·log(1 − o_k)), o = sigmoid(z)",
                             'F.binary_cross_entropy_with_logits(z, t, reduction="none").sum(-1)'),
}
SHARED_BIAS = '''

class SharedBias(nn.Module):
    """One bias shared by every neuron of a layer: z_j = (W·x)_j + b."""

    def __init__(self, value):
        super().__init__()
        self.b = nn.Parameter(torch.tensor([value]))

    def forward(self, z):
        return z + self.b
'''
FIXED_DROPOUT = '''

class FixedDropout(nn.Module):
    """Inverted dropout with the spec's masks (not torch's RNG): in train mode, as nn.Dropout(p),
    h~ = m * h / (1 - p) with m the mask row of each sample of the batch (set in `rows`); in eval mode
    (model.eval()) it drops nothing and does not scale."""

    def __init__(self, p, masks):
        super().__init__()
        self.p, self.masks, self.rows = p, torch.tensor(masks), None

    def forward(self, h):
        if not self.training:
            return h
        return h * self.masks[self.rows] / (1 - self.p)
'''
ROWS = """    for m in model:  # dropout: the masks of these samples
        if isinstance(m, FixedDropout):
            m.rows = rows
"""
RUN = '''

def step(rows):
    """One update on the given samples (0-based rows): the mean E_total's gradient, then the optimizer."""
    model.zero_grad()  # every gradient, frozen biases' too (optimizer.zero_grad() skips those)
    z = model[:-1](X[rows])  # the output layer's weighted sums
    o = model[-1](z)
    E = loss(z, o, T[rows])
    E.mean().backward()
    grads = [p.grad for p in PARAMS]
    optimizer.step()
    return E, grads


def show(E, grads):
    print(f"E_total = {fmt(E.mean().item())}")
    for name, g, new in zip(NAMES, flat(grads), flat(PARAMS)):
        print(f"dE_total/d{name} = {fmt(g)}    {name}+ = {fmt(new)}")


def flat(tensors):
    """Every value, in bptrace's numbering order (a weight matrix row by row)."""
    return torch.cat([t.detach().reshape(-1) for t in tensors]).tolist()


def fmt(v, p=PRECISION):
    """bptrace's format: short values as written (0.3), else p decimals; tiny or huge ones in e-notation."""
    if not math.isfinite(v):
        return str(v)
    short = repr(v)
    if "e" not in short and len(short.split(".")[1]) <= p:
        out = short.removesuffix(".0")
    elif v != 0 and (abs(v) < max(0.5 * 10.0**-p, min(10.0 ** (1 - p), 1e-3)) or abs(v) >= 1e12):
        out = f"{v:.{max(p - 1, 1)}e}"
    else:
        out = f"{v:.{p}f}"
    return out[1:] if out.startswith("-") and float(out) == 0 else out  # no -0.00000000
'''


def torch_script(obj, precision: int = 8) -> str:
    """The script for a Trace (one update, as `bptrace run`) or a training Result (as `bptrace step`)."""
    spec = obj.spec
    names = _param_names(obj)
    run = RUN.replace("PRECISION", str(int(precision)))
    if frozen_.any_frozen(spec):
        run = run.replace("    optimizer.step()\n", RESTORE)
    if any(layer.dropout for layer in spec.layers):
        run = run.replace("    z = model[:-1]", ROWS + "    z = model[:-1]")
    parts = [_header(spec), _model(spec), _parameters(spec, names), _data(spec), _loss_and_optimizer(spec),
             run, _main(obj)]
    return "".join(parts)


def _param_names(obj) -> list[str]:
    """The names the trace uses (--naming layered too), else the spec's."""
    names = getattr(obj, "names", None)
    if names is None:
        from ..naming import for_spec

        names = for_spec(obj.spec)
    return names.params()


def _header(spec) -> str:
    title = (spec.title or "bptrace network").replace('"""', "'''")
    uses_shared = any(layer.bias is not None and layer.shared_bias for layer in spec.layers)
    return (f'"""{title}\n\nThe same network, data, loss and optimizer as bptrace, in PyTorch (float64).\n'
            "Written by bptrace (`--export FILE.py` on `run` or `step`); run this file with Python beside\n"
            "bptrace. It needs PyTorch: pip install 'bptrace[torch]' (or pip install torch).\"\"\"\n\n"
            "import math\n\nimport torch\nimport torch.nn.functional as F\nfrom torch import nn\n\n"
            "torch.set_default_dtype(torch.float64)\n" + (SHARED_BIAS if uses_shared else "")
            + (FIXED_DROPOUT if any(layer.dropout for layer in spec.layers) else "")
            + "".join(dict.fromkeys(f.torch_code()[2] for f in spec.front)))


def _model(spec) -> str:
    lines, k = ["\n\nmodel = nn.Sequential("], 0
    if any(layer.init == "pytorch" or layer.bias_init == "pytorch" for layer in spec.layers):
        lines[0] = (f"\n\ntorch.manual_seed({spec.seed})  # weights = \"pytorch\": building the model draws the spec's "
                    "very numbers\n# (the copies below change none of them)\nmodel = nn.Sequential(")
    if spec.front:  # front layers (bptrace.front): each sample's flat x as an image or a sequence, then flat again
        lines.append(f"    nn.Unflatten(1, {tuple(spec.front[0].in_shape)!r}),  # [0] x as written")
        lines += [f"    {f.torch_code()[0]},  # [{i}] {f.kind}" for i, f in enumerate(spec.front, 1)]
        k = len(spec.front) + 1
        if spec.front[-1].kind != "flatten":  # a conv, pool or rnn's output, flattened for the first dense layer
            lines.append(f"    nn.Flatten(),  # [{k}] what the first dense layer reads")
            k += 1
    for l, layer in enumerate(spec.layers, 1):
        per_neuron = layer.bias is not None and not layer.shared_bias
        what = "output layer" if l == len(spec.layers) else f"hidden layer {l}"
        lines.append(f"    nn.Linear({layer.fan_in}, {layer.units}, bias={per_neuron}),  # [{k}] {what}")
        k += 1
        if layer.bias is not None and layer.shared_bias:
            lines.append(f"    SharedBias({layer.bias[0]!r}),  # [{k}] one bias for the whole layer")
            k += 1
        act = _activation(layer)
        lines.append(f"    {act},  # [{k}]")
        k += 1
        if layer.dropout:
            lines.append(f"    FixedDropout({layer.dropout!r}, {_rows(layer.mask)}),  # [{k}] one mask row per sample")
            k += 1
    return "\n".join(lines) + "\n)\n"


def _activation(layer) -> str:
    """The torch.nn module of a layer's activation, with its own parameter when it has one."""
    a = layer.activation
    if a == "leaky_relu":
        return f"nn.LeakyReLU({layer.slope!r})"
    if a == "elu":
        return "nn.ELU()" if layer.alpha == 1 else f"nn.ELU(alpha={layer.alpha!r})"
    if a == "softplus":
        args = [f"beta={layer.beta!r}"] * (layer.beta != 1) + [f"threshold={layer.threshold!r}"] * (layer.threshold != 20)
        return f"nn.Softplus({', '.join(args)})"
    if a == "gelu":
        return "nn.GELU()" if layer.approximate == "none" else f"nn.GELU(approximate={layer.approximate!r})"
    return ACTIVATIONS[a]


def _module_indices(spec):
    """Per layer: the index of its nn.Linear in the Sequential and of its SharedBias (or None)."""
    k = len(spec.front) + 1 + (spec.front[-1].kind != "flatten") if spec.front else 0  # after nn.Unflatten, the
    # front layers and (unless the last of them flattens) nn.Flatten
    for layer in spec.layers:
        shared = k + 1 if layer.bias is not None and layer.shared_bias else None
        yield layer, k, shared
        k += (3 if shared is not None else 2) + (1 if layer.dropout else 0)


def _parameters(spec, names: list[str]) -> str:
    loads, params, frozen = ["with torch.no_grad():  # the spec's weights, weights[j][k]: source k -> neuron j"], [], []
    for i, f in enumerate(spec.front, 1):  # the front layers' parameters first, in bptrace's order
        for attr, values in f.torch_code()[1]:
            loads.append(f"    model[{i}].{attr}.copy_(torch.tensor({values!r}))")
            params.append(f"model[{i}].{attr}")
    for layer, lin, shared in _module_indices(spec):
        loads.append(f"    model[{lin}].weight.copy_(torch.tensor({_rows(layer.weights)}))")
        params.append(f"model[{lin}].weight")
        if layer.bias is None:
            continue
        bias = f"model[{shared}].b" if shared is not None else f"model[{lin}].bias"
        if shared is None:
            loads.append(f"    {bias}.copy_(torch.tensor({list(layer.bias)!r}))")
        params.append(bias)
        if not layer.train_bias:
            frozen.append(bias)
    text = ("\n" + "\n".join(loads) + "\n"
            "\n# every parameter in bptrace's numbering order (weights row by row, then the layer's biases)\n"
            f"PARAMS = [{', '.join(params)}]\nNAMES = {_wrap(' '.join(names))}.split()\n")
    text += _held(spec, params)
    if frozen:
        text += (f"FROZEN = [{', '.join(frozen)}]  # train_bias = false: never given to the optimizer, so they never "
                 "change\n# (their gradients are still computed and shown, as bptrace shows them)\n")
    return text


def _held(spec, params: list[str]) -> str:
    """HELD: (parameter, mask) of the frozen entries (`frozen`), put back after every optimizer.step()."""
    if not frozen_.any_frozen(spec):
        return ""
    held, i = [], 0
    for layer, (w, b) in zip(spec.layers, frozen_.masks(spec)):
        for mask in (w, b):
            if mask is None:
                continue
            if mask.any() and (mask is w or layer.train_bias):
                held.append(f"({params[i]}, torch.tensor({mask.tolist()!r}))")
            i += 1
    return ("# frozen: these entries never change, p+ = p (put back after optimizer.step(), whatever its\n"
            "# weight decay or momentum did; their gradients are still computed and shown)\n"
            f"HELD = [{', '.join(held)}]\n")


RESTORE = """    kept = [p.detach()[m].clone() for p, m in HELD]
    optimizer.step()
    with torch.no_grad():
        for (p, m), v in zip(HELD, kept):
            p[m] = v  # frozen entries: p+ = p
"""


def _rows(matrix) -> str:
    return "[" + ", ".join(repr(list(row)) for row in matrix) + "]"


def _wrap(text: str) -> str:
    """A long string literal as adjacent literals of at most ~90 characters."""
    chunks, line = [], ""
    for word in text.split(" "):
        if line and len(line) + len(word) > 88:
            chunks.append(line)
            line = ""
        line += word + " "
    chunks.append(line.rstrip())
    if len(chunks) == 1:
        return repr(chunks[0])
    return "(" + "\n    ".join(repr(c) for c in chunks) + ")"


def _data(spec) -> str:
    xs = ", ".join(repr(list(s.x)) for s in spec.samples)
    if spec.samples[0].target_class is not None:  # class indices, as F.cross_entropy takes them
        ts = ", ".join(str(s.target_class) for s in spec.samples)
        return f"\nX = torch.tensor([{xs}])  # one row per sample\nT = torch.tensor([{ts}])  # class indices\n"
    ts = ", ".join(repr(list(s.target if s.given_target is None else s.given_target)) for s in spec.samples)
    return f"\nX = torch.tensor([{xs}])  # one row per sample\nT = torch.tensor([{ts}])\n"


def _loss_and_optimizer(spec) -> str:
    doc, expr = LOSSES[spec.loss]
    if spec.label_smoothing:  # PyTorch smooths each target itself: target·(1 − ε) + ε/K
        doc += f", targets smoothed: target·(1 − {spec.label_smoothing!r}) + {spec.label_smoothing!r}/K"
        expr = expr.replace('reduction="none"', f'reduction="none", label_smoothing={spec.label_smoothing!r}')
    return (f"\n\ndef loss(z, o, t):\n    \"\"\"{doc}, per sample.\"\"\"\n    return {expr}\n\n\n"
            f"optimizer = {_optimizer(spec)}\n{_scheduler(spec)}")


def _scheduler(spec) -> str:
    """The torch.optim.lr_scheduler of the spec's [schedule], stepped after every epoch."""
    s = spec.schedule
    if s is None:
        return ""
    cls = {"step": "StepLR", "exponential": "ExponentialLR", "cosine": "CosineAnnealingLR"}[s.name]
    args = ", ".join(f"{k}={v!r}" for k, v in s.hyper.items())
    return f"scheduler = torch.optim.lr_scheduler.{cls}(optimizer, {args})  # α per epoch\n"


def _param_groups(spec) -> str:
    """PyTorch's param groups, one per distinct (α, λ): [{"params": [...], "lr": 0.25}, ...]."""
    exprs = {("front", (f, i)): f"model[{f + 1}].{attr}" for f, layer in enumerate(spec.front)
             for i, (attr, _values) in enumerate(layer.torch_code()[1])}  # after nn.Unflatten at [0]
    for l, (layer, lin, shared) in enumerate(_module_indices(spec)):
        exprs[l, "W"] = f"model[{lin}].weight"
        exprs[l, "b"] = f"model[{shared}].b" if shared is not None else f"model[{lin}].bias"
    trainable = groups.trainable(spec)
    rows = []
    for members, own in groups.torch_groups(spec):
        keys = "".join(f", {k!r}: {v!r}" for k, v in own.items()).replace("'", '"')
        rows.append(f'    {{"params": [{", ".join(exprs[trainable[i]] for i in members)}]{keys}}},')
    return "[  # parameter groups: each layer's own lr and weight_decay\n" + "\n".join(rows) + "\n]"


def _optimizer(spec) -> str:
    h, lr, name = spec.optimizer.hyper, spec.learning_rate, spec.optimizer.name
    frozen = any(layer.bias is not None and not layer.train_bias for layer in spec.layers)
    trainable = "[p for p in PARAMS if not any(p is f for f in FROZEN)]" if frozen else "PARAMS"
    if groups.any_groups(spec):
        trainable = _param_groups(spec)
    if name == "sgd":
        extra = f", weight_decay={h['weight_decay']!r}" if h["weight_decay"] else ""
        return f"torch.optim.SGD({trainable}, lr={lr!r}{extra})"
    if name == "momentum":
        return (f"torch.optim.SGD({trainable}, lr={lr!r}, momentum={h['momentum']!r}, dampening={h['dampening']!r},\n"
                f"                            nesterov={h['nesterov']!r}, weight_decay={h['weight_decay']!r})")
    if name == "rmsprop":
        return (f"torch.optim.RMSprop({trainable}, lr={lr!r}, alpha={h['alpha']!r}, eps={h['eps']!r},\n"
                f"                            weight_decay={h['weight_decay']!r}, momentum={h['momentum']!r}, "
                f"centered={h['centered']!r})")
    if name == "adagrad":
        return (f"torch.optim.Adagrad({trainable}, lr={lr!r}, lr_decay={h['lr_decay']!r}, weight_decay={h['weight_decay']!r},\n"
                f"                            initial_accumulator_value={h['initial_accumulator_value']!r}, eps={h['eps']!r})")
    cls = "Adam" if name == "adam" else "AdamW"
    ams = ", amsgrad=True" if h["amsgrad"] else ""
    return (f"torch.optim.{cls}({trainable}, lr={lr!r}, betas=({h['beta1']!r}, {h['beta2']!r}),\n"
            f"                            eps={h['eps']!r}, weight_decay={h['weight_decay']!r}{ams})")


def _main(obj) -> str:
    plan = getattr(obj, "plan", None)
    if plan is None:  # a Trace: the one update `bptrace run` shows
        sample = obj.iterations[0].passes[0].sample if obj.iterations else 1
        return f"\n\nshow(*step([{sample - 1}]))  # sample {sample}\n"
    spec = obj.spec
    if plan.shuffle and spec.order is None:
        raise ExportError("--export .py: a shuffled run cannot be written as a script; copy the order it recorded "
                          "(the .json export's run.order) into the spec as `order`, and export that run")
    n = len(spec.samples)
    size = 1 if plan.batch == "online" else n if plan.batch == "full" else int(plan.batch)
    if spec.order is None:
        batches = f"BATCHES = [list(range(i, min(i + {size}, {n}))) for i in range(0, {n}, {size})]\n"
        loop = "    for b, rows in enumerate(BATCHES, 1):\n"
    else:  # the spec's order of each epoch (1-based), repeating after the last
        batches = f"ORDER = {[list(e) for e in spec.order]!r}  # each epoch's samples, 1-based\n"
        loop = (f"    rows_of_epoch = [k - 1 for k in ORDER[(epoch - 1) % len(ORDER)]]\n"
                f"    for b, rows in enumerate([rows_of_epoch[i:i + {size}] for i in range(0, {n}, {size})], 1):\n")
    return (f"\n\n{batches}"
            f"EPOCHS = {obj.epochs_done}\n"
            "for epoch in range(1, EPOCHS + 1):\n"
            f"{loop}"
            "        E, grads = step(rows)\n"
            "        if epoch in (1, EPOCHS) and b == 1:  # the first update of the first and last epochs\n"
            "            print(f\"epoch {epoch}, samples {', '.join(str(r + 1) for r in rows)}\")\n"
            "            show(E, grads)\n"
            + ("    scheduler.step()  # the next epoch's α\n" if obj.spec.schedule else ""))
