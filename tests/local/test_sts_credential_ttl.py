"""`credential_ttl_s`: every STS credential ends after the knob's seconds, then AWS's ExpiredToken answers."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from labrunner.aws.errors import error_code
from labrunner.local import faults
from labrunner.local.lifecycle import Endpoint

MEMBER = "111111111111"
ROLE = f"arn:aws:iam::{MEMBER}:role/OrganizationAccountAccessRole"


def admin(endpoint: Endpoint) -> boto3.Session:
    return boto3.Session(
        aws_access_key_id=endpoint.access_key, aws_secret_access_key=endpoint.secret_key, region_name="us-east-1"
    )


def lifetime(credentials: dict[str, Any]) -> float:
    return float((credentials["Expiration"] - datetime.now(UTC)).total_seconds())


def session_of(credentials: dict[str, Any]) -> boto3.Session:
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name="us-east-1",
    )


def refused(call: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    return error_code(caught.value), caught.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_without_the_knob_credentials_last_as_long_as_asked(fresh_server: Endpoint) -> None:
    sts = admin(fresh_server).client("sts", endpoint_url=fresh_server.url)
    assumed = sts.assume_role(RoleArn=ROLE, RoleSessionName="ttl-test")["Credentials"]
    assert 3500 < lifetime(assumed) <= 3600  # AWS's default DurationSeconds
    asked = sts.assume_role(RoleArn=ROLE, RoleSessionName="ttl-test", DurationSeconds=900)["Credentials"]
    assert 800 < lifetime(asked) <= 900


def test_the_knob_caps_every_credential_and_expired_ones_get_aws_errors(fresh_server: Endpoint) -> None:
    faults.configure(fresh_server.url, credential_ttl_s=3)
    sts = admin(fresh_server).client("sts", endpoint_url=fresh_server.url)
    assumed = sts.assume_role(RoleArn=ROLE, RoleSessionName="ttl-test", DurationSeconds=3600)["Credentials"]
    assert 0 < lifetime(assumed) <= 3  # the answer tells the client the capped time
    assert lifetime(sts.get_session_token()["Credentials"]) <= 3

    member = session_of(assumed)
    member_sts = member.client("sts", endpoint_url=fresh_server.url)
    assert member_sts.get_caller_identity()["Account"] == MEMBER  # valid until it expires
    time.sleep(max(0.0, lifetime(assumed)) + 0.5)

    # query protocol (STS, IAM): ExpiredToken 403; S3: ExpiredToken 400; JSON (DynamoDB): ExpiredTokenException
    assert refused(member_sts.get_caller_identity) == ("ExpiredToken", 403)
    assert refused(member.client("iam", endpoint_url=fresh_server.url).list_roles) == ("ExpiredToken", 403)
    assert refused(member.client("s3", endpoint_url=fresh_server.url).list_buckets) == ("ExpiredToken", 400)
    dynamodb = member.client("dynamodb", endpoint_url=fresh_server.url)
    assert refused(dynamodb.list_tables) == ("ExpiredTokenException", 400)

    faults.configure(fresh_server.url, credential_ttl_s=0)  # credentials issued from now on last as asked
    again = sts.assume_role(RoleArn=ROLE, RoleSessionName="ttl-test", DurationSeconds=900)["Credentials"]
    assert lifetime(again) > 800
