"""The WSGI application of the local AWS: moto's dispatcher, wrapped by the fidelity middleware.

Admin endpoints under /_labrunner/ are the server's own (health, reset, and whatever fidelity
modules register with `register_admin_endpoint`); everything else is AWS. access.py first refuses
foreign Host headers and control requests not signed by the local admin.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from labrunner import __version__
from labrunner.local import access
from labrunner.local.hooks import ServerHooks, WSGIApp

SERVICE_NAME = "labrunner-local"
ADMIN_PREFIX = "/_labrunner/"


@dataclass(frozen=True)
class AdminRequest:
    """A request to an admin endpoint registered by a fidelity module."""

    method: str
    name: str  # the path after /_labrunner/, e.g. "s3/legacy-unencrypted"
    query: dict[str, str]
    body: bytes


class AdminError(Exception):
    """Raised by an admin handler: answered as JSON {"error": message} with this HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


AdminHandler = Callable[[AdminRequest], dict[str, Any]]
_ADMIN_ENDPOINTS: dict[tuple[str, str], AdminHandler] = {}
_HTTP_STATUS = {200: "200 OK", 400: "400 Bad Request", 404: "404 Not Found", 409: "409 Conflict"}


def register_admin_endpoint(method: str, name: str, handler: AdminHandler) -> None:
    """Serve `METHOD /_labrunner/<name>` with handler (a fidelity module's own admin endpoint).

    The handler returns the JSON body of a 200 answer, or raises AdminError.
    """
    _ADMIN_ENDPOINTS[(method.upper(), name)] = handler


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
        refused = access.refusal(environ, start_response, self.hooks.port, self.hooks.admin_secret)
        if refused is not None:
            return refused
        path = environ.get("PATH_INFO", "")
        if path.startswith(ADMIN_PREFIX):
            return self.admin(path[len(ADMIN_PREFIX) :], environ, start_response)
        return self.aws(environ, start_response)

    def admin(self, name: str, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
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
        handler = _ADMIN_ENDPOINTS.get((method, name))
        if handler is not None:
            return self.call_registered(handler, method, name, environ, start_response)
        return json_response(start_response, "404 Not Found", {"error": f"no admin endpoint {name!r}"})

    @staticmethod
    def call_registered(
        handler: AdminHandler,
        method: str,
        name: str,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
    ) -> Iterable[bytes]:
        query = dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        try:
            answer = handler(AdminRequest(method=method, name=name, query=query, body=body))
        except AdminError as exc:
            status = _HTTP_STATUS.get(exc.status, f"{exc.status} Error")
            return json_response(start_response, status, {"error": exc.message})
        return json_response(start_response, "200 OK", answer)
