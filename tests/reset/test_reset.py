"""`labrunner reset` against the local AWS: exactly the lab's state goes, decoys of every kind stay."""

from __future__ import annotations

import io
import json
import sys
from datetime import UTC, datetime
from typing import Any

import pytest

from labrunner import paths
from labrunner.aws.cfn import wait_for_stack
from labrunner.context import Context
from labrunner.model import Report, Status, StepResult
from labrunner.reset.model import Kind, Plan, PlanItem, ResetResult
from labrunner.reset.plan import plan_reset
from tests.helpers import cli
from tests.reset import state


def reset_json(*args: str) -> tuple[int, dict[str, Any]]:
    result = cli("reset", "--format", "json", *args)
    assert result.out, result.err
    return result.code, json.loads(result.out)


def actions(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(a["type"], a["name"]): a for a in report["actions"]}


def passing_account_steps(after: dict[str, Any], account_free: list[str]) -> list[str]:
    return [s["id"] for s in after["steps"] if s["status"] == "pass" and s["id"] not in account_free]


class FakeTerminal(io.StringIO):
    """stdin as a person at a terminal who types `answer`."""

    def isatty(self) -> bool:
        return True


def test_reset_removes_the_lab_and_spares_every_decoy(deployed: Context) -> None:
    ctx = deployed
    log_bucket = state.lab2_by_solve(ctx)
    state.make_versioned_history(ctx.client("s3"), log_bucket)
    lab4 = state.lab4_by_hand(ctx)
    state.make_decoys(ctx)
    upload = ctx.workload().bucket
    log_group = ctx.workload().log_group
    decoys_before = state.decoy_view(state.snapshot(ctx))
    assert decoys_before["bucket"] and decoys_before["stack"] == "CREATE_COMPLETE" and decoys_before["role"]

    code, report = reset_json()

    assert code == 0, report["verdict"]
    assert report["schema"] == "labrunner.reset/v1"
    done = actions(report)
    for key in (
        ("stack", "immersion"),
        ("s3 bucket", upload),
        ("s3 bucket", log_bucket),
        ("s3 bucket", lab4["demo"]),
        ("s3 bucket", lab4["delivery"]),
        ("config rule", "s3-bucket-logging-enabled"),
        ("config rule", "s3-bucket-server-side-encryption-enabled"),
        ("config recorder", "default"),
        ("delivery channel", "default"),
        ("log group", log_group),
    ):
        assert done[key]["outcome"] == "deleted", (key, done.get(key))
    assert done[("config rule", state.LOOKALIKE_RULE)]["outcome"] == "kept"
    why = {(p["type"], p["name"]): p["why"] for p in report["plan"]}
    assert "lab name" in why[("s3 bucket", lab4["demo"])] or "named as" in why[("s3 bucket", lab4["demo"])]
    assert "tagged labrunner:lab=immersion" in why[("s3 bucket", log_bucket)]
    after = state.snapshot(ctx)
    assert state.decoy_view(after) == decoys_before
    for bucket in (upload, log_bucket, lab4["demo"], lab4["delivery"]):
        assert bucket not in after["buckets"]
    assert "immersion" not in after["stacks"]
    assert log_group not in after["log_groups"]
    assert not set(state.LAB_RULES) & set(after["rules"])
    assert after["recorders"] == [] and after["channels"] == []
    assert report["clean"] is True
    assert "back at the start" in report["verdict"]
    assert report["still_passing"] == []

    # The proof, as a student would see it: `check` passes no step that reads the account.
    checked = cli("check", "--format", "json")
    assert checked.code == 1
    assert passing_account_steps(json.loads(checked.out), report["not_account_state"]) == []
    assert set(report["not_account_state"]) <= {"extra.template-secure"}

    # Idempotent: a second reset finds nothing and succeeds.
    code, again = reset_json()
    assert code == 0
    assert [p for p in again["plan"] if p["delete"]] == []
    assert again["clean"] is True
    assert state.decoy_view(state.snapshot(ctx)) == decoys_before


def test_dry_run_shows_the_plan_and_changes_nothing(deployed: Context) -> None:
    log_bucket = state.lab2_by_solve(deployed)
    state.lab4_by_hand(deployed)
    state.make_decoys(deployed)
    before = state.snapshot(deployed)

    result = cli("reset", "--dry-run")

    assert result.code == 0, result.err
    assert "DELETE, WAIT" in result.out and "stack: immersion" in result.out
    assert f"s3 bucket: {log_bucket}" in result.out
    assert "dry run: nothing was changed" in result.out
    assert state.DECOY_BUCKET not in result.out and state.DECOY_TABLE not in result.out
    assert state.snapshot(deployed) == before


def test_aws_target_refuses_without_yes_off_a_terminal(deployed: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    before = state.snapshot(deployed)

    refused = cli("--target", "aws", "reset")
    assert refused.code == 2
    assert "refusing to reset" in refused.err and "--yes" in refused.err
    assert "Traceback" not in refused.err
    assert state.snapshot(deployed) == before

    monkeypatch.setattr(sys, "stdin", FakeTerminal("999999999999\n"))
    mistyped = cli("--target", "aws", "reset")
    assert mistyped.code == 2 and "cancelled" in mistyped.err
    assert state.snapshot(deployed) == before

    monkeypatch.setattr(sys, "stdin", FakeTerminal(f"{deployed.account_id}\n"))
    confirmed = cli("--target", "aws", "reset")
    assert confirmed.code == 0, confirmed.out + confirmed.err
    assert "back at the start" in confirmed.out
    assert "immersion" not in state.snapshot(deployed)["stacks"]


def test_yes_confirms_on_the_aws_target(deployed: Context) -> None:
    result = cli("--target", "aws", "reset", "--yes", "--format", "json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["target"] == "aws"
    assert "immersion" not in state.snapshot(deployed)["stacks"]


def test_a_delete_failed_stack_is_finished(deployed: Context) -> None:
    cfn = deployed.client("cloudformation")
    cfn.delete_stack(StackName="immersion")
    # The upload bucket holds the pipeline's probe file: CloudFormation cannot delete it.
    assert wait_for_stack(cfn, "immersion", lambda _m: None) == "DELETE_FAILED"
    deployed.refresh()

    code, report = reset_json()

    assert code == 0, report["verdict"]
    plan = {(p["type"], p["name"]): p for p in report["plan"]}
    assert "DELETE_FAILED" in plan[("stack", "immersion")]["why"]
    assert actions(report)[("stack", "immersion")]["outcome"] == "deleted"
    assert not [b for b in state.snapshot(deployed)["buckets"] if b.startswith("immersion-fileuploadsbucket")]


def test_leftovers_of_a_deleted_stack_are_found(deployed: Context) -> None:
    log_bucket = state.lab2_by_solve(deployed)
    log_group = deployed.workload().log_group
    s3, cfn = deployed.client("s3"), deployed.client("cloudformation")
    upload = deployed.workload().bucket
    s3.put_bucket_logging(Bucket=upload, BucketLoggingStatus={})
    for obj in s3.list_object_versions(Bucket=upload).get("Versions", []):
        s3.delete_object(Bucket=upload, Key=obj["Key"], VersionId=obj["VersionId"])
    cfn.delete_stack(StackName="immersion")
    assert wait_for_stack(cfn, "immersion", lambda _m: None) == "DELETE_COMPLETE"
    deployed.refresh()

    code, report = reset_json()

    assert code == 0, report["verdict"]
    done = actions(report)
    assert done[("s3 bucket", log_bucket)]["outcome"] == "deleted"
    assert done[("log group", log_group)]["outcome"] == "deleted"
    assert "earlier or current deployment" in {p["name"]: p["why"] for p in report["plan"]}[log_group]


def test_someone_elses_recorder_survives(ctx: Context) -> None:
    s3, config, iam = ctx.client("s3"), ctx.client("config"), ctx.client("iam")
    s3.create_bucket(Bucket="org-config-history")
    s3.put_bucket_policy(Bucket="org-config-history", Policy=state.config_delivery_policy(ctx, "org-config-history"))
    iam.create_service_linked_role(AWSServiceName="config.amazonaws.com")
    role = f"arn:aws:iam::{ctx.account_id}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"
    config.put_configuration_recorder(
        ConfigurationRecorder={"name": "default", "roleARN": role, "recordingGroup": {"allSupported": True}}
    )
    config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "org-config-history"})
    config.start_configuration_recorder(ConfigurationRecorderName="default")
    config.put_config_rule(
        ConfigRule={
            "ConfigRuleName": "s3-bucket-logging-enabled",
            "Source": {"Owner": "AWS", "SourceIdentifier": "S3_BUCKET_LOGGING_ENABLED"},
        }
    )

    code, report = reset_json()

    done = actions(report)
    assert done[("config rule", "s3-bucket-logging-enabled")]["outcome"] == "deleted"
    assert done[("config recorder", "default")]["outcome"] == "kept"
    kept_why = next(p["why"] for p in report["plan"] if p["type"] == "config recorder")
    assert "org-config-history" in kept_why and "not marked as the lab's" in kept_why
    status = config.describe_configuration_recorder_status()["ConfigurationRecordersStatus"][0]
    assert status["recording"] is True
    assert [c["name"] for c in config.describe_delivery_channels()["DeliveryChannels"]] == ["default"]
    assert "org-config-history" in state.snapshot(ctx)["buckets"]
    # The kept recorder still passes lab 4's recorder step, as it did before the lab: the account's own
    # state, not a leftover. The reset succeeds and the verdict says what passes on what.
    assert report["still_passing"] == [] and report["passing_on_kept"] == ["lab4.recorder"]
    assert code == 0 and report["clean"] is True
    assert "only lab4.recorder passes" in report["verdict"] and "config recorder default" in report["verdict"]


def test_a_recorder_step_that_passes_with_no_recorder_kept_is_a_leftover() -> None:
    """Only a kept recorder excuses lab4.recorder: with none kept (a lab recorder reset missed), not clean."""
    passing = StepResult(id="lab4.recorder", lab="lab4", title="", status=Status.PASS, controls=())
    after = Report("check", "local", "123456789012", "us-east-1", "immersion", datetime.now(UTC), 0.0, (passing,))
    kept = PlanItem(Kind.RECORDER, "default", "someone else's", delete=False)
    kept_rule = PlanItem(Kind.CONFIG_RULE, "securityhub-x", "created by securityhub.amazonaws.com", delete=False)
    for items, clean in (((kept,), True), ((kept_rule,), False), ((), False)):
        plan = Plan(target="local", account="123456789012", region="us-east-1", stack="immersion", items=items)
        assert ResetResult(plan, (), after).clean is clean, items


def test_a_log_target_is_the_labs_only_when_it_holds_nothing_else(deployed: Context) -> None:
    s3 = deployed.client("s3")
    upload = deployed.workload().bucket
    for name in ("shared-logs-with-data", "my-lab-logs"):
        s3.create_bucket(Bucket=name)
        s3.put_bucket_policy(
            Bucket=name,
            Policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "logging.s3.amazonaws.com"},
                            "Action": "s3:PutObject",
                            "Resource": f"arn:aws:s3:::{name}/*",
                        }
                    ],
                }
            ),
        )
    s3.put_object(Bucket="shared-logs-with-data", Key="finance/q3.xlsx", Body=b"numbers")
    target = {"LoggingEnabled": {"TargetBucket": "shared-logs-with-data", "TargetPrefix": "upload/"}}
    s3.put_bucket_logging(Bucket=upload, BucketLoggingStatus=target)
    s3.put_object(Bucket=upload, Key="a.txt", Body=b"a")

    plan = plan_reset(deployed)
    kept = {item.name: item for item in plan.kept}
    assert "shared-logs-with-data" in kept
    assert "finance/q3.xlsx" in kept["shared-logs-with-data"].why

    target = {"LoggingEnabled": {"TargetBucket": "my-lab-logs", "TargetPrefix": ""}}
    s3.put_bucket_logging(Bucket=upload, BucketLoggingStatus=target)
    s3.put_object(Bucket=upload, Key="b.txt", Body=b"b")
    assert s3.list_objects_v2(Bucket="my-lab-logs").get("KeyCount", 0) > 0  # access logs arrived

    code, report = reset_json()

    assert code == 0, report["verdict"]
    assert actions(report)[("s3 bucket", "my-lab-logs")]["outcome"] == "deleted"
    buckets = state.snapshot(deployed)["buckets"]
    assert "my-lab-logs" not in buckets
    assert ("finance/q3.xlsx", "null") in buckets["shared-logs-with-data"]


def test_a_failure_names_the_resource_and_code_and_the_rest_goes_on(deployed: Context) -> None:
    log_bucket = state.lab2_by_solve(deployed)
    s3 = deployed.client("s3")
    demo = f"immersion-config-demo-{deployed.suffix}"
    s3.create_bucket(Bucket=demo)
    s3.put_bucket_policy(
        Bucket=demo,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:DeleteBucket",
                        "Resource": f"arn:aws:s3:::{demo}",
                    }
                ],
            }
        ),
    )

    code, report = reset_json()

    assert code == 1
    failed = actions(report)[("s3 bucket", demo)]
    assert failed["outcome"] == "failed" and failed["code"] == "AccessDenied"
    assert demo in report["verdict"] and "AccessDenied" in report["verdict"]
    assert actions(report)[("stack", "immersion")]["outcome"] == "deleted"
    assert actions(report)[("s3 bucket", log_bucket)]["outcome"] == "deleted"


def test_text_output_has_the_plan_table_and_the_verdict(deployed: Context) -> None:
    result = cli("reset")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].startswith("reset plan for local account")
    assert any(line.strip().startswith("DELETED") and "stack: immersion" in line for line in lines)
    assert "back at the start" in lines[-1]


def test_check_after_reset_reports_every_step_unmet(deployed: Context) -> None:
    code, report = reset_json()
    assert code == 0
    statuses = {s["id"]: s["status"] for s in report["after"]["steps"]}
    assert statuses["setup.stack"] == Status.FAIL.value
    assert all(status != "pass" for status in statuses.values())


@pytest.mark.slow
def test_reset_after_solving_every_lab_leaves_a_fresh_account(deployed: Context) -> None:
    solved = cli("solve", "--format", "json")
    solved_steps = {s["id"]: s["status"] for s in json.loads(solved.out)["steps"]}
    assert solved_steps["lab4.recorder"] == "pass" and solved_steps["lab2.log-bucket"] == "pass", solved_steps
    state.make_decoys(deployed)
    decoys = state.decoy_view(state.snapshot(deployed))

    code, report = reset_json()

    assert code == 0, report["verdict"]
    assert report["clean"] is True
    kinds = {a["type"] for a in report["actions"] if a["outcome"] == "deleted"}
    assert {"stack", "s3 bucket", "config recorder", "config rule", "delivery channel", "log group"} <= kinds
    assert state.decoy_view(state.snapshot(deployed)) == decoys
    # The next class starts from here: the workload deploys again, lab names are free.
    again = cli("solve", "setup", "lab2", "--format", "json")
    assert {s["id"]: s["status"] for s in json.loads(again.out)["steps"]}["lab2.log-bucket"] == "pass"


def test_an_identity_that_cannot_look_is_refused_before_anything_changes(
    deployed: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    iam = deployed.client("iam")
    iam.create_user(UserName="half-blind")
    allowed = ["s3:*", "cloudformation:*", "logs:*", "sts:GetCallerIdentity"]  # no AWS Config
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": allowed, "Resource": "*"}]}
    iam.put_user_policy(UserName="half-blind", PolicyName="most", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="half-blind")["AccessKey"]
    before = state.snapshot(deployed)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])

    result = cli("--target", "aws", "reset", "--yes")

    assert result.code == 2
    assert "cannot find what the lab made" in result.err and "AccessDenied" in result.err
    assert "Traceback" not in result.err
    assert state.snapshot(deployed) == before


def test_a_stack_with_termination_protection_is_left_whole(ctx: Context) -> None:
    cfn, s3 = ctx.client("cloudformation"), ctx.client("s3")
    cfn.create_stack(
        StackName="immersion",
        TemplateBody=paths.template().read_text(),
        Capabilities=["CAPABILITY_IAM"],
        EnableTerminationProtection=True,
    )
    assert wait_for_stack(cfn, "immersion", lambda _m: None) == "CREATE_COMPLETE"
    ctx.refresh()
    upload = ctx.workload().bucket
    s3.put_object(Bucket=upload, Key="student-work.txt", Body=b"keep")

    code, report = reset_json()

    assert code == 1
    stack = actions(report)[("stack", "immersion")]
    assert stack["outcome"] == "failed" and "termination protection" in stack["detail"]
    assert actions(report)[("s3 bucket", upload)]["outcome"] == "failed"
    assert state.snapshot(ctx)["buckets"][upload] == [("student-work.txt", "null")]
    assert state.snapshot(ctx)["stacks"]["immersion"] == "CREATE_COMPLETE"
