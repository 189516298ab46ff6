"""`labrunner class check|solve|reset --roster FILE [--jobs N]` (SPEC §8).

Every student gets an own target (profile, role assumed from the caller, or an account of the
local AWS), context and runner; students run concurrently in a bounded pool, and one student's
failure (expired credentials, a missing profile, AccessDenied) is that student's error row.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from labrunner.errors import LabrunnerError, UsageError
from labrunner.output_path import check_folder, names_folder

if TYPE_CHECKING:
    from labrunner.context import Context, Settings
    from labrunner.discovery import Catalogue
    from labrunner.model import Report
    from labrunner.reporting.classroom import ClassBoard
    from labrunner.reset.model import Plan, ResetResult
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


# -- reset over a class ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _Planned:
    student: Student
    ctx: Context | None
    plan: Plan | None
    error: StudentResult | None


def _reset_class(run: ClassRun, students: tuple[Student, ...], args: argparse.Namespace) -> list[StudentResult]:
    from labrunner.reset.confirm import confirm_typed
    from labrunner.reset.flow import dry_run, execute_reset
    from labrunner.reset.plan import plan_reset

    def plan_one(student: Student) -> _Planned:
        started = time.perf_counter()
        try:
            ctx = run.open(student)
            run.board.phase(student.name, "planning")
            plan = plan_reset(ctx)
        except Exception as exc:
            error = StudentResult(
                student.name,
                run.board.account_of(student.name),
                error=describe_error(exc),
                duration_s=round(time.perf_counter() - started, 3),
            )
            run.board.finished(error)
            return _Planned(student, None, None, error)
        run.board.planned(student.name, plan)
        return _Planned(student, ctx, plan, None)

    planned = run.map(students, plan_one)
    run.board.show_plans([p.plan for p in planned if p.plan is not None], detailed=bool(args.dry_run))
    if args.dry_run:
        results = []
        for p in planned:
            if p.plan is None:
                assert p.error is not None
                results.append(p.error)
                continue
            result = StudentResult(p.student.name, p.plan.account, reset=dry_run(p.plan))
            run.board.finished(result)
            results.append(result)
        return results
    to_reset = [p for p in planned if p.plan is not None and p.plan.deletions]
    if to_reset and run.kind == "aws" and not args.yes:
        run.board.pause()
        confirm_typed(str(len(to_reset)), f"{len(to_reset)} AWS account(s)")
        run.board.resume()

    def reset_one(p: _Planned) -> StudentResult:
        if p.error is not None:
            return p.error
        assert p.ctx is not None and p.plan is not None
        ctx, plan = p.ctx, p.plan

        def work() -> StudentResult:
            run.board.phase(p.student.name, "resetting")
            result = execute_reset(
                ctx,
                plan,
                run.catalogue,
                progress=lambda message: run.board.phase(p.student.name, message),
                listener=run.board.listener(p.student.name),
            )
            return StudentResult(
                p.student.name, ctx.account_id, report=result.after, reset=result, duration_s=result.duration_s
            )

        return run.guarded(p.student, work)

    return run.map(planned, reset_one)


# -- the command ------------------------------------------------------------------------------------
def grade_students(
    run: ClassRun, students: Sequence[Student], mode: str, steps: list[Step], *, labs_dirs: list[Path]
) -> list[StudentResult]:
    """Check or solve every student, `run.jobs` at a time: in worker processes when there are cores to
    spread over, else in threads. Results in roster order."""
    from labrunner.class_workers import grade_in_processes, process_count

    processes = process_count(run.jobs, len(students))
    if processes > 1:
        return grade_in_processes(run, students, mode, steps, labs_dirs=labs_dirs, processes=processes)
    return run.map(students, lambda student: run.grade(student, mode, steps))


def start_local(port: int) -> None:
    """Start the local AWS if it is not running; say so on stderr (stdout may carry the report)."""
    from labrunner.local import lifecycle

    restarted: list[str] = []  # the one line saying it restarted empty replaces "Started …"
    endpoint, started = lifecycle.start(port, restarted.append)
    if restarted:
        print(f"labrunner: {restarted[0]}", file=sys.stderr)
    elif started:
        print(f"Started the local AWS on {endpoint.url} (stop it with `labrunner local stop`).", file=sys.stderr)


def _opt(args: argparse.Namespace, name: str, default: Any = None) -> Any:
    value = getattr(args, name, None)
    return default if value is None else value


def _settings(args: argparse.Namespace) -> Settings:
    from labrunner.context import Settings

    wait_scale = float(_opt(args, "wait_scale", 1.0))
    if wait_scale <= 0:
        raise UsageError(f"--wait-scale must be positive, not {wait_scale}")
    stack_name = str(_opt(args, "stack_name", "immersion"))
    if not stack_name or len(stack_name) > 128:
        raise UsageError(f"--stack-name {stack_name!r} is not a valid stack name")
    return Settings(stack_name=stack_name, wait_scale=wait_scale)


def _check_output(output: Path | None) -> None:
    """--output FILE, or a folder (existing, or named with a trailing slash) for one file per student."""
    if output is None:
        return
    if names_folder(output):
        check_folder(output)
        return
    parent = output.parent if str(output.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"cannot write {output}: directory {parent} does not exist")


def run_class_command(args: argparse.Namespace) -> int:
    from labrunner import cli
    from labrunner.reporting import classroom as view
    from labrunner.roster import load_roster

    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if args.action == "reset" and args.ids:
        raise UsageError("class reset takes no lab or step ids: a reset removes everything the lab made")
    if args.action != "reset" and (args.dry_run or args.yes):
        raise UsageError("--dry-run and --yes apply to class reset only")
    fmt = str(_opt(args, "format", "text"))
    output: Path | None = _opt(args, "output")
    _check_output(output)
    kind = cli.target_kind(args)
    students = load_roster(args.roster, kind)  # type: ignore[arg-type]
    catalogue = cli.load_catalogue(args)
    steps = catalogue.select(list(args.ids)) if args.action != "reset" else list(catalogue.steps)
    settings = _settings(args)
    port = cli.local_port(args) if kind == "local" else None
    if port is not None:
        start_local(port)
    board = view.make_board(students, steps, args.action, fmt=fmt, output=output)
    run = ClassRun(
        kind=kind,
        region=_opt(args, "region"),
        local_port=port,
        settings=settings,
        catalogue=catalogue,
        board=board,
        jobs=args.jobs,
    )
    started_at, t0 = datetime.now(UTC), time.perf_counter()
    board.start()
    try:
        if args.action == "reset":
            results = _reset_class(run, students, args)
        else:
            results = grade_students(run, students, args.action, steps, labs_dirs=list(_opt(args, "labs_dir", [])))
    finally:
        board.stop()
    report = ClassReport(
        command=args.action,
        target=kind,
        started_at=started_at,
        duration_s=round(time.perf_counter() - t0, 3),
        students=tuple(results),
        dry_run=bool(args.dry_run),
        steps=tuple(step.id for step in steps),
    )
    board.summary(report)
    view.write_outputs(report, fmt, output)
    return 0 if report.dry_run and not any(s.error for s in report.students) else report.exit_code
