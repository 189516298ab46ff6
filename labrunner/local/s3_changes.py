"""Notifications of S3 bucket configuration changes inside the local server.

AWS services that watch buckets (AWS Config's recorder) learn about changes as AWS does
internally; here the S3 backend methods that change a bucket publish a BucketChange to every
subscriber, after the change is applied. Subscribers run in the changing request's thread and
must not raise.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class BucketChange:
    """A bucket of this account and region was created, deleted or reconfigured."""

    account_id: str
    region: str
    bucket: str


Listener = Callable[[BucketChange], None]

_listeners: list[Listener] = []
_lock = threading.Lock()
_MARKER = "_labrunner_publishes_changes"

# S3 backend methods that change what Config records of a bucket (its existence, logging,
# default encryption, policy, tags). Each is wrapped once to publish after it succeeds.
CHANGING_METHODS = (
    "create_bucket",
    "delete_bucket",
    "put_bucket_logging",
    "put_bucket_encryption",
    "delete_bucket_encryption",
    "put_bucket_policy",
    "delete_bucket_policy",
    "put_bucket_tagging",
    "delete_bucket_tagging",
    "put_bucket_acl",
)


def subscribe(listener: Listener) -> None:
    with _lock:
        if listener not in _listeners:
            _listeners.append(listener)


def publish(change: BucketChange) -> None:
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        try:
            listener(change)
        except Exception as exc:  # a watcher's failure must never fail the S3 request
            print(f"s3 change listener failed for {change}: {exc!r}", file=sys.stderr)


def install() -> None:
    """Wrap the S3 backend's changing methods (idempotent)."""
    from moto.s3.models import S3Backend

    with _lock:
        if getattr(S3Backend, _MARKER, False):
            return
        for name in CHANGING_METHODS:
            setattr(S3Backend, name, _publishing(getattr(S3Backend, name)))
        setattr(S3Backend, _MARKER, True)


def _publishing(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        bucket_name = kwargs.get("bucket_name", args[0] if args else None)
        before = self.buckets.get(bucket_name) if isinstance(bucket_name, str) else None
        result = method(self, *args, **kwargs)
        if isinstance(bucket_name, str):
            bucket = self.buckets.get(bucket_name) or before
            if bucket is not None:
                publish(BucketChange(self.account_id, bucket.region_name, bucket_name))
        return result

    return wrapper
