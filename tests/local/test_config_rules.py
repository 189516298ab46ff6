"""AWS Config rule evaluation against the buckets' real settings (fidelity/config_rules.py).

Error codes checked here are AWS's: NoSuchConfigRuleException for a rule that does not exist
(every compliance call), NoAvailableConfigurationRecorderException for PutConfigRule without a
recorder, LimitExceededException for a second StartConfigRulesEvaluation of a rule still being
evaluated, InvalidNextTokenException for a bad NextToken.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from labrunner.local import admin
from tests.local.config_support import (
    ACCOUNT,
    DELIVERY_BUCKET,
    ENCRYPTION,
    LOG_BUCKET,
    LOGGING,
    OTHER_ACCOUNT,
    REGION,
    S3_BUCKET,
    Aws,
    aws,
    clients,
    code_of,
    enable_logging,
    make_log_bucket,
    put_lab_rules,
    put_rule,
    rule_compliance,
    setup_config,
    verdicts,
    wait_for,
)

__all__ = ["aws"]  # the fixture


def test_put_config_rule_needs_a_recorder(aws: Aws) -> None:
    with pytest.raises(ClientError) as exc:
        put_rule(aws, LOGGING, "S3_BUCKET_LOGGING_ENABLED")
    assert code_of(exc) == "NoAvailableConfigurationRecorderException"


def test_bucket_without_logging_is_noncompliant_until_logging_is_set(aws: Aws) -> None:
    setup_config(aws)
    aws.s3.create_bucket(Bucket="demo-bucket")
    make_log_bucket(aws)
    put_lab_rules(aws)
    assert verdicts(aws, LOGGING) == {
        "demo-bucket": "NON_COMPLIANT",
        LOG_BUCKET: "NON_COMPLIANT",
        DELIVERY_BUCKET: "NON_COMPLIANT",
    }
    assert rule_compliance(aws, LOGGING) == "NON_COMPLIANT"

    enable_logging(aws, "demo-bucket")  # re-evaluated by itself: a configuration-change rule
    assert verdicts(aws, LOGGING)["demo-bucket"] == "COMPLIANT"
    assert verdicts(aws, LOGGING)[LOG_BUCKET] == "NON_COMPLIANT"

    aws.s3.put_bucket_logging(Bucket="demo-bucket", BucketLoggingStatus={})
    assert verdicts(aws, LOGGING)["demo-bucket"] == "NON_COMPLIANT"


def test_start_config_rules_evaluation_invokes_the_rule_again(aws: Aws) -> None:
    setup_config(aws)
    aws.s3.create_bucket(Bucket="demo-bucket")
    make_log_bucket(aws)
    put_lab_rules(aws)
    enable_logging(aws, "demo-bucket")
    before = aws.config.describe_config_rule_evaluation_status(ConfigRuleNames=[LOGGING])
    first = before["ConfigRulesEvaluationStatus"][0]["LastSuccessfulInvocationTime"]
    time.sleep(0.02)
    asked = datetime.now(UTC) - timedelta(milliseconds=5)
    assert aws.config.start_config_rules_evaluation(ConfigRuleNames=[LOGGING, ENCRYPTION])["ResponseMetadata"]
    status = aws.config.describe_config_rule_evaluation_status(ConfigRuleNames=[LOGGING])
    assert status["ConfigRulesEvaluationStatus"][0]["LastSuccessfulInvocationTime"] > first
    results = aws.config.get_compliance_details_by_config_rule(ConfigRuleName=LOGGING, ComplianceTypes=["COMPLIANT"])[
        "EvaluationResults"
    ]
    assert [r["EvaluationResultIdentifier"]["EvaluationResultQualifier"]["ResourceId"] for r in results] == [
        "demo-bucket"
    ]
    assert results[0]["ConfigRuleInvokedTime"] >= asked
    assert results[0]["ResultRecordedTime"] >= results[0]["ConfigRuleInvokedTime"]
    assert results[0]["EvaluationResultIdentifier"]["EvaluationResultQualifier"]["EvaluationMode"] == "DETECTIVE"


def test_evaluation_with_a_delay_is_asynchronous(aws: Aws) -> None:
    setup_config(aws)
    aws.s3.create_bucket(Bucket="demo-bucket")
    make_log_bucket(aws)
    admin.set_config_evaluation_delay(aws.endpoint.url, 0.5)
    put_lab_rules(aws)
    # Not evaluated yet: no results, INSUFFICIENT_DATA, FirstEvaluationStarted false.
    assert rule_compliance(aws, LOGGING) == "INSUFFICIENT_DATA"
    status = aws.config.describe_config_rule_evaluation_status(ConfigRuleNames=[LOGGING])
    assert status["ConfigRulesEvaluationStatus"][0]["FirstEvaluationStarted"] is False
    assert "FirstActivatedTime" in status["ConfigRulesEvaluationStatus"][0]
    wait_for(lambda: rule_compliance(aws, LOGGING) == "NON_COMPLIANT")

    enable_logging(aws, "demo-bucket")
    assert verdicts(aws, LOGGING)["demo-bucket"] == "NON_COMPLIANT"  # still the old verdict
    wait_for(lambda: verdicts(aws, LOGGING)["demo-bucket"] == "COMPLIANT")

    # botocore retries LimitExceededException as throttling: ask once, without retries.
    once = boto3.client(
        "config",
        endpoint_url=aws.endpoint.url,
        region_name=REGION,
        aws_access_key_id=aws.endpoint.access_key,
        aws_secret_access_key=aws.endpoint.secret_key,
        config=BotoConfig(retries={"total_max_attempts": 1, "mode": "standard"}),
    )
    once.start_config_rules_evaluation(ConfigRuleNames=[LOGGING])
    with pytest.raises(ClientError) as exc:
        once.start_config_rules_evaluation(ConfigRuleNames=[LOGGING])
    assert code_of(exc) == "LimitExceededException"
    status = aws.config.describe_config_rule_evaluation_status(ConfigRuleNames=[LOGGING])
    assert status["ConfigRulesEvaluationStatus"][0]["FirstEvaluationStarted"] is True


def test_encryption_rule_is_compliant_for_every_new_bucket(aws: Aws) -> None:
    setup_config(aws)
    for name in ("new-bucket-a", "new-bucket-b"):
        aws.s3.create_bucket(Bucket=name)
    put_lab_rules(aws)
    found = verdicts(aws, ENCRYPTION)
    assert found == {"new-bucket-a": "COMPLIANT", "new-bucket-b": "COMPLIANT", DELIVERY_BUCKET: "COMPLIANT"}
    assert rule_compliance(aws, ENCRYPTION) == "COMPLIANT"


def test_encryption_rule_judges_a_pre_2023_bucket(aws: Aws) -> None:
    setup_config(aws)
    aws.s3.create_bucket(Bucket="old-bucket")
    put_lab_rules(aws)
    admin.make_legacy_unencrypted_bucket(aws.endpoint.url, "old-bucket")
    assert verdicts(aws, ENCRYPTION)["old-bucket"] == "NON_COMPLIANT"
    deny_unencrypted = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": "arn:aws:s3:::old-bucket/*",
                "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "AES256"}},
            }
        ],
    }
    aws.s3.put_bucket_policy(Bucket="old-bucket", Policy=json.dumps(deny_unencrypted))
    assert verdicts(aws, ENCRYPTION)["old-bucket"] == "COMPLIANT"  # the policy alternative
    aws.s3.delete_bucket_policy(Bucket="old-bucket")
    assert verdicts(aws, ENCRYPTION)["old-bucket"] == "NON_COMPLIANT"
    aws.s3.put_bucket_encryption(
        Bucket="old-bucket",
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
        },
    )
    assert verdicts(aws, ENCRYPTION)["old-bucket"] == "COMPLIANT"


def test_stopped_recorder_records_nothing_new(aws: Aws) -> None:
    setup_config(aws)
    aws.s3.create_bucket(Bucket="demo-bucket")
    make_log_bucket(aws)
    put_lab_rules(aws)
    aws.config.stop_configuration_recorder(ConfigurationRecorderName="default")
    assert aws.config.describe_configuration_recorder_status()["ConfigurationRecordersStatus"][0]["recording"] is False
    aws.s3.create_bucket(Bucket="unrecorded-bucket")
    enable_logging(aws, "demo-bucket")
    assert "unrecorded-bucket" not in verdicts(aws, LOGGING)
    assert verdicts(aws, LOGGING)["demo-bucket"] == "NON_COMPLIANT"
    # A manual evaluation judges what was recorded, not the live bucket.
    aws.config.start_config_rules_evaluation(ConfigRuleNames=[LOGGING])
    assert verdicts(aws, LOGGING)["demo-bucket"] == "NON_COMPLIANT"
    assert "unrecorded-bucket" not in verdicts(aws, LOGGING)

    aws.config.start_configuration_recorder(ConfigurationRecorderName="default")
    assert verdicts(aws, LOGGING)["demo-bucket"] == "COMPLIANT"
    assert verdicts(aws, LOGGING)["unrecorded-bucket"] == "NON_COMPLIANT"


def test_recorder_recording_all_supported_types(aws: Aws) -> None:
    setup_config(aws, recording_group={"allSupported": True, "includeGlobalResourceTypes": True})
    aws.s3.create_bucket(Bucket="demo-bucket")
    put_lab_rules(aws)
    assert verdicts(aws, LOGGING)["demo-bucket"] == "NON_COMPLIANT"
    assert verdicts(aws, ENCRYPTION)["demo-bucket"] == "COMPLIANT"


def test_recorder_not_recording_buckets_gives_no_evaluations(aws: Aws) -> None:
    setup_config(aws, recording_group={"allSupported": False, "resourceTypes": ["AWS::IAM::Role"]})
    aws.s3.create_bucket(Bucket="demo-bucket")
    put_lab_rules(aws)
    assert verdicts(aws, LOGGING) == {}
    assert rule_compliance(aws, LOGGING) == "INSUFFICIENT_DATA"


def test_deleted_rule_is_gone_from_every_compliance_call(aws: Aws) -> None:
    setup_config(aws)
    aws.s3.create_bucket(Bucket="demo-bucket")
    put_lab_rules(aws)
    aws.config.delete_config_rule(ConfigRuleName=LOGGING)
    calls: list[Callable[[], Any]] = [
        lambda: aws.config.describe_compliance_by_config_rule(ConfigRuleNames=[LOGGING]),
        lambda: aws.config.get_compliance_details_by_config_rule(ConfigRuleName=LOGGING),
        lambda: aws.config.describe_config_rule_evaluation_status(ConfigRuleNames=[LOGGING]),
        lambda: aws.config.start_config_rules_evaluation(ConfigRuleNames=[LOGGING]),
    ]
    for call in calls:
        with pytest.raises(ClientError) as exc:
            call()
        assert code_of(exc) == "NoSuchConfigRuleException"
    by_resource = aws.config.describe_compliance_by_resource(ResourceType=S3_BUCKET, ResourceId="demo-bucket")
    assert by_resource["ComplianceByResources"][0]["Compliance"]["ComplianceType"] == "COMPLIANT"
    # Put again under the same name: a new rule, evaluated afresh.
    put_rule(aws, LOGGING, "S3_BUCKET_LOGGING_ENABLED")
    assert verdicts(aws, LOGGING)["demo-bucket"] == "NON_COMPLIANT"


def test_deleted_bucket_disappears_from_results(aws: Aws) -> None:
    setup_config(aws)
    aws.s3.create_bucket(Bucket="short-lived")
    put_lab_rules(aws)
    assert "short-lived" in verdicts(aws, LOGGING)
    aws.s3.delete_bucket(Bucket="short-lived")
    assert "short-lived" not in verdicts(aws, LOGGING)
    assert "short-lived" not in verdicts(aws, ENCRYPTION)


def test_rule_scope_and_parameters(aws: Aws) -> None:
    setup_config(aws)
    make_log_bucket(aws)
    for name in ("scoped-a", "scoped-b"):
        aws.s3.create_bucket(Bucket=name)
    aws.s3.put_bucket_tagging(Bucket="scoped-b", Tagging={"TagSet": [{"Key": "lab", "Value": "4"}]})
    enable_logging(aws, "scoped-a", prefix="a/")
    enable_logging(aws, "scoped-b", prefix="b/")
    put_rule(
        aws,
        "one-bucket",
        "S3_BUCKET_LOGGING_ENABLED",
        Scope={"ComplianceResourceTypes": [S3_BUCKET], "ComplianceResourceId": "scoped-a"},
    )
    put_rule(aws, "tagged", "S3_BUCKET_LOGGING_ENABLED", Scope={"TagKey": "lab", "TagValue": "4"})
    put_rule(aws, "other-type", "S3_BUCKET_LOGGING_ENABLED", Scope={"ComplianceResourceTypes": ["AWS::IAM::Role"]})
    put_rule(
        aws,
        "to-prefix-a",
        "S3_BUCKET_LOGGING_ENABLED",
        InputParameters=json.dumps({"targetBucket": LOG_BUCKET, "targetPrefix": "a/"}),
    )
    assert verdicts(aws, "one-bucket") == {"scoped-a": "COMPLIANT"}
    assert verdicts(aws, "tagged") == {"scoped-b": "COMPLIANT"}
    assert verdicts(aws, "other-type") == {}
    params = verdicts(aws, "to-prefix-a")
    assert params["scoped-a"] == "COMPLIANT" and params["scoped-b"] == "NON_COMPLIANT"


def test_compliance_summaries_and_pagination(aws: Aws) -> None:
    setup_config(aws)
    names = [f"many-{i:02d}" for i in range(12)]
    for name in names:
        aws.s3.create_bucket(Bucket=name)
    put_lab_rules(aws)
    by_rule = aws.config.describe_compliance_by_config_rule()["ComplianceByConfigRules"]
    summary = {r["ConfigRuleName"]: r["Compliance"] for r in by_rule}
    assert summary[LOGGING] == {
        "ComplianceType": "NON_COMPLIANT",
        "ComplianceContributorCount": {"CappedCount": 13, "CapExceeded": False},
    }
    assert summary[ENCRYPTION] == {"ComplianceType": "COMPLIANT"}
    only = aws.config.describe_compliance_by_config_rule(ComplianceTypes=["COMPLIANT"])["ComplianceByConfigRules"]
    assert [r["ConfigRuleName"] for r in only] == [ENCRYPTION]

    pages = []
    kwargs: dict[str, Any] = {"ConfigRuleName": LOGGING, "Limit": 5}
    while True:
        page = aws.config.get_compliance_details_by_config_rule(**kwargs)
        pages.append(page["EvaluationResults"])
        if "NextToken" not in page:
            break
        kwargs["NextToken"] = page["NextToken"]
    assert [len(p) for p in pages] == [5, 5, 3]
    with pytest.raises(ClientError) as exc:
        aws.config.get_compliance_details_by_config_rule(ConfigRuleName=LOGGING, NextToken="garbage")
    assert code_of(exc) == "InvalidNextTokenException"

    resource = aws.config.describe_compliance_by_resource(ResourceType=S3_BUCKET, ResourceId="many-00")
    assert resource["ComplianceByResources"] == [
        {
            "ResourceType": S3_BUCKET,
            "ResourceId": "many-00",
            "Compliance": {
                "ComplianceType": "NON_COMPLIANT",
                "ComplianceContributorCount": {"CappedCount": 1, "CapExceeded": False},
            },
        }
    ]
    unknown = aws.config.describe_compliance_by_resource(ResourceType=S3_BUCKET, ResourceId="not-a-bucket")
    assert unknown["ComplianceByResources"][0]["Compliance"]["ComplianceType"] == "INSUFFICIENT_DATA"
    listed = aws.config.describe_compliance_by_resource(ResourceType=S3_BUCKET, Limit=100)["ComplianceByResources"]
    assert {r["ResourceId"] for r in listed} == {*names, DELIVERY_BUCKET}


def test_accounts_and_regions_are_kept_apart(aws: Aws, admin_session: boto3.Session) -> None:
    sts = admin_session.client("sts", endpoint_url=aws.endpoint.url, region_name=REGION)
    creds = sts.assume_role(
        RoleArn=f"arn:aws:iam::{OTHER_ACCOUNT}:role/OrganizationAccountAccessRole", RoleSessionName="grader"
    )["Credentials"]
    other_session = boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=REGION,
    )
    other = clients(other_session, aws.endpoint, OTHER_ACCOUNT)
    assert other_session.client("sts", endpoint_url=aws.endpoint.url).get_caller_identity()["Account"] == OTHER_ACCOUNT

    setup_config(aws)
    aws.s3.create_bucket(Bucket="first-account-bucket")
    put_lab_rules(aws)
    setup_config(other, bucket="other-delivery-bucket")
    other.s3.create_bucket(Bucket="other-account-bucket")
    put_lab_rules(other)

    assert set(verdicts(aws, LOGGING)) == {DELIVERY_BUCKET, "first-account-bucket"}
    assert set(verdicts(other, LOGGING)) == {"other-delivery-bucket", "other-account-bucket"}
    other.config.delete_config_rule(ConfigRuleName=LOGGING)
    assert rule_compliance(aws, LOGGING) == "NON_COMPLIANT"

    west = clients(admin_session, aws.endpoint, ACCOUNT, region="us-west-2")
    with pytest.raises(ClientError) as exc:
        west.config.describe_compliance_by_config_rule(ConfigRuleNames=[LOGGING])
    assert code_of(exc) == "NoSuchConfigRuleException"
