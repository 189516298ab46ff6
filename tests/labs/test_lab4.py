"""Lab 4 (AWS Config watches S3): states built by hand with boto3, graded; solve end to end."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from labrunner.aws import lab_buckets
from labrunner.aws.config import delivery_bucket_policy
from labrunner.context import Context
from labrunner.local import admin, faults
from labrunner.model import Status
from tests.helpers import cli, run, statuses, step

LAB4 = ["lab4.recorder", "lab4.rules", "lab4.noncompliance", "lab4.remediated"]
LOGGING_RULE = "s3-bucket-logging-enabled"
ENCRYPTION_RULE = "s3-bucket-server-side-encryption-enabled"


def config(ctx: Context) -> Any:
    return ctx.client("config")


def demo_bucket(ctx: Context) -> str:
    """The demo bucket solve made: found by its tags (its name has a random part per deployment)."""
    found = lab_buckets.find(ctx.client("s3"), lab_buckets.DEMO, ctx)
    assert found is not None and found.startswith(f"immersion-config-demo-{ctx.suffix}-")
    return found


def log_bucket(ctx: Context) -> str:
    found = lab_buckets.find(ctx.client("s3"), lab_buckets.LOG, ctx)
    assert found is not None and found.startswith(f"immersion-upload-logs-{ctx.suffix}-")
    return found


def check(ctx: Context, ids: list[str] | None = None) -> dict[str, Status]:
    ctx.refresh()
    return statuses(run(ctx, "check", ids or LAB4))


def failing_hints(ctx: Context, step_id: str) -> list[str]:
    report = run(ctx, "check", [step_id])
    return [c.hint for c in step(report, step_id).checks if not c.passed]


def wait_for_verdict(ctx: Context, rule: str, bucket: str, verdict: str, deadline_s: float = 30) -> None:
    """Poll Config (as a student refreshing the console) until the rule's verdict on the bucket is in."""
    end = time.monotonic() + deadline_s
    while True:
        rows = config(ctx).get_compliance_details_by_config_rule(ConfigRuleName=rule)["EvaluationResults"]
        found = {
            r["EvaluationResultIdentifier"]["EvaluationResultQualifier"]["ResourceId"]: r["ComplianceType"]
            for r in rows
        }
        if found.get(bucket) == verdict:
            return
        assert time.monotonic() < end, f"{rule} on {bucket}: {found.get(bucket)} after {deadline_s} s, not {verdict}"
        time.sleep(0.2)


@pytest.fixture
def solved(deployed: Context) -> Context:
    report = run(deployed, "solve", LAB4)
    assert statuses(report) == dict.fromkeys(LAB4, Status.PASS), report
    deployed.refresh()
    return deployed


def start_recorder_by_hand(ctx: Context, recording_group: dict[str, Any]) -> None:
    """What a student clicks in the console, with a bucket of their own for the history."""
    s3 = ctx.client("s3")
    ctx.client("iam").create_service_linked_role(AWSServiceName="config.amazonaws.com")
    role = f"arn:aws:iam::{ctx.account_id}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"
    bucket = f"config-bucket-{ctx.account_id}"
    s3.create_bucket(Bucket=bucket)
    policy = delivery_bucket_policy(bucket, ctx.account_id, ctx.region)  # what the console adds
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    config(ctx).put_configuration_recorder(
        ConfigurationRecorder={"name": "default", "roleARN": role, "recordingGroup": recording_group}
    )
    config(ctx).put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": bucket})
    config(ctx).start_configuration_recorder(ConfigurationRecorderName="default")


def add_managed_rule(ctx: Context, name: str, identifier: str) -> None:
    config(ctx).put_config_rule(
        ConfigRule={
            "ConfigRuleName": name,
            "Scope": {"ComplianceResourceTypes": ["AWS::S3::Bucket"]},
            "Source": {"Owner": "AWS", "SourceIdentifier": identifier},
        }
    )


# -- nothing done yet ----------------------------------------------------------------------------
def test_fresh_workload_fails_every_step_with_hints(deployed: Context) -> None:
    assert check(deployed) == dict.fromkeys(LAB4, Status.FAIL)
    hints = failing_hints(deployed, "lab4.recorder")
    assert any("AWS Config" in h for h in hints)
    assert any(LOGGING_RULE in h for h in failing_hints(deployed, "lab4.rules"))


# -- the recorder --------------------------------------------------------------------------------
def test_recorder_recording_everything_passes(deployed: Context) -> None:
    start_recorder_by_hand(deployed, {"allSupported": True, "includeGlobalResourceTypes": False})
    report = run(deployed, "check", ["lab4.recorder"])
    assert statuses(report)["lab4.recorder"] is Status.PASS, report
    detail = next(c.detail for c in step(report, "lab4.recorder").checks if c.name == "records S3 buckets")
    assert "all supported resource types" in detail


def test_recorder_without_s3_buckets_fails(deployed: Context) -> None:
    start_recorder_by_hand(deployed, {"allSupported": False, "resourceTypes": ["AWS::DynamoDB::Table"]})
    assert check(deployed, ["lab4.recorder"])["lab4.recorder"] is Status.FAIL
    assert any("AWS::S3::Bucket" in h for h in failing_hints(deployed, "lab4.recorder"))


def test_stopped_recorder_fails(solved: Context) -> None:
    config(solved).stop_configuration_recorder(ConfigurationRecorderName="default")
    assert check(solved, ["lab4.recorder"])["lab4.recorder"] is Status.FAIL
    assert any("Start recording" in h for h in failing_hints(solved, "lab4.recorder"))


# -- the rules -----------------------------------------------------------------------------------
def test_deleted_rule_fails_rules_and_the_steps_that_need_it(solved: Context) -> None:
    config(solved).delete_config_rule(ConfigRuleName=LOGGING_RULE)
    result = check(solved)
    assert result["lab4.rules"] is Status.FAIL
    assert result["lab4.noncompliance"] is Status.FAIL
    assert result["lab4.remediated"] is Status.FAIL
    assert result["lab4.recorder"] is Status.PASS
    report = run(solved, "check", ["lab4.rules"])
    failed = [c for c in step(report, "lab4.rules").checks if not c.passed]
    assert [c.name for c in failed] == [f"rule {LOGGING_RULE}"]
    assert "S3_BUCKET_LOGGING_ENABLED" in failed[0].detail and failed[0].hint


def test_rule_with_the_labs_name_but_another_identifier_fails_named(deployed: Context) -> None:
    start_recorder_by_hand(deployed, {"allSupported": True})
    add_managed_rule(deployed, LOGGING_RULE, "S3_BUCKET_VERSIONING_ENABLED")
    add_managed_rule(deployed, ENCRYPTION_RULE, "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED")
    report = run(deployed, "check", ["lab4.rules"])
    assert statuses(report)["lab4.rules"] is Status.FAIL
    failed = [c for c in step(report, "lab4.rules").checks if not c.passed]
    assert len(failed) == 1
    assert "S3_BUCKET_VERSIONING_ENABLED" in failed[0].detail and LOGGING_RULE in failed[0].detail
    assert "Delete rule" in failed[0].hint


def test_equivalent_rules_under_other_names_pass(deployed: Context) -> None:
    start_recorder_by_hand(deployed, {"allSupported": True})
    add_managed_rule(deployed, "my-logging-check", "S3_BUCKET_LOGGING_ENABLED")
    add_managed_rule(deployed, "my-encryption-check", "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED")
    report = run(deployed, "check", ["lab4.rules"])
    assert statuses(report)["lab4.rules"] is Status.PASS, report
    details = " ".join(c.detail for c in step(report, "lab4.rules").checks)
    assert "my-logging-check" in details and f"the lab calls it {LOGGING_RULE}" in details


# -- verdicts and remediation --------------------------------------------------------------------
def test_demo_bucket_logging_switched_off_again(solved: Context) -> None:
    s3 = solved.client("s3")
    s3.put_bucket_logging(Bucket=demo_bucket(solved), BucketLoggingStatus={})
    result = check(solved, ["lab4.remediated"])
    assert result["lab4.remediated"] is Status.FAIL
    assert any("Server access logging" in h for h in failing_hints(solved, "lab4.remediated"))
    # Once Config has re-evaluated, its verdict agrees with the bucket again: the demo is flagged.
    config(solved).start_config_rules_evaluation(ConfigRuleNames=[LOGGING_RULE])
    wait_for_verdict(solved, LOGGING_RULE, demo_bucket(solved), "NON_COMPLIANT")
    report = run(solved, "check", ["lab4.noncompliance"])
    assert statuses(report)["lab4.noncompliance"] is Status.PASS, report
    flagged = next(c.detail for c in step(report, "lab4.noncompliance").checks if LOGGING_RULE in c.name)
    assert demo_bucket(solved) in flagged.split("NON_COMPLIANT")[1]


def test_stale_verdict_is_pending_while_config_re_evaluates(solved: Context) -> None:
    admin.set_config_evaluation_delay(solved.target.endpoint_url or "", 60)
    s3 = solved.client("s3")
    s3.put_bucket_logging(Bucket=demo_bucket(solved), BucketLoggingStatus={})
    config(solved).start_config_rules_evaluation(ConfigRuleNames=[LOGGING_RULE])
    report = run(solved, "check", ["lab4.noncompliance"])
    assert statuses(report)["lab4.noncompliance"] is Status.PENDING, report
    waiting = [c for c in step(report, "lab4.noncompliance").checks if c.pending]
    assert waiting and "Re-evaluate" in waiting[0].hint


def test_stale_verdict_with_recorder_stopped_fails(solved: Context) -> None:
    admin.set_config_evaluation_delay(solved.target.endpoint_url or "", 60)
    config(solved).stop_configuration_recorder(ConfigurationRecorderName="default")
    solved.client("s3").put_bucket_logging(Bucket=demo_bucket(solved), BucketLoggingStatus={})
    report = run(solved, "check", ["lab4.noncompliance"])
    assert statuses(report)["lab4.noncompliance"] is Status.FAIL, report


def test_remediated_exempts_log_buckets_and_says_so(solved: Context) -> None:
    report = run(solved, "check", ["lab4.remediated"])
    exempt = next(c.detail for c in step(report, "lab4.remediated").checks if c.name == "other buckets")
    assert log_bucket(solved) in exempt
    assert "cannot log to themselves" in exempt


# -- solve ---------------------------------------------------------------------------------------
def test_solve_is_idempotent_and_check_passes(solved: Context) -> None:
    s3 = solved.client("s3")
    buckets = sorted(b["Name"] for b in s3.list_buckets()["Buckets"])
    again = run(solved, "solve", LAB4)
    assert statuses(again) == dict.fromkeys(LAB4, Status.PASS), again
    assert {s.id: s.changed for s in again.steps} == dict.fromkeys(LAB4, False)
    # The second solve found the buckets the first one made (by their tags), it made no new ones.
    assert sorted(b["Name"] for b in s3.list_buckets()["Buckets"]) == buckets
    assert check(solved) == dict.fromkeys(LAB4, Status.PASS)
    demo = step(run(solved, "check", ["lab4.noncompliance"]), "lab4.noncompliance")
    encryption = next(c.detail for c in demo.checks if ENCRYPTION_RULE in c.name)
    assert "since January 2023" in encryption


def test_solve_when_lab2_was_skipped_creates_the_log_bucket(solved: Context) -> None:
    s3 = solved.client("s3")
    logs = log_bucket(solved)
    target = s3.get_bucket_logging(Bucket=demo_bucket(solved))["LoggingEnabled"]
    assert target["TargetBucket"] == logs
    assert s3.get_public_access_block(Bucket=logs)["PublicAccessBlockConfiguration"]["BlockPublicAcls"]


# -- real-account behaviours (issue 11) ----------------------------------------------------------
def test_check_right_after_re_evaluate_is_never_fail(solved: Context) -> None:
    """Console "Re-evaluate" leaves the rules EVALUATING for a while: they still count, stale
    verdicts are pending."""
    admin.set_config_evaluation_delay(solved.target.endpoint_url or "", 60)
    solved.client("s3").put_bucket_logging(Bucket=demo_bucket(solved), BucketLoggingStatus={})
    config(solved).start_config_rules_evaluation(ConfigRuleNames=[LOGGING_RULE, ENCRYPTION_RULE])
    states = {r["ConfigRuleName"]: r["ConfigRuleState"] for r in config(solved).describe_config_rules()["ConfigRules"]}
    assert states == {LOGGING_RULE: "EVALUATING", ENCRYPTION_RULE: "EVALUATING"}
    result = check(solved)
    assert result["lab4.rules"] is Status.PASS
    assert result["lab4.noncompliance"] is Status.PENDING  # the demo's verdict predates the change
    assert Status.FAIL not in (result["lab4.rules"], result["lab4.noncompliance"])


def test_security_hub_rules_alone_do_not_pass_lab4_rules(deployed: Context) -> None:
    result = cli("local", "scenario", "control-tower", "--account", deployed.account_id)
    assert result.code == 0, result
    report = run(deployed, "check", ["lab4.recorder", "lab4.rules"])
    assert statuses(report) == {"lab4.recorder": Status.PASS, "lab4.rules": Status.FAIL}, report
    details = " ".join(c.detail for c in step(report, "lab4.rules").checks)
    assert "securityhub-s3-bucket-logging-enabled-" in details and "securityhub.amazonaws.com" in details
    recorder = " ".join(c.detail for c in step(report, "lab4.recorder").checks)
    assert "another account" in recorder


def test_control_tower_account_solves_and_keeps_its_setup(deployed: Context) -> None:
    assert cli("local", "scenario", "control-tower", "--account", deployed.account_id).code == 0
    before_recorders = config(deployed).describe_configuration_recorders()["ConfigurationRecorders"]
    before_channels = config(deployed).describe_delivery_channels()["DeliveryChannels"]
    report = run(deployed, "solve", LAB4)
    assert statuses(report) == dict.fromkeys(LAB4, Status.PASS), report
    assert config(deployed).describe_configuration_recorders()["ConfigurationRecorders"] == before_recorders
    assert config(deployed).describe_delivery_channels()["DeliveryChannels"] == before_channels
    buckets = [b["Name"] for b in deployed.client("s3").list_buckets()["Buckets"]]
    assert not [b for b in buckets if b.startswith("immersion-config-delivery-")]  # Control Tower's channel is used
    rules = {r["ConfigRuleName"]: r.get("CreatedBy") for r in config(deployed).describe_config_rules()["ConfigRules"]}
    assert rules[LOGGING_RULE] is None and rules[ENCRYPTION_RULE] is None
    assert sum(1 for by in rules.values() if by == "securityhub.amazonaws.com") == 3
    assert check(deployed) == dict.fromkeys(LAB4, Status.PASS)
    again = run(deployed, "solve", LAB4)
    assert {s.id: s.changed for s in again.steps} == dict.fromkeys(LAB4, False)


def test_an_existing_recorder_is_extended_not_replaced(deployed: Context) -> None:
    start_recorder_by_hand(deployed, {"allSupported": False, "resourceTypes": ["AWS::EC2::Instance"]})
    report = run(deployed, "solve", ["lab4.recorder"])
    assert statuses(report) == {"lab4.recorder": Status.PASS}, report
    recorder = config(deployed).describe_configuration_recorders()["ConfigurationRecorders"][0]
    assert recorder["name"] == "default"
    assert set(recorder["recordingGroup"]["resourceTypes"]) == {"AWS::EC2::Instance", "AWS::S3::Bucket"}
    notes = " ".join(step(report, "lab4.recorder").notes)
    assert "kept the account's recorder default" in notes and "added AWS::S3::Bucket" in notes


def test_solve_waits_until_config_has_recorded_its_change(solved: Context) -> None:
    s3 = solved.client("s3")
    s3.put_bucket_logging(Bucket=demo_bucket(solved), BucketLoggingStatus={})
    wait_for_verdict(solved, LOGGING_RULE, demo_bucket(solved), "NON_COMPLIANT")
    faults.configure(solved.target.endpoint_url or "", config_recording_delay_s=3)
    started = time.monotonic()
    report = run(solved, "solve", ["lab4.remediated"])
    assert statuses(report) == {"lab4.remediated": Status.PASS}, report
    notes = " ".join(step(report, "lab4.remediated").notes)
    # It waited for the recording (then the change-triggered evaluation caught up by itself), and
    # did not spend the once-a-minute evaluation request on the old configuration.
    assert time.monotonic() - started >= 3
    assert "has not recorded" not in notes and "started an evaluation" not in notes, notes


def test_a_refused_evaluation_request_waits_for_config_to_catch_up(solved: Context) -> None:
    """The student just clicked Re-evaluate: solve's request within the minute is refused
    (LimitExceededException), and solve waits instead of failing or hammering."""
    config(solved).start_config_rules_evaluation(ConfigRuleNames=[LOGGING_RULE, ENCRYPTION_RULE])
    solved.client("s3").put_bucket_logging(Bucket=demo_bucket(solved), BucketLoggingStatus={})
    wait_for_verdict(solved, LOGGING_RULE, demo_bucket(solved), "NON_COMPLIANT")
    admin.set_config_evaluation_delay(solved.target.endpoint_url or "", 3)
    report = run(solved, "solve", ["lab4.remediated"])
    assert statuses(report) == {"lab4.remediated": Status.PASS}, report
    notes = " ".join(step(report, "lab4.remediated").notes)
    assert "less than a minute ago" in notes, notes


def test_a_region_without_the_managed_rule_gets_one_line(deployed: Context) -> None:
    result = cli("check", "--region", "mx-central-1", "--format", "json", "lab4.rules")
    steps = {s["id"]: s for s in json.loads(result.out)["steps"]}
    for step_id in ("lab4.rules",):
        checks = steps[step_id]["checks"]
        assert steps[step_id]["status"] == "fail" and len(checks) == 1, checks
        assert "no managed rule s3-bucket-logging-enabled" in checks[0]["detail"]
        assert "mx-central-1" in checks[0]["detail"]


@pytest.mark.slow
def test_a_refused_evaluation_request_is_made_again_after_the_minute(solved: Context) -> None:
    """Config refuses a second request within the minute; solve asks again once the minute is over."""
    config(solved).start_config_rules_evaluation(ConfigRuleNames=[LOGGING_RULE, ENCRYPTION_RULE])  # the student
    admin.set_config_evaluation_delay(solved.target.endpoint_url or "", 70)
    solved.client("s3").put_bucket_logging(Bucket=demo_bucket(solved), BucketLoggingStatus={})
    started = time.monotonic()
    report = run(solved, "solve", ["lab4.noncompliance"])
    assert statuses(report) == {"lab4.noncompliance": Status.PASS}, report
    notes = " ".join(step(report, "lab4.noncompliance").notes)
    assert "less than a minute ago" in notes and "started an evaluation of s3-bucket-logging-enabled" in notes, notes
    assert time.monotonic() - started >= 55
