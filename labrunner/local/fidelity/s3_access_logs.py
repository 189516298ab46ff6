"""S3 server access logging as on AWS: who may receive logs, real records, configurable delivery.

moto validates `put_bucket_logging` against an exact-string reading of the target's bucket
policy (no conditions, so a policy scoped to another source bucket passes) and delivers one
synthetic line per request (fixed "originbucket", no real operation, key or status).
Here:
- `put_bucket_logging` checks the target as AWS does: it must exist in this account
  (InvalidTargetBucketForLogging) and region (CrossLocationLoggingProhibited). A target whose
  Object Ownership keeps ACLs enabled (ObjectWriter, BucketOwnerPreferred: buckets made before
  April 2023) must let the logging service write, by the LogDelivery ACL grant or a bucket
  policy, else InvalidTargetBucketForLogging. A target with ACLs disabled (BucketOwnerEnforced,
  the default since April 2023) is accepted as is: AWS's own CloudFormation example enables
  logging before the target's policy exists (the policy's aws:SourceArn refers to the source
  bucket); delivery then needs the bucket policy.
- at delivery the target must still exist and allow the logging service (policy evaluated with
  aws:SourceArn / aws:SourceAccount; ACL grants only while ACLs are enabled), else the records
  are dropped, as AWS drops what it cannot deliver.
- every request to a bucket with logging on yields AWS-format records (real operation, key,
  request-URI, status, error code, requester, …) delivered to TargetBucket/TargetPrefix; turning
  logging off stops delivery (the configuration in force when a request arrives decides).
- delivery is immediate by default; LABRUNNER_S3_ACCESS_LOG_DELAY_S or
  POST /_labrunner/s3/access-log-delay?seconds=N delays it and batches records (fault injection).
"""

from __future__ import annotations

import contextlib
import functools
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from labrunner.local.delays import Delay
from labrunner.local.hooks import ServerHooks
from labrunner.local.s3_access_log.delivery import LogDelivery, log_object_key
from labrunner.local.s3_access_log.permissions import acls_enabled, delivery_allowed
from labrunner.local.s3_access_log.requests import (
    PendingRequest,
    copy_source_of,
    destination_of,
    records_for,
)

DELAY = Delay("access_log_delay_s", "LABRUNNER_S3_ACCESS_LOG_DELAY_S", "s3/access-log-delay")
DELIVERY = LogDelivery(DELAY)
PENDING_ATTRIBUTE = "_labrunner_access_log"
REFUSED = "You must give the log-delivery group WRITE and READ_ACP permissions to the target bucket"


def install(hooks: ServerHooks) -> None:
    from moto.s3.models import FakeBucket, S3Backend
    from moto.s3.responses import S3Response

    setattr(FakeBucket, "set_logging", set_logging)  # noqa: B010 (mypy forbids assigning a method)
    setattr(S3Backend, "log_incoming_request", note_incoming_request)  # noqa: B010
    for name in ("bucket_response", "key_response"):
        setattr(S3Response, name, logging_requests(getattr(S3Response, name), has_key=name == "key_response"))
    DELAY.install(hooks)
    hooks.on_reset(DELIVERY.clear)


def set_logging(self: Any, logging_config: dict[str, Any] | None, bucket_backend: Any) -> None:
    """FakeBucket.set_logging with AWS's checks: the target exists in this account and region,
    and, if its ACLs are enabled, lets the logging service write this bucket's logs."""
    from moto.s3.exceptions import CrossLocationLoggingProhibited, InvalidTargetBucketForLogging

    if not logging_config:
        self.logging = {}
        return
    target = bucket_backend.buckets.get(logging_config["TargetBucket"])
    if target is None:
        raise InvalidTargetBucketForLogging("The target bucket for logging does not exist.")
    if target.region_name != self.region_name:
        raise CrossLocationLoggingProhibited()
    previous, self.logging = self.logging, logging_config
    destination = destination_of(self)
    self.logging = previous
    assert destination is not None
    sample_key = log_object_key(destination, datetime.now(UTC))
    if acls_enabled(target) and not delivery_allowed(target, sample_key, destination.source_arn, self.account_id):
        raise InvalidTargetBucketForLogging(REFUSED)
    self.logging = logging_config


def note_incoming_request(self: Any, request: Any, bucket_name: str) -> None:
    """S3Backend.log_incoming_request: remember the logging configuration in force on arrival;
    the record is written once the response is known (see logging_requests)."""
    bucket = owned_bucket(bucket_name)
    destination = destination_of(bucket) if bucket is not None else None
    if destination is None:
        return
    from moto.s3.models import OWNER

    pending = PendingRequest(destination, OWNER, datetime.now(UTC), time.perf_counter())
    with contextlib.suppress(AttributeError):  # a request that takes no attributes is not logged
        setattr(request, PENDING_ATTRIBUTE, pending)


def owned_bucket(bucket_name: str | None) -> Any:
    """The moto bucket of that name in its owner's account, or None."""
    if not bucket_name:
        return None
    from moto.s3.models import s3_backends

    owner = s3_backends.bucket_accounts.get(bucket_name)
    if owner is None:
        return None
    partition, account_id = owner
    return s3_backends[account_id][partition].buckets.get(bucket_name)


def logging_requests(method: Any, *, has_key: bool) -> Any:
    @functools.wraps(method)
    def wrapper(self: Any, request: Any, full_url: str, headers: Any) -> Any:
        response = method(self, request, full_url, headers)
        pending = getattr(request, PENDING_ATTRIBUTE, None)
        if pending is not None:
            delattr(request, PENDING_ATTRIBUTE)
            try:
                deliver(self, request, full_url, pending, response, has_key=has_key)
            except Exception as exc:  # logging is best effort and must not fail the request
                print(f"access log record failed: {exc!r}", file=sys.stderr)
        return response

    return wrapper


def deliver(
    handler: Any, request: Any, full_url: str, pending: PendingRequest, response: Any, *, has_key: bool
) -> None:
    key = handler.parse_key_name() if has_key else ""
    body = handler.body if isinstance(getattr(handler, "body", None), bytes) else b""
    records = records_for(pending, request, full_url=full_url, key=key, response=response, request_body=body)
    DELIVERY.submit(pending.destination, [record.line() for record in records])
    first = records[0]
    source = copy_source_of(dict(request.headers)) if first.operation.startswith("REST.COPY.") else None
    if source is not None and first.http_status < 300:
        source_bucket = owned_bucket(source[0])
        source_destination = destination_of(source_bucket) if source_bucket is not None else None
        if source_destination is not None:
            copy_get = replace(first, bucket=source[0], operation=f"{first.operation}_GET", key=source[1])
            DELIVERY.submit(source_destination, [copy_get.line()])
