"""`--format junit`: one testcase per step, for CI and LMS import."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from labrunner.model import Report, Status, StepResult
from labrunner.reporting.json_report import timestamp


def _checks_text(step: StepResult) -> str:
    lines = []
    for check in step.checks:
        mark = "ok" if check.passed else ("pending" if check.pending else "NOT MET")
        lines.append(f"[{mark}] {check.name}: {check.detail}")
        if not check.passed and check.hint:
            lines.append(f"    hint: {check.hint}")
    return "\n".join(lines)


def _testcase(parent: ET.Element, step: StepResult) -> None:
    case = ET.SubElement(
        parent,
        "testcase",
        classname=f"labrunner.{step.lab}",
        name=f"{step.id}: {step.title}",
        time=f"{step.duration_s:.3f}",
    )
    controls = ", ".join(step.controls)
    text = _checks_text(step)
    if step.status is Status.FAIL:
        ET.SubElement(case, "failure", message=step.hint, type="fail").text = text
    elif step.status is Status.ERROR:
        ET.SubElement(case, "error", message=step.hint, type="error").text = text
    elif step.status is Status.SKIPPED:
        ET.SubElement(case, "skipped", message=step.hint)
    elif step.status is Status.PENDING:
        ET.SubElement(case, "skipped", message=f"pending: {step.hint}")
    props = ET.SubElement(case, "properties")
    ET.SubElement(props, "property", name="status", value=step.status.value)
    ET.SubElement(props, "property", name="nist_controls", value=controls)
    ET.SubElement(case, "system-out").text = text


def render_junit(report: Report) -> str:
    summary = report.summary
    root = ET.Element(
        "testsuites",
        name=f"labrunner {report.command}",
        tests=str(len(report.steps)),
        failures=str(summary["fail"]),
        errors=str(summary["error"]),
        skipped=str(summary["skipped"] + summary["pending"]),
        time=f"{report.duration_s:.3f}",
    )
    labs: dict[str, list[StepResult]] = {}
    for step in report.steps:
        labs.setdefault(step.lab, []).append(step)
    for lab, steps in labs.items():
        suite = ET.SubElement(
            root,
            "testsuite",
            name=lab,
            tests=str(len(steps)),
            failures=str(sum(s.status is Status.FAIL for s in steps)),
            errors=str(sum(s.status is Status.ERROR for s in steps)),
            skipped=str(sum(s.status in (Status.SKIPPED, Status.PENDING) for s in steps)),
            time=f"{sum(s.duration_s for s in steps):.3f}",
            timestamp=timestamp(report),
            hostname=f"{report.target}:{report.account}:{report.region}",
        )
        for step in steps:
            _testcase(suite, step)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
