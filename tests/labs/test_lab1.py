"""Lab 1: the inventory lists every asset, matches the live stack with its template, reports findings."""

from __future__ import annotations

import json
from typing import Any

from labrunner.aws.inventory import build_inventory
from labrunner.aws.stack import StackInfo, StackResource
from labrunner.context import Context
from labrunner.model import Report, Status
from tests.helpers import cli, run, statuses, step
from tests.labs import official_shape

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
    # Compared with CloudFormation's own answer, not with the reader the inventory is built from.
    cfn = deployed.client("cloudformation")
    raw = cfn.describe_stack_resources(StackName=deployed.stack_name)["StackResources"]
    assert {r["LogicalResourceId"] for r in raw} == set(LOGICAL_IDS)
    for row in raw:
        asset = assets[row["LogicalResourceId"]]
        assert asset["physical_id"] == row["PhysicalResourceId"]
        assert asset["type"] == row["ResourceType"]
    for logical_id in LOGICAL_IDS:
        asset = assets[logical_id]
        assert asset["state"] == "present"
        assert asset["console"].startswith("https://") and "console.aws.amazon.com" in asset["console"]
        if logical_id != "S3NotificationQueuePolicy":  # a queue policy has no ARN of its own
            assert asset["arn"].startswith("arn:aws:")
    table = deployed.client("dynamodb").describe_table(TableName=assets["ObjectMetadataTable"]["physical_id"])
    assert assets["ObjectMetadataTable"]["arn"] == table["Table"]["TableArn"]
    function = deployed.client("lambda").get_function(FunctionName=assets["MetadataLambda"]["physical_id"])
    assert assets["MetadataLambda"]["arn"] == function["Configuration"]["FunctionArn"]
    assert assets["FileUploadsBucket"]["physical_id"] in {
        b["Name"] for b in deployed.client("s3").list_buckets()["Buckets"]
    }
    workload = deployed.workload()
    outside = {a["physical_id"]: a for a in inventory_of(report) if not a["in_stack"]}
    log_group = outside[f"/aws/lambda/{function['Configuration']['FunctionName']}"]
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


def _findings(report: Report) -> list[dict[str, str]]:
    findings = step(report, "lab1.inventory").data["findings"]
    assert isinstance(findings, list)
    return findings


def test_findings_of_the_official_shape_name_resource_and_who_fixes_it(ctx: Context) -> None:
    physical = official_shape.deploy(ctx)
    report = run(ctx, "check", ["lab1"])
    assert step(report, "lab1.inventory").status is Status.PASS, failed(report)
    official_shape.assert_inventory_matches_aws(ctx, report)
    findings = _findings(report)
    by = {(f["resource"].split(" ")[0], f["fixed_in"]): f["summary"] for f in findings}
    # The function's role: lab 3 fixes it — SystemAdministrator, the wildcard policy, the trust to the root.
    role = [f for f in findings if f["resource"].startswith("MetadataLambdaRole ")]
    assert all(f["fixed_in"] == "lab3" for f in role)
    assert physical["MetadataLambdaRole"] in role[0]["resource"]
    texts = " ".join(f["summary"] for f in role)
    assert "SystemAdministrator" in texts and "dynamodb:*" in texts
    assert f"this account ({ctx.account_id}" in texts and "root" in texts
    # The custom-resource function's role: no lab step fixes it, only the template.
    custom = [f for f in findings if f["resource"].startswith("S3EventSubscriptionLambdaRole ")]
    assert [f["fixed_in"] for f in custom] == ["extra"]
    assert "SystemAdministrator" in custom[0]["summary"]
    assert "only the template" in custom[0]["fix"]
    # The upload bucket: lab 2; the table's key and backups: only the template.
    assert ("FileUploadsBucket", "lab2") in by
    assert {f["fixed_in"] for f in findings if f["resource"].startswith("ObjectMetadataTable ")} == {"extra"}
    lines = " ".join(c.detail for c in step(report, "lab1.inventory").checks)
    assert "S3EventSubscriptionLambdaRole" in lines and "no lab step fixes it" in lines


def test_a_log_bucket_of_the_stack_is_exempt_from_logging_as_in_lab4(ctx: Context) -> None:
    """After the extra credit the stack holds its own log bucket: not 'logging off — lab2 fixes it'."""
    s3 = ctx.client("s3")
    s3.create_bucket(Bucket="inv-uploads")
    s3.create_bucket(Bucket="inv-logs")
    s3.put_bucket_logging(
        Bucket="inv-uploads",
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": "inv-logs", "TargetPrefix": "u/"}},
    )
    template = {"Resources": {"FileUploadsBucket": {"Type": "AWS::S3::Bucket"}, "Logs": {"Type": "AWS::S3::Bucket"}}}
    resources = {
        "FileUploadsBucket": StackResource("FileUploadsBucket", "inv-uploads", "AWS::S3::Bucket", "CREATE_COMPLETE"),
        "Logs": StackResource("Logs", "inv-logs", "AWS::S3::Bucket", "CREATE_COMPLETE"),
    }
    stack = StackInfo(
        "inv", "arn:aws:cloudformation:us-east-1:123456789012:stack/inv/1", "CREATE_COMPLETE", resources, {}, {}
    )
    findings = build_inventory(ctx.client, stack, template, ctx.region, ctx.account_id).findings
    assert not [f for f in findings if "logging" in f.summary], findings
    s3.put_bucket_logging(Bucket="inv-uploads", BucketLoggingStatus={})
    findings = build_inventory(ctx.client, stack, template, ctx.region, ctx.account_id).findings
    logging_off = {f.resource: f.fixed_in for f in findings if "logging is off" in f.summary}
    assert logging_off == {"FileUploadsBucket (inv-uploads)": "lab2", "Logs (inv-logs)": "extra"}
