"""`labrunner doctor` on the local target: a fresh account, a Control Tower member account, an
identity that lacks permissions, a region without the rules; read-only throughout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labrunner.context import Context
from labrunner.doctor.command import diagnose
from labrunner.local.lifecycle import Endpoint
from tests.doctor.support import as_identity, doctor_json, finding, levels
from tests.helpers import cli, local_context
from tests.local.iam_support import allow, create_user
from tests.reliability.state import differences, settled_state

FINDING_KEYS = {"id", "level", "detail", "fix"}
REPORT_KEYS = {
    "schema",
    "target",
    "account",
    "region",
    "stack",
    "caller",
    "started_at",
    "duration_s",
    "findings",
    "summary",
    "runnable",
}
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"


def test_fresh_account_is_ready_and_the_doctor_changes_nothing(fresh_server: Endpoint, local_env: Endpoint) -> None:
    before = settled_state(fresh_server)
    code, report = doctor_json()
    assert differences(before, settled_state(fresh_server)) == []  # read-only

    assert code == 0 and report["runnable"] is True
    assert set(report) == REPORT_KEYS and report["schema"] == "labrunner.doctor/v1"
    assert report["target"] == "local" and report["account"] == "123456789012" and report["region"] == "us-east-1"
    assert report["caller"].endswith(":user/labrunner-admin")
    assert all(set(f) == FINDING_KEYS and f["level"] in ("ok", "warn", "problem") for f in report["findings"])
    assert report["summary"] == {
        level: sum(f["level"] == level for f in report["findings"]) for level in ("ok", "warn", "problem")
    }
    # Everything ok; the one expected warn: a fresh account has no account-level Block Public Access.
    assert levels(report) == {
        "identity": ["ok"],
        "permissions.check": ["ok"],
        "permissions.solve": ["ok"],
        "region": ["ok"],
        "config.recorder": ["ok"],
        "config.rules": ["ok"],
        "s3.block-public-access": ["warn"],
        "cloudtrail": ["ok"],
        "s3.bucket-quota": ["ok"],
        "lambda.runtime": ["ok"],
        "stack": ["ok"],
    }
    assert "0 of 10000 general purpose buckets" in finding(report, "s3.bucket-quota")["detail"]
    assert "python3.12" in finding(report, "lambda.runtime")["detail"]

    # Text: one line per item, then the verdict.
    text = cli("doctor")
    assert text.code == 0
    lines = text.out.splitlines()
    assert len(lines) == len(report["findings"]) + 2
    assert lines[-1].startswith("doctor: 10 ok, 1 warn, 0 problem")
    bpa = next(line for line in lines if " s3.block-public-access " in line)
    assert bpa.startswith("warn") and "— fix: S3 → Block Public Access settings for this account" in bpa


def test_account_level_block_public_access_on_is_ok(fresh_server: Endpoint, local_env: Endpoint, ctx: Context) -> None:
    ctx.client("s3control").put_public_access_block(
        AccountId=ctx.account_id,
        PublicAccessBlockConfiguration=dict.fromkeys(
            ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
        ),
    )
    _, report = doctor_json()
    assert finding(report, "s3.block-public-access")["level"] == "ok"


def test_control_tower_account_warns_what_lab4_will_do(deployed: Context) -> None:
    assert cli("local", "scenario", "control-tower").code == 0
    code, report = doctor_json()
    assert code == 0 and report["runnable"] is True, report

    recorder = finding(report, "config.recorder")
    assert recorder["level"] == "warn"
    assert "aws-controltower-BaselineConfigRecorder" in recorder["detail"]
    assert "AWS Control Tower" in recorder["detail"] and "lab 4 keeps it" in recorder["detail"]
    assert "reset keeps it" in recorder["detail"]

    channel = finding(report, "config.channel")
    assert channel["level"] == "warn"
    assert "aws-controltower-logs-" in channel["detail"] and "another account" in channel["detail"]

    rules = finding(report, "config.service-rules")
    assert rules["level"] == "warn" and "securityhub.amazonaws.com" in rules["detail"]
    assert "securityhub-s3-bucket-logging-enabled-" in rules["detail"]
    assert "do not count for lab 4" in rules["detail"] and "adds the lab's own" in rules["detail"]

    stack = finding(report, "stack")
    assert stack["level"] == "warn" and "already deployed (CREATE_COMPLETE" in stack["detail"]


def test_identity_without_permissions_gets_problems_naming_the_actions(
    fresh_server: Endpoint, local_env: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Enough to be simulated and to read a little, nothing else.
    _, narrow = create_user(
        fresh_server,
        allow(["iam:SimulatePrincipalPolicy", "cloudformation:DescribeStacks", "s3:ListAllMyBuckets"]),
    )
    result = as_identity(fresh_server, narrow, monkeypatch, "doctor", "--format", "json")
    assert result.code == 1, result.out + result.err
    report = json.loads(result.out)
    assert report["runnable"] is False and report["target"] == "aws"
    check = finding(report, "permissions.check")
    assert check["level"] == "problem"
    for action in ("cloudtrail:LookupEvents", "config:DescribeConfigRules", "iam:GetRolePolicy", "s3:GetBucketLogging"):
        assert action in check["detail"]
    assert "cloudformation:DescribeStacks" not in check["detail"]  # allowed
    solve = finding(report, "permissions.solve")
    assert solve["level"] == "problem"
    for action in ("cloudformation:CreateStack", "iam:PassRole", "lambda:CreateFunction", "config:PutConfigRule"):
        assert action in solve["detail"]
    assert finding(report, "cloudtrail")["level"] == "problem"
    assert "cloudtrail:LookupEvents" in finding(report, "cloudtrail")["fix"]

    text = as_identity(fresh_server, narrow, monkeypatch, "doctor")
    assert text.code == 1
    assert text.out.splitlines()[-1].endswith("the lab cannot run here as it is (fix each problem)")


def test_read_only_identity_may_check_but_not_solve(
    fresh_server: Endpoint, local_env: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, student = create_user(fresh_server, managed=(READ_ONLY,))
    result = as_identity(fresh_server, student, monkeypatch, "doctor", "--format", "json")
    report = json.loads(result.out)
    assert result.code == 1
    assert finding(report, "permissions.check")["level"] == "ok"
    solve = finding(report, "permissions.solve")
    assert solve["level"] == "problem" and "cloudformation:CreateStack" in solve["detail"]
    assert "cloudformation:DescribeStacks" not in solve["detail"]
    assert finding(report, "cloudtrail")["level"] == "ok"


def test_a_refused_simulator_is_a_warn(
    fresh_server: Endpoint, local_env: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, blind = create_user(fresh_server, allow("s3:ListAllMyBuckets"))
    report = json.loads(as_identity(fresh_server, blind, monkeypatch, "doctor", "--format", "json").out)
    simulated = finding(report, "permissions")
    assert simulated["level"] == "warn"
    assert "policy simulator refused" in simulated["detail"] and "iam:SimulatePrincipalPolicy" in simulated["detail"]


def test_assumed_role_is_simulated_as_its_role(fresh_server: Endpoint, local_env: Endpoint) -> None:
    """A class account reached through OrganizationAccountAccessRole (an assumed role)."""
    report = diagnose(local_context(fresh_server, account="555555555555"))
    found = {f.id: f for f in report.findings}
    assert ":assumed-role/OrganizationAccountAccessRole/" in report.caller
    assert found["permissions.solve"].level == "ok"
    assert "arn:aws:iam::555555555555:role/OrganizationAccountAccessRole" in found["permissions.solve"].detail


def test_region_without_the_managed_rules_is_a_problem(fresh_server: Endpoint, local_env: Endpoint) -> None:
    code, report = doctor_json("--region", "ap-southeast-7")
    assert code == 1
    region = finding(report, "region")
    assert region["level"] == "problem" and "s3-bucket-logging-enabled" in region["detail"]
    assert "config.recorder" not in levels(report)  # said once, by the region


def test_doctor_refuses_other_formats(local_env: Endpoint) -> None:
    result = cli("doctor", "--format", "junit")
    assert result.code == 2 and result.out == ""
    assert result.err.strip() == "labrunner: doctor writes --format text or json, not junit"


def test_output_file_gets_the_report(fresh_server: Endpoint, local_env: Endpoint, tmp_path: Path) -> None:
    target = tmp_path / "doctor.json"
    result = cli("doctor", "--format", "json", "--output", str(target))
    assert (result.code, result.out) == (0, "")
    assert json.loads(target.read_text())["schema"] == "labrunner.doctor/v1"
    missing = cli("doctor", "--output", str(tmp_path / "no-such-dir" / "x.txt"))
    assert missing.code == 2 and "does not exist" in missing.err
