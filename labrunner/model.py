"""Results of a run: plain frozen dataclasses, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

REPORT_SCHEMA = "labrunner.report/v1"


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"  # checked, not met
    PENDING = "pending"  # met as far as can be seen; AWS has yet to deliver (logs, evaluations)
    ERROR = "error"  # could not be checked: the checker crashed or lacked permission
    SKIPPED = "skipped"  # a step it depends on did not pass

    @property
    def failed(self) -> bool:
        return self in (Status.FAIL, Status.ERROR)


STATUS_ORDER = (Status.PASS, Status.FAIL, Status.PENDING, Status.ERROR, Status.SKIPPED)


@dataclass(frozen=True)
class Check:
    """One observation inside a step: what was looked at, what was found, what to do about it."""

    name: str
    passed: bool
    detail: str = ""
    hint: str = ""
    pending: bool = False

    @classmethod
    def ok(cls, name: str, detail: str = "") -> Check:
        return cls(name=name, passed=True, detail=detail)

    @classmethod
    def fail(cls, name: str, detail: str, hint: str) -> Check:
        return cls(name=name, passed=False, detail=detail, hint=hint)

    @classmethod
    def waiting(cls, name: str, detail: str, hint: str) -> Check:
        """Not met yet, but nothing is wrong: AWS delivers it eventually."""
        return cls(name=name, passed=False, detail=detail, hint=hint, pending=True)


def status_of(checks: tuple[Check, ...]) -> Status:
    if not checks:
        return Status.ERROR
    if any(not c.passed and not c.pending for c in checks):
        return Status.FAIL
    if any(c.pending for c in checks):
        return Status.PENDING
    return Status.PASS


@dataclass(frozen=True)
class StepResult:
    id: str
    lab: str
    title: str
    status: Status
    controls: tuple[str, ...]
    hint: str = ""
    duration_s: float = 0.0
    checks: tuple[Check, ...] = ()
    changed: bool | None = None  # solve only: did apply change anything
    notes: tuple[str, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)
    trace: str = ""  # the traceback of an error, shown with --debug only


@dataclass(frozen=True)
class Report:
    command: str  # "check" or "solve"
    target: str
    account: str
    region: str
    stack: str
    started_at: datetime
    duration_s: float
    steps: tuple[StepResult, ...]

    @property
    def summary(self) -> dict[str, int]:
        counts = {status.value: 0 for status in STATUS_ORDER}
        for step in self.steps:
            counts[step.status.value] += 1
        return counts

    @property
    def exit_code(self) -> int:
        return 1 if any(step.status.failed for step in self.steps) else 0
