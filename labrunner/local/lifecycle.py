"""Start, stop and find the background local AWS server (SPEC §2, §3 `labrunner local`)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from labrunner.errors import LocalServerError, UsageError
from labrunner.local import identity, state
from labrunner.local.server import EXIT_PORT_IN_USE, HOST

START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Endpoint:
    """How a client reaches a running local server."""

    url: str
    port: int
    pid: int
    access_key: str = identity.ADMIN_ACCESS_KEY
    # The admin's secret of this LABRUNNER_HOME (the server reads the same file).
    secret_key: str = field(default_factory=state.admin_secret, repr=False)
    region: str = identity.DEFAULT_REGION


def probe(port: int, timeout: float = 0.5) -> dict[str, Any] | None:
    """The health answer of a labrunner server on the port; None if nothing of ours answers.

    Raises LocalServerError when the port answers but is not a labrunner server.
    """
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/_labrunner/health", timeout=timeout) as resp:
            body = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise LocalServerError(
            f"port {port} on {HOST} is used by another program (it answered HTTP {exc.code}); "
            "choose another port with --port or LABRUNNER_LOCAL_PORT"
        ) from None
    except (urllib.error.URLError, OSError, TimeoutError):
        return None
    except ValueError:
        raise LocalServerError(
            f"port {port} on {HOST} is used by another program; choose another port with --port or LABRUNNER_LOCAL_PORT"
        ) from None
    if not isinstance(body, dict) or body.get("service") != "labrunner-local":
        raise LocalServerError(
            f"port {port} on {HOST} is used by another program; choose another port with --port or LABRUNNER_LOCAL_PORT"
        )
    return body


def health_wait_s() -> float:
    """How long to wait for a listening server's health answer (LABRUNNER_LOCAL_HEALTH_WAIT_S)."""
    from labrunner.errors import UsageError
    from labrunner.local.faults import HEALTH_WAIT

    try:
        return HEALTH_WAIT.from_environment()
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def listening(port: int) -> bool:
    """Whether anything accepts connections on the port (a stopped process's socket still does)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((HOST, port)) == 0


def status(port: int, wait: float | None = None) -> Endpoint | None:
    """The running server on the port; None when nothing listens there.

    A server that listens but does not answer its health check within health_wait_s() (stopped,
    hung) is a LocalServerError, never "not running": starting a second one over it cannot work.
    """
    if not listening(port):
        return None
    wait = health_wait_s() if wait is None else wait
    health = probe(port, timeout=wait)
    if health is None:
        recorded = state.read_state(port)
        who = f" (pid {recorded.pid})" if recorded and _alive(recorded.pid) else ""
        raise LocalServerError(
            f"the local AWS on port {port}{who} accepts connections but did not answer within {wait:g} s: it is "
            "stopped or hung; `labrunner local stop` ends it (LABRUNNER_LOCAL_HEALTH_WAIT_S waits longer)"
        )
    return Endpoint(url=f"http://{HOST}:{port}", port=port, pid=int(health["pid"]))


def restarted_notice(port: int, previous: state.ServerState) -> str:
    return (
        f"the local AWS on port {port} had stopped (pid {previous.pid} is gone) and was started again, empty: "
        "everything deployed in it before is lost; run `labrunner up` to deploy the workload again"
    )


def start(port: int, notify: Callable[[str], None] | None = None) -> tuple[Endpoint, bool]:
    """Start the server in the background unless it runs; returns (endpoint, started_now).

    When a server recorded in the state file died without `labrunner local stop` (a crash, a kill,
    a reboot), `notify` gets one line saying the new one starts empty and what to run.
    """
    running = status(port)
    if running is not None:
        return running, False
    try:
        from labrunner.local import faults  # reads the knobs' variables when imported

        faults.check_environment()  # a bad knob is the user's line to fix, not a server that dies at start
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    previous = state.read_state(port)
    log_path = state.log_file(port)
    state.admin_secret()  # made before the server starts, so that it and its clients read the same one
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.fchmod(fd, 0o600)  # a log left by an older version may be world-readable
    with os.fdopen(fd, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "labrunner.local.server", "--port", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives the command that started it
            env=env,
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            if code == EXIT_PORT_IN_USE and (other := probe(port, timeout=health_wait_s())) is not None:
                # Another command's server won the port between our check and our bind: use it.
                return Endpoint(url=f"http://{HOST}:{port}", port=port, pid=int(other["pid"])), False
            if code == EXIT_PORT_IN_USE:
                raise LocalServerError(
                    f"port {port} on {HOST} is already in use by another program; "
                    "choose another port with --port or LABRUNNER_LOCAL_PORT"
                )
            raise LocalServerError(f"the local AWS server exited with code {code}; see {log_path}")
        health = probe(port, timeout=0.2)
        if health is not None:
            if int(health["pid"]) != proc.pid:  # another command started one at the same moment: use it
                _end_child(proc)
                return Endpoint(url=f"http://{HOST}:{port}", port=port, pid=int(health["pid"])), False
            state.write_state(
                state.ServerState(pid=proc.pid, port=port, started_at=time.time(), log_file=str(log_path))
            )
            if previous is not None and notify is not None:
                notify(restarted_notice(port, previous))
            return Endpoint(url=f"http://{HOST}:{port}", port=port, pid=proc.pid), True
        time.sleep(0.05)
    proc.kill()
    raise LocalServerError(f"the local AWS server did not answer within {START_TIMEOUT_S:.0f} s; see {log_path}")


def _end_child(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def stop(port: int, timeout: float = 15.0) -> bool:
    """Stop the server on the port; False when none was running."""
    recorded = state.read_state(port)
    try:  # a recorded, live server that does not answer soon is ended anyway: no need for the long wait
        running = status(port, wait=2.0 if recorded is not None and _alive(recorded.pid) else None)
    except LocalServerError:  # listening but not answering (stopped, hung): the recorded server, if alive
        if recorded is None or not _alive(recorded.pid):
            raise
        running = Endpoint(url=recorded.url, port=port, pid=recorded.pid)
    if running is None:
        state.clear_state(port)
        return False
    pid = running.pid
    try:
        os.kill(pid, signal.SIGTERM)
        os.kill(pid, signal.SIGCONT)  # a stopped (SIGSTOP) server handles the SIGTERM now
    except ProcessLookupError:
        state.clear_state(port)
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
    state.clear_state(port)
    return True


def is_alive(pid: int) -> bool:
    """Whether the process runs (or is stopped) — not gone, not a zombie of ours."""
    return _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours counts as gone.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def env_lines(endpoint: Endpoint) -> list[str]:
    """POSIX export lines that point the aws CLI and boto3 at the local server."""
    return [
        f"export AWS_ENDPOINT_URL={endpoint.url}",
        f"export AWS_ACCESS_KEY_ID={endpoint.access_key}",
        f"export AWS_SECRET_ACCESS_KEY={endpoint.secret_key}",
        f"export AWS_DEFAULT_REGION={endpoint.region}",
        f"export AWS_REGION={endpoint.region}",
    ]
