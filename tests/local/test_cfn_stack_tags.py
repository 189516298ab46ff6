"""CloudFormation tags a stack's resources with aws:cloudformation:stack-name, -stack-id and
-logical-id, and with the stack's own tags, as AWS does (labrunner.local.fidelity.cfn_stack_tags)."""

from __future__ import annotations

import json

import boto3

from labrunner.local.lifecycle import Endpoint

TEMPLATE = {
    "Resources": {
        "Plain": {"Type": "AWS::S3::Bucket"},
        "Tagged": {"Type": "AWS::S3::Bucket", "Properties": {"Tags": [{"Key": "team", "Value": "blue"}]}},
    }
}


def _tags(s3: object, bucket: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}  # type: ignore[attr-defined]


def test_stack_resources_carry_cloudformations_tags(fresh_server: Endpoint, admin_session: boto3.Session) -> None:
    cfn = admin_session.client("cloudformation", endpoint_url=fresh_server.url)
    s3 = admin_session.client("s3", endpoint_url=fresh_server.url)
    stack_id = cfn.create_stack(
        StackName="alice", TemplateBody=json.dumps(TEMPLATE), Tags=[{"Key": "course", "Value": "immersion"}]
    )["StackId"]
    cfn.get_waiter("stack_create_complete").wait(StackName="alice", WaiterConfig={"Delay": 1})
    rows = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName="alice")["StackResources"]
    }
    for logical, bucket in rows.items():
        tags = _tags(s3, bucket)
        assert tags["aws:cloudformation:stack-name"] == "alice"
        assert tags["aws:cloudformation:stack-id"] == stack_id
        assert tags["aws:cloudformation:logical-id"] == logical
        assert tags["course"] == "immersion"  # the stack's own tags propagate
    assert _tags(s3, rows["Tagged"])["team"] == "blue"

    # An update that changes the template's Tags keeps CloudFormation's.
    TEMPLATE_2 = json.loads(json.dumps(TEMPLATE))
    TEMPLATE_2["Resources"]["Tagged"]["Properties"]["Tags"] = [{"Key": "team", "Value": "red"}]
    cfn.update_stack(
        StackName="alice", TemplateBody=json.dumps(TEMPLATE_2), Tags=[{"Key": "course", "Value": "immersion"}]
    )
    cfn.get_waiter("stack_update_complete").wait(StackName="alice", WaiterConfig={"Delay": 1})
    tags = _tags(s3, rows["Tagged"])
    assert tags["team"] == "red" and tags["aws:cloudformation:logical-id"] == "Tagged"
    assert tags["aws:cloudformation:stack-name"] == "alice"
