"""A deleted bucket's name is held (OperationAborted, 409) for bucket_name_hold_s; names are global."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from labrunner.local import faults, identity
from labrunner.local.lifecycle import Endpoint
from tests.conftest import reset_server
from tests.local.test_aws_cli_walkthrough import env_from_labrunner

AWS = str(Path(sys.executable).parent / "aws")
MESSAGE = "A conflicting conditional operation is currently in progress against this resource. Please try again."


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def other_account_s3(endpoint: Endpoint, admin_session: boto3.Session, region: str = "us-east-1") -> Any:
    """An S3 client of another account of the same server (class mode's accounts)."""
    account = str(uuid.uuid4().int)[:12].rjust(12, "1")
    sts = admin_session.client("sts", endpoint_url=endpoint.url)
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{identity.ORG_ACCESS_ROLE}", RoleSessionName="other")[
        "Credentials"
    ]
    return boto3.client(
        "s3",
        endpoint_url=endpoint.url,
        region_name=region,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def refusal(call: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as info:
        call()
    error = info.value.response
    return error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Message"]


@pytest.fixture
def s3(fresh_server: Endpoint, admin_session: boto3.Session) -> Any:
    return admin_session.client("s3", endpoint_url=fresh_server.url, region_name="us-east-1")


def test_the_default_hold_refuses_the_name_to_the_account_that_deleted_it(fresh_server: Endpoint, s3: Any) -> None:
    assert faults.status(fresh_server.url)["settings"]["bucket_name_hold_s"] == 60
    name = unique("held")
    s3.create_bucket(Bucket=name)
    s3.delete_bucket(Bucket=name)
    assert refusal(lambda: s3.create_bucket(Bucket=name)) == ("OperationAborted", 409, MESSAGE)
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert faults.status(fresh_server.url)["counters"]["bucket_name_holds"] == 1


def test_the_name_is_free_again_after_the_hold(fresh_server: Endpoint, s3: Any) -> None:
    faults.configure(fresh_server.url, bucket_name_hold_s=1.5)
    name = unique("released")
    s3.create_bucket(Bucket=name)
    s3.delete_bucket(Bucket=name)
    assert refusal(lambda: s3.create_bucket(Bucket=name))[0] == "OperationAborted"
    time.sleep(1.6)
    s3.create_bucket(Bucket=name)
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_every_account_is_refused_during_the_hold_and_then_the_first_one_wins(
    fresh_server: Endpoint, admin_session: boto3.Session, s3: Any
) -> None:
    other = other_account_s3(fresh_server, admin_session)
    faults.configure(fresh_server.url, bucket_name_hold_s=1)
    name = unique("taken")
    s3.create_bucket(Bucket=name)
    assert refusal(lambda: other.create_bucket(Bucket=name))[:2] == ("BucketAlreadyExists", 409)
    s3.delete_bucket(Bucket=name)
    assert refusal(lambda: other.create_bucket(Bucket=name))[:2] == ("OperationAborted", 409)
    time.sleep(1.1)
    other.create_bucket(Bucket=name)
    assert refusal(lambda: s3.create_bucket(Bucket=name))[:2] == ("BucketAlreadyExists", 409)


def test_an_existing_bucket_of_ones_own_is_not_held(fresh_server: Endpoint, admin_session: boto3.Session) -> None:
    """us-east-1 answers 200 for a bucket you own there (legacy); other Regions BucketAlreadyOwnedByYou."""
    east = admin_session.client("s3", endpoint_url=fresh_server.url, region_name="us-east-1")
    west = admin_session.client("s3", endpoint_url=fresh_server.url, region_name="eu-west-1")
    name, euro = unique("mine"), unique("mine-eu")
    east.create_bucket(Bucket=name)
    east.create_bucket(Bucket=name)
    west.create_bucket(Bucket=euro, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    again = lambda: west.create_bucket(Bucket=euro, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})  # noqa: E731
    assert refusal(again)[:2] == ("BucketAlreadyOwnedByYou", 409)


def test_a_bucket_deleted_with_its_stack_is_held(fresh_server: Endpoint, admin_session: boto3.Session, s3: Any) -> None:
    cfn = admin_session.client("cloudformation", endpoint_url=fresh_server.url, region_name="us-east-1")
    name = unique("stack-bucket")
    template = {"Resources": {"Data": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": name}}}}
    cfn.create_stack(StackName="held", TemplateBody=json.dumps(template))
    cfn.get_waiter("stack_create_complete").wait(StackName="held", WaiterConfig={"Delay": 1})
    cfn.delete_stack(StackName="held")
    cfn.get_waiter("stack_delete_complete").wait(StackName="held", WaiterConfig={"Delay": 1})
    assert refusal(lambda: s3.create_bucket(Bucket=name))[:2] == ("OperationAborted", 409)
    # The same template deployed again fails the same way, as it would on AWS.
    cfn.create_stack(StackName="held-again", TemplateBody=json.dumps(template))
    with pytest.raises(Exception):  # noqa: B017 (the waiter's own error type)
        cfn.get_waiter("stack_create_complete").wait(StackName="held-again", WaiterConfig={"Delay": 1})
    events = cfn.describe_stack_events(StackName="held-again")["StackEvents"]
    assert any(
        "OperationAborted" in e.get("ResourceStatusReason", "") or "conflicting" in e.get("ResourceStatusReason", "")
        for e in events
    ), events


def test_a_bucket_that_still_holds_objects_is_not_deleted_nor_held(s3: Any) -> None:
    name = unique("full")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    assert refusal(lambda: s3.delete_bucket(Bucket=name))[0] == "BucketNotEmpty"
    s3.create_bucket(Bucket=name)  # us-east-1: 200 for one's own bucket, not OperationAborted


def test_reset_releases_every_held_name(fresh_server: Endpoint, s3: Any) -> None:
    name = unique("reset")
    s3.create_bucket(Bucket=name)
    s3.delete_bucket(Bucket=name)
    reset_server(fresh_server)
    s3.create_bucket(Bucket=name)


def test_the_aws_cli_sees_operation_aborted(fresh_server: Endpoint) -> None:
    env = env_from_labrunner(fresh_server)
    name = unique("cli")

    def aws(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([AWS, "s3api", *args], check=False, env=env, capture_output=True, text=True, timeout=60)

    assert aws("create-bucket", "--bucket", name).returncode == 0
    assert aws("delete-bucket", "--bucket", name).returncode == 0
    refused = aws("create-bucket", "--bucket", name)
    assert refused.returncode != 0
    assert "(OperationAborted) when calling the CreateBucket operation" in refused.stderr
