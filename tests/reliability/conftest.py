"""Fixtures for the reliability tests: fault settings that never outlive a test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from labrunner.local.lifecycle import Endpoint
from tests.conftest import reset_server


@pytest.fixture
def faulty_server(fresh_server: Endpoint) -> Iterator[Endpoint]:
    """The session's server, wiped; wiped again afterwards, which also turns every fault back off."""
    yield fresh_server
    reset_server(fresh_server)
