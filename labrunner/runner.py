"""Runs steps: apply and verify through one wrapper that records status, duration and errors.

Never prints, never makes clients itself: it talks to listeners and uses the context.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TypeVar

import tenacity

from labrunner.aws.errors import error_code, is_access_denied, operation_of
from labrunner.aws.prefetch import Prefetch
from labrunner.aws.readonly import ReadOnlyViolation
from labrunner.aws.stack import ResourceMissing, StackMissing
from labrunner.context import Context, StepSink
from labrunner.discovery import Catalogue
from labrunner.errors import LabrunnerError
from labrunner.events import Listener
from labrunner.model import Check, Report, Status, StepResult, status_of
from labrunner.step import Step

T = TypeVar("T")

# Codes AWS uses for "that resource does not exist": the workload was changed by hand.
NOT_FOUND_CODES = frozenset(
    {
        "NoSuchBucket",
        "NoSuchEntity",
        "ResourceNotFoundException",
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        "NoSuchConfigRuleException",
    }
)


@dataclass(frozen=True)
class Outcome:
    checks: tuple[Check, ...]
    status: Status
    hint: str = ""
    trace: str = ""


def _describe_failure(exc: BaseException) -> Outcome:
    """Turn an exception from a step into a status: error, or fail when the workload is broken."""
    if isinstance(exc, StackMissing | ResourceMissing):
        check = Check.fail("workload present", str(exc), exc.hint)
        return Outcome((check,), Status.FAIL, exc.hint)
    code = error_code(exc)
    if code in NOT_FOUND_CODES:
        hint = (
            "A workload resource is gone (deleted outside CloudFormation, which does not recreate it): restore it "
            "as the template defines it, or remove the stack (`labrunner reset`) and deploy it again (`labrunner up`)."
        )
        check = Check.fail("workload present", f"{code} calling {operation_of(exc)}", hint)
        return Outcome((check,), Status.FAIL, hint)
    if is_access_denied(exc):
        hint = (
            f"Could not be checked: the identity lacks permission ({code} on {operation_of(exc)}). "
            "Checking needs read access (e.g. the ReadOnlyAccess managed policy)."
        )
    elif isinstance(exc, ReadOnlyViolation):
        hint = f"Could not be checked: the checker tried to write ({exc}); this is a bug in the step."
    else:
        hint = f"Could not be checked: the checker crashed ({type(exc).__name__}: {exc})."
    trace = "".join(traceback.format_exception(exc))
    return Outcome((Check.fail("error", hint, hint),), Status.ERROR, hint, trace)


def _timed(fn: Callable[[], T]) -> tuple[T | None, BaseException | None, float]:
    start = time.perf_counter()
    try:
        return fn(), None, time.perf_counter() - start
    except LabrunnerError:
        raise  # the command cannot run as asked (e.g. a template file is missing): one line, exit 2
    except Exception as exc:
        return None, exc, time.perf_counter() - start


class Runner:
    def __init__(self, ctx: Context, catalogue: Catalogue, listener: Listener | None = None, *, jobs: int = 8) -> None:
        self.ctx = ctx
        self.catalogue = catalogue
        self.listener = listener or Listener()
        self.jobs = max(1, jobs)
        self._prereqs: dict[str, Future[StepResult]] = {}
        self._prereq_lock = threading.Lock()
        self._check_view: Context | None = None  # during check(): the run's one read-only view

    def _reader(self) -> Context:
        """The read-only context verify gets: the check run's view, else a fresh read-only twin."""
        return self._check_view or self.ctx.read_only_twin()

    # -- one step ---------------------------------------------------------------------------
    def _sink(self, step: Step) -> StepSink:
        return StepSink(lambda message: self.listener.step_note(step, message))

    def _verify_once(self, step: Step, ctx: Context) -> Outcome:
        checks, exc, _ = _timed(lambda: ctx.verify_step(step))
        if exc is not None:
            return _describe_failure(exc)
        assert checks is not None
        if not checks:
            hint = "Could not be checked: the step's verify returned no checks (a bug in the step)."
            return Outcome((Check.fail("error", hint, hint),), Status.ERROR, hint)
        status = status_of(checks)
        hint = "" if status is Status.PASS else (next((c.hint for c in checks if not c.passed and c.hint), step.hint))
        return Outcome(checks, status, hint)

    def _verify_polled(self, step: Step, ctx: Context) -> Outcome:
        deadline = step.poll.deadline_s * self.ctx.settings.wait_scale
        if deadline <= 0:
            return self._verify_once(step, ctx)
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_delay(deadline),
            wait=tenacity.wait_fixed(step.poll.interval_s),
            retry=tenacity.retry_if_result(lambda outcome: outcome.status is not Status.PASS),
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
        )
        result = retrying(lambda: self._verify_once(step, ctx))
        assert isinstance(result, Outcome)
        return result

    def _result(
        self, step: Step, outcome: Outcome, duration: float, sink: StepSink, changed: bool | None
    ) -> StepResult:
        return StepResult(
            id=step.id,
            lab=step.lab,
            title=step.title,
            status=outcome.status,
            controls=tuple(step.controls),
            hint=outcome.hint,
            duration_s=round(duration, 3),
            checks=outcome.checks,
            changed=changed,
            notes=tuple(sink.notes),
            data=dict(sink.data),
            trace=outcome.trace,
        )

    def _skipped(self, step: Step, blocker: StepResult) -> StepResult:
        reason = f"{blocker.id} did not pass ({blocker.status.value})"
        hint = f"Complete {blocker.id} first: {blocker.hint}" if blocker.hint else f"Complete {blocker.id} first."
        return StepResult(
            id=step.id,
            lab=step.lab,
            title=step.title,
            status=Status.SKIPPED,
            controls=tuple(step.controls),
            hint=hint,
            checks=(Check.fail("prerequisites", reason, hint),),
        )

    def _check_step(self, step: Step) -> StepResult:
        sink = self._sink(step)
        self.listener.step_started(step, "verify")
        start = time.perf_counter()
        outcome = self._verify_once(step, self._reader().scoped(sink))
        return self._result(step, outcome, time.perf_counter() - start, sink, None)

    def _solve_step(self, step: Step) -> StepResult:
        sink = self._sink(step)
        ctx = self.ctx.scoped(sink)
        start = time.perf_counter()
        self.listener.step_started(step, "apply")
        changed, exc, _ = _timed(lambda: step.apply(ctx))
        self.ctx.refresh()
        if exc is not None:
            return self._result(step, _describe_failure(exc), time.perf_counter() - start, sink, None)
        self.listener.step_started(step, "verify")
        outcome = self._verify_polled(step, self.ctx.read_only_twin().scoped(sink))
        return self._result(step, outcome, time.perf_counter() - start, sink, bool(changed))

    # -- prerequisites ----------------------------------------------------------------------
    def _prerequisite(self, step_id: str, done: dict[str, Future[StepResult]]) -> StepResult:
        """The result of a required step: from this run, or verified (only) on the side."""
        if step_id in done:
            return done[step_id].result()
        with self._prereq_lock:
            future = self._prereqs.get(step_id)
            if future is None:
                future = Future()
                self._prereqs[step_id] = future
                owner = True
            else:
                owner = False
        if owner:
            required = self.catalogue.by_id[step_id]
            blocker = self._blocker(required, done)
            if blocker is not None:
                future.set_result(self._skipped(required, blocker))
            else:
                sink = StepSink()
                outcome = self._verify_once(required, self._reader().scoped(sink))
                future.set_result(self._result(required, outcome, 0.0, sink, None))
        return future.result()

    def _blocker(self, step: Step, done: dict[str, Future[StepResult]]) -> StepResult | None:
        for required in step.requires:
            result = self._prerequisite(required, done)
            if result.status is not Status.PASS:
                return result
        return None

    # -- whole runs -------------------------------------------------------------------------
    def _finish(
        self, command: str, steps: list[Step], results: list[StepResult], started: datetime, t0: float
    ) -> Report:
        report = Report(
            command=command,
            target=self.ctx.kind,
            account=self.ctx.account_id,
            region=self.ctx.region,
            stack=self.ctx.stack_name,
            started_at=started,
            duration_s=round(time.perf_counter() - t0, 3),
            steps=tuple(results),
        )
        self.listener.run_finished(report)
        return report

    def check(self, steps: list[Step]) -> Report:
        """Verify only, read-only; independent steps run concurrently, results in catalogue order.

        A step is handed to a worker once the steps it requires in this run have finished, so no worker
        sits waiting on a prerequisite while steps that could run queue behind it (each waiting step cost
        the run a round trip or more per step queued)."""
        started, t0 = datetime.now(UTC), time.perf_counter()
        self.listener.run_started("check", steps)
        in_run = {step.id for step in steps}
        done: dict[str, Future[StepResult]] = {step.id: Future() for step in steps}
        waiting = {step.id: {r for r in step.requires if r in in_run} for step in steps}
        lock = threading.Lock()
        pool = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="check")

        def run(step: Step) -> StepResult:
            blocker = self._blocker(step, done)
            result = self._skipped(step, blocker) if blocker is not None else self._check_step(step)
            self.listener.step_finished(result)
            return result

        def start(step: Step) -> None:
            task: Future[StepResult]
            try:
                task = pool.submit(run, step)
            except RuntimeError as exc:  # the run is ending (an error closed the pool), or no thread could start:
                task = Future()  # the step ends with that error, so nothing waits for it for ever; raised from
                task.set_exception(exc)  # a done-callback it would be lost (logged as a traceback on stderr)
            task.add_done_callback(lambda ended: finished(step, ended))

        def finished(step: Step, task: Future[StepResult]) -> None:
            exc = task.exception()
            if exc is not None:
                done[step.id].set_exception(exc)  # dependents still run: their prerequisite raises it again
            else:
                done[step.id].set_result(task.result())
            with lock:
                ready = [s for s in steps if step.id in waiting[s.id]]
                for s in ready:
                    waiting[s.id].discard(step.id)
                ready = [s for s in ready if not waiting[s.id]]
            for s in ready:
                start(s)

        self._check_view = view = self.ctx.check_run()
        facts = [fact for step in steps for fact in step.prefetch]
        prefetch = Prefetch(view, facts) if facts else None
        try:
            with lock:
                first = [step for step in steps if not waiting[step.id]]
            for step in first:  # catalogue order; the rest follow as their prerequisites finish
                start(step)
            results = [done[step.id].result() for step in steps]
        finally:
            pool.shutdown(wait=True)
            if prefetch is not None:
                prefetch.wait()
            self._check_view = None
        return self._finish("check", steps, results, started, t0)

    def solve(self, steps: list[Step]) -> Report:
        """For each step in catalogue order: apply (idempotent), then verify with polling."""
        started, t0 = datetime.now(UTC), time.perf_counter()
        self.listener.run_started("solve", steps)
        done: dict[str, Future[StepResult]] = {}
        results = []
        for step in steps:
            blocker = self._blocker(step, done)
            result = self._skipped(step, blocker) if blocker is not None else self._solve_step(step)
            self.listener.step_finished(result)
            future: Future[StepResult] = Future()
            future.set_result(result)
            done[step.id] = future
            results.append(result)
        return self._finish("solve", steps, self._still_passing(steps, results), started, t0)

    def _still_passing(self, steps: list[Step], results: list[StepResult]) -> list[StepResult]:
        """Verify again each pass that a later step's apply may have undone, so the report says what check
        would say now (extra redeploys the stack: the upload bucket then logs to a new bucket that has no
        access log yet). Only a pass that no longer holds is polled again, with its step's deadline."""
        last_change = max((i for i, r in enumerate(results) if r.changed), default=0)
        earlier = [i for i, r in enumerate(results[:last_change]) if r.status is Status.PASS]
        if not earlier:
            return results
        view = self.ctx.check_run()  # one observation of the account, as `check` makes, concurrently
        with ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="recheck") as pool:
            held = list(pool.map(lambda i: self._verify_once(steps[i], view.scoped(StepSink())).status, earlier))
        final = list(results)
        for i, status in zip(earlier, held, strict=True):
            if status is Status.PASS:
                continue
            step, result = steps[i], results[i]
            sink = self._sink(step)
            later = ", ".join(r.id for r in results[i + 1 :] if r.changed)
            sink.note(f"passed when solved, then {later} changed the account: verified again")
            self.listener.step_started(step, "verify")
            start = time.perf_counter()
            outcome = self._verify_polled(step, self.ctx.read_only_twin().scoped(sink))
            again = self._result(step, outcome, time.perf_counter() - start, sink, result.changed)
            final[i] = replace(
                again,
                duration_s=round(result.duration_s + again.duration_s, 3),
                notes=(*result.notes, *again.notes),
                data={**result.data, **again.data},
            )
            self.listener.step_finished(final[i])
        return final
