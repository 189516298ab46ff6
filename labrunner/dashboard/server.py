"""The dashboard's HTTP server: the standard library's ThreadingHTTPServer on 127.0.0.1.

Every request must carry the token printed with the URL (`?token=…`, compared in constant time),
else 403: other users of the machine can reach 127.0.0.1 too, and the page shows students' accounts.
Routes: `/` the page, `/static/…` its CSS and JavaScript, `/api/class` the last complete round as
`labrunner.class-report/v1`, `/api/events` server-sent events (a snapshot, then every change).
"""

from __future__ import annotations

import hmac
import json
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from labrunner.dashboard.state import ClassState

HOST = "127.0.0.1"
KEEPALIVE_S = 15.0  # a comment line this often keeps proxies and the browser from closing the stream
ASSETS = {"app.css": "text/css; charset=utf-8", "app.js": "text/javascript; charset=utf-8"}
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the token is in the URL: never hand it to another site
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
}


def asset(name: str) -> bytes:
    return resources.files("labrunner.dashboard").joinpath("static", name).read_bytes()


class DashboardServer(ThreadingHTTPServer):
    daemon_threads = True  # open event streams never hold up the exit
    allow_reuse_address = True

    def __init__(self, port: int, state: ClassState, token: str) -> None:
        self.state = state
        self.token = token
        super().__init__((HOST, port), DashboardHandler)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}/?token={self.token}"


class DashboardHandler(BaseHTTPRequestHandler):
    server: DashboardServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # the terminal shows only the URL
        return

    # -- plumbing ------------------------------------------------------------------------------
    def _authorized(self, query: dict[str, list[str]]) -> bool:
        given = query.get("token", [""])[0].encode()
        return hmac.compare_digest(given, self.server.token.encode())

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: HTTPStatus, payload: Any) -> None:
        self._send(status, json.dumps(payload, indent=2).encode() + b"\n", "application/json")

    def _text(self, status: HTTPStatus, text: str) -> None:
        self._send(status, text.encode() + b"\n", "text/plain; charset=utf-8")

    # -- routes --------------------------------------------------------------------------------
    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if not self._authorized(parse_qs(url.query)):
            self._text(HTTPStatus.FORBIDDEN, "forbidden: open the URL that `labrunner class serve` printed")
            return
        if url.path == "/":
            page = asset("index.html").replace(b"__TOKEN__", quote(self.server.token).encode())
            self._send(HTTPStatus.OK, page, "text/html; charset=utf-8")
        elif url.path.startswith("/static/") and url.path.removeprefix("/static/") in ASSETS:
            name = url.path.removeprefix("/static/")
            self._send(HTTPStatus.OK, asset(name), ASSETS[name])
        elif url.path == "/api/class":
            report = self.server.state.class_report()
            if report is None:
                self._json(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "the first check of the class is still running"})
            else:
                self._json(HTTPStatus.OK, report)
        elif url.path == "/api/events":
            self._events()
        else:
            self._text(HTTPStatus.NOT_FOUND, "not found")

    do_HEAD = do_GET

    def _refuse(self) -> None:
        url = urlsplit(self.path)
        if not self._authorized(parse_qs(url.query)):
            self._text(HTTPStatus.FORBIDDEN, "forbidden")
        else:
            self._text(HTTPStatus.METHOD_NOT_ALLOWED, "the dashboard is read-only")

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse

    def _events(self) -> None:
        """Server-sent events: a snapshot, then each change as it happens, until the page goes away."""
        state = self.server.state
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.close_connection = True
        if self.command == "HEAD":
            return
        try:
            seq, snapshot = state.snapshot()
            self._event("snapshot", snapshot, retry_ms=2000)
            while not state.closed:
                events = state.events_after(seq, KEEPALIVE_S)
                if events is None:  # fell behind: start over from the present
                    seq, snapshot = state.snapshot()
                    self._event("snapshot", snapshot)
                    continue
                if not events:
                    self.wfile.write(b": keepalive\n\n")
                    self.wfile.flush()
                for event in events:
                    self._event(event.name, event.data)
                    seq = event.seq
        except (BrokenPipeError, ConnectionResetError):
            return  # the page was closed or reloaded

    def _event(self, name: str, data: dict[str, Any], *, retry_ms: int | None = None) -> None:
        head = f"retry: {retry_ms}\n" if retry_ms is not None else ""
        self.wfile.write(f"{head}event: {name}\ndata: {json.dumps(data)}\n\n".encode())
        self.wfile.flush()
