"""`--format html`: one self-contained page that a person reads on screen and prints (SPEC §3).

Jinja2 templates in templates/, autoescaped: every name, detail and hint may come from AWS or a
student (a bucket tag, a stack name) and is shown as text, never as markup. The page fetches
nothing (inline CSS, no script, no image; its Content-Security-Policy forbids any fetch).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

import jinja2

from labrunner import __version__, nist
from labrunner.model import Report, Status
from labrunner.reporting.json_report import timestamp

if TYPE_CHECKING:
    from labrunner.classroom import ClassReport, StudentResult

HEADING = "Serverless Security Immersion Day — progress report"
SYMBOLS = {
    Status.PASS.value: "✓",
    Status.FAIL.value: "✗",
    Status.PENDING.value: "…",
    Status.ERROR.value: "!",
    Status.SKIPPED.value: "-",
}


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str, ensure_ascii=False)


def evidence_view(value: Any) -> dict[str, Any]:
    """A step's data as a table (a list of records, e.g. lab 1's inventory) or as indented JSON."""
    if isinstance(value, list) and value and all(isinstance(row, dict) for row in value):
        columns = list(dict.fromkeys(key for row in value for key in row))
        rows = [[_scalar(row.get(column, "")) for column in columns] for row in value]
        return {"kind": "table", "columns": columns, "rows": rows}
    return {"kind": "text", "text": json.dumps(value, indent=2, default=str, ensure_ascii=False)}


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("labrunner.reporting", "templates"),
        autoescape=True,  # all templates are HTML; untrusted text stays text
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        version=__version__,
        symbols=SYMBOLS,
        control_title=nist.title,
        evidence_view=evidence_view,
        started=timestamp,
    )
    return env


def render_html(report: Report, *, student: str | None = None) -> str:
    """One run's report (check or solve)."""
    template = environment().get_template("report.html.j2")
    return template.render(report=report, heading=HEADING, student=student)


# -- class mode ---------------------------------------------------------------------------------------
def _labs(step_ids: Sequence[str]) -> list[tuple[str, list[str]]]:
    labs: dict[str, list[str]] = {}
    for step_id in step_ids:
        labs.setdefault(step_id.split(".", 1)[0], []).append(step_id)
    return list(labs.items())


def _cell(step_id: str, report: Report | None) -> dict[str, Any]:
    from labrunner.reporting.class_summary import LEFT_OUT, NOT_RUN

    result = next((s for s in report.steps if s.id == step_id), None) if report is not None else None
    if result is not None:
        value = result.status.value
        return {"step": step_id, "symbol": SYMBOLS[value], "css": value, "label": value, "linked": True}
    mark, label = (LEFT_OUT[0], "not graded") if report is not None else (NOT_RUN[0], "not run")
    return {"step": step_id, "symbol": mark, "css": "notrun", "label": label, "linked": False}


def _row(index: int, student: StudentResult, step_ids: Sequence[str]) -> dict[str, Any]:
    from labrunner.reporting.class_summary import outcome

    return {
        "index": index,
        "name": student.name,
        "account": student.account,
        "error": student.error,
        "reset": student.reset is not None,
        "report": student.report if student.error is None else None,
        "outcome": outcome(student, brief=True),
        "cells": [_cell(step_id, student.report if student.error is None else None) for step_id in step_ids],
    }


def render_class_html(report: ClassReport) -> str:
    """The class: the students x steps grid, then one section per student."""
    from labrunner.reporting.class_summary import LEFT_OUT, NOT_RUN, summary_line

    step_ids = list(report.steps) or list(
        dict.fromkeys(s.id for student in report.students if student.report for s in student.report.steps)
    )
    rows = [_row(index, student, step_ids) for index, student in enumerate(report.students, start=1)]
    passed = [
        sum(1 for row in rows if any(c["step"] == step_id and c["css"] == "pass" for c in row["cells"]))
        for step_id in step_ids
    ]
    legend = [*((value, mark) for value, mark in SYMBOLS.items()), ("not run", NOT_RUN[0]), ("not graded", LEFT_OUT[0])]
    template = environment().get_template("class.html.j2")
    return template.render(
        command="reset --dry-run" if report.dry_run else report.command,
        started_at=report.started_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        summary=summary_line(report),
        labs=_labs(step_ids),
        rows=rows,
        passed=passed,
        legend=legend,
    )


def render_student_html(student: StudentResult) -> str:
    """One student's own page (--output DIR/): their report, or the error that kept them out."""
    if student.report is not None and student.error is None:
        return render_html(student.report, student=student.name)
    template = environment().from_string(
        '{% extends "base.html.j2" %}{% block title %}{{ name }}{% endblock %}'
        '{% block body %}<h1>{{ name }}</h1><p class="meta">Account <span class="mono">{{ account }}</span></p>'
        '<p class="student-error">Error: {{ error }}</p>{% endblock %}'
    )
    return template.render(name=student.name, account=student.account or "-", error=student.error or "no report")
