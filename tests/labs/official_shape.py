"""The official lab template's shape (tests/fixtures/official_shape_template.yaml), deployed and fed
as an instructor does it: the plain aws CLI, files named like the lab's."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from labrunner.context import Context
from labrunner.model import Report
from tests.helpers import aws_cli, step

TEMPLATE = Path(__file__).resolve().parents[1] / "fixtures" / "official_shape_template.yaml"
FUNCTION = "AWS::Lambda::Function"
LAB_FILES = ("Alice's Adventures in Wonderland by Lewis Carroll.txt", "Pride and Prejudice by Jane Austen.txt")


def aws(*args: str) -> str:
    done = subprocess.run([aws_cli(), *args], check=False, capture_output=True, text=True)
    assert done.returncode == 0, f"aws {' '.join(args)}: {done.stderr}"
    return done.stdout


def deploy(ctx: Context) -> dict[str, str]:
    """`aws cloudformation deploy` of the fixture; the stack's physical ids by logical id."""
    aws(
        "cloudformation", "deploy", "--stack-name", ctx.stack_name, "--template-file", str(TEMPLATE),
        "--capabilities", "CAPABILITY_IAM",
    )  # fmt: skip
    rows = ctx.client("cloudformation").describe_stack_resources(StackName=ctx.stack_name)["StackResources"]
    # The custom resource's function ran during the create; the workload's runs once on the s3:TestEvent
    # message S3 sends when the custom resource sets the notification (PutBucketNotificationConfiguration,
    # S3 API Reference: "by sending a test notification"), asynchronously through SQS. A check that starts
    # before that run ends rightly finds no log group of the workload's function yet.
    functions = [r["PhysicalResourceId"] for r in rows if r["ResourceType"] == FUNCTION]
    wait_for_log_groups(ctx, functions)
    ctx.refresh()
    return {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in rows}


def wait_for_log_groups(ctx: Context, functions: list[str], deadline_s: float = 30) -> None:
    """CloudWatch Logs makes a function's log group once its first run has ended — after the run's
    effects (a custom resource's answer, a table item) are seen, asynchronously as on AWS. Wait for
    them, so that a check that follows sees every group."""
    logs, deadline, waiting = ctx.client("logs"), time.monotonic() + deadline_s, list(functions)
    while True:
        listed = {g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]}
        waiting = [name for name in waiting if f"/aws/lambda/{name}" not in listed]
        if not waiting:
            return
        assert time.monotonic() < deadline, f"no log group for {waiting} {deadline_s} s after it ran"
        time.sleep(0.2)


def upload_lab_files(bucket: str, folder: Path) -> None:
    """`aws s3 cp` of files named as the lab's sample books (apostrophes and spaces included)."""
    for name in LAB_FILES:
        path = folder / name
        path.write_text(f"The text of {name}\n")
        aws("s3", "cp", str(path), f"s3://{bucket}/{name}")


def assert_inventory_matches_aws(ctx: Context, report: Report) -> None:
    """lab 1's inventory against CloudFormation's and S3's own answers (not the reader it is built from)."""
    assets = step(report, "lab1.inventory").data["inventory"]
    in_stack = {a["logical_id"]: a for a in assets if a["in_stack"]}
    raw = ctx.client("cloudformation").describe_stack_resources(StackName=ctx.stack_name)["StackResources"]
    assert set(in_stack) == {r["LogicalResourceId"] for r in raw}
    for row in raw:
        asset = in_stack[row["LogicalResourceId"]]
        assert (asset["physical_id"], asset["type"]) == (row["PhysicalResourceId"], row["ResourceType"])
        # A custom resource is whatever its function says: nothing to probe.
        wanted = "not checked" if row["ResourceType"] == "AWS::CloudFormation::CustomResource" else "present"
        assert asset["state"] == wanted, asset
    listed = {b["Name"] for b in ctx.client("s3").list_buckets()["Buckets"]}
    inventoried_buckets = {a["physical_id"] for a in assets if a["type"] == "AWS::S3::Bucket"}
    assert inventoried_buckets <= listed
    stack_buckets = {r["PhysicalResourceId"] for r in raw if r["ResourceType"] == "AWS::S3::Bucket"}
    assert stack_buckets <= inventoried_buckets
    # Each function's log group, as CloudWatch Logs lists it (both functions have run by now).
    functions = {r["PhysicalResourceId"] for r in raw if r["ResourceType"] == "AWS::Lambda::Function"}
    groups = {a["physical_id"]: a["state"] for a in assets if a["type"] == "AWS::Logs::LogGroup"}
    listed_groups = {g["logGroupName"] for g in ctx.client("logs").describe_log_groups()["logGroups"]}
    for function in functions:
        assert f"/aws/lambda/{function}" in listed_groups
        assert groups[f"/aws/lambda/{function}"] == "present"
