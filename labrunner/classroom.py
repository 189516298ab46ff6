"""`labrunner class check|solve|reset --roster FILE [--jobs N]` (SPEC §8).

Every student gets an own target (profile, role assumed from the caller, or an account of the
local AWS), context and runner; students run concurrently in a bounded pool, and one student's
failure (expired credentials, a missing profile, AccessDenied) is that student's error row.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from labrunner.errors import LabrunnerError

if TYPE_CHECKING:
    from labrunner.context import Context, Settings
    from labrunner.discovery import Catalogue
    from labrunner.model import Report
    from labrunner.reporting.classroom import ClassBoard
    from labrunner.reset.model import ResetResult
    from labrunner.roster import Student
    from labrunner.step import Step

T = TypeVar("T")
R = TypeVar("R")
CLASS_SCHEMA = "labrunner.class-report/v1"
STEP_JOBS = 4  # steps checked at once per student (the class pool bounds the students)


@dataclass(frozen=True)
class StudentResult:
    """One roster entry's outcome: a report (check/solve, or the check after a reset) or an error."""

    name: str
    account: str | None
    report: Report | None = None
    error: str | None = None
    reset: ResetResult | None = None
    duration_s: float = 0.0

    @property
    def failed(self) -> bool:
        if self.error is not None:
            return True
        if self.reset is not None:  # its report is the check after the reset: failing steps are the point
            return self.reset.exit_code != 0
        return self.report is not None and self.report.exit_code != 0


@dataclass(frozen=True)
class ClassReport:
    command: str  # check | solve | reset
    target: str
    started_at: datetime
    duration_s: float
    students: tuple[StudentResult, ...]
    dry_run: bool = False
    steps: tuple[str, ...] = field(default=())  # the step ids graded, in catalogue order

    @property
    def exit_code(self) -> int:
        return 1 if any(student.failed for student in self.students) else 0


def describe_error(exc: BaseException) -> str:
    """One line for a student's error row: labrunner's own message, or AWS's error code."""
    from labrunner.aws.errors import error_code, operation_of

    if isinstance(exc, LabrunnerError):
        return str(exc)
    code = error_code(exc)
    if code:
        operation = operation_of(exc)
        return f"{code}{f' calling {operation}' if operation else ''}"
    return f"{type(exc).__name__}: {exc}"


@dataclass
class ClassRun:
    """What every student's job shares: nothing heavy — the catalogue, settings and the board."""

    kind: str
    region: str | None
    local_port: int | None
    settings: Settings
    catalogue: Catalogue
    board: ClassBoard
    jobs: int

    def open(self, student: Student) -> Context:
        from labrunner.context import Context
        from labrunner.target import open_target

        self.board.phase(student.name, "connecting")
        spec = student.spec(self.kind, region=self.region, local_port=self.local_port)  # type: ignore[arg-type]
        target = open_target(spec)
        self.board.identified(student.name, target.identity.account)
        return Context(target, self.settings)

    def guarded(self, student: Student, work: Callable[[], StudentResult]) -> StudentResult:
        """Run one student's work; whatever goes wrong becomes that student's error row."""
        started = time.perf_counter()
        try:
            result = work()
        except Exception as exc:
            result = StudentResult(
                student.name,
                self.board.account_of(student.name),
                error=describe_error(exc),
                duration_s=round(time.perf_counter() - started, 3),
            )
        self.board.finished(result)
        return result

    def grade(self, student: Student, mode: str, steps: list[Step]) -> StudentResult:
        from labrunner.runner import Runner

        def work() -> StudentResult:
            started = time.perf_counter()
            ctx = self.open(student)
            # check runs on one read-only context, so every step shares its clients.
            runner_ctx = ctx if mode == "solve" else ctx.read_only_twin()
            runner = Runner(runner_ctx, self.catalogue, self.board.listener(student.name), jobs=STEP_JOBS)
            report = runner.solve(steps) if mode == "solve" else runner.check(steps)
            return StudentResult(
                student.name, ctx.account_id, report=report, duration_s=round(time.perf_counter() - started, 3)
            )

        return self.guarded(student, work)

    def map(self, items: Sequence[T], job: Callable[[T], R]) -> list[R]:
        """Run `job` for every item (student) in the bounded pool; results in roster order."""
        pool = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="student")
        try:
            futures: list[Future[R]] = [pool.submit(job, item) for item in items]
            results = [future.result() for future in futures]
        except BaseException:  # Ctrl-C: students not yet started never start
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return results
