"""`bptrace quiz`: an exercise on one update and its key, as texts (the CLI writes the files).

    exercise.md / exercise.tex   the network, the given values, the questions in order
    answers.toml                 every asked quantity blank (""), for `bptrace check` once filled in
    key.md / key.tex             the worked solution: name = formula = numbers = result
    network.toml                 the spec (when the network was made up from --shape)

Questions are named (z1, "dE_total/dw5", w5+) or asked by group; a made-up network has "nice"
given numbers (one decimal for weights and inputs, two for targets), the same for the same seed.
"""

from __future__ import annotations

import json

import numpy as np

from .answers import canonical, mazur
from .errors import UsageError, clip
from .exports.latex import _document, _Doc
from . import groups as param_groups
from .exports.markdown import TEX, _math, _own, _Writer, text as md_text
from .expr import render
from .formulas import update_tree
from .i18n import _
from .notation import after, name as id_name
from .trace import Iteration, layer_rows, neuron_rows

GROUPS = ("forward", "errors", "output-deltas", "hidden-deltas", "gradients", "updates")
DEFAULT_ASK = "forward,errors,output-deltas,gradients,updates"
MAX_WIDTH = 6  # neurons per layer of a made-up network
MAX_LAYERS = 4


def made_up(shape: str, activation: str, loss: str, seed: int) -> str:
    """A spec (TOML text) for a network of `shape` (2-2-2) with nice given numbers drawn with `seed`."""
    from .importer import spec_toml

    try:
        widths = [int(w) for w in shape.split("-")]
    except ValueError:
        widths = []
    if not 2 <= len(widths) <= MAX_LAYERS + 1 or not all(1 <= w <= MAX_WIDTH for w in widths):
        raise UsageError(f"shape: expected layer widths such as 2-2-2 (2 to {MAX_LAYERS + 1} layers of 1 to "
                         f"{MAX_WIDTH} neurons), got '{clip(shape)}'", param="shape")
    acts = [a.strip() for a in activation.split(",")]
    acts = acts * (len(widths) - 1) if len(acts) == 1 else acts
    rng = np.random.default_rng(seed)

    def tenths(*size, low=1):  # ±0.1 … ±0.9, never 0
        return rng.integers(low, 10, size=size) / 10 * rng.choice([-1, 1], size=size)

    layers = [(tenths(n, m), None) for m, n in zip(widths, widths[1:])]
    x = rng.integers(1, 10, size=widths[0]) / 10
    if loss == "cross_entropy":
        t = np.eye(widths[-1])[rng.integers(widths[-1])]
    else:
        t = rng.integers(1, 100, size=widths[-1]) / 100
    text = spec_toml("quiz", layers, acts, loss, 0.5, [list(x)], [list(t)])
    return text.replace('title = "Imported from quiz"', f"title = {json.dumps(f'Exercise (seed {seed})')}", 1)


def groups(it: Iteration) -> dict[str, list]:
    """Each group's quantities (name, quantity) in the order the exercise asks them."""
    p = it.passes[0]
    L = len(p.forward.layers)
    out = {g: [] for g in GROUPS}
    for layer in p.forward.layers:  # with dropout h̃ too (the masks are given)
        out["forward"] += [(q.name, q) for q in layer_rows(layer, masks=False)]
    out["errors"] = [(q.name, q) for q in (*p.loss.errors, p.loss.total)]
    for lb in sorted(p.backward, key=lambda b: -b.index):
        key = "output-deltas" if lb.index == L - 1 else "hidden-deltas"
        out[key] += [(q.name, q) for q in neuron_rows(lb)]
    for lb in sorted(p.backward, key=lambda b: -b.index):
        out["gradients"] += [(g.name, g) for g in lb.gradients]
    out["updates"] = [(u.name + "+", u) for u in it.updates if not u.frozen]
    return out


def asked(it: Iteration, ask: str) -> list[tuple[str, object]]:
    """The questions: `ask` lists names and groups (or `all`), comma-separated; in the trace's order."""
    by_group = groups(it)
    every = {n: q for g in GROUPS for n, q in by_group[g]}
    aliases = mazur(it.names)
    wanted, unknown = set(), []
    for item in (s.strip().strip("\"'") for s in ask.split(",")):
        if item == "all":
            wanted |= set(every)
        elif item in by_group:
            wanted |= {n for n, _q in by_group[item]}
        elif canonical(item, aliases) in every:
            wanted.add(canonical(item, aliases))
        elif item:
            unknown.append(item)
    if unknown or not wanted:
        raise UsageError(f"ask: expected names or groups ({', '.join(GROUPS)}, all), got "
                         f"{', '.join(repr(clip(u)) for u in unknown) or 'nothing'}", param="ask")
    return [(n, q) for n, q in every.items() if n in wanted]


def make(source: str | None, shape: str | None, activation: str, loss: str, seed: int, ask: str,
         precision: int = 8) -> dict[str, str]:
    """The quiz's files (name -> text) for a spec (a path or a sample's name), or for a network made up
    from `shape` (2-2-2 when neither is given)."""
    from . import load, tracer

    if source is not None and shape is not None:
        raise UsageError("shape: give a spec or --shape, not both", param="shape")
    files = {}
    if source is None:
        files["network.toml"] = made_up(shape or "2-2-2", activation, loss, seed)
        spec = load(files["network.toml"])
        source = "network.toml"
    else:
        spec = load(source)
    it = tracer.run(spec, sample=1).iterations[0]
    return exercise(spec, it, ask, source, precision) | files


def exercise(spec, it: Iteration, ask: str, spec_file: str, precision: int = 8) -> dict[str, str]:
    """file name -> text for the exercise, its answers template and its key."""
    questions = asked(it, ask)
    return {"exercise.md": _exercise_md(spec, it, questions, precision),
            "exercise.tex": _exercise_tex(spec, it, questions, precision),
            "answers.toml": template(questions, spec_file),
            "key.md": _key_md(spec, it, questions, precision),
            "key.tex": _key_tex(spec, it, questions, precision)}


def template(questions, spec_file: str) -> str:
    lines = ["# " + _("Answers to exercise.md: write each value in place of \"\" (blank answers are not graded),"),
             "# " + _("then check them with"), f"#     bptrace check {spec_file} answers.toml", "epoch = 1", "sample = 1", ""]
    return "\n".join(lines + [f"{json.dumps(n)} = \"\"" for n, _q in questions]) + "\n"


def _given(spec, it: Iteration) -> list[tuple[object, float]]:
    """(Id, value) of every value the exercise gives: inputs, targets, dropout masks, weights and biases."""
    p = it.passes[0]
    masks = [n.mask for layer in p.forward.layers for n in layer if n.mask is not None]
    return [(q.ident, q.value) for q in (*p.forward.given, *p.loss.targets, *masks)] + \
           [(u.ident, u.old) for u in it.updates]


def _exercise_md(spec, it, questions, precision) -> str:
    w = _Writer(spec, it.names, precision)
    w.add("# " + md_text(spec.title or _("Exercise")) + "\n")
    w.network(2)
    weights = {u.name: u.old for u in it.updates if u.ident.kind == "w"}
    biases = {u.name: u.old for u in it.updates if u.ident.kind == "b"}
    w.mermaid("", weights, biases, frozenset(weights) | frozenset(biases))
    given = ", ".join(f"${id_name(i, it.names, 'latex')} = {v:g}$" for i, v in _given(spec, it))
    w.add("## " + _("Given") + "\n", f"{given}, $\\alpha = {it.learning_rate:g}${_own(param_groups.summary(it, **TEX))}. " + _("One update on sample 1.") + "\n",
          "## " + _("Questions") + "\n")
    w.add("\n".join(f"{i}. ${_latex_name(n, q, it)}$" for i, (n, q) in enumerate(questions, 1)) + "\n")
    return "\n".join(w.lines)


def _latex_name(n: str, q, it) -> str:
    return id_name(after(q.ident) if n.endswith("+") else q.ident, it.names, "latex")


def _exercise_tex(spec, it, questions, precision) -> str:
    d = _Doc(it.names, precision)
    d.network(spec)
    given = ", ".join(f"${id_name(i, it.names, 'latex')} = {v:g}$" for i, v in _given(spec, it))
    d.add(r"\section*{" + _("Given") + "}", f"{given}, $\\alpha = {it.learning_rate:g}${_own(param_groups.summary(it, **TEX))}. " + _("One update on sample 1."), "",
          r"\section*{" + _("Questions") + "}", r"\begin{enumerate}",
          *[rf"\item ${_latex_name(n, q, it)}$" for n, q in questions], r"\end{enumerate}")
    return _document(spec.title or _("Exercise"), d.out)


def _solution(spec, it, n, q):
    """(LaTeX name, formula tree or None, value) for one question; an update's tree is p − α·∂E_total/∂p."""
    if n.endswith("+"):
        return _latex_name(n, q, it), update_tree(it, spec.optimizer.hyper, q), q.new
    return _latex_name(n, q, it), q.expr, q.value


def _key_md(spec, it, questions, precision) -> str:
    w = _Writer(spec, it.names, precision)
    w.add("# " + _("Key: {title}").format(title=md_text(spec.title or _("Exercise"))) + "\n")
    for i, (n, q) in enumerate(questions, 1):
        lhs, tree, value = _solution(spec, it, n, q)
        formula = render(tree, "latex", it.names) if tree is not None else ""
        numbers = render(tree, "latex", it.names, True, precision) if tree is not None else ""
        w.add(f"{i}. `{n}` = {w.n(value)}\n", _math(lhs, formula, numbers if numbers != formula else "", w.n(value)))
    return "\n".join(w.lines)


def _key_tex(spec, it, questions, precision) -> str:
    d = _Doc(it.names, precision)
    d.add(r"\section*{" + _("Worked solution") + "}")
    for n, q in questions:  # one align* each: a long key breaks across pages between questions
        lhs, tree, value = _solution(spec, it, n, q)
        d.equations([(lhs, tree, d.n(value), "")])
    return _document(_("Key: {title}").format(title=spec.title or _("Exercise")), d.out)
