"""`labrunner check --watch [--interval S] [ID…]`: the command (the watching itself is labrunner.watch)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from labrunner.errors import UsageError
from labrunner.watch import Watch, WatchView, check_interval

if TYPE_CHECKING:
    from labrunner.events import Listener
    from labrunner.model import Report
    from labrunner.options import Options


def run_watch_command(options: Options) -> int:
    """`labrunner check --watch [--interval S] [ID…]`."""
    from rich.console import Console

    from labrunner import interrupt
    from labrunner.aws.throttling import ThrottleCounter
    from labrunner.context import Context
    from labrunner.options import load_catalogue, open_context
    from labrunner.reporting.watch import LiveWatchView, PlainWatchView
    from labrunner.runner import Runner

    if not options.watch:
        raise UsageError("--interval applies to check --watch only")
    interval = check_interval(options.interval)
    if getattr(options, "format", None) not in (None, "text") or getattr(options, "output", None) is not None:
        raise UsageError("check --watch shows a live view (or a line per change): --format and --output do not apply")
    interrupt.ctrl_c_ends_cleanly()  # watching ends with Ctrl-C: exit 0
    try:
        catalogue = load_catalogue(options)
        steps = catalogue.select(list(options.ids))
        ctx = open_context(options)
        throttles = ThrottleCounter().attach(ctx.target.session)

        def check_round(listener: Listener) -> Report:
            fresh = Context(ctx.target, ctx.settings)  # each round observes the account anew, read-only
            return Runner(fresh, catalogue, listener, jobs=options.jobs).check(steps)

        heading = (
            f"watching {len(steps)} steps of {ctx.kind} account {ctx.account_id} ({ctx.region}, stack "
            f"{ctx.stack_name}), checking every {interval:g} s; Ctrl-C stops"
        )
        console = Console(highlight=False)
        view: WatchView
        if console.is_terminal:
            view = LiveWatchView(console, steps, heading)
        else:
            print(f"labrunner: {heading}", file=sys.stderr, flush=True)
            view = PlainWatchView(sys.stdout, sys.stderr)
        return Watch(check_round, view, interval, throttles=throttles.take).run()
    except KeyboardInterrupt:
        return 0
