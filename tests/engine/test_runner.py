"""The runner: statuses from checks, errors, prerequisites, idempotent solve, polling."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from labrunner.errors import UsageError
from labrunner.model import Status
from labrunner.runner import Runner
from tests.engine import fakes
from tests.helpers import statuses, step


def test_check_statuses_and_hints() -> None:
    catalogue = fakes.demo_catalogue(
        fakes.Passing(), fakes.Failing(), fakes.Waiting(), fakes.Crashing(), fakes.NeedsFailing(), fakes.NeedsPassing()
    )
    report = Runner(fakes.offline_context(), catalogue).check(catalogue.steps)
    assert statuses(report) == {
        "demo.passing": Status.PASS,
        "demo.failing": Status.FAIL,
        "demo.waiting": Status.PENDING,
        "demo.crashing": Status.ERROR,
        "demo.needs-failing": Status.SKIPPED,
        "demo.needs-passing": Status.PASS,
    }
    assert [s.id for s in report.steps] == [s.id for s in catalogue.steps]  # catalogue order kept
    assert step(report, "demo.failing").hint == "click the thing"
    assert "crashed" in step(report, "demo.crashing").hint and "ZeroDivisionError" in step(report, "demo.crashing").hint
    assert "demo.failing" in step(report, "demo.needs-failing").hint
    assert report.summary == {"pass": 2, "fail": 1, "pending": 1, "error": 1, "skipped": 1}
    assert report.exit_code == 1


def test_pending_alone_exits_zero() -> None:
    catalogue = fakes.demo_catalogue(fakes.Passing(), fakes.Waiting())
    report = Runner(fakes.offline_context(), catalogue).check(catalogue.steps)
    assert report.exit_code == 0


def test_unselected_prerequisite_is_verified_on_the_side() -> None:
    catalogue = fakes.demo_catalogue(fakes.Passing(), fakes.Failing(), fakes.NeedsFailing(), fakes.NeedsPassing())
    selected = catalogue.select(["demo.needs-failing", "demo.needs-passing"])
    report = Runner(fakes.offline_context(), catalogue).check(selected)
    assert statuses(report) == {"demo.needs-failing": Status.SKIPPED, "demo.needs-passing": Status.PASS}


def test_solve_is_idempotent_and_polls_until_visible() -> None:
    counter = fakes.Counter()
    catalogue = fakes.demo_catalogue(counter)
    runner = Runner(fakes.offline_context(), catalogue)
    first = runner.solve(catalogue.steps)
    assert step(first, "demo.counter").status is Status.PASS
    assert step(first, "demo.counter").changed is True
    assert counter.verifies >= 3  # polled past two stale observations
    second = runner.solve(catalogue.steps)
    assert step(second, "demo.counter").changed is False
    assert counter.applied == 1


def test_poll_gives_up_at_the_deadline() -> None:
    class Never(fakes.Counter):
        id = "demo.never"

        def verify(self, ctx):  # type: ignore[no-untyped-def]
            self.verifies += 1
            yield fakes.Check.fail("applied", "never visible", "look again")

    never = Never()
    catalogue = fakes.demo_catalogue(never)
    report = Runner(fakes.offline_context(wait_scale=0.02), catalogue).solve(catalogue.steps)  # 0.1 s deadline
    assert step(report, "demo.never").status is Status.FAIL
    assert never.verifies >= 2


def test_verify_runs_read_only() -> None:
    catalogue = fakes.demo_catalogue(fakes.Writer())
    report = Runner(fakes.offline_context(), catalogue).check(catalogue.steps)
    result = step(report, "demo.writer")
    assert result.status is Status.ERROR
    assert "PutObject is not a read" in result.hint


def test_solve_reports_what_a_later_step_undid_and_polls_it_again() -> None:
    """A later apply can undo an earlier pass (extra redeploys the stack: the upload bucket logs to a new
    bucket with no log in it yet): solve verifies that step again, so its report says what check would."""
    world = {"moved": False, "looks": 0}

    class Delivered(fakes.Step):
        id = "demo.delivered"
        title = "Logs arrived where the bucket logs to"
        poll = fakes.Poll(deadline_s=5, interval_s=0.01)

        def verify(self, ctx):  # type: ignore[no-untyped-def]
            if world["moved"]:
                world["looks"] += 1  # the new destination gets its first log on the third look
            if not world["moved"] or world["looks"] >= 3:
                yield fakes.Check.ok("delivered", "logs there")
            else:
                yield fakes.Check.waiting("delivered", "no log in the new destination yet", "wait")

    class Redeploy(fakes.Step):
        id = "demo.redeploy"
        title = "Moves the logging destination"

        def apply(self, ctx):  # type: ignore[no-untyped-def]
            changed = not world["moved"]
            world["moved"] = True
            return changed

        def verify(self, ctx):  # type: ignore[no-untyped-def]
            yield fakes.Check.ok("moved", "moved")

    catalogue = fakes.demo_catalogue(Delivered(), Redeploy())
    report = Runner(fakes.offline_context(), catalogue).solve(catalogue.steps)
    assert statuses(report) == {"demo.delivered": Status.PASS, "demo.redeploy": Status.PASS}
    assert world["looks"] >= 3  # verified again after the move, and polled until it held again
    assert "then demo.redeploy changed the account" in " ".join(step(report, "demo.delivered").notes)

    # Nothing changed on a second solve: no second look at earlier passes.
    looks = world["looks"]
    again = Runner(fakes.offline_context(), catalogue).solve(catalogue.steps)
    assert world["looks"] == looks + 1 and not step(again, "demo.delivered").notes  # only its own verify

    # A pass a later step undid for good is reported as it is now, not as it was.
    world.update(moved=False, looks=-(10**6))
    undone = Runner(fakes.offline_context(wait_scale=0.02), catalogue).solve(catalogue.steps)
    assert step(undone, "demo.delivered").status is Status.PENDING


def test_a_command_error_ends_check_cleanly_while_other_steps_still_run(caplog: pytest.LogCaptureFixture) -> None:
    """A LabrunnerError (the command cannot run, e.g. the local AWS froze) ends the run with that error,
    one line; steps still running then finish without starting their dependents in a closed pool (which
    concurrent.futures would log as a traceback on stderr) and without leaving the run waiting."""

    class Stops(fakes.Step):
        id = "demo.stops"
        title = "The command cannot go on"

        def verify(self, ctx):  # type: ignore[no-untyped-def]
            raise UsageError("the secure template file is missing")

    class Slow(fakes.Step):
        id = "demo.slow"
        title = "Still reading when the run ends"

        def verify(self, ctx):  # type: ignore[no-untyped-def]
            time.sleep(0.3)
            yield fakes.Check.ok("read", "done")

    class AfterSlow(fakes.Step):
        id = "demo.after-slow"
        title = "Waits for the slow step"
        requires = ("demo.slow",)

        def verify(self, ctx):  # type: ignore[no-untyped-def]
            yield fakes.Check.ok("reached", "ran")

    catalogue = fakes.demo_catalogue(Stops(), Slow(), AfterSlow())
    with caplog.at_level(logging.ERROR, logger="concurrent.futures"), pytest.raises(UsageError, match="missing"):
        Runner(fakes.offline_context(), catalogue).check(catalogue.steps)
    assert not [r for r in caplog.records if r.name == "concurrent.futures"], caplog.text


def test_check_ends_when_a_step_cannot_be_started(monkeypatch: pytest.MonkeyPatch) -> None:
    """A step whose worker cannot start (the process is out of threads, a class check on a small machine)
    ends the run with that error instead of leaving it waiting for the step for ever."""
    real_submit = ThreadPoolExecutor.submit

    def submit(pool, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
        if args and getattr(args[0], "id", "") == "demo.needs-passing":
            raise RuntimeError("can't start new thread")
        return real_submit(pool, fn, *args, **kwargs)

    monkeypatch.setattr(ThreadPoolExecutor, "submit", submit)
    catalogue = fakes.demo_catalogue(fakes.Passing(), fakes.NeedsPassing())
    outcome: list[BaseException | None] = []

    def check() -> None:
        try:
            Runner(fakes.offline_context(), catalogue).check(catalogue.steps)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=check, daemon=True)
    worker.start()
    worker.join(10)
    assert outcome, "check still waits for a step that never started"
    assert isinstance(outcome[0], RuntimeError) and "start new thread" in str(outcome[0])
