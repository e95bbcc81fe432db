"""The built-in sample specs, shipped as package data (identical to the repository's samples/)."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import UsageError, clip, did_you_mean

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
    """Path.exists, but True for a broken symbolic link or a name the system refuses (too long): the
    spec's loader says what is wrong with those."""
    try:
        os.lstat(path)
    except FileNotFoundError:
        return False
    except (OSError, ValueError):
        pass
    return True


def _stems() -> list[str]:
    """Every built-in file's name: the specs and their answers files (blog-answers)."""
    return sorted(p.stem for p in FOLDER.glob("*.toml"))


def text(name: str) -> str:
    if name.endswith(".toml"):
        name = name[:-5]
    if not _is_file(FOLDER / f"{name}.toml"):
        raise UsageError(f"no built-in sample named '{clip(name)}'{did_you_mean(name, _stems())}; "
                         f"built-in samples: {', '.join(names())}")
    return (FOLDER / f"{name}.toml").read_text(encoding="utf-8")


def resolve(spec: str | None) -> tuple[str, str | None]:
    """(label, text) for a built-in sample, or (path, None) for a file to read.

    No SPEC means the worked example; a name that is not an existing file but is a
    built-in sample's name means that sample. A bare name that is neither is refused
    here, where both places it was looked for can be named (with the nearest sample).
    """
    if spec is None:
        return f"{DEFAULT}.toml (built-in)", text(DEFAULT)
    if not spec.strip():
        raise UsageError(f"'{spec}' is an empty name; expected a spec file or a built-in sample's name ({', '.join(names())})")
    stem = spec.removesuffix(".toml")
    if _exists(Path(spec)) or "/" in spec or os.sep in spec:
        return spec, None
    if _is_file(FOLDER / f"{stem}.toml"):
        return f"{stem}.toml (built-in)", text(stem)
    near = did_you_mean(stem, _stems())
    if spec.endswith(".toml") and not near:  # clearly a file name: the loader's "no such file"
        return spec, None
    raise UsageError(f"{clip(spec)}: no such file, and no built-in sample of that name"
                     f"{near}; built-in: {', '.join(names())}")
