"""Text output: a live progress view on a terminal, plain lines otherwise, then a summary."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from labrunner.events import Listener
from labrunner.model import Report, Status, StepResult

if TYPE_CHECKING:
    from labrunner.step import Step

STYLE = {
    Status.PASS: "bold green",
    Status.FAIL: "bold red",
    Status.PENDING: "bold yellow",
    Status.ERROR: "bold magenta",
    Status.SKIPPED: "dim",
}


def _summary_line(report: Report) -> str:
    s = report.summary
    parts = [
        f"{s['pass']} pass",
        f"{s['fail']} fail",
        f"{s['pending']} pending",
        f"{s['error']} error",
        f"{s['skipped']} skipped",
    ]
    where = f"{report.target} account {report.account} {report.region}, stack {report.stack}"
    return f"{report.command}: {', '.join(parts)} of {len(report.steps)} steps in {report.duration_s:.2f} s ({where})"


def _step_lines(step: StepResult, debug: bool = False) -> list[str]:
    changed = ""
    if step.changed is not None:
        changed = "  [changed]" if step.changed else "  [no change]"
    lines = [f"{step.status.value.upper():8} {step.id:32} {step.title} ({step.duration_s:.2f} s){changed}"]
    if step.status is not Status.PASS:
        for check in step.checks:
            if not check.passed:
                lines.append(f"         - {check.name}: {check.detail}")
        if step.hint:
            lines.append(f"         hint: {step.hint}")
    if debug and step.trace:
        lines.extend("         " + line for line in step.trace.rstrip().splitlines())
    return lines


def render_plain(report: Report) -> str:
    """The whole report as plain text (for --output FILE with --format text)."""
    lines: list[str] = []
    for step in report.steps:
        lines.extend(_step_lines(step))
        lines.extend(f"         · {note}" for note in step.notes)
    lines.append("")
    lines.append(_summary_line(report))
    return "\n".join(lines) + "\n"


def summary_table(report: Report) -> Table:
    table = Table(title=_summary_line(report), title_justify="left", expand=False)
    table.add_column("step")
    table.add_column("status")
    table.add_column("controls", style="cyan")
    table.add_column("what to do", overflow="fold")
    for step in report.steps:
        todo = "" if step.status is Status.PASS else step.hint
        table.add_row(
            step.id, Text(step.status.value, style=STYLE[step.status]), ", ".join(step.controls), escape(todo)
        )
    return table


class PlainListener(Listener):
    """Plain lines in catalogue order as steps finish (stdout is not a terminal)."""

    def __init__(self, console: Console, debug: bool = False) -> None:
        self.console = console
        self.debug = debug
        self._order: list[str] = []
        self._finished: dict[str, StepResult] = {}
        self._printed = 0
        self._lock = threading.Lock()
        self._command = ""

    def run_started(self, command: str, steps: list[Step]) -> None:
        self._command = command
        self._order = [step.id for step in steps]

    def step_note(self, step: Step, message: str) -> None:
        if self._command == "solve":  # sequential: notes are live progress
            with self._lock:
                self.console.print(f"         · {step.id}: {message}", highlight=False, markup=False)

    def step_finished(self, result: StepResult) -> None:
        with self._lock:
            self._finished[result.id] = result
            while self._printed < len(self._order) and self._order[self._printed] in self._finished:
                done = self._finished[self._order[self._printed]]
                for line in _step_lines(done, self.debug):
                    self.console.print(line, highlight=False, markup=False)
                if self._command == "check":  # solve printed its notes live; check's come in order here
                    for note in done.notes:
                        self.console.print(f"         · {note}", highlight=False, markup=False)
                self._printed += 1

    def run_finished(self, report: Report) -> None:
        self.console.print("")
        self.console.print(_summary_line(report), highlight=False, markup=False)


class LiveListener(Listener):
    """A rich live view: one row per step with a spinner while it runs."""

    def __init__(self, console: Console, debug: bool = False) -> None:
        self.console = console
        self.debug = debug
        self._steps: list[Step] = []
        self._state: dict[str, str] = {}
        self._results: dict[str, StepResult] = {}
        self._last_note: dict[str, str] = {}
        self._started: dict[str, float] = {}
        self._live: Live | None = None
        self._lock = threading.Lock()

    def _render(self) -> Group:
        table = Table.grid(padding=(0, 1))
        for step in self._steps:
            result = self._results.get(step.id)
            if result is not None:
                mark: Text | Spinner = Text(f"{result.status.value:8}", style=STYLE[result.status])
                info = f"{result.duration_s:.2f} s"
            elif step.id in self._state:
                mark = Spinner("dots", text=Text(self._state[step.id], style="cyan"))
                info = f"{time.perf_counter() - self._started[step.id]:.1f} s  {self._last_note.get(step.id, '')}"
            else:
                mark, info = Text("waiting ", style="dim"), ""
            table.add_row(mark, Text(step.id), Text(step.title, style="dim"), Text(info, style="dim"))
        return Group(table)

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.update(self._render())

    def run_started(self, command: str, steps: list[Step]) -> None:
        self._steps = steps
        self._live = Live(self._render(), console=self.console, refresh_per_second=8, transient=True)
        self._live.start()

    def step_started(self, step: Step, phase: str) -> None:
        with self._lock:
            self._state[step.id] = phase
            self._started.setdefault(step.id, time.perf_counter())
            self._refresh()

    def step_note(self, step: Step, message: str) -> None:
        with self._lock:
            self._last_note[step.id] = message
            self._refresh()

    def step_finished(self, result: StepResult) -> None:
        with self._lock:
            self._results[result.id] = result
            self._refresh()

    def run_finished(self, report: Report) -> None:
        if self._live is not None:
            self._live.stop()
        self.console.print(summary_table(report))
        for step in report.steps:
            for note in step.notes:
                self.console.print(f"[dim]· {escape(step.id)}: {escape(note)}[/dim]")
            if self.debug and step.trace:
                self.console.print(escape(step.trace))
