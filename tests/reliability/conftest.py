"""Fixtures for the reliability tests: fault settings that never outlive a test; a deployed workload."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from labrunner.context import Context
from labrunner.local.lifecycle import Endpoint
from labrunner.model import Status
from tests.conftest import reset_server
from tests.helpers import local_context, run, statuses


@pytest.fixture
def faulty_server(fresh_server: Endpoint) -> Iterator[Endpoint]:
    """The session's server, wiped; wiped again afterwards, which also turns every fault back off."""
    yield fresh_server
    reset_server(fresh_server)


@pytest.fixture
def deployed(fresh_server: Endpoint, local_env: Endpoint) -> Context:
    """A context whose wiped account holds the deployed, working workload (`labrunner up`)."""
    ctx = local_context(fresh_server)
    report = run(ctx, "solve", ["setup"])
    assert set(statuses(report).values()) == {Status.PASS}, report
    ctx.refresh()
    return ctx
