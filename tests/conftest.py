"""Shared fixtures: one local AWS server per test session, on a free port, in a private home."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from labrunner.context import Context
from labrunner.local import admin, lifecycle
from labrunner.model import Status
from tests.helpers import local_context, run, statuses

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach a real AWS endpoint: there are no real credentials or profiles here."""
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/labrunner-test-aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/labrunner-test-aws-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="session")
def labrunner_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("labrunner-home")


@pytest.fixture(scope="session")
def local_server(labrunner_home: Path) -> Iterator[lifecycle.Endpoint]:
    """A local AWS server started the way `labrunner local start` does, stopped at the end."""
    old = os.environ.get("LABRUNNER_HOME")
    os.environ["LABRUNNER_HOME"] = str(labrunner_home)
    port = free_port()
    endpoint, started = lifecycle.start(port)
    assert started
    try:
        yield endpoint
    finally:
        lifecycle.stop(port)
        if old is None:
            os.environ.pop("LABRUNNER_HOME", None)
        else:
            os.environ["LABRUNNER_HOME"] = old


def reset_server(endpoint: lifecycle.Endpoint) -> None:
    """Wipe every account (a control request, signed by the local admin)."""
    assert admin.control(endpoint.url, "POST", "reset", secret=endpoint.secret_key)["reset"] is True


@pytest.fixture
def fresh_server(local_server: lifecycle.Endpoint) -> lifecycle.Endpoint:
    """The session's server with every account wiped first."""
    reset_server(local_server)
    return local_server


@pytest.fixture
def admin_session(local_server: lifecycle.Endpoint) -> boto3.Session:
    """A boto3 session as the local admin (the identity `labrunner local env` prints)."""
    return boto3.Session(
        aws_access_key_id=local_server.access_key,
        aws_secret_access_key=local_server.secret_key,
        region_name=local_server.region,
    )


@pytest.fixture
def local_env(local_server: lifecycle.Endpoint, monkeypatch: pytest.MonkeyPatch) -> lifecycle.Endpoint:
    """Point boto3 (AWS_ENDPOINT_URL) and labrunner's local target at the session's server."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", local_server.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", local_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", local_server.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", local_server.region)
    monkeypatch.setenv("LABRUNNER_LOCAL_PORT", str(local_server.port))
    return local_server


@pytest.fixture
def ctx(fresh_server: lifecycle.Endpoint, local_env: lifecycle.Endpoint) -> Context:
    """A context on a wiped local server (nothing deployed), default account."""
    return local_context(fresh_server)


@pytest.fixture
def deployed(ctx: Context) -> Context:
    """A context whose account holds the freshly deployed, working workload (`labrunner up`)."""
    report = run(ctx, "solve", ["setup"])
    assert statuses(report) == {"setup.stack": Status.PASS, "setup.pipeline": Status.PASS}, report
    ctx.refresh()
    return ctx
