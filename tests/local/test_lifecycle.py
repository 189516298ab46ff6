"""Server lifecycle: start is idempotent, a foreign port is refused, stop stops."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from labrunner.errors import LocalServerError
from labrunner.local import lifecycle, state
from tests.conftest import free_port


def test_start_is_idempotent_and_records_state(local_server: lifecycle.Endpoint) -> None:
    again, started = lifecycle.start(local_server.port)
    assert not started
    assert again.pid == local_server.pid
    recorded = state.read_state(local_server.port)
    assert recorded is not None and recorded.pid == local_server.pid


def test_listens_on_loopback_only(local_server: lifecycle.Endpoint) -> None:
    addresses = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
    addresses.discard("127.0.0.1")
    for address in addresses:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            assert sock.connect_ex((address, local_server.port)) != 0, address


def test_foreign_program_on_port_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABRUNNER_HOME", str(tmp_path))

    class Hello(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"hello")

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", free_port()), Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with pytest.raises(LocalServerError, match="used by another program"):
            lifecycle.start(server.server_port)
    finally:
        server.shutdown()


def test_stop_then_status(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABRUNNER_HOME", str(tmp_path))
    port = free_port()
    endpoint, started = lifecycle.start(port)
    assert started and lifecycle.status(port) == endpoint
    assert lifecycle.stop(port) is True
    assert lifecycle.status(port) is None
    assert state.read_state(port) is None
    assert lifecycle.stop(port) is False


def test_env_lines_are_posix_exports(local_server: lifecycle.Endpoint) -> None:
    lines = lifecycle.env_lines(local_server)
    assert all(line.startswith("export ") for line in lines)
    names = {line.split()[1].split("=")[0] for line in lines}
    assert {"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"} <= names
