"""Lambda worker processes never outlive their purpose: idle reaping, reset, stop, server death.

These tests start their own servers (idle timeout, kill -9), so the session's server is untouched.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from labrunner.local import lifecycle
from labrunner.local.lifecycle import Endpoint
from tests.conftest import free_port, reset_server
from tests.local.lambda_support import LOGS_STATEMENT, Aws, invoke, unique, wait_for

PID_SOURCE = "import os\ndef handler(event, context):\n    return os.getpid()\n"


def alive(pid: int) -> bool:
    """Running (a zombie waiting for a parent that may never reap it counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def gone(pid: int) -> bool:
    return not alive(pid)


def worker_pid(aws: Aws) -> int:
    name = unique("pid")
    aws.function(name, aws.role(unique("pid-role"), LOGS_STATEMENT), PID_SOURCE)
    pid = invoke(aws, name)[1]
    assert isinstance(pid, int) and alive(pid)
    return pid


@pytest.fixture
def own_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Endpoint]:
    monkeypatch.setenv("LABRUNNER_HOME", str(tmp_path))
    monkeypatch.setenv("LABRUNNER_LAMBDA_IDLE_S", "1")
    monkeypatch.setenv("LABRUNNER_LAMBDA_MAX_WORKERS", "1")
    port = free_port()
    endpoint, _ = lifecycle.start(port)
    try:
        yield endpoint
    finally:
        lifecycle.stop(port)


def test_workers_are_capped_reaped_and_stopped(own_server: Endpoint) -> None:
    aws = Aws(own_server)
    first = worker_pid(aws)
    idle = worker_pid(aws)  # a second function: with one worker allowed, the first one makes room
    assert gone(first)
    wait_for(lambda: gone(idle), timeout=10, what=f"idle worker {idle} to be reaped")
    warm = worker_pid(aws)
    lifecycle.stop(own_server.port)
    wait_for(lambda: gone(warm), timeout=10, what=f"worker {warm} to stop with the server")


def test_workers_die_when_the_server_dies(own_server: Endpoint) -> None:
    pid = worker_pid(Aws(own_server))
    os.kill(own_server.pid, signal.SIGKILL)
    wait_for(lambda: gone(pid), timeout=10, what=f"worker {pid} to exit after its server was killed")


def test_reset_kills_workers(local_server: Endpoint) -> None:
    pid = worker_pid(Aws(local_server))
    reset_server(local_server)
    wait_for(lambda: gone(pid), timeout=10, what=f"worker {pid} to be killed by the reset")
