"""Readers for drift detection: a live moto resource as template-shaped properties.

Each reader gives the properties of its CloudFormation type (AWS CloudFormation Template Reference)
as the live resource has them; READ_KEYS names the properties it reads, so that one absent from
its answer is "not set" (REMOVE) rather than unknown. A resource that no longer exists is Gone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from labrunner.local.cfn.models import s3_backend


class Gone(Exception):
    """The live resource no longer exists (DELETED)."""


Reader = Callable[[Any, str, str, dict[str, Any]], dict[str, Any]]  # (resource, account, region, expected)


def _bucket(resource: Any, account: str, region: str, expected: dict[str, Any]) -> dict[str, Any]:
    from moto.s3.exceptions import MissingBucket

    backend = s3_backend(account, region)
    try:
        bucket = backend.get_bucket(resource.name)
    except MissingBucket as exc:
        raise Gone from exc
    live: dict[str, Any] = {"BucketName": bucket.name}
    rule = (bucket.encryption or {}).get("Rule")
    if rule:
        rules = rule if isinstance(rule, list) else [rule]
        live["BucketEncryption"] = {
            "ServerSideEncryptionConfiguration": [
                {
                    "ServerSideEncryptionByDefault": dict(r.get("ApplyServerSideEncryptionByDefault") or {}),
                    **({"BucketKeyEnabled": r["BucketKeyEnabled"]} if "BucketKeyEnabled" in r else {}),
                }
                for r in rules
            ]
        }
    if bucket.logging:
        logging = {"DestinationBucketName": bucket.logging.get("TargetBucket")}
        if bucket.logging.get("TargetPrefix") or "LogFilePrefix" in (expected.get("LoggingConfiguration") or {}):
            logging["LogFilePrefix"] = bucket.logging.get("TargetPrefix") or ""
        live["LoggingConfiguration"] = logging
    block = bucket.public_access_block
    if block is not None:
        live["PublicAccessBlockConfiguration"] = {
            "BlockPublicAcls": block.block_public_acls,
            "IgnorePublicAcls": block.ignore_public_acls,
            "BlockPublicPolicy": block.block_public_policy,
            "RestrictPublicBuckets": block.restrict_public_buckets,
        }
    notifications = bucket.notification_configuration
    if notifications is not None:
        config: dict[str, Any] = {}
        for key, entries, target in (
            ("QueueConfigurations", notifications.queue, "Queue"),
            ("TopicConfigurations", notifications.topic, "Topic"),
            ("LambdaConfigurations", notifications.cloud_function, "Function"),
        ):
            listed = []
            for entry in entries:
                for event in entry.events:
                    item: dict[str, Any] = {"Event": event, target: entry.arn}
                    rules = ((entry.filters or {}).get("S3Key") or {}).get("FilterRule") or []
                    if rules:
                        item["Filter"] = {"S3Key": {"Rules": [{"Name": r["Name"], "Value": r["Value"]} for r in rules]}}
                    listed.append(item)
            if listed:
                config[key] = listed
        live["NotificationConfiguration"] = config
    if bucket.versioning_status:
        live["VersioningConfiguration"] = {"Status": bucket.versioning_status}
    return live


def _bucket_policy(resource: Any, account: str, region: str, expected: dict[str, Any]) -> dict[str, Any]:
    from moto.s3.exceptions import MissingBucket

    name = str(expected.get("Bucket") or "")
    try:
        document = s3_backend(account, region).get_bucket(name).policy
    except MissingBucket as exc:
        raise Gone from exc
    if not document:
        raise Gone  # AWS::S3::BucketPolicy is the bucket's policy: without one, the resource is gone
    return {"Bucket": name, "PolicyDocument": document.decode("utf-8")}


def _role(resource: Any, account: str, region: str, expected: dict[str, Any]) -> dict[str, Any]:
    from moto.iam.exceptions import NotFoundException
    from moto.iam.models import iam_backends
    from moto.utilities.utils import get_partition

    try:
        role = iam_backends[account][get_partition(region)].get_role(resource.name)
    except NotFoundException as exc:
        raise Gone from exc
    live: dict[str, Any] = {
        "RoleName": role.name,
        "Path": role.path,
        "AssumeRolePolicyDocument": role.assume_role_policy_document,
        "MaxSessionDuration": role.max_session_duration,
        "ManagedPolicyArns": list(role.managed_policies),  # in attachment order
        "Policies": [{"PolicyName": name, "PolicyDocument": document} for name, document in role.policies.items()],
    }
    if role.description:
        live["Description"] = role.description
    return live


def _queue(resource: Any, account: str, region: str, expected: dict[str, Any]) -> dict[str, Any]:
    from moto.sqs.exceptions import QueueDoesNotExist
    from moto.sqs.models import sqs_backends

    try:
        queue = sqs_backends[account][region].get_queue(resource.name)
    except QueueDoesNotExist as exc:
        raise Gone from exc
    live: dict[str, Any] = {"QueueName": queue.name}
    for name, value in queue.attributes.items():
        if value is None or name in ("Policy", "QueueArn", "CreatedTimestamp", "LastModifiedTimestamp"):
            continue
        if name.startswith("Approximate"):
            continue
        parsed = name in ("RedrivePolicy", "RedriveAllowPolicy") and isinstance(value, str)
        live[name] = json.loads(value) if parsed else value
    return live


def _queue_policy(resource: Any, account: str, region: str, expected: dict[str, Any]) -> dict[str, Any]:
    from moto.sqs.exceptions import QueueDoesNotExist
    from moto.sqs.models import sqs_backends

    backend = sqs_backends[account][region]
    queues = [str(url) for url in expected.get("Queues") or []]
    documents = []
    for url in queues:
        try:
            queue = backend.get_queue(url.rstrip("/").rsplit("/", 1)[-1])
        except QueueDoesNotExist:
            continue
        if queue.attributes.get("Policy"):
            documents.append(queue.attributes["Policy"])
    if not documents:
        raise Gone  # AWS::SQS::QueuePolicy is the queue's policy: without one, the resource is gone
    return {"Queues": queues, "PolicyDocument": documents[0]}


def _table(resource: Any, account: str, region: str, expected: dict[str, Any]) -> dict[str, Any]:
    from moto.dynamodb.exceptions import ResourceNotFoundException
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[account][region]
    try:
        table = backend.get_table(resource.name)
    except ResourceNotFoundException as exc:
        raise Gone from exc
    described = table.describe(base_key="Table")["Table"]
    live: dict[str, Any] = {
        "TableName": described["TableName"],
        "KeySchema": described["KeySchema"],
        "AttributeDefinitions": described["AttributeDefinitions"],
    }
    billing = (described.get("BillingModeSummary") or {}).get("BillingMode") or table.billing_mode
    live["BillingMode"] = billing or "PROVISIONED"
    throughput = described.get("ProvisionedThroughput") or {}
    if live["BillingMode"] == "PROVISIONED" and throughput:
        live["ProvisionedThroughput"] = {
            "ReadCapacityUnits": throughput.get("ReadCapacityUnits"),
            "WriteCapacityUnits": throughput.get("WriteCapacityUnits"),
        }
    sse = described.get("SSEDescription") or {}
    live["SSESpecification"] = {"SSEEnabled": sse.get("Status") in ("ENABLED", "ENABLING")}
    if sse.get("SSEType"):
        live["SSESpecification"]["SSEType"] = sse["SSEType"]
    recovery = backend.describe_continuous_backups(resource.name)
    status = (recovery.get("PointInTimeRecoveryDescription") or {}).get("PointInTimeRecoveryStatus")
    live["PointInTimeRecoverySpecification"] = {"PointInTimeRecoveryEnabled": status == "ENABLED"}
    stream = described.get("StreamSpecification")
    if stream and stream.get("StreamEnabled"):
        live["StreamSpecification"] = {"StreamViewType": stream.get("StreamViewType")}
    return live


def _function(resource: Any, account: str, region: str, expected: dict[str, Any]) -> dict[str, Any]:
    from moto.awslambda.exceptions import UnknownFunctionException
    from moto.awslambda.models import lambda_backends

    try:
        function = lambda_backends[account][region].get_function(resource.function_name)
    except UnknownFunctionException as exc:
        raise Gone from exc
    config = function.get_configuration()
    keys = ("FunctionName", "Handler", "Runtime", "Role", "Timeout", "MemorySize", "Description")
    live: dict[str, Any] = {key: config[key] for key in keys if config.get(key) not in (None, "")}
    variables = (config.get("Environment") or {}).get("Variables")
    if variables:
        live["Environment"] = {"Variables": variables}
    return live


READERS: dict[str, Reader] = {
    "AWS::S3::Bucket": _bucket,
    "AWS::S3::BucketPolicy": _bucket_policy,
    "AWS::IAM::Role": _role,
    "AWS::SQS::Queue": _queue,
    "AWS::SQS::QueuePolicy": _queue_policy,
    "AWS::DynamoDB::Table": _table,
    "AWS::Lambda::Function": _function,
}
# The properties each reader reads: one absent from its answer is not set (REMOVE), not unknown.
READ_KEYS: dict[str, frozenset[str]] = {
    "AWS::S3::Bucket": frozenset(
        {
            "BucketName",
            "BucketEncryption",
            "LoggingConfiguration",
            "PublicAccessBlockConfiguration",
            "NotificationConfiguration",
            "VersioningConfiguration",
        }
    ),
    "AWS::IAM::Role": frozenset(
        {
            "RoleName",
            "Path",
            "AssumeRolePolicyDocument",
            "MaxSessionDuration",
            "Description",
            "ManagedPolicyArns",
            "Policies",
        }
    ),
    "AWS::SQS::Queue": frozenset(
        {
            "QueueName",
            "VisibilityTimeout",
            "MessageRetentionPeriod",
            "DelaySeconds",
            "MaximumMessageSize",
            "ReceiveMessageWaitTimeSeconds",
            "KmsMasterKeyId",
            "RedrivePolicy",
        }
    ),
    "AWS::SQS::QueuePolicy": frozenset({"Queues", "PolicyDocument"}),
    "AWS::S3::BucketPolicy": frozenset({"Bucket", "PolicyDocument"}),
    "AWS::DynamoDB::Table": frozenset(
        {
            "TableName",
            "KeySchema",
            "AttributeDefinitions",
            "BillingMode",
            "ProvisionedThroughput",
            "SSESpecification",
            "PointInTimeRecoverySpecification",
            "StreamSpecification",
        }
    ),
    "AWS::Lambda::Function": frozenset(
        {"FunctionName", "Handler", "Runtime", "Role", "Timeout", "MemorySize", "Description", "Environment"}
    ),
}
