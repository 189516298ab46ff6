"""S3 settings the labs read and set: default encryption, access logging, the lab's log bucket.

Readers only observe (they run in `check`); `ensure_log_bucket` and `enable_access_logging` are
what `solve` uses (lab 2, and lab 4 when lab 2 was skipped).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from labrunner.aws.errors import is_code
from labrunner.aws.policy import (
    AccessRequest,
    MatchedStatement,
    PolicyParseError,
    caller_from,
    evaluate_resource_policy,
    parse_policy,
)
from labrunner.aws.stack import partition

LOG_DELIVERY_SERVICE = "logging.s3.amazonaws.com"
LOG_DELIVERY_GROUP = "http://acs.amazonaws.com/groups/s3/LogDelivery"
LOG_DELIVERY_SID = "S3ServerAccessLogsPolicy"
LAB_TAG = {"Key": "labrunner:lab", "Value": "immersion"}
LOG_BUCKET_PREFIX = "immersion-upload-logs-"
# The four Block Public Access settings, in the order the console lists them.
BLOCK_PUBLIC_ACCESS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
AWS_MANAGED_S3_KEY = "alias/aws/s3"
NOT_FOUND = ("404", "NoSuchBucket", "NotFound")

Note = Callable[[str], None]


def _quiet(_message: str) -> None:
    pass


def bucket_arn(bucket: str, region: str = "us-east-1") -> str:
    return f"arn:{partition(region)}:s3:::{bucket}"


def lab_log_bucket_name(suffix: str) -> str:
    """The lab text's name of the access-log bucket (SPEC §4); solve adds a random part per deployment
    (aws/lab_buckets.py), as S3 holds a deleted bucket's name for hours."""
    return f"{LOG_BUCKET_PREFIX}{suffix}"


def access_log_prefix(source_bucket: str) -> str:
    """The key prefix solve gives a source bucket's logs, so several buckets can share one log bucket."""
    return f"{source_bucket}/"


# -- reading ---------------------------------------------------------------------------------------
def bucket_exists(s3: Any, bucket: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if is_code(exc, *NOT_FOUND):
            return False
        raise
    return True


@dataclass(frozen=True)
class DefaultEncryption:
    """A bucket's default encryption (the first rule of its configuration)."""

    algorithm: str  # AES256 | aws:kms | aws:kms:dsse
    kms_key: str | None = None
    bucket_key: bool = False

    @property
    def kms(self) -> bool:
        return self.algorithm.startswith("aws:kms")

    @property
    def aws_managed_key(self) -> bool:
        """SSE-KMS with the AWS managed key aws/s3 (no key given, or its alias)."""
        return self.kms and (not self.kms_key or self.kms_key.endswith(AWS_MANAGED_S3_KEY))

    @property
    def label(self) -> str:
        if self.algorithm == "AES256":
            return "SSE-S3 (AES256)"
        name = "DSSE-KMS" if self.algorithm == "aws:kms:dsse" else "SSE-KMS"
        key = "the AWS managed key aws/s3" if self.aws_managed_key else f"key {self.kms_key}"
        return f"{name} ({self.algorithm}, {key})"


def default_encryption(s3: Any, bucket: str) -> DefaultEncryption | None:
    """The bucket's default encryption, or None for a bucket without any (made before 2023)."""
    try:
        config = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    except ClientError as exc:
        if is_code(exc, "ServerSideEncryptionConfigurationNotFoundError"):
            return None
        raise
    rules = config.get("Rules") or []
    if not rules:
        return None
    default = rules[0].get("ApplyServerSideEncryptionByDefault") or {}
    algorithm = default.get("SSEAlgorithm")
    if not algorithm:
        return None
    return DefaultEncryption(
        algorithm=str(algorithm),
        kms_key=default.get("KMSMasterKeyID") or None,
        bucket_key=bool(rules[0].get("BucketKeyEnabled", False)),
    )


def log_bucket_encryption_problem(encryption: DefaultEncryption | None) -> str | None:
    """Why a log bucket's default encryption is not acceptable, or None when it is."""
    if encryption is None:
        return "it has no default encryption: log files would be stored unencrypted"
    if encryption.aws_managed_key:
        return (
            f"its default encryption is {encryption.label}; S3 server access logging cannot write to a "
            "bucket encrypted with the AWS managed key aws/s3"
        )
    return None


@dataclass(frozen=True)
class AccessLogging:
    """Where a bucket's server access logs go."""

    target_bucket: str
    target_prefix: str = ""
    partitioned: bool = False  # TargetObjectKeyFormat PartitionedPrefix (account/region/bucket/date/)

    @property
    def location(self) -> str:
        return f"s3://{self.target_bucket}/{self.target_prefix}"


def access_logging(s3: Any, bucket: str) -> AccessLogging | None:
    """The bucket's server access logging, or None when it is off."""
    enabled = s3.get_bucket_logging(Bucket=bucket).get("LoggingEnabled")
    if not enabled or not enabled.get("TargetBucket"):
        return None
    key_format = enabled.get("TargetObjectKeyFormat") or {}
    return AccessLogging(
        target_bucket=str(enabled["TargetBucket"]),
        target_prefix=str(enabled.get("TargetPrefix") or ""),
        partitioned="PartitionedPrefix" in key_format,
    )


def _block_settings(fetch: Callable[[], dict[str, Any]]) -> dict[str, bool]:
    """The four Block Public Access settings of one GetPublicAccessBlock answer (all False when unset)."""
    try:
        config = fetch()["PublicAccessBlockConfiguration"]
    except ClientError as exc:
        if is_code(exc, "NoSuchPublicAccessBlockConfiguration"):
            config = {}
        else:
            raise
    return {name: bool(config.get(name, False)) for name in BLOCK_PUBLIC_ACCESS}


def public_access_block(s3: Any, bucket: str) -> dict[str, bool]:
    """The bucket's four Block Public Access settings (all False when none is configured)."""
    return _block_settings(lambda: s3.get_public_access_block(Bucket=bucket))


def account_public_access_block(s3control: Any, account: str) -> dict[str, bool]:
    """The account-level Block Public Access settings (s3control GetPublicAccessBlock; all False when unset)."""
    return _block_settings(lambda: s3control.get_public_access_block(AccountId=account))


def bucket_policy(s3: Any, bucket: str) -> str | None:
    try:
        return str(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    except ClientError as exc:
        if is_code(exc, "NoSuchBucketPolicy"):
            return None
        raise


def acls_disabled(s3: Any, bucket: str) -> bool:
    """Object Ownership 'Bucket owner enforced': ACLs no longer grant anything."""
    try:
        rules = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    except ClientError as exc:
        if is_code(exc, "OwnershipControlsNotFoundError"):
            return False
        raise
    return any(rule.get("ObjectOwnership") == "BucketOwnerEnforced" for rule in rules)


@dataclass(frozen=True)
class LogDelivery:
    """Whether S3's logging service may write one source bucket's access logs into a bucket."""

    allowed: bool
    detail: str
    via_policy: bool = False


def _probe_keys(log_bucket: str, prefix: str | None, source: str, policy: str | None, region: str) -> list[str]:
    """Object keys to ask about: the configured prefix, else every prefix the policy grants the logging service."""
    if prefix is not None:
        return [f"{prefix}2024-01-01-00-00-00-0123456789ABCDEF"]
    keys = [f"{access_log_prefix(source)}2024-01-01-00-00-00-0123456789ABCDEF"]
    if policy is None:
        return keys
    try:
        document = parse_policy(policy)
    except PolicyParseError:
        return keys
    head = f"{bucket_arn(log_bucket, region)}/"
    for statement in document.statements:
        for pattern in statement.resources or ():
            if pattern.startswith(head):
                keys.append(pattern[len(head) :].replace("*", "x").replace("?", "x") or "x")
    return list(dict.fromkeys(keys))


def _label(matched: Sequence[MatchedStatement], fallback: str) -> str:
    if not matched:
        return fallback
    first = matched[0]
    return f"statement Sid {first.sid!r}" if first.sid else f"statement #{first.index + 1}"


def log_delivery(
    s3: Any,
    log_bucket: str,
    *,
    source_bucket: str,
    account: str,
    region: str,
    target: AccessLogging | None = None,
) -> LogDelivery:
    """May logging.s3.amazonaws.com put the source bucket's logs into log_bucket?

    Judged as AWS does: the bucket policy (with aws:SourceArn / aws:SourceAccount as S3 sends
    them), an explicit Deny wins; else the legacy ACL grant to the Log Delivery group, which only
    counts while ACLs are enabled.
    """
    policy = bucket_policy(s3, log_bucket)
    prefix = target.target_prefix if target is not None and target.target_bucket == log_bucket else None
    if prefix is not None and target is not None and target.partitioned:
        prefix = f"{prefix}{account}/{region}/{source_bucket}/2024/01/01/"
    context = {"aws:SourceArn": bucket_arn(source_bucket, region), "aws:SourceAccount": account}
    caller = caller_from(LOG_DELIVERY_SERVICE)
    if policy is not None:
        try:
            parse_policy(policy)
        except PolicyParseError as exc:
            return LogDelivery(False, f"the bucket policy of {log_bucket} cannot be read: {exc}")
        for key in _probe_keys(log_bucket, prefix, source_bucket, policy, region):
            resource = f"{bucket_arn(log_bucket, region)}/{key}"
            request = AccessRequest("s3:PutObject", resource, caller=caller, context=context)
            decision = evaluate_resource_policy(policy, request).decision
            if decision.explicit_deny:
                which = _label(decision.matched_statements, "a Deny statement")
                return LogDelivery(False, f"{which} of the bucket policy denies {LOG_DELIVERY_SERVICE} s3:PutObject")
            if decision.allowed:
                which = _label(decision.matched_statements, "a statement")
                return LogDelivery(
                    True,
                    f"{which} of the bucket policy allows {LOG_DELIVERY_SERVICE} to put logs of "
                    f"{source_bucket} (account {account})",
                    via_policy=True,
                )
    if not acls_disabled(s3, log_bucket):
        for grant in s3.get_bucket_acl(Bucket=log_bucket).get("Grants", []):
            grantee = grant.get("Grantee") or {}
            if grantee.get("URI") == LOG_DELIVERY_GROUP and grant.get("Permission") in ("WRITE", "FULL_CONTROL"):
                return LogDelivery(
                    True,
                    "the bucket ACL grants the S3 Log Delivery group WRITE (the legacy way; AWS now "
                    f"recommends a bucket policy for {LOG_DELIVERY_SERVICE} and ACLs disabled)",
                )
    where = f"s3://{log_bucket}/{prefix}" if prefix is not None else f"s3://{log_bucket}"
    return LogDelivery(
        False,
        f"no bucket policy statement allows {LOG_DELIVERY_SERVICE} to s3:PutObject into {where} for "
        f"source bucket {source_bucket} in account {account}",
    )


def lab_tagged(s3: Any, bucket: str) -> bool:
    return LAB_TAG in _tags(s3, bucket)


def _tags(s3: Any, bucket: str) -> list[dict[str, str]]:
    try:
        return list(s3.get_bucket_tagging(Bucket=bucket).get("TagSet", []))
    except ClientError as exc:
        if is_code(exc, "NoSuchTagSet"):
            return []
        raise


# -- changing (solve) --------------------------------------------------------------------------------
def log_delivery_statement(log_bucket: str, source_buckets: Iterable[str], account: str, region: str) -> dict[str, Any]:
    """AWS's recommended grant: the logging service, PutObject, scoped by source bucket and account."""
    sources = sorted({bucket_arn(b, region) for b in source_buckets})
    return {
        "Sid": LOG_DELIVERY_SID,
        "Effect": "Allow",
        "Principal": {"Service": LOG_DELIVERY_SERVICE},
        "Action": "s3:PutObject",
        "Resource": f"{bucket_arn(log_bucket, region)}/*",
        "Condition": {
            "ArnLike": {"aws:SourceArn": sources},
            "StringEquals": {"aws:SourceAccount": account},
        },
    }


def _with_sources(policy: str | None, log_bucket: str, sources: Sequence[str], account: str, region: str) -> str:
    """The bucket policy with the lab's log-delivery statement covering `sources` (others kept)."""
    document: dict[str, Any] = json.loads(policy) if policy else {"Version": "2012-10-17", "Statement": []}
    statements = document.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    kept = [copy.deepcopy(s) for s in statements if not (isinstance(s, dict) and s.get("Sid") == LOG_DELIVERY_SID)]
    earlier: list[str] = []
    for s in statements:
        if isinstance(s, dict) and s.get("Sid") == LOG_DELIVERY_SID:
            arns = s.get("Condition", {}).get("ArnLike", {}).get("aws:SourceArn", [])
            earlier += [arns] if isinstance(arns, str) else list(arns)
    names = [arn.rsplit(":", 1)[-1] for arn in earlier] + list(sources)
    document["Statement"] = [*kept, log_delivery_statement(log_bucket, names, account, region)]
    document.setdefault("Version", "2012-10-17")
    return json.dumps(document, indent=2)


def _create_bucket(s3: Any, name: str, region: str) -> bool:
    """Create the bucket with ACLs disabled; False when this account already owns it."""
    params: dict[str, Any] = {"Bucket": name, "ObjectOwnership": "BucketOwnerEnforced"}
    if region != "us-east-1":
        params["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        s3.create_bucket(**params)
    except ClientError as exc:
        if is_code(exc, "BucketAlreadyOwnedByYou"):
            return False
        raise
    return True


def ensure_log_bucket(
    s3: Any,
    name: str,
    *,
    region: str,
    account: str,
    source_buckets: Sequence[str],
    note: Note = _quiet,
) -> bool:
    """Create (if needed) and secure a bucket for S3 server access logs; True if anything changed.

    The bucket gets ACLs disabled (on creation), all four Block Public Access settings, SSE-S3
    default encryption (unless it already has an encryption S3 logging can use), and a bucket
    policy statement letting logging.s3.amazonaws.com put objects for each of `source_buckets`
    from `account` (merged into an existing policy, other statements kept). Buckets it creates,
    or that carry the lab's name, are tagged labrunner:lab=immersion. It does not turn logging
    on: see `enable_access_logging`.
    """
    changed = False
    if not bucket_exists(s3, name) and _create_bucket(s3, name, region):
        note(f"created bucket {name} (ACLs disabled)")
        changed = True
    if name.startswith(LOG_BUCKET_PREFIX) and not lab_tagged(s3, name):
        tags = [t for t in _tags(s3, name) if t.get("Key") != LAB_TAG["Key"]] + [dict(LAB_TAG)]
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tags})
        changed = True
    blocked = public_access_block(s3, name)
    if not all(blocked.values()):
        s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration={setting: True for setting in BLOCK_PUBLIC_ACCESS}
        )
        off = ", ".join(setting for setting, on in blocked.items() if not on)
        note(f"turned on Block Public Access for {name} ({off})")
        changed = True
    if log_bucket_encryption_problem(default_encryption(s3, name)) is not None:
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        note(f"set default encryption SSE-S3 (AES256) on {name}")
        changed = True
    missing = [
        source
        for source in source_buckets
        if not log_delivery(s3, name, source_bucket=source, account=account, region=region).via_policy
    ]
    if missing:
        current = bucket_policy(s3, name)
        policy = _with_sources(current, name, missing, account, region)
        if current is not None and json.loads(current) == json.loads(policy):
            # The grant is there, yet something else (a Deny of the student's) blocks delivery.
            note(f"the bucket policy of {name} already grants log delivery, but another statement blocks it")
        else:
            s3.put_bucket_policy(Bucket=name, Policy=policy)
            note(f"bucket policy of {name} now lets {LOG_DELIVERY_SERVICE} deliver logs of {', '.join(missing)}")
            changed = True
    return changed


def enable_access_logging(
    s3: Any, bucket: str, *, target_bucket: str, target_prefix: str | None = None, note: Note = _quiet
) -> bool:
    """Turn on server access logging of `bucket` into target_bucket/target_prefix; True if changed.

    The target must already allow log delivery (`ensure_log_bucket`): S3 checks it.
    """
    prefix = access_log_prefix(bucket) if target_prefix is None else target_prefix
    current = access_logging(s3, bucket)
    if current is not None and current.target_bucket == target_bucket and current.target_prefix == prefix:
        return False
    s3.put_bucket_logging(
        Bucket=bucket,
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": target_bucket, "TargetPrefix": prefix}},
    )
    before = f" (was {current.location})" if current is not None else ""
    note(f"server access logging of {bucket} now goes to s3://{target_bucket}/{prefix}{before}")
    return True


def ensure_access_logging(
    s3: Any, bucket: str, *, log_bucket: str, region: str, account: str, note: Note = _quiet
) -> bool:
    """Both at once: a secured log bucket that accepts `bucket`'s logs, and logging turned on."""
    changed = ensure_log_bucket(s3, log_bucket, region=region, account=account, source_buckets=[bucket], note=note)
    return enable_access_logging(s3, bucket, target_bucket=log_bucket, note=note) or changed
