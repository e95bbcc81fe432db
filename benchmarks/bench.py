"""bptrace benchmarks: each result is a ratio against a reference run in the same process.

    python benchmarks/bench.py            # print the table
    python benchmarks/bench.py --write    # and write docs/performance.md
    python benchmarks/bench.py --only startup   # only the start-up rows (15 interleaved pairs each)
    python benchmarks/bench.py --only startup --write   # and replace those two rows in docs/performance.md

Timings are the best of several repeats (machines here are shared and noisy).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bptrace import samples, spec
from bptrace import trainer as train
from bptrace.render import training

ROOT = Path(__file__).resolve().parent.parent


def best(fn, repeats=3):
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


# ------------------------------------------------------------------ 1, 2: the worked example, 100,000 epochs

def blog_numpy(s, epochs):
    """Plain numpy: the same math, the same per-epoch numbers kept (loss, gradient norm, outputs)."""
    W1, W2 = np.array(s.layers[0].weights), np.array(s.layers[1].weights)
    x, t, lr = np.array(s.samples[0].x), np.array(s.samples[0].target), s.learning_rate
    loss, norm, outs = np.empty(epochs), np.empty(epochs), np.empty((epochs, 2))
    for e in range(epochs):
        h = 1.0 / (1.0 + np.exp(-(W1 @ x)))
        o = 1.0 / (1.0 + np.exp(-(W2 @ h)))
        loss[e] = 0.5 * np.sum((t - o) ** 2)
        outs[e] = o
        d2 = -(t - o) * o * (1.0 - o)
        d1 = (W2.T @ d2) * h * (1.0 - h)
        g2, g1 = np.outer(d2, h), np.outer(d1, x)
        norm[e] = math.sqrt(np.sum(g1 * g1) + np.sum(g2 * g2))
        W2 -= lr * g2
        W1 -= lr * g1
    return np.concatenate([W1.ravel(), W2.ravel()])


def blog_python(s, epochs):
    """Pure-Python scalars: the interpreter's floor for this network."""
    (w1, w2), (w3, w4) = s.layers[0].weights
    (w5, w6), (w7, w8) = s.layers[1].weights
    x1, x2 = s.samples[0].x
    t1, t2 = s.samples[0].target
    lr, exp = s.learning_rate, math.exp
    loss, norm = [0.0] * epochs, [0.0] * epochs
    for e in range(epochs):
        h1, h2 = 1 / (1 + exp(-(w1 * x1 + w2 * x2))), 1 / (1 + exp(-(w3 * x1 + w4 * x2)))
        o1, o2 = 1 / (1 + exp(-(w5 * h1 + w6 * h2))), 1 / (1 + exp(-(w7 * h1 + w8 * h2)))
        loss[e] = 0.5 * (t1 - o1) ** 2 + 0.5 * (t2 - o2) ** 2
        d1, d2 = -(t1 - o1) * o1 * (1 - o1), -(t2 - o2) * o2 * (1 - o2)
        e1, e2 = (d1 * w5 + d2 * w7) * h1 * (1 - h1), (d1 * w6 + d2 * w8) * h2 * (1 - h2)
        g = (e1 * x1, e1 * x2, e2 * x1, e2 * x2, d1 * h1, d1 * h2, d2 * h1, d2 * h2)
        norm[e] = math.sqrt(sum(v * v for v in g))
        w1, w2, w3, w4, w5, w6, w7, w8 = (w - lr * gv for w, gv in zip((w1, w2, w3, w4, w5, w6, w7, w8), g))
    return np.array([w1, w2, w3, w4, w5, w6, w7, w8])


def blog_bptrace(s, epochs):
    r = train.train(s, train.Plan(epochs))
    training.summary(r)  # what `step --quiet` renders
    return r.final_values


# ------------------------------------------------------------------ 3: 784-128-10, 1,024 samples, full batch

def mnist_like():
    rng = np.random.default_rng(0)
    X = rng.random((1024, 784))
    labels = rng.integers(0, 10, 1024)
    T = np.eye(10)[labels]
    d = {"loss": "cross_entropy", "learning_rate": 0.1, "seed": 1,
         "samples": [{"x": x, "target": t} for x, t in zip(X.tolist(), T.tolist())],
         "layers": [{"activation": "relu", "units": 128, "weights": "xavier", "bias": "zeros"},
                    {"activation": "softmax", "units": 10, "weights": "xavier", "bias": "zeros"}]}
    return spec.from_dict(d)


def wide_numpy(s, epochs):
    X = np.array([p.x for p in s.samples])
    T = np.array([p.target for p in s.samples])
    W1, b1 = np.array(s.layers[0].weights), np.array(s.layers[0].bias)
    W2, b2 = np.array(s.layers[1].weights), np.array(s.layers[1].bias)
    n, lr = len(X), s.learning_rate
    loss = np.empty(epochs)
    for e in range(epochs):
        z1 = X @ W1.T + b1
        h = np.maximum(z1, 0.0)
        z2 = h @ W2.T + b2
        m = z2.max(axis=1, keepdims=True)
        logp = z2 - m - np.log(np.exp(z2 - m).sum(axis=1, keepdims=True))
        loss[e] = -(T * logp).sum() / n
        d2 = np.exp(logp) - T
        d1 = (d2 @ W2) * (z1 > 0)
        gW2, gb2 = d2.T @ h / n, d2.sum(axis=0) / n
        gW1, gb1 = d1.T @ X / n, d1.sum(axis=0) / n
        W2 -= lr * gW2
        b2 -= lr * gb2
        W1 -= lr * gW1
        b1 -= lr * gb1
    return np.concatenate([W1.ravel(), W2.ravel()])


def wide_bptrace(s, epochs):
    r = train.train(s, train.Plan(epochs, batch="full"))
    return r


# ------------------------------------------------------------------ 4, 5: whole processes

# ------------------------------------------------------------------ 4: the cnn sample (front layers, numpy path)

def cnn_numpy(s, epochs):
    """Plain numpy, online SGD: 2×2 conv + relu, 2×2 max pool (stride 1), flatten, softmax + cross-entropy."""
    k, c = s.front[0].kernel.value[0, 0].copy(), float(s.front[0].bias.value[0])
    W, b = np.array(s.layers[0].weights), np.array(s.layers[0].bias)
    X = [np.array(p.x).reshape(4, 4) for p in s.samples]
    T = [np.array(p.target) for p in s.samples]
    lr, loss = s.learning_rate, np.empty(epochs)
    for e in range(epochs):
        for x, t in zip(X, T):
            win = np.lib.stride_tricks.sliding_window_view(x, (2, 2))  # (3, 3, 2, 2)
            u = np.einsum("ijab,ab->ij", win, k) + c
            v = np.maximum(u, 0)
            pw = np.lib.stride_tricks.sliding_window_view(v, (2, 2)).reshape(2, 2, 4)
            arg = pw.argmax(-1)
            f = np.take_along_axis(pw, arg[..., None], -1).ravel()
            z = W @ f + b
            o = np.exp(z - z.max())
            o /= o.sum()
            loss[e] = -np.sum(t * np.log(o))
            d = o - t  # softmax with cross-entropy
            dP = (W.T @ d).reshape(2, 2)
            dv = np.zeros((3, 3))
            for i in range(2):
                for j in range(2):
                    a, bb = divmod(int(arg[i, j]), 2)
                    dv[i + a, j + bb] += dP[i, j]
            du = dv * (u > 0)
            gk = np.einsum("ijab,ij->ab", win, du)
            W -= lr * np.outer(d, f)
            b -= lr * d
            k -= lr * gk
            c -= lr * du.sum()
    return np.concatenate([k.ravel(), [c], W.ravel(), b])


def cnn_bptrace(s, epochs):
    r = train.train(s, train.Plan(epochs))
    training.summary(r)
    return r.final_values


def process_time(args, repeats=7, env=None):
    """Median wall time of a fresh process."""
    return statistics.median(process_times(args, repeats, env))


def process_times(args, repeats, env=None):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        times.append(time.perf_counter() - t0)
    return times


FLOOR = [sys.executable, "-c", "import numpy, rich, typer"]


def startup(repeats=15, env=None):
    """Whole-process `bptrace run` against the import floor, in interleaved pairs (so both see the same load):
    (median run, median floor, median of the pairs' ratios, worst pair's ratio)."""
    runs, floors = [], []
    for _ in range(repeats):
        runs += process_times([sys.executable, "-m", "bptrace", "run"], 1, env)
        floors += process_times(FLOOR, 1, env)
    ratios = [r / f for r, f in zip(runs, floors)]
    return statistics.median(runs), statistics.median(floors), statistics.median(ratios), max(ratios)


def bytecode(compiled: bool) -> dict:
    """The environment for the start-up rows. numpy, rich and typer were byte-compiled when pip installed
    them; bptrace's own modules are too when installed from a wheel, but an editable install under
    PYTHONDONTWRITEBYTECODE (as on the machines here) compiles them from source at every start (~50 ms).
    compiled=False removes bptrace's cache and keeps it from being written; True writes it (compileall)."""
    import compileall
    import shutil

    for cache in (ROOT / "bptrace").rglob("__pycache__"):
        shutil.rmtree(cache)
    if compiled:
        compileall.compile_dir(ROOT / "bptrace", quiet=1)
    return dict(os.environ, PYTHONDONTWRITEBYTECODE="1")


def jsonl_speed(tmp, epochs=2000, repeats=5):
    """`step xor --epochs N --export run.jsonl -q`, whole process, against json.dumps of the records it wrote
    (re-serialised in one process, as the export writes each line), in interleaved pairs:
    (median process s, median dumps s, median of the pairs' ratios, worst ratio, lines)."""
    path = f"{tmp}/speed.jsonl"
    command = [sys.executable, "-m", "bptrace", "step", "xor", "--epochs", str(epochs), "--export", path, "-q"]
    steps, floors = [], []
    for _ in range(repeats):
        steps += process_times(command, 1)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        records = [json.loads(line) for line in text.splitlines()]
        t0 = time.perf_counter()
        again = "".join(json.dumps(r, allow_nan=False, ensure_ascii=False) + "\n" for r in records)
        floors.append(time.perf_counter() - t0)
        assert again == text, "re-serialising the records must give the file back"
    ratios = [a / b for a, b in zip(steps, floors)]
    return (statistics.median(steps), statistics.median(floors), statistics.median(ratios), max(ratios),
            len(records))


WIDE = ("{'learning_rate': 0.1, 'seed': 1, 'samples': [{'x': [0.5], 'target': [0.5] * 1000}], "
        "'layers': [{'activation': 'sigmoid', 'units': 1000, 'weights': 'xavier'}]}")


def peak_memory(epochs, network="blog"):
    """Peak resident memory (VmHWM, MiB) of a fresh process running `step --quiet` for that many epochs:
    the worked example, or (network="wide") a 1→1000 sigmoid layer.

    (ru_maxrss would carry over the parent's peak across fork and exec.)"""
    load = "spec.loads(samples.text('blog'), 'blog')" if network == "blog" else f"spec.from_dict({WIDE})"
    code = (f"from bptrace import samples, spec, trainer as train; from bptrace.render import training; "
            f"r = train.train({load}, train.Plan({epochs})); training.summary(r); "
            f"print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return int(out.stdout.strip()) / 1024


def jsonl_peak_memory(epochs, tmp):
    """Peak resident memory (MiB) of `step xor --export run.jsonl` (every update traced and streamed)."""
    code = (f"import sys; sys.argv = ['bptrace', 'step', 'xor', '--epochs', '{epochs}', '-q', '-o', '{tmp}']; "
            f"from bptrace.cli import app\ntry:\n    app()\nexcept SystemExit:\n    pass\n"
            f"print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')), file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return int(out.stderr.strip().splitlines()[-1]) / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--write", action="store_true", help="write docs/performance.md")
    ap.add_argument("--epochs", type=int, default=100_000)
    ap.add_argument("--processes", action="store_true", help="only the whole-process rows (start-up, .jsonl speed)")
    ap.add_argument("--only", choices=["startup"], help="only these rows: startup (whole-process `bptrace run`)")
    args = ap.parse_args()
    if args.only == "startup":
        rows = startup_rows()
        print(table(rows))
        if args.write:
            write_rows(table(rows))
        return
    rows = [] if args.processes else in_process_rows(args.epochs)
    rows += process_rows()
    if args.processes:
        print(table(rows))
        return
    rows_memory = memory_rows()
    text = table(rows, rows_memory)
    print(text)
    if args.write:
        write(text)


def in_process_rows(epochs):
    """The worked example for many epochs and the 784-128-10 network, against numpy and Python."""
    rows = []
    s = spec.loads(samples.text("blog"), "blog")
    t_np, w_np = best(lambda: blog_numpy(s, epochs))
    t_py, w_py = best(lambda: blog_python(s, epochs))
    t_bp, w_bp = best(lambda: blog_bptrace(s, epochs))
    diff = float(np.max(np.abs(w_bp - w_np)))
    rows.append((f"`step` worked example, {epochs:,} epochs, summary only", "plain numpy loop",
                 t_bp, t_np, "<= 1.0", f"max abs Δw vs numpy = {diff:.1e} (must be <= 1e-12)"))
    rows.append((f"`step` worked example, {epochs:,} epochs, summary only", "pure-Python scalar loop",
                 t_bp, t_py, "report", f"max abs Δw vs Python = {float(np.max(np.abs(w_bp - w_py))):.1e}"))
    wide = mnist_like()
    t_wnp, w_wnp = best(lambda: wide_numpy(wide, 20))
    t_wbp, r = best(lambda: wide_bptrace(wide, 20))
    n_w1 = 784 * 128  # final_values: W1, b1, W2, b2 in naming order
    w_wbp = np.concatenate([r.final_values[:n_w1], r.final_values[n_w1 + 128:n_w1 + 128 + 1280]])
    rows.append(("784-128-10 relu/softmax, 1,024 samples, full batch, 20 epochs", "plain numpy loop",
                 t_wbp, t_wnp, "<= 1.2", f"max abs Δw = {float(np.max(np.abs(w_wbp - w_wnp))):.1e}"))
    cnn = spec.loads(samples.text("cnn"), "cnn")
    t_cnp, w_cnp = best(lambda: cnn_numpy(cnn, 2000))
    t_cbp, w_cbp = best(lambda: cnn_bptrace(cnn, 2000))
    rows.append(("`step cnn`, 2,000 epochs online (conv, max pool, flatten, softmax: the numpy path)",
                 "plain numpy loop", t_cbp, t_cnp, "report",
                 f"max abs Δw = {float(np.max(np.abs(w_cbp - w_cnp))):.1e}"))
    return rows


def startup_rows():
    """Whole-process `bptrace run` against the import floor, without and with bptrace's bytecode cache."""
    rows = []
    for compiled in (False, True):
        t_run, t_imp, ratio, worst = startup(env=bytecode(compiled))
        how = "bptrace byte-compiled, as installed" if compiled else "bptrace compiled from source every start"
        rows.append((f"whole-process `bptrace run` (worked example; {how})",
                     "`python -c \"import numpy, rich, typer\"`", t_run, t_imp, "<= 1.5" if compiled else "report",
                     f"15 interleaved pairs: median ratio {ratio:.2f}, worst {worst:.2f} (times: medians)", ratio))
    return rows


def process_rows():
    """Start-up (with and without bptrace's bytecode cache) and a long .jsonl export, as whole processes."""
    rows = startup_rows()
    with tempfile.TemporaryDirectory() as tmp:
        t_step, t_dumps, ratio, worst, n_rec = jsonl_speed(tmp)
    rows.append((f"`step xor --epochs 2000 --export run.jsonl -q`, whole process ({n_rec:,} lines)",
                 "`json.dumps` of the same records, one process", t_step, t_dumps, "<= 2.0",
                 f"5 interleaved pairs: median ratio {ratio:.2f}, worst {worst:.2f} (times: medians); "
                 "output checked equal", ratio))
    return rows


def memory_rows():
    """Peak memory (MiB) of long runs against short ones: lines of the table."""
    m_small, m_big = peak_memory(10_000), peak_memory(1_000_000)
    w_small, w_big = peak_memory(10_000, "wide"), peak_memory(1_000_000, "wide")
    with tempfile.TemporaryDirectory() as tmp:
        j_small, j_big = jsonl_peak_memory(200, f"{tmp}/a.jsonl"), jsonl_peak_memory(4000, f"{tmp}/b.jsonl")
    return [f"| peak memory, `step` worked example | 10,000 epochs | {m_big:.1f} MiB (1,000,000 epochs) | "
            f"{m_small:.1f} MiB | **{m_big / m_small:.2f}** | flat (<= 1.05) | "
            f"growth {m_big - m_small:.1f} MiB; history bounded at {train.HISTORY_ROWS:,} rows |",
            f"| peak memory, `step` 1→1000 sigmoid (1,000 outputs) | 10,000 epochs | {w_big:.1f} MiB "
            f"(1,000,000 epochs) | {w_small:.1f} MiB | **{w_big / w_small:.2f}** | flat (<= 1.05) | "
            f"{train.WATCH_OUTPUTS} outputs kept per row |",
            f"| peak memory, `step xor --export run.jsonl` (every update traced) | 200 epochs | "
            f"{j_big:.1f} MiB (4,000 epochs) | {j_small:.1f} MiB | **{j_big / j_small:.2f}** | flat | "
            f"16,000 records streamed, none kept |"]


def table(rows, memory=()) -> str:
    """The markdown table: timing rows (name, reference, s, reference s, target, note[, ratio]), then memory lines."""
    lines = ["| benchmark | reference | bptrace (s) | reference (s) | ratio | target | note |",
             "|---|---|---|---|---|---|---|"]
    for name, ref, a, b, target, note, *ratio in rows:
        lines.append(f"| {name} | {ref} | {a:.3f} | {b:.3f} | **{(ratio or [a / b])[0]:.2f}** | {target} | {note} |")
    return "\n".join([*lines, *memory])


def write(table_text: str) -> None:
    """Replace the table in docs/performance.md."""
    doc = ROOT / "docs" / "performance.md"
    text = doc.read_text()
    start, end = text.index("<!-- results -->"), text.index("<!-- /results -->")
    stamp = f"Machine: {machine()}. Date: {time.strftime('%Y-%m-%d')}.\n\n"
    doc.write_text(text[:start] + "<!-- results -->\n" + stamp + table_text + "\n" + text[end:])


def write_rows(table_text: str) -> None:
    """Replace the rows of docs/performance.md's table that name the same benchmark as these (--only)."""
    doc = ROOT / "docs" / "performance.md"
    lines = doc.read_text().split("\n")
    for row in table_text.splitlines()[2:]:
        name = row.split(" | ")[0]
        at = [i for i, line in enumerate(lines) if line.split(" | ")[0] == name]
        if len(at) != 1:
            raise SystemExit(f"docs/performance.md: expected one row {name!r}, found {len(at)}")
        lines[at[0]] = row
    doc.write_text("\n".join(lines))


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, numpy {np.__version__}; "
            f"{platform.system()} {platform.release()}")


if __name__ == "__main__":
    main()
