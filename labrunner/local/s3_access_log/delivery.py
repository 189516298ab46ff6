"""Delivery of access log records as objects in the target bucket, now or after a delay.

AWS delivers access logs in batches, best effort, usually within hours; the local server
delivers immediately by default (tests read them at once) or, with a delay set for fault
injection, gathers each source bucket's records for that long into one log object.
At delivery, as on AWS, the target must still exist and still let the logging service write;
otherwise the records are dropped.
"""

from __future__ import annotations

import secrets
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from labrunner.local.delays import Delay
from labrunner.local.s3_access_log.permissions import delivery_allowed


@dataclass(frozen=True)
class LogDestination:
    """Where one source bucket's records go (its logging configuration when they were made)."""

    account_id: str
    partition: str
    target_bucket: str
    target_prefix: str
    partitioned: bool  # TargetObjectKeyFormat PartitionedPrefix instead of the simple prefix
    source_bucket: str
    source_region: str

    @property
    def source_arn(self) -> str:
        return f"arn:{self.partition}:s3:::{self.source_bucket}"


def log_object_key(destination: LogDestination, moment: datetime) -> str:
    """TargetPrefix + YYYY-mm-DD-HH-MM-SS-UniqueString, or the partitioned form."""
    unique = secrets.token_hex(8).upper()
    stamp = moment.strftime("%Y-%m-%d-%H-%M-%S")
    if destination.partitioned:
        return (
            f"{destination.target_prefix}{destination.account_id}/{destination.source_region}/"
            f"{destination.source_bucket}/{moment:%Y/%m/%d}/{stamp}-{unique}"
        )
    return f"{destination.target_prefix}{stamp}-{unique}"


class LogDelivery:
    """Writes records now (delay 0) or batches them per destination until the delay is over."""

    def __init__(self, delay: Delay) -> None:
        self.delay = delay
        self._lock = threading.Lock()
        self._batches: dict[LogDestination, list[str]] = {}
        self._timers: dict[LogDestination, threading.Timer] = {}

    def submit(self, destination: LogDestination, lines: list[str]) -> None:
        seconds = self.delay.seconds
        if seconds <= 0:
            self.write(destination, lines)
            return
        with self._lock:
            batch = self._batches.setdefault(destination, [])
            batch.extend(lines)
            if destination not in self._timers:
                timer = threading.Timer(seconds, self.flush, args=(destination,))
                timer.daemon = True
                self._timers[destination] = timer
                timer.start()

    def flush(self, destination: LogDestination) -> None:
        with self._lock:
            lines = self._batches.pop(destination, [])
            self._timers.pop(destination, None)
        if lines:
            self.write(destination, lines)

    def clear(self) -> None:
        """Forget pending records (the accounts were wiped)."""
        with self._lock:
            for timer in self._timers.values():
                timer.cancel()
            self._timers.clear()
            self._batches.clear()

    @staticmethod
    def write(destination: LogDestination, lines: list[str]) -> None:
        from moto.s3.models import s3_backends

        backend = s3_backends[destination.account_id][destination.partition]
        target = backend.buckets.get(destination.target_bucket)
        key = log_object_key(destination, datetime.now(UTC))
        if target is None or not delivery_allowed(target, key, destination.source_arn, destination.account_id):
            return  # AWS drops what it cannot deliver
        body = ("\n".join(lines) + "\n").encode()
        try:
            backend.put_object(destination.target_bucket, key, body)
        except Exception as exc:  # best effort, as on AWS; the server log says why
            print(f"access log delivery to {destination.target_bucket} failed: {exc!r}", file=sys.stderr)
