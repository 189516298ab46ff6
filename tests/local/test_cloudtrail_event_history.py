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
