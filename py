"""flatten then dense

The same network, data, loss and optimizer as bptrace, in PyTorch (float64).
Written by bptrace (`--export FILE.py` on `run` or `step`); run this file with Python beside
bptrace. It needs PyTorch: pip install 'bptrace[torch]' (or pip install torch)."""

import math

import torch
import torch.nn.functional as F
from torch import nn

torch.set_default_dtype(torch.float64)


model = nn.Sequential(
    nn.Unflatten(1, (2, 2)),  # [0] x as written
    nn.Flatten(),  # [1] flatten
    nn.Flatten(),  # [2] what the first dense layer reads
    nn.Linear(4, 2, bias=True),  # [3] output layer
    nn.Sigmoid(),  # [4]
)

with torch.no_grad():  # the spec's weights, weights[j][k]: source k -> neuron j
    model[3].weight.copy_(torch.tensor([[0.1, -0.2, 0.3, 0.4], [0.25, 0.5, -0.75, 0.125]]))
    model[3].bias.copy_(torch.tensor([0.1, -0.1]))

# every parameter in bptrace's numbering order (weights row by row, then the layer's biases)
PARAMS = [model[3].weight, model[3].bias]
NAMES = 'w1 w2 w3 w4 w5 w6 w7 w8 b1 b2'.split()

X = torch.tensor([[0.5, -1.0, 2.0, 0.25], [1.0, 0.0, 0.0, -1.0]])  # one row per sample
T = torch.tensor([[1.0, 0.0], [0.0, 1.0]])


def loss(z, o, t):
    """E_total = sum_k ½(target_k − o_k)², per sample."""
    return 0.5 * F.mse_loss(o, t, reduction="none").sum(-1)


optimizer = torch.optim.SGD(PARAMS, lr=0.5)


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


def fmt(v, p=8):
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


show(*step([0]))  # sample 1
