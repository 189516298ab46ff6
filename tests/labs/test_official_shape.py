"""The official template's shape from first check to reset, as an instructor runs a class with it:
deployed with the aws CLI, files uploaded like the lab's; check, solve every lab, reset."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from labrunner.context import Context
from labrunner.model import Report, Status
from tests.helpers import cli, run, statuses, step
from tests.labs import official_shape

# AWS has encrypted every new bucket (SSE-S3) since January 2023: these pass before any lab.
ENCRYPTED_BY_AWS = ("lab2.encryption", "lab2.encrypted-upload")


def wait_for_items(ctx: Context, table: str, keys: tuple[str, ...], deadline_s: float = 30) -> None:
    end = time.monotonic() + deadline_s
    while True:
        items = ctx.client("dynamodb").scan(TableName=table)["Items"]
        if set(keys) <= {i["S3ObjectName"]["S"] for i in items}:
            return
        assert time.monotonic() < end, f"{keys} never reached {table}"
        time.sleep(0.3)


def not_passed(report: Report) -> dict[str, Status]:
    return {s.id: s.status for s in report.steps if s.status is not Status.PASS}


def leftovers(ctx: Context) -> dict[str, Any]:
    s3, logs, config = ctx.client("s3"), ctx.client("logs"), ctx.client("config")
    summaries = ctx.client("cloudformation").list_stacks()["StackSummaries"]
    return {
        "stacks": [s["StackName"] for s in summaries if s["StackStatus"] != "DELETE_COMPLETE"],
        "buckets": [b["Name"] for b in s3.list_buckets()["Buckets"]],
        "log groups": [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]],
        "recorders": [r["name"] for r in config.describe_configuration_recorders()["ConfigurationRecorders"]],
        "channels": [c["name"] for c in config.describe_delivery_channels()["DeliveryChannels"]],
        "rules": [r["ConfigRuleName"] for r in config.describe_config_rules()["ConfigRules"]],
    }


@pytest.mark.slow
def test_official_shape_check_solve_and_reset(ctx: Context, tmp_path: Path) -> None:
    physical = official_shape.deploy(ctx)
    assert {"InvokeS3EventSubscriptionLambda", "S3EventSubscriptionLambda"} <= set(physical)
    official_shape.upload_lab_files(physical["FileUploadsBucket"], tmp_path)
    wait_for_items(ctx, physical["ObjectMetadataTable"], official_shape.LAB_FILES)
    official_shape.wait_for_log_groups(ctx, [physical["MetadataLambda"]])

    # Before any lab: the workload works, lab 1 passes; nothing of labs 2-4 or the extra credit is done.
    report = run(ctx, "check", [])
    assert statuses(report)["setup.stack"] is Status.PASS
    assert statuses(report)["setup.pipeline"] is Status.PASS, step(report, "setup.pipeline").checks
    assert statuses(report)["lab1.inventory"] is Status.PASS, step(report, "lab1.inventory").checks
    official_shape.assert_inventory_matches_aws(ctx, report)
    later = {s.id: s.status for s in report.steps if s.id.split(".")[0] in ("lab2", "lab3", "lab4", "extra")}
    assert {i for i, s in later.items() if s is Status.PASS} == set(ENCRYPTED_BY_AWS), later
    assert all(s in (Status.FAIL, Status.SKIPPED) for i, s in later.items() if i not in ENCRYPTED_BY_AWS), later

    # Every lab solved, then the extra credit: every step passes.
    report = run(ctx, "solve", ["lab2", "lab3", "lab4"])
    assert not not_passed(report), not_passed(report)
    ctx.refresh()
    report = run(ctx, "solve", ["extra"])
    assert not not_passed(report), not_passed(report)
    ctx.refresh()
    report = run(ctx, "check", [])
    assert not not_passed(report), not_passed(report)
    # The hardened stack leaves lab 1 nothing to report: its own log bucket is exempt as in lab 4.
    assert step(report, "lab1.inventory").data["findings"] == []
    official_shape.assert_inventory_matches_aws(ctx, report)
    functions = ctx.client("lambda").list_functions()["Functions"]
    names = {f["FunctionName"] for f in functions}
    assert {physical["MetadataLambda"], physical["S3EventSubscriptionLambda"]} <= names
    groups = leftovers(ctx)["log groups"]
    assert f"/aws/lambda/{physical['S3EventSubscriptionLambda']}" in groups
    assert f"/aws/lambda/{physical['MetadataLambda']}" in groups

    # reset leaves nothing of it: the stack, its buckets, both functions' log groups, lab 4's Config.
    result = cli("reset", "--yes", "--format", "json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["clean"] is True
    left = leftovers(ctx)
    assert left == {"stacks": [], "buckets": [], "log groups": [], "recorders": [], "channels": [], "rules": []}, left
