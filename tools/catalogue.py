"""Regenerate the message template from the source and merge it into every language's catalogue:

    python tools/catalogue.py        # bptrace/locale/bptrace.pot, then each LANG/LC_MESSAGES/bptrace.po

New messages arrive in each .po with an empty msgstr (tests/test_i18n.py fails until they are translated);
messages gone from the source are dropped. Translations themselves are edited in the .po files."""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "bptrace" / "locale"
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}


def template() -> Catalog:
    """Every message of the source (`_()`, `N_()`, `ngettext()` calls), as Babel extracts them."""
    catalog = Catalog(project="bptrace", charset="utf-8")
    for filename, lineno, message, comments, context in extract_from_dir(
            ROOT / "bptrace", method_map=[("**.py", "python")], keywords=KEYWORDS, comment_tags=("i18n:",)):
        catalog.add(message, locations=[(f"bptrace/{filename}", lineno)], auto_comments=comments)
    return catalog


def main() -> None:
    pot = template()
    with (LOCALE / "bptrace.pot").open("wb") as f:
        write_po(f, pot, width=100, no_location=True, sort_output=True)
    for po_path in sorted(LOCALE.glob("*/LC_MESSAGES/bptrace.po")):
        with po_path.open("rb") as f:
            catalog = read_po(f)
        catalog.update(pot, no_fuzzy_matching=True)
        with po_path.open("wb") as f:
            write_po(f, catalog, width=100, no_location=True, ignore_obsolete=True, sort_output=True)
        missing = [m.id for m in catalog if m.id and not m.string]
        print(f"{po_path.relative_to(ROOT)}: {len(missing)} untranslated", file=sys.stderr)


if __name__ == "__main__":
    main()
