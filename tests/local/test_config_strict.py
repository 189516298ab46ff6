"""AWS Config as strict as AWS (SPEC §6 items 9 to 11), driven through boto3 and the CLI:
EVALUATING while a requested evaluation runs, LimitExceededException within the minute,
evaluations of the last *recorded* configuration, and the Control Tower scenario."""

from __future__ import annotations

import json
from datetime import datetime

import boto3
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from labrunner.local import admin, faults
from labrunner.local.lifecycle import Endpoint
from tests.helpers import cli
from tests.local.config_support import (
    ACCOUNT,
    ENCRYPTION,
    LOGGING,
    REGION,
    S3_BUCKET,
    Aws,
    clients,
    code_of,
    enable_logging,
    make_log_bucket,
    put_lab_rules,
    setup_config,
    verdicts,
    wait_for,
)

SCENARIO_ACCOUNT = "210987654321"


@pytest.fixture
def aws(fresh_server: Endpoint, admin_session: boto3.Session) -> Aws:
    return clients(admin_session, fresh_server, ACCOUNT)


def once(aws: Aws) -> object:
    """A Config client that does not retry (botocore retries LimitExceededException as throttling)."""
    return boto3.client(
        "config",
        endpoint_url=aws.endpoint.url,
        region_name=REGION,
        aws_access_key_id=aws.endpoint.access_key,
        aws_secret_access_key=aws.endpoint.secret_key,
        config=BotoConfig(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def rule_state(aws: Aws, name: str) -> str:
    return str(aws.config.describe_config_rules(ConfigRuleNames=[name])["ConfigRules"][0]["ConfigRuleState"])


def test_a_requested_evaluation_is_evaluating_until_it_finishes(aws: Aws) -> None:
    setup_config(aws)
    aws.s3.create_bucket(Bucket="demo-bucket")
    put_lab_rules(aws)
    assert rule_state(aws, LOGGING) == "ACTIVE"
    admin.set_config_evaluation_delay(aws.endpoint.url, 1.0)
    aws.config.start_config_rules_evaluation(ConfigRuleNames=[LOGGING])
    assert rule_state(aws, LOGGING) == "EVALUATING"
    assert rule_state(aws, ENCRYPTION) == "ACTIVE"  # only the rules asked for
    wait_for(lambda: rule_state(aws, LOGGING) == "ACTIVE", timeout=10)
    status = aws.config.describe_config_rule_evaluation_status(ConfigRuleNames=[LOGGING])
    assert status["ConfigRulesEvaluationStatus"][0]["FirstEvaluationStarted"] is True


def test_a_second_request_within_the_minute_is_refused(aws: Aws) -> None:
    setup_config(aws)
    aws.s3.create_bucket(Bucket="demo-bucket")
    put_lab_rules(aws)
    client = once(aws)
    client.start_config_rules_evaluation(ConfigRuleNames=[LOGGING])  # type: ignore[attr-defined]
    assert rule_state(aws, LOGGING) == "ACTIVE"  # no evaluation delay: it has finished already
    with pytest.raises(ClientError) as exc:
        client.start_config_rules_evaluation(ConfigRuleNames=[LOGGING])  # type: ignore[attr-defined]
    assert code_of(exc) == "LimitExceededException"
    # The minute is per rule: another rule may still be asked for.
    client.start_config_rules_evaluation(ConfigRuleNames=[ENCRYPTION])  # type: ignore[attr-defined]


def test_an_evaluation_judges_the_last_recorded_configuration(aws: Aws) -> None:
    setup_config(aws)
    make_log_bucket(aws)
    aws.s3.create_bucket(Bucket="demo-bucket")
    put_lab_rules(aws)
    assert verdicts(aws, LOGGING)["demo-bucket"] == "NON_COMPLIANT"
    first = aws.config.get_resource_config_history(resourceType=S3_BUCKET, resourceId="demo-bucket")
    captured: datetime = first["configurationItems"][0]["configurationItemCaptureTime"]

    faults.configure(aws.endpoint.url, config_recording_delay_s=2)
    enable_logging(aws, "demo-bucket")
    # Not recorded yet: the history and an on-demand evaluation still see the bucket without logging.
    latest = aws.config.get_resource_config_history(resourceType=S3_BUCKET, resourceId="demo-bucket", limit=1)
    assert latest["configurationItems"][0]["configurationItemCaptureTime"] == captured
    assert json.loads(latest["configurationItems"][0]["supplementaryConfiguration"]["BucketLoggingConfiguration"]) == {}
    aws.config.start_config_rules_evaluation(ConfigRuleNames=[LOGGING])
    assert verdicts(aws, LOGGING)["demo-bucket"] == "NON_COMPLIANT"

    # Recorded later; the change-triggered rule then judges the new configuration.
    wait_for(lambda: verdicts(aws, LOGGING)["demo-bucket"] == "COMPLIANT", timeout=10)
    history = aws.config.get_resource_config_history(resourceType=S3_BUCKET, resourceId="demo-bucket")
    items = history["configurationItems"]
    assert len(items) == 2 and items[0]["configurationItemCaptureTime"] > captured
    logging = json.loads(items[0]["supplementaryConfiguration"]["BucketLoggingConfiguration"])
    assert logging["destinationBucketName"] == "config-test-access-logs"


def test_a_bucket_never_recorded_is_not_discovered(aws: Aws) -> None:
    faults.configure(aws.endpoint.url, config_recording_delay_s=30)
    setup_config(aws)
    aws.s3.create_bucket(Bucket="fresh-bucket")
    with pytest.raises(ClientError) as exc:
        aws.config.get_resource_config_history(resourceType=S3_BUCKET, resourceId="fresh-bucket")
    assert code_of(exc) == "ResourceNotDiscoveredException"


def test_control_tower_scenario(fresh_server: Endpoint, admin_session: boto3.Session, local_env: Endpoint) -> None:
    result = cli("local", "scenario", "control-tower", "--account", SCENARIO_ACCOUNT)
    assert result.code == 0, result
    # The admin acts in the member account through the organization's role, as a student would.
    role = f"arn:aws:iam::{SCENARIO_ACCOUNT}:role/OrganizationAccountAccessRole"
    creds = admin_session.client("sts", endpoint_url=fresh_server.url).assume_role(
        RoleArn=role, RoleSessionName="student", DurationSeconds=3600
    )["Credentials"]
    session = boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=REGION,
    )
    member = clients(session, fresh_server, SCENARIO_ACCOUNT)
    recorder = member.config.describe_configuration_recorders()["ConfigurationRecorders"][0]
    assert recorder["recordingGroup"]["allSupported"] is True
    status = member.config.describe_configuration_recorder_status()["ConfigurationRecordersStatus"][0]
    assert status["recording"] is True
    channel = member.config.describe_delivery_channels()["DeliveryChannels"][0]
    assert SCENARIO_ACCOUNT not in channel["s3BucketName"]
    with pytest.raises(ClientError) as exc:
        member.s3.head_bucket(Bucket=channel["s3BucketName"])
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    rules = member.config.describe_config_rules()["ConfigRules"]
    by_source = {r["Source"]["SourceIdentifier"]: r for r in rules}
    for identifier in ("S3_BUCKET_LOGGING_ENABLED", "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED"):
        assert by_source[identifier]["CreatedBy"] == "securityhub.amazonaws.com"
        assert by_source[identifier]["ConfigRuleName"].startswith("securityhub-s3-bucket-")
    # Security Hub's rules evaluate like any managed rule; clients cannot make such rules themselves.
    member.s3.create_bucket(Bucket="member-bucket")
    logging_rule = by_source["S3_BUCKET_LOGGING_ENABLED"]["ConfigRuleName"]
    wait_for(lambda: verdicts(member, logging_rule).get("member-bucket") == "NON_COMPLIANT")
    with pytest.raises(ClientError):
        member.config.put_config_rule(
            ConfigRule={
                "ConfigRuleName": "x",
                "CreatedBy": "securityhub.amazonaws.com",
                "Source": {"Owner": "AWS", "SourceIdentifier": "S3_BUCKET_LOGGING_ENABLED"},
            }
        )
    # Idempotent: a second run adds nothing.
    assert cli("local", "scenario", "control-tower", "--account", SCENARIO_ACCOUNT).code == 0
    assert len(member.config.describe_config_rules()["ConfigRules"]) == len(rules)


@pytest.mark.parametrize(
    "args", [("scenario", "control-tower", "--account", "12"), ("scenario", "lake-formation"), ("scenario",)]
)
def test_bad_scenario_input_is_one_line_and_exit_2(local_env: Endpoint, args: tuple[str, ...]) -> None:
    result = cli("local", *args)
    assert result.code == 2, result
    assert len(result.err.strip().splitlines()) == 1 and "Traceback" not in result.err


def test_the_request_window_scales_with_the_time_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    from labrunner.local.awsconfig import api

    monkeypatch.setenv("LABRUNNER_LOCAL_TIME_SCALE", "0.01")
    assert api.request_window_s() == pytest.approx(0.6)
    monkeypatch.delenv("LABRUNNER_LOCAL_TIME_SCALE")
    assert api.request_window_s() == 60.0
