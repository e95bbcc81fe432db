"""How large a network each command handles, decided from the spec before any work starts.

Measured on the machine in docs/performance.md (a 1-N-1 sigmoid network, one sample):
- a trace (`run`, `step --show`, a `.jsonl` export) keeps every factor of every gradient:
  about 0.08 ms and 9 KB per parameter, plus as much again for a JSON export;
- its tables (terminal, `.md`, `.html`, `.svg`) take longer than linearly: 3.5 s for 2,000
  parameters, 35 s for 10,000;
- a step's `.json` export lists every parameter before and after: 4,000,000 parameters take
  40 s, 3.4 GB and a 460 MB file;
- `gradcheck` runs two forward passes per parameter, each about parameters × samples
  multiply-adds.
Training without tracing (`step -q`) handles every network the spec allows (5,000,000 parameters).
"""

from __future__ import annotations

from .errors import UsageError
from .fmt import counted

TABLE_PARAMS = 2_000  # tables of one traced iteration
TRACE_PARAMS = 50_000  # parameters in one traced iteration
EXPORT_PARAMS = 500_000  # parameters listed before and after by a step's .json or .md export
GRADCHECK_WORK = 10_000_000_000  # parameters² × samples
VERIFY_STEPS = 10_000  # updates `verify` compares in one run (every one is traced in full)


def _params(spec) -> int:
    """What a trace of the network weighs: its parameters, each front layer counted by the products its trace
    makes for one sample (a 3×3 kernel over a 100×100 image is 10 parameters and 88,000 products)."""
    return spec.n_params + sum(getattr(f, "trace_cost", 0) for f in spec.front)


def _has(spec, p: int) -> str:
    """has 1,234 parameters, or with front layers what they weigh as well."""
    if not spec.front:
        return f"has {p:,} parameters"
    return f"weighs {p:,} parameters and traced products (a front layer counts its products k·x, U·x, W·s)"


def check_run(spec, tables: bool) -> None:
    """`run`: the trace, and its tables unless only JSON is written to stdout."""
    p = _params(spec)
    if p > TRACE_PARAMS:
        raise UsageError(
            f"{spec.source}: the network {_has(spec, p)}; run traces at most {TRACE_PARAMS:,} "
            f"(every factor of every gradient, about 9 KB each). Train it without tracing instead: "
            f"bptrace step SPEC -q{_export_hint(p)}")
    if tables and p > TABLE_PARAMS:
        raise UsageError(
            f"{spec.source}: the network {_has(spec, p)}; run prints tables for at most {TABLE_PARAMS:,} "
            f"(they would take minutes). Write the trace as JSON instead: "
            f"bptrace run SPEC --export - --format json > trace.json (up to {TRACE_PARAMS:,} parameters), "
            f"or train without tracing: bptrace step SPEC -q")


def _export_hint(p: int) -> str:
    return " --export run.json (the history and every parameter before and after)" if p <= EXPORT_PARAMS else ""


def check_step(spec, traced_steps: int, tables: bool, formats=()) -> None:
    """`step`: each step traced (--show, or every step for a .jsonl export), their tables, and
    the exports that list every parameter.

    A long traced run is the user's choice (it shows progress and stops at Ctrl-C); one traced
    step of a huge network is not."""
    p = _params(spec)
    listed = sorted({f for f in formats if f in ("json", "md", "tex", "py")})
    if listed and p > EXPORT_PARAMS:
        raise UsageError(
            f"{spec.source}: the network has {p:,} parameters; a .{' or .'.join(listed)} export lists every "
            f"parameter before and after, for at most {EXPORT_PARAMS:,} (this one would take minutes and "
            f"gigabytes). Train it without the export: bptrace step SPEC -q")
    if not traced_steps:
        return
    if p > TRACE_PARAMS:
        raise UsageError(
            f"{spec.source}: the network {_has(spec, p)}; step traces (--show, .jsonl export) at most "
            f"{TRACE_PARAMS:,} (about 9 KB each). Train it without tracing instead: bptrace step SPEC -q"
            f"{_export_hint(p)}")
    if tables and p > TABLE_PARAMS:
        raise UsageError(
            f"{spec.source}: the network {_has(spec, p)}; --show prints tables for at most {TABLE_PARAMS:,} "
            f"(they would take minutes). Write the traces to a file instead: --export run.jsonl -q")


def check_gradcheck(spec, samples: int) -> None:
    """`gradcheck`: two forward passes per parameter, each costing about what a trace weighs (_params)."""
    p, cost = spec.n_params, _params(spec)
    if p * cost * samples > GRADCHECK_WORK:
        hint = " Check one sample: --sample 1." if samples > 1 and p * cost <= GRADCHECK_WORK else ""
        raise UsageError(
            f"{spec.source}: gradcheck of {p:,} parameters on {counted(samples, 'sample')} needs {2 * p:,} forward passes "
            f"of about {cost * samples:,} multiply-adds each; at most {GRADCHECK_WORK:,} multiply-adds in all "
            f"are checked (about a minute).{hint}")
