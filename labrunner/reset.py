"""`labrunner reset` (SPEC §7) — being built (issue 7)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from labrunner.errors import UsageError


def run_reset_command(args: argparse.Namespace, open_context: Callable[[argparse.Namespace], Any]) -> int:
    raise UsageError("reset is not available in this version yet")
