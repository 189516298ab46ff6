"""Helpers shared by the AWS Config tests: clients, setup as the console does it, verdicts."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from labrunner.local.lifecycle import Endpoint

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "111122223333"
REGION = "us-east-1"
LOGGING = "s3-bucket-logging-enabled"
ENCRYPTION = "s3-bucket-server-side-encryption-enabled"
DELIVERY_BUCKET = "config-delivery-bucket"
LOG_BUCKET = "config-test-access-logs"
S3_BUCKET = "AWS::S3::Bucket"


@dataclass(frozen=True)
class Aws:
    """Clients of one account and region of the local server."""

    s3: Any
    config: Any
    iam: Any
    account: str
    endpoint: Endpoint


def clients(session: boto3.Session, endpoint: Endpoint, account: str, region: str = REGION) -> Aws:
    def make(service: str) -> Any:
        return session.client(service, endpoint_url=endpoint.url, region_name=region)

    return Aws(make("s3"), make("config"), make("iam"), account, endpoint)


@pytest.fixture
def aws(fresh_server: Endpoint, admin_session: boto3.Session) -> Aws:
    return clients(admin_session, fresh_server, ACCOUNT)


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def delivery_policy(bucket: str, account: str) -> str:
    """The bucket policy AWS documents for a Config delivery bucket."""
    arn = f"arn:aws:s3:::{bucket}"
    same_account = {"StringEquals": {"aws:SourceAccount": account}}
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AWSConfigBucketPermissionsCheck",
                    "Effect": "Allow",
                    "Principal": {"Service": "config.amazonaws.com"},
                    "Action": "s3:GetBucketAcl",
                    "Resource": arn,
                    "Condition": same_account,
                },
                {
                    "Sid": "AWSConfigBucketDelivery",
                    "Effect": "Allow",
                    "Principal": {"Service": "config.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": f"{arn}/AWSLogs/{account}/Config/*",
                    "Condition": {
                        "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceAccount": account}
                    },
                },
            ],
        }
    )


def service_linked_role(aws: Aws) -> str:
    try:
        return str(aws.iam.create_service_linked_role(AWSServiceName="config.amazonaws.com")["Role"]["Arn"])
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "InvalidInput"
        return str(aws.iam.get_role(RoleName="AWSServiceRoleForConfig")["Role"]["Arn"])


def setup_config(aws: Aws, recording_group: dict[str, Any] | None = None, bucket: str = DELIVERY_BUCKET) -> None:
    """Recorder (service-linked role), delivery channel to an S3 bucket, recording started."""
    role_arn = service_linked_role(aws)
    aws.s3.create_bucket(Bucket=bucket)
    aws.s3.put_bucket_policy(Bucket=bucket, Policy=delivery_policy(bucket, aws.account))
    group = recording_group or {"allSupported": False, "resourceTypes": [S3_BUCKET]}
    aws.config.put_configuration_recorder(
        ConfigurationRecorder={"name": "default", "roleARN": role_arn, "recordingGroup": group}
    )
    aws.config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": bucket})
    aws.config.start_configuration_recorder(ConfigurationRecorderName="default")


def put_rule(aws: Aws, name: str, identifier: str, **extra: Any) -> None:
    aws.config.put_config_rule(
        ConfigRule={"ConfigRuleName": name, "Source": {"Owner": "AWS", "SourceIdentifier": identifier}, **extra}
    )


def put_lab_rules(aws: Aws) -> None:
    put_rule(aws, LOGGING, "S3_BUCKET_LOGGING_ENABLED", Scope={"ComplianceResourceTypes": [S3_BUCKET]})
    put_rule(aws, ENCRYPTION, "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED")


def verdicts(aws: Aws, rule: str) -> dict[str, str]:
    """Bucket -> compliance of every result of the rule, read through pagination."""
    found: dict[str, str] = {}
    kwargs: dict[str, Any] = {
        "ConfigRuleName": rule,
        "ComplianceTypes": ["COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE"],
        "Limit": 100,
    }
    while True:
        page = aws.config.get_compliance_details_by_config_rule(**kwargs)
        for result in page["EvaluationResults"]:
            qualifier = result["EvaluationResultIdentifier"]["EvaluationResultQualifier"]
            assert qualifier["ResourceType"] == S3_BUCKET and qualifier["ConfigRuleName"] == rule
            found[qualifier["ResourceId"]] = result["ComplianceType"]
        if not page.get("NextToken"):
            return found
        kwargs["NextToken"] = page["NextToken"]


def rule_compliance(aws: Aws, rule: str) -> str:
    rows = aws.config.describe_compliance_by_config_rule(ConfigRuleNames=[rule])["ComplianceByConfigRules"]
    assert [r["ConfigRuleName"] for r in rows] == [rule]
    return str(rows[0]["Compliance"]["ComplianceType"])


def make_log_bucket(aws: Aws, name: str = LOG_BUCKET) -> None:
    """A target bucket that lets the logging service write logs of any bucket of the account."""
    aws.s3.create_bucket(Bucket=name)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{name}/*",
                "Condition": {"StringEquals": {"aws:SourceAccount": aws.account}},
            }
        ],
    }
    aws.s3.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))


def enable_logging(aws: Aws, bucket: str, target: str = LOG_BUCKET, prefix: str = "") -> None:
    aws.s3.put_bucket_logging(
        Bucket=bucket, BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": prefix}}
    )


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)
