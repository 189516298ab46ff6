"""Configuration items: what AWS Config's recorder captured of an S3 bucket, and when.

Rules judge these recorded items, not the live bucket, as on AWS: a change made while the
recorder is stopped is not seen until the recorder records again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from labrunner.aws.s3_config_rules import policy_denies_unencrypted_puts

S3_BUCKET = "AWS::S3::Bucket"


@dataclass(frozen=True)
class BucketItem:
    """The recorded configuration of one bucket (or the record that it was deleted)."""

    name: str
    arn: str
    captured_at: datetime
    deleted: bool = False
    logging_target: str | None = None
    logging_prefix: str = ""
    sse_algorithm: str | None = None  # default encryption; None for a bucket without any
    policy_denies_unencrypted_puts: bool = False
    tags: tuple[tuple[str, str], ...] = ()

    resource_type = S3_BUCKET

    def same_configuration(self, other: BucketItem | None) -> bool:
        """Equal apart from when it was captured (then recording it again changes nothing)."""
        return other is not None and replace(other, captured_at=self.captured_at) == self

    def deletion(self, when: datetime) -> BucketItem:
        return BucketItem(name=self.name, arn=self.arn, captured_at=when, deleted=True)


def capture(bucket: Any, tags: dict[str, str], when: datetime) -> BucketItem:
    """The configuration item of a live moto bucket."""
    logging = bucket.logging or {}
    encryption = bucket.encryption or {}
    rule = encryption.get("Rule") or {}
    if isinstance(rule, list):  # several rules in the XML: the first applies by default
        rule = rule[0] if rule else {}
    default = rule.get("ApplyServerSideEncryptionByDefault") or {}
    return BucketItem(
        name=bucket.name,
        arn=f"arn:{bucket.partition}:s3:::{bucket.name}",
        captured_at=when,
        logging_target=logging.get("TargetBucket") or None,
        logging_prefix=logging.get("TargetPrefix") or "",
        sse_algorithm=default.get("SSEAlgorithm") or None,
        policy_denies_unencrypted_puts=policy_denies_unencrypted_puts(bucket.policy, bucket.name),
        tags=tuple(sorted(tags.items())),
    )
