"""The WSGI application of the local AWS: moto's dispatcher, wrapped by the fidelity middleware.

Admin endpoints under /_labrunner/ are the server's own (health, reset); everything else is AWS.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from labrunner import __version__
from labrunner.local.hooks import ServerHooks, WSGIApp

SERVICE_NAME = "labrunner-local"
ADMIN_PREFIX = "/_labrunner/"


def json_response(start_response: Callable[..., Any], status: str, body: dict[str, Any]) -> Iterable[bytes]:
    payload = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]


def reset_all_accounts(hooks: ServerHooks) -> None:
    """Wipe every account (moto's reset), then let fidelity modules re-create their state."""
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()
    for callback in hooks.reset_callbacks:
        callback()


class LocalAWSApp:
    def __init__(self, hooks: ServerHooks, installed: list[str]) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self.hooks = hooks
        self.installed = installed
        self.started_at = time.time()
        self._reset_lock = threading.Lock()
        self.aws: WSGIApp = hooks.wrap(DomainDispatcherApplication(create_backend_app))

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(ADMIN_PREFIX):
            return self.admin(path[len(ADMIN_PREFIX) :], environ, start_response)
        return self.aws(environ, start_response)

    def admin(
        self, name: str, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if name == "health":
            return json_response(
                start_response,
                "200 OK",
                {
                    "service": SERVICE_NAME,
                    "version": __version__,
                    "pid": os.getpid(),
                    "port": self.hooks.port,
                    "uptime_s": round(time.time() - self.started_at, 3),
                    "fidelity": self.installed,
                },
            )
        if name == "reset" and method == "POST":
            with self._reset_lock:
                reset_all_accounts(self.hooks)
            return json_response(start_response, "200 OK", {"reset": True})
        return json_response(start_response, "404 Not Found", {"error": f"no admin endpoint {name!r}"})
