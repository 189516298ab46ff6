"""Ask a person to confirm a destructive reset by typing what it destroys (SPEC §7)."""

from __future__ import annotations

import sys
from typing import TextIO

from labrunner.errors import UsageError


def confirm_typed(expected: str, what: str, *, stdin: TextIO | None = None, prompt: TextIO | None = None) -> None:
    """Return only when the user typed `expected` on a terminal; refuse (exit 2) otherwise."""
    stdin = stdin if stdin is not None else sys.stdin
    prompt = prompt if prompt is not None else sys.stderr
    if stdin is None or not stdin.isatty():
        raise UsageError(f"refusing to reset {what} without confirmation: not on a terminal (pass --yes to confirm)")
    prompt.write(f"This deletes what the lab created in {what}. Type {expected} to go on: ")
    prompt.flush()
    answer = stdin.readline().strip()
    if answer != expected:
        raise UsageError(f"reset cancelled: you typed {answer!r}, not {expected}")
