"""`--format markdown`: a progress report a student can hand in, with NIST controls per step."""

from __future__ import annotations

from labrunner import nist
from labrunner.model import Report, Status
from labrunner.reporting.json_report import timestamp

ICONS = {
    Status.PASS: "✅ pass",
    Status.FAIL: "❌ fail",
    Status.PENDING: "⏳ pending",
    Status.ERROR: "⚠️ error",
    Status.SKIPPED: "⏭️ skipped",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _controls(controls: tuple[str, ...]) -> str:
    return "; ".join(f"{c} {nist.title(c)}".strip() for c in controls) or "—"


def render_markdown(report: Report) -> str:
    s = report.summary
    lines = [
        "# Serverless Security Immersion Day — progress report",
        "",
        f"- Account: `{report.account}` · region `{report.region}` · stack `{report.stack}` · target `{report.target}`",
        f"- Checked: {timestamp(report)} ({report.command}, {report.duration_s:.2f} s)",
        f"- Result: **{s['pass']} pass**, {s['fail']} fail, {s['pending']} pending, {s['error']} error, "
        f"{s['skipped']} skipped of {len(report.steps)} steps",
        "",
    ]
    current_lab = None
    for step in report.steps:
        if step.lab != current_lab:
            current_lab = step.lab
            lines += [
                "",
                f"## {current_lab}",
                "",
                "| Step | Status | NIST SP 800-53 | What to do |",
                "|---|---|---|---|",
            ]
        todo = "" if step.status is Status.PASS else step.hint
        controls = _cell(_controls(step.controls))
        lines.append(f"| `{step.id}` {_cell(step.title)} | {ICONS[step.status]} | {controls} | {_cell(todo)} |")
    unmet = [step for step in report.steps if step.status is not Status.PASS]
    if unmet:
        lines += ["", "## Details of unmet steps", ""]
        for step in unmet:
            lines.append(f"### `{step.id}` — {step.status.value}")
            for check in step.checks:
                if not check.passed:
                    lines.append(f"- {check.name}: {check.detail}")
                    if check.hint:
                        lines.append(f"  - hint: {check.hint}")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
