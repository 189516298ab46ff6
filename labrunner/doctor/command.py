"""`labrunner doctor` and `labrunner class doctor --roster FILE` (SPEC §3, §8): preflight before class.

Read-only by construction: every probe runs on the context's read-only twin, whose clients refuse
any operation that is not a read (labrunner.aws.readonly).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labrunner.doctor.model import ClassDoctor, DoctorReport, StudentDoctor
from labrunner.errors import UsageError

if TYPE_CHECKING:
    from labrunner.context import Context
    from labrunner.options import Options
    from labrunner.roster import Student

FORMATS = ("text", "json")


def diagnose(ctx: Context) -> DoctorReport:
    """Every probe on a read-only view of the account."""
    from labrunner.doctor.probes import examine

    started_at, t0 = datetime.now(UTC), time.perf_counter()
    findings = examine(ctx.read_only_twin())
    return DoctorReport(
        target=ctx.kind,
        account=ctx.account_id,
        region=ctx.region,
        stack=ctx.stack_name,
        caller=ctx.target.identity.arn,
        started_at=started_at,
        duration_s=round(time.perf_counter() - t0, 3),
        findings=tuple(findings),
    )


def _opt(options: Options, name: str, default: Any = None) -> Any:
    value = getattr(options, name, None)
    return default if value is None else value


def _format(options: Options) -> str:
    fmt = str(_opt(options, "format", "text"))
    if fmt not in FORMATS:
        raise UsageError(f"doctor writes --format text or json, not {fmt}")
    return fmt


def _write(options: Options, text: str) -> None:
    output: Path | None = _opt(options, "output")
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text)
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror}") from exc


def run_doctor_command(options: Options, open_context: Callable[[Options], Context]) -> int:
    from labrunner.doctor import render
    from labrunner.options import check_output_path

    fmt = _format(options)
    check_output_path(options)
    report = diagnose(open_context(options))
    _write(options, render.render_json(report) if fmt == "json" else render.render_text(report))
    return report.exit_code


def _examine_student(
    student: Student, kind: str, region: str | None, port: int | None, options: Options
) -> StudentDoctor:
    from labrunner.classroom import describe_error
    from labrunner.context import Context, Settings
    from labrunner.target import open_target

    try:
        target = open_target(student.spec(kind, region=region, local_port=port))  # type: ignore[arg-type]
        report = diagnose(Context(target, Settings(stack_name=str(_opt(options, "stack_name", "immersion")))))
    except Exception as exc:
        return StudentDoctor(student.name, student.known_account, error=describe_error(exc))
    return StudentDoctor(student.name, report.account, report=report)


def run_class_doctor(options: Options) -> int:
    """The doctor for every student of the roster, `--jobs` at a time; one failure never stops the others."""
    from labrunner.doctor import render
    from labrunner.options import STACK_NAME, check_output_path, local_port, roster, target_kind
    from labrunner.roster import load_roster

    if options.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if options.ids or options.dry_run or options.yes:
        raise UsageError("class doctor takes no lab or step ids, --dry-run or --yes")
    fmt = _format(options)
    check_output_path(options)
    kind = target_kind(options)
    stack_name = str(_opt(options, "stack_name", "immersion"))
    if not STACK_NAME.fullmatch(stack_name):
        raise UsageError(f"--stack-name {stack_name!r} is not a valid stack name")
    students = load_roster(roster(options), kind)  # type: ignore[arg-type]
    port = local_port(options) if kind == "local" else None
    if port is not None:
        from labrunner.target import start_local_server

        endpoint, started = start_local_server(port, lambda line: print(f"labrunner: {line}", file=sys.stderr))
        if started:
            print(f"Started the local AWS on {endpoint.url}.", file=sys.stderr)
    region = _opt(options, "region")
    started_at, t0 = datetime.now(UTC), time.perf_counter()
    with ThreadPoolExecutor(max_workers=options.jobs, thread_name_prefix="doctor") as pool:
        results = list(pool.map(lambda s: _examine_student(s, kind, region, port, options), students))
    result = ClassDoctor(kind, started_at, round(time.perf_counter() - t0, 3), tuple(results))
    _write(options, render.render_class_json(result) if fmt == "json" else render.render_class_text(result))
    return result.exit_code
