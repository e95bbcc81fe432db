"""Spec files: TOML read with tomllib, then validated into frozen dataclasses.

Reading (`read_toml`) and validating (`from_dict`) are separate so that tests and the
Python API can pass plain dicts. Every error names the file and the field path
(1-based: `layers[1]` is the first `[[layers]]` table) and says what was expected.
"""

from __future__ import annotations

import difflib
import math
import tomllib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from . import activations, losses
from .errors import SpecError, UsageError

MAX_UNITS = 100_000  # neurons in one layer
MAX_PARAMS = 5_000_000  # weights and biases in the whole network
MAX_SAMPLES = 1_000_000
INITIALISERS = ("xavier", "he", "uniform")
NAMINGS = ("seed", "layered")
OPTIMIZERS = {
    # name -> its hyperparameters and their defaults (PyTorch's)
    "sgd": {"weight_decay": 0.0},
    "momentum": {"momentum": 0.9, "dampening": 0.0, "nesterov": False, "weight_decay": 0.0},
    "adam": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0},
    "adamw": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01},
}
TOP_KEYS = ("title", "loss", "learning_rate", "seed", "naming", "optimizer", "samples", "layers")
LAYER_KEYS = ("activation", "weights", "units", "bias", "train_bias", "slope")
SAMPLE_KEYS = ("x", "target")


@dataclass(frozen=True)
class Sample:
    x: tuple[float, ...]
    target: tuple[float, ...]


@dataclass(frozen=True)
class Layer:
    activation: str
    weights: tuple[tuple[float, ...], ...]  # weights[j][k]: source k -> neuron j
    bias: tuple[float, ...] | None = None  # one value per neuron, or one shared value
    shared_bias: bool = False
    train_bias: bool = True
    slope: float = 0.01  # leaky_relu only
    init: str = "given"  # "given" or the initialiser that produced the weights

    @property
    def units(self) -> int:
        return len(self.weights)

    @property
    def fan_in(self) -> int:
        return len(self.weights[0])

    @property
    def n_params(self) -> int:
        return self.units * self.fan_in + (len(self.bias) if self.bias is not None else 0)


@dataclass(frozen=True)
class Optimizer:
    name: str = "sgd"
    hyper: dict = field(default_factory=lambda: dict(OPTIMIZERS["sgd"]))


@dataclass(frozen=True)
class Spec:
    layers: tuple[Layer, ...]
    samples: tuple[Sample, ...]
    learning_rate: float
    loss: str = "half_sse"
    title: str = ""
    seed: int = 0
    naming: str = "seed"
    optimizer: Optimizer = field(default_factory=Optimizer)
    source: str = "<spec>"

    @property
    def n_inputs(self) -> int:
        return len(self.samples[0].x)

    @property
    def widths(self) -> list[int]:
        return [self.n_inputs] + [layer.units for layer in self.layers]

    @property
    def n_params(self) -> int:
        return sum(layer.n_params for layer in self.layers)

    def with_learning_rate(self, lr: float) -> "Spec":
        if not lr > 0 or math.isinf(lr):
            raise UsageError(f"--lr: expected a number greater than 0, got {lr:g}")
        return replace(self, learning_rate=float(lr))

    def to_dict(self) -> dict[str, Any]:
        """The spec as bptrace understood it, every default filled in."""
        d = asdict(self)
        d.pop("source")
        d["optimizer"] = {"name": self.optimizer.name, **self.optimizer.hyper}
        for layer in d["layers"]:
            layer["units"] = len(layer["weights"])
        return d


# ---------------------------------------------------------------- reading


def read_toml(path: str | Path, parse_float=float) -> dict[str, Any]:
    """Read a TOML file into a dict; every failure becomes a SpecError naming the file."""
    p = Path(path)
    name = str(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise SpecError(name, "no such file") from None
    except IsADirectoryError:
        raise SpecError(name, "is a directory, expected a TOML file") from None
    except PermissionError:
        raise SpecError(name, "permission denied: cannot read the file") from None
    except OSError as e:
        raise SpecError(name, f"cannot read the file ({e.strerror})") from None
    if not raw.strip():
        raise SpecError(name, "the file is empty; expected a TOML spec (try `bptrace init`)")
    if b"\x00" in raw:
        raise SpecError(name, "this is a binary file, expected a TOML text file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SpecError(name, f"not UTF-8 text (bad byte at offset {e.start}); expected a TOML file") from None
    return parse_toml(text, name, parse_float)


def parse_toml(text: str, name: str = "<spec>", parse_float=float) -> dict[str, Any]:
    try:
        return tomllib.loads(text, parse_float=parse_float)
    except tomllib.TOMLDecodeError as e:
        raise SpecError(_toml_location(name, str(e)), f"invalid TOML: {_toml_message(str(e))}") from None


def _toml_location(name: str, message: str) -> str:
    # tomllib ends its messages with "(at line L, column C)"
    import re

    m = re.search(r"\(at line (\d+), column (\d+)\)", message)
    return f"{name}:{m.group(1)}:{m.group(2)}" if m else name


def _toml_message(message: str) -> str:
    import re

    msg = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", message)
    if msg == "Cannot overwrite a value":
        msg = "a key is defined twice (duplicate key)"
    return msg


def load(path: str | Path) -> Spec:
    """Read and validate a spec file."""
    return from_dict(read_toml(path), source=str(path))


def loads(text: str, source: str = "<spec>") -> Spec:
    """Validate a spec given as TOML text."""
    return from_dict(parse_toml(text, source), source=source)


# ---------------------------------------------------------------- validating


class _Checker:
    """Validation helpers that know the file name, so each error can name it."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, path: str, message: str):
        raise SpecError(self.source, message, path)

    def keys(self, table: Any, known: tuple[str, ...], path: str) -> dict:
        if not isinstance(table, dict):
            self.fail(path or "(top level)", f"expected a table, got {_kind(table)}")
        for key in table:
            if key not in known:
                where = f"{path}.{key}" if path else key
                close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
                hint = f"; did you mean '{close[0]}'?" if close else f"; known keys: {', '.join(known)}"
                self.fail(where, f"unknown key{hint}")
        return table

    def number(self, value: Any, path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(path, f"expected a number, got {_kind(value)}")
        v = float(value)
        if math.isnan(v):
            self.fail(path, "expected a number, got nan")
        if math.isinf(v):
            self.fail(path, f"expected a finite number, got {'-' if v < 0 else ''}inf")
        return v

    def vector(self, value: Any, path: str) -> tuple[float, ...]:
        if not isinstance(value, list):
            self.fail(path, f"expected a list of numbers, got {_kind(value)}")
        if not value:
            self.fail(path, "expected a list of numbers, got an empty list")
        return tuple(self.number(v, f"{path}[{i}]") for i, v in enumerate(value, 1))

    def matrix(self, value: Any, path: str) -> tuple[tuple[float, ...], ...]:
        if not isinstance(value, list) or not all(isinstance(r, list) for r in value):
            self.fail(path, f"expected a list of rows, one list of numbers per neuron, got {_kind(value)}")
        if not value:
            self.fail(path, "a layer needs at least one neuron; got no rows")
        lengths = [len(r) for r in value]
        if len(set(lengths)) > 1:
            j = next(i for i, n in enumerate(lengths) if n != lengths[0])
            self.fail(path, f"rows have different lengths: row 1 has {lengths[0]} numbers, row {j + 1} has {lengths[j]}")
        return tuple(self.vector(r, f"{path}[{j}]") for j, r in enumerate(value, 1))

    def string(self, value: Any, path: str, choices: tuple[str, ...] | None = None) -> str:
        if not isinstance(value, str):
            self.fail(path, f"expected a string, got {_kind(value)}")
        if choices is not None and value not in choices:
            close = difflib.get_close_matches(value, choices, n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            self.fail(path, f"unknown value '{value}'{hint}; expected one of: {', '.join(choices)}")
        return value

    def integer(self, value: Any, path: str, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, f"expected a whole number, got {_kind(value)}")
        if not low <= value <= high:
            self.fail(path, f"expected a whole number from {low} to {high}, got {value}")
        return value

    def boolean(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            self.fail(path, f"expected true or false, got {_kind(value)}")
        return value


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, str):
        return f"a string ({value!r})" if len(value) < 30 else "a string"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def _positive(value: float, source: str, path: str) -> None:
    if not value > 0 or math.isinf(value) or math.isnan(value):
        raise SpecError(source, f"expected a number greater than 0, got {value:g}", path)


def from_dict(data: dict[str, Any], source: str = "<spec>") -> Spec:
    """Validate a parsed spec into a Spec; raise SpecError naming the first bad field."""
    c = _Checker(source)
    c.keys(data, TOP_KEYS, "")
    for key in ("layers", "samples", "learning_rate"):
        if key not in data:
            c.fail(key, f"missing required key '{key}'")
    title = c.string(data.get("title", ""), "title")
    loss = c.string(data.get("loss", "half_sse"), "loss", losses.NAMES)
    lr = c.number(data["learning_rate"], "learning_rate")
    _positive(lr, source, "learning_rate")
    seed = c.integer(data.get("seed", 0), "seed", 0, 2**32 - 1)
    naming = c.string(data.get("naming", "seed"), "naming", NAMINGS)
    optimizer = _optimizer(c, data.get("optimizer", {"name": "sgd"}))
    samples = _samples(c, data["samples"])
    layers = _layers(c, data["layers"], len(samples[0].x), _LazyRng(seed))
    _check_network(c, layers, samples, loss)
    return Spec(layers=layers, samples=samples, learning_rate=lr, loss=loss, title=title,
                seed=seed, naming=naming, optimizer=optimizer, source=source)


def _optimizer(c: _Checker, table: Any) -> Optimizer:
    if isinstance(table, str):  # optimizer = "adam"
        table = {"name": table}
    if not isinstance(table, dict):
        c.fail("optimizer", f"expected a table such as {{ name = \"adam\" }}, got {_kind(table)}")
    name = c.string(table.get("name", "sgd"), "optimizer.name", tuple(OPTIMIZERS))
    defaults = OPTIMIZERS[name]
    for key in table:
        if key != "name" and key not in defaults:
            owners = [o for o, h in OPTIMIZERS.items() if key in h]
            if owners:
                c.fail(f"optimizer.{key}", f"{name} has no hyperparameter '{key}' ({key} belongs to the {' and '.join(owners)} optimizer{'s' if len(owners) > 1 else ''}); "
                       f"{name} takes: {', '.join(defaults)}")
            c.keys({key: None}, ("name", *defaults), "optimizer")
    hyper = dict(defaults)
    for key, default in defaults.items():
        if key not in table:
            continue
        path = f"optimizer.{key}"
        if isinstance(default, bool):
            hyper[key] = c.boolean(table[key], path)
            continue
        v = c.number(table[key], path)
        if key in ("beta1", "beta2", "momentum") and not 0 <= v < 1:
            c.fail(path, f"expected a number in [0, 1), got {v:g}")
        if key == "dampening" and not 0 <= v <= 1:
            c.fail(path, f"expected a number in [0, 1], got {v:g}")
        if key in ("eps", "weight_decay") and v < 0:
            c.fail(path, f"expected a number >= 0, got {v:g}")
        hyper[key] = v
    if name == "momentum" and hyper["nesterov"] and (hyper["momentum"] <= 0 or hyper["dampening"] != 0):
        c.fail("optimizer.nesterov", "Nesterov momentum needs momentum > 0 and dampening = 0 (as in PyTorch)")
    return Optimizer(name, hyper)


def _samples(c: _Checker, value: Any) -> tuple[Sample, ...]:
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not value:
        c.fail("samples", "expected at least one [[samples]] table with x and target")
    if len(value) > MAX_SAMPLES:
        c.fail("samples", f"too many samples ({len(value)}); at most {MAX_SAMPLES}")
    out = []
    for i, table in enumerate(value, 1):
        path = f"samples[{i}]"
        c.keys(table, SAMPLE_KEYS, path)
        for key in SAMPLE_KEYS:
            if key not in table:
                c.fail(f"{path}.{key}", f"missing required key '{key}'")
        x = c.vector(table["x"], f"{path}.x")
        t = c.vector(table["target"], f"{path}.target")
        if out and len(x) != len(out[0].x):
            c.fail(f"{path}.x", f"expected {len(out[0].x)} inputs (as in samples[1]), got {len(x)}")
        if len(x) > MAX_UNITS:
            c.fail(f"{path}.x", f"too many inputs ({len(x)}); at most {MAX_UNITS}")
        out.append(Sample(x, t))
    return tuple(out)


def _layers(c: _Checker, value: Any, n_inputs: int, rng) -> tuple[Layer, ...]:
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not value:
        c.fail("layers", "expected at least one [[layers]] table")
    fan_in, total, out = n_inputs, 0, []
    for i, table in enumerate(value, 1):
        path = f"layers[{i}]"
        c.keys(table, LAYER_KEYS, path)
        if "activation" not in table:
            c.fail(f"{path}.activation", f"missing required key 'activation' (one of: {', '.join(activations.NAMES)})")
        act = c.string(table["activation"], f"{path}.activation", activations.NAMES)
        if act == "softmax" and i != len(value):
            c.fail(f"{path}.activation", "softmax is allowed on the output layer only (the last [[layers]])")
        slope = 0.01
        if "slope" in table:
            if act != "leaky_relu":
                c.fail(f"{path}.slope", "slope applies to leaky_relu only")
            slope = c.number(table["slope"], f"{path}.slope")
        units = _units(c, table, path)
        total += units * fan_in
        if total > MAX_PARAMS:
            c.fail(path, f"the network is too large ({total:,} weights so far); bptrace traces at most {MAX_PARAMS:,} parameters")
        weights, init = _weights(c, table, path, units, fan_in, rng)
        bias, shared = _bias(c, table.get("bias"), f"{path}.bias", len(weights))
        train_bias = c.boolean(table.get("train_bias", True), f"{path}.train_bias")
        if "train_bias" in table and bias is None:
            c.fail(f"{path}.train_bias", "this layer has no bias; add `bias = ...` or remove train_bias")
        out.append(Layer(act, weights, bias, shared, train_bias, slope, init))
        fan_in = len(weights)
    return tuple(out)


def _units(c: _Checker, table: dict, path: str) -> int:
    if "units" in table:
        if table["units"] == 0 and not isinstance(table["units"], bool):
            c.fail(f"{path}.units", "a layer needs at least one neuron; got 0")
        return c.integer(table["units"], f"{path}.units", 1, MAX_UNITS)
    if not isinstance(table.get("weights"), list):
        c.fail(f"{path}.units", "missing 'units': needed when weights are initialised (or give a weights matrix)")
    return len(table["weights"])


def _weights(c, table, path, units, fan_in, rng):
    w = table.get("weights", "xavier")
    if isinstance(w, str):
        init = c.string(w, f"{path}.weights", INITIALISERS)
        return _initialise(init, units, fan_in, rng), init
    m = c.matrix(w, f"{path}.weights")
    if "units" in table and len(m) != units:
        c.fail(f"{path}.weights", f"units = {units} but the matrix has {len(m)} rows")
    if len(m[0]) != fan_in:
        c.fail(f"{path}.weights", f"expected {len(m)}×{fan_in} ({len(m)} neurons × {fan_in} inputs each), got {len(m)}×{len(m[0])}")
    return m, "given"


class _LazyRng:
    """numpy.random costs ~20 ms to import: only create the generator when a layer is initialised."""

    def __init__(self, seed: int):
        self.seed, self.rng = seed, None

    def __getattr__(self, name):
        if self.rng is None:
            self.rng = np.random.default_rng(self.seed)
        return getattr(self.rng, name)


def _initialise(init: str, units: int, fan_in: int, rng):
    if init == "xavier":  # Glorot uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out))
        a = math.sqrt(6.0 / (fan_in + units))
        w = rng.uniform(-a, a, (units, fan_in))
    elif init == "he":  # He normal: N(0, 2 / fan_in)
        w = rng.normal(0.0, math.sqrt(2.0 / fan_in), (units, fan_in))
    else:  # uniform: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        a = 1.0 / math.sqrt(fan_in)
        w = rng.uniform(-a, a, (units, fan_in))
    return tuple(tuple(float(v) for v in row) for row in w)


def _bias(c: _Checker, value: Any, path: str, units: int):
    if value is None:
        return None, False
    if isinstance(value, str):
        if value != "zeros":
            c.fail(path, f"expected a number (one shared bias), a list of {units} numbers, or \"zeros\"; got {_kind(value)}")
        return (0.0,) * units, False
    if isinstance(value, list):
        b = c.vector(value, path)
        if len(b) != units:
            c.fail(path, f"expected {units} biases (one per neuron), got {len(b)}")
        return b, False
    return (c.number(value, path),), True


def _check_network(c: _Checker, layers, samples, loss: str) -> None:
    n_out = layers[-1].units
    need = losses.LOSSES[loss].needs
    if need and layers[-1].activation != need:
        c.fail("loss", f"{loss} needs a {need} output layer; the last layer's activation is {layers[-1].activation}")
    for i, s in enumerate(samples, 1):
        path = f"samples[{i}].target"
        if len(s.target) != n_out:
            c.fail(path, f"expected {n_out} targets (one per output neuron), got {len(s.target)}")
        if loss == "cross_entropy" and (min(s.target) < 0 or abs(sum(s.target) - 1) > 1e-9):
            c.fail(path, f"cross_entropy needs targets that form a distribution (each >= 0, summing to 1); these sum to {sum(s.target):g}")
        if loss == "binary_cross_entropy" and not all(0 <= t <= 1 for t in s.target):
            c.fail(path, "binary_cross_entropy needs every target in [0, 1]")
