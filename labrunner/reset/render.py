"""Show a reset: the plan (type, name, why it is the lab's, action), what happened, and the proof."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from labrunner.reporting.json_report import report_dict
from labrunner.reset.model import RESET_SCHEMA, Outcome, Plan, ResetResult

OUTCOME_STYLE = {
    Outcome.DELETED: "green",
    Outcome.GONE: "dim",
    Outcome.FAILED: "bold red",
    Outcome.KEPT: "cyan",
    Outcome.PLANNED: "yellow",
}


def where(plan: Plan) -> str:
    return f"{plan.target} account {plan.account} {plan.region}, stack {plan.stack}"


def plan_table(plan: Plan) -> Table:
    table = Table(
        title=f"Reset plan for {where(plan)}: {len(plan.deletions)} to delete, {len(plan.kept)} kept",
        title_justify="left",
    )
    table.add_column("type")
    table.add_column("name", overflow="fold")
    table.add_column("belongs to", overflow="fold")
    table.add_column("why it is the lab's", overflow="fold")
    table.add_column("action")
    for item in plan.items:
        style = "cyan" if not item.delete else ""
        table.add_row(
            str(item.kind), escape(item.name), escape(item.owner), escape(item.why), Text(item.action, style=style)
        )
    if not plan.items:
        table.add_row("—", "nothing the lab made was found", "", "", "")
    return table


def plan_lines(plan: Plan) -> list[str]:
    lines = [f"reset plan for {where(plan)}: {len(plan.deletions)} to delete, {len(plan.kept)} kept"]
    for item in plan.items:
        owner = f" [{item.owner}]" if item.owner else ""
        lines.append(f"  {item.action.upper():30} {item.kind}: {item.name}{owner} — {item.why}")
    if not plan.items:
        lines.append("  nothing the lab made was found")
    return lines


def results_table(result: ResetResult) -> Table:
    table = Table(title="What the reset did", title_justify="left")
    table.add_column("type")
    table.add_column("name", overflow="fold")
    table.add_column("outcome")
    table.add_column("detail", overflow="fold")
    for action in result.actions:
        table.add_row(
            str(action.item.kind),
            escape(action.item.name),
            Text(action.outcome.value, style=OUTCOME_STYLE[action.outcome]),
            escape(action.detail or ("" if action.item.delete else action.item.why)),
        )
    return table


def result_lines(result: ResetResult) -> list[str]:
    lines = []
    for action in result.actions:
        if action.outcome is Outcome.KEPT or action.outcome is Outcome.PLANNED:
            continue  # the plan already listed them
        detail = f" — {action.detail}" if action.detail else ""
        lines.append(f"  {action.outcome.value.upper():13} {action.item.kind}: {action.item.name}{detail}")
    return lines


def _count(result: ResetResult, outcome: Outcome) -> int:
    return sum(a.outcome is outcome for a in result.actions)


def verdict(result: ResetResult) -> str:
    """Whether the account is back at the start, and if not, why."""
    if result.dry_run:
        return "dry run: nothing was changed"
    total = len(result.after.steps) if result.after is not None else 0
    if result.clean:
        aside = ""
        if result.account_free:
            aside = f"; left out, as they judge files, not the account: {', '.join(result.account_free)}"
        if result.shared_passing:
            aside += (
                f"; {', '.join(result.shared_passing)} still pass on the Config setup that "
                f"{', '.join(result.plan.shared_with)} still uses"
            )
            return f"stack {result.plan.stack} is gone: nothing of it is left{aside}"
        if result.kept_passing:
            kept = ", ".join(f"{item.kind} {item.name}" for item in result.plan.kept)
            passes = "passes" if len(result.kept_passing) == 1 else "pass"
            return (
                f"the account is back at the start: of the {total} steps that read it, only "
                f"{', '.join(result.kept_passing)} {passes}, on what was there before the lab and is kept as "
                f"not the lab's ({kept}){aside}"
            )
        return f"the account is back at the start: none of the {total} steps that read it passes{aside}"
    reasons = []
    if result.failures:
        failed = ", ".join(f"{a.item.kind} {a.item.name} ({a.detail})" for a in result.failures)
        reasons.append(f"{len(result.failures)} deletion(s) failed: {failed}")
    if result.passing:
        kept = ", ".join(f"{item.kind} {item.name}" for item in result.plan.kept)
        still = f"{', '.join(result.passing)} still pass{'es' if len(result.passing) == 1 else ''}"
        reasons.append(f"{still}" + (f" (kept as not the lab's: {kept})" if kept else ""))
    return "the account is NOT back at the start: " + "; ".join(reasons)


def summary_line(result: ResetResult) -> str:
    plan = result.plan
    if result.dry_run:
        counts = f"{len(plan.deletions)} to delete, {len(plan.kept)} kept"
        return f"reset --dry-run of {where(plan)}: {counts} — {verdict(result)}"
    counts = (
        f"{_count(result, Outcome.DELETED)} deleted, {_count(result, Outcome.GONE)} already gone, "
        f"{_count(result, Outcome.FAILED)} failed, {_count(result, Outcome.KEPT)} kept"
    )
    return f"reset of {where(plan)}: {counts} in {result.duration_s:.2f} s — {verdict(result)}"


def reset_dict(result: ResetResult) -> dict[str, Any]:
    plan = result.plan
    return {
        "schema": RESET_SCHEMA,
        "target": plan.target,
        "account": plan.account,
        "region": plan.region,
        "stack": plan.stack,
        "dry_run": result.dry_run,
        "duration_s": result.duration_s,
        "plan": [
            {
                "type": str(i.kind),
                "name": i.name,
                "stack": i.owner,
                "why": i.why,
                "action": i.action,
                "delete": i.delete,
            }
            for i in plan.items
        ],
        "actions": [
            {
                "type": str(a.item.kind),
                "name": a.item.name,
                "outcome": a.outcome.value,
                "detail": a.detail,
                **({"code": a.code} if a.code else {}),
            }
            for a in result.actions
        ],
        "still_passing": list(result.passing),
        "passing_on_kept": list(result.kept_passing),
        "not_account_state": list(result.account_free),
        "clean": result.clean,
        "verdict": verdict(result),
        "after": report_dict(result.after) if result.after is not None else None,
    }


def render_markdown(result: ResetResult) -> str:
    plan = result.plan

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [
        "# labrunner reset",
        "",
        f"- Account: `{plan.account}` · region `{plan.region}` · stack `{plan.stack}` · target `{plan.target}`",
        f"- Result: {cell(verdict(result))}",
        "",
        "| Type | Name | Why it is the lab's | Action | Outcome |",
        "|---|---|---|---|---|",
    ]
    outcomes = {(a.item.kind, a.item.name): a for a in result.actions}
    for item in plan.items:
        action = outcomes.get((item.kind, item.name))
        outcome = "" if action is None else action.outcome.value + (f": {action.detail}" if action.detail else "")
        lines.append(f"| {item.kind} | `{cell(item.name)}` | {cell(item.why)} | {item.action} | {cell(outcome)} |")
    return "\n".join(lines) + "\n"


def render_junit(result: ResetResult) -> str:
    root = ET.Element("testsuites", name="labrunner reset")
    suite = ET.SubElement(
        root,
        "testsuite",
        name=f"reset {result.plan.account}",
        tests=str(len(result.actions) + 1),
        failures=str(len(result.failures) + (0 if result.clean or result.dry_run else 1)),
        time=f"{result.duration_s:.3f}",
    )
    for action in result.actions:
        case = ET.SubElement(
            suite, "testcase", classname="labrunner.reset", name=f"{action.item.kind} {action.item.name}"
        )
        if action.outcome is Outcome.FAILED:
            ET.SubElement(case, "failure", message=action.detail, type=action.code or "failed")
        elif action.outcome in (Outcome.KEPT, Outcome.PLANNED):
            ET.SubElement(case, "skipped", message=f"{action.outcome.value}: {action.item.why}")
    proof = ET.SubElement(suite, "testcase", classname="labrunner.reset", name="back at the start")
    if result.dry_run:
        ET.SubElement(proof, "skipped", message="dry run")
    elif not result.clean:
        ET.SubElement(proof, "failure", message=verdict(result), type="not-clean")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def render(result: ResetResult, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(reset_dict(result), indent=2, default=str) + "\n"
    if fmt == "markdown":
        return render_markdown(result)
    if fmt == "junit":
        return render_junit(result)
    lines = plan_lines(result.plan) + result_lines(result) + ["", summary_line(result)]
    return "\n".join(lines) + "\n"
