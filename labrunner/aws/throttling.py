"""Notice when AWS throttles: every throttled answer, also those botocore's retries then got past.

botocore retries a throttled call by itself (standard mode, CLIENT_CONFIG), so the caller never
sees most throttles. Its `needs-retry` event fires after every attempt with the parsed answer; a
handler on the session counts the attempts AWS refused with a throttling error code.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from labrunner.aws.errors import THROTTLING_CODES

if TYPE_CHECKING:
    from labrunner.aws.session import Session


class ThrottleCounter:
    def __init__(self) -> None:
        self._count = 0
        self._lock = threading.Lock()

    def attach(self, session: Session) -> ThrottleCounter:
        """Count on every client the session makes from now on."""
        session.register("needs-retry", self._on_attempt)
        return self

    def _on_attempt(self, response: Any = None, **_: Any) -> None:
        if response is None:  # a connection error, no answer from AWS
            return
        parsed = response[1] if isinstance(response, tuple) and len(response) == 2 else None
        error = parsed.get("Error") if isinstance(parsed, dict) else None
        if isinstance(error, dict) and error.get("Code") in THROTTLING_CODES:
            with self._lock:
                self._count += 1

    def take(self) -> int:
        """How many throttled answers since the last take."""
        with self._lock:
            count, self._count = self._count, 0
            return count
