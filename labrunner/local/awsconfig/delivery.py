"""The delivery channel's S3 bucket: AWS Config checks that it may write there, then writes.

On PutDeliveryChannel AWS Config checks the bucket exists (NoSuchBucketException) and that it
can write its files (InsufficientDeliveryPolicyException), then leaves
`[prefix/]AWSLogs/ACCOUNT/Config/ConfigWritabilityCheckFile` in the bucket. With the
service-linked role AWSServiceRoleForConfig, writing needs the bucket policy to allow the
`config.amazonaws.com` service principal; with a role of your own, that role (its identity
policies, or the bucket policy naming it) must allow s3:PutObject.
"""

from __future__ import annotations

import json
from typing import Any

from moto.core.exceptions import JsonRESTError

from labrunner.aws.policy import AccessRequest, PolicyParseError, caller_from, evaluate_resource_policy

CONFIG_SERVICE = "config.amazonaws.com"
SERVICE_LINKED_ROLE_PATH = f"role/aws-service-role/{CONFIG_SERVICE}/"
CHECK_FILE = "ConfigWritabilityCheckFile"


class NoSuchBucketException(JsonRESTError):
    code = 400

    def __init__(self, bucket: str) -> None:
        super().__init__("NoSuchBucketException", f"Cannot find a S3 bucket with name '{bucket}'.")


class InsufficientDeliveryPolicyException(JsonRESTError):
    code = 400

    def __init__(self, bucket: str) -> None:
        super().__init__(
            "InsufficientDeliveryPolicyException",
            f"Insufficient delivery policy to s3 bucket: {bucket}, unable to write to bucket, "
            "provided s3 key prefix is 'null'.",
        )


def check_file_key(account_id: str, prefix: str | None) -> str:
    head = f"{prefix.strip('/')}/" if prefix and prefix.strip("/") else ""
    return f"{head}AWSLogs/{account_id}/Config/{CHECK_FILE}"


def find_bucket(name: str) -> Any:
    from moto.s3.models import s3_backends

    owner = s3_backends.bucket_accounts.get(name)
    if owner is None:
        return None
    partition, account_id = owner
    return s3_backends[account_id][partition].buckets.get(name)


def may_write(account_id: str, role_arn: str, bucket: Any, key: str) -> bool:
    """May AWS Config, with the recorder's role, put `key` into the bucket?"""
    object_arn = f"arn:{bucket.partition}:s3:::{bucket.name}/{key}"
    context = {
        "aws:SourceAccount": account_id,
        "s3:x-amz-acl": "bucket-owner-full-control",
        "aws:SecureTransport": "true",  # AWS services write over TLS
    }
    document = _policy(bucket.policy)
    if document is not None:
        request = AccessRequest("s3:PutObject", object_arn, caller_from(CONFIG_SERVICE), context)
        try:
            decision = evaluate_resource_policy(document, request).decision
        except PolicyParseError:
            decision = None
        if decision is not None and decision.explicit_deny:
            return False
        if decision is not None and decision.allowed:
            return True
    if SERVICE_LINKED_ROLE_PATH in role_arn:
        return False  # the service-linked role itself has no S3 write permission
    from labrunner.local.iam.authorizer import authorize

    return authorize(
        account_id,
        role_arn,
        "s3:PutObject",
        object_arn,
        context,
        resource_policy=document,
        resource_account=bucket.account_id,
    ).allowed


def _policy(raw: bytes | str | None) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        document = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def check_and_write(account_id: str, role_arn: str, bucket_name: str, prefix: str | None) -> None:
    """AWS's writability check of a delivery channel bucket; raises AWS's error codes."""
    bucket = find_bucket(bucket_name)
    if bucket is None:
        raise NoSuchBucketException(bucket_name)
    key = check_file_key(account_id, prefix)
    if not may_write(account_id, role_arn, bucket, key):
        raise InsufficientDeliveryPolicyException(bucket_name)
    from moto.s3.models import s3_backends

    s3_backends[bucket.account_id][bucket.partition].put_object(bucket_name, key, b"")
