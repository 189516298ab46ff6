"""Read-only proof (SPEC §5): `check` of every lab under an identity with only ReadOnlyAccess succeeds
and leaves the account exactly as it was, on a fresh account and on a fully solved one."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from labrunner.local import faults, identity
from labrunner.local.lifecycle import Endpoint
from tests.helpers import admin_boto3, cli
from tests.reliability.state import differences, settled_state

READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
STUDENT = "student-read-only"


def read_only_session(endpoint: Endpoint) -> boto3.Session:
    """An IAM user of the default account with nothing but the AWS managed ReadOnlyAccess."""
    iam = admin_boto3(endpoint).client("iam", endpoint_url=endpoint.url)
    iam.create_user(UserName=STUDENT)
    iam.attach_user_policy(UserName=STUDENT, PolicyArn=READ_ONLY)
    key = iam.create_access_key(UserName=STUDENT)["AccessKey"]
    session = boto3.Session(
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        region_name=identity.DEFAULT_REGION,
    )
    with pytest.raises(ClientError) as denied:  # the identity really cannot write
        session.client("s3", endpoint_url=endpoint.url).create_bucket(Bucket="read-only-cannot-create")
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    return session


def check_as(session: boto3.Session, endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """`labrunner --target aws check --format json` with the session's keys against the local AWS."""
    creds = session.get_credentials()
    with monkeypatch.context() as env:
        env.setenv("AWS_ENDPOINT_URL", endpoint.url)
        env.setenv("AWS_ACCESS_KEY_ID", creds.access_key)
        env.setenv("AWS_SECRET_ACCESS_KEY", creds.secret_key)
        env.setenv("AWS_DEFAULT_REGION", identity.DEFAULT_REGION)
        result = cli("--target", "aws", "check", "--format", "json")
    assert result.err == "", result.err
    report: dict[str, Any] = json.loads(result.out)
    assert report["target"] == "aws" and report["account"] == identity.DEFAULT_ACCOUNT
    errors = {s["id"]: s["hint"] for s in report["steps"] if s["status"] == "error"}
    assert errors == {}, errors  # nothing was refused to the read-only identity, nothing crashed
    return report


def verdicts(report: dict[str, Any]) -> dict[str, str]:
    return {s["id"]: s["status"] for s in report["steps"]}


@pytest.mark.slow
def test_check_under_read_only_access_changes_nothing_on_a_fresh_and_a_solved_account(
    fresh_server: Endpoint, local_env: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    student = read_only_session(fresh_server)

    # A fresh account: nothing deployed. Every step is graded as the admin's check grades it.
    before = settled_state(fresh_server)
    fresh = check_as(student, fresh_server, monkeypatch)
    assert differences(before, settled_state(fresh_server)) == []
    as_admin = cli("check", "--format", "json")
    assert verdicts(fresh) == verdicts(json.loads(as_admin.out))
    assert verdicts(fresh)["setup.stack"] == "fail"

    # A fully solved account (as the instructor, on the local target).
    solved = cli("solve", "--format", "json")
    assert solved.code == 0, solved.out + solved.err
    assert set(verdicts(json.loads(solved.out)).values()) == {"pass"}
    before = settled_state(fresh_server)
    try:
        faults.configure(fresh_server.url, throttle_rate=0.1, throttle_seed=5)  # and AWS throttles
        checked = check_as(student, fresh_server, monkeypatch)
        assert faults.status(fresh_server.url)["counters"]["throttled"] > 0
    finally:
        faults.configure(fresh_server.url, throttle_rate=0)
    assert differences(before, settled_state(fresh_server)) == []
    assert verdicts(checked) == verdicts(json.loads(solved.out))
