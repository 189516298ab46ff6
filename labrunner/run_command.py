"""`labrunner check|solve|up [ID…]`: the command, taking the typed options (labrunner.options)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from labrunner.errors import UsageError
from labrunner.options import Options, check_output_path, load_catalogue, open_context

if TYPE_CHECKING:
    from labrunner.model import Report


def _opt(options: Options, name: str, default: Any = None) -> Any:
    value = getattr(options, name, None)
    return default if value is None else value


def make_listener(options: Options) -> Any:
    from rich.console import Console

    from labrunner.events import Listener
    from labrunner.reporting.text import LiveListener, PlainListener

    fmt = _opt(options, "format", "text")
    if fmt != "text" and _opt(options, "output") is None:
        return Listener()  # stdout carries the report itself
    debug = bool(_opt(options, "debug", False))
    console = Console(highlight=False)
    if console.is_terminal:
        return LiveListener(console, debug)
    return PlainListener(Console(highlight=False, soft_wrap=True), debug)


def emit_report(options: Options, report: Report) -> int:
    from labrunner.reporting import render

    fmt = _opt(options, "format", "text")
    output = _opt(options, "output")
    if output is not None:
        try:
            output.write_text(render(report, fmt))
        except OSError as exc:
            raise UsageError(f"cannot write {output}: {exc.strerror}") from exc
    elif fmt != "text":
        sys.stdout.write(render(report, fmt))
    return report.exit_code


def run_steps(options: Options, mode: str, ids: Sequence[str]) -> int:
    """Check or solve the selected steps, render the report; the exit code (SPEC §3)."""
    from labrunner.runner import Runner

    check_output_path(options)
    catalogue = load_catalogue(options)
    steps = catalogue.select(list(ids))
    ctx = open_context(options)
    runner = Runner(ctx, catalogue, make_listener(options), jobs=int(_opt(options, "jobs", 8)))
    report = runner.solve(steps) if mode == "solve" else runner.check(steps)
    return emit_report(options, report)
