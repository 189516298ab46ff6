"""Interrupted work: `labrunner solve` killed (SIGINT, then SIGKILL) in the middle of each lab's
apply, then run again, completes cleanly; at the end the account is what one clean solve leaves."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from labrunner.local.lifecycle import Endpoint
from tests.helpers import cli

TIMEOUT_S = 240


@dataclass(frozen=True)
class Interruption:
    """Kill `solve LAB` with `signal` right after a progress line containing `after` appears;
    `left_behind(clients)`, if given, proves the half-done state the kill leaves."""

    after: str
    signal: signal.Signals
    left_behind: Callable[[Callable[[str], Any]], bool] | None = None


def demo_left_get_item(client: Callable[[str], Any]) -> bool:
    """The AccessDenied demo was killed with GetItem in place of PutItem in the role's policy."""
    cfn, iam = client("cloudformation"), client("iam")
    role = cfn.describe_stack_resource(StackName="immersion", LogicalResourceId="MetadataLambdaRole")
    name = role["StackResourceDetail"]["PhysicalResourceId"]
    document = iam.get_role_policy(RoleName=name, PolicyName="DynamoDbPutItemOnly")["PolicyDocument"]
    return "dynamodb:GetItem" in json.dumps(document)


# Per lab, in catalogue order: where solve is interrupted. The first interruption of a lab is a
# Ctrl-C (SIGINT), the second, on the run after, a SIGKILL (nothing gets to clean up); each picks
# a moment that leaves a half-done change behind.
INTERRUPTIONS: dict[str, tuple[Interruption, ...]] = {
    "setup": (
        Interruption("setup.stack: creating stack", signal.SIGINT),  # create_stack under way
        Interruption("setup.pipeline: uploaded", signal.SIGKILL),  # uploaded, not yet recorded
    ),
    "lab1": (Interruption("lab1.inventory: inventory of stack", signal.SIGINT),),  # lab 1 only reads
    "lab2": (
        Interruption("lab2.log-bucket: created bucket", signal.SIGINT),  # no Block Public Access, no policy yet
        Interruption("lab2.access-logging:", signal.SIGKILL),  # logging on, nothing delivered yet
    ),
    "lab3": (
        Interruption("lab3.basic-execution: deleted the inline policy", signal.SIGINT),  # basic execution not attached
        # SIGKILL: no `finally` restores PutItem; the demo's GetItem stays in the role's policy.
        Interruption("dynamodb:PutItem → dynamodb:GetItem", signal.SIGKILL, demo_left_get_item),
    ),
    "lab4": (
        Interruption("lab4.recorder: configuration recorder", signal.SIGINT),  # no delivery channel, not recording
        Interruption("lab4.noncompliance: created the demo bucket", signal.SIGKILL),  # no evaluation started
    ),
    "extra": (
        Interruption("extra.template-secure: change set", signal.SIGINT),  # change set made, not executed
        Interruption("extra.template-secure: UPDATE_IN_PROGRESS", signal.SIGKILL),  # the update under way
    ),
}


def solve_interrupted(lab: str, interruption: Interruption, client: Callable[[str], Any]) -> None:
    """Run `labrunner solve LAB` as a user would, and interrupt it at the given moment."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "labrunner", "solve", lab],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    seen: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        if interruption.after in line:
            proc.send_signal(interruption.signal)
            break
    out, err = proc.communicate(timeout=TIMEOUT_S)
    transcript = "".join(seen) + out + err
    assert interruption.after in "".join(seen), f"solve {lab} never printed {interruption.after!r}:\n{transcript}"
    if interruption.signal is signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL, transcript
    else:  # Ctrl-C: one line, exit 130, no traceback
        assert proc.returncode == 130, transcript
        assert err.strip() == "labrunner: interrupted", transcript
    if interruption.left_behind is not None:
        assert interruption.left_behind(client), f"solve {lab} was not interrupted half-way:\n{transcript}"


@pytest.mark.slow
def test_solve_interrupted_in_every_lab_completes_when_run_again(
    fresh_server: Endpoint, local_env: Endpoint, admin_session: boto3.Session
) -> None:
    def client(service: str) -> Any:
        return admin_session.client(service, endpoint_url=fresh_server.url)

    for lab, interruptions in INTERRUPTIONS.items():
        for interruption in interruptions:
            solve_interrupted(lab, interruption, client)
        again = cli("solve", lab, "--format", "json")
        report = json.loads(again.out)
        not_passed = {s["id"]: (s["status"], s["hint"]) for s in report["steps"] if s["status"] != "pass"}
        assert (again.code, not_passed, again.err) == (0, {}, ""), f"solve {lab} after the interruptions"

    # Nothing half-done is left anywhere: a further solve finds nothing to change, check passes all.
    final = cli("solve", "--format", "json")
    report = json.loads(final.out)
    assert final.code == 0 and {s["status"] for s in report["steps"]} == {"pass"}
    assert [s["id"] for s in report["steps"] if s["changed"]] == []
    cfn = client("cloudformation")
    pending = [
        c
        for c in cfn.list_change_sets(StackName=report["stack"])["Summaries"]
        if c["ExecutionStatus"] != "EXECUTE_COMPLETE"
    ]
    assert pending == []  # no change set waits to be executed
