"""`labrunner reset`: remove exactly what the lab created, with a plan first and proof after (SPEC §7)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labrunner.context import Context
    from labrunner.options import Options


def run_reset_command(options: Options, open_context: Callable[[Options], Context]) -> int:
    """The CLI's seam (imported lazily, so `labrunner --help` stays fast)."""
    from labrunner.reset.command import run_reset_command as run

    return run(options, open_context)
