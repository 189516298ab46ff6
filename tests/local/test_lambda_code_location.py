"""GetFunction's Code.Location is a presigned-style URL of the local endpoint that serves the zip."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from typing import Any

import boto3
import pytest

from labrunner.local.lifecycle import Endpoint
from tests.local.lambda_support import LAMBDA_TRUST, unique, zipped

SOURCE = "def handler(event, context):\n    return 'v1'\n"


def _download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as answer:  # no credentials, like a presigned URL
        assert answer.headers["Content-Type"] == "application/zip"
        body: bytes = answer.read()
        return body


@pytest.fixture
def function(admin_session: boto3.Session, local_server: Endpoint) -> tuple[Any, str]:
    iam = admin_session.client("iam", endpoint_url=local_server.url)
    lam = admin_session.client("lambda", endpoint_url=local_server.url)
    role = iam.create_role(RoleName=unique("code-role"), AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
    name = unique("code-fn")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="index.handler",
        Code={"ZipFile": zipped(SOURCE)},
    )
    return lam, name


def test_location_serves_the_functions_zip(function: tuple[Any, str], local_server: Endpoint) -> None:
    lam, name = function
    code = lam.get_function(FunctionName=name)["Code"]
    assert code["RepositoryType"] == "S3"
    location = urllib.parse.urlsplit(code["Location"])
    assert f"{location.scheme}://{location.netloc}" == local_server.url, code["Location"]
    archive = zipfile.ZipFile(io.BytesIO(_download(code["Location"])))
    assert archive.read("index.py").decode() == SOURCE


def test_location_of_a_version_keeps_its_code(function: tuple[Any, str]) -> None:
    lam, name = function
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.update_function_code(FunctionName=name, ZipFile=zipped(SOURCE.replace("v1", "v2")))
    old = lam.get_function(FunctionName=name, Qualifier=version)["Code"]["Location"]
    new = lam.get_function(FunctionName=name)["Code"]["Location"]
    assert b"'v1'" in zipfile.ZipFile(io.BytesIO(_download(old))).read("index.py")
    assert b"'v2'" in zipfile.ZipFile(io.BytesIO(_download(new))).read("index.py")


def test_unknown_link_is_s3_access_denied(local_server: Endpoint) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        _download(f"{local_server.url}/_lambda_code/not-a-token/x.zip")
    assert refused.value.code == 403
    assert b"<Code>AccessDenied</Code>" in refused.value.read()
