"""Retry what AWS refuses for dependency or consistency reasons, until a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from labrunner.aws.errors import THROTTLING_CODES, error_code

T = TypeVar("T")

# AWS says "not yet": something still depends on it, or another change is still settling.
RETRYABLE_CODES = frozenset(
    {
        "BucketNotEmpty",  # an access log or Config delivery arrived after emptying
        "OperationAborted",  # S3: a conflicting operation on the bucket is in progress
        "ResourceInUseException",  # Config: a rule is being evaluated or deleted
        "LastDeliveryChannelDeleteFailedException",  # Config: the recorder has not stopped yet
        "DeleteConflict",  # IAM: policies still attached
        "ConcurrentModificationException",
        "ResourceConflictException",
        "OperationAbortedException",
        *THROTTLING_CODES,
    }
)


def retrying(
    action: Callable[[], T],
    *,
    deadline_s: float,
    codes: frozenset[str] = RETRYABLE_CODES,
    before_retry: Callable[[BaseException], None] | None = None,
    interval_s: float = 0.2,
) -> T:
    """Run `action`; while it fails with one of `codes` and time is left, fix up and try again."""
    deadline = time.monotonic() + deadline_s
    delay = interval_s
    while True:
        try:
            return action()
        except Exception as exc:
            if error_code(exc) not in codes or time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
            if before_retry is not None:
                before_retry(exc)
