"""Gap: moto's SetQueueAttributes removes the queue's access policy whenever the call does not
set `Policy` itself (e.g. changing VisibilityTimeout or SqsManagedSseEnabled).

AWS changes only the attributes given. Here the policy is changed only when `Policy` is among
them (an empty string removes it, as on AWS).
"""

from __future__ import annotations

import functools
from typing import Any

from labrunner.local.hooks import ServerHooks


def install(hooks: ServerHooks) -> None:
    from moto.sqs.models import Queue

    original = Queue._set_attributes

    @functools.wraps(original)
    def set_attributes(self: Any, attributes: dict[str, Any], now: float | None = None) -> None:
        if "Policy" in attributes:
            original(self, attributes, now)
            return
        kept = self.policy
        original(self, attributes, now)
        self.policy = kept

    setattr(Queue, "_set_attributes", set_attributes)  # noqa: B010 (patching moto)
