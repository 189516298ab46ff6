"""The contract every discovered step keeps (SPEC §4), checked over the whole catalogue."""

from __future__ import annotations

import pytest

from labrunner.context import Context
from labrunner.discovery import load_catalogue
from labrunner.model import Status
from tests.helpers import run

# SPEC §4: every step id with its NIST controls, in catalogue order.
SPEC_STEPS: dict[str, tuple[str, ...]] = {
    "setup.stack": ("CM-2",),
    "setup.pipeline": (),
    "lab1.inventory": ("CM-8",),
    "lab2.encryption": ("SC-28",),
    "lab2.encrypted-upload": ("SC-28",),
    "lab2.log-bucket": ("AU-9", "AC-3"),
    "lab2.access-logging": ("AU-2", "AU-12"),
    "lab2.logs-delivered": ("AU-12",),
    "lab3.trust-policy": ("SC-7(11)", "SC-7(21)", "AC-6"),
    "lab3.no-admin": ("AC-6",),
    "lab3.basic-execution": ("AC-6", "AU-12"),
    "lab3.dynamodb-least-privilege": ("AC-6", "AC-3"),
    "lab3.sqs-least-privilege": ("AC-6", "AC-3"),
    "lab3.pipeline": ("AC-6",),
    "lab3.access-denied": ("AC-3", "AU-2"),
    "lab4.recorder": ("CA-7", "CM-8"),
    "lab4.rules": ("CA-7", "CM-6"),
    "lab4.noncompliance": ("CA-7", "SI-4"),
    "lab4.remediated": ("CM-6",),
    "extra.template-secure": ("CM-2", "CM-3"),
    "extra.stack-secure": ("CM-2", "CM-6"),
}

CATALOGUE = load_catalogue()
STEPS = CATALOGUE.steps


def test_catalogue_is_the_spec_in_order() -> None:
    ids = [step.id for step in STEPS]
    assert all(step_id in SPEC_STEPS for step_id in ids), set(ids) - set(SPEC_STEPS)
    spec_order = [step_id for step_id in SPEC_STEPS if step_id in ids]
    assert ids == spec_order
    labs_present = {step.lab for step in STEPS}
    missing = [step_id for step_id in SPEC_STEPS if step_id.split(".")[0] in labs_present and step_id not in ids]
    assert not missing, f"labs that exist must have every SPEC step: {missing}"


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.id)
def test_step_metadata(step: object) -> None:
    from labrunner.step import Step

    assert isinstance(step, Step)
    assert tuple(step.controls) == SPEC_STEPS[step.id]
    assert step.title and step.why.strip() and step.console.strip() and step.automation.strip()
    assert step.hint, "a step-level hint for when it is not met"


@pytest.mark.slow
def test_check_everything_read_only_with_hints(deployed: Context) -> None:
    """On a fresh workload: no step crashes or writes, and every unmet check says what to do."""
    report = run(deployed, "check", [])
    errors = {s.id: s.hint for s in report.steps if s.status is Status.ERROR}
    assert not errors
    for step in report.steps:
        for check in step.checks:
            if not check.passed:
                assert check.hint, f"{step.id}: check {check.name!r} fails without a hint"


@pytest.mark.slow
def test_solve_everything_twice(deployed: Context) -> None:
    """Solve passes every step; a second solve changes nothing."""
    first = run(deployed, "solve", [])
    assert {s.id: s.status for s in first.steps if s.status is not Status.PASS} == {}
    second = run(deployed, "solve", [])
    assert {s.id: s.status for s in second.steps if s.status is not Status.PASS} == {}
    assert [s.id for s in second.steps if s.changed] == []
