"""`labrunner local scenario control-tower`: what AWS Control Tower and Security Hub leave in a member account.

SPEC §6 item 11. From AWS's documentation:
- AWS Control Tower User Guide, "Govern Resource Configurations with AWS Config"
  (docs.aws.amazon.com/controltower/latest/userguide/config.html), and AWS Prescriptive Guidance,
  "Managing the configuration of AWS resources" (designing-control-tower-landing-zone/config-mgmt.html):
  "AWS Control Tower enables AWS Config configuration recorders in all enrolled accounts", "set to
  continuous recording for all relevant AWS resource types", and "Each AWS Config recorder is set
  up with a delivery channel that sends all configuration changes to a centralized Amazon S3
  bucket in the Log Archive account" — another account, so HeadBucket from the member account is
  refused (403). The names are the ones Control Tower's baseline uses
  (`aws-controltower-BaselineConfigRecorder`, `aws-controltower-BaselineConfigDeliveryChannel`,
  role `aws-controltower-ConfigRecorderRole`, bucket `aws-controltower-logs-<log-archive>-<region>`).
- AWS Config Developer Guide, "Service-Linked AWS Config Rules" and API Reference, ConfigRule
  (`CreatedBy`: "Service principal name of the service that created the rule"): Security Hub's
  controls are Config rules named `securityhub-<rule>-<id>` with `CreatedBy:
  securityhub.amazonaws.com`, among them S3_BUCKET_LOGGING_ENABLED and
  S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED.
The state is made inside the server (moto refuses CreatedBy from clients, as AWS does).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

RECORDER = "aws-controltower-BaselineConfigRecorder"
CHANNEL = "aws-controltower-BaselineConfigDeliveryChannel"
RECORDER_ROLE = "aws-controltower-ConfigRecorderRole"
SECURITY_HUB = "securityhub.amazonaws.com"
LOG_ARCHIVE_ACCOUNT = "999988887777"
ORGANIZATION_PREFIX = "o-labrunner1"
SECURITY_HUB_RULES = (
    ("s3-bucket-logging-enabled", "S3_BUCKET_LOGGING_ENABLED"),
    ("s3-bucket-server-side-encryption-enabled", "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED"),
    ("s3-bucket-public-read-prohibited", "S3_BUCKET_PUBLIC_READ_PROHIBITED"),
)


def log_archive_account(account_id: str) -> str:
    return LOG_ARCHIVE_ACCOUNT if account_id != LOG_ARCHIVE_ACCOUNT else "999988887776"


def log_archive_bucket(account_id: str, region: str) -> str:
    return f"aws-controltower-logs-{log_archive_account(account_id)}-{region}"


def apply(account_id: str, region: str) -> dict[str, Any]:
    """Give the account Control Tower's recorder and channel and Security Hub's rules (idempotent)."""
    from moto.config.models import config_backends
    from moto.utilities.utils import get_partition

    from labrunner.local.awsconfig import engine

    partition = get_partition(region)
    bucket = _ensure_log_archive(account_id, region, partition)
    role_arn = _ensure_recorder_role(account_id, partition)
    backend = config_backends[account_id][region]
    if RECORDER not in backend.recorders:
        backend.put_configuration_recorder(
            {
                "name": RECORDER,
                "roleARN": role_arn,
                "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": True},
            }
        )
    if CHANNEL not in backend.delivery_channels:
        backend.put_delivery_channel({"name": CHANNEL, "s3BucketName": bucket, "s3KeyPrefix": ORGANIZATION_PREFIX})
    backend.start_configuration_recorder(RECORDER)
    rules = []
    for short, identifier in SECURITY_HUB_RULES:
        prefix = f"securityhub-{short}-"
        existing = next((n for n in backend.config_rules if str(n).startswith(prefix)), None)
        name = existing or f"securityhub-{short}-{secrets.token_hex(3)}"
        if existing is None:
            backend.put_config_rule(
                {
                    "ConfigRuleName": name,
                    "Scope": {"ComplianceResourceTypes": ["AWS::S3::Bucket"]},
                    "Source": {"Owner": "AWS", "SourceIdentifier": identifier},
                }
            )
            with engine.LOCK:
                backend.config_rules[name].created_by = SECURITY_HUB
        rules.append(name)
    return {
        "account": account_id,
        "region": region,
        "recorder": RECORDER,
        "channel": CHANNEL,
        "bucket": bucket,
        "rules": rules,
    }


def _ensure_log_archive(account_id: str, region: str, partition: str) -> str:
    from moto.s3.models import s3_backends

    archive = log_archive_account(account_id)
    name = log_archive_bucket(account_id, region)
    s3 = s3_backends[archive][partition]
    if name not in s3.buckets:
        s3.create_bucket(name, region)
    arn = f"arn:{partition}:s3:::{name}"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AWSBucketPermissionsCheck",
                "Effect": "Allow",
                "Principal": {"Service": "config.amazonaws.com"},
                "Action": "s3:GetBucketAcl",
                "Resource": arn,
            },
            {
                "Sid": "AWSConfigBucketExistenceCheck",
                "Effect": "Allow",
                "Principal": {"Service": "config.amazonaws.com"},
                "Action": "s3:ListBucket",
                "Resource": arn,
            },
            {
                "Sid": "AWSBucketDelivery",
                "Effect": "Allow",
                "Principal": {"Service": "config.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"{arn}/{ORGANIZATION_PREFIX}/AWSLogs/*/*",
                "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}},
            },
        ],
    }
    s3.put_bucket_policy(name, json.dumps(policy).encode())
    return name


def _ensure_recorder_role(account_id: str, partition: str) -> str:
    from moto.iam.models import iam_backends

    iam = iam_backends[account_id][partition]
    role = next((r for r in iam.roles.values() if r.name == RECORDER_ROLE), None)
    if role is None:
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "config.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
        role = iam.create_role(RECORDER_ROLE, json.dumps(trust), "/", None, "AWS Control Tower", [], None)
        iam.attach_role_policy(f"arn:{partition}:iam::aws:policy/service-role/AWS_ConfigRole", RECORDER_ROLE)
    return str(role.arn)
