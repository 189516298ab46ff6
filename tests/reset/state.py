"""Build what a lab leaves behind, and things reset must never touch, by hand with boto3."""

from __future__ import annotations

import json
import re
from typing import Any

from labrunner.aws.config import delivery_bucket_policy
from labrunner.aws.s3 import ensure_access_logging, lab_log_bucket_name
from labrunner.context import Context

DECOY_BUCKET = "decoy-research-data"
DECOY_TABLE = "decoy-orders"
DECOY_ROLE = "decoy-deploy-role"
DECOY_LOG_GROUPS = (
    "/aws/lambda/decoy-billing",
    "/aws/lambda/other-stack-MetadataLambda-ABCDEF123456",
    "/aws/lambda/immersion-copy-MetadataLambda-ABCDEF123456",  # another stack, named like ours
)
DECOY_STACK = "decoy-stack"
DECOY_STACK_BUCKET_KEY = "keep-me.txt"
DECOY_RULE = "decoy-required-tags"
LOOKALIKE_RULE = "org-s3-bucket-logging"  # runs the lab's managed rule, but is not the lab's
LAB_RULES = ("s3-bucket-logging-enabled", "s3-bucket-server-side-encryption-enabled")
TRUST_EC2 = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
)
DECOY_TEMPLATE = json.dumps({"Resources": {"Data": {"Type": "AWS::S3::Bucket"}}})


def make_versioned_history(s3: Any, bucket: str, key: str = "history.txt") -> None:
    """Three versions and a delete marker: what reset must empty before deleting."""
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"one", b"two", b"three"):
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    s3.delete_object(Bucket=bucket, Key=key)


def lab2_by_solve(ctx: Context) -> str:
    """Lab 2 as solve does it: the lab's log bucket (tagged), the upload bucket logging to it."""
    log_bucket = lab_log_bucket_name(ctx.suffix)
    ensure_access_logging(
        ctx.client("s3"), ctx.workload().bucket, log_bucket=log_bucket, region=ctx.region, account=ctx.account_id
    )
    ctx.client("s3").put_object(Bucket=ctx.workload().bucket, Key="after-logging.txt", Body=b"logged")
    return log_bucket


def config_delivery_policy(ctx: Context, bucket: str) -> str:
    """What the console's "Create a bucket" gives a Config delivery bucket: AWS's documented policy."""
    policy = delivery_bucket_policy(bucket, ctx.account_id, ctx.region)
    policy["Statement"] = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    return json.dumps(policy)


def lab4_by_hand(ctx: Context) -> dict[str, str]:
    """Lab 4 clicked together: the demo bucket by its lab name (no tag), the lab's rules, Config set up
    by labrunner's naming (the delivery bucket immersion-config-delivery-<suffix>)."""
    s3, config, iam = ctx.client("s3"), ctx.client("config"), ctx.client("iam")
    demo = f"immersion-config-demo-{ctx.suffix}"
    delivery = f"immersion-config-delivery-{ctx.suffix}"
    s3.create_bucket(Bucket=demo)
    s3.put_object(Bucket=demo, Key="demo.txt", Body=b"demo")
    s3.create_bucket(Bucket=delivery)
    s3.put_bucket_policy(Bucket=delivery, Policy=config_delivery_policy(ctx, delivery))
    iam.create_service_linked_role(AWSServiceName="config.amazonaws.com")
    role = f"arn:aws:iam::{ctx.account_id}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"
    config.put_configuration_recorder(
        ConfigurationRecorder={"name": "default", "roleARN": role, "recordingGroup": {"allSupported": True}}
    )
    config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": delivery})
    config.start_configuration_recorder(ConfigurationRecorderName="default")
    for name, source in zip(
        LAB_RULES, ("S3_BUCKET_LOGGING_ENABLED", "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED"), strict=True
    ):
        config.put_config_rule(
            ConfigRule={
                "ConfigRuleName": name,
                "Scope": {"ComplianceResourceTypes": ["AWS::S3::Bucket"]},
                "Source": {"Owner": "AWS", "SourceIdentifier": source},
            }
        )
    return {"demo": demo, "delivery": delivery}


def make_decoys(ctx: Context) -> None:
    """Things the lab did not make, some of them close to what it makes (Config rules need a recorder)."""
    s3, ddb, iam, logs, cfn, config = (
        ctx.client(s) for s in ("s3", "dynamodb", "iam", "logs", "cloudformation", "config")
    )
    s3.create_bucket(Bucket=DECOY_BUCKET)
    s3.put_object(Bucket=DECOY_BUCKET, Key="results.csv", Body=b"a,b\n1,2\n")
    make_versioned_history(s3, DECOY_BUCKET)
    ddb.create_table(
        TableName=DECOY_TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )
    iam.create_role(RoleName=DECOY_ROLE, AssumeRolePolicyDocument=TRUST_EC2)
    iam.put_role_policy(
        RoleName=DECOY_ROLE,
        PolicyName="read-data",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
        ),
    )
    for group in DECOY_LOG_GROUPS:
        logs.create_log_group(logGroupName=group)
    cfn.create_stack(StackName=DECOY_STACK, TemplateBody=DECOY_TEMPLATE)
    bucket = cfn.describe_stack_resource(StackName=DECOY_STACK, LogicalResourceId="Data")["StackResourceDetail"][
        "PhysicalResourceId"
    ]
    s3.put_object(Bucket=bucket, Key=DECOY_STACK_BUCKET_KEY, Body=b"important")
    config.put_config_rule(
        ConfigRule={
            "ConfigRuleName": DECOY_RULE,
            "Source": {"Owner": "AWS", "SourceIdentifier": "REQUIRED_TAGS"},
            "InputParameters": json.dumps({"tag1Key": "CostCenter"}),
        }
    )
    config.put_config_rule(
        ConfigRule={
            "ConfigRuleName": LOOKALIKE_RULE,
            "Scope": {"ComplianceResourceTypes": ["AWS::S3::Bucket"]},
            "Source": {"Owner": "AWS", "SourceIdentifier": "S3_BUCKET_LOGGING_ENABLED"},
        }
    )


ACCESS_LOG_FILE = re.compile(r"(^|/)\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9A-F]{16}$")


def snapshot(ctx: Context) -> dict[str, Any]:
    """Everything reset could touch, as plain data (object versions included).

    S3 server access log files are left out: reading a logged bucket (this snapshot does) makes
    S3 write more of them, as AWS does.
    """
    s3, cfn, ddb, iam, logs, config = (
        ctx.client(s) for s in ("s3", "cloudformation", "dynamodb", "iam", "logs", "config")
    )
    buckets: dict[str, list[tuple[str, str]]] = {}
    for bucket in s3.list_buckets()["Buckets"]:
        versions = s3.list_object_versions(Bucket=bucket["Name"])
        entries = [*versions.get("Versions", []), *versions.get("DeleteMarkers", [])]
        buckets[bucket["Name"]] = sorted(
            (v["Key"], v["VersionId"]) for v in entries if not ACCESS_LOG_FILE.search(v["Key"])
        )
    stacks = {
        s["StackName"]: s["StackStatus"]
        for s in cfn.list_stacks()["StackSummaries"]
        if s["StackStatus"] != "DELETE_COMPLETE"
    }
    roles = {
        r["RoleName"]: sorted(iam.list_role_policies(RoleName=r["RoleName"])["PolicyNames"])
        for r in iam.list_roles()["Roles"]
    }
    return {
        "buckets": buckets,
        "stacks": stacks,
        "tables": sorted(ddb.list_tables()["TableNames"]),
        "roles": roles,
        "log_groups": sorted(g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]),
        "rules": sorted(r["ConfigRuleName"] for r in config.describe_config_rules()["ConfigRules"]),
        "recorders": sorted(r["name"] for r in config.describe_configuration_recorders()["ConfigurationRecorders"]),
        "channels": sorted(c["name"] for c in config.describe_delivery_channels()["DeliveryChannels"]),
    }


def decoy_view(snap: dict[str, Any]) -> dict[str, Any]:
    """The decoys' part of a snapshot."""
    stack_buckets = {name: v for name, v in snap["buckets"].items() if name.startswith(DECOY_STACK.lower())}
    return {
        "bucket": snap["buckets"].get(DECOY_BUCKET),
        "stack": snap["stacks"].get(DECOY_STACK),
        "stack_buckets": stack_buckets,
        "table": DECOY_TABLE in snap["tables"],
        "role": snap["roles"].get(DECOY_ROLE),
        "log_groups": [g for g in snap["log_groups"] if g in DECOY_LOG_GROUPS],
        "rules": [r for r in snap["rules"] if r in (DECOY_RULE, LOOKALIKE_RULE)],
    }
