"""The whole lab as an instructor runs it — `up`, `solve`, `check`, `reset --yes`, `up`, `solve`,
`check` — against a local AWS started with LABRUNNER_LOCAL_PROFILE=aws: IAM propagation, Config
recording and evaluation, CloudTrail's lag, access-log delivery, the bucket-name hold, expiring
credentials, a queue trigger that starts late and a round trip on every request, all at AWS's
values scaled by TIME_SCALE. Every step must end `pass`, in us-east-1 and in eu-west-1.

The profile is read when the server starts, so the test starts its own server (own LABRUNNER_HOME,
free port) with those variables, and drives it through the CLI in-process.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from labrunner.local import faults, lifecycle
from labrunner.local.faults.profile import AWS_TIMINGS
from tests.conftest import free_port
from tests.helpers import cli

pytestmark = pytest.mark.slow

# A real account's waits at a hundredth: CloudTrail 3 s, Config recording 1.2 s, access logs 18 s,
# bucket names held 36 s, credentials 36 s, a new queue trigger 0.6 s.
TIME_SCALE = 0.01


@pytest.fixture
def aws_like_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[lifecycle.Endpoint]:
    monkeypatch.setenv("LABRUNNER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LABRUNNER_LOCAL_PROFILE", "aws")
    monkeypatch.setenv("LABRUNNER_LOCAL_TIME_SCALE", str(TIME_SCALE))
    for setting in faults.SETTINGS:  # the profile alone decides: no knob's own variable from outside
        monkeypatch.delenv(setting.env_var, raising=False)
    port = free_port()
    monkeypatch.setenv("LABRUNNER_LOCAL_PORT", str(port))
    for var in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(var, raising=False)
    endpoint, started = lifecycle.start(port)
    assert started
    try:
        yield endpoint
    finally:
        lifecycle.stop(port)


def steps_of(*args: str) -> dict[str, str]:
    """Run a labrunner command (JSON report): every step's status."""
    began = time.monotonic()
    result = cli(*args, "--format", "json")
    assert result.out, result.err
    report = json.loads(result.out)
    assert report.get("region", args[1]) == args[1]
    by_lab: dict[str, float] = {}
    for s in report["steps"]:
        by_lab[s["id"].split(".")[0]] = by_lab.get(s["id"].split(".")[0], 0.0) + s["duration_s"]
    print(
        f"{' '.join(args)}: {time.monotonic() - began:.1f} s wall;",
        ", ".join(f"{k} {v:.1f} s" for k, v in by_lab.items()),
    )
    return {s["id"]: s["status"] for s in report["steps"]}


def all_pass(statuses: dict[str, str], what: str) -> None:
    assert statuses and set(statuses.values()) == {"pass"}, f"{what}: {statuses}"


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_whole_lab_twice_with_a_reset_between_under_the_aws_profile(
    aws_like_server: lifecycle.Endpoint, region: str
) -> None:
    settings = faults.status(aws_like_server.url)["settings"]
    for name, seconds in AWS_TIMINGS.items():
        assert settings[name] == pytest.approx(seconds * TIME_SCALE), name
    where = ("--region", region)

    for round_ in ("rehearsal", "class"):
        up = cli(*where, "up")
        assert up.code == 0, up.out + up.err
        solved = steps_of(*where, "solve")
        all_pass(solved, f"{round_}: solve")
        checked = steps_of(*where, "check")
        all_pass(checked, f"{round_}: check")
        assert checked.keys() == solved.keys()
        if round_ == "rehearsal":
            reset = cli(*where, "reset", "--yes", "--format", "json")
            report = json.loads(reset.out)
            assert reset.code == 0 and report["clean"] is True, reset.out + reset.err
            assert report["region"] == region
