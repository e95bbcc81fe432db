"""Spec files: TOML read with tomllib, then validated into frozen dataclasses.

Reading (`read_toml`) and validating (`from_dict`) are separate so that tests and the
Python API can pass plain dicts. Every error names the file and the field path
(1-based: `layers[1]` is the first `[[layers]]` table) and says what was expected.
"""

from __future__ import annotations

import difflib
import datetime
import math
import re
import sys
import tomllib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from . import activations, dropout, frozen, groups, losses, order, schedules, torch_init
from .errors import ECHO_LIMIT, SpecError, UsageError, clip, is_control
from .fmt import counted

MAX_UNITS = 100_000  # neurons in one layer
MAX_PARAMS = 5_000_000  # weights and biases in the whole network
MAX_SAMPLES = 1_000_000
MAX_TITLE = 200  # characters: a title is one line of text
INITIALISERS = ("xavier", "he", "uniform", "pytorch")  # pytorch: torch_init.py
NAMINGS = ("seed", "layered")
OPTIMIZERS = {
    # name -> its hyperparameters and their defaults (PyTorch's)
    "sgd": {"weight_decay": 0.0},
    "momentum": {"momentum": 0.9, "dampening": 0.0, "nesterov": False, "weight_decay": 0.0},
    "adam": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False},
    "adamw": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01, "amsgrad": False},
    "rmsprop": {"alpha": 0.99, "eps": 1e-8, "momentum": 0.0, "centered": False, "weight_decay": 0.0},
    "adagrad": {"lr_decay": 0.0, "initial_accumulator_value": 0.0, "eps": 1e-10, "weight_decay": 0.0},
}
_DENOMINATOR = {"adam": "Adam's denominator sqrt(v)", "adamw": "Adam's denominator sqrt(v)",
                "rmsprop": "RMSprop's denominator sqrt(v)", "adagrad": "Adagrad's denominator sqrt(G)"}
TOP_KEYS = ("title", "loss", "learning_rate", "seed", "naming", "optimizer", "schedule", "order", "samples",
            "layers")
TOP_KEYS += ("label_smoothing",)  # cross_entropy only
TOP_KEYS += ("frozen",)  # parameter names never updated (bptrace.frozen)
LAYER_KEYS = ("activation", "weights", "units", "bias", "train_bias", "frozen", "slope")
LAYER_KEYS += ("alpha", "beta", "threshold", "approximate")  # elu; softplus; softplus; gelu
LAYER_KEYS += groups.LAYER_KEYS  # the layer's own α and λ (PyTorch parameter groups, bptrace.groups)
LAYER_KEYS += ("dropout", "mask")  # bptrace.dropout
LAYER_KEYS += ("type",)  # "dense" (the default); any other type is a front layer (bptrace.front)
ACT_KEYS = {"slope": "leaky_relu", "alpha": "elu", "beta": "softplus", "threshold": "softplus", "approximate": "gelu"}
SAMPLE_KEYS = ("x", "target")


@dataclass(frozen=True)
class Sample:
    """One training sample: inputs x and targets."""

    x: tuple[float, ...]
    target: tuple[float, ...]  # what the loss reads: a class index made one-hot, label smoothing applied
    target_class: int | None = None  # `target = 2`: the class index as written (0-based, as in PyTorch)
    given_target: tuple[float, ...] | None = None  # the target before label smoothing (None without it)


@dataclass(frozen=True)
class Layer:
    """One layer: activation, weights[j][k], biases, and how they were made."""

    activation: str
    weights: tuple[tuple[float, ...], ...]  # weights[j][k]: source k -> neuron j
    bias: tuple[float, ...] | None = None  # one value per neuron, or one shared value
    shared_bias: bool = False
    train_bias: bool = True
    slope: float = 0.01  # leaky_relu only
    init: str = "given"  # "given" or the initialiser that produced the weights
    alpha: float = 1.0  # elu only
    beta: float = 1.0  # softplus only
    threshold: float = 20.0  # softplus only: linear where beta·z > threshold (as PyTorch)
    approximate: str = "none"  # gelu only: "none" (exact, erf) or "tanh"
    bias_init: str = "given"  # "given", or "pytorch" when the biases were drawn (torch_init.py)
    frozen: bool = False  # `frozen = true`: its weights and bias never change (p⁺ = p)
    learning_rate: float | None = None  # its own α (None: the spec's), as a PyTorch parameter group's lr
    weight_decay: float | None = None  # its own λ (None: the optimizer's)
    bias_weight_decay: float | None = None  # its bias's own λ (None: optimizer.bias_weight_decay, else weight_decay)
    dropout: float = 0.0  # p, the drop probability (bptrace.dropout); 0: no dropout
    mask: tuple[tuple[int, ...], ...] | None = None  # with dropout: m[i][j] for sample i, neuron j (0 dropped, 1 kept)
    mask_init: str = "given"  # "given", or "seed" when the mask was drawn from the spec's seed

    @property
    def act_param(self):
        """The activation's own parameter, as activations.get takes it (None when it has none)."""
        return {"leaky_relu": self.slope, "elu": self.alpha, "softplus": (self.beta, self.threshold),
                "gelu": self.approximate}.get(self.activation)

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
    """The optimizer's name and hyperparameters (PyTorch's defaults filled in)."""

    name: str = "sgd"
    hyper: dict = field(default_factory=lambda: dict(OPTIMIZERS["sgd"]))
    bias_weight_decay: float | None = None  # λ of every bias (None: as the weights'); 0: no decay on biases


@dataclass(frozen=True)
class Spec:
    """A validated network: layers, samples, learning rate, loss, optimizer and where it came from."""

    layers: tuple[Layer, ...]
    samples: tuple[Sample, ...]
    learning_rate: float
    loss: str = "half_sse"
    title: str = ""
    seed: int = 0
    naming: str = "seed"
    optimizer: Optimizer = field(default_factory=Optimizer)
    source: str = "<spec>"
    label_smoothing: float = 0.0  # cross_entropy: target (1 − ε)·t + ε/K, as PyTorch's label_smoothing
    schedule: schedules.Schedule | None = None  # the learning rate per epoch (None: constant)
    order: tuple[tuple[int, ...], ...] | None = None  # 1-based sample order of each epoch (a recorded shuffle)
    frozen: tuple[tuple[int, str, int], ...] = ()  # `frozen = [...]`: (layer, "W"/"b", flat index), never changed
    front: tuple = ()  # the layers before the fully connected ones (bptrace.front); `layers` are the dense ones
    x_shape: tuple[int, ...] = ()  # with front layers: each sample's x as written (Sample.x holds it flat, C order)

    @property
    def n_inputs(self) -> int:
        """The first fully connected layer's inputs: x, or the last front layer's output, flattened."""
        if self.front:
            return math.prod(self.front[-1].out_shape)
        return len(self.samples[0].x)

    @property
    def widths(self) -> list[int]:
        return [self.n_inputs] + [layer.units for layer in self.layers]

    @property
    def n_params(self) -> int:
        return sum(layer.n_params for layer in self.layers) + sum(f.n_params for f in self.front)

    def with_learning_rate(self, lr: float) -> "Spec":
        if not lr > 0 or math.isinf(lr):
            raise UsageError(f"learning_rate: expected a number greater than 0, got {lr:g}", param="learning_rate")
        return replace(self, learning_rate=float(lr))

    def to_dict(self) -> dict[str, Any]:
        """The spec as bptrace understood it, every default filled in."""
        d = asdict(replace(self, front=()))
        d.pop("source")
        d.pop("front")
        d.pop("x_shape")
        d["optimizer"] = {"name": self.optimizer.name, **self.optimizer.hyper}
        if self.optimizer.bias_weight_decay is not None:
            d["optimizer"]["bias_weight_decay"] = self.optimizer.bias_weight_decay
        d.pop("schedule")
        d.pop("frozen")
        if self.frozen:  # by name (seed scheme), as the spec writes them: from_dict reads them back
            d["frozen"] = frozen.names(self)
        if self.order is None:
            d.pop("order")
        else:
            d["order"] = [list(e) for e in self.order]
        if self.schedule is not None:
            d["schedule"] = {"name": self.schedule.name, **self.schedule.hyper}
        # each target as written: a class index, or the list before label smoothing (from_dict reads it back)
        d["samples"] = [{"x": _nested(s.x, self.x_shape), "target": s.target_class if s.target_class is not None else
                         list(s.target if s.given_target is None else s.given_target)} for s in self.samples]
        for layer in d["layers"]:
            layer["units"] = len(layer["weights"])
            for key in groups.LAYER_KEYS:  # absent when the layer has none of its own
                if layer[key] is None:
                    layer.pop(key)
            if not layer["dropout"]:  # no dropout: the dict as before dropout existed
                for key in ("dropout", "mask", "mask_init"):
                    layer.pop(key)
            else:
                layer["mask"] = [list(row) for row in layer["mask"]]
        d["layers"] = [dict(f.table) for f in self.front] + list(d["layers"])
        return d


# ---------------------------------------------------------------- reading


MAX_FILE_BYTES = 8 * 1024 * 1024  # a spec or answers file larger than 8 MB is refused unread


def read_text(path: str | Path, what: str = "a TOML spec", empty: str = " (try `bptrace init`)") -> str:
    """A spec or answers file as text (at most MAX_FILE_BYTES, UTF-8, a leading BOM dropped).
    `what` the file should be, and what to suggest when it is `empty`, for the messages."""
    name = str(path)
    try:
        with Path(path).open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)  # never more: /dev/zero is refused, not read forever
    except FileNotFoundError:
        raise SpecError(name, "no such file") from None
    except IsADirectoryError:
        raise SpecError(name, "is a directory, expected a TOML file") from None
    except PermissionError:
        raise SpecError(name, "permission denied: cannot read the file") from None
    except OSError as e:
        raise SpecError(name, f"cannot read the file ({e.strerror})") from None
    if len(raw) > MAX_FILE_BYTES:
        raise SpecError(name, f"the file is larger than {MAX_FILE_BYTES // 2**20} MB; expected {what} of at most that size")
    raw = raw.removeprefix(b"\xef\xbb\xbf")  # the UTF-8 BOM some Windows editors write
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SpecError(name, "this is UTF-16 text; expected UTF-8 (save the file as UTF-8)")
    if not raw.strip():
        raise SpecError(name, f"the file is empty; expected {what}{empty}")
    if b"\x00" in raw:
        raise SpecError(name, "this is a binary file, expected a TOML text file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SpecError(name, f"not UTF-8 text (bad byte at offset {e.start}); expected a TOML file") from None


def read_toml(path: str | Path, parse_float=float) -> dict[str, Any]:
    """Read a TOML file into a dict; every failure becomes a SpecError naming the file."""
    return parse_toml(read_text(path), str(path), parse_float)


class _NumberOutOfRange(Exception):
    """Raised from inside tomllib by `parse_float` for a number it cannot represent."""


def _guarded(parse_float):
    def parse(text: str):
        try:
            return parse_float(text)
        except (ArithmeticError, ValueError):  # decimal.InvalidOperation: 0.08e-99999999999999999999
            raise _NumberOutOfRange(text) from None
    return parse


def parse_toml(text: str, name: str = "<spec>", parse_float=float) -> dict[str, Any]:
    """TOML text to a dict. tomllib's own failures (bad syntax, a number too long for int(),
    nesting deeper than Python's stack) all become one SpecError naming the line and column."""
    text = text.removeprefix("\ufeff")
    try:
        return tomllib.loads(text, parse_float=_guarded(parse_float))
    except tomllib.TOMLDecodeError as e:
        raise SpecError(_toml_location(name, str(e)), f"invalid TOML: {_toml_message(str(e))}{_key_hint(text, str(e))}") from None
    except _NumberOutOfRange as e:
        where = _line_col(text, text.find(str(e)))
        raise SpecError(f"{name}{where}", f"number out of range ({clip(str(e))}); expected a number within ±1.8e308") from None
    except ValueError:  # int() refuses decimal integers longer than sys.get_int_max_str_digits()
        pos, digits = _longest_integer(text)
        if pos < 0:
            raise SpecError(name, "invalid TOML: a value that cannot be read") from None
        raise SpecError(f"{name}{_line_col(text, pos)}",
                        f"number too large ({digits:,} digits); expected a number within ±1.8e308") from None
    except RecursionError:
        depth, pos = _deepest(text)
        raise SpecError(f"{name}{_line_col(text, pos)}",
                        f"invalid TOML: arrays or tables nested too deeply ({depth} levels); "
                        "expected a number or a list of numbers") from None


def _line_col(text: str, pos: int) -> str:
    """":L:C" (1-based) for a position in the text, or "" when it is unknown."""
    if pos < 0:
        return ""
    line = text.count("\n", 0, pos) + 1
    return f":{line}:{pos - text.rfind(chr(10), 0, pos)}"


def _longest_integer(text: str) -> tuple[int, int]:
    """Where the first integer longer than Python's int() limit starts, and its number of digits."""
    limit = sys.get_int_max_str_digits() or 10**9
    for m in re.finditer(r"[0-9][0-9_]*", text):
        digits = len(m.group().replace("_", ""))
        if digits > limit:
            return m.start(), digits
    return -1, limit


def _deepest(text: str) -> tuple[int, int]:
    """How deep brackets nest (outside strings and comments), and where that depth is first reached."""
    depth, deepest, where, quote, i = 0, 0, -1, "", 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\" and quote == '"':
                i += 1  # skip the escaped character
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#":  # a comment: skip to the end of the line
            i = text.find("\n", i) if "\n" in text[i:] else len(text)
            continue
        elif ch in "[{":
            depth += 1
            if depth > deepest:
                deepest, where = depth, i
        elif ch in "]}":
            depth -= 1
        i += 1
    return deepest, where


def _toml_location(name: str, message: str) -> str:
    # tomllib ends its messages with "(at line L, column C)"
    m = re.search(r"\(at line (\d+), column (\d+)\)", message)
    return f"{name}:{m.group(1)}:{m.group(2)}" if m else name


def _key_hint(text: str, message: str) -> str:
    """When the failing line's name has a character a bare TOML key cannot hold (w5+, ∂E/∂w5, net h1):
    how to write it, quoted."""
    m = re.search(r"\(at line (\d+),", message)
    lines = text.splitlines()
    if not m or int(m.group(1)) > len(lines):
        return ""
    key, eq, _ = lines[int(m.group(1)) - 1].partition("=")
    key = key.strip()
    if not eq or not key or key[0] in "\"'[#" or re.fullmatch(r"[A-Za-z0-9_.-]+", key):
        return ""
    return f"; a name with characters other than letters, digits, _ and - must be quoted: \"{key}\" = …"


def _toml_message(message: str) -> str:
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
            self.fail(path or "(top level)", f"expected a table, got {kind(table)}")
        for key in table:
            if key not in known:
                where = f"{path}.{clip(key)}" if path else clip(key)
                close = difflib.get_close_matches(key, known, n=1, cutoff=0.6) if len(key) <= ECHO_LIMIT else []
                hint = f"; did you mean '{close[0]}'?" if close else f"; known keys: {', '.join(known)}"
                self.fail(where, f"unknown key{hint}")
        return table

    def number(self, value: Any, path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(path, f"expected a number, got {kind(value)}")
        try:
            v = float(value)
        except OverflowError:  # an integer beyond float range: learning_rate = 1 followed by 400 zeros
            self.fail(path, f"expected a number within ±1.8e308, got {describe(value)}")
        if math.isnan(v):
            self.fail(path, "expected a number, got nan")
        if math.isinf(v):
            self.fail(path, f"expected a finite number, got {'-' if v < 0 else ''}inf")
        return v

    def vector(self, value: Any, path: str) -> tuple[float, ...]:
        if not isinstance(value, list):
            self.fail(path, f"expected a list of numbers, got {kind(value)}")
        if not value:
            self.fail(path, "expected a list of numbers, got an empty list")
        return tuple(self.number(v, f"{path}[{i}]") for i, v in enumerate(value, 1))

    def matrix(self, value: Any, path: str) -> tuple[tuple[float, ...], ...]:
        if not isinstance(value, list) or not all(isinstance(r, list) for r in value):
            self.fail(path, f"expected a list of rows, one list of numbers per neuron, got {kind(value)}")
        if not value:
            self.fail(path, "a layer needs at least one neuron; got no rows")
        lengths = [len(r) for r in value]
        if len(set(lengths)) > 1:
            j = next(i for i, n in enumerate(lengths) if n != lengths[0])
            self.fail(path, f"rows have different lengths: row 1 has {lengths[0]} numbers, row {j + 1} has {lengths[j]}")
        return tuple(self.vector(r, f"{path}[{j}]") for j, r in enumerate(value, 1))

    def string(self, value: Any, path: str, choices: tuple[str, ...] | None = None) -> str:
        if not isinstance(value, str):
            self.fail(path, f"expected a string, got {kind(value)}")
        if choices is not None and value not in choices:
            close = difflib.get_close_matches(value, choices, n=1, cutoff=0.6) if len(value) <= ECHO_LIMIT else []
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            self.fail(path, f"unknown value '{clip(value)}'{hint}; expected one of: {', '.join(choices)}")
        return value

    def title(self, value: Any, path: str) -> str:
        """One line of plain text: newlines and tabs become spaces; other control characters are refused."""
        text = self.string(value, path)
        if len(text) > MAX_TITLE:
            self.fail(path, f"too long ({len(text):,} characters); expected one line of at most {MAX_TITLE}")
        text = " ".join(re.split(r"[\n\r\t\u2028\u2029]+", text)).strip()
        bad = next((ch for ch in text if is_control(ch) or ch in "\ufffe\uffff"), None)
        if bad is not None:
            self.fail(path, f"expected one line of plain text, found the control character U+{ord(bad):04X}")
        return text

    def integer(self, value: Any, path: str, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, f"expected a whole number, got {kind(value)}")
        if not low <= value <= high:
            self.fail(path, f"expected a whole number from {low} to {high}, got {describe(value)}")
        return value

    def boolean(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            self.fail(path, f"expected true or false, got {kind(value)}")
        return value


def kind(value: Any) -> str:
    """What a TOML value is, for a message: "a string ('abc')", "a number (2.5)", "a date (2024-01-31)"."""
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, str):
        return f"a string ('{clip(value)}')" if len(value) <= ECHO_LIMIT else "a string"
    if isinstance(value, (int, float)) or _decimal(value):
        text = describe(value)
        return text if text.startswith("a whole number") else f"a number ({text})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, (datetime.date, datetime.time)):  # datetime is a date too
        kind = "a date and time" if isinstance(value, datetime.datetime) else "a date" if isinstance(value, datetime.date) else "a time"
        return f"{kind} ({value.isoformat()})"
    return "an unknown value"


def _decimal(value) -> bool:
    """Whether value is a Decimal (answers files read numbers as Decimal); a start-up that never made one
    need not import decimal to tell."""
    decimal = sys.modules.get("decimal")
    return decimal is not None and isinstance(value, decimal.Decimal)


def describe(value: Any) -> str:
    """A number as the user wrote it (never a Python repr), shortened when huge."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        digits = int(value.bit_length() * math.log10(2)) + 1  # str() of a 5,000-digit int raises
        return f"a whole number of about {digits:,} digits"
    if _decimal(value):
        return clip(format(value, "f") if abs(value.adjusted()) < 20 else str(value))
    return clip(str(value))


def _positive(value: float, source: str, path: str) -> None:
    if not value > 0 or math.isinf(value) or math.isnan(value):
        raise SpecError(source, f"expected a number greater than 0, got {value:g}", path)


def from_dict(data: dict[str, Any], source: str = "<spec>") -> Spec:
    """Validate a parsed spec into a Spec; raise SpecError naming the first bad field."""
    c = _Checker(source)
    c.keys(data, TOP_KEYS, "")
    for key in ("layers", "samples", "learning_rate"):
        if key not in data:
            c.fail(key, "required, but missing")
    title = c.title(data.get("title", ""), "title")
    loss = c.string(data.get("loss", "half_sse"), "loss", losses.NAMES)
    lr = c.number(data["learning_rate"], "learning_rate")
    _positive(lr, source, "learning_rate")
    seed = c.integer(data.get("seed", 0), "seed", 0, 2**32 - 1)
    naming = c.string(data.get("naming", "seed"), "naming", NAMINGS)
    optimizer = _optimizer(c, data.get("optimizer", {"name": "sgd"}))
    schedule = schedules.parse(c, data.get("schedule"))
    rng = _LazyRng(seed)
    rng.torch = _torch_stream(data["layers"], seed)
    front, tables, n_front = _front(c, data["layers"], data["samples"], rng)
    samples = _samples(c, data["samples"], _x_shape(c, data["samples"]) if front else None)
    layers = _layers(c, tables, math.prod(front[-1].out_shape) if front else len(samples[0].x), rng, len(samples),
                     n_front)
    samples = _class_targets(c, samples, layers[-1].units, loss)
    _check_network(c, layers, samples, loss)
    smoothing = _label_smoothing(c, data, loss)
    samples = _smoothed(samples, smoothing)
    sample_order = order.parse(c, data.get("order"), len(samples))
    frozen_entries = frozen.parse(c, data.get("frozen"), layers, layers[0].fan_in, front)
    return Spec(layers=layers, samples=samples, learning_rate=lr, loss=loss, title=title,
                seed=seed, naming=naming, optimizer=optimizer, source=source, label_smoothing=smoothing,
                schedule=schedule, order=sample_order, frozen=frozen_entries, front=front,
                x_shape=_x_shape(c, data["samples"]) if front else ())


TORCH_KEYS = ("weights", "bias", "kernel", "input_weights", "recurrent_weights")  # a value "pytorch" draws


def _torch_stream(layers: Any, seed: int):
    """PyTorch's generator after torch.manual_seed(seed), when any layer draws "pytorch": one stream for the
    whole network, every layer (front and dense) drawing from it in order as its torch.nn module would,
    whether or not the spec uses its numbers; None when no layer draws."""
    tables = [layers] if isinstance(layers, dict) else layers if isinstance(layers, list) else []
    if any(isinstance(t, dict) and "pytorch" in (t.get(k, _TORCH_DEFAULT.get((t.get("type"), k))) for k in TORCH_KEYS)
           for t in tables):
        return torch_init.LinearInit(seed)
    return None


_TORCH_DEFAULT = {("rnn", "input_weights"): "pytorch", ("rnn", "recurrent_weights"): "pytorch"}  # drawn if absent


def _front(c: _Checker, layers: Any, samples: Any, rng) -> tuple[tuple, Any, int]:
    """The front layers (bptrace.front: `type` other than "dense"), which come before every dense one:
    (front layers, the dense tables, how many tables came before them)."""
    if isinstance(layers, dict):
        layers = [layers]
    if not isinstance(layers, list):
        return (), layers, 0
    n = 0
    while n < len(layers) and isinstance(layers[n], dict) and layers[n].get("type", "dense") != "dense":
        n += 1
    for i, table in enumerate(layers[n:], n + 1):
        if isinstance(table, dict) and table.get("type", "dense") != "dense":
            c.string(table["type"], f"layers[{i}].type", _types())
            c.fail(f"layers[{i}].type", f"a {table['type']} layer must come before the fully connected (dense) layers: "
                                        f"layers[{n + 1}] is dense")
    if not n:
        return (), layers, 0
    from . import front

    if n == len(layers):
        c.fail("layers", "the last layer must be a fully connected (dense) layer: its outputs are the network's outputs")
    shape = _x_shape(c, samples)
    out = []
    for i, table in enumerate(layers[:n]):
        path = f"layers[{i + 1}]"
        c.string(table["type"], f"{path}.type", _types())
        layer = front.parse(c, table, path, i, shape, rng)
        out.append(layer)
        shape = layer.out_shape
    return tuple(out), layers[n:], n


def _types() -> tuple[str, ...]:
    from .front import TYPES

    return TYPES


def _x_shape(c: _Checker, samples: Any) -> tuple[int, ...]:
    """The shape of samples[1].x as written (a nested list: an image, a sequence), which the first front layer reads."""
    first = samples[0] if isinstance(samples, list) and samples else samples
    if not isinstance(first, dict) or "x" not in first:
        return ()  # _samples names what is missing
    from .front.base import tensor

    return tensor(c, first["x"], "samples[1].x").shape


def _optimizer(c: _Checker, table: Any) -> Optimizer:
    if isinstance(table, str):  # optimizer = "adam"
        table = {"name": table}
    if not isinstance(table, dict):
        c.fail("optimizer", f"expected a table such as {{ name = \"adam\" }}, got {kind(table)}")
    name = c.string(table.get("name", "sgd"), "optimizer.name", tuple(OPTIMIZERS))
    defaults = OPTIMIZERS[name]
    for key in table:
        if key not in ("name", "bias_weight_decay") and key not in defaults:
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
        if key == "alpha" and not 0 <= v <= 1:
            c.fail(path, f"expected a number in [0, 1] (RMSprop's smoothing constant), got {v:g}")
        if key == "eps" and v <= 0:  # Adam, RMSprop and Adagrad divide by sqrt(v) + eps: 0 may divide by zero
            c.fail(path, f"expected a number > 0 (it keeps {_DENOMINATOR[name]} + eps above zero), got {v:g}")
        if key in ("weight_decay", "lr_decay", "initial_accumulator_value") and v < 0:
            c.fail(path, f"expected a number >= 0, got {v:g}")
        hyper[key] = v
    if name == "momentum" and hyper["nesterov"] and (hyper["momentum"] <= 0 or hyper["dampening"] != 0):
        c.fail("optimizer.nesterov", "Nesterov momentum needs momentum > 0 and dampening = 0 (as in PyTorch)")
    return Optimizer(name, hyper, groups.decay(c, table, "optimizer.bias_weight_decay"))


def _samples(c: _Checker, value: Any, shape: tuple | None = None) -> tuple[Sample, ...]:
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
                c.fail(f"{path}.{key}", "required, but missing")
        x = c.vector(table["x"], f"{path}.x") if shape is None else _nested_x(c, table["x"], f"{path}.x", shape)
        if out and isinstance(table["target"], list) != (out[0].target_class is None):
            c.fail(f"{path}.target", "give every sample's target the same way: a class index for every sample "
                                     f"or a list for every sample (samples[1].target is "
                                     f"{'a class index' if _is_class(value[0]['target']) else 'a list'})")
        if _is_class(table["target"]):  # made one-hot once the output layer is known (_class_targets)
            t = None
        else:
            t = c.vector(table["target"], f"{path}.target")
        if out and len(x) != len(out[0].x):
            c.fail(f"{path}.x", f"expected {counted(len(out[0].x), 'input')} (as in samples[1]), got {len(x)}")
        if len(x) > MAX_UNITS:
            c.fail(f"{path}.x", f"too many inputs ({len(x):,}); at most {MAX_UNITS:,}")
        out.append(Sample(x, (), table["target"]) if t is None else Sample(x, t))
    return tuple(out)


def _nested_x(c: _Checker, value: Any, path: str, shape: tuple) -> tuple[float, ...]:
    """A front network's x: a nested list of the shape samples[1].x has (which the first layer read), flat."""
    from .front.base import tensor

    x = tensor(c, value, path)
    if x.shape != shape:
        c.fail(path, f"expected the shape of samples[1].x ({_dims(shape)}), got {_dims(x.shape)}")
    return tuple(float(v) for v in x.ravel())


def _nested(x: tuple, shape: tuple) -> list:
    """A flat x as the nested list it was written as (shape () for a plain list)."""
    return np.array(x).reshape(shape).tolist() if shape else list(x)


def _dims(shape: tuple) -> str:
    return "×".join(map(str, shape)) if shape else "a number"


def _is_class(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _class_targets(c: _Checker, samples, n_out: int, loss: str):
    """`target = k` (0-based, as PyTorch's class indices) becomes the one-hot target of output k + 1."""
    out = []
    for i, s in enumerate(samples, 1):
        k, path = s.target_class, f"samples[{i}].target"
        if k is None:
            out.append(s)
            continue
        if loss != "cross_entropy":
            c.fail(path, f"a class index ({k}) needs loss = \"cross_entropy\" (as PyTorch's F.cross_entropy); "
                         f"for {loss} give a list of {counted(n_out, 'target')}")
        if not 0 <= k < n_out:
            c.fail(path, f"class {describe(k)} is out of range: the output layer has {counted(n_out, 'neuron')}, "
                         f"so expected a class index from 0 to {n_out - 1} (0-based, as in PyTorch: 0 is the first output)")
        out.append(replace(s, target=tuple(1.0 if j == k else 0.0 for j in range(n_out))))
    return tuple(out)


def _label_smoothing(c: _Checker, data: dict, loss: str) -> float:
    if "label_smoothing" not in data:
        return 0.0
    eps = c.number(data["label_smoothing"], "label_smoothing")
    if eps and loss != "cross_entropy":
        c.fail("label_smoothing", f"label smoothing applies to loss = \"cross_entropy\" only; the loss is {loss}")
    if not 0 <= eps <= 1:
        c.fail("label_smoothing", f"expected a number from 0 to 1 (as PyTorch), got {eps:g}")
    return eps


def _smoothed(samples, eps: float):
    """PyTorch's label smoothing: target·(1 − ε) + ε/K, K the number of classes (outputs)."""
    if not eps:
        return samples
    return tuple(replace(s, target=tuple(t * (1 - eps) + eps / len(s.target) for t in s.target),
                         given_target=s.target) for s in samples)


def _layers(c: _Checker, value: Any, n_inputs: int, rng, n_samples: int = 1, offset: int = 0) -> tuple[Layer, ...]:
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not value:
        c.fail("layers", "expected at least one [[layers]] table")
    fan_in, total, out = n_inputs, 0, []
    # PyTorch's nn.Linear draws, layer by layer, when any layer asks for them (weights or bias = "pytorch"):
    # from the network's one stream, after the front layers' draws (_torch_stream)
    torch_rng = getattr(rng, "torch", None)
    for i, table in enumerate(value, 1):
        path = f"layers[{i + offset}]"
        c.keys(table, LAYER_KEYS, path)
        if "activation" not in table:
            c.fail(f"{path}.activation", f"required, but missing (one of: {', '.join(activations.NAMES)})")
        act = c.string(table["activation"], f"{path}.activation", activations.NAMES)
        if act == "softmax" and i != len(value):
            c.fail(f"{path}.activation", "softmax is allowed on the output layer only (the last [[layers]])")
        slope = 0.01
        if "slope" in table:
            if act != "leaky_relu":
                c.fail(f"{path}.slope", "slope applies to leaky_relu only")
            slope = c.number(table["slope"], f"{path}.slope")
        act_params = _act_params(c, table, path, act)
        units = _units(c, table, path)
        total += units * fan_in
        if total > MAX_PARAMS:
            c.fail(path, f"the network is too large ({total:,} weights so far); bptrace traces at most {MAX_PARAMS:,} parameters")
        drawn = torch_rng.linear(units, fan_in, _per_neuron(table.get("bias"))) if torch_rng else None
        if table.get("weights") == "pytorch":
            weights, init = drawn[0], "pytorch"
        else:
            weights, init = _weights(c, table, path, units, fan_in, rng)
        if table.get("bias") == "pytorch":
            bias, shared = drawn[1], False
        else:
            bias, shared = _bias(c, table.get("bias"), f"{path}.bias", len(weights))
        train_bias = c.boolean(table.get("train_bias", True), f"{path}.train_bias")
        if "train_bias" in table and bias is None:
            c.fail(f"{path}.train_bias", "this layer has no bias; add `bias = ...` or remove train_bias")
        p, mask, mask_init = dropout.parse(c, table, path, len(weights), i == len(value), n_samples, rng.seed, i - 1)
        out.append(Layer(act, weights, bias, shared, train_bias, slope, init, **act_params,
                         bias_init="pytorch" if table.get("bias") == "pytorch" else "given",
                         frozen=c.boolean(table.get("frozen", False), f"{path}.frozen"),
                         dropout=p, mask=mask, mask_init=mask_init,
                         **groups.parse_layer(c, table, path, bias is not None)))
        fan_in = len(weights)
    return tuple(out)


def _act_params(c: _Checker, table: dict, path: str, act: str) -> dict:
    """elu's alpha, softplus's beta and threshold, gelu's approximate (PyTorch's names and defaults)."""
    out = {}
    for key, owner in ACT_KEYS.items():
        if key == "slope" or key not in table:
            continue
        where = f"{path}.{key}"
        if act != owner:
            c.fail(where, f"{key} applies to {owner} only")
        if key == "approximate":
            out[key] = c.string(table[key], where, activations.GELU_APPROXIMATIONS)
            continue
        out[key] = c.number(table[key], where)
        if key == "beta" and out[key] <= 0:  # softplus divides by beta
            c.fail(where, f"expected a number greater than 0 (softplus divides by beta), got {out[key]:g}")
    return out


def _per_neuron(bias) -> bool:
    """Whether PyTorch's nn.Linear of this layer has a bias (one per neuron: a list, "zeros", "pytorch")."""
    return isinstance(bias, (list, str))


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
        c.fail(f"{path}.weights", f"expected {len(m)}×{fan_in} ({counted(len(m), 'neuron')} × {counted(fan_in, 'input')} each), got {len(m)}×{len(m[0])}")
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
            c.fail(path, f"expected a number (one shared bias), a list of {units} numbers, \"zeros\" or \"pytorch\"; "
                         f"got {kind(value)}")
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
            c.fail(path, f"expected {counted(n_out, 'target')} (one per output neuron), got {len(s.target)}")
        if loss == "cross_entropy" and (min(s.target) < 0 or abs(sum(s.target) - 1) > 1e-9):
            c.fail(path, f"cross_entropy needs targets that form a distribution (each >= 0, summing to 1); these sum to {sum(s.target):g}")
        if loss == "binary_cross_entropy" and not all(0 <= t <= 1 for t in s.target):
            c.fail(path, "binary_cross_entropy needs every target in [0, 1]")
