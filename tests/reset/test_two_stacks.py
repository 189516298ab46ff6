"""Two students share one account with their own --stack-name (SPEC §7): resetting one leaves the
other whole and passing; the last reset leaves nothing of the lab."""

from __future__ import annotations

import json
from typing import Any

import pytest

from labrunner.context import Context
from tests.helpers import cli


def solve(stack: str) -> dict[str, str]:
    result = cli("solve", "--stack-name", stack, "--format", "json")
    return {s["id"]: s["status"] for s in json.loads(result.out)["steps"]}


def check(stack: str) -> dict[str, str]:
    result = cli("check", "--stack-name", stack, "--format", "json")
    return {s["id"]: s["status"] for s in json.loads(result.out)["steps"]}


def reset(stack: str) -> tuple[int, dict[str, Any]]:
    result = cli("reset", "--yes", "--stack-name", stack, "--format", "json")
    assert result.out, result.err
    return result.code, json.loads(result.out)


def lab_leftovers(ctx: Context) -> dict[str, Any]:
    s3, logs, config = ctx.client("s3"), ctx.client("logs"), ctx.client("config")
    stacks = [
        s["StackName"]
        for s in ctx.client("cloudformation").list_stacks()["StackSummaries"]
        if s["StackStatus"] != "DELETE_COMPLETE"
    ]
    return {
        "stacks": stacks,
        "buckets": [b["Name"] for b in s3.list_buckets()["Buckets"]],
        "log groups": [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]],
        "recorders": [r["name"] for r in config.describe_configuration_recorders()["ConfigurationRecorders"]],
        "channels": [c["name"] for c in config.describe_delivery_channels()["DeliveryChannels"]],
        "rules": [r["ConfigRuleName"] for r in config.describe_config_rules()["ConfigRules"]],
    }


@pytest.mark.slow
def test_reset_of_one_stack_spares_the_other(ctx: Context) -> None:
    alice, bob = solve("alice"), solve("bob")
    assert alice == bob, (alice, bob)
    unmet = {step: status for step, status in bob.items() if status not in ("pass", "pending")}
    assert not unmet, unmet
    before = check("bob")
    bob_functions = [g for g in lab_leftovers(ctx)["log groups"] if g.startswith("/aws/lambda/bob-")]
    # Both of bob's functions have logged: the workload's and the custom resource's (extra credit).
    assert any("MetadataLambda" in g for g in bob_functions) and any("S3EventSubscription" in g for g in bob_functions)

    code, report = reset("alice")
    assert code == 0, report["verdict"]
    plan = {(i["type"], i["name"]): i for i in report["plan"]}
    shared = [i for i in plan.values() if i["stack"] == "(the account's lab stacks)"]
    assert shared and all(not i["delete"] for i in shared), shared  # Config stays for bob
    assert all(i["stack"] in ("alice", "(the account's lab stacks)", "") or not i["delete"] for i in plan.values())
    assert {i["name"] for i in plan.values() if i["delete"] and i["type"] == "stack"} == {"alice"}

    # bob's stack still passes every step it passed.
    assert check("bob") == before
    left = lab_leftovers(ctx)
    assert not [g for g in left["log groups"] if g.startswith("/aws/lambda/alice-")], left["log groups"]
    assert left["stacks"] == ["bob"]

    code, report = reset("bob")
    assert code == 0, report["verdict"]
    assert report["clean"] is True
    left = lab_leftovers(ctx)
    assert left == {"stacks": [], "buckets": [], "log groups": [], "recorders": [], "channels": [], "rules": []}, left
