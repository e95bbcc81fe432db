"""docs/worked-example.md, the users' copy of the published example, agrees with bptrace.

The numbers are read from the document's tables (restated from the post, not from bptrace), so a
typo in the document or a regression in the engine both fail here.
"""

import re
from decimal import Decimal

import pytest

import bptrace
from conftest import PUBLISHED, ROOT

DOC = (ROOT / "docs" / "worked-example.md").read_text(encoding="utf-8")


def _ascii(name: str) -> str:
    return name.replace("∂", "d").replace("⁺", "+").strip()


def published_rows() -> dict[str, str]:
    """name -> the number as the document prints it, from every table after 'Forward pass'."""
    rows, check = {}, False
    for section in re.split(r"^## ", DOC, flags=re.M):
        if not section.startswith(("Forward", "Backward", "Check")):
            continue
        check = section.startswith("Check")
        for name_cell, value_cell in re.findall(r"^\| ([^|]+) \| ([-\d.,() a-z]+) \|$", section, flags=re.M):
            names = [_ascii(n.split(" = ")[0]) for n in name_cell.split(",")]
            values = re.findall(r"\d+\.\d+", value_cell)
            for n, v in zip(names, values):
                rows[n + ("+" if check else "")] = v
    return rows


ROWS = published_rows()


def test_the_document_has_every_published_number():
    assert len(ROWS) == len(PUBLISHED) == 51
    assert {k: float(v) for k, v in ROWS.items()} == PUBLISHED


@pytest.mark.parametrize("name", sorted(ROWS))
def test_bptrace_reproduces_each_number_of_the_document(name):
    trace = bptrace.run("blog")
    value = trace.value(name)
    shown = Decimal(ROWS[name])
    assert Decimal(repr(value)).quantize(shown) == shown, (name, value, shown)


def test_the_document_cites_the_post():
    assert "박재한" in DOC and "7 February 2022" in DOC
