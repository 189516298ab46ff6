"""Helpers for the Lambda, SQS event source and CloudFormation tests (all through boto3)."""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from collections.abc import Callable
from typing import Any, TypeVar

import boto3

from labrunner.local.lifecycle import Endpoint
from tests.helpers import admin_boto3

T = TypeVar("T")

LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
LOGS_STATEMENT = {
    "Effect": "Allow",
    "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
    "Resource": "*",
}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def admin(endpoint: Endpoint) -> boto3.Session:
    return admin_boto3(endpoint)


class Aws:
    """boto3 clients of one session against the local server."""

    def __init__(self, endpoint: Endpoint, session: boto3.Session | None = None) -> None:
        self.endpoint = endpoint
        self.session = session or admin(endpoint)
        self._clients: dict[str, Any] = {}

    def __getattr__(self, service: str) -> Any:
        if service.startswith("_"):
            raise AttributeError(service)
        if service not in self._clients:
            name = {"lambda_": "lambda", "lam": "lambda"}.get(service, service)
            self._clients[service] = self.session.client(name, endpoint_url=self.endpoint.url)
        return self._clients[service]

    def role(self, name: str, *statements: dict[str, Any]) -> str:
        """A Lambda execution role with one inline policy of these statements."""
        arn: str = self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"]["Arn"]
        if statements:
            self.iam.put_role_policy(
                RoleName=name,
                PolicyName="inline",
                PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}),
            )
        return arn

    def function(
        self, name: str, role_arn: str, source: str, *, handler: str = "index.handler", timeout: int = 10, **extra: Any
    ) -> str:
        """A Python function whose index.py is `source`."""
        arn: str = self.lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role_arn,
            Handler=handler,
            Code={"ZipFile": zipped(source)},
            Timeout=timeout,
            **extra,
        )["FunctionArn"]
        return arn

    def log_messages(self, function_name: str) -> list[str]:
        """Every event of the function's log group, oldest first (empty if there is no group)."""
        group = f"/aws/lambda/{function_name}"
        try:
            events = self.logs.filter_log_events(logGroupName=group)["events"]
        except self.logs.exceptions.ResourceNotFoundException:
            return []
        return [str(e["message"]) for e in sorted(events, key=lambda e: (e["timestamp"], e["eventId"]))]

    def log_streams(self, function_name: str) -> list[str]:
        streams = self.logs.describe_log_streams(logGroupName=f"/aws/lambda/{function_name}")["logStreams"]
        return [str(s["logStreamName"]) for s in streams]


def zipped(source: str, name: str = "index.py") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, source)
    return buffer.getvalue()


def wait_for(probe: Callable[[], T | None], *, timeout: float = 10.0, interval: float = 0.02, what: str = "") -> T:
    """Poll until `probe` returns something truthy; fail with `what` after the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or probe}")
        time.sleep(interval)


def invoke(aws: Aws, name: str, payload: Any = None, **extra: Any) -> tuple[dict[str, Any], Any]:
    """Invoke synchronously; (response, decoded JSON payload)."""
    response = aws.lam.invoke(FunctionName=name, Payload=json.dumps(payload or {}).encode(), **extra)
    body = response["Payload"].read()
    return response, json.loads(body) if body else None
