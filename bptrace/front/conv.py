"""conv1d, conv2d: a convolution as torch.nn.Conv1d / Conv2d (a cross-correlation, zero padding) and an
elementwise activation. Symbols: x the input, k the kernel, c the bias (one per output channel), u the
pre-activation, v = f(u) the output. With one output channel o, input channel ch, offset a, position i
(per axis; s the stride, p the padding):

    u_oi = Σ_ch Σ_a k_o,ch,a · x_ch,(i·s + a − p) + c_o     (a padded position reads 0: its term is left out)
    v_oi = f(u_oi)

and backward, with δ_oi = ∂E_total/∂u_oi = ∂E_total/∂v_oi · f′(u_oi):

    ∂E_total/∂k_o,ch,a = Σ_i δ_oi · x_ch,(i·s + a − p)   (the correlation of δ with the input)
    ∂E_total/∂c_o      = Σ_i δ_oi
    ∂E_total/∂x_ch,j   = Σ over (o, i, a) with i·s + a − p = j of δ_oi · k_o,ch,a   (the full convolution)

Names drop a channel axis of size 1: one kernel over a one-channel image reads k_11, u_11, v_11.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from math import prod

import numpy as np

from .. import activations
from ..expr import Num, Op, Ref
from ..notation import E_TOTAL
from . import spatial
from .base import FrontLayer, Param, ident, objects, shown, tensor, torch_stream

ACT_KEYS = ("slope", "alpha", "beta", "threshold", "approximate")
KEYS = ("type", "kernel", "bias", "stride", "padding", "activation", *ACT_KEYS, "channels", "size")
ELEMENTWISE = tuple(a for a in activations.NAMES if a != "softmax")
MAX_STRIDE = MAX_PADDING = MAX_SIZE = MAX_CHANNELS = 1000
CONV_ACT = '''

class ConvAct(nn.Module):
    """bptrace's conv1d/conv2d layer: a convolution, then its activation."""

    def __init__(self, conv, act):
        super().__init__()
        self.conv, self.act = conv, act

    def forward(self, x):
        return self.act(self.conv(x))
'''


@dataclass(frozen=True, eq=False)
class Conv(FrontLayer):
    symbols = ("k", "c", "u", "v")  # kernel, bias, weighted sums, outputs
    kernel: Param = None  # (out channels, in channels, *K)
    bias: Param | None = None  # (out channels,), or None
    stride: int = 1
    padding: int = 0
    activation: str = "relu"
    slope: float = 0.01  # leaky_relu
    alpha: float = 1.0  # elu
    beta: float = 1.0  # softplus
    threshold: float = 20.0  # softplus
    approximate: str = "none"  # gelu

    @property
    def params(self):
        return (self.kernel,) if self.bias is None else (self.kernel, self.bias)

    @property
    def d(self) -> int:
        return spatial.dims(self.kind)

    @property
    def K(self) -> tuple[int, ...]:
        return self.kernel.value.shape[2:]

    @property
    def act(self):
        param = {"leaky_relu": self.slope, "elu": self.alpha, "softplus": (self.beta, self.threshold),
                 "gelu": self.approximate}.get(self.activation)
        return activations.get(self.activation, param)

    @property
    def trace_cost(self) -> int:
        """The products k·x its trace makes for one sample (each again as a term of ∂E/∂k, and of ∂E/∂x after
        the first layer): what the trace costs, as a dense layer's weights do (limits.py counts parameters)."""
        return prod(self.out_shape) * prod(self.kernel.value.shape[1:])

    # ---- numbers
    def forward(self, params, X):
        k, d = params[0], self.d
        Wn = spatial.windows(spatial.pad(X, self.padding), self.K, self.stride)  # (n, C, *out, *K)
        # u_oi = Σ_ch Σ_a k_o,ch,a · x_ch,(i·s + a − p)  (+ c_o)
        U = np.tensordot(Wn, k, axes=([1, *range(2 + d, 2 + 2 * d)], [1, *range(2, 2 + d)]))
        U = np.moveaxis(U, -1, 1)
        if self.bias is not None:
            U = U + params[1].reshape((1, -1) + (1,) * d)
        V = self.act.f(U)
        return V, (X, U, V)

    def backward(self, params, cache, dY):
        X, U, V = cache
        k, over = params[0], (0, *range(2, 2 + self.d))
        dU = dY * self.act.d(U, V)  # δ = ∂E/∂v · f′(u)
        Wn = spatial.windows(spatial.pad(X, self.padding), self.K, self.stride)
        # ∂E/∂k_o,ch,a = Σ_n Σ_i δ_noi · x_n,ch,(i·s + a − p)
        grads = [np.tensordot(dU, Wn, axes=(over, over))]
        if self.bias is not None:
            grads.append(dU.sum(axis=over))  # ∂E/∂c_o = Σ_n Σ_i δ_noi
        return self._dx(k, dU, X.shape), grads

    def grads(self, params, cache, dY):
        """backward's grads alone (the network's input needs no ∂E/∂x: training skips the full convolution)."""
        X, U, V = cache
        dU, over = dY * self.act.d(U, V), (0, *range(2, 2 + self.d))
        Wn = spatial.windows(spatial.pad(X, self.padding), self.K, self.stride)
        return [np.tensordot(dU, Wn, axes=(over, over))] + ([dU.sum(axis=over)] if self.bias is not None else [])

    def _dx(self, k, dU, shape):
        """∂E/∂x: each δ_oi sent back through every kernel entry to the input it read (the full convolution)."""
        p, out = self.padding, dU.shape[2:]
        dXp = np.zeros(shape[:2] + tuple(n + 2 * p for n in shape[2:]))
        for a in np.ndindex(*self.K):
            # input position i·s + a receives Σ_o δ_oi · k_o,ch,a
            part = np.tensordot(dU, k[(slice(None), slice(None)) + a], axes=([1], [0]))  # (n, *out, C)
            dXp[spatial.strided(a, out, self.stride)] += np.moveaxis(part, -1, 1)
        return dXp[(slice(None), slice(None)) + tuple(slice(p, p + n) for n in shape[2:])] if p else dXp

    # ---- trace of one sample
    def trace(self, t, x, cache, params):
        l, (_, U, V), given = self.index, cache, spatial.given(t, self.kernel, params[0])
        k = objects(self.kernel.value.shape,
                    lambda i: t.q("k", l, _kshow(self.kernel.value.shape, i), params[0][i], None, given))
        c = None if self.bias is None else objects(
            params[1].shape, lambda i: t.q("c", l, i, params[1][i], None, spatial.given(t, self.bias, params[1])))
        u, v = np.empty(self.out_shape, dtype=object), np.empty(self.out_shape, dtype=object)
        act, rows = self.act, [*k.flat, *(() if c is None else c.flat)]
        for i in np.ndindex(*self.out_shape):
            u[i] = t.q("u", l, shown(self.out_shape, i), U[(0, *i)], self._u(k, c, x, i))
            v[i] = t.q("v", l, shown(self.out_shape, i), V[(0, *i)], act.tree(Ref(u[i]), ()))  # v = f(u)
            rows += [u[i], v[i]]
        grids = spatial.grids("x", x, self.d) if self.index == 0 else []
        grids += spatial.kernel_grids("k", k, self.d) + spatial.grids("u", u, self.d) + spatial.grids("v", v, self.d)
        return rows, v, tuple(grids)

    def _u(self, k, c, x, i):
        """u_oi = Σ_ch Σ_a k_o,ch,a · x_ch,(i·s + a − p) + c_o, the terms over padding left out."""
        terms = [Op("mul", Ref(k[kk]), Ref(x[xx])) for kk, xx in self._reads(i)]
        if c is not None:
            terms.append(Ref(c[i[0]]))
        return Op("add", *terms) if len(terms) > 1 else terms[0] if terms else Num(0)

    def _reads(self, i):
        """(kernel index, input index) of every product in u at i = (o, *position)."""
        o, pos, S = i[0], i[1:], self.in_shape[1:]
        for ch in range(self.in_shape[0]):
            for a, at in spatial.reads(pos, self.K, self.stride, self.padding, S):
                yield (o, ch, *a), (ch, *at)

    def trace_back(self, t, fwd, dy, cache, back, params):
        (_, U, V), (dX, grads), l, act = cache, back, self.index, self.act
        u, v, k, c = self._forward_quantities(t, fwd)
        rows, delta = [], np.empty(self.out_shape, dtype=object)
        dvdu = act.d(U, V)[0]
        for i in np.ndindex(*self.out_shape):
            d = t.d(v[i], u[i], float(dvdu[i]), act.dtree(Ref(v[i]), Ref(u[i])))  # ∂v/∂u = f′(u)
            delta[i] = t.product(E_TOTAL, u[i], [dy[i], d])  # δ = ∂E_total/∂v · ∂v/∂u
            rows += [d, delta[i]]
        dk, dc, dx = self._terms(t, fwd.inputs, k, c, u, delta)
        gk = objects(k.shape, lambda i: spatial.gradient(t, k[i], dk[i], grads[0][i]))
        out = [*gk.flat]
        if c is not None:
            out += [spatial.gradient(t, c[o], dc[o], grads[1][o]) for o in range(len(c))]
        x = None
        if l > 0:  # the network's input needs no gradient
            x = objects(self.in_shape, lambda j: spatial.gradient(t, fwd.inputs[j], dx[j], dX[(0, *j)]))
        grids = spatial.grids("dE_total/du", delta, self.d) + spatial.kernel_grids("dE_total/dk", gk, self.d)
        # the parameters' gradients are not rows: the caller shows each after its terms
        return rows + ([] if x is None else spatial.with_terms(x.flat)), x, out, tuple(grids)

    def _forward_quantities(self, t, fwd):
        """u, v, k, c (None without a bias) as the forward trace made them (found in fwd.rows by identity)."""
        made, l = {q.ident: q for q in fwd.rows}, self.index
        kshape = self.kernel.value.shape

        def find(symbol, shape, show):
            return objects(shape, lambda i: made[t.id(symbol, l, show(shape, i))])
        u, v = (find(s, self.out_shape, shown) for s in ("u", "v"))
        k = find("k", kshape, _kshow)
        c = None if self.bias is None else find("c", self.bias.value.shape, lambda shape, i: i)
        return u, v, k, c

    def _terms(self, t, x, k, c, u, delta):
        """The terms of each kernel entry's, bias's and input's gradient: one per output position it reaches."""
        dk, dc, dx = defaultdict(list), defaultdict(list), defaultdict(list)
        for i in np.ndindex(*self.out_shape):
            for kk, xx in self._reads(i):
                # ∂E_total/∂k via u_i = δ_i · x (the input k multiplies there)
                dk[kk].append(t.product(E_TOTAL, k[kk], [delta[i], x[xx]], via=u[i]))
                if self.index > 0:  # ∂E_total/∂x via u_i = δ_i · k (the kernel entry x meets there)
                    dx[xx].append(t.product(E_TOTAL, x[xx], [delta[i], k[kk]], via=u[i]))
            if c is not None:  # ∂E_total/∂c via u_i = δ_i · ∂u_i/∂c, and ∂u_i/∂c = 1
                one = t.d(u[i], c[i[0]], 1.0, Num(1), given=True)
                dc[i[0]].append(t.product(E_TOTAL, c[i[0]], [delta[i], one], via=u[i]))
        return dk, dc, dx

    def sides(self, cache):
        """Which side of its kink each u is on (u > 0) for relu, leaky_relu and elu, else None: where these
        differ between p + h and p − h, a central difference straddles a kink (for gradcheck)."""
        from ..gradcheck import KINKED

        return cache[1] > 0 if self.activation in KINKED else None

    def kink_at(self, cache, s: int, idx: tuple):
        """(u's identity, its value) where sides differ: sample s, (channel, position) idx (for gradcheck)."""
        return ident("u", self.index, shown(self.out_shape, idx)), float(cache[1][(s, *idx)])

    def param_ids(self):
        """The kernel's entries named as the trace names them (a channel axis of size 1 left out), then c."""
        shape = self.kernel.value.shape
        ids = [ident("k", self.index, _kshow(shape, i)) for i in np.ndindex(*shape)]
        if self.bias is not None:
            ids += [ident("c", self.index, i) for i in np.ndindex(*self.bias.value.shape)]
        return ids

    def torch_module(self):
        import torch

        from ..verify import activation_module

        Conv = torch.nn.Conv2d if self.d == 2 else torch.nn.Conv1d
        O, C = self.kernel.value.shape[:2]
        conv = Conv(C, O, self.K, stride=self.stride, padding=self.padding, bias=self.bias is not None,
                    dtype=torch.float64)
        with torch.no_grad():
            conv.weight.copy_(torch.from_numpy(self.kernel.value))
            if self.bias is not None:
                conv.bias.copy_(torch.from_numpy(self.bias.value))
        module = torch.nn.Sequential(conv, activation_module(torch, self))
        module.bptrace_params = [conv.weight] + ([] if self.bias is None else [conv.bias])
        return module

    def torch_code(self):
        from ..exports.torch_ import _activation

        O, C = self.kernel.value.shape[:2]
        conv = (f"nn.Conv{self.d}d({C}, {O}, {self.K!r}, stride={self.stride}, padding={self.padding}, "
                f"bias={self.bias is not None})")
        params = [("conv.weight", self.kernel.value.tolist())]
        if self.bias is not None:
            params.append(("conv.bias", self.bias.value.tolist()))
        return f"ConvAct({conv}, {_activation(self)})", params, CONV_ACT


def _kshow(shape: tuple[int, ...], i: tuple[int, ...]) -> tuple[int, ...]:
    """A kernel entry's shown indices: the out- and in-channel axes are left out where they have size 1."""
    return tuple(v for ax, v in enumerate(i) if ax >= 2 or shape[ax] > 1)


# ---------------------------------------------------------------- the spec's [[layers]] table

def parse(c, table, path, index, in_shape, rng):
    kind = table["type"]
    c.keys(table, KEYS, path)
    d = spatial.dims(kind)
    shape = spatial.input_shape(c, kind, d, in_shape, index, path)
    drawn = _torch_draws(c, table, path, d, shape, rng)
    k = drawn["k"] if table.get("kernel") == "pytorch" else _kernel(c, table, path, d, shape)
    bias = drawn["c"] if table.get("bias") == "pytorch" else _bias(c, table.get("bias"), f"{path}.bias", k.shape[0])
    stride = c.integer(table.get("stride", 1), f"{path}.stride", 1, MAX_STRIDE)
    padding = c.integer(table.get("padding", 0), f"{path}.padding", 0, MAX_PADDING)
    out = spatial.out_size(c, path, "kernel", shape[1:], k.shape[2:], stride, padding)
    act, act_params = _activation(c, table, path)
    kernel = Param("k", k, given=table.get("kernel") != "pytorch")
    c_ = None if bias is None else Param("c", bias, given=table.get("bias") != "pytorch")
    return Conv(kind, index, shape, (k.shape[0], *out), kernel, c_, stride, padding, act, **act_params)


def _torch_draws(c, table, path, d, shape, rng) -> dict:
    """kernel = "pytorch" (with `channels` and `size`) or bias = "pytorch": nn.Conv1d/Conv2d's default
    initialisation, bit for bit what torch.manual_seed(seed) then nn.ConvNd(in, channels, size, bias=…,
    dtype=torch.float64) draws (bptrace.torch_init reproduces PyTorch's generator): the kernel by
    kaiming_uniform_(a=√5), U(±1/√fan_in) up to rounding, then the bias U(±1/√fan_in), fan_in = in × size^d.
    Made whenever any layer of the network draws (from its one stream, spec._torch_stream, so the layers after
    this one draw what they would in torch.nn), used where a key asks for them."""
    if "pytorch" not in (table.get("kernel"), table.get("bias")):
        for key in ("channels", "size"):
            if key in table:
                c.fail(f"{path}.{key}", f"{key} applies to kernel = \"pytorch\" only "
                                        "(given numbers have their own shape)")
    gen = torch_stream(rng, "pytorch" in (table.get("kernel"), table.get("bias")))
    if gen is None:
        return {}
    from ..torch_init import bias_bound, weight_bound

    if table.get("kernel") == "pytorch":
        O = c.integer(table.get("channels", 1), f"{path}.channels", 1, MAX_CHANNELS)
        K = _size(c, table, path, d)
    else:
        k = _kernel(c, table, path, d, shape)
        O, K = k.shape[0], k.shape[2:]
    fan_in = shape[0] * prod(K)
    k = gen._uniform(O * fan_in, -weight_bound(fan_in), weight_bound(fan_in))
    out = {"k": np.array(k).reshape((O, shape[0], *K))}
    if "bias" in table:  # nn.ConvNd(bias=True) draws its bias after the kernel
        out["c"] = np.array(gen._uniform(O, -bias_bound(fan_in), bias_bound(fan_in)))
    return out


def _size(c, table, path, d) -> tuple[int, ...]:
    """A drawn kernel's size: a whole number (size^d) or a list of d whole numbers."""
    where = f"{path}.size"
    if "size" not in table:
        c.fail(where, f"required with kernel = \"pytorch\" (the kernel's {'rows and columns' if d == 2 else 'length'})")
    value = table["size"]
    if isinstance(value, list) and len(value) == d:
        return tuple(c.integer(v, f"{where}[{i}]", 1, MAX_SIZE) for i, v in enumerate(value, 1))
    if isinstance(value, list):
        c.fail(where, f"expected a whole number or a list of {d} whole numbers, got a list of {len(value)}")
    return (c.integer(value, where, 1, MAX_SIZE),) * d


def _kernel(c, table, path, d, shape):
    """The kernel as (out, in, *K): a d-D list is one kernel over a one-channel input."""
    channels = shape[0]
    where = f"{path}.kernel"
    form = {2: "[rows][columns]", 1: "[length]"}[d]
    full = {2: "[out][in][rows][columns]", 1: "[out][in][length]"}[d]
    if "kernel" not in table:
        c.fail(where, f"required, but missing (a {d}-D list of numbers {form}, or a {d + 2}-D list {full})")
    k = tensor(c, table["kernel"], where)
    if k.ndim == d:
        k = k.reshape((1, 1, *k.shape))
    if k.ndim != d + 2:
        c.fail(where, f"expected a {d}-D list {form} (one kernel) or a {d + 2}-D list {full}, got "
                      + ("a number" if not k.ndim else f"a {k.ndim}-D list"))
    if k.shape[1] != channels:
        c.fail(where, f"the kernel reads {k.shape[1]} input channel(s), but its input ({_dims(shape)}: channels × "
                      f"{spatial.AXES[d]}) has {channels}; expected a {d + 2}-D list {full} "
                      f"with {channels} in each [in]")
    return k


def _dims(shape) -> str:
    return "×".join(map(str, shape))


def _bias(c, value, path, units):
    """One bias per output channel: a number (one output channel), a list, "zeros", or None (no bias)."""
    if value is None:
        return None
    if isinstance(value, str):
        if value != "zeros":
            c.fail(path, f"expected a number, a list of {units} numbers (one per output channel), \"zeros\" or "
                         f"\"pytorch\"; got '{value[:40]}'")
        return np.zeros(units)
    if isinstance(value, list):
        b = np.array(c.vector(value, path))
        if len(b) != units:
            c.fail(path, f"expected {units} numbers (one per output channel), got {len(b)}")
        return b
    b = c.number(value, path)
    if units != 1:
        c.fail(path, f"expected a list of {units} numbers (one per output channel), got one number")
    return np.array([b])


def _activation(c, table, path):
    """The activation and its own parameters (slope, alpha, beta, threshold, approximate), as for dense layers."""
    from ..spec import _act_params

    where = f"{path}.activation"
    if "activation" not in table:
        c.fail(where, f"required, but missing (one of: {', '.join(ELEMENTWISE)})")
    if table["activation"] == "softmax":
        c.fail(where, "softmax is allowed on the output layer only; a convolution needs an elementwise "
                      f"activation (one of: {', '.join(ELEMENTWISE)})")
    act = c.string(table["activation"], where, ELEMENTWISE)
    out = _act_params(c, table, path, act)
    if "slope" in table:
        if act != "leaky_relu":
            c.fail(f"{path}.slope", "slope applies to leaky_relu only")
        out["slope"] = c.number(table["slope"], f"{path}.slope")
    return act, out
