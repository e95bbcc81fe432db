"""Exporters: read a trace (or a training run) and return text. They never write files.

FORMATS maps a format name to (render function for `run`, render function for `step`).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import UsageError

FORMATS = ("json", "jsonl", "md", "html", "svg", "tex", "py")
EXTENSIONS = {".json": "json", ".jsonl": "jsonl", ".md": "md", ".markdown": "md", ".html": "html",
              ".htm": "html", ".svg": "svg",
              ".tex": "tex", ".py": "py"}  # py: a PyTorch script (exports/torch_.py)


def format_for(path: str, forced: str | None = None) -> str:
    """The export format: --format if given, else the file's extension."""
    if forced is not None:
        if forced not in FORMATS:
            raise UsageError(f"--format: expected one of {', '.join(FORMATS)}, got '{forced}'")
        return forced
    if path == "-":
        raise UsageError("--export -: writing to stdout needs --format (json, jsonl, md, html, svg, tex or py)")
    ext = Path(path).suffix.lower()
    if ext not in EXTENSIONS:
        raise UsageError(f"--export {path}: cannot tell the format from '{ext or 'no extension'}'; "
                         f"use .json, .jsonl, .md, .html, .svg, .tex or .py, or give --format")
    return EXTENSIONS[ext]
