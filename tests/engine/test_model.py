"""Step status follows from its checks."""

from __future__ import annotations

import pytest

from labrunner.model import Check, Status, status_of

OK = Check.ok("a", "fine")
BAD = Check.fail("b", "not met", "do it")
WAIT = Check.waiting("c", "not delivered yet", "wait")


@pytest.mark.parametrize(
    ("checks", "status"),
    [
        pytest.param((OK,), Status.PASS, id="all-ok"),
        pytest.param((OK, BAD), Status.FAIL, id="one-fail"),
        pytest.param((OK, WAIT), Status.PENDING, id="waiting"),
        pytest.param((WAIT, BAD), Status.FAIL, id="fail-beats-waiting"),
        pytest.param((), Status.ERROR, id="no-checks-is-a-bug"),
    ],
)
def test_status_of(checks: tuple[Check, ...], status: Status) -> None:
    assert status_of(checks) is status
