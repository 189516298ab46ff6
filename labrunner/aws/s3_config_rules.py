"""What AWS Config's two managed S3 rules of lab 4 accept: one definition, used by lab 4's grader
(labrunner.aws.config.BucketView) and by the local AWS Config (labrunner.local.awsconfig.rules).

AWS Config Developer Guide, "s3-bucket-logging-enabled"
(https://docs.aws.amazon.com/config/latest/developerguide/s3-bucket-logging-enabled.html):
"Checks if logging is enabled for your S3 buckets. The rule is NON_COMPLIANT if logging is not
enabled." Optional parameters targetBucket ("Target S3 bucket for storing server access logs") and
targetPrefix ("Prefix of the S3 bucket for storing server access logs"): when given, logging must
go exactly there.

AWS Config Developer Guide, "s3-bucket-server-side-encryption-enabled"
(https://docs.aws.amazon.com/config/latest/developerguide/s3-bucket-server-side-encryption-enabled.html):
"Checks if your Amazon S3 bucket either has the Amazon S3 default encryption enabled or that the
Amazon S3 bucket policy explicitly denies put-object requests without server side encryption that
uses AES-256 or AWS Key Management Service." A policy counts here when one Deny statement, to
everyone, covers s3:PutObject on the bucket's objects and is conditioned on the
s3:x-amz-server-side-encryption header being absent (Null: true) or other than AES256 / aws:kms.
Read narrowly (stricter than AWS could be, never more lenient): a Deny that names other buckets'
objects only, or another principal, does not count.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

COMPLIANT = "COMPLIANT"
NON_COMPLIANT = "NON_COMPLIANT"
ENCRYPTING_ALGORITHMS = frozenset({"AES256", "aws:kms", "aws:kms:dsse"})
SSE_HEADER_KEY = "s3:x-amz-server-side-encryption"
PUT_OBJECT_ACTIONS = ("s3:putobject", "s3:*", "*")


@dataclass(frozen=True)
class RuleVerdict:
    compliance: str
    annotation: str | None = None


def logging_verdict(target: str | None, prefix: str, parameters: Mapping[str, str]) -> RuleVerdict:
    """S3_BUCKET_LOGGING_ENABLED on a bucket that logs to `target` (None: logging off) with `prefix`."""
    if target is None:
        return RuleVerdict(NON_COMPLIANT)
    wanted_bucket = (parameters.get("targetBucket") or "").strip()
    if wanted_bucket and wanted_bucket != target:
        return RuleVerdict(NON_COMPLIANT, f"Server access logs are not delivered to bucket {wanted_bucket}.")
    wanted_prefix = (parameters.get("targetPrefix") or "").strip()
    if wanted_prefix and wanted_prefix != prefix:
        return RuleVerdict(NON_COMPLIANT, f"Server access logs are not delivered with prefix {wanted_prefix}.")
    return RuleVerdict(COMPLIANT)


def encryption_verdict(sse_algorithm: str | None, policy_denies_unencrypted: bool) -> RuleVerdict:
    """S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED: default encryption, or a policy denying unencrypted puts."""
    if sse_algorithm in ENCRYPTING_ALGORITHMS or policy_denies_unencrypted:
        return RuleVerdict(COMPLIANT)
    return RuleVerdict(NON_COMPLIANT)


def policy_denies_unencrypted_puts(raw: bytes | str | None, bucket: str) -> bool:
    """Does the bucket policy deny everyone's PutObject on the bucket's objects without SSE?"""
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
        actions = _strings(statement.get("Action"))
        if not any(a.lower() in PUT_OBJECT_ACTIONS for a in actions):
            continue
        if not _covers_objects(_strings(statement.get("Resource")), bucket):
            continue
        if _conditions_on_sse(statement.get("Condition") or {}):
            return True
    return False


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _covers_objects(resources: list[str], bucket: str) -> bool:
    """Some Resource pattern matches every object of the bucket (any partition)."""
    sample = f"{bucket}/any-object-key"
    for pattern in resources:
        if pattern == "*":
            return True
        head, _, rest = pattern.partition(":::")
        if head.startswith("arn:") and head.endswith(":s3") and fnmatchcase(sample, rest.replace("[", "[[]")):
            return True
    return False


def _conditions_on_sse(conditions: Mapping[str, Any]) -> bool:
    for operator, keys in conditions.items():
        if not isinstance(keys, dict):
            continue
        for key, values in keys.items():
            if key.lower() != SSE_HEADER_KEY:
                continue
            wanted = [str(values)] if isinstance(values, bool) else _strings(values)
            if operator == "Null" and "true" in [v.lower() for v in wanted]:
                return True
            if operator in ("StringNotEquals", "StringNotEqualsIfExists") and set(wanted) & {"AES256", "aws:kms"}:
                return True
    return False
