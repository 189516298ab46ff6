"""`labrunner class` (SPEC §8) — being built (issue 7)."""

from __future__ import annotations

import argparse

from labrunner.errors import UsageError


def run_class_command(args: argparse.Namespace) -> int:
    raise UsageError("class mode is not available in this version yet")
