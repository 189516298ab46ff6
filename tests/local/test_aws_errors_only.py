"""Operations the local AWS lacks, and crashes inside it, answer with AWS errors in the service's own
protocol (NotImplemented 501, InternalFailure 500) — never an HTML page a client cannot parse."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from werkzeug.test import EnvironBuilder

from labrunner.aws.errors import error_code
from labrunner.local.fidelity.aws_errors_only import AWSErrorsOnly
from labrunner.local.lifecycle import Endpoint

NOT_IMPLEMENTED: list[tuple[str, str, dict[str, Any]]] = [
    ("iam", "list_service_specific_credentials", {}),  # query XML
    ("iam", "generate_service_last_accessed_details", {"Arn": "arn:aws:iam::123456789012:role/x"}),
    ("dynamodb", "describe_contributor_insights", {"TableName": "t"}),  # JSON
    ("lambda", "list_function_url_configs", {"FunctionName": "f"}),  # REST-JSON: a path moto routes nowhere
    ("lambda", "get_account_settings", {}),
]


@pytest.mark.parametrize(("service", "operation", "params"), NOT_IMPLEMENTED, ids=[o for _, o, _ in NOT_IMPLEMENTED])
def test_missing_operation_is_a_client_error(
    admin_session: boto3.Session, local_server: Endpoint, service: str, operation: str, params: dict[str, Any]
) -> None:
    client = admin_session.client(service, endpoint_url=local_server.url)
    with pytest.raises(ClientError) as raised:
        getattr(client, operation)(**params)
    assert error_code(raised.value) == "NotImplemented"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert raised.value.response["ResponseMetadata"].get("RetryAttempts", 0) == 0  # 501 is not retried


def _aws_cli() -> str:
    """The aws CLI of the test environment (the venv's bin/ first, then PATH)."""
    beside = Path(sys.executable).with_name("aws")
    found = str(beside) if beside.exists() else shutil.which("aws")
    if found is None:
        pytest.skip("the aws CLI is not installed in the test environment")
    return found


def test_aws_cli_names_the_error(local_env: Endpoint) -> None:
    result = subprocess.run(
        [_aws_cli(), "iam", "list-service-specific-credentials"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode in (254, 255), result  # a service error (CLI v2 254, v1 255)
    assert "(NotImplemented)" in result.stderr and "ListServiceSpecificCredentials" in result.stderr, result.stderr
    assert "<html" not in result.stderr.lower() and "Unable to parse" not in result.stderr


def test_unknown_rest_path_is_invalid_action_in_rest_json(local_server: Endpoint) -> None:
    """A path that is no Lambda operation at all: an AWS error in REST-JSON, not werkzeug's HTML 404."""
    url = f"{local_server.url}/2015-03-31/no-such-resource/here"
    request = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials(local_server.access_key, local_server.secret_key), "lambda", local_server.region).add_auth(
        request
    )
    answer = requests.get(url, headers=dict(request.headers.items()), timeout=30)
    assert answer.status_code == 400, answer.text
    assert answer.headers["x-amzn-ErrorType"].startswith("InvalidAction")
    assert "html" not in answer.headers["Content-Type"] and answer.json()["Message"], answer.text


def _signed_environ(service: str, url: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    request = AWSRequest(method="POST", url=url, data=body, headers=headers)
    SigV4Auth(Credentials("AKIDEXAMPLE", "secret"), service, "us-east-1").add_auth(request)
    builder = EnvironBuilder(method="POST", path="/", data=body, headers=dict(request.headers.items()))
    return dict(builder.get_environ())


def _crash(_environ: dict[str, Any], _start_response: Callable[..., Any]) -> Iterable[bytes]:
    raise KeyError("a bug inside moto")


def _call(app: AWSErrorsOnly, environ: dict[str, Any]) -> tuple[str, dict[str, str], bytes]:
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(app(environ, start_response))
    return seen["status"], seen["headers"], body


def test_crash_is_internal_failure_in_query_xml() -> None:
    environ = _signed_environ(
        "iam",
        "http://127.0.0.1/",
        b"Action=ListRoles&Version=2010-05-08",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    status, headers, body = _call(AWSErrorsOnly(_crash), environ)
    assert status.startswith("500 ")
    assert headers["Content-Type"] == "text/xml"
    assert b"<Code>InternalFailure</Code>" in body and b"iam ListRoles" in body


def test_crash_is_internal_failure_in_json() -> None:
    environ = _signed_environ(
        "dynamodb",
        "http://127.0.0.1/",
        b"{}",
        {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.ListTables"},
    )
    status, headers, body = _call(AWSErrorsOnly(_crash), environ)
    assert status.startswith("500 ")
    assert headers["x-amzn-ErrorType"] == "InternalFailure"
    assert b'"__type": "com.amazon.coral.service#InternalFailure"' in body
