"""Deleting a stack whose resources were deleted outside CloudFormation (labrunner/local/cfn):
as on AWS, a resource that no longer exists counts as deleted, and the stack is deleted."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3

from labrunner.local.lifecycle import Endpoint

TEMPLATE = json.dumps(
    {
        "Resources": {
            "Queue": {"Type": "AWS::SQS::Queue"},
            "Table": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                    "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                },
            },
            "Bucket": {"Type": "AWS::S3::Bucket"},
        }
    }
)


def status(cfn: Any, stack: str) -> str:
    deadline = time.monotonic() + 30
    while True:
        stacks = cfn.list_stacks()["StackSummaries"]
        found = next(s["StackStatus"] for s in stacks if s["StackName"] == stack)
        if not found.endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            return str(found)
        time.sleep(0.05)


def test_a_stack_whose_resources_were_deleted_by_hand_deletes_cleanly(
    fresh_server: Endpoint, admin_session: boto3.Session
) -> None:
    def client(service: str) -> Any:
        return admin_session.client(service, endpoint_url=fresh_server.url)

    cfn = client("cloudformation")
    cfn.create_stack(StackName="by-hand", TemplateBody=TEMPLATE)
    assert status(cfn, "by-hand") == "CREATE_COMPLETE"
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.list_stack_resources(StackName="by-hand")["StackResourceSummaries"]
    }
    client("sqs").delete_queue(QueueUrl=physical["Queue"])
    client("dynamodb").delete_table(TableName=physical["Table"])
    client("s3").delete_bucket(Bucket=physical["Bucket"])

    cfn.delete_stack(StackName="by-hand")
    assert status(cfn, "by-hand") == "DELETE_COMPLETE"
