"""Resource-based policies the local AWS evaluates: S3 bucket policies and SQS queue policies."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from labrunner.aws.policy import Policy, PolicyParseError, parse_policy

_S3 = re.compile(r"^arn:[\w-]+:s3:::(?P<bucket>[^/]+)(?:/.*)?$")
_SQS = re.compile(r"^arn:[\w-]+:sqs:(?P<region>[^:]+):(?P<account>\d{12}):(?P<name>[^:/]+)$")


@dataclass(frozen=True)
class ResourcePolicy:
    """The owner of a resource and its policy (None when it has none)."""

    account: str
    policy: Policy | None


def _parsed(text: Any, name: str, arn: str) -> Policy | None:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if not text:
        return None
    try:
        return Policy(name=name, document=parse_policy(text), type="resource", arn=arn)
    except PolicyParseError:
        return None


def _bucket(name: str, arn: str) -> ResourcePolicy | None:
    from moto.s3.models import s3_backends

    owner = s3_backends.bucket_accounts.get(name)
    if owner is None:
        return None
    partition, account = owner
    backend = dict.get(dict.get(s3_backends, account) or {}, partition)
    bucket = backend.buckets.get(name) if backend is not None else None
    if bucket is None:
        return None
    return ResourcePolicy(account=account, policy=_parsed(bucket.policy, "BucketPolicy", arn))


def _queue(region: str, account: str, name: str, arn: str) -> ResourcePolicy | None:
    from moto.sqs.models import sqs_backends

    backend = dict.get(dict.get(sqs_backends, account) or {}, region)
    queue = backend.queues.get(name) if backend is not None else None
    if queue is None:
        return None
    return ResourcePolicy(account=account, policy=_parsed(queue.policy, "QueuePolicy", arn))


def resource_policy(resource: str) -> ResourcePolicy | None:
    """The policy and owner of the resource behind an ARN, if it is a bucket/object or a queue."""
    s3 = _S3.match(resource)
    if s3:
        return _bucket(s3["bucket"], f"arn:aws:s3:::{s3['bucket']}")
    sqs = _SQS.match(resource)
    if sqs:
        return _queue(sqs["region"], sqs["account"], sqs["name"], resource)
    return None
