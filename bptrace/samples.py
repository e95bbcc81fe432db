"""The built-in sample specs, shipped as package data (identical to the repository's samples/)."""

from __future__ import annotations

from pathlib import Path

from .errors import UsageError

DEFAULT = "blog"
FOLDER = Path(__file__).parent / "data" / "samples"


def names() -> list[str]:
    """Built-in specs (answers files, named *-answers, are listed with their spec)."""
    return sorted(p.stem for p in FOLDER.glob("*.toml") if not p.stem.endswith("-answers"))


def starter() -> str:
    return (FOLDER.parent / "starter.toml").read_text(encoding="utf-8")


def text(name: str) -> str:
    if name.endswith(".toml"):
        name = name[:-5]
    if not (FOLDER / f"{name}.toml").is_file():
        raise UsageError(f"no built-in sample named '{name}'; built-in samples: {', '.join(names())}")
    return (FOLDER / f"{name}.toml").read_text(encoding="utf-8")


def resolve(spec: str | None) -> tuple[str, str | None]:
    """(label, text) for a built-in sample, or (path, None) for a file to read.

    No SPEC means the worked example; a name that is not an existing file but is a
    built-in sample's name means that sample.
    """
    if spec is None:
        return f"{DEFAULT}.toml (built-in)", text(DEFAULT)
    stem = spec.removesuffix(".toml")
    if not Path(spec).exists() and "/" not in spec and (FOLDER / f"{stem}.toml").is_file():
        return f"{stem}.toml (built-in)", text(stem)
    return spec, None
