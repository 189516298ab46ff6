"""What `labrunner doctor` found: one finding per item, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

DOCTOR_SCHEMA = "labrunner.doctor/v1"
CLASS_DOCTOR_SCHEMA = "labrunner.class-doctor/v1"


class Level(StrEnum):
    OK = "ok"
    WARN = "warn"  # the lab runs, but the instructor should know (and what the labs will do)
    PROBLEM = "problem"  # the lab cannot run here as it is


@dataclass(frozen=True)
class Finding:
    id: str  # e.g. "permissions.solve"
    level: Level
    detail: str
    fix: str = ""  # what to do about a problem (or a warn)

    @classmethod
    def ok(cls, id: str, detail: str) -> Finding:
        return cls(id, Level.OK, detail)

    @classmethod
    def warn(cls, id: str, detail: str, fix: str = "") -> Finding:
        return cls(id, Level.WARN, detail, fix)

    @classmethod
    def problem(cls, id: str, detail: str, fix: str) -> Finding:
        return cls(id, Level.PROBLEM, detail, fix)


@dataclass(frozen=True)
class DoctorReport:
    target: str
    account: str
    region: str
    stack: str
    caller: str
    started_at: datetime
    duration_s: float
    findings: tuple[Finding, ...]

    def count(self, level: Level) -> int:
        return sum(1 for f in self.findings if f.level is level)

    @property
    def exit_code(self) -> int:
        """1 when the lab cannot run here (any problem), else 0."""
        return 1 if self.count(Level.PROBLEM) else 0


@dataclass(frozen=True)
class StudentDoctor:
    """One roster entry: its doctor report, or why it could not be examined."""

    name: str
    account: str | None
    report: DoctorReport | None = None
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None or (self.report is not None and self.report.exit_code != 0)


@dataclass(frozen=True)
class ClassDoctor:
    target: str
    started_at: datetime
    duration_s: float
    students: tuple[StudentDoctor, ...]

    @property
    def exit_code(self) -> int:
        return 1 if any(s.failed for s in self.students) else 0
