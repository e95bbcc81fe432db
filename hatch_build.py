"""Build hook: compiles every message catalogue (bptrace/locale/*/LC_MESSAGES/bptrace.po) to its .mo
with Babel, for wheels and editable installs alike; the .mo files are build products (.gitignore)."""

from __future__ import annotations

from pathlib import Path

try:
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface
except ImportError:  # tests/test_i18n.py imports compile_catalogues alone, without hatchling
    BuildHookInterface = object


def compile_catalogues(root: Path) -> list[Path]:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po in sorted((root / "bptrace" / "locale").glob("*/LC_MESSAGES/*.po")):
        with po.open("rb") as f:
            catalog = read_po(f)
        mo = po.with_suffix(".mo")
        with mo.open("wb") as f:
            write_mo(f, catalog)
        written.append(mo)
    return written


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version, build_data):
        root = Path(self.root)
        for mo in compile_catalogues(root):  # .gitignore'd, so included by name
            build_data["force_include"][str(mo)] = str(mo.relative_to(root))
