"""Fault injection in the local AWS (labrunner/local/faults/): throttling, IAM propagation delay,
Lambda cold starts, and their settings (environment at start, admin endpoint, reset)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from labrunner.aws.session import CLIENT_CONFIG
from labrunner.errors import LocalServerError
from labrunner.local import admin, faults, lifecycle
from labrunner.local.lifecycle import Endpoint
from tests.conftest import free_port
from tests.local import iam_support as iam
from tests.local.lambda_support import LOGS_STATEMENT, Aws, invoke, unique

NO_RETRY = Config(retries={"total_max_attempts": 1})
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"

# One read call per service, the throttling code AWS answers it with, and the HTTP status.
THROTTLED: list[tuple[str, Callable[[Any], Any], str, int]] = [
    ("s3", lambda c: c.list_buckets(), "SlowDown", 503),
    ("iam", lambda c: c.list_roles(), "Throttling", 400),
    ("sts", lambda c: c.get_caller_identity(), "Throttling", 400),
    ("cloudformation", lambda c: c.describe_stacks(), "Throttling", 400),
    ("dynamodb", lambda c: c.list_tables(), "ThrottlingException", 400),
    ("logs", lambda c: c.describe_log_groups(), "ThrottlingException", 400),
    ("config", lambda c: c.describe_config_rules(), "ThrottlingException", 400),
    ("cloudtrail", lambda c: c.lookup_events(MaxResults=1), "ThrottlingException", 400),
    ("sqs", lambda c: c.list_queues(), "RequestThrottled", 400),
    ("lambda", lambda c: c.list_functions(), "TooManyRequestsException", 429),
]


def throttled(call: Callable[[], Any]) -> bool:
    try:
        call()
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "Throttling", exc.response
        return True
    return False


def wait_until(probe: Callable[[], bool], start: float, timeout: float, what: str) -> float:
    """Poll until `probe()` is true; the seconds since `start` (a time.monotonic()) it took."""
    while not probe():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"still not {what} after {timeout} s")
        time.sleep(0.05)
    return time.monotonic() - start


# -- throttling -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("service", "call", "code", "status"), THROTTLED, ids=[t[0] for t in THROTTLED])
def test_throttling_comes_in_the_services_own_shape_and_botocore_retries_it(
    faulty_server: Endpoint, service: str, call: Callable[[Any], Any], code: str, status: int
) -> None:
    faults.configure(faulty_server.url, throttle_rate=1)  # every request, but never twice in a row
    # labrunner's own clients (standard retries, 8 attempts) get through: one throttle, one retry.
    answer = call(iam.client(faulty_server, service, config=CLIENT_CONFIG))
    assert answer["ResponseMetadata"]["RetryAttempts"] == 1
    # Without retries the throttling error itself shows, as AWS sends it.
    with pytest.raises(ClientError) as caught:
        call(iam.client(faulty_server, service, config=NO_RETRY))
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert faults.status(faulty_server.url)["counters"]["throttled"] == 2


def test_admin_endpoints_are_never_throttled(faulty_server: Endpoint) -> None:
    faults.configure(faulty_server.url, throttle_rate=1, throttle_burst=1000)
    sts = iam.client(faulty_server, "sts", config=NO_RETRY)
    assert throttled(sts.get_caller_identity) and throttled(sts.get_caller_identity)
    for _ in range(5):
        assert admin.call(faulty_server.url, "GET", "health")["service"] == "labrunner-local"
        assert faults.status(faulty_server.url)["settings"]["throttle_rate"] == 1


def test_the_seed_makes_throttling_repeatable(faulty_server: Endpoint) -> None:
    sts = iam.client(faulty_server, "sts", config=NO_RETRY)

    def pattern(seed: int) -> list[bool]:
        faults.configure(faulty_server.url, throttle_rate=0.5, throttle_burst=1000, throttle_seed=seed)
        return [throttled(sts.get_caller_identity) for _ in range(30)]

    first = pattern(7)
    assert 5 < sum(first) < 25  # about half
    assert pattern(7) == first
    assert pattern(8) != first


def test_the_burst_limit_lets_a_retrying_client_through(faulty_server: Endpoint) -> None:
    faults.configure(faulty_server.url, throttle_rate=1, throttle_burst=2)
    sts = iam.client(faulty_server, "sts", config=NO_RETRY)
    assert [throttled(sts.get_caller_identity) for _ in range(6)] == [True, True, False] * 2


# -- settings -------------------------------------------------------------------------------------


def test_settings_change_at_runtime_all_or_nothing(faulty_server: Endpoint) -> None:
    changed = faults.configure(faulty_server.url, iam_delay_s=2.5, config_evaluation_delay_s=4)
    assert changed["settings"]["iam_delay_s"] == 2.5 and changed["settings"]["config_evaluation_delay_s"] == 4
    assert admin.call(faulty_server.url, "GET", "config/evaluation-delay")["seconds"] == 4  # the same delay
    for bad in (
        {"throttle_rate": "2"},
        {"throttle_rate": "often"},
        {"throttle_seed": "1.5"},
        {"iam_delay_s": "-1"},
        {"access_log_delay_s": "soon"},
        {"iam_delay_s": "1", "chaos_monkey": "1"},
    ):
        with pytest.raises(LocalServerError, match="HTTP 400"):
            admin.call(faulty_server.url, "POST", "faults", **bad)
    after = faults.status(faulty_server.url)["settings"]
    assert after["iam_delay_s"] == 2.5 and after["throttle_rate"] == 0 and after["access_log_delay_s"] == 0


def test_settings_come_from_the_environment_and_reset_restores_them(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "LABRUNNER_FAULT_THROTTLE_RATE": "0.2",
        "LABRUNNER_FAULT_THROTTLE_SEED": "42",
        "LABRUNNER_FAULT_IAM_DELAY_S": "3",
        "LABRUNNER_FAULT_LAMBDA_COLD_START_S": "1",
        "LABRUNNER_CONFIG_EVALUATION_DELAY_S": "5",
        "LABRUNNER_S3_ACCESS_LOG_DELAY_S": "7",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    port = free_port()
    endpoint, started = lifecycle.start(port)
    assert started
    try:
        answer = faults.status(endpoint.url)
        assert answer["settings"] == {
            "throttle_rate": 0.2,
            "throttle_seed": 42,
            "throttle_burst": 1,
            "iam_delay_s": 3,
            "lambda_cold_start_s": 1,
            "config_evaluation_delay_s": 5,
            "access_log_delay_s": 7,
            "config_recording_delay_s": 0,
            "cloudtrail_delay_s": 0,
            "bucket_name_hold_s": 60,
            "credential_ttl_s": 0,
            "latency_ms": 0,
            "lambda_esm_startup_s": 0,
        }
        assert answer["env_vars"]["iam_delay_s"] == "LABRUNNER_FAULT_IAM_DELAY_S"
        faults.configure(endpoint.url, throttle_rate=0, iam_delay_s=0, access_log_delay_s=0)
        admin.call(endpoint.url, "POST", "reset")
        assert faults.status(endpoint.url)["settings"]["iam_delay_s"] == 3
        assert faults.status(endpoint.url)["settings"]["access_log_delay_s"] == 7
        assert faults.status(endpoint.url)["settings"]["throttle_rate"] == 0.2
    finally:
        lifecycle.stop(port)


def test_a_bad_environment_value_is_named() -> None:
    with pytest.raises(ValueError, match="LABRUNNER_FAULT_THROTTLE_RATE must be at least 0 and at most 1"):
        faults.THROTTLE_RATE.parse("1.5", faults.THROTTLE_RATE.env_var)
    with pytest.raises(ValueError, match="LABRUNNER_FAULT_IAM_DELAY_S must be a number"):
        faults.IAM_DELAY.parse("3s", faults.IAM_DELAY.env_var)


# -- IAM propagation ----------------------------------------------------------------------------------


@pytest.fixture
def iam_delay(faulty_server: Endpoint) -> Iterator[float]:
    delay = 2.0
    faults.configure(faulty_server.url, iam_delay_s=delay)
    yield delay


def allowed(call: Callable[[], Any]) -> bool:
    try:
        call()
    except ClientError as exc:
        assert exc.response["Error"]["Code"] in ("AccessDenied", "AccessDeniedException"), exc.response
        return False
    return True


def test_a_policy_change_is_enforced_only_after_the_delay(faulty_server: Endpoint, iam_delay: float) -> None:
    admin_iam = iam.client(faulty_server, "iam")
    arn, creds = iam.create_user(faulty_server)
    name = arn.rsplit("/", 1)[-1]
    tables = iam.client(faulty_server, "dynamodb", creds, config=NO_RETRY)
    assert not allowed(tables.list_tables)

    changed = time.monotonic()
    admin_iam.attach_user_policy(UserName=name, PolicyArn=READ_ONLY)
    # Reading IAM and simulating show the change at once (they read the stored policies) …
    assert [p["PolicyArn"] for p in admin_iam.list_attached_user_policies(UserName=name)["AttachedPolicies"]] == [
        READ_ONLY
    ]
    simulated = admin_iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=["dynamodb:ListTables"])
    assert simulated["EvaluationResults"][0]["EvalDecision"] == "allowed"
    # … but requests are authorized under the old permissions until the change has propagated.
    assert iam_delay <= wait_until(lambda: allowed(tables.list_tables), changed, 10, "allowed") < iam_delay + 3

    changed = time.monotonic()
    admin_iam.detach_user_policy(UserName=name, PolicyArn=READ_ONLY)
    assert allowed(tables.list_tables)  # a removed permission also lingers
    assert iam_delay <= wait_until(lambda: not allowed(tables.list_tables), changed, 10, "denied") < iam_delay + 3
    assert faults.status(faulty_server.url)["counters"]["iam_stale_authorizations"] > 0


def test_a_trust_policy_change_is_enforced_only_after_the_delay(faulty_server: Endpoint, iam_delay: float) -> None:
    admin_iam = iam.client(faulty_server, "iam")
    user_arn, creds = iam.create_user(faulty_server, iam.allow("sts:AssumeRole"))
    role = iam.unique("role")
    trust_user = {"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sts:AssumeRole"}
    role_arn = admin_iam.create_role(
        RoleName=role, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust_user]})
    )["Role"]["Arn"]
    sts = iam.client(faulty_server, "sts", creds, config=NO_RETRY)
    assert allowed(lambda: sts.assume_role(RoleArn=role_arn, RoleSessionName="before"))

    lambda_only = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    changed = time.monotonic()
    admin_iam.update_assume_role_policy(
        RoleName=role, PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [lambda_only]})
    )

    def may_assume() -> bool:
        return allowed(lambda: sts.assume_role(RoleArn=role_arn, RoleSessionName="probe"))

    assert may_assume()  # the old trust policy is still enforced
    assert iam_delay <= wait_until(lambda: not may_assume(), changed, 10, "denied") < iam_delay + 3


# -- Lambda cold start --------------------------------------------------------------------------------


def test_the_first_invocation_on_a_new_worker_waits_for_the_cold_start(faulty_server: Endpoint) -> None:
    cold_start = 1.5
    faults.configure(faulty_server.url, lambda_cold_start_s=cold_start)
    aws = Aws(faulty_server)
    name = unique("cold")
    aws.function(name, aws.role(unique("cold-role"), LOGS_STATEMENT), "def handler(event, context):\n    return 1\n")

    def timed() -> float:
        start = time.monotonic()
        response, payload = invoke(aws, name)
        assert payload == 1 and "FunctionError" not in response
        return time.monotonic() - start

    first, second = timed(), timed()
    assert first >= cold_start
    assert second < cold_start
    assert faults.status(faulty_server.url)["counters"]["lambda_cold_starts"] == 1
