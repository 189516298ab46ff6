"""`--output`: a file, or a folder when it ends with a slash or is an existing directory.

pathlib drops a trailing slash (`Path("reports/") == Path("reports")`), so the parsed option keeps
it as a type: `FolderPath`.
"""

from __future__ import annotations

import os
from pathlib import Path, PosixPath

from labrunner.errors import UsageError


class FolderPath(PosixPath):
    """An --output given with a trailing slash: a folder to create, never a file."""


def parse_output(value: str) -> Path:
    """argparse type of --output."""
    if not value:
        raise UsageError("--output needs a file or folder name")
    return FolderPath(value) if value.endswith(("/", os.sep)) else Path(value)


def names_folder(output: Path) -> bool:
    return isinstance(output, FolderPath) or output.is_dir()


def check_folder(output: Path) -> None:
    """Refuse a folder --output that cannot be created or written, before any work is done."""
    if output.exists() and not output.is_dir():
        raise UsageError(f"cannot write reports into {output}: it is a file, not a folder")
    existing = next(place for place in (output, *output.absolute().parents) if place.exists())
    if not existing.is_dir():
        raise UsageError(f"cannot create {output}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK):
        raise UsageError(f"cannot write reports into {output}: {existing} is not writable")


def make_folder(output: Path) -> None:
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {output}: {exc.strerror}") from exc
