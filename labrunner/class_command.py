"""`labrunner class check|solve|reset --roster FILE [--jobs N]` (SPEC §8): the command.

The class's models and per-student work are in labrunner.classroom; spreading students over worker
processes in labrunner.class_workers; this module reads the command's options and runs it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labrunner.class_workers import grade_students
from labrunner.classroom import ClassReport, ClassRun, StudentResult, describe_error
from labrunner.errors import UsageError
from labrunner.output_path import check_folder, names_folder
from labrunner.target import start_local

if TYPE_CHECKING:
    from labrunner.context import Context, Settings
    from labrunner.options import Options
    from labrunner.reset.model import Plan
    from labrunner.roster import Student


# -- reset over a class ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _Planned:
    student: Student
    ctx: Context | None
    plan: Plan | None
    error: StudentResult | None


def _reset_class(run: ClassRun, students: tuple[Student, ...], options: Options) -> list[StudentResult]:
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
    run.board.show_plans([p.plan for p in planned if p.plan is not None], detailed=bool(options.dry_run))
    if options.dry_run:
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
    if to_reset and run.kind == "aws" and not options.yes:
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


def _opt(options: Options, name: str, default: Any = None) -> Any:
    value = getattr(options, name, None)
    return default if value is None else value


def class_settings(options: Options) -> Settings:
    from labrunner.context import Settings

    wait_scale = float(_opt(options, "wait_scale", 1.0))
    if wait_scale <= 0:
        raise UsageError(f"--wait-scale must be positive, not {wait_scale}")
    stack_name = str(_opt(options, "stack_name", "immersion"))
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


def run_class_command(options: Options) -> int:
    from labrunner.options import load_catalogue, local_port, roster, target_kind
    from labrunner.reporting import classroom as view
    from labrunner.roster import load_roster

    action = options.action
    if action not in ("check", "solve", "reset"):
        raise UsageError(f"class {action} is not run here: class takes check, solve or reset")
    if options.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if options.action == "reset" and options.ids:
        raise UsageError("class reset takes no lab or step ids: a reset removes everything the lab made")
    if options.action != "reset" and (options.dry_run or options.yes):
        raise UsageError("--dry-run and --yes apply to class reset only")
    fmt = str(_opt(options, "format", "text"))
    output: Path | None = _opt(options, "output")
    _check_output(output)
    kind = target_kind(options)
    students = load_roster(roster(options), kind)  # type: ignore[arg-type]
    catalogue = load_catalogue(options)
    steps = catalogue.select(list(options.ids)) if options.action != "reset" else list(catalogue.steps)
    settings = class_settings(options)
    port = local_port(options) if kind == "local" else None
    if port is not None:
        start_local(port)
    board = view.make_board(students, steps, action, fmt=fmt, output=output)
    run = ClassRun(
        kind=kind,
        region=_opt(options, "region"),
        local_port=port,
        settings=settings,
        catalogue=catalogue,
        board=board,
        jobs=options.jobs,
    )
    started_at, t0 = datetime.now(UTC), time.perf_counter()
    board.start()
    try:
        if options.action == "reset":
            results = _reset_class(run, students, options)
        else:
            results = grade_students(run, students, action, steps, labs_dirs=list(options.labs_dir))
    finally:
        board.stop()
    report = ClassReport(
        command=action,
        target=kind,
        started_at=started_at,
        duration_s=round(time.perf_counter() - t0, 3),
        students=tuple(results),
        dry_run=bool(options.dry_run),
        steps=tuple(step.id for step in steps),
    )
    board.summary(report)
    view.write_outputs(report, fmt, output)
    return 0 if report.dry_run and not any(s.error for s in report.students) else report.exit_code
