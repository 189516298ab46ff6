"""`labrunner check --watch`: check again and again, read-only, until Ctrl-C (SPEC §3).

The logic only: rounds on a fixed schedule, a round skipped while the previous one still runs,
the interval doubled while AWS throttles and halved back once it has stopped, and what changed from one
round to the next (compared when a round ends, in catalogue order). How it
is shown (a live view on a terminal, one line per change elsewhere) is reporting/watch.py.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from labrunner.errors import UsageError
from labrunner.events import Listener
from labrunner.model import Report, Status, StepResult

DEFAULT_INTERVAL_S = 10.0
BACKOFF_FACTOR = 2.0
MAX_BACKOFF = 16  # throttled rounds stretch the interval to at most this many times --interval …
MAX_BACKOFF_S = 600.0  # … and at most ten minutes (unless --interval itself is longer)
RECOVER_AFTER = 3  # unthrottled rounds in a row before the interval halves back (no see-saw at AWS's limit)


@dataclass(frozen=True)
class Change:
    """A step's status changed between two rounds (`before` is None in the first round)."""

    at: datetime
    step: StepResult
    before: Status | None

    @property
    def after(self) -> Status:
        return self.step.status


@dataclass(frozen=True)
class RoundEnd:
    number: int
    report: Report | None  # None: the round could not run (the message says why)
    message: str
    throttled: int  # throttled answers from AWS during the round
    interval_s: float  # the interval from now on
    previous_interval_s: float


class WatchView(Protocol):
    def round_started(self, number: int) -> None: ...
    def step_finished(self, result: StepResult) -> None: ...
    def changed(self, change: Change) -> None: ...
    def round_finished(self, end: RoundEnd) -> None: ...
    def round_skipped(self, number: int, running_s: float) -> None: ...
    def next_round_at(self, monotonic_at: float) -> None: ...
    def stop(self) -> None: ...


def backed_off(current_s: float, base_s: float, throttled: int) -> float:
    """The interval after a round: doubled if AWS throttled, else halved back towards --interval."""
    ceiling = max(base_s, min(base_s * MAX_BACKOFF, MAX_BACKOFF_S))
    if throttled:
        return min(current_s * BACKOFF_FACTOR, ceiling)
    return max(base_s, current_s / BACKOFF_FACTOR)


class _RoundListener(Listener):
    def __init__(self, watch: Watch) -> None:
        self.watch = watch

    def step_finished(self, result: StepResult) -> None:
        self.watch.view.step_finished(result)  # the live view shows each step as it comes in


class Watch:
    """Runs `check_round` (one read-only check, reporting to the listener it is given) on a schedule."""

    def __init__(
        self,
        check_round: Callable[[Listener], Report],
        view: WatchView,
        interval_s: float,
        *,
        throttles: Callable[[], int] = lambda: 0,
        now: Callable[[], datetime] = datetime.now,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        poll_s: float = 0.25,
    ) -> None:
        self.check_round = check_round
        self.view = view
        self.base_s = interval_s
        self.interval_s = interval_s
        self.throttles = throttles
        self.now = now
        self.clock = clock
        self.sleep = sleep
        self.poll_s = poll_s  # how often the schedule looks at the interval again while it waits
        self.statuses: dict[str, Status] = {}
        self.rounds = 0
        self.skipped = 0
        self.changes = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._round_started = 0.0
        self._clean_rounds = 0  # rounds in a row that AWS did not throttle

    # -- one round (in its own thread, so that Ctrl-C never waits for it) ------------------------
    def changes_in(self, report: Report) -> list[Change]:
        """The steps whose status differs from the previous round's, in catalogue order."""
        at = self.now()
        changes = []
        with self._lock:
            for result in report.steps:
                before = self.statuses.get(result.id)
                self.statuses[result.id] = result.status
                if before is not result.status:
                    changes.append(Change(at, result, before))
                    self.changes += before is not None
        return changes

    def _round(self, number: int) -> None:
        self.view.round_started(number)
        report: Report | None = None
        message = ""
        try:
            report = self.check_round(_RoundListener(self))
        except Exception as exc:  # e.g. the credentials expired: say so, and try again next round
            message = " / ".join(line.strip() for line in str(exc).splitlines() if line.strip())
            message = message or type(exc).__name__
        for change in self.changes_in(report) if report is not None else []:
            self.view.changed(change)
        throttled = self.throttles()
        with self._lock:
            previous = self.interval_s
            self._clean_rounds = 0 if throttled else self._clean_rounds + 1
            if throttled or self._clean_rounds >= RECOVER_AFTER:
                self.interval_s = backed_off(previous, self.base_s, throttled)
                self._clean_rounds = 0
            interval = self.interval_s
        self.view.round_finished(RoundEnd(number, report, message, throttled, interval, previous))

    # -- the schedule (main thread) --------------------------------------------------------------
    def tick(self) -> None:
        """Start a round, unless the previous one still runs: then this one is skipped."""
        if self._thread is not None and self._thread.is_alive():
            self.skipped += 1
            self.view.round_skipped(self.rounds, self.clock() - self._round_started)
            return
        self.rounds += 1
        self._round_started = self.clock()
        self._thread = threading.Thread(target=self._round, args=(self.rounds,), name="watch-round", daemon=True)
        self._thread.start()

    def run(self) -> int:
        """Until Ctrl-C (KeyboardInterrupt in the main thread), which is the normal end: 0."""
        try:
            last = self.clock()
            self.tick()
            while True:
                with self._lock:  # re-read while waiting: the round that just ended may have backed off
                    interval = self.interval_s
                due = last + interval
                self.view.next_round_at(due)
                delay = due - self.clock()
                if delay > 0:
                    self.sleep(min(delay, self.poll_s))
                    continue
                last = due if self.clock() - due < interval else self.clock()  # after a suspend: no burst
                self.tick()
        except KeyboardInterrupt:
            pass
        finally:
            self.view.stop()
        return 0


# -- the command ------------------------------------------------------------------------------------
def check_interval(value: float | None) -> float:
    interval = DEFAULT_INTERVAL_S if value is None else value
    if not (math.isfinite(interval) and interval > 0):
        raise UsageError(f"--interval must be a positive number of seconds, not {value}")
    return interval
