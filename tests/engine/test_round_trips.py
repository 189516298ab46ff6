"""`check` of every lab waits on few sequential AWS round trips (issue 16).

Every AWS request is held DELAY_S before it is sent (a round trip far longer than the local work between
requests); the longest chain of requests whose round trips did not overlap in time is what a check pays
in latency: reads that depend on each other, reads made one after another although they need not be,
and steps queued behind others. Counted, not timed: the figure does not depend on how fast this machine is.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from labrunner.aws.fan_out import fan_out, together
from labrunner.context import Context
from labrunner.model import Status
from tests.helpers import run, statuses

DELAY_S = 0.4
MAX_ROUND_TRIPS = 8


def longest_chain(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The most round trips that ran one after another (greedy by end: optimal for intervals)."""
    chain: list[tuple[float, float]] = []
    for start, end in sorted(spans, key=lambda span: span[1]):
        if not chain or start >= chain[-1][1]:
            chain.append((start, end))
    return chain


def test_longest_chain_counts_round_trips_that_did_not_overlap() -> None:
    assert len(longest_chain([(0, 1), (0.5, 1.5), (1, 2), (2.5, 3)])) == 3
    assert len(longest_chain([(0, 1), (0.1, 1.1), (0.2, 1.2)])) == 1


def test_fan_out_keeps_order_and_raises_the_first_failure_in_order() -> None:
    assert fan_out(lambda n: n * 2, [3, 1, 2]) == [6, 2, 4]
    assert together(lambda: "a", lambda: "b") == ["a", "b"]

    def fail(n: int) -> int:
        if n > 0:
            time.sleep(0.05 * (3 - n))  # the later failure finishes first
            raise ValueError(n)
        return n

    with pytest.raises(ValueError, match="1"):
        fan_out(fail, [0, 1, 2])


def test_check_of_every_lab_costs_few_sequential_round_trips(deployed: Context) -> None:
    solved = run(deployed, "solve", [])
    assert set(statuses(solved).values()) == {Status.PASS}, statuses(solved)
    spans: list[tuple[float, float]] = []
    lock = threading.Lock()

    def round_trip(**_: Any) -> None:
        start = time.perf_counter()
        time.sleep(DELAY_S)
        with lock:
            spans.append((start, time.perf_counter()))

    deployed.target.session.register("before-send", round_trip)  # the check run's clients are made after this
    report = run(deployed, "check", [])
    assert set(statuses(report).values()) == {Status.PASS}, statuses(report)
    chain = longest_chain(spans)
    assert len(chain) <= MAX_ROUND_TRIPS, f"{len(chain)} sequential round trips (of {len(spans)} requests)"
