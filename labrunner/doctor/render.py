"""Doctor reports as text (one line per item) or JSON (labrunner.doctor/v1). Renderers decide nothing."""

from __future__ import annotations

import json
from typing import Any

from labrunner.doctor.model import CLASS_DOCTOR_SCHEMA, DOCTOR_SCHEMA, ClassDoctor, DoctorReport, Finding, Level

WIDTH = 24  # the id column


def _stamp(report: DoctorReport | ClassDoctor) -> str:
    return report.started_at.strftime("%Y-%m-%dT%H:%M:%SZ")


def finding_line(finding: Finding) -> str:
    fix = f" — fix: {finding.fix}" if finding.fix else ""
    return f"{finding.level.value:<8} {finding.id:<{WIDTH}} {finding.detail}{fix}"


def verdict(report: DoctorReport) -> str:
    counts = ", ".join(f"{report.count(level)} {level.value}" for level in Level)
    if report.exit_code:
        return f"doctor: {counts} — the lab cannot run here as it is (fix each problem)"
    return f"doctor: {counts} — the lab can run here"


def render_text(report: DoctorReport) -> str:
    head = (
        f"labrunner doctor: account {report.account}, region {report.region}, stack {report.stack} "
        f"({report.target} target)"
    )
    lines = [head, *(finding_line(f) for f in report.findings), verdict(report)]
    return "\n".join(lines) + "\n"


def report_dict(report: DoctorReport) -> dict[str, Any]:
    return {
        "schema": DOCTOR_SCHEMA,
        "target": report.target,
        "account": report.account,
        "region": report.region,
        "stack": report.stack,
        "caller": report.caller,
        "started_at": _stamp(report),
        "duration_s": report.duration_s,
        "findings": [{"id": f.id, "level": f.level.value, "detail": f.detail, "fix": f.fix} for f in report.findings],
        "summary": {level.value: report.count(level) for level in Level},
        "runnable": report.exit_code == 0,
    }


def render_json(report: DoctorReport) -> str:
    return json.dumps(report_dict(report), indent=2) + "\n"


def render_class_text(result: ClassDoctor) -> str:
    parts = []
    for student in result.students:
        account = student.account or "?"
        if student.report is None:
            parts.append(f"== {student.name} (account {account}) ==\nerror    {student.error}\n")
            continue
        body = render_text(student.report).split("\n", 1)[1]
        parts.append(f"== {student.name} (account {account}, {student.report.region}) ==\n{body}")
    ready = sum(1 for s in result.students if not s.failed)
    parts.append(f"class doctor: {ready} of {len(result.students)} accounts can run the lab")
    return "\n".join(parts) + "\n"


def class_dict(result: ClassDoctor) -> dict[str, Any]:
    students: list[dict[str, Any]] = []
    for student in result.students:
        entry: dict[str, Any] = {"name": student.name, "account": student.account}
        if student.report is not None:
            entry["report"] = report_dict(student.report)
        else:
            entry["error"] = student.error
        students.append(entry)
    return {
        "schema": CLASS_DOCTOR_SCHEMA,
        "target": result.target,
        "started_at": _stamp(result),
        "duration_s": result.duration_s,
        "students": students,
    }


def render_class_json(result: ClassDoctor) -> str:
    return json.dumps(class_dict(result), indent=2) + "\n"
