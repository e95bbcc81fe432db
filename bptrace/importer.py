"""`bptrace import`: a spec from a small fully connected model's weights.

Reads a numpy `.npz` (numpy only), a `.safetensors` file (the safetensors package's numpy API,
no torch; the `safetensors` extra) or a PyTorch `state_dict` saved with torch.save (`.pt`,
`.pth`; needs the torch extra, imported lazily). The arrays, in the order they were saved,
must form a chain of linear layers: a weight matrix (out × in), optionally followed by its
bias vector (out), each layer's inputs being the previous layer's outputs. (A .safetensors
file keeps no order — it stores tensors sorted by name — so its arrays are put in layer order
first: by name, numbers compared as numbers, each weight before its bias.)
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np

from .errors import SpecError, UsageError, clip
from .fmt import counted

MAX_IMPORT_PARAMS = 10_000  # a trace prints every weight; beyond this a trace is unreadable
SUFFIXES = (".weight", ".bias")


def read_arrays(path: str) -> list[tuple[str, np.ndarray]]:
    """(name, float64 array) in saved order, from an .npz or a torch state_dict."""
    p = Path(path)
    if not p.is_file():
        raise SpecError(path, "no such file" if not p.exists() else "is not a file; expected an .npz, .safetensors or .pt model")
    if p.suffix.lower() == ".npz":
        return _read_npz(path)
    if p.suffix.lower() in (".pt", ".pth"):
        return _read_state_dict(path)
    if p.suffix.lower() == ".safetensors":
        return _read_safetensors(path)
    raise UsageError(f"{clip(path)}: cannot tell the model format from '{p.suffix or 'no extension'}'; "
                     "expected .npz (numpy.savez), .safetensors or .pt/.pth (torch.save of a state_dict)")


SAFETENSORS_MISSING = ("reading a .safetensors file needs the safetensors package: pip install safetensors "
                       "(or pip install 'bptrace[safetensors]'; from a clone, pip install '.[safetensors]')")


def _read_safetensors(path: str) -> list[tuple[str, np.ndarray]]:
    try:
        from safetensors.numpy import load_file
    except ImportError:
        raise UsageError(SAFETENSORS_MISSING) from None
    try:
        data = load_file(path)  # numpy arrays; a safetensors file holds data only, never code
    except Exception as e:  # SafetensorError, OSError, a dtype numpy lacks (bfloat16): all "unreadable"
        raise SpecError(path, f"not a readable .safetensors file ({clip(str(e).splitlines()[0] if str(e) else type(e).__name__)})") from None
    return layer_order([(k, _floats(path, k, v)) for k, v in data.items()])


def _natural(text: str) -> list:
    # "layers.10" after "layers.2": digits compared as numbers (str, int, str, … alternate, so they compare)
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


def layer_order(arrays: list[tuple[str, np.ndarray]]) -> list[tuple[str, np.ndarray]]:
    """Arrays of a file that keeps no order, in layer order: grouped by layer (the name without .weight/.bias,
    or the numbers in a name such as W1/b1), groups by name with numbers compared as numbers, weight first."""
    def key(item):
        name, a = item
        stem = name.removesuffix(".weight").removesuffix(".bias")
        if stem == name:
            stem = re.sub(r"\D", " ", name).strip() or name  # W1, b1 -> "1"
        return _natural(stem), a.ndim != 2
    return sorted(arrays, key=key)


def _read_npz(path: str) -> list[tuple[str, np.ndarray]]:
    try:
        with np.load(path, allow_pickle=False) as data:  # never unpickle: a model file is data only
            return [(k, _floats(path, k, data[k])) for k in data.files]
    except (OSError, ValueError) as e:
        raise SpecError(path, f"not a readable .npz file ({clip(str(e))})") from None


def _read_state_dict(path: str) -> list[tuple[str, np.ndarray]]:
    from .verify import import_torch

    torch = import_torch("bptrace import MODEL.pt")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)  # tensors only, no code
    except Exception:  # torch raises many kinds (UnpicklingError, RuntimeError) for a whole model or a bad file
        raise SpecError(path, "not a state_dict of tensors (a whole saved model, or not a torch file); "
                              "save one with torch.save(model.state_dict(), PATH)") from None
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise SpecError(path, "expected a state_dict (names -> tensors); save one with "
                              "torch.save(model.state_dict(), PATH)")
    return [(k, _floats(path, k, v.detach().to(torch.float64).numpy())) for k, v in state.items()]


def _floats(path: str, key: str, a: np.ndarray) -> np.ndarray:
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise SpecError(f"{path}: {clip(key)}", f"expected numbers, got an array of {a.dtype}")
    a = np.asarray(a, dtype=np.float64)
    if not np.isfinite(a).all():
        raise SpecError(f"{path}: {clip(key)}", "contains nan or infinity")
    return a


def chain(path: str, arrays: list[tuple[str, np.ndarray]]) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """[(W, b or None)] per linear layer; a clear message for anything that is not a chain of linear layers."""
    layers: list[tuple[np.ndarray, np.ndarray | None]] = []
    for key, a in arrays:
        where = f"{path}: {clip(key)}"
        if "." in key and not key.endswith(SUFFIXES):
            raise SpecError(where, "not a linear layer's weight or bias; bptrace imports a chain of linear layers only")
        if a.ndim == 2 and not key.endswith(".bias"):
            if layers and a.shape[1] != layers[-1][0].shape[0]:
                raise SpecError(where, f"takes {a.shape[1]} inputs, but the layer before has "
                                       f"{layers[-1][0].shape[0]} outputs; expected a chain of linear layers")
            layers.append((a, None))
        elif a.ndim == 1 and layers and layers[-1][1] is None and not key.endswith(".weight"):
            if len(a) != layers[-1][0].shape[0]:
                raise SpecError(where, f"a bias of {len(a)} values for a layer of {layers[-1][0].shape[0]} neurons")
            layers[-1] = (layers[-1][0], a)
        else:
            shape = "×".join(map(str, a.shape)) or "a scalar"
            raise SpecError(where, f"unexpected array of shape {shape}; expected weight matrices (out × in), "
                                   "each optionally followed by its bias (out), a chain of linear layers")
    if not layers:
        raise SpecError(path, "no weight matrices found; expected a chain of linear layers")
    return layers


def check_size(path: str, layers, limit: int) -> None:
    n = sum(W.size + (0 if b is None else b.size) for W, b in layers)
    if n > limit:
        raise UsageError(f"{clip(path)}: {n:,} parameters; a trace shows every one, so bptrace imports at most "
                         f"{limit:,}. Trace a smaller model, or raise the limit with --max-params {n} and "
                         "use `bptrace step --quiet` and `verify` on it")


def parse_numbers(flag: str, text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise UsageError(f"{flag}: expected numbers separated by commas, got '{clip(text)}'") from None
    if not all(math.isfinite(v) for v in values):
        raise UsageError(f"{flag}: expected finite numbers, got '{clip(text)}'")
    return values


def spec_toml(path: str, layers, activations: list[str], loss: str, learning_rate: float,
              xs: list[list[float]], targets: list[list[float]]) -> str:
    """The spec as TOML text (every weight written back exactly: repr of a float round-trips)."""
    if len(activations) != len(layers):
        raise UsageError(f"--activations: {counted(len(layers), 'linear layer')} in {clip(path)}, so expected "
                         f"{len(layers)} activations separated by commas, got {len(activations)}")
    n_in, n_out = layers[0][0].shape[1], layers[-1][0].shape[0]
    if not xs:  # a placeholder sample, so the spec runs
        xs = [[0.0] * n_in]
    if not targets:
        targets = [[1.0] + [0.0] * (n_out - 1) if loss == "cross_entropy" else [0.0] * n_out] * len(xs)
    if len(xs) != len(targets):
        raise UsageError(f"--x and --target: {len(xs)} inputs but {len(targets)} targets; give one --target per --x")
    name = "".join(c for c in Path(path).name[:100] if c.isprintable())
    lines = [f"title = {json.dumps('Imported from ' + name, ensure_ascii=False)}",
             f'loss = "{loss}"', f"learning_rate = {learning_rate!r}", ""]
    for x, t in zip(xs, targets):
        lines += ["[[samples]]", f"x = {_list(x)}", f"target = {_target(t, loss, n_out)}", ""]
    for (W, b), act in zip(layers, activations):
        lines += [f"[[layers]]  # {W.shape[0]} neurons <- {W.shape[1]} inputs", f'activation = "{act}"',
                  "weights = [" + ",\n           ".join(_list(row) for row in W) + "]"]
        if b is not None:
            lines.append(f"bias = {_list(b)}")
        lines.append("")
    return "\n".join(lines)


def _target(t: list[float], loss: str, n_out: int) -> str:
    """`--target 2` with cross_entropy and several outputs is a class index (0-based, as PyTorch's); else a list."""
    if loss == "cross_entropy" and n_out > 1 and len(t) == 1 and float(t[0]).is_integer():
        return str(int(t[0]))
    return _list(t)


def _list(values) -> str:
    return "[" + ", ".join(repr(float(v)) for v in values) + "]"


def import_model(path: str, activations: str, loss: str, learning_rate: float = 0.1,
                 xs: list[str] = (), targets: list[str] = (), max_params: int = MAX_IMPORT_PARAMS) -> str:
    """A validated spec (TOML text) from a model file; raises SpecError/UsageError with the reason."""
    from . import spec as spec_mod

    layers = chain(path, read_arrays(path))
    check_size(path, layers, max_params)
    text = spec_toml(path, layers, [a.strip() for a in activations.split(",")], loss, learning_rate,
                     [parse_numbers("--x", x) for x in xs], [parse_numbers("--target", t) for t in targets])
    spec_mod.loads(text, "the imported spec")  # the spec checks: activations, loss, sizes, targets
    return text
