"""Exports: JSON round trip and schema, JSON Lines streaming, Markdown, HTML/SVG, atomic writes, Python API."""

import json
import re

import jsonschema
import pytest
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin

import bptrace
from bptrace import atomic, spec, tracer
from bptrace.cli import app
from bptrace.exports import json_
from conftest import BLOG, PUBLISHED, ROOT

SCHEMA = json.loads(json_.schema_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
SAMPLE_NAMES = ["blog", "xor", "softmax", "deep", "adam"]


def test_schema_is_a_valid_json_schema(runner):
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0 and json.loads(result.output) == SCHEMA


def test_json_round_trip_is_exact(tmp_path, runner):
    path = tmp_path / "blog.json"
    result = runner.invoke(app, ["run", "--export", str(path)])
    assert result.exit_code == 0
    doc = json.loads(path.read_text())
    VALIDATOR.validate(doc)
    assert doc["schema"] == "bptrace.trace/1"
    it = tracer.run(spec.from_dict(BLOG)).iterations[0]
    record = doc["iterations"][0]
    p = record["passes"][0]
    exported = {**p["forward"], **p["loss"], **p["backward"]}
    exported.update({f"{k}+": v["new"] for k, v in record["update"].items()})
    for c in record["check"]:
        exported.update({f"{k}+": v for k, v in {**c["forward"], **c["loss"]}.items()})
    for _, name, value in it.quantities():
        assert exported[name] == value, name  # exactly: full precision survives the round trip
    for name, value in PUBLISHED.items():
        assert round(exported[name], 8) == pytest.approx(value, abs=1e-12)


def test_json_products_name_their_factors():
    doc = json.loads(json_.trace_json(tracer.run(spec.from_dict(BLOG))))
    p = doc["iterations"][0]["passes"][0]
    w5 = p["products"]["dE_total/dw5"]
    assert w5 == {"op": "product", "of": ["dE_total/do1", "do1/dz3", "dz3/dw5"]}
    prod = 1.0
    for f in w5["of"]:
        prod *= p["backward"][f]
    assert prod == pytest.approx(p["backward"]["dE_total/dw5"], rel=1e-15)
    assert p["products"]["dE_total/dh1"] == {"op": "sum", "of": ["dE_o1/dh1", "dE_o2/dh1"]}


def test_spec_is_normalised():
    doc = json.loads(json_.trace_json(tracer.run(spec.from_dict(BLOG))))
    s = doc["spec"]
    assert s["optimizer"] == {"name": "sgd", "weight_decay": 0.0}
    assert s["layers"][0]["bias"] is None and s["layers"][0]["units"] == 2 and s["naming"] == "seed"
    assert spec.from_dict({k: v for k, v in s.items()
                           if k not in ("layers",)} | {"layers": [
                               {"activation": l["activation"], "weights": l["weights"]} for l in s["layers"]]}).n_params == 8


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_every_sample_exports_schema_valid_json(name, tmp_path, runner):
    run_json = tmp_path / "run.json"
    step_json = tmp_path / "step.json"
    assert runner.invoke(app, ["run", name, "-o", str(run_json)]).exit_code == 0
    assert runner.invoke(app, ["step", name, "--epochs", "20", "--show", "first,last", "-q",
                               "-o", str(step_json)]).exit_code == 0
    VALIDATOR.validate(json.loads(run_json.read_text()))
    doc = json.loads(step_json.read_text())
    VALIDATOR.validate(doc)
    assert len(doc["run"]["loss"]) == 20 and {it["epoch"] for it in doc["iterations"]} == {1, 20}


def test_jsonl_streams_one_record_per_iteration(tmp_path, runner):
    path = tmp_path / "run.jsonl"
    result = runner.invoke(app, ["step", "xor", "--epochs", "150", "-q", "--export", str(path)])
    assert result.exit_code == 0, result.output
    lines = path.read_text().splitlines()
    assert len(lines) == 1 + 150 * 4 + 1  # header, one record per update (4 samples, online), summary
    records = [json.loads(line) for line in lines]
    assert records[0]["kind"] == "header" and records[-1]["kind"] == "summary"
    assert [r["step"] for r in records[1:-1]] == list(range(1, 601))
    for r in records[:20] + records[-20:] + records[::50]:
        VALIDATOR.validate(r)


def test_streaming_keeps_no_traces():
    """With a streaming consumer every step is traced, yet none is kept (flat memory)."""
    from bptrace import trainer

    seen = []
    r = trainer.train(bptrace.load("xor"), trainer.Plan(50), on_trace=lambda it: seen.append(it.step))
    assert len(seen) == 200 and r.traces == []


def test_markdown_golden(tmp_path, runner):
    """tests/golden/blog.md is regenerated with `bptrace run --export tests/golden/blog.md` (see its README)."""
    path = tmp_path / "blog.md"
    assert runner.invoke(app, ["run", "--export", str(path)]).exit_code == 0
    assert path.read_text() == (ROOT / "tests" / "golden" / "blog.md").read_text()


def _math_blocks(text):
    md = MarkdownIt("commonmark").use(dollarmath_plugin, double_inline=True)
    return [t.content for t in md.parse(text) if t.type in ("math_block", "math_block_eqno")]


def _balanced(tex):
    depth = 0
    for ch in re.sub(r"\\[{}]", "", tex):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0 and tex.count(r"\left") == tex.count(r"\right")


def test_markdown_reads_like_the_worked_example():
    text = (ROOT / "tests" / "golden" / "blog.md").read_text()
    blocks = _math_blocks(text)
    assert len(blocks) >= 40
    assert all(_balanced(b) for b in blocks)
    assert r"z_{1} = w_{1}x_{1} + w_{2}x_{2} = 0.3\times0.1 + 0.25\times0.2 = 0.08000000" in [b.strip() for b in blocks]
    assert any(r"\frac{\partial E_{total}}{\partial w_{5}}" in b and "0.02592286" in b for b in blocks)
    printed = {round(float(t), 8) for t in re.findall(r"-?\d+\.\d+", text)}
    assert all(round(v, 8) in printed for v in PUBLISHED.values())
    assert text.count("```mermaid") == 2  # before and after the update
    order = [text.index(h) for h in ("## The network", "## Forward pass", "## Errors", "## Backward pass",
                                     "### Step 1: output layer", "### Step 2: hidden layer 1", "## Updates", "## Check")]
    assert order == sorted(order)


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_markdown_of_every_sample_is_balanced(name):
    trace = bptrace.run(name)
    blocks = _math_blocks(bptrace.to_text(trace, "md"))
    assert blocks and all(_balanced(b) for b in blocks)
    r = bptrace.train(name, epochs=30, show=[1])
    text = bptrace.to_text(r, "md")
    assert all(_balanced(b) for b in _math_blocks(text)) and "xychart-beta" in text


def test_titles_are_escaped():
    d = dict(BLOG, title="<script>alert(1)</script> *bold* [link](x)")
    trace = tracer.run(spec.from_dict(d))
    md = bptrace.to_text(trace, "md")
    assert "<script>" not in md and r"\*bold\*" in md and r"\[link\](x)" in md
    html = bptrace.to_text(trace, "html")
    assert "<script>alert" not in html and "&lt;script&gt;" in html


def test_rich_markup_in_titles_is_shown_literally(runner, tmp_path):
    path = tmp_path / "t.toml"
    path.write_text((ROOT / "samples" / "blog.toml").read_text().replace(
        'title = "Worked example: 2-2-2 sigmoid network"', 'title = "[bold red]x[/] [/oops]"'))
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code == 0 and "[bold red]x[/] [/oops]" in result.output


def test_html_and_svg(tmp_path, runner):
    html, svg = tmp_path / "t.html", tmp_path / "t.svg"
    assert runner.invoke(app, ["run", "-o", str(html), "-o", str(svg)]).exit_code == 0
    h, s = html.read_text(), svg.read_text()
    assert h.lstrip().startswith("<!DOCTYPE html>") and "0.02592286" in h
    assert s.lstrip().startswith("<svg") and "0.02592286" in s


def test_stdout_export_replaces_tables(runner):
    result = runner.invoke(app, ["run", "--export", "-", "--format", "json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["schema"] == "bptrace.trace/1"


@pytest.mark.parametrize("args,message", [
    (["-o", "x.txt"], "cannot tell the format from '.txt'"),
    (["-o", "-"], "writing to stdout needs --format"),
    (["-o", "a.md", "--format", "pdf"], "--format: expected one of json, jsonl, md, html, walk, svg, tex, py, got 'pdf'"),
    (["-o", "/no/such/folder/a.md"], "cannot write /no/such/folder/a.md: the folder /no/such/folder does not exist"),
])
def test_bad_export_paths(runner, args, message):
    result = runner.invoke(app, ["run", *args])
    assert result.exit_code == 2 and message in result.stderr


def test_unwritable_folder_leaves_nothing(tmp_path, runner, monkeypatch):
    # tests may run as root, which ignores folder permissions: simulate the OS refusing
    real_open = atomic.os.open

    def refuse(path, *a, **k):
        if str(path).endswith(".part"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *a, **k)

    monkeypatch.setattr(atomic.os, "open", refuse)
    result = runner.invoke(app, ["run", "-o", str(tmp_path / "a.md")])
    assert result.exit_code == 2 and f"cannot write {tmp_path / 'a.md'}: permission denied" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_failure_midway_leaves_existing_file_intact(tmp_path, runner, monkeypatch):
    target = tmp_path / "a.md"
    target.write_text("precious\n")
    from bptrace.exports import markdown

    def explode(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(markdown, "trace_markdown", explode)
    runner.invoke(app, ["run", "-o", str(target), "-o", str(tmp_path / "b.json")])
    assert target.read_text() == "precious\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.md"]  # no partial b.json, no temporary files


def test_interrupted_step_leaves_no_partial_jsonl(tmp_path, spawn):
    import signal
    import subprocess
    import sys

    from test_signals import wait_for_part

    path = tmp_path / "run.jsonl"
    proc = spawn([sys.executable, "-m", "bptrace", "step", "xor", "--epochs", "10000000", "-q", "-o", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_part(tmp_path, proc)  # records on disk: the training loop is running and listens for Ctrl-C
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    # an interrupted run still ends cleanly: the records so far are committed, nothing partial is left
    files = list(tmp_path.iterdir())
    assert files == [path]
    lines = path.read_text().splitlines()
    assert json.loads(lines[0])["kind"] == "header" and json.loads(lines[-1])["kind"] == "summary"


def test_python_api_in_three_lines(tmp_path):
    trace = bptrace.run()
    assert trace.value("dE_total/dw5") == pytest.approx(0.02592286, abs=5e-9)
    bptrace.export(trace, tmp_path / "blog.md")
    assert (tmp_path / "blog.md").read_text() == (ROOT / "tests" / "golden" / "blog.md").read_text()


def test_python_api_from_dict_and_training():
    r = bptrace.train(BLOG, epochs=10)
    assert len(r.loss) == 10 and r.loss[-1] < r.loss[0]
    assert "<table" in bptrace.run(BLOG)._repr_html_() or "<pre" in bptrace.run(BLOG)._repr_html_()


def test_json_quantities_carry_identity_and_latex_formula():
    doc = json.loads(json_.trace_json(tracer.run(spec.from_dict(BLOG))))
    VALIDATOR.validate(doc)
    q = doc["quantities"]
    assert q["w5"] == {"kind": "weight", "layer": 2, "neuron": 1, "source": 1, "latex": "w_{5}"}
    assert q["target_o1"]["kind"] == "target" and q["x2"]["kind"] == "input"
    assert q["dE_total/dw5"]["kind"] == "gradient" and q["dE_total/dw5"]["by"] == "w5"
    assert q["z1"]["formula"] == "w_{1}x_{1} + w_{2}x_{2}"
    assert q["z1+"]["formula"] == "w_{1}^{+}x_{1} + w_{2}^{+}x_{2}" and q["z1+"]["after_update"] is True
    # every quantity of the iteration is described
    names = {name for _, name, _ in tracer.run(spec.from_dict(BLOG)).iterations[0].quantities()}
    assert names <= set(q)


def test_jsonl_header_carries_the_quantities():
    first = json.loads(json_.trace_jsonl(tracer.run(spec.from_dict(BLOG))).splitlines()[0])
    VALIDATOR.validate(first)
    assert first["kind"] == "header" and first["quantities"]["o1"]["kind"] == "output"


@pytest.mark.parametrize("size,words", [(61e6, "61 MB"), (85_668e6, "86 GB"), (1.1e6, "1.1 MB"),
                                        (2.5e12, "2.5 TB"), (999e3, "999 kB")])
def test_sizes_in_words(size, words):
    from bptrace.progress import _size

    assert _size(size) == words


def test_a_long_jsonl_export_says_its_size_up_front(runner, tmp_path, monkeypatch):
    import re

    from bptrace import progress

    monkeypatch.setattr(progress, "JSONL_NOTE_BYTES", 1_000_000)
    path = tmp_path / "run.jsonl"
    result = runner.invoke(app, ["step", "xor", "--epochs", "40", "--export", str(path)])
    assert result.exit_code == 0
    note = re.search(r"about ([\d.,]+) (kB|MB|GB) \(([\d,]+) records\)", result.stderr)
    assert note, result.stderr
    assert int(note.group(3).replace(",", "")) == 40 * 4  # xor: 4 samples, online
    said = float(note.group(1).replace(",", "")) * {"kB": 1e3, "MB": 1e6, "GB": 1e9}[note.group(2)]
    actual = path.stat().st_size
    assert abs(said - actual) <= 0.2 * actual
    quiet = runner.invoke(app, ["step", "xor", "--epochs", "40", "--export", str(path), "-q"])
    assert "note:" not in quiet.stderr
