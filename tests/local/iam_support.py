"""Helpers for the IAM tests: principals with given policies, and clients that are cheap to make."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from labrunner.local import identity
from labrunner.local.lifecycle import Endpoint

ACCOUNT = identity.DEFAULT_ACCOUNT
REGION = identity.DEFAULT_REGION
# One boto3 session for every client: botocore loads each service model once (~0.2 s saved per client).
SESSION = boto3.Session(region_name=REGION)


@dataclass(frozen=True)
class Creds:
    """An access key (and session token for STS credentials)."""

    access_key: str
    secret_key: str
    token: str | None = None


def admin(endpoint: Endpoint) -> Creds:
    """The local admin's keys for the endpoint's server (its secret is random per LABRUNNER_HOME)."""
    return Creds(endpoint.access_key, endpoint.secret_key)


def client(endpoint: Endpoint, service: str, creds: Creds | None = None, **config: Any) -> Any:
    creds = creds or admin(endpoint)
    return SESSION.client(
        service,
        endpoint_url=endpoint.url,
        aws_access_key_id=creds.access_key,
        aws_secret_access_key=creds.secret_key,
        aws_session_token=creds.token,
        **config,
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: Any, resource: Any = "*") -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def error_of(call: Callable[[], Any]) -> dict[str, Any]:
    """The error response of a call that must fail."""
    with pytest.raises(ClientError) as info:
        call()
    response: dict[str, Any] = info.value.response
    return response


def create_user(endpoint: Endpoint, *statements: dict[str, Any], managed: tuple[str, ...] = ()) -> tuple[str, Creds]:
    """A new IAM user with an inline policy of these statements (if any) and managed policies."""
    iam = client(endpoint, "iam")
    name = unique("user")
    iam.create_user(UserName=name)
    if statements:
        iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=policy(*statements))
    for arn in managed:
        iam.attach_user_policy(UserName=name, PolicyArn=arn)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return f"arn:aws:iam::{ACCOUNT}:user/{name}", Creds(key["AccessKeyId"], key["SecretAccessKey"])


def assume(endpoint: Endpoint, creds: Creds, role_arn: str, session_name: str = "test", **extra: Any) -> Creds:
    answer = client(endpoint, "sts", creds).assume_role(RoleArn=role_arn, RoleSessionName=session_name, **extra)
    c = answer["Credentials"]
    return Creds(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
