"""`bptrace check SPEC answers/*.toml --summary`: one row per file for a whole class (issue 12, item 5)."""

import csv
import io

from bptrace.cli import app
from conftest import PUBLISHED


def write(folder, name, text):
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def class_of(tmp_path):
    right = write(tmp_path, "ann.toml", f'z1 = 0.08\n"dE_total/dw5" = {PUBLISHED["dE_total/dw5"]:.8f}\n')
    # ∂E_total/∂o1 = −(target_o1 − o1) written with the opposite sign, from the published o1
    sign = write(tmp_path, "bob.toml", f'z1 = 0.08\n"dE_total/do1" = {0.4 - PUBLISHED["o1"]:.6f}\n')
    slip = write(tmp_path, "cy.toml", "h1 = 0.5301\nz1 = 0.08\n")
    return [right, sign, slip]


def test_one_row_per_file_as_csv(runner, tmp_path):
    result = runner.invoke(app, ["check", "blog", *class_of(tmp_path), "--summary", "--export", "-"])
    assert result.exit_code == 1  # some answers are wrong, every file was graded
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["file", "held", "total", "first misconception or wrong claim"]
    by_file = {r[0].rsplit("/", 1)[-1]: r[1:] for r in rows[1:]}
    assert by_file == {"ann.toml": ["2", "2", ""], "bob.toml": ["1", "2", "sign of ∂E/∂o (dE_total/do1)"],
                       "cy.toml": ["1", "2", "h1 wrong"]}


def test_markdown_export_and_terminal_table(runner, tmp_path):
    md = tmp_path / "class.md"
    result = runner.invoke(app, ["check", "blog", *class_of(tmp_path), "--summary", "-o", str(md)])
    assert result.exit_code == 1
    assert "1 of 3 graded files all right" in result.output
    text = md.read_text()
    assert text.startswith("| file | held | total |") and text.count("\n") == 5
    assert "sign of ∂E/∂o (dE\\_total/do1)" in text


def test_an_unreadable_file_is_a_row_not_an_abort(runner, tmp_path):
    files = class_of(tmp_path) + [write(tmp_path, "empty.toml", "")]
    result = runner.invoke(app, ["check", "blog", *files, "--summary", "-o", "-"])
    assert result.exit_code == 2
    last = list(csv.reader(io.StringIO(result.stdout)))[-1]
    assert last[0].endswith("empty.toml") and last[3].startswith("not graded: the file is empty; expected an answers file")


def test_export_needs_csv_or_md(runner, tmp_path):
    result = runner.invoke(app, ["check", "blog", *class_of(tmp_path), "--summary", "-o", str(tmp_path / "x.pdf")])
    assert result.exit_code == 2 and "--export: expected a .csv or .md file" in result.stderr


def test_several_files_without_summary_show_each_report(runner, tmp_path):
    files = class_of(tmp_path)[:1] * 2
    result = runner.invoke(app, ["check", "blog", *files])
    assert result.exit_code == 0 and result.output.count("2 of 2 claims hold") == 2
