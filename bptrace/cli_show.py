"""What the CLI's smaller commands print (check, validate, samples, docs): CLI-side, beside terminal.py.

Each function takes what one library call returned and prints it, or exits with the command's code;
cli.py keeps the commands themselves to parse, call, show."""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from .errors import UsageError, clip, safe_text
from .terminal import err, out


def check_reports(answers: list[str], reports: list, precision: int) -> None:
    """`check`: each answers file's report (a rule names the file when there are several); exit 1 if any is wrong."""
    from .render.check import check_report

    for a, report_ in zip(answers, reports):
        if len(answers) > 1:
            out.rule(escape(safe_text(a)))
        out.print(check_report(report_, precision))
    if not all(r.ok for r in reports):
        raise typer.Exit(1)


def class_summary(s, answers: list[str], export: str | None, naming: str | None, rounding: int | None) -> None:
    """`check --summary`: one row per answers file; --export writes it as .csv or .md."""
    from .atomic import write_text
    from .check import summary
    from .exports.summary import FORMATS
    from .render.check import summary_table

    ext = None if export in (None, "-") else next((e for e in FORMATS if export.lower().endswith(e)), "")
    if ext == "":
        raise UsageError(f"--export: expected a .csv or .md file, got '{clip(safe_text(export))}'")
    rows = summary(s, answers, naming, rounding)
    if export == "-":
        sys.stdout.write(FORMATS[".csv"](rows))
    else:
        out.print(summary_table(rows))
        if ext:
            write_text(export, FORMATS[ext](rows))
            err.print(f"wrote {escape(safe_text(export))}", highlight=False)
    if any(r.error for r in rows):
        raise typer.Exit(2)
    if not all(r.ok for r in rows):
        raise typer.Exit(1)


def valid_spec(s) -> None:
    """`validate`: the network, and one line saying the spec is valid."""
    from .fmt import counted
    from .naming import for_spec
    from .render.tables import summary

    out.print(summary(s, for_spec(s)))
    out.print(f"[green]✓[/] {escape(safe_text(s.source))} is a valid spec: {counted(len(s.samples), 'sample')}, "
              f"{counted(s.n_params, 'parameter')}.")


def sample_list() -> None:
    """`samples` without a name: the table of built-in specs and how to use one."""
    from .render.samples import samples_table

    out.print(samples_table())
    out.print("\nRun one with [bold]bptrace run NAME[/]; copy one with [bold]bptrace samples NAME > my.toml[/].")


def docs_topic(topic: str | None) -> None:
    """`docs`: the topics, or one topic (as Markdown on a terminal, as its text otherwise)."""
    from . import guide

    if topic is None:
        for name, (_, what) in guide.TOPICS.items():
            out.print(f"[cyan]{name:<16}[/] {what}", highlight=False)
        out.print("\nRead one with [bold]bptrace docs TOPIC[/].")
        return
    text = guide.text(topic)
    if out.is_terminal:
        from rich.markdown import Markdown

        out.print(Markdown(text))
    else:
        sys.stdout.write(text)
