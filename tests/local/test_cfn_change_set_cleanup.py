"""Change set bookkeeping (fidelity/cfn_stack_operations_change_sets.py): executing one deletes the
stack's others; ListChangeSets lists one stack's change sets only."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3

from labrunner.local.lifecycle import Endpoint


def template(visibility: int) -> str:
    queue = {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": visibility}}
    return json.dumps({"Resources": {"Queue": queue}})


def wait_complete(cfn: Any, stack: str) -> None:
    deadline = time.monotonic() + 30
    while cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"].endswith("_IN_PROGRESS"):
        assert time.monotonic() < deadline
        time.sleep(0.05)


def change_sets(cfn: Any, stack: str) -> dict[str, str]:
    return {c["ChangeSetName"]: c["ExecutionStatus"] for c in cfn.list_change_sets(StackName=stack)["Summaries"]}


def test_executing_a_change_set_deletes_the_stacks_other_change_sets(
    fresh_server: Endpoint, admin_session: boto3.Session
) -> None:
    cfn = admin_session.client("cloudformation", endpoint_url=fresh_server.url)
    for stack in ("first", "second"):
        cfn.create_stack(StackName=stack, TemplateBody=template(30))
        wait_complete(cfn, stack)
    for name, visibility in (("try-60", 60), ("try-90", 90)):
        cfn.create_change_set(StackName="first", ChangeSetName=name, TemplateBody=template(visibility))
    cfn.create_change_set(StackName="second", ChangeSetName="other-stack", TemplateBody=template(60))
    assert change_sets(cfn, "first") == {"try-60": "AVAILABLE", "try-90": "AVAILABLE"}
    assert change_sets(cfn, "second") == {"other-stack": "AVAILABLE"}

    cfn.execute_change_set(StackName="first", ChangeSetName="try-90")
    wait_complete(cfn, "first")
    assert change_sets(cfn, "first") == {"try-90": "EXECUTE_COMPLETE"}
    assert change_sets(cfn, "second") == {"other-stack": "AVAILABLE"}  # another stack's are kept
