"""`labrunner reset`: remove exactly what the lab created, with a plan first and proof after (SPEC §7)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labrunner.context import Context


def run_reset_command(args: argparse.Namespace, open_context: Callable[[argparse.Namespace], Context]) -> int:
    """The CLI's seam (imported lazily, so `labrunner --help` stays fast)."""
    from labrunner.reset.command import run_reset_command as run

    return run(args, open_context)
