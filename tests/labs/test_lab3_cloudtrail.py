"""Lab 3 against a CloudTrail that lags, pages and throttles as AWS's does (SPEC §6 items 9-10).

lab3.pipeline proves an upload came after the role's last permission change from CloudTrail's
event history. AWS delivers events minutes late, so the proof waits (pending) until the history
shows a read of the role made after the upload; it never passes on an upload that predates a
change the history has not delivered yet.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from labrunner import paths
from labrunner.aws.iam.names import basic_execution_arn
from labrunner.aws.pipeline import item_for, upload_file
from labrunner.context import Context, Settings
from labrunner.local import faults
from labrunner.local.lifecycle import Endpoint
from labrunner.model import Report, Status
from tests.helpers import run, statuses, step
from tests.labs.test_lab3 import secure_by_hand

PIPELINE = "lab3.pipeline"
DELAY_S = 4.0


def _check(ctx: Context) -> Report:
    ctx.refresh()
    return run(ctx, "check", [PIPELINE])


def _detail(report: Report) -> str:
    return " | ".join(f"{c.name}: {c.detail}" for c in step(report, PIPELINE).checks)


def _check_until(ctx: Context, done: Callable[[Status], bool], deadline_s: float) -> list[tuple[Status, str]]:
    """Check lab3.pipeline until `done(status)`; every status seen, in order."""
    seen: list[tuple[Status, str]] = []
    deadline = time.monotonic() + deadline_s
    while True:
        report = _check(ctx)
        seen.append((step(report, PIPELINE).status, _detail(report)))
        if done(seen[-1][0]) or time.monotonic() > deadline:
            return seen
        time.sleep(0.5)


def _upload_recorded(ctx: Context, name: str = "Pride and Permissions.txt") -> None:
    w = ctx.workload()
    s3, dynamodb = ctx.client("s3"), ctx.client("dynamodb")
    time.sleep(1.1)  # AWS's times have whole seconds: the upload falls in a later second than the change
    key = upload_file(s3, w.bucket, paths.sample_files_dir() / name)
    deadline = time.monotonic() + 60
    while item_for(dynamodb, w.table, key) is None:
        assert time.monotonic() < deadline, "the upload was never recorded"
        time.sleep(0.25)
    time.sleep(1.1)  # the next reads of the role fall in a later second than the upload


def _lookups(server: Endpoint) -> int:
    counters = faults.status(server.url)["counters"]
    return int(counters.get("cloudtrail_lookups", 0)) - int(counters.get("cloudtrail_lookups_throttled", 0))


def test_an_upload_before_the_last_change_is_pending_until_the_trail_catches_up_then_fails(
    deployed: Context, local_server: Endpoint
) -> None:
    # The latest upload comes after every change the fixture made (it may restore the role's policies
    # after the setup's upload), so only the changes below can make it stale.
    _upload_recorded(deployed, "A Tale of Two Regions.txt")
    faults.configure(local_server.url, cloudtrail_delay_s=DELAY_S)
    secure_by_hand(deployed)  # every change comes after that upload, and CloudTrail has none yet
    seen = _check_until(deployed, lambda s: s is not Status.PENDING, deadline_s=6 * DELAY_S)
    assert seen[0][0] is Status.PENDING, seen
    assert "CloudTrail has not yet delivered" in seen[0][1]
    assert Status.PASS not in [s for s, _ in seen], seen
    assert seen[-1][0] is Status.FAIL, seen
    assert "predates the role's last permission change" in seen[-1][1]

    # An upload after the change: pending while the trail has no read of the role after it, then pass.
    _upload_recorded(deployed)
    seen = _check_until(deployed, lambda s: s is not Status.PENDING, deadline_s=6 * DELAY_S)
    assert seen[0][0] is Status.PENDING, seen
    assert seen[-1][0] is Status.PASS, seen
    assert "no change to the role's permissions since" in seen[-1][1]


def test_a_change_after_the_upload_that_the_trail_has_not_delivered_is_never_a_pass(
    deployed: Context, local_server: Endpoint
) -> None:
    """Reads of the role made after the upload are in the trail, the change after them is not yet:
    the history looks complete up to those reads, but the permissions seen then are not today's."""
    secure_by_hand(deployed)
    _upload_recorded(deployed)
    _check(deployed)
    time.sleep(1.1)
    assert step(_check(deployed), PIPELINE).status is Status.PASS  # an earlier look, covered by the trail
    faults.configure(local_server.url, cloudtrail_delay_s=DELAY_S)
    w = deployed.workload()
    statements = [
        {"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": w.table_arn},
        {"Effect": "Deny", "Action": "dynamodb:PutItem", "Resource": f"{w.table_arn}-archive"},
    ]
    deployed.client("iam").put_role_policy(
        RoleName=w.role,
        PolicyName="DynamoDbPutItemOnly",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )  # still least privilege, but a change the upload did not see
    seen = _check_until(deployed, lambda s: s is Status.FAIL, deadline_s=4 * DELAY_S)
    assert Status.PASS not in [s for s, _ in seen], seen
    assert seen[0][0] is Status.PENDING and seen[-1][0] is Status.FAIL, seen


def test_lookups_are_narrow_whatever_the_length_of_the_history(deployed: Context, local_server: Endpoint) -> None:
    iam = deployed.client("iam")
    secure_by_hand(deployed)
    _upload_recorded(deployed)
    _check(deployed)
    time.sleep(1.1)
    before = _lookups(local_server)
    assert step(_check(deployed), PIPELINE).status is Status.PASS
    short_history = _lookups(local_server) - before

    # 150 more IAM events (reads of the role, another role's changes) before a new upload.
    role = deployed.workload().role
    trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    iam.create_role(RoleName="noise", AssumeRolePolicyDocument=json.dumps(trust))
    for i in range(75):
        iam.get_role(RoleName=role)
        iam.tag_role(RoleName="noise", Tags=[{"Key": "n", "Value": str(i)}])
    # lab 3 looks events up from the upload's whole second minus one (S3's and CloudTrail's times are
    # whole seconds): the noise must end before that window, or it is rightly read (a second page).
    time.sleep(2.1)
    _upload_recorded(deployed, "A Tale of Two Regions.txt")
    _check(deployed)
    time.sleep(1.1)
    before = _lookups(local_server)
    assert step(_check(deployed), PIPELINE).status is Status.PASS
    long_history = _lookups(local_server) - before
    assert short_history == long_history == 2  # the writes since the upload; the role's newest read

    # Paging through the whole IAM history would take several requests (50 events a page).
    trail = deployed.client("cloudtrail")
    source = [{"AttributeKey": "EventSource", "AttributeValue": "iam.amazonaws.com"}]
    pages = list(trail.get_paginator("lookup_events").paginate(LookupAttributes=source))
    assert len(pages) >= 4


def test_reads_of_the_role_since_the_upload_cost_no_more_lookups(deployed: Context, local_server: Endpoint) -> None:
    """Every check reads the role (GetRole, its policies, the simulator), and so does a student who
    opens it in the console: those reads pile up in the history until the next upload, and a check
    that paged through them (50 a page, 2 lookups a second) would grow slower by the round of a
    `check --watch`. The changes are found among the account's writes instead."""
    iam = deployed.client("iam")
    secure_by_hand(deployed)
    _upload_recorded(deployed)
    _check(deployed)
    time.sleep(1.1)
    role = deployed.workload().role
    for _ in range(60):  # 180 reads of the role since the upload: four pages of its events
        iam.get_role(RoleName=role)
        iam.list_role_policies(RoleName=role)
        iam.list_attached_role_policies(RoleName=role)
    before = _lookups(local_server)
    report = _check(deployed)
    assert step(report, PIPELINE).status is Status.PASS, _detail(report)
    assert _lookups(local_server) - before == 2

    # A change among those reads is still found: the upload predates it.
    time.sleep(1.1)
    iam.detach_role_policy(RoleName=role, PolicyArn=basic_execution_arn(deployed.region))
    iam.attach_role_policy(RoleName=role, PolicyArn=basic_execution_arn(deployed.region))
    for _ in range(60):
        iam.get_role(RoleName=role)
    time.sleep(1.1)
    report = _check(deployed)
    assert step(report, PIPELINE).status is Status.FAIL, _detail(report)
    assert "AttachRolePolicy" in _detail(report)


def test_a_throttled_lookup_is_retried(deployed: Context, local_server: Endpoint, admin_session: boto3.Session) -> None:
    secure_by_hand(deployed)
    _upload_recorded(deployed)
    _check(deployed)
    time.sleep(1.1)
    burst = admin_session.client(
        "cloudtrail",
        endpoint_url=local_server.url,
        region_name="us-east-1",
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )
    sends: list[int] = []

    def use_up_the_second(**_kwargs: Any) -> None:
        sends.append(1)
        if len(sends) == 1:  # other lookups just before labrunner's first use up the second: it is throttled
            with contextlib.suppress(ClientError):  # labrunner's other lookup may have taken one of the two
                for _ in range(2):
                    burst.lookup_events(MaxResults=1)

    session = boto3.Session(
        aws_access_key_id=local_server.access_key,
        aws_secret_access_key=local_server.secret_key,
        region_name=deployed.region,
    )
    session.events.register("before-send.cloudtrail.LookupEvents", use_up_the_second)
    checker = Context(replace(deployed.target, session=session), Settings())
    throttled = faults.status(local_server.url)["counters"].get("cloudtrail_lookups_throttled", 0)
    report = run(checker, "check", [PIPELINE])
    assert statuses(report) == {PIPELINE: Status.PASS}, _detail(report)
    assert len(sends) >= 2  # botocore sent it again
    assert faults.status(local_server.url)["counters"]["cloudtrail_lookups_throttled"] > throttled


def test_solve_writes_the_narrow_policies_before_it_deletes_the_wide_one(deployed: Context) -> None:
    """The role never lacks SQS permission: RetrieveSqsMessages is written before PutItemDynamoTables
    goes (an SQS trigger whose role may not receive fails, and Lambda may disable it)."""
    report = run(deployed, "solve", ["lab3.basic-execution"])
    assert statuses(report) == {"lab3.basic-execution": Status.PASS}, report
    role = deployed.workload().role
    trail = deployed.client("cloudtrail")
    by_role = [{"AttributeKey": "ResourceName", "AttributeValue": role}]
    events = [
        e
        for page in trail.get_paginator("lookup_events").paginate(LookupAttributes=by_role)
        for e in page["Events"]
        if e["ReadOnly"] == "false"
    ][::-1]  # oldest first
    calls = [
        (e["EventName"], json.loads(e["CloudTrailEvent"])["requestParameters"].get("policyName", "")) for e in events
    ]
    delete_wide = calls.index(("DeleteRolePolicy", "PutItemDynamoTables"))
    assert calls.index(("PutRolePolicy", "RetrieveSqsMessages")) < delete_wide, calls
    assert calls.index(("PutRolePolicy", "DynamoDbPutItemOnly")) < delete_wide, calls
    names = deployed.client("iam").list_role_policies(RoleName=role)["PolicyNames"]
    assert sorted(names) == ["DynamoDbPutItemOnly", "RetrieveSqsMessages"]


@pytest.fixture(autouse=True)
def _no_delay_left(local_server: Endpoint) -> Any:
    yield
    faults.configure(local_server.url, cloudtrail_delay_s=0)
