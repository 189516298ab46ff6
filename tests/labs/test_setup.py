"""`labrunner up` end to end on the local target, and the contract every discovered step keeps."""

from __future__ import annotations

import json

from labrunner.context import Context
from labrunner.discovery import load_catalogue
from labrunner.local.lifecycle import Endpoint
from labrunner.model import Status
from tests.helpers import cli, run


def test_up_deploys_and_is_idempotent(fresh_server: Endpoint, local_env: Endpoint) -> None:
    first = cli("up", "--format", "json")
    report = json.loads(first.out)
    assert first.code == 0, first.out + first.err
    assert {s["id"]: s["status"] for s in report["steps"]} == {"setup.stack": "pass", "setup.pipeline": "pass"}
    assert all(s["changed"] for s in report["steps"])
    second = json.loads(cli("up", "--format", "json").out)
    assert [s["changed"] for s in second["steps"]] == [False, False]
    assert [s["status"] for s in second["steps"]] == ["pass", "pass"]


def test_check_after_up_shows_unmet_later_steps_with_hints(deployed: Context) -> None:
    catalogue = load_catalogue()
    later = [s for s in catalogue.steps if s.lab != "setup"]
    if not later:
        return  # only the setup lab exists so far: nothing later to be unmet
    result = cli("check")
    assert result.code == 1
    report = run(deployed, "check", [])
    unmet = [s for s in report.steps if s.status is not Status.PASS]
    assert unmet, "a freshly deployed workload cannot pass every lab"
    for step in unmet:
        assert step.hint, f"{step.id} is {step.status.value} without a hint"
