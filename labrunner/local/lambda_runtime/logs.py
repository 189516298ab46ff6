"""Writes a worker's log events to CloudWatch Logs, as the Lambda service does for a container.

Lambda writes with the execution role's permissions: without logs:CreateLogGroup /
CreateLogStream / PutLogEvents on the function's log group, nothing is written.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from labrunner.local.lambda_runtime.permissions import role_allows
from labrunner.local.lambda_runtime.spec import FunctionSpec


@dataclass(frozen=True)
class LogEvent:
    timestamp_ms: int
    message: str


def new_stream_name(version: str = "$LATEST") -> str:
    """A container's stream: YYYY/MM/DD/[$LATEST]<32 hex digits>, dated when it starts."""
    return time.strftime("%Y/%m/%d", time.gmtime()) + f"/[{version}]" + secrets.token_hex(16)


class FunctionLog:
    """One worker's log stream in /aws/lambda/<function>."""

    def __init__(self, spec: FunctionSpec, stream_name: str) -> None:
        self.spec = spec
        self.stream_name = stream_name
        self._lock = threading.Lock()
        self._last_ms = 0

    def _arn(self, suffix: str) -> str:
        spec = self.spec
        return f"arn:aws:logs:{spec.region}:{spec.account_id}:log-group:{spec.log_group}:{suffix}"

    def _allowed(self, action: str, resource: str) -> bool:
        return role_allows(self.spec.account_id, self.spec.role_arn, action, resource)

    def write(self, events: Iterable[LogEvent]) -> bool:
        """Deliver the events in order; False when the role may not write them (dropped)."""
        from moto.logs.models import logs_backends

        batch = list(events)
        if not batch:
            return True
        backend = logs_backends[self.spec.account_id][self.spec.region]
        group_name = self.spec.log_group
        stream_arn = self._arn(f"log-stream:{self.stream_name}")
        with self._lock:
            group = backend.groups.get(group_name)
            if group is None:
                if not self._allowed("logs:CreateLogGroup", self._arn("*")):
                    return False
                backend.ensure_log_group(group_name)
                group = backend.groups[group_name]
            if self.stream_name not in group.streams:
                if not self._allowed("logs:CreateLogStream", stream_arn):
                    return False
                backend.create_log_stream(group_name, self.stream_name)
            if not self._allowed("logs:PutLogEvents", stream_arn):
                return False
            records = []
            for event in batch:
                # PutLogEvents needs chronological order; clocks of two processes may disagree.
                self._last_ms = max(self._last_ms, event.timestamp_ms)
                records.append({"timestamp": self._last_ms, "message": event.message})
            backend.put_log_events(group_name, self.stream_name, records)
        return True
