"""A class's `check --summary` as CSV or Markdown text (one row per answers file)."""

from __future__ import annotations

import csv
import io

from ..i18n import N_, _
from .markdown import text as md_text

HEAD = (N_("file"), N_("held"), N_("total"), N_("first misconception or wrong claim"))  # _() where shown


def cells(r) -> tuple[str, str, str, str]:
    if r.error:
        return r.file, "", "", f"not graded: {r.error}"
    return r.file, str(r.held), str(r.total), r.first


def to_csv(rows) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(HEAD)
    w.writerows(cells(r) for r in rows)
    return out.getvalue()


def to_markdown(rows) -> str:
    lines = ["| " + " | ".join(map(_, HEAD)) + " |",  # the CSV keeps English headers, for scripts
              "|---|---:|---:|---|"]
    lines += ["| " + " | ".join(md_text(c) for c in cells(r)) + " |" for r in rows]
    return "\n".join(lines) + "\n"


FORMATS = {".csv": to_csv, ".md": to_markdown}
