"""`labrunner doctor` and `labrunner class doctor --roster FILE` (SPEC §3, §8): preflight before class.

Read-only by construction: every probe runs on the context's read-only twin, whose clients refuse
any operation that is not a read (labrunner.aws.readonly).
"""

from __future__ import annotations

import argparse
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


def _opt(args: argparse.Namespace, name: str, default: Any = None) -> Any:
    value = getattr(args, name, None)
    return default if value is None else value


def _format(args: argparse.Namespace) -> str:
    fmt = str(_opt(args, "format", "text"))
    if fmt not in FORMATS:
        raise UsageError(f"doctor writes --format text or json, not {fmt}")
    return fmt


def _write(args: argparse.Namespace, text: str) -> None:
    output: Path | None = _opt(args, "output")
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text)
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror}") from exc


def run_doctor_command(args: argparse.Namespace, open_context: Callable[[argparse.Namespace], Context]) -> int:
    from labrunner.cli import check_output_path
    from labrunner.doctor import render

    fmt = _format(args)
    check_output_path(args)
    report = diagnose(open_context(args))
    _write(args, render.render_json(report) if fmt == "json" else render.render_text(report))
    return report.exit_code


def _examine_student(student: Student, kind: str, region: str | None, port: int | None, args: Any) -> StudentDoctor:
    from labrunner.classroom import describe_error
    from labrunner.context import Context, Settings
    from labrunner.target import open_target

    try:
        target = open_target(student.spec(kind, region=region, local_port=port))  # type: ignore[arg-type]
        report = diagnose(Context(target, Settings(stack_name=str(_opt(args, "stack_name", "immersion")))))
    except Exception as exc:
        return StudentDoctor(student.name, student.known_account, error=describe_error(exc))
    return StudentDoctor(student.name, report.account, report=report)


def run_class_doctor(args: argparse.Namespace) -> int:
    """The doctor for every student of the roster, `--jobs` at a time; one failure never stops the others."""
    from labrunner import cli
    from labrunner.doctor import render
    from labrunner.roster import load_roster

    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if args.ids or args.dry_run or args.yes:
        raise UsageError("class doctor takes no lab or step ids, --dry-run or --yes")
    fmt = _format(args)
    cli.check_output_path(args)
    kind = cli.target_kind(args)
    stack_name = str(_opt(args, "stack_name", "immersion"))
    if not cli.STACK_NAME.fullmatch(stack_name):
        raise UsageError(f"--stack-name {stack_name!r} is not a valid stack name")
    students = load_roster(args.roster, kind)  # type: ignore[arg-type]
    port = cli.local_port(args) if kind == "local" else None
    if port is not None:
        from labrunner.local import lifecycle

        endpoint, started = lifecycle.start(port, lambda line: print(f"labrunner: {line}", file=sys.stderr))
        if started:
            print(f"Started the local AWS on {endpoint.url}.", file=sys.stderr)
    region = _opt(args, "region")
    started_at, t0 = datetime.now(UTC), time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.jobs, thread_name_prefix="doctor") as pool:
        results = list(pool.map(lambda s: _examine_student(s, kind, region, port, args), students))
    result = ClassDoctor(kind, started_at, round(time.perf_counter() - t0, 3), tuple(results))
    _write(args, render.render_class_json(result) if fmt == "json" else render.render_class_text(result))
    return result.exit_code
