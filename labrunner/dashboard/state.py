"""What the dashboard shows, and the background rounds of class checks that keep it current.

A round is exactly `labrunner class check` (class_workers.grade_students: read-only contexts, `--jobs`
students at a time, one student's error is that student's row). Each student's result is pushed
as soon as that student is done, so the page fills while a round runs; `/api/class` serves the
last complete round as `labrunner.class-report/v1`.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labrunner import nist
from labrunner.class_workers import grade_students
from labrunner.classroom import ClassReport, StudentResult, describe_error
from labrunner.model import Status
from labrunner.reporting.class_summary import NOT_RUN
from labrunner.reporting.classroom import MARK, RUNNING, ClassBoard, class_dict, student_dict

if TYPE_CHECKING:
    from labrunner.classroom import ClassRun
    from labrunner.roster import Student
    from labrunner.step import Step

EVENTS_KEPT = 1000  # a page further behind than this gets a fresh snapshot


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Event:
    seq: int
    name: str  # "student" (one student's latest) or "round" (the rounds' progress)
    data: dict[str, Any]


def page_meta(steps: Sequence[Step], target: str, interval_s: float) -> dict[str, Any]:
    """What the page needs besides results: the steps (with their NIST controls) and the grid's symbols,
    the same as the terminal grid's."""
    marks = {status.value: MARK[status][0] for status in Status}
    marks.update(not_run=NOT_RUN[0], running=RUNNING[0])
    return {
        "target": target,
        "interval_s": interval_s,
        "marks": marks,
        "steps": [
            {
                "id": step.id,
                "lab": step.lab,
                "title": step.title,
                "controls": [{"id": c, "title": nist.title(c)} for c in step.controls],
                "console": step.console,
            }
            for step in steps
        ],
    }


class ClassState:
    """Thread-safe: the latest result of every student, the rounds' progress, and the events that the
    server-sent event streams replay to each page."""

    def __init__(self, students: Sequence[Student], meta: dict[str, Any]) -> None:
        self.meta = meta
        self._cond = threading.Condition()
        self._seq = 0
        self._events: deque[Event] = deque(maxlen=EVENTS_KEPT)
        self._order = [s.name for s in students]
        self._students: dict[str, dict[str, Any]] = {
            s.name: {"name": s.name, "account": s.known_account, "checking": False, "checked_at": None}
            for s in students
        }
        self._round: dict[str, Any] = {
            "number": 0,
            "running": False,
            "started_at": None,
            "finished_at": None,
            "duration_s": None,
            "error": None,
        }
        self._report: ClassReport | None = None
        self.closed = False

    # -- changes (from the rounds' threads) --------------------------------------------------------
    def _push(self, name: str, data: dict[str, Any]) -> None:
        with self._cond:
            self._seq += 1
            self._events.append(Event(self._seq, name, data))
            self._cond.notify_all()

    def _student_changed(self, name: str, change: dict[str, Any]) -> None:
        with self._cond:
            entry = self._students[name]
            entry.update(change)
            self._push("student", dict(entry))

    def student_checking(self, name: str) -> None:
        self._student_changed(name, {"checking": True})

    def student_finished(self, result: StudentResult) -> None:
        entry = student_dict(result)
        change: dict[str, Any] = {"checking": False, "checked_at": _now(), "account": entry["account"]}
        change["report"] = entry.get("report")
        change["error"] = entry.get("error")
        self._student_changed(result.name, change)

    def round_started(self) -> None:
        with self._cond:
            self._round.update(number=self._round["number"] + 1, running=True, started_at=_now(), error=None)
            self._push("round", dict(self._round))

    def round_finished(self, report: ClassReport | None, error: str | None = None) -> None:
        with self._cond:
            if report is not None:
                self._report = report
            self._round.update(running=False, finished_at=_now(), error=error)
            self._round["duration_s"] = report.duration_s if report is not None else None
            self._push("round", dict(self._round))

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    # -- reads (from the server's threads) ---------------------------------------------------------
    def snapshot(self) -> tuple[int, dict[str, Any]]:
        """Everything a page needs to draw itself, and the event number it is current to."""
        with self._cond:
            students = [dict(self._students[name]) for name in self._order]
            return self._seq, {"meta": self.meta, "round": dict(self._round), "students": students}

    def events_after(self, seq: int, timeout: float) -> list[Event] | None:
        """Events after `seq`, waiting up to `timeout` for one; None when the page fell too far behind
        (it needs a fresh snapshot)."""
        with self._cond:
            self._cond.wait_for(lambda: self._seq > seq or self.closed, timeout=timeout)
            if self._seq > seq and (not self._events or self._events[0].seq > seq + 1):
                return None
            return [event for event in self._events if event.seq > seq]

    def class_report(self) -> dict[str, Any] | None:
        """The last complete round as `labrunner.class-report/v1`, None before the first one ends."""
        with self._cond:
            report = self._report
        return class_dict(report) if report is not None else None


class DashboardBoard(ClassBoard):
    """The class board of a round, with no terminal: tells the state when a student starts and ends.
    Worker processes' events reach it through the same methods (class_workers replays them)."""

    def __init__(self, students: Sequence[Student], steps: Sequence[Step], state: ClassState) -> None:
        super().__init__(students, steps, "check", None)
        self.state = state

    def phase(self, name: str, text: str) -> None:
        super().phase(name, text)
        if text == "connecting":  # ClassRun.open's first word: this student's check has begun
            self.state.student_checking(name)

    def finished(self, result: StudentResult) -> None:
        super().finished(result)
        self.state.student_finished(result)


class Rounds:
    """Checks the class every `interval_s` seconds until Ctrl-C. A round that takes longer than the
    interval delays the next one; rounds never overlap. Runs in the main thread, as `class check` does,
    so that Ctrl-C stops a round the same way (worker processes ignore it and are terminated)."""

    def __init__(
        self,
        run: ClassRun,
        students: Sequence[Student],
        steps: list[Step],
        state: ClassState,
        *,
        interval_s: float,
        labs_dirs: list[Path],
    ) -> None:
        self.run = run
        self.students = list(students)
        self.steps = steps
        self.state = state
        self.interval_s = interval_s
        self.labs_dirs = labs_dirs

    def forever(self) -> None:
        while True:
            began = time.monotonic()
            self.one_round()
            time.sleep(max(0.0, self.interval_s - (time.monotonic() - began)))

    def one_round(self) -> None:
        self.state.round_started()
        started_at, t0 = datetime.now(UTC), time.perf_counter()
        try:
            results = grade_students(self.run, self.students, "check", self.steps, labs_dirs=self.labs_dirs)
        except Exception as exc:  # the dashboard stays up; the page shows why this round failed
            self.state.round_finished(None, error=describe_error(exc))
            return
        report = ClassReport(
            command="check",
            target=self.run.kind,
            started_at=started_at,
            duration_s=round(time.perf_counter() - t0, 3),
            students=tuple(results),
            steps=tuple(step.id for step in self.steps),
        )
        self.state.round_finished(report)
