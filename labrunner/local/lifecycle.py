"""Start, stop and find the background local AWS server (SPEC §2, §3 `labrunner local`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
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


def status(port: int) -> Endpoint | None:
    health = probe(port)
    if health is None:
        return None
    return Endpoint(url=f"http://{HOST}:{port}", port=port, pid=int(health["pid"]))


def start(port: int) -> tuple[Endpoint, bool]:
    """Start the server in the background unless it runs; returns (endpoint, started_now)."""
    running = status(port)
    if running is not None:
        return running, False
    try:
        from labrunner.local import faults  # reads the knobs' variables when imported

        faults.check_environment()  # a bad knob is the user's line to fix, not a server that dies at start
    except ValueError as exc:
        raise UsageError(str(exc)) from None
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
            if code == EXIT_PORT_IN_USE:
                raise LocalServerError(
                    f"port {port} on {HOST} is already in use by another program; "
                    "choose another port with --port or LABRUNNER_LOCAL_PORT"
                )
            raise LocalServerError(f"the local AWS server exited with code {code}; see {log_path}")
        health = probe(port, timeout=0.2)
        if health is not None:
            state.write_state(
                state.ServerState(pid=proc.pid, port=port, started_at=time.time(), log_file=str(log_path))
            )
            return Endpoint(url=f"http://{HOST}:{port}", port=port, pid=proc.pid), True
        time.sleep(0.05)
    proc.kill()
    raise LocalServerError(f"the local AWS server did not answer within {START_TIMEOUT_S:.0f} s; see {log_path}")


def stop(port: int, timeout: float = 15.0) -> bool:
    """Stop the server on the port; False when none was running."""
    running = status(port)
    recorded = state.read_state(port)
    pid = running.pid if running else (recorded.pid if recorded else None)
    if running is None:
        state.clear_state(port)
        return False
    assert pid is not None
    try:
        os.kill(pid, signal.SIGTERM)
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
