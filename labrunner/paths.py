"""Where the lab content lives: the checkout, or inside the installed package (SPEC §1)."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from labrunner.errors import UsageError

PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def content_root() -> Path:
    """The checkout root when running from one, else the copy bundled into the wheel."""
    checkout = PACKAGE_DIR.parent
    if (checkout / "labs").is_dir() and (checkout / "pyproject.toml").is_file():
        return checkout
    return PACKAGE_DIR / "_bundled"


def labs_dir() -> Path:
    return content_root() / "labs"


def sample_files_dir() -> Path:
    return content_root() / "sample_s3_files"


def template(name: str = "cloudformation_template.yaml") -> Path:
    path = content_root() / name
    if not path.is_file():
        raise UsageError(f"template file {name} is missing (looked in {content_root()})")
    return path


def sample_files() -> list[Path]:
    files = sorted(p for p in sample_files_dir().glob("*") if p.is_file())
    if not files:
        raise UsageError(f"no sample files in {sample_files_dir()}")
    return files


def home() -> Path:
    """labrunner's own state directory ($LABRUNNER_HOME, else the XDG state dir)."""
    explicit = os.environ.get("LABRUNNER_HOME")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "labrunner"
