"""The dashboard's state: what the event streams replay, and when a page must start over."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from labrunner.classroom import ClassReport, StudentResult
from labrunner.dashboard import state as dashboard_state
from labrunner.dashboard.state import ClassState
from labrunner.roster import Student

STUDENTS = (Student("alice", 1, account="111111111111"), Student("carol", 2, account="333333333333"))


def make_state() -> ClassState:
    return ClassState(STUDENTS, {"steps": []})


def test_events_follow_a_round_and_the_api_waits_for_a_complete_one() -> None:
    state = make_state()
    seq, snapshot = state.snapshot()
    assert [s["name"] for s in snapshot["students"]] == ["alice", "carol"]
    assert state.class_report() is None  # no complete round yet: /api/class answers 503

    state.round_started()
    state.student_checking("carol")
    carol = StudentResult("carol", "333333333333", error="AccessDenied calling AssumeRole")
    state.student_finished(carol)
    events = state.events_after(seq, timeout=0)
    assert events is not None
    assert [(e.name, e.data.get("name")) for e in events] == [
        ("round", None),
        ("student", "carol"),
        ("student", "carol"),
    ]
    assert events[0].data["running"] is True
    assert events[2].data["error"] == "AccessDenied calling AssumeRole" and events[2].data["checking"] is False
    assert events[2].data["checked_at"]

    report = ClassReport("check", "local", datetime.now(UTC), 1.5, (carol,), steps=())
    state.round_finished(report)
    latest = state.class_report()
    assert latest is not None and latest["schema"] == "labrunner.class-report/v1"
    assert latest["students"] == [
        {"name": "carol", "account": "333333333333", "error": "AccessDenied calling AssumeRole"}
    ]
    last = state.events_after(events[-1].seq, timeout=0)
    assert last is not None and [e.name for e in last] == ["round"] and last[0].data["running"] is False


def test_a_page_too_far_behind_gets_a_fresh_snapshot() -> None:
    state = make_state()
    seq, _ = state.snapshot()
    for _ in range(dashboard_state.EVENTS_KEPT + 1):
        state.student_checking("alice")
    assert state.events_after(seq, timeout=0) is None  # the first event it missed is gone
    newer, snapshot = state.snapshot()
    assert snapshot["students"][0]["checking"] is True
    assert state.events_after(newer, timeout=0) == []


def test_closing_wakes_the_streams() -> None:
    state = make_state()
    seq, _ = state.snapshot()
    state.close()
    began = time.monotonic()
    assert state.events_after(seq, timeout=5) == []
    assert time.monotonic() - began < 1  # at once, not after the keepalive timeout
