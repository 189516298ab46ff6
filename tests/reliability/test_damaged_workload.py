"""A workload a student damaged is a state of the account, not bad input: `check` grades it (exit 1,
every unmet step with a hint, no step in error, no traceback) and changes nothing; `solve` never
destroys data to repair it; `reset` then `up` does (SPEC §3, §7).

Decided per case, with what a student or instructor expects:
- a stack name that does not exist (typo, or not deployed yet): setup.stack fails naming it, the
  steps that need the stack are skipped; `up --stack-name NAME` would deploy it;
- the stack deleted: the same, and `solve` deploys it again;
- the stack half deleted (DELETE_FAILED, its bucket still holds files): setup.stack fails with
  `labrunner reset` as the way out; `solve` does not empty the bucket itself (that would destroy
  the student's files without asking); `reset` (which asks) then `up` repairs it;
- a resource of the stack deleted by hand (the upload bucket, the function, the queue):
  CloudFormation still reports the stack complete, lab1.inventory fails naming the resource
  "deleted out of band", steps that read it fail with a hint; `reset` then `up` repairs it.
"""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest

from labrunner.context import Context
from labrunner.local.lifecycle import Endpoint
from tests.helpers import cli
from tests.reliability.state import account_state, differences, settled_state


def graded(*args: str) -> dict[str, dict[str, Any]]:
    """`labrunner ARGS --format json` that grades (exit 1, nothing on stderr): its steps by id."""
    result = cli(*args, "--format", "json")
    assert (result.code, result.err) == (1, ""), result
    steps = {s["id"]: s for s in json.loads(result.out)["steps"]}
    assert [i for i, s in steps.items() if s["status"] == "error"] == []
    for step in steps.values():
        if step["status"] in ("fail", "skipped"):
            assert step["hint"], f"{step['id']} is {step['status']} without a hint"
    return steps


def check_changes_nothing(endpoint: Endpoint, *args: str) -> dict[str, dict[str, Any]]:
    before = settled_state(endpoint)
    steps = graded("check", *args)
    assert differences(before, account_state(endpoint)) == []
    return steps


def physical(ctx: Context, logical_id: str) -> str:
    detail = ctx.client("cloudformation").describe_stack_resource(StackName="immersion", LogicalResourceId=logical_id)
    return str(detail["StackResourceDetail"]["PhysicalResourceId"])


def empty(s3: Any, bucket: str) -> None:
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for version in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])


def stack_status(cfn: Any, name: str = "immersion") -> str:
    deadline = time.monotonic() + 30
    while True:
        summaries = [s for s in cfn.list_stacks()["StackSummaries"] if s["StackName"] == name]
        status = str(summaries[0]["StackStatus"]) if summaries else "NONE"
        if not status.endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def repaired_by_reset_and_up() -> None:
    reset = cli("reset", "--yes")
    assert reset.code == 0, reset
    up = cli("up", "--format", "json")
    assert up.code == 0 and {s["status"] for s in json.loads(up.out)["steps"]} == {"pass"}, up


def test_a_stack_name_that_does_not_exist(deployed: Context, fresh_server: Endpoint) -> None:
    steps = check_changes_nothing(fresh_server, "--stack-name", "immersoin")
    assert steps["setup.stack"]["status"] == "fail"
    assert "there is no stack named 'immersoin'" in steps["setup.stack"]["checks"][0]["detail"]
    assert "--stack-name" in steps["setup.stack"]["hint"]
    needs_stack = [i for i, s in steps.items() if i != "setup.stack" and s["status"] == "skipped"]
    assert "lab2.encryption" in needs_stack and "extra.stack-secure" in needs_stack


def test_the_stack_deleted_by_the_student(deployed: Context, fresh_server: Endpoint) -> None:
    empty(deployed.client("s3"), physical(deployed, "FileUploadsBucket"))
    cfn = deployed.client("cloudformation")
    cfn.delete_stack(StackName="immersion")
    assert stack_status(cfn) == "DELETE_COMPLETE"

    steps = check_changes_nothing(fresh_server, "setup", "lab2")
    assert steps["setup.stack"]["status"] == "fail" and "labrunner up" in steps["setup.stack"]["hint"]
    assert {s["status"] for i, s in steps.items() if i != "setup.stack"} == {"skipped"}
    solved = cli("solve", "setup", "--format", "json")  # solve deploys it again
    assert solved.code == 0 and {s["status"] for s in json.loads(solved.out)["steps"]} == {"pass"}


def test_the_stack_half_deleted_by_the_student(deployed: Context, fresh_server: Endpoint) -> None:
    """The student deleted the stack while the upload bucket held files: DELETE_FAILED."""
    cfn, s3 = deployed.client("cloudformation"), deployed.client("s3")
    bucket = physical(deployed, "FileUploadsBucket")
    cfn.delete_stack(StackName="immersion")
    assert stack_status(cfn) == "DELETE_FAILED"
    files = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])

    steps = check_changes_nothing(fresh_server, "setup")
    assert steps["setup.stack"]["status"] == "fail"
    assert "half deleted" in steps["setup.stack"]["checks"][0]["detail"]
    assert "labrunner reset" in steps["setup.stack"]["hint"]

    # solve tries the deletion again, but never empties the bucket itself. (Its verify would poll
    # for 30 s for a state that does not change by waiting: 1% of that is enough here.)
    solved = graded("solve", "setup", "--wait-scale", "0.01")
    assert solved["setup.stack"]["status"] == "fail" and "labrunner reset" in solved["setup.stack"]["hint"]
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]) == files
    repaired_by_reset_and_up()


@pytest.mark.parametrize("logical_id", ["FileUploadsBucket", "MetadataLambda", "S3NotificationQueue"])
def test_a_resource_deleted_by_hand(
    deployed: Context, fresh_server: Endpoint, admin_session: boto3.Session, logical_id: str
) -> None:
    gone = physical(deployed, logical_id)
    if logical_id == "FileUploadsBucket":
        empty(deployed.client("s3"), gone)
        deployed.client("s3").delete_bucket(Bucket=gone)
    elif logical_id == "MetadataLambda":
        deployed.client("lambda").delete_function(FunctionName=gone)
    else:
        deployed.client("sqs").delete_queue(QueueUrl=gone)

    steps = check_changes_nothing(fresh_server)
    inventory = steps["lab1.inventory"]
    assert inventory["status"] == "fail"
    named = [c for c in inventory["checks"] if c["name"].startswith(logical_id) and not c["passed"]]
    assert named and "deleted out of band" in named[0]["detail"], inventory["checks"]
    assert "deploy it again" in named[0]["hint"]
    repaired_by_reset_and_up()
