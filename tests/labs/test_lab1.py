"""Lab 1: the inventory lists every asset, matches the live stack with its template, reports findings."""

from __future__ import annotations

import json
from typing import Any

from labrunner.aws.inventory import build_inventory
from labrunner.aws.stack import StackInfo, StackResource
from labrunner.context import Context
from labrunner.model import Report, Status
from tests.helpers import cli, run, statuses, step

LOGICAL_IDS = (
    "FileUploadsBucket",
    "S3NotificationQueue",
    "S3NotificationQueuePolicy",
    "MetadataLambda",
    "MetadataLambdaRole",
    "QueueLambdaSourceMapping",
    "ObjectMetadataTable",
)


def inventory_of(report: Report) -> list[dict[str, Any]]:
    data = step(report, "lab1.inventory").data
    assets = data["inventory"]
    assert isinstance(assets, list)
    return assets


def failed(report: Report) -> dict[str, str]:
    return {c.name: c.detail for c in step(report, "lab1.inventory").checks if not c.passed}


def assert_actionable(report: Report) -> None:
    result = step(report, "lab1.inventory")
    assert result.status is Status.FAIL
    assert result.hint
    assert all(c.hint for c in result.checks if not c.passed)


def test_inventory_lists_every_asset_with_ids_arns_and_console_links(deployed: Context) -> None:
    report = run(deployed, "solve", ["lab1"])
    result = step(report, "lab1.inventory")
    assert result.status is Status.PASS, result.checks
    assert result.changed is False
    assets = {a["logical_id"]: a for a in inventory_of(report) if a["in_stack"]}
    assert set(assets) == set(LOGICAL_IDS)
    stack = deployed.stack()
    for logical_id in LOGICAL_IDS:
        asset = assets[logical_id]
        assert asset["physical_id"] == stack.resources[logical_id].physical_id
        assert asset["type"] == stack.resources[logical_id].type
        assert asset["state"] == "present"
        assert asset["console"].startswith("https://") and "console.aws.amazon.com" in asset["console"]
        if logical_id != "S3NotificationQueuePolicy":  # a queue policy has no ARN of its own
            assert asset["arn"].startswith("arn:aws:")
    workload = deployed.workload()
    assert assets["ObjectMetadataTable"]["arn"] == workload.table_arn
    assert assets["MetadataLambda"]["arn"] == workload.function_arn
    outside = {a["physical_id"]: a for a in inventory_of(report) if not a["in_stack"]}
    log_group = outside[workload.log_group]
    assert log_group["type"] == "AWS::Logs::LogGroup" and log_group["state"] == "present"
    assert "cloudwatch" in log_group["console"] and "us-east-1" in log_group["console"]
    # apply printed the inventory: one line per asset
    assert sum(workload.table in note for note in result.notes) >= 1


def test_findings_are_reported_without_failing_the_inventory(deployed: Context) -> None:
    report = run(deployed, "check", ["lab1"])
    result = step(report, "lab1.inventory")
    assert result.status is Status.PASS
    findings = " ".join(f["summary"] for f in result.data["findings"])
    assert "SystemAdministrator" in findings and "way too much" in findings
    assert "536023900131" in findings  # the trust policy names another account
    assert any("FINDING" in c.detail and "SystemAdministrator" in c.detail for c in result.checks)
    assert any("536023900131" in note for note in result.notes)
    out = json.loads(cli("check", "lab1", "--format", "json").out)
    assert "SystemAdministrator" in json.dumps(out["steps"][0]["data"]["findings"])


def test_metadata_table_deleted_out_of_band_fails_inventory_and_pipeline(deployed: Context) -> None:
    deployed.client("dynamodb").delete_table(TableName=deployed.workload().table)
    report = run(deployed, "check", ["setup.pipeline", "lab1"])
    assert statuses(report)["lab1.inventory"] is Status.FAIL
    assert statuses(report)["setup.pipeline"] is Status.FAIL
    assert "deleted out of band" in failed(report)["ObjectMetadataTable (AWS::DynamoDB::Table)"]
    assert_actionable(report)


def test_queue_policy_removed_by_hand_fails(deployed: Context) -> None:
    deployed.client("sqs").set_queue_attributes(QueueUrl=deployed.workload().queue_url, Attributes={"Policy": ""})
    report = run(deployed, "check", ["lab1"])
    assert "S3NotificationQueuePolicy (AWS::SQS::QueuePolicy)" in failed(report)
    assert_actionable(report)


def test_event_source_mapping_deleted_by_hand_fails(deployed: Context) -> None:
    uuid = deployed.stack().resources["QueueLambdaSourceMapping"].physical_id
    deployed.client("lambda").delete_event_source_mapping(UUID=uuid)
    report = run(deployed, "check", ["lab1"])
    assert "QueueLambdaSourceMapping (AWS::Lambda::EventSourceMapping)" in failed(report)
    assert_actionable(report)


def test_bucket_notification_removed_by_hand_is_drift(deployed: Context) -> None:
    deployed.client("s3").put_bucket_notification_configuration(
        Bucket=deployed.workload().bucket, NotificationConfiguration={}
    )
    report = run(deployed, "check", ["lab1"])
    detail = failed(report)["FileUploadsBucket (AWS::S3::Bucket)"]
    assert "event notification" in detail
    assert_actionable(report)


def test_function_switched_to_another_role_is_drift(deployed: Context) -> None:
    iam = deployed.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    other = iam.create_role(RoleName="hand-made-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    deployed.client("lambda").update_function_configuration(FunctionName=deployed.workload().function, Role=other)
    report = run(deployed, "check", ["lab1"])
    detail = failed(report)["MetadataLambda (AWS::Lambda::Function)"]
    assert "hand-made-role" in detail
    assert_actionable(report)


def test_upload_bucket_deleted_out_of_band_fails(deployed: Context) -> None:
    s3, bucket = deployed.client("s3"), deployed.workload().bucket
    for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=obj["Key"])
    s3.delete_bucket(Bucket=bucket)
    report = run(deployed, "check", ["lab1"])
    assert "deleted out of band" in failed(report)["FileUploadsBucket (AWS::S3::Bucket)"]
    assert_actionable(report)


def test_without_a_stack_the_inventory_is_skipped_with_a_hint(ctx: Context) -> None:
    report = run(ctx, "check", ["lab1"])
    result = step(report, "lab1.inventory")
    assert result.status is Status.SKIPPED
    assert "labrunner up" in result.hint


def test_bucket_policy_resources_are_probed_too(ctx: Context) -> None:
    """The hardened template adds AWS::S3::BucketPolicy resources: present, then deleted by hand.

    The stack is described by hand: the local CloudFormation cannot create S3::BucketPolicy yet.
    """
    s3 = ctx.client("s3")
    s3.create_bucket(Bucket="inventory-logs")
    deny_plain_http = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": "arn:aws:s3:::inventory-logs/*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    s3.put_bucket_policy(
        Bucket="inventory-logs", Policy=json.dumps({"Version": "2012-10-17", "Statement": [deny_plain_http]})
    )
    template = {
        "Resources": {
            "Logs": {"Type": "AWS::S3::Bucket"},
            "LogsPolicy": {"Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": {"Ref": "Logs"}}},
        }
    }
    resources = {
        "Logs": StackResource("Logs", "inventory-logs", "AWS::S3::Bucket", "CREATE_COMPLETE"),
        "LogsPolicy": StackResource("LogsPolicy", "inventory-LogsPolicy-1", "AWS::S3::BucketPolicy", "CREATE_COMPLETE"),
    }
    stack = StackInfo(
        "inventory-types",
        "arn:aws:cloudformation:us-east-1:123456789012:stack/x/1",
        "CREATE_COMPLETE",
        resources,
        {},
        {},
    )

    def policy_asset() -> dict[str, Any]:
        inventory = build_inventory(ctx.client, stack, template, ctx.region, ctx.account_id)
        return next(a.as_dict() for a in inventory.assets if a.logical_id == "LogsPolicy")

    asset = policy_asset()
    assert asset["state"] == "present"
    assert asset["console"].endswith("/s3/buckets/inventory-logs?region=us-east-1&tab=permissions")
    s3.delete_bucket_policy(Bucket="inventory-logs")
    assert policy_asset()["state"] == "missing"
