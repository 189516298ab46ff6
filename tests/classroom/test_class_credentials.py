"""Class mode survives expiring credentials: assumed roles refresh; SSO profiles go through botocore's chain."""

from __future__ import annotations

import json
import time
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from labrunner.aws.errors import error_code
from labrunner.aws.session import TargetSpec
from labrunner.local import faults
from labrunner.local.lifecycle import Endpoint
from labrunner.target import open_target
from tests.helpers import cli

ALICE, BOB = "111111111111", "222222222222"
ROLE = "arn:aws:iam::{}:role/OrganizationAccountAccessRole"
TTL_S = 3  # small, so that each student's own session outlives several credentials (solve of setup+lab2: ~8 s)


def test_a_class_solve_longer_than_the_credentials_lifetime_succeeds(
    fresh_server: Endpoint, local_env: Endpoint, tmp_path: Path
) -> None:
    faults.configure(fresh_server.url, credential_ttl_s=TTL_S, latency_ms=40)  # and an AWS-like round trip
    roster = tmp_path / "class.yaml"
    roster.write_text(
        "".join(f"- {{name: {n}, role_arn: '{ROLE.format(a)}'}}\n" for n, a in (("alice", ALICE), ("bob", BOB)))
    )

    result = cli("--target", "aws", "class", "solve", "setup", "lab2", "--roster", str(roster), "--format", "json")

    report = json.loads(result.out)
    for student in report["students"]:
        assert "error" not in student, student["error"]
        assert {s["id"]: s["status"] for s in student["report"]["steps"]} == {
            "setup.stack": "pass",
            "setup.pipeline": "pass",
            "lab2.encryption": "pass",
            "lab2.encrypted-upload": "pass",
            "lab2.log-bucket": "pass",
            "lab2.access-logging": "pass",
            "lab2.logs-delivered": "pass",
        }, student["report"]["steps"]
        worked = sum(s["duration_s"] for s in student["report"]["steps"])
        assert worked > TTL_S, f"{worked:.0f} s of work must outlast the credentials ({TTL_S} s) to prove anything"
    assert result.code == 0, result.err


def test_a_session_that_does_not_refresh_dies_with_expired_token(fresh_server: Endpoint, local_env: Endpoint) -> None:
    faults.configure(fresh_server.url, credential_ttl_s=3)
    target = open_target(TargetSpec(kind="aws", role_arn=ROLE.format(ALICE)))  # class mode's session
    admin = boto3.Session(aws_access_key_id=fresh_server.access_key, aws_secret_access_key=fresh_server.secret_key)
    static = admin.client("sts", endpoint_url=fresh_server.url, region_name="us-east-1").assume_role(
        RoleArn=ROLE.format(ALICE), RoleSessionName="static"
    )["Credentials"]
    plain = boto3.Session(
        aws_access_key_id=static["AccessKeyId"],
        aws_secret_access_key=static["SecretAccessKey"],
        aws_session_token=static["SessionToken"],
    ).client("sts", endpoint_url=fresh_server.url, region_name="us-east-1")
    refreshing = target.clients().client("sts")

    time.sleep(3.5)

    with pytest.raises(ClientError) as caught:
        plain.get_caller_identity()
    assert error_code(caught.value) == "ExpiredToken"
    assert refreshing.get_caller_identity()["Account"] == ALICE


SSO_CONFIG = """\
[profile student-sso]
sso_session = lab
sso_account_id = 111111111111
sso_role_name = LabStudent
region = us-east-1

[sso-session lab]
sso_start_url = https://example.awsapps.com/start
sso_region = us-east-1
sso_registration_scopes = sso:account:access
"""


def test_an_sso_profile_resolves_through_botocores_chain(
    fresh_server: Endpoint, local_env: Endpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    config.write_text(SSO_CONFIG)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("HOME", str(tmp_path))  # no SSO token cache: botocore needs `aws sso login`
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(var)  # else the environment's keys would win over the profile
    roster = tmp_path / "class.yaml"
    roster.write_text("- {name: erin, profile: student-sso}\n")

    single = cli("--target", "aws", "--profile", "student-sso", "check", "setup")
    assert single.code == 2
    assert single.err.count("\n") == 1 and "Traceback" not in single.err
    assert "SSO" in single.err and "aws sso login --profile student-sso" in single.err  # botocore knew the profile

    result = cli("--target", "aws", "class", "check", "setup", "--roster", str(roster), "--format", "json")
    erin = json.loads(result.out)["students"][0]
    assert "aws sso login --profile student-sso" in erin["error"]
