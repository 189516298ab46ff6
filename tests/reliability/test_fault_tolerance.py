"""Same verdicts under AWS's faults: throttling, IAM propagation, Lambda cold starts, late Config
evaluations and late access logs (labrunner/local/faults/). `pending` only where waiting is the
honest answer: AWS has not delivered yet."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any

import boto3
import pytest

from labrunner.aws.config import EvaluationRequest, start_evaluation
from labrunner.aws.session import CLIENT_CONFIG
from labrunner.local import faults, identity
from labrunner.local.lifecycle import Endpoint
from tests.conftest import reset_server
from tests.helpers import cli
from tests.local import config_support, iam_support

# Every fault at once, each strong enough to matter: one AWS request in ten is throttled; each
# delay outlasts what a step does right after the change it waits for.
FAULTS = {
    "throttle_rate": 0.1,
    "throttle_seed": 11,
    "iam_delay_s": 1.5,
    "lambda_cold_start_s": 1,
    "config_evaluation_delay_s": 1.5,
    "access_log_delay_s": 1.5,
}
# Steps whose evidence AWS delivers late (access logs within hours, Config evaluations within minutes).
DELIVERED_LATER = frozenset({"lab2.logs-delivered", "lab4.noncompliance", "lab4.remediated"})
# … and those whose evidence is the function's processing of an upload (within seconds).
PROCESSED_LATER = frozenset({"setup.pipeline", "lab3.pipeline", "lab3.access-denied"})


def verdicts(*args: str) -> tuple[int, dict[str, str]]:
    result = cli(*args, "--format", "json")
    assert result.err == "", result.err
    report: dict[str, Any] = json.loads(result.out)
    return result.code, {s["id"]: s["status"] for s in report["steps"]}


@pytest.mark.slow
def test_solve_and_check_under_faults_reach_the_verdicts_of_a_fault_free_run(
    fresh_server: Endpoint, local_env: Endpoint
) -> None:
    _, fault_free_solve = verdicts("solve")
    _, fault_free_check = verdicts("check")
    assert set(fault_free_solve.values()) == {"pass"}  # the yardstick itself is sound

    reset_server(fresh_server)
    faults.configure(fresh_server.url, **FAULTS)
    code, solved = verdicts("solve")
    assert (code, solved) == (0, fault_free_solve)
    code, checked = verdicts("check")
    assert code == 0
    early = {step: status for step, status in checked.items() if status != fault_free_check[step]}
    # Right after solve, AWS may not have delivered what the last changes caused (extra credit
    # moves the access logs to a new bucket, and uploads a file): pending, never fail.
    assert set(early.values()) <= {"pending"} and set(early) <= DELIVERED_LATER | PROCESSED_LATER, early
    deadline = time.monotonic() + 30
    while checked != fault_free_check and time.monotonic() < deadline:
        time.sleep(1)
        checked = verdicts("check")[1]
    assert checked == fault_free_check

    injected = faults.status(fresh_server.url)["counters"]
    assert injected["throttled"] > 20
    assert injected["iam_stale_authorizations"] > 0
    assert injected["lambda_cold_starts"] >= 1


@pytest.mark.slow
def test_steps_waiting_on_aws_delivery_are_pending_not_failed(fresh_server: Endpoint, local_env: Endpoint) -> None:
    """Access logs arrive within hours, Config evaluates within minutes: until then, pending."""
    faults.configure(fresh_server.url, access_log_delay_s=3600, config_evaluation_delay_s=3600)
    assert verdicts("up")[0] == 0
    # Poll a thousandth of the usual time: AWS will not deliver within it anyway.
    code, solved = verdicts("solve", "lab2", "lab4", "--wait-scale", "0.001")
    waiting = {step for step, status in solved.items() if status != "pass"}
    assert code == 0  # pending is not a failure
    assert waiting == DELIVERED_LATER and {solved[s] for s in waiting} == {"pending"}, solved
    assert verdicts("check", "lab2", "lab4") == (0, solved)


def test_a_running_config_evaluation_is_not_waited_for_as_throttling(
    fresh_server: Endpoint, admin_session: boto3.Session
) -> None:
    """AWS answers LimitExceededException while a rule's evaluation runs; botocore would retry it
    as throttling for ~30 s. labrunner takes it for what it means: already running."""
    aws = replace(
        config_support.clients(admin_session, fresh_server, identity.DEFAULT_ACCOUNT),
        config=iam_support.client(fresh_server, "config", config=CLIENT_CONFIG),  # as labs make them
    )
    try:
        faults.configure(fresh_server.url, config_evaluation_delay_s=60)
        config_support.setup_config(aws)
        config_support.put_lab_rules(aws)
        assert start_evaluation(aws.config, [config_support.LOGGING]) is EvaluationRequest.STARTED
        start = time.monotonic()
        # the first one runs (the rule is EVALUATING)
        assert start_evaluation(aws.config, [config_support.LOGGING]) is EvaluationRequest.RUNNING
        assert time.monotonic() - start < 1
    finally:
        reset_server(fresh_server)
