"""The AWS managed rules the local AWS evaluates, with AWS's documented logic.

- S3_BUCKET_LOGGING_ENABLED: NON_COMPLIANT unless server access logging is on; with the
  optional parameters targetBucket / targetPrefix, logging must go exactly there.
- S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED: COMPLIANT when the bucket has default encryption
  (AES256, aws:kms, aws:kms:dsse) or its policy denies PutObject without SSE.

The definitions (with the AWS Config Developer Guide's rule pages) live in
labrunner.aws.s3_config_rules, which lab 4's grader uses too: both judge a bucket alike.

Both are triggered by configuration changes of AWS::S3::Bucket.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from labrunner.aws import s3_config_rules as shared
from labrunner.local.awsconfig.items import S3_BUCKET, BucketItem

COMPLIANT = "COMPLIANT"
NON_COMPLIANT = "NON_COMPLIANT"
NOT_APPLICABLE = "NOT_APPLICABLE"
INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


@dataclass(frozen=True)
class Verdict:
    compliance: str
    annotation: str | None = None


Evaluator = Callable[[BucketItem, Mapping[str, str]], Verdict]


def s3_bucket_logging_enabled(item: BucketItem, parameters: Mapping[str, str]) -> Verdict:
    verdict = shared.logging_verdict(item.logging_target, item.logging_prefix, parameters)
    return Verdict(verdict.compliance, verdict.annotation)


def s3_bucket_server_side_encryption_enabled(item: BucketItem, _parameters: Mapping[str, str]) -> Verdict:
    verdict = shared.encryption_verdict(item.sse_algorithm, item.policy_denies_unencrypted_puts)
    return Verdict(verdict.compliance, verdict.annotation)


@dataclass(frozen=True)
class ManagedRule:
    identifier: str
    resource_types: frozenset[str]
    evaluate: Evaluator


MANAGED_RULES: dict[str, ManagedRule] = {
    rule.identifier: rule
    for rule in (
        ManagedRule("S3_BUCKET_LOGGING_ENABLED", frozenset({S3_BUCKET}), s3_bucket_logging_enabled),
        ManagedRule(
            "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED",
            frozenset({S3_BUCKET}),
            s3_bucket_server_side_encryption_enabled,
        ),
    )
}
