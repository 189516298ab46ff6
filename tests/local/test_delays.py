"""Delays of the local AWS's asynchronous work: environment default, runtime change, reset."""

from __future__ import annotations

import pytest

from labrunner.errors import LocalServerError
from labrunner.local import admin
from labrunner.local.delays import Delay
from labrunner.local.lifecycle import Endpoint
from tests.conftest import reset_server


def test_delay_starts_from_its_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABRUNNER_TEST_DELAY_S", "2.5")
    delay = Delay("test_delay_s", "LABRUNNER_TEST_DELAY_S", "test/delay")
    assert delay.seconds == 2.5
    delay.set(0)
    assert delay.seconds == 0
    delay.restore()
    assert delay.seconds == 2.5


def test_delay_defaults_to_immediate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LABRUNNER_TEST_DELAY_S", raising=False)
    assert Delay("test_delay_s", "LABRUNNER_TEST_DELAY_S", "test/delay").seconds == 0


@pytest.mark.parametrize("raw", [pytest.param("soon", id="not-a-number"), pytest.param("-1", id="negative")])
def test_bad_environment_value_is_refused(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("LABRUNNER_TEST_DELAY_S", raw)
    with pytest.raises(ValueError, match="LABRUNNER_TEST_DELAY_S"):
        Delay("test_delay_s", "LABRUNNER_TEST_DELAY_S", "test/delay")


@pytest.mark.parametrize("name", ["s3/access-log-delay", "config/evaluation-delay"])
def test_server_delays_change_at_runtime_and_reset(fresh_server: Endpoint, name: str) -> None:
    try:
        assert admin.call(fresh_server.url, "POST", name, seconds="1.5")["seconds"] == 1.5
        assert admin.call(fresh_server.url, "GET", name)["seconds"] == 1.5
        with pytest.raises(LocalServerError, match="HTTP 400"):
            admin.call(fresh_server.url, "POST", name, seconds="-3")
    finally:
        reset_server(fresh_server)
    assert admin.call(fresh_server.url, "GET", name)["seconds"] == 0


def test_the_aws_profile_starts_a_delay_at_its_real_timing_scaled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LABRUNNER_TEST_DELAY_S", raising=False)
    monkeypatch.setenv("LABRUNNER_LOCAL_PROFILE", "aws")
    monkeypatch.setenv("LABRUNNER_LOCAL_TIME_SCALE", "0.5")
    assert Delay("access_log_delay_s", "LABRUNNER_TEST_DELAY_S", "test/delay").seconds == 900
    monkeypatch.setenv("LABRUNNER_TEST_DELAY_S", "2")  # the delay's own variable wins, unscaled
    assert Delay("access_log_delay_s", "LABRUNNER_TEST_DELAY_S", "test/delay").seconds == 2
