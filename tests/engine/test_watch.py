"""`check --watch` logic with a scripted check: changes between rounds, skipped rounds, backoff."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from labrunner.errors import UsageError
from labrunner.events import Listener
from labrunner.model import Report, Status, StepResult
from labrunner.reporting.watch import change_line
from labrunner.watch import MAX_BACKOFF, Change, RoundEnd, Watch, backed_off, check_interval


def report_of(**statuses: Status) -> Report:
    steps = tuple(
        StepResult(
            id=step_id.replace("_", ".", 1).replace("_", "-"), lab="lab2", title=step_id, status=status, controls=()
        )
        for step_id, status in statuses.items()
    )
    return Report("check", "local", "123456789012", "us-east-1", "immersion", datetime.now(UTC), 0.1, steps)


class Recorder:
    """A view that remembers what it was told."""

    def __init__(self) -> None:
        self.changes: list[Change] = []
        self.ends: list[RoundEnd] = []
        self.skipped: list[int] = []
        self.stopped = False

    def round_started(self, number: int) -> None:
        pass

    def step_finished(self, result: StepResult) -> None:
        pass

    def changed(self, change: Change) -> None:
        self.changes.append(change)

    def round_finished(self, end: RoundEnd) -> None:
        self.ends.append(end)

    def round_skipped(self, number: int, running_s: float) -> None:
        self.skipped.append(number)

    def next_round_at(self, monotonic_at: float) -> None:
        pass

    def stop(self) -> None:
        self.stopped = True


class Clock:
    """Fake time. Sleeping first waits for the running round (unless told not to); Ctrl-C comes
    once `stop_when` holds."""

    def __init__(self, stop_when: Callable[[Watch], bool], *, wait_for_round: bool = True) -> None:
        self.t = 0.0
        self.stop_when = stop_when
        self.wait_for_round = wait_for_round
        self.watch: Watch | None = None
        self.starts: list[float] = []

    def clock(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        assert self.watch is not None
        if self.wait_for_round and self.watch._thread is not None:
            self.watch._thread.join()
        if self.stop_when(self.watch):
            raise KeyboardInterrupt  # Ctrl-C
        self.t += seconds


def after_rounds(n: int) -> Callable[[Watch], bool]:
    return lambda watch: watch.rounds >= n


def make_watch(rounds: list[Report], view: Recorder, clock: Clock, interval: float = 5, **kw: Any) -> Watch:
    script = iter(rounds)

    def check_round(listener: Listener) -> Report:
        clock.starts.append(clock.t)
        report = next(script)
        for step in report.steps:
            listener.step_finished(step)
        return report

    watch = Watch(check_round, view, interval, clock=clock.clock, sleep=clock.sleep, poll_s=1000, **kw)
    clock.watch = watch
    return watch


def test_a_line_for_each_status_change_and_ctrl_c_is_exit_0() -> None:
    rounds = [
        report_of(lab2_encryption=Status.PASS, lab2_access_logging=Status.FAIL),
        report_of(lab2_encryption=Status.PASS, lab2_access_logging=Status.FAIL),
        report_of(lab2_encryption=Status.PASS, lab2_access_logging=Status.PASS),
    ]
    view = Recorder()
    clock = Clock(after_rounds(3))
    watch = make_watch(rounds, view, clock)
    assert watch.run() == 0
    assert view.stopped
    assert watch.rounds == 3 and watch.changes == 1
    lines = [change_line(change).split(" ", 1)[1] for change in view.changes]
    assert lines == ["lab2.encryption: pass", "lab2.access-logging: fail", "lab2.access-logging: fail → pass"]
    assert clock.starts == [0, 5, 10]  # on schedule


def test_a_round_is_skipped_while_the_previous_one_runs() -> None:
    release = threading.Event()
    view = Recorder()
    clock = Clock(lambda watch: watch.skipped >= 3, wait_for_round=False)

    def slow_round(listener: Listener) -> Report:
        release.wait(5)
        return report_of(lab2_encryption=Status.PASS)

    watch = Watch(slow_round, view, 1, clock=clock.clock, sleep=clock.sleep)
    clock.watch = watch
    assert watch.run() == 0
    assert watch.rounds == 1 and watch.skipped == 3 and view.skipped == [1, 1, 1]
    release.set()
    assert watch._thread is not None
    watch._thread.join(5)
    assert [end.number for end in view.ends] == [1]


def test_throttling_backs_off_the_interval_and_recovers() -> None:
    rounds = [report_of(lab2_encryption=Status.PASS) for _ in range(8)]
    throttled = iter([4, 2, 0, 0, 0, 0, 0, 0])
    view = Recorder()
    clock = Clock(after_rounds(8))
    watch = make_watch(rounds, view, clock, interval=10, throttles=lambda: next(throttled))
    assert watch.run() == 0
    # doubled by each throttled round; halved back after three unthrottled rounds in a row
    assert [end.interval_s for end in view.ends] == [20, 40, 40, 40, 20, 20, 20, 10]
    assert clock.starts == [0, 20, 60, 100, 140, 160, 180, 200]


def test_backoff_bounds() -> None:
    assert backed_off(10, 10, throttled=1) == 20
    assert backed_off(10 * MAX_BACKOFF, 10, throttled=1) == 10 * MAX_BACKOFF
    assert backed_off(500, 100, throttled=3) == 600  # at most ten minutes …
    assert backed_off(900, 900, throttled=3) == 900  # … unless --interval asks for longer
    assert backed_off(15, 10, throttled=0) == 10


def test_a_round_that_cannot_run_is_said_and_the_next_one_runs() -> None:
    expired = RuntimeError("the credentials expired\nrefresh them")
    outcomes: list[Any] = [expired, report_of(lab2_encryption=Status.PASS)]

    def check_round(listener: Listener) -> Report:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome  # type: ignore[no-any-return]

    view = Recorder()
    clock = Clock(after_rounds(2))
    watch = Watch(check_round, view, 3, clock=clock.clock, sleep=clock.sleep)
    clock.watch = watch
    assert watch.run() == 0
    assert view.ends[0].report is None and view.ends[0].message == "the credentials expired / refresh them"
    assert [c.step.id for c in view.changes] == ["lab2.encryption"]


@pytest.mark.parametrize("value", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_intervals_are_refused(value: float) -> None:
    with pytest.raises(UsageError, match="--interval must be a positive number of seconds"):
        check_interval(value)
