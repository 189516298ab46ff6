"""Fixtures for reset tests: a context on a wiped local server, with or without the workload."""

from __future__ import annotations

import pytest

from labrunner.context import Context
from labrunner.local.lifecycle import Endpoint
from labrunner.model import Status
from tests.helpers import local_context, run, statuses


@pytest.fixture
def ctx(fresh_server: Endpoint, local_env: Endpoint) -> Context:
    """A context on a wiped local server (nothing deployed), default account."""
    return local_context(fresh_server)


@pytest.fixture
def deployed(ctx: Context) -> Context:
    """The workload deployed and working (`labrunner up`)."""
    report = run(ctx, "solve", ["setup"])
    assert statuses(report) == {"setup.stack": Status.PASS, "setup.pipeline": Status.PASS}, report
    ctx.refresh()
    return ctx
