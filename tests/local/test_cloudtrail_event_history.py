"""CloudTrail event history: IAM writes are recorded and LookupEvents finds them, as on AWS."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

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
    return session.client(service, endpoint_url=server.url, region_name=region)


def _events(cloudtrail: Any, **params: Any) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for page in cloudtrail.get_paginator("lookup_events").paginate(**params):
        events += page["Events"]
    return events


def test_iam_writes_are_recorded_newest_first(fresh_server: Endpoint, admin_session: boto3.Session) -> None:
    iam = _client(admin_session, fresh_server, "iam")
    cloudtrail = _client(admin_session, fresh_server, "cloudtrail")
    iam.create_role(RoleName="fn-role", AssumeRolePolicyDocument=TRUST)
    iam.put_role_policy(RoleName="fn-role", PolicyName="Receive", PolicyDocument=POLICY)
    iam.get_role(RoleName="fn-role")  # a read: not recorded
    iam.delete_role_policy(RoleName="fn-role", PolicyName="Receive")

    events = _events(cloudtrail, LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": "fn-role"}])
    assert [e["EventName"] for e in events] == ["DeleteRolePolicy", "PutRolePolicy", "CreateRole"]
    record = json.loads(events[1]["CloudTrailEvent"])
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
