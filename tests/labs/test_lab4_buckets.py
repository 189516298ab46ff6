"""Lab 4's buckets by what they are: a student's demo bucket of any name, and compliance judged as
AWS's managed rules define it — by the grader and by the local Config alike (hand-made buckets)."""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta
from typing import Any

import pytest

from labrunner.aws import lab_buckets
from labrunner.aws.config import ENCRYPTION_RULE, LOGGING_RULE, ConfigRule, bucket_view
from labrunner.aws.demo_bucket import students_demo_bucket
from labrunner.context import Context
from labrunner.local.admin import make_legacy_unencrypted_bucket
from labrunner.model import Status
from labs.lab4_config import demo_search
from tests.helpers import run, statuses, step

SETUP = ["lab4.recorder", "lab4.rules"]
LOGGING = LOGGING_RULE.name
ENCRYPTION = ENCRYPTION_RULE.name


def verdicts(ctx: Context, rule: str) -> dict[str, str]:
    rows = ctx.client("config").get_compliance_details_by_config_rule(ConfigRuleName=rule)["EvaluationResults"]
    return {
        r["EvaluationResultIdentifier"]["EvaluationResultQualifier"]["ResourceId"]: r["ComplianceType"] for r in rows
    }


def wait_for_verdicts(ctx: Context, rule: str, buckets: list[str], deadline_s: float = 30) -> dict[str, str]:
    """Poll Config (as a student refreshing the console) until it has judged every bucket."""
    end = time.monotonic() + deadline_s
    while True:
        found = verdicts(ctx, rule)
        if all(b in found for b in buckets):
            return found
        assert time.monotonic() < end, f"{rule}: no verdict on {set(buckets) - set(found)} after {deadline_s} s"
        time.sleep(0.2)


def recorded(ctx: Context, bucket: str, deadline_s: float = 30) -> None:
    end = time.monotonic() + deadline_s
    while True:
        try:
            items = ctx.client("config").get_resource_config_history(resourceType="AWS::S3::Bucket", resourceId=bucket)
            if items["configurationItems"]:
                return
        except ctx.client("config").exceptions.ResourceNotDiscoveredException:
            pass
        assert time.monotonic() < end, f"Config never recorded {bucket}"
        time.sleep(0.2)


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def deny_put(bucket: str, condition: dict[str, Any], *, resource: str | None = None) -> dict[str, Any]:
    return {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": resource or f"arn:aws:s3:::{bucket}/*",
        "Condition": condition,
    }


NO_HEADER = {"Null": {"s3:x-amz-server-side-encryption": "true"}}
NOT_SSE = {"StringNotEquals": {"s3:x-amz-server-side-encryption": ["AES256", "aws:kms"]}}

# Hand-made buckets, and what the AWS Config Developer Guide's rule pages say of each:
# s3-bucket-server-side-encryption-enabled: "either has the Amazon S3 default encryption enabled or
# [...] the bucket policy explicitly denies put-object requests without server side encryption";
# s3-bucket-logging-enabled: "NON_COMPLIANT if logging is not enabled".
# name: (legacy: no default encryption, policy statements, logs?, encryption verdict, logging verdict)
CASES: dict[str, tuple[bool, list[dict[str, Any]], bool, str, str]] = {
    "rules-default-encryption": (False, [], False, "COMPLIANT", "NON_COMPLIANT"),
    "rules-legacy-bare": (True, [], False, "NON_COMPLIANT", "NON_COMPLIANT"),
    "rules-deny-no-header": (True, [deny_put("rules-deny-no-header", NO_HEADER)], True, "COMPLIANT", "COMPLIANT"),
    "rules-deny-not-sse": (True, [deny_put("rules-deny-not-sse", NOT_SSE)], False, "COMPLIANT", "NON_COMPLIANT"),
    "rules-deny-elsewhere": (
        True,
        [deny_put("rules-deny-elsewhere", NO_HEADER, resource="arn:aws:s3:::some-other-bucket/*")],
        False,
        "NON_COMPLIANT",
        "NON_COMPLIANT",
    ),
    "rules-deny-get": (
        True,
        [{**deny_put("rules-deny-get", NO_HEADER), "Action": "s3:GetObject"}],
        False,
        "NON_COMPLIANT",
        "NON_COMPLIANT",
    ),
}  # fmt: skip


def test_grader_and_local_config_judge_hand_made_buckets_as_the_rule_pages_say(deployed: Context) -> None:
    ctx = deployed
    assert statuses(run(ctx, "solve", SETUP)) == dict.fromkeys(SETUP, Status.PASS)
    s3 = ctx.client("s3")
    s3.create_bucket(Bucket="rules-log-target")
    for name, (legacy, statements, logs, _, _) in CASES.items():
        s3.create_bucket(Bucket=name)
        if legacy:
            make_legacy_unencrypted_bucket(ctx.target.endpoint_url or "", name)
        if statements:
            s3.put_bucket_policy(Bucket=name, Policy=policy(*statements))
        if logs:
            s3.put_bucket_logging(
                Bucket=name,
                BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": "rules-log-target", "TargetPrefix": "x/"}},
            )
    for name in CASES:
        recorded(ctx, name)
    ctx.client("config").start_config_rules_evaluation(ConfigRuleNames=[LOGGING, ENCRYPTION])
    local = {rule: wait_for_verdicts(ctx, rule, list(CASES)) for rule in (LOGGING, ENCRYPTION)}
    rules = {
        spec.name: ConfigRule(spec.name, "AWS", spec.source_identifier, "ACTIVE", ("AWS::S3::Bucket",))
        for spec in (LOGGING_RULE, ENCRYPTION_RULE)
    }
    for name, (_, _, _, encryption, logging) in CASES.items():
        view = bucket_view(s3, name)
        # The local Config, as the rule page defines it ...
        assert local[ENCRYPTION][name] == encryption, name
        assert local[LOGGING][name] == logging, name
        # ... and the grader reach the same verdict.
        assert view.expected(rules[ENCRYPTION]) == encryption, name
        assert view.expected(rules[LOGGING]) == logging, name


def test_a_demo_bucket_encrypted_only_by_its_policy_passes_remediated(deployed: Context) -> None:
    """Such a bucket is COMPLIANT with the encryption rule on AWS: the grader must not wait forever."""
    ctx = deployed
    assert (
        statuses(run(ctx, "solve", [*SETUP, "lab4.noncompliance", "lab4.remediated"]))["lab4.remediated"] is Status.PASS
    )
    demo = lab_buckets.find(ctx.client("s3"), lab_buckets.DEMO, ctx)
    assert demo is not None
    make_legacy_unencrypted_bucket(ctx.target.endpoint_url or "", demo)
    ctx.client("s3").put_bucket_policy(Bucket=demo, Policy=policy(deny_put(demo, NO_HEADER)))
    recorded_after = time.monotonic()
    ctx.client("config").start_config_rules_evaluation(ConfigRuleNames=[ENCRYPTION])
    end = recorded_after + 30
    while True:
        report = run(ctx, "check", ["lab4.remediated"])
        if statuses(report)["lab4.remediated"] is not Status.PENDING or time.monotonic() > end:
            break
        time.sleep(0.3)
    assert statuses(report)["lab4.remediated"] is Status.PASS, step(report, "lab4.remediated").checks
    detail = next(c.detail for c in step(report, "lab4.remediated").checks if c.name == f"{demo} vs {ENCRYPTION}")
    assert "bucket policy denies uploads without server-side encryption" in detail


# -- the demo bucket, found by what it is -----------------------------------------------------
def demo_checks(ctx: Context) -> dict[str, str]:
    report = run(ctx, "check", ["lab4.remediated"])
    return {c.name: c.detail for c in step(report, "lab4.remediated").checks}


def test_a_students_demo_bucket_of_any_name_is_found_and_nothing_else_is(ctx: Context) -> None:
    s3 = ctx.client("s3")
    s3.create_bucket(Bucket="older-team-data")  # made before the lab's stack: not the demo
    time.sleep(1.1)  # bucket creation dates have a second's resolution
    report = run(ctx, "solve", ["setup", *SETUP])
    assert statuses(report)["lab4.rules"] is Status.PASS, report
    ctx.refresh()
    upload = ctx.workload().bucket
    # Things that are not a demo bucket, made after the stack.
    s3.create_bucket(Bucket="cf-templates-1a2b3c4d5e6f-us-east-1")  # the CloudFormation console's
    s3.create_bucket(Bucket="my-access-logs")  # lab 2 by hand: the upload bucket logs here
    s3.put_bucket_logging(
        Bucket=upload, BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": "my-access-logs", "TargetPrefix": ""}}
    )
    other_stack = {"Resources": {"Data": {"Type": "AWS::S3::Bucket"}}}
    ctx.client("cloudformation").create_stack(StackName="someone-else", TemplateBody=json.dumps(other_stack))
    waiter = ctx.client("cloudformation").get_waiter("stack_create_complete")
    waiter.wait(StackName="someone-else", WaiterConfig={"Delay": 1})
    for bucket in ("cf-templates-1a2b3c4d5e6f-us-east-1", "my-access-logs", "older-team-data"):
        recorded(ctx, bucket)
    checks = demo_checks(ctx)
    assert "there is no demo bucket" in checks["demo bucket"], checks
    # ... and why each bucket was passed over.
    why = {p.name: p.why for p in demo_search(ctx.check_run()).passed_over}
    assert why["cf-templates-1a2b3c4d5e6f-us-east-1"] == "the CloudFormation console's template bucket"
    assert why["my-access-logs"] == f"a log bucket: {upload} logs to it"
    assert why[upload] == "a bucket of the workload's stack"
    assert [why[b] for b in why if b.startswith("someone-else-")] == [
        "a bucket of the CloudFormation stack someone-else"
    ]
    assert why["older-team-data"].startswith("made "), why
    assert "any name" in run(ctx, "check", ["lab4.remediated"]).steps[0].checks[0].hint

    # The student's own bucket, named as they like: found once Config has recorded it.
    s3.create_bucket(Bucket="alices-config-demo")
    recorded(ctx, "alices-config-demo")
    checks = demo_checks(ctx)
    assert checks["demo bucket"].startswith("alices-config-demo: your own bucket (any name will do)"), checks
    assert f"alices-config-demo vs {LOGGING}" in checks
    assert "server access logging is off" in checks[f"alices-config-demo vs {LOGGING}"]

    # solve uses it (no new immersion-config-demo-… bucket) and then everything passes.
    before = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    report = run(ctx, "solve", ["lab4.noncompliance", "lab4.remediated"])
    assert statuses(report) == {"lab4.noncompliance": Status.PASS, "lab4.remediated": Status.PASS}, report
    assert {b["Name"] for b in s3.list_buckets()["Buckets"]} == before
    assert s3.get_bucket_logging(Bucket="alices-config-demo")["LoggingEnabled"]["TargetBucket"] == "my-access-logs"


def test_a_bucket_config_has_not_recorded_is_not_taken_for_the_demo(deployed: Context) -> None:
    ctx = deployed
    assert statuses(run(ctx, "solve", SETUP)) == dict.fromkeys(SETUP, Status.PASS)
    ctx.client("config").stop_configuration_recorder(ConfigurationRecorderName="default")
    ctx.client("s3").create_bucket(Bucket="made-while-config-slept")
    detail = demo_checks(ctx)["demo bucket"]
    assert "there is no demo bucket" in detail
    assert "passed over: made-while-config-slept (AWS Config has not recorded it yet" in detail, detail


def test_a_bucket_made_in_the_stacks_second_counts_as_made_after_it(ctx: Context) -> None:
    """ListBuckets' CreationDate has whole seconds, the stack's CreationTime sub-seconds: a bucket made
    0.5 s after a stack (both in one second) shows a CreationDate 'before' it, and is still the demo."""
    assert statuses(run(ctx, "solve", SETUP)) == dict.fromkeys(SETUP, Status.PASS)
    s3, config = ctx.client("s3"), ctx.client("config")
    s3.create_bucket(Bucket="made-right-after")
    recorded(ctx, "made-right-after")
    created = next(b["CreationDate"] for b in s3.list_buckets()["Buckets"] if b["Name"] == "made-right-after")
    assert created.microsecond == 0
    since = created + timedelta(milliseconds=500)  # the stack, made in the same second just before it
    found = students_demo_bucket(s3, config, region=ctx.region, since=since, not_these=[])
    assert found.bucket == "made-right-after", found
    later = students_demo_bucket(s3, config, region=ctx.region, since=created + timedelta(seconds=1), not_these=[])
    why = {p.name: p.why for p in later.passed_over}
    assert later.bucket is None and why["made-right-after"].startswith("made "), later


def test_a_bucket_older_than_the_stack_is_passed_over_with_both_times(ctx: Context) -> None:
    ctx.client("s3").create_bucket(Bucket="older-team-data")
    time.sleep(1.1)  # bucket creation dates have a second's resolution
    assert statuses(run(ctx, "solve", ["setup", *SETUP]))["lab4.rules"] is Status.PASS
    ctx.refresh()
    recorded(ctx, "older-team-data")
    detail = demo_checks(ctx)["demo bucket"]
    assert re.search(r"older-team-data \(made \S+ \S+ UTC, before the stack \(\S+ \S+ UTC\)\)", detail), detail


def test_solves_tagged_demo_bucket_comes_before_a_newer_bucket(deployed: Context) -> None:
    ctx = deployed
    report = run(ctx, "solve", [*SETUP, "lab4.noncompliance"])
    assert statuses(report)["lab4.noncompliance"] is Status.PASS, report
    ctx.client("s3").create_bucket(Bucket="zz-newer-bucket")
    recorded(ctx, "zz-newer-bucket")
    checks = demo_checks(ctx)
    assert "made by labrunner's solve for stack immersion" in checks["demo bucket"]
    names = {name.split(" vs ")[0] for name in checks if " vs " in name}
    assert "zz-newer-bucket" not in names
    assert any(n.startswith(f"immersion-config-demo-{ctx.suffix}-") for n in names), names


@pytest.mark.parametrize("prefix", ["immersion-upload-logs-", "immersion-config-delivery-"])
def test_buckets_named_as_the_labs_others_are_never_the_demo(deployed: Context, prefix: str) -> None:
    ctx = deployed
    assert statuses(run(ctx, "solve", SETUP)) == dict.fromkeys(SETUP, Status.PASS)
    name = f"{prefix}by-hand-{ctx.account_id}"
    ctx.client("s3").create_bucket(Bucket=name)
    recorded(ctx, name)
    assert "there is no demo bucket" in demo_checks(ctx)["demo bucket"]
