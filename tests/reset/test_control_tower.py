"""`labrunner reset` in an AWS Control Tower member account: the lab goes; Control Tower's
recorder and channel and Security Hub's rules stay, the proof says whose they are, and the reset
succeeds: the account is as it was before the lab."""

from __future__ import annotations

import json
from typing import Any

from labrunner.context import Context
from labrunner.model import Status
from tests.helpers import cli, run, statuses

LAB4 = ["lab4.recorder", "lab4.rules", "lab4.noncompliance", "lab4.remediated"]
SECURITY_HUB = "securityhub.amazonaws.com"


def config_state(ctx: Context) -> dict[str, Any]:
    config = ctx.client("config")
    return {
        "recorders": config.describe_configuration_recorders()["ConfigurationRecorders"],
        "status": [
            {k: s[k] for k in ("name", "recording")}
            for s in config.describe_configuration_recorder_status()["ConfigurationRecordersStatus"]
        ],
        "channels": config.describe_delivery_channels()["DeliveryChannels"],
        "service_rules": sorted(
            (r["ConfigRuleName"], r["ConfigRuleArn"])
            for r in config.describe_config_rules()["ConfigRules"]
            if r.get("CreatedBy") == SECURITY_HUB
        ),
    }


def test_control_tower_account_solves_checks_and_resets(deployed: Context) -> None:
    assert cli("local", "scenario", "control-tower", "--account", deployed.account_id).code == 0
    before = config_state(deployed)
    assert len(before["service_rules"]) == 3 and before["status"][0]["recording"] is True

    assert statuses(run(deployed, "solve", LAB4)) == dict.fromkeys(LAB4, Status.PASS)
    deployed.refresh()
    assert statuses(run(deployed, "check", LAB4)) == dict.fromkeys(LAB4, Status.PASS)

    result = cli("reset", "--yes", "--format", "json")
    report = json.loads(result.out)
    assert not [a for a in report["actions"] if a["outcome"] == "failed"], report["actions"]
    done = {(a["type"], a["name"]): a["outcome"] for a in report["actions"]}
    assert done[("config rule", "s3-bucket-logging-enabled")] == "deleted"
    assert done[("config rule", "s3-bucket-server-side-encryption-enabled")] == "deleted"
    why = {(p["type"], p["name"]): p["why"] for p in report["plan"]}
    for name, _arn in before["service_rules"]:
        assert done[("config rule", name)] == "kept"
        assert (
            f"created by {SECURITY_HUB}" in why[("config rule", name)] and "not the lab's" in why[("config rule", name)]
        )
    assert done[("config recorder", "aws-controltower-BaselineConfigRecorder")] == "kept"
    # Untouched: still recording, same channel, same Security Hub rules.
    assert config_state(deployed) == before
    # Back at the start, as the account was before the lab: lab4.rules no longer passes (Security Hub's
    # rules are not the student's); the recorder step still does, on Control Tower's recorder, which was
    # there before the lab — not a leftover, so the reset succeeds, and the verdict names what was kept.
    assert report["still_passing"] == [] and report["passing_on_kept"] == ["lab4.recorder"]
    assert result.code == 0 and report["clean"] is True, report["verdict"]
    assert "back at the start" in report["verdict"] and "only lab4.recorder passes" in report["verdict"]
    assert "config recorder aws-controltower-BaselineConfigRecorder" in report["verdict"]
    assert "securityhub-s3-bucket-logging-enabled-" in report["verdict"]
    after = {s["id"]: s["status"] for s in report["after"]["steps"]}
    assert after["lab4.recorder"] == "pass" and after["lab4.rules"] != "pass"
