"""A busy, dead or frozen local server: never a second server over a live one, one line when the
server restarted empty, one line (exit 2) instead of silence when it is frozen."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest

from labrunner.aws import session
from labrunner.errors import LocalServerError
from labrunner.local import lifecycle, state
from labrunner.local.watch import ServerWatch
from tests.conftest import free_port


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LABRUNNER_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture
def own_server(home: Path) -> Iterator[lifecycle.Endpoint]:
    """A server of this test only (killed at the end, whatever the test did to it)."""
    port = free_port()
    endpoint, started = lifecycle.start(port)
    assert started
    yield endpoint
    for sig in (signal.SIGCONT, signal.SIGKILL):
        try:
            os.kill(endpoint.pid, sig)
        except ProcessLookupError:
            break


def _slow_labrunner_server(delay_s: float) -> ThreadingHTTPServer:
    """Answers /_labrunner/health like a labrunner server busy with a class check: after delay_s."""

    class Slow(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(delay_s)
            body = json.dumps({"service": "labrunner-local", "pid": os.getpid()}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_busy_server_is_waited_for_not_replaced(home: Path) -> None:
    server = _slow_labrunner_server(1.5)  # the old 0.5 s probe took it for dead and started a second
    try:
        endpoint, started = lifecycle.start(server.server_port)
    finally:
        server.shutdown()
    assert not started and endpoint.pid == os.getpid()
    assert state.read_state(server.server_port) is None  # no dead child's pid recorded
    assert not (home / f"local-{server.server_port}.log").exists()  # no second server was even tried


def test_dead_server_restarts_empty_and_says_so(own_server: lifecycle.Endpoint) -> None:
    os.kill(own_server.pid, signal.SIGKILL)  # a crash: no `labrunner local stop`
    while lifecycle.listening(own_server.port):
        time.sleep(0.05)
    notices: list[str] = []
    endpoint, started = lifecycle.start(own_server.port, notices.append)
    try:
        assert started and endpoint.pid != own_server.pid
        assert len(notices) == 1, notices
        assert "started again, empty" in notices[0] and "`labrunner up`" in notices[0]
        notices.clear()
        assert lifecycle.start(own_server.port, notices.append) == (endpoint, False)
        assert notices == []  # said once, by the first command only
    finally:
        lifecycle.stop(own_server.port)


def test_stopped_server_is_not_reported_as_restarted(own_server: lifecycle.Endpoint) -> None:
    assert lifecycle.stop(own_server.port)
    notices: list[str] = []
    lifecycle.start(own_server.port, notices.append)
    lifecycle.stop(own_server.port)
    assert notices == []


def test_cli_after_a_crash_says_it_in_one_line(own_server: lifecycle.Endpoint, home: Path) -> None:
    os.kill(own_server.pid, signal.SIGKILL)
    while lifecycle.listening(own_server.port):
        time.sleep(0.05)
    result = subprocess.run(
        [sys.executable, "-m", "labrunner", "check", "setup", "--port", str(own_server.port)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "LABRUNNER_HOME": str(home)},
    )
    lifecycle.stop(own_server.port)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [lines[0]] and lines[0].startswith("labrunner: the local AWS on port"), result.stderr
    assert "`labrunner up`" in lines[0]


def test_frozen_server_is_one_line_and_exit_2(own_server: lifecycle.Endpoint, home: Path) -> None:
    os.kill(own_server.pid, signal.SIGSTOP)
    t0 = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "labrunner", "check", "--port", str(own_server.port)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "LABRUNNER_HOME": str(home), "LABRUNNER_LOCAL_HEALTH_WAIT_S": "1"},
    )
    elapsed = time.monotonic() - t0
    assert result.returncode == 2, result
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "did not answer within 1 s" in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert elapsed < 15, elapsed
    assert lifecycle.stop(own_server.port)  # stop ends a frozen server too
    assert state.read_state(own_server.port) is None


def _hung_server(*, health: bool) -> ThreadingHTTPServer:
    """Accepts AWS requests and never answers them; answers its health check only if `health` (a server
    stuck on requests but alive) — else it is hung as a whole."""
    release = threading.Event()

    class Hung(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if health and self.path == "/_labrunner/health":
                body = json.dumps({"service": "labrunner-local", "pid": os.getpid()}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            release.wait(60)

        do_GET = do_POST

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Hung)
    server.daemon_threads = True
    setattr(server, "release", release)  # noqa: B010
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.parametrize(
    ("health", "says"),
    [(False, "did not answer a request within 1 s nor its health check"), (True, "left a request unanswered twice")],
    ids=["hung", "stuck-but-healthy"],
)
def test_request_to_a_hung_server_is_one_error_not_retries(
    monkeypatch: pytest.MonkeyPatch, health: bool, says: str
) -> None:
    """In flight when the server hangs: an error after one (two) read timeouts, not botocore's 8 attempts."""
    monkeypatch.setenv("LABRUNNER_LOCAL_HEALTH_WAIT_S", "1")
    server = _hung_server(health=health)
    try:
        factory = session.ClientFactory(
            session.new_session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x", region_name="us-east-1"),
            "us-east-1",
            f"http://127.0.0.1:{server.server_port}",
            read_only=False,
            watch=ServerWatch(server.server_port, os.getpid(), read_timeout=1.0),
        )
        t0 = time.monotonic()
        with pytest.raises(LocalServerError, match=says):
            factory.client("sqs").list_queues()
        assert time.monotonic() - t0 < 8  # botocore alone: 8 attempts of 1 s plus backoff, or 90 s each
    finally:
        getattr(server, "release").set()  # noqa: B009
        server.shutdown()


def test_server_frozen_during_a_command_is_one_line(own_server: lifecycle.Endpoint, home: Path) -> None:
    """SIGSTOP after the command's health check (the stack is being deployed): one line, exit 2, soon."""
    # Where /proc tells a stopped process (Linux), even the request in flight ends within a second or
    # two, long before the default read timeout; elsewhere after a (short) read timeout and health check.
    proc = Path("/proc/self/stat").exists()
    env = {
        **os.environ,
        "LABRUNNER_HOME": str(home),
        "LABRUNNER_LOCAL_READ_TIMEOUT_S": "60" if proc else "3",
        "LABRUNNER_LOCAL_HEALTH_WAIT_S": "1",
    }
    command = subprocess.Popen(
        [sys.executable, "-m", "labrunner", "solve", "setup", "--port", str(own_server.port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    cfn = boto3.client(
        "cloudformation",
        endpoint_url=own_server.url,
        aws_access_key_id=own_server.access_key,
        aws_secret_access_key=own_server.secret_key,
        region_name=own_server.region,
    )
    deadline = time.monotonic() + 60
    while not cfn.describe_stacks()["Stacks"] and command.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert command.poll() is None, command.communicate()  # the command is still running
    os.kill(own_server.pid, signal.SIGSTOP)
    t0 = time.monotonic()
    try:
        _, stderr = command.communicate(timeout=60)
    finally:
        command.kill()
    elapsed = time.monotonic() - t0
    assert command.returncode == 2, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"labrunner: the local AWS on port {own_server.port}"), stderr
    assert ("stopped (SIGSTOP)" if proc else "it is hung") in lines[0] and "Traceback" not in stderr
    assert elapsed < 15, elapsed
