"""Delays of AWS's asynchronous work (log delivery, Config evaluation), for fault injection.

Each delay starts at its environment variable (seconds, default 0 = immediate), can be changed
while the server runs through its admin endpoint, and goes back to the environment's value on
POST /_labrunner/reset, so one test's delay never leaks into the next.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from labrunner.local.hooks import ServerHooks


class Delay:
    """A delay in seconds that a fidelity module reads each time it schedules work."""

    def __init__(self, env_var: str, endpoint: str) -> None:
        self.env_var = env_var
        self.endpoint = endpoint
        self._lock = threading.Lock()
        self._seconds = self.from_environment()

    def from_environment(self) -> float:
        raw = os.environ.get(self.env_var, "").strip()
        if not raw:
            return 0.0
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"{self.env_var} must be a number of seconds, not {raw!r}") from None
        if value < 0:
            raise ValueError(f"{self.env_var} must not be negative, not {raw!r}")
        return value

    @property
    def seconds(self) -> float:
        with self._lock:
            return self._seconds

    def set(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a delay must not be negative")
        with self._lock:
            self._seconds = seconds

    def restore(self) -> None:
        self.set(self.from_environment())

    def install(self, hooks: ServerHooks) -> None:
        """Serve GET/POST /_labrunner/<endpoint>[?seconds=N] and restore the default on reset."""
        from labrunner.local.app import AdminError, AdminRequest, register_admin_endpoint

        def show(_request: AdminRequest) -> dict[str, Any]:
            return {"seconds": self.seconds, "env_var": self.env_var}

        def change(request: AdminRequest) -> dict[str, Any]:
            try:
                self.set(float(request.query.get("seconds", "")))
            except ValueError:
                raise AdminError(400, "give ?seconds=N, a number >= 0") from None
            return show(request)

        register_admin_endpoint("GET", self.endpoint, show)
        register_admin_endpoint("POST", self.endpoint, change)
        hooks.on_reset(self.restore)
