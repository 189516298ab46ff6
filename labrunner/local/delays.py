"""Delays of AWS's asynchronous work (log delivery, Config evaluation), for fault injection.

Each delay starts at its environment variable (seconds, default 0 = immediate, or the value of the
`aws` timing profile, labrunner/local/faults/profile.py), can be changed
while the server runs through its admin endpoint, and goes back to the environment's value on
POST /_labrunner/reset, so one test's delay never leaks into the next.
"""

from __future__ import annotations

import math
import threading
from typing import Any

from labrunner.local.faults.profile import environment_value
from labrunner.local.hooks import ServerHooks


class Delay:
    """A delay in seconds that a fidelity module reads each time it schedules work."""

    def __init__(self, name: str, env_var: str, endpoint: str) -> None:
        self.name = name  # the knob's name in /_labrunner/faults and `labrunner local faults`
        self.env_var = env_var
        self.endpoint = endpoint
        self._lock = threading.Lock()
        self._seconds = self.from_environment()

    def from_environment(self) -> float:
        return environment_value(self.name, self.env_var, 0.0, self.parse, timing=True)

    @staticmethod
    def parse(raw: str, source: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"{source} must be a number of seconds, not {raw!r}") from None
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{source} must be a number of seconds >= 0, not {raw!r}")
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
