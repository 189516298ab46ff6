"""The read-only twin refuses writes before any request is built, and lets reads through."""

from __future__ import annotations

import boto3
import pytest

from labrunner.aws.readonly import ReadOnlyViolation, is_read, make_read_only


@pytest.mark.parametrize(
    ("operation", "read"),
    [
        ("GetBucketEncryption", True),
        ("ListObjectsV2", True),
        ("HeadObject", True),
        ("DescribeStacks", True),
        ("SimulatePrincipalPolicy", True),
        ("FilterLogEvents", True),
        ("Query", True),
        ("PutObject", False),
        ("DeleteBucket", False),
        ("ReceiveMessage", False),  # would hide messages from the workload's consumer
        ("CreateStack", False),
        ("StartConfigRulesEvaluation", False),
        ("AttachRolePolicy", False),
    ],
)
def test_is_read(operation: str, read: bool) -> None:
    assert is_read(operation) is read


def test_client_refuses_writes_without_sending() -> None:
    session = boto3.Session(aws_access_key_id="AKIAFAKE", aws_secret_access_key="x", region_name="us-east-1")
    client = make_read_only(session.client("s3", endpoint_url="http://127.0.0.1:9"))
    with pytest.raises(ReadOnlyViolation, match="PutObject"):
        client.put_object(Bucket="b", Key="k", Body=b"x")
    sqs = make_read_only(session.client("sqs", endpoint_url="http://127.0.0.1:9"))
    with pytest.raises(ReadOnlyViolation, match="ReceiveMessage"):
        sqs.receive_message(QueueUrl="http://127.0.0.1:9/123456789012/q")
