"""The built-in sample specs, shipped as package data (identical to the repository's samples/)."""

from __future__ import annotations

from pathlib import Path

from .errors import UsageError, clip

DEFAULT = "blog"
FOLDER = Path(__file__).parent / "data" / "samples"


def names() -> list[str]:
    """Built-in specs (answers files, named *-answers, are listed with their spec)."""
    return sorted(p.stem for p in FOLDER.glob("*.toml") if not p.stem.endswith("-answers"))


def starter() -> str:
    return (FOLDER.parent / "starter.toml").read_text(encoding="utf-8")


def _is_file(path: Path) -> bool:
    """Path.is_file, but False (not OSError) for a name too long for the file system."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def text(name: str) -> str:
    if name.endswith(".toml"):
        name = name[:-5]
    if not _is_file(FOLDER / f"{name}.toml"):
        raise UsageError(f"no built-in sample named '{clip(name)}'; built-in samples: {', '.join(names())}")
    return (FOLDER / f"{name}.toml").read_text(encoding="utf-8")


def resolve(spec: str | None) -> tuple[str, str | None]:
    """(label, text) for a built-in sample, or (path, None) for a file to read.

    No SPEC means the worked example; a name that is not an existing file but is a
    built-in sample's name means that sample.
    """
    if spec is None:
        return f"{DEFAULT}.toml (built-in)", text(DEFAULT)
    stem = spec.removesuffix(".toml")
    if not _exists(Path(spec)) and "/" not in spec and _is_file(FOLDER / f"{stem}.toml"):
        return f"{stem}.toml (built-in)", text(stem)
    return spec, None
