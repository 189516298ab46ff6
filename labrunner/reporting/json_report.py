"""`--format json`: exactly labrunner.report/v1 (SPEC §5)."""

from __future__ import annotations

import json
from typing import Any

from labrunner.model import REPORT_SCHEMA, Report, StepResult


def timestamp(report: Report) -> str:
    return report.started_at.strftime("%Y-%m-%dT%H:%M:%SZ")


def step_dict(step: StepResult) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": step.id,
        "lab": step.lab,
        "title": step.title,
        "status": step.status.value,
        "controls": list(step.controls),
        "hint": step.hint,
        "duration_s": step.duration_s,
        "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail, "hint": c.hint} for c in step.checks],
    }
    # Extras appear only where they carry something: what solve changed and noted, step data.
    if step.changed is not None:
        out["changed"] = step.changed
    if step.notes:
        out["notes"] = list(step.notes)
    if step.data:
        out["data"] = dict(step.data)
    return out


def report_dict(report: Report) -> dict[str, Any]:
    return {
        "schema": REPORT_SCHEMA,
        "target": report.target,
        "account": report.account,
        "region": report.region,
        "stack": report.stack,
        "started_at": timestamp(report),
        "duration_s": report.duration_s,
        "steps": [step_dict(step) for step in report.steps],
        "summary": report.summary,
    }


def render_json(report: Report) -> str:
    return json.dumps(report_dict(report), indent=2, default=str) + "\n"
