"""Configuration items: what AWS Config's recorder captured of an S3 bucket, and when.

Rules judge these recorded items, not the live bucket, as on AWS: a change made while the
recorder is stopped is not seen until the recorder records again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

S3_BUCKET = "AWS::S3::Bucket"
SSE_HEADER_KEY = "s3:x-amz-server-side-encryption"


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
        policy_denies_unencrypted_puts=policy_denies_unencrypted_puts(bucket.policy),
        tags=tuple(sorted(tags.items())),
    )


def policy_denies_unencrypted_puts(raw: bytes | str | None) -> bool:
    """Does the bucket policy deny PutObject requests without SSE (AES256 or aws:kms)?

    The alternative that S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED accepts instead of default
    encryption: a Deny of s3:PutObject to everyone conditioned on the
    s3:x-amz-server-side-encryption header being absent (Null) or not AES256/aws:kms.
    """
    if not raw:
        return False
    try:
        document = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        statements = document.get("Statement", [])
    except (ValueError, AttributeError):
        return False
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, dict) or statement.get("Effect") != "Deny":
            continue
        if statement.get("Principal") not in ("*", {"AWS": "*"}):
            continue
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if not any(a.lower() in ("s3:putobject", "s3:*", "*") for a in actions):
            continue
        if _conditions_on_sse(statement.get("Condition") or {}):
            return True
    return False


def _conditions_on_sse(conditions: dict[str, Any]) -> bool:
    for operator, keys in conditions.items():
        if not isinstance(keys, dict):
            continue
        for key, values in keys.items():
            if key.lower() != SSE_HEADER_KEY:
                continue
            wanted = [values] if isinstance(values, str) else list(values)
            if operator == "Null" and "true" in [str(v).lower() for v in wanted]:
                return True
            if operator in ("StringNotEquals", "StringNotEqualsIfExists") and set(wanted) & {
                "AES256",
                "aws:kms",
            }:
                return True
    return False
