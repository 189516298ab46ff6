"""CloudTrail event history: IAM writes are recorded and LookupEvents finds them, as on AWS."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from labrunner.aws.session import CLIENT_CONFIG
from labrunner.local import faults
from labrunner.local.lifecycle import Endpoint

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": "*"}]}
)


def _client(session: boto3.Session, server: Endpoint, service: str, region: str = "us-east-1") -> Any:
    """A client that retries as labrunner's do (LookupEvents allows two requests a second)."""
    return session.client(service, endpoint_url=server.url, region_name=region, config=CLIENT_CONFIG)


def _events(cloudtrail: Any, **params: Any) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for page in cloudtrail.get_paginator("lookup_events").paginate(**params):
        events += page["Events"]
    return events


def test_iam_calls_are_recorded_newest_first(fresh_server: Endpoint, admin_session: boto3.Session) -> None:
    iam = _client(admin_session, fresh_server, "iam")
    cloudtrail = _client(admin_session, fresh_server, "cloudtrail")
    iam.create_role(RoleName="fn-role", AssumeRolePolicyDocument=TRUST)
    iam.put_role_policy(RoleName="fn-role", PolicyName="Receive", PolicyDocument=POLICY)
    iam.get_role(RoleName="fn-role")  # a read: recorded too, ReadOnly=true
    iam.delete_role_policy(RoleName="fn-role", PolicyName="Receive")

    events = _events(cloudtrail, LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": "fn-role"}])
    assert [e["EventName"] for e in events] == ["DeleteRolePolicy", "GetRole", "PutRolePolicy", "CreateRole"]
    assert [e["ReadOnly"] for e in events] == ["false", "true", "false", "false"]
    assert json.loads(events[1]["CloudTrailEvent"])["readOnly"] is True
    record = json.loads(events[2]["CloudTrailEvent"])
    assert record["eventSource"] == "iam.amazonaws.com"
    assert record["requestParameters"]["roleName"] == "fn-role"
    assert record["requestParameters"]["policyName"] == "Receive"
    assert record["userIdentity"]["type"] == "IAMUser"
    assert "errorCode" not in record
    assert events[0]["EventTime"] >= events[1]["EventTime"]
    assert {"ResourceType": "AWS::IAM::Role", "ResourceName": "fn-role"} in events[0]["Resources"]


def test_refused_calls_carry_the_error_code(fresh_server: Endpoint, admin_session: boto3.Session) -> None:
    iam = _client(admin_session, fresh_server, "iam")
    cloudtrail = _client(admin_session, fresh_server, "cloudtrail")
    with pytest.raises(ClientError):
        iam.delete_role_policy(RoleName="no-such-role", PolicyName="X")
    (event,) = _events(
        cloudtrail, LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "DeleteRolePolicy"}]
    )
    assert json.loads(event["CloudTrailEvent"])["errorCode"] == "NoSuchEntity"


def test_time_window_paging_and_region(fresh_server: Endpoint, admin_session: boto3.Session) -> None:
    iam = _client(admin_session, fresh_server, "iam")
    for i in range(3):
        iam.create_role(RoleName=f"r{i}", AssumeRolePolicyDocument=TRUST)
    cloudtrail = _client(admin_session, fresh_server, "cloudtrail")
    source = [{"AttributeKey": "EventSource", "AttributeValue": "iam.amazonaws.com"}]
    assert len(_events(cloudtrail, LookupAttributes=source, PaginationConfig={"PageSize": 1})) == 3
    future = datetime.now(UTC) + timedelta(hours=1)
    assert _events(cloudtrail, LookupAttributes=source, StartTime=future, EndTime=future + timedelta(hours=1)) == []
    # IAM is global: its events are kept in us-east-1 only.
    assert _events(_client(admin_session, fresh_server, "cloudtrail", "eu-west-1"), LookupAttributes=source) == []
    with pytest.raises(ClientError) as info:
        cloudtrail.lookup_events(LookupAttributes=source * 2)
    assert info.value.response["Error"]["Code"] == "InvalidLookupAttributesException"


ROLE_STACK = """
Parameters:
  Action: {Type: String}
  Managed: {Type: String}
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      RoleName: stack-role
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]
      ManagedPolicyArns: [!Ref Managed]
      Policies:
        - PolicyName: Queue
          PolicyDocument:
            Version: "2012-10-17"
            Statement: [{Effect: Allow, Action: !Ref Action, Resource: "*"}]
"""


def test_role_changes_made_by_a_stack_update_are_recorded(fresh_server: Endpoint, admin_session: boto3.Session) -> None:
    """CloudFormation changes a role with IAM calls that CloudTrail records (invoked by CloudFormation);
    lab 3 dates the role's last permission change from them."""
    cfn = _client(admin_session, fresh_server, "cloudformation")
    cloudtrail = _client(admin_session, fresh_server, "cloudtrail")
    basic = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    readonly = "arn:aws:iam::aws:policy/ReadOnlyAccess"

    def apply(operation: Any, action: str, managed: str) -> None:
        parameters = [
            {"ParameterKey": "Action", "ParameterValue": action},
            {"ParameterKey": "Managed", "ParameterValue": managed},
        ]
        operation(
            StackName="roles", TemplateBody=ROLE_STACK, Parameters=parameters, Capabilities=["CAPABILITY_NAMED_IAM"]
        )
        waiter = "stack_create_complete" if operation == cfn.create_stack else "stack_update_complete"
        cfn.get_waiter(waiter).wait(StackName="roles", WaiterConfig={"Delay": 1})

    apply(cfn.create_stack, "sqs:ReceiveMessage", basic)
    created = _events(cloudtrail, LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": "stack-role"}])
    apply(cfn.update_stack, "sqs:DeleteMessage", readonly)
    events = _events(cloudtrail, LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": "stack-role"}])
    new = [e for e in events if e["EventId"] not in {c["EventId"] for c in created}]
    assert sorted(e["EventName"] for e in new) == ["AttachRolePolicy", "DetachRolePolicy", "PutRolePolicy"]
    put = json.loads(next(e for e in new if e["EventName"] == "PutRolePolicy")["CloudTrailEvent"])
    assert put["userIdentity"] == {"type": "AWSService", "invokedBy": "cloudformation.amazonaws.com"}
    assert put["requestParameters"]["roleName"] == "stack-role"
    assert "sqs:DeleteMessage" in put["requestParameters"]["policyDocument"]
    detach = json.loads(next(e for e in new if e["EventName"] == "DetachRolePolicy")["CloudTrailEvent"])
    assert detach["requestParameters"]["policyArn"] == basic


def test_read_events_of_iam_and_lambda_are_recorded(fresh_server: Endpoint, admin_session: boto3.Session) -> None:
    """The Event history holds read-only management events too (filter: ReadOnly=true); Lambda's are
    kept in the function's region; Invoke is a data event and is not there."""
    iam = _client(admin_session, fresh_server, "iam")
    iam.create_role(RoleName="fn-role", AssumeRolePolicyDocument=TRUST)
    iam.list_role_policies(RoleName="fn-role")
    iam.list_attached_role_policies(RoleName="fn-role")
    cloudtrail = _client(admin_session, fresh_server, "cloudtrail")
    reads = _events(cloudtrail, LookupAttributes=[{"AttributeKey": "ReadOnly", "AttributeValue": "true"}])
    assert {e["EventName"] for e in reads} >= {"ListRolePolicies", "ListAttachedRolePolicies"}
    assert all(e["ReadOnly"] == "true" for e in reads)
    writes = _events(cloudtrail, LookupAttributes=[{"AttributeKey": "ReadOnly", "AttributeValue": "false"}])
    assert [e["EventName"] for e in writes] == ["CreateRole"]

    region = "eu-west-1"
    lam = _client(admin_session, fresh_server, "lambda", region)
    with pytest.raises(ClientError):
        lam.get_function(FunctionName="no-such-function")
    lam.list_event_source_mappings(FunctionName="no-such-function")
    regional = _client(admin_session, fresh_server, "cloudtrail", region)
    source = [{"AttributeKey": "EventSource", "AttributeValue": "lambda.amazonaws.com"}]
    events = _events(regional, LookupAttributes=source)
    assert {e["EventName"] for e in events} >= {"GetFunction", "ListEventSourceMappings"}
    failed = next(e for e in events if e["EventName"] == "GetFunction")
    assert json.loads(failed["CloudTrailEvent"])["errorCode"] == "ResourceNotFoundException"
    assert failed["ReadOnly"] == "true"
    assert _events(cloudtrail, LookupAttributes=source) == []  # not in us-east-1


def test_max_results_above_fifty_is_refused(fresh_server: Endpoint, admin_session: boto3.Session) -> None:
    cloudtrail = _client(admin_session, fresh_server, "cloudtrail")
    with pytest.raises(ClientError) as info:
        cloudtrail.lookup_events(MaxResults=51)
    assert info.value.response["Error"]["Code"] == "InvalidMaxResultsException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    aws = shutil.which("aws") or str(Path(sys.executable).with_name("aws"))
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": fresh_server.url,
        "AWS_ACCESS_KEY_ID": admin_session.get_credentials().access_key,
        "AWS_SECRET_ACCESS_KEY": admin_session.get_credentials().secret_key,
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    done = subprocess.run(
        [aws, "cloudtrail", "lookup-events", "--max-results", "100", "--no-paginate"],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "InvalidMaxResultsException" in done.stderr


def test_events_show_only_after_the_delivery_delay(fresh_server: Endpoint, admin_session: boto3.Session) -> None:
    faults.configure(fresh_server.url, cloudtrail_delay_s=2)
    iam = _client(admin_session, fresh_server, "iam")
    cloudtrail = _client(admin_session, fresh_server, "cloudtrail")
    iam.create_role(RoleName="late-role", AssumeRolePolicyDocument=TRUST)
    by_role = [{"AttributeKey": "ResourceName", "AttributeValue": "late-role"}]
    assert _events(cloudtrail, LookupAttributes=by_role) == []
    time.sleep(2.2)
    (event,) = _events(cloudtrail, LookupAttributes=by_role)
    # eventTime is the call's time, not the delivery's.
    assert datetime.now(UTC) - event["EventTime"] >= timedelta(seconds=2)


def test_lookups_are_limited_to_two_a_second(fresh_server: Endpoint, admin_session: boto3.Session) -> None:
    no_retries = Config(retries={"mode": "standard", "max_attempts": 1})
    cloudtrail = admin_session.client(
        "cloudtrail", endpoint_url=fresh_server.url, region_name="us-east-1", config=no_retries
    )
    other_region = admin_session.client(
        "cloudtrail", endpoint_url=fresh_server.url, region_name="eu-west-1", config=no_retries
    )
    time.sleep(1.1)  # a clean second for this account
    # As fast as one client can: on a loaded machine two calls may already be a second apart, so
    # call until refused. Whatever the pace, no three calls the server let through lie within a second.
    passed: list[tuple[float, float]] = []  # (sent, answered) of each call let through
    refused = None
    for _ in range(40):
        sent = time.monotonic()
        try:
            cloudtrail.lookup_events(MaxResults=1)
        except ClientError as exc:
            refused = exc
            break
        passed.append((sent, time.monotonic()))
    assert refused is not None, "40 lookups in a row were never throttled"
    assert refused.response["Error"]["Code"] == "ThrottlingException"
    for (first_sent, _), (_, third_answered) in zip(passed, passed[2:], strict=False):
        assert third_answered - first_sent >= 1.0, passed
    other_region.lookup_events(MaxResults=1)  # another region has its own limit
    time.sleep(1.1)
    cloudtrail.lookup_events(MaxResults=1)  # the next second is fine
    # botocore retries throttling: a client with retries gets through a burst.
    retrying = _client(admin_session, fresh_server, "cloudtrail")
    for _ in range(6):
        retrying.lookup_events(MaxResults=1)
    assert faults.status(fresh_server.url)["counters"]["cloudtrail_lookups_throttled"] >= 1
