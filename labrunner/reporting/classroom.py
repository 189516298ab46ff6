"""Class mode output: a live students x steps grid, plain lines, and the class report formats.

JSON is `labrunner.class-report/v1`: {"schema", "students": [{"name", "account", "report" | "error"}]}
where "report" is exactly the `labrunner.report/v1` object of that student.
"""

from __future__ import annotations

import io
import json
import re
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from labrunner.classroom import CLASS_SCHEMA, ClassReport, StudentResult
from labrunner.errors import UsageError
from labrunner.events import Listener
from labrunner.model import Status, StepResult
from labrunner.output_path import make_folder, names_folder
from labrunner.reporting.class_summary import LEFT_OUT, NOT_RUN, summary_line
from labrunner.reporting.class_summary import outcome as _outcome
from labrunner.reporting.html import render_class_html, render_student_html
from labrunner.reporting.json_report import report_dict
from labrunner.reporting.junit import render_junit
from labrunner.reporting.markdown import render_markdown
from labrunner.reporting.text import render_plain

if TYPE_CHECKING:
    from labrunner.reset.model import Plan
    from labrunner.roster import Student
    from labrunner.step import Step

MARK = {
    Status.PASS: ("✓", "bold green"),
    Status.FAIL: ("✗", "bold red"),
    Status.PENDING: ("…", "bold yellow"),
    Status.ERROR: ("!", "bold magenta"),
    Status.SKIPPED: ("-", "dim"),
}
RUNNING = ("▸", "cyan")
PLAIN_WIDTH = 160
EXTENSIONS = {"json": "json", "markdown": "md", "junit": "xml", "text": "txt", "html": "html"}


# -- live state -------------------------------------------------------------------------------------
@dataclass
class _Row:
    name: str
    account: str | None
    phase: str = "queued"
    started: float | None = None
    running: set[str] = field(default_factory=set)
    statuses: dict[str, Status] = field(default_factory=dict)
    total: int = 0
    result: StudentResult | None = None


class _StudentListener(Listener):
    """Feeds one student's runner events into the board."""

    def __init__(self, board: ClassBoard, name: str) -> None:
        self.board = board
        self.name = name

    def run_started(self, command: str, steps: list[Step]) -> None:
        self.board.steps_total(self.name, len(steps))

    def step_started(self, step: Step, phase: str) -> None:
        self.board.step_running(self.name, step.id)

    def step_finished(self, result: StepResult) -> None:
        self.board.step_done(self.name, result.id, result.status)


class ClassBoard:
    """Thread-safe state of a class run and how it is shown: live grid, plain lines, or nothing."""

    def __init__(self, students: Sequence[Student], steps: Sequence[Step], command: str, console: Console | None):
        self.command = command
        self.steps = list(steps)
        self.console = console
        self.live_mode = console is not None and console.is_terminal
        self._rows = {s.name: _Row(s.name, s.known_account) for s in students}
        self._order = [s.name for s in students]
        self._lock = threading.RLock()
        self._live: Live | None = None

    # state ---------------------------------------------------------------------------------------
    def update(self, name: str, change: Any) -> None:
        with self._lock:
            row = self._rows[name]
            if row.started is None:
                row.started = time.perf_counter()
            change(row)

    def phase(self, name: str, text: str) -> None:
        self.update(name, lambda row: setattr(row, "phase", text))

    def identified(self, name: str, account: str) -> None:
        self.update(name, lambda row: setattr(row, "account", account))

    def account_of(self, name: str) -> str | None:
        with self._lock:
            return self._rows[name].account

    def listener(self, name: str) -> Listener:
        return _StudentListener(self, name)

    def steps_total(self, name: str, total: int) -> None:
        self.update(name, lambda row: setattr(row, "total", total))

    def step_running(self, name: str, step_id: str) -> None:
        self.update(name, lambda row: row.running.add(step_id))

    def step_done(self, name: str, step_id: str, status: Status) -> None:
        def record(row: _Row) -> None:
            row.running.discard(step_id)
            row.statuses[step_id] = status

        self.update(name, record)

    def planned(self, name: str, plan: Plan) -> None:
        self.phase(name, f"planned: {len(plan.deletions)} to delete, {len(plan.kept)} kept")

    def finished(self, result: StudentResult) -> None:
        def record(row: _Row) -> None:
            row.result = result
            row.running.clear()
            if result.account:
                row.account = result.account
            row.phase = "done"

        self.update(result.name, record)
        if self.console is not None and not self.live_mode:
            line = f"{result.name:<20} {result.account or '-':<12}  {_outcome(result)} ({result.duration_s:.1f} s)"
            with self._lock:
                self.console.print(line, highlight=False, markup=False)

    # display -------------------------------------------------------------------------------------
    def start(self) -> None:
        if self.live_mode and self.console is not None:
            self._live = Live(
                get_renderable=self._render_live, console=self.console, refresh_per_second=4, transient=True
            )
            self._live.start()

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def pause(self) -> None:
        self.stop()

    def resume(self) -> None:
        self.start()

    def _render_live(self) -> Group:
        with self._lock:
            return Group(grid(self.steps, [self._rows[name] for name in self._order], live=True))

    def show_plans(self, plans: Sequence[Plan], *, detailed: bool) -> None:
        from labrunner.reset import render

        was_live = self._live is not None
        self.stop()
        console = self.console or Console(stderr=True, highlight=False, soft_wrap=True)
        rich = console.is_terminal
        if detailed:
            for plan in plans:
                if rich:
                    console.print(render.plan_table(plan))
                else:
                    for line in render.plan_lines(plan):
                        console.print(line, highlight=False, markup=False)
        else:
            table = Table(title="Reset plans", title_justify="left")
            for column in ("account", "to delete", "kept", "what"):
                table.add_column(column)
            for plan in plans:
                kinds: dict[str, int] = {}
                for item in plan.deletions:
                    kinds[str(item.kind)] = kinds.get(str(item.kind), 0) + 1
                what = ", ".join(f"{n} {kind}" for kind, n in kinds.items()) or "nothing the lab made"
                table.add_row(plan.account, str(len(plan.deletions)), str(len(plan.kept)), what)
            console.print(table)
        if was_live:
            self.start()

    def summary(self, report: ClassReport) -> None:
        if self.console is None:
            return
        with self._lock:
            rows = [self._rows[name] for name in self._order]
        self.console.print(grid(self.steps, rows, live=False))
        for line in legend(self.steps):
            self.console.print(line, style="dim", highlight=False, markup=False)
        style = "bold red" if report.exit_code else "bold green"
        self.console.print(summary_line(report), style=style, highlight=False, markup=False)


def make_board(
    students: Sequence[Student], steps: Sequence[Step], command: str, *, fmt: str, output: Path | None
) -> ClassBoard:
    if fmt != "text" and output is None:
        return ClassBoard(students, steps, command, None)  # stdout carries the report itself
    console = Console(highlight=False)
    if not console.is_terminal:  # a log or CI: wide enough for the grid, never wrapped mid-row
        console = Console(highlight=False, soft_wrap=True, width=PLAIN_WIDTH)
    return ClassBoard(students, steps, command, console)


# -- the grid ----------------------------------------------------------------------------------------
def _labs(steps: Sequence[Step]) -> list[tuple[str, list[Step]]]:
    labs: dict[str, list[Step]] = {}
    for step in steps:
        labs.setdefault(step.lab, []).append(step)
    return list(labs.items())


def _cells(steps: Sequence[Step], row: _Row) -> Text:
    text = Text()
    report = row.result.report if row.result is not None else None
    graded = {s.id for s in report.steps} if report is not None else None
    for step in steps:
        status = row.statuses.get(step.id)
        if report is not None:
            status = next((s.status for s in report.steps if s.id == step.id), status)
        if status is not None:
            mark, style = MARK[status]
        elif step.id in row.running:
            mark, style = RUNNING
        elif graded is not None and step.id not in graded:
            mark, style = LEFT_OUT
        else:
            mark, style = NOT_RUN
        text.append(mark, style=style)
    return text


def _style(result: StudentResult) -> str:
    if result.error is not None:
        return "bold magenta"
    return "red" if result.failed else "green"


def grid(steps: Sequence[Step], rows: Sequence[_Row], *, live: bool) -> Table:
    table = Table(expand=False, title_justify="left")
    table.add_column("student", no_wrap=True)
    table.add_column("account", no_wrap=True, min_width=12)
    for lab, _ in _labs(steps):
        table.add_column(lab, no_wrap=True)
    table.add_column("progress" if live else "result", overflow="fold")
    labs = _labs(steps)
    for row in rows:
        cells: list[Any] = [escape(row.name), row.account or "-"]
        cells += [_cells(lab_steps, row) for _, lab_steps in labs]
        if row.result is not None:
            cells.append(Text(_outcome(row.result, brief=True), style=_style(row.result)))
        else:
            elapsed = f" {time.perf_counter() - row.started:.1f} s" if row.started is not None else ""
            done = f" {len(row.statuses)}/{row.total}" if row.total else ""
            cells.append(Text(f"{row.phase}{done}{elapsed}", style="cyan" if row.started else "dim"))
        table.add_row(*cells)
    return table


def legend(steps: Sequence[Step]) -> list[str]:
    marks = "  ".join(f"{MARK[s][0]} {s.value}" for s in MARK)
    lines = [f"{marks}  {NOT_RUN[0]} not run  {LEFT_OUT[0]} not graded"]
    for lab, lab_steps in _labs(steps):
        lines.append(f"{lab}: " + " ".join(s.id.split(".", 1)[1] for s in lab_steps))
    return lines


# -- report formats ------------------------------------------------------------------------------------
def student_dict(student: StudentResult) -> dict[str, Any]:
    out: dict[str, Any] = {"name": student.name, "account": student.account}
    if student.error is not None:
        out["error"] = student.error
        return out
    if student.report is not None:
        out["report"] = report_dict(student.report)
    if student.reset is not None:
        from labrunner.reset.render import reset_dict

        reset = reset_dict(student.reset)
        reset.pop("after", None)  # the same as "report"
        out["reset"] = reset
    return out


def class_dict(report: ClassReport) -> dict[str, Any]:
    errors = sum(s.error is not None for s in report.students)
    failed = sum(s.failed and s.error is None for s in report.students)
    return {
        "schema": CLASS_SCHEMA,
        "command": report.command,
        "target": report.target,
        "dry_run": report.dry_run,
        "started_at": report.started_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "duration_s": report.duration_s,
        "summary": {
            "students": len(report.students),
            "ok": len(report.students) - errors - failed,
            "failed": failed,
            "error": errors,
        },
        "students": [student_dict(student) for student in report.students],
    }


def _student_markdown(student: StudentResult) -> str:
    if student.error is not None:
        return f"# {student.name}\n\n- Account: `{student.account or '-'}`\n- **Error:** {student.error}\n"
    parts = []
    if student.reset is not None:
        from labrunner.reset.render import render_markdown as reset_markdown

        parts.append(reset_markdown(student.reset))
    if student.report is not None:
        parts.append(render_markdown(student.report))
    body = "\n".join(parts)
    return (
        f"# {student.name}\n\n"
        + "\n".join(("#" + line if line.startswith("#") else line) for line in body.splitlines())
        + "\n"
    )


def render_class_markdown(report: ClassReport) -> str:
    lines = [
        f"# Serverless Security Immersion Day — class {report.command}",
        "",
        f"- {summary_line(report)}",
        f"- Started: {report.started_at.strftime('%Y-%m-%dT%H:%M:%SZ')}",
        "",
        "| Student | Account | Result |",
        "|---|---|---|",
    ]
    for student in report.students:
        outcome = _outcome(student).replace("|", "\\|")
        lines.append(f"| {student.name} | `{student.account or '-'}` | {outcome} |")
    text = "\n".join(lines) + "\n"
    for student in report.students:
        text += (
            "\n"
            + "\n".join(
                "#" + line if line.startswith("#") else line for line in _student_markdown(student).splitlines()
            )
            + "\n"
        )
    return text


def _student_junit(student: StudentResult) -> ET.Element:
    if student.error is not None or student.report is None:
        root = ET.Element("testsuites")
        suite = ET.SubElement(root, "testsuite", name="connect", tests="1", failures="0", errors="1", skipped="0")
        case = ET.SubElement(suite, "testcase", classname="labrunner.class", name="reach the account")
        ET.SubElement(case, "error", message=student.error or "no report", type="error")
        return root
    return ET.fromstring(render_junit(student.report))


def render_class_junit(report: ClassReport) -> str:
    root = ET.Element("testsuites", name=f"labrunner class {report.command}", time=f"{report.duration_s:.3f}")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for student in report.students:
        for suite in _student_junit(student).iter("testsuite"):
            suite.set("name", f"{student.name}/{suite.get('name', '')}")
            suite.set("hostname", f"{report.target}:{student.account or '-'}")
            for key in totals:
                totals[key] += int(suite.get(key, "0"))
            root.append(suite)
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def render_class_text(report: ClassReport) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, no_color=True, highlight=False, soft_wrap=True)
    for student in report.students:
        console.print(f"{student.name:<20} {student.account or '-':<12}  {_outcome(student)}", markup=False)
    console.print("")
    console.print(summary_line(report), markup=False)
    return buffer.getvalue()


def render_class(report: ClassReport, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(class_dict(report), indent=2, default=str) + "\n"
    if fmt == "markdown":
        return render_class_markdown(report)
    if fmt == "junit":
        return render_class_junit(report)
    if fmt == "html":
        return render_class_html(report)
    return render_class_text(report)


def render_student(student: StudentResult, fmt: str) -> str:
    """One student's own file (the report they would get from `labrunner check`)."""
    if fmt == "json":
        return json.dumps(student_dict(student), indent=2, default=str) + "\n"
    if fmt == "markdown":
        return _student_markdown(student)
    if fmt == "html":
        return render_student_html(student)
    if fmt == "junit":
        root = _student_junit(student)
        ET.indent(root)
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
    if student.report is not None:
        return render_plain(student.report)
    return f"{student.name}: {_outcome(student)}\n"


def safe_filename(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "student"


def write_outputs(report: ClassReport, fmt: str, output: Path | None) -> None:
    """stdout (non-text formats), --output FILE, or --output DIR: class.EXT plus one file per student."""
    text = render_class(report, fmt)
    try:
        if output is None:
            if fmt != "text":
                sys.stdout.write(text)
            return
        if names_folder(output):
            make_folder(output)
            ext = EXTENSIONS[fmt]
            (output / f"class.{ext}").write_text(text)
            used: set[str] = set()
            for student in report.students:
                stem = safe_filename(student.name)
                while stem in used or stem == "class":
                    stem += "_"
                used.add(stem)
                (output / f"{stem}.{ext}").write_text(render_student(student, fmt))
            return
        output.write_text(text)
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror}") from exc
