"""Timing knobs of the local AWS (SPEC §6 item 10): the `aws` profile, the time scale, latency, and
`labrunner local faults KEY=VALUE…` (labrunner/local/faults/)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from labrunner.local import faults, lifecycle
from labrunner.local.faults.profile import AWS_TIMINGS
from labrunner.local.lifecycle import Endpoint
from tests.conftest import free_port, reset_server
from tests.helpers import cli
from tests.local import iam_support as iam


@pytest.fixture
def knobs_server(fresh_server: Endpoint, local_env: Endpoint) -> Iterator[Endpoint]:
    """The session's server, its knobs back at their defaults after the test (reset restores them)."""
    yield fresh_server
    reset_server(fresh_server)


def test_the_aws_profile_sets_every_timing_scaled_and_a_knob_variable_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABRUNNER_LOCAL_PROFILE", "aws")
    monkeypatch.setenv("LABRUNNER_LOCAL_TIME_SCALE", "0.01")
    monkeypatch.setenv("LABRUNNER_FAULT_IAM_DELAY_S", "0")  # explicit: not scaled, not the profile's
    port = free_port()
    endpoint, started = lifecycle.start(port)
    assert started
    try:
        settings = faults.status(endpoint.url)["settings"]
        for name, seconds in AWS_TIMINGS.items():
            expected = 0 if name == "iam_delay_s" else seconds * 0.01
            assert settings[name] == pytest.approx(expected), name
        assert settings["cloudtrail_delay_s"] == pytest.approx(3.0) and settings["latency_ms"] == pytest.approx(0.5)
        assert settings["throttle_rate"] == 0  # not a timing: the profile leaves it alone
    finally:
        lifecycle.stop(port)


def test_the_default_profile_holds_a_deleted_bucket_name_for_a_minute(knobs_server: Endpoint) -> None:
    settings = faults.status(knobs_server.url)["settings"]
    assert settings["bucket_name_hold_s"] == 60
    assert all(settings[name] == 0 for name in AWS_TIMINGS if name != "bucket_name_hold_s")


def test_latency_delays_every_aws_request_but_not_the_admin_api(knobs_server: Endpoint) -> None:
    sts = iam.client(knobs_server, "sts")
    faults.configure(knobs_server.url, latency_ms=150)
    started = time.monotonic()
    sts.get_caller_identity()
    assert time.monotonic() - started >= 0.15
    started = time.monotonic()
    lifecycle.probe(knobs_server.port, timeout=5)
    assert time.monotonic() - started < 0.15
    faults.configure(knobs_server.url, latency_ms=0)
    started = time.monotonic()
    sts.get_caller_identity()
    assert time.monotonic() - started < 0.15


def test_local_faults_shows_and_changes_knobs(knobs_server: Endpoint) -> None:
    shown = cli("local", "faults")
    assert shown.code == 0, shown.err
    assert "bucket_name_hold_s=60  (LABRUNNER_FAULT_BUCKET_NAME_HOLD_S)" in shown.out.splitlines()
    changed = cli("local", "faults", "cloudtrail_delay_s=2.5", "config_evaluation_delay_s=4")
    assert changed.code == 0, changed.err
    assert "cloudtrail_delay_s=2.5  (LABRUNNER_FAULT_CLOUDTRAIL_DELAY_S)" in changed.out.splitlines()
    settings = faults.status(knobs_server.url)["settings"]
    assert settings["cloudtrail_delay_s"] == 2.5 and settings["config_evaluation_delay_s"] == 4


@pytest.mark.parametrize(
    "args",
    [
        ("latency_ms",),  # no value
        ("latency_ms=inf",),
        ("config_evaluation_delay_s=nan",),
        ("credential_ttl_s=-5",),
        ("chaos_monkey=1",),
        ("latency_ms=10", "no_such_knob=1"),  # all or nothing
    ],
)
def test_local_faults_refuses_bad_input_in_one_line(knobs_server: Endpoint, args: tuple[str, ...]) -> None:
    result = cli("local", "faults", *args)
    assert result.code == 2
    assert len(result.err.strip().splitlines()) == 1 and "Traceback" not in result.err
    assert faults.status(knobs_server.url)["settings"]["latency_ms"] == 0


@pytest.mark.parametrize(
    ("var", "value", "named"),
    [
        ("LABRUNNER_LOCAL_PROFILE", "realistic", "LABRUNNER_LOCAL_PROFILE"),
        ("LABRUNNER_LOCAL_TIME_SCALE", "0", "LABRUNNER_LOCAL_TIME_SCALE"),
        ("LABRUNNER_LOCAL_TIME_SCALE", "nan", "LABRUNNER_LOCAL_TIME_SCALE"),
        ("LABRUNNER_FAULT_LATENCY_MS", "fast", "LABRUNNER_FAULT_LATENCY_MS"),
    ],
)
def test_a_bad_profile_or_knob_variable_is_one_line_before_any_server_starts(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str, named: str
) -> None:
    monkeypatch.setenv(var, value)
    port = free_port()
    result = cli("local", "start", "--port", str(port))
    assert result.code == 2
    assert named in result.err and len(result.err.strip().splitlines()) == 1
    assert lifecycle.status(port) is None
