"""The whole state of one account and region of the local AWS, as plain data, read through the AWS APIs.

Used to prove that something changed nothing: `check` under a read-only identity, a command
refused for bad input. Covers S3 (buckets, every object version, bucket configuration), DynamoDB
(tables, items), SQS (queues, attributes, message counts), IAM (users, groups, roles, trust and
inline policies, attachments, customer managed policy versions), CloudWatch Logs (groups,
streams, events), AWS Config (recorders and status, channels, rules, evaluations), CloudFormation
(stacks, resources, templates, change sets), Lambda (functions, event source mappings) and
CloudTrail's event history.

Left out, because AWS itself changes them when someone only reads: S3 server access log objects
(S3 writes a record of every request to a logged bucket, reads included) and "last used" times.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import ClientError

from labrunner.aws.session import CLIENT_CONFIG
from labrunner.local.lifecycle import Endpoint
from tests.helpers import admin_boto3

ACCESS_LOG_FILE = re.compile(r"(^|/)\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9A-F]{16}$")
CONTROL_TIMES = ("LastModified", "LastUpdateTime", "LastProcessingResult")


def _or_error(call: Callable[[], Any]) -> Any:
    """The answer, or the AWS error code (a missing configuration is state too)."""
    try:
        answer = call()
    except ClientError as exc:
        return {"error": exc.response["Error"]["Code"]}
    if isinstance(answer, dict):
        answer.pop("ResponseMetadata", None)
    return answer


def _pages(client: Any, operation: str, key: str, **params: Any) -> list[Any]:
    found: list[Any] = []
    for page in client.get_paginator(operation).paginate(**params):
        found.extend(page.get(key, []))
    return found


def _s3(s3: Any) -> dict[str, Any]:
    buckets: dict[str, Any] = {}
    for bucket in s3.list_buckets()["Buckets"]:
        name = bucket["Name"]
        versions = _or_error(lambda name=name: s3.list_object_versions(Bucket=name))
        entries = [*versions.get("Versions", []), *versions.get("DeleteMarkers", [])]
        buckets[name] = {
            "objects": sorted(
                (v["Key"], v["VersionId"], v.get("ETag", "delete-marker"), v.get("Size", 0))
                for v in entries
                if not ACCESS_LOG_FILE.search(v["Key"])
            ),
            "config": {
                what: _or_error(lambda call=call, name=name: call(Bucket=name))
                for what, call in (
                    ("encryption", s3.get_bucket_encryption),
                    ("logging", s3.get_bucket_logging),
                    ("policy", s3.get_bucket_policy),
                    ("public_access_block", s3.get_public_access_block),
                    ("notification", s3.get_bucket_notification_configuration),
                    ("tagging", s3.get_bucket_tagging),
                    ("versioning", s3.get_bucket_versioning),
                    ("ownership", s3.get_bucket_ownership_controls),
                    ("acl", s3.get_bucket_acl),
                )
            },
        }
    return buckets


def _dynamodb(ddb: Any) -> dict[str, Any]:
    tables: dict[str, Any] = {}
    for name in _pages(ddb, "list_tables", "TableNames"):
        table = ddb.describe_table(TableName=name)["Table"]
        items = _pages(ddb, "scan", "Items", TableName=name, ConsistentRead=True)
        tables[name] = {
            "key": table["KeySchema"],
            "status": table["TableStatus"],
            "items": sorted(json.dumps(item, sort_keys=True) for item in items),
        }
    return tables


def _sqs(sqs: Any) -> dict[str, Any]:
    queues: dict[str, Any] = {}
    for url in sqs.list_queues().get("QueueUrls", []):
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        queues[url] = {k: v for k, v in attributes.items() if k not in ("LastModifiedTimestamp",)}
    return queues


def _iam(iam: Any) -> dict[str, Any]:
    roles = {}
    for role in _pages(iam, "list_roles", "Roles"):
        name = role["RoleName"]
        roles[name] = {
            "trust": role["AssumeRolePolicyDocument"],
            "inline": {
                p: iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"]
                for p in _pages(iam, "list_role_policies", "PolicyNames", RoleName=name)
            },
            "attached": sorted(
                p["PolicyArn"] for p in _pages(iam, "list_attached_role_policies", "AttachedPolicies", RoleName=name)
            ),
        }
    users = {}
    for user in _pages(iam, "list_users", "Users"):
        name = user["UserName"]
        users[name] = {
            "inline": {
                p: iam.get_user_policy(UserName=name, PolicyName=p)["PolicyDocument"]
                for p in _pages(iam, "list_user_policies", "PolicyNames", UserName=name)
            },
            "attached": sorted(
                p["PolicyArn"] for p in _pages(iam, "list_attached_user_policies", "AttachedPolicies", UserName=name)
            ),
            "groups": sorted(g["GroupName"] for g in _pages(iam, "list_groups_for_user", "Groups", UserName=name)),
            "keys": sorted(
                (k["AccessKeyId"], k["Status"])
                for k in _pages(iam, "list_access_keys", "AccessKeyMetadata", UserName=name)
            ),
        }
    policies = {}
    for policy in _pages(iam, "list_policies", "Policies", Scope="Local"):
        versions = _pages(iam, "list_policy_versions", "Versions", PolicyArn=policy["Arn"])
        policies[policy["Arn"]] = {
            "attachments": policy.get("AttachmentCount"),
            "versions": sorted(
                (
                    v["VersionId"],
                    v["IsDefaultVersion"],
                    json.dumps(
                        iam.get_policy_version(PolicyArn=policy["Arn"], VersionId=v["VersionId"])["PolicyVersion"][
                            "Document"
                        ],
                        sort_keys=True,
                    ),
                )
                for v in versions
            ),
        }
    groups = sorted(g["GroupName"] for g in _pages(iam, "list_groups", "Groups"))
    return {"roles": roles, "users": users, "customer_policies": policies, "groups": groups}


def _logs(logs: Any) -> dict[str, Any]:
    groups: dict[str, Any] = {}
    for group in _pages(logs, "describe_log_groups", "logGroups"):
        name = group["logGroupName"]
        streams = _pages(logs, "describe_log_streams", "logStreams", logGroupName=name)
        events = _pages(logs, "filter_log_events", "events", logGroupName=name)
        groups[name] = {
            "retention": group.get("retentionInDays"),
            "streams": sorted(s["logStreamName"] for s in streams),
            "events": sorted((e["logStreamName"], e["timestamp"], e["message"]) for e in events),
        }
    return groups


def _config(config: Any) -> dict[str, Any]:
    rules = {r["ConfigRuleName"]: r for r in _pages(config, "describe_config_rules", "ConfigRules")}
    evaluations = {
        name: sorted(
            (
                r["EvaluationResultIdentifier"]["EvaluationResultQualifier"]["ResourceId"],
                r["ComplianceType"],
                r["ResultRecordedTime"].isoformat(),
            )
            for r in _pages(config, "get_compliance_details_by_config_rule", "EvaluationResults", ConfigRuleName=name)
        )
        for name in rules
    }
    status = config.describe_config_rule_evaluation_status()["ConfigRulesEvaluationStatus"] if rules else []
    return {
        "recorders": config.describe_configuration_recorders()["ConfigurationRecorders"],
        "recorder_status": [
            {k: v for k, v in s.items() if k in ("name", "recording", "lastStatus")}
            for s in config.describe_configuration_recorder_status()["ConfigurationRecordersStatus"]
        ],
        "channels": config.describe_delivery_channels()["DeliveryChannels"],
        "rules": rules,
        "evaluations": evaluations,
        "rule_status": sorted(json.dumps(s, sort_keys=True, default=str) for s in status),
    }


def _cloudformation(cfn: Any) -> dict[str, Any]:
    stacks: dict[str, Any] = {}
    for summary in _pages(cfn, "list_stacks", "StackSummaries"):
        stack_id = summary["StackId"]
        resources = _pages(cfn, "list_stack_resources", "StackResourceSummaries", StackName=stack_id)
        stacks[stack_id] = {
            "status": summary["StackStatus"],
            "resources": sorted(
                (r["LogicalResourceId"], r.get("PhysicalResourceId", ""), r["ResourceStatus"]) for r in resources
            ),
            "template": _or_error(lambda stack_id=stack_id: cfn.get_template(StackName=stack_id)).get("TemplateBody"),
            "change_sets": sorted(
                (c["ChangeSetName"], c["Status"])
                for c in _or_error(lambda stack_id=stack_id: cfn.list_change_sets(StackName=stack_id)).get(
                    "Summaries", []
                )
            ),
        }
    return stacks


def _lambda(lam: Any) -> dict[str, Any]:
    functions = {
        f["FunctionName"]: {k: v for k, v in f.items() if k not in CONTROL_TIMES}
        for f in _pages(lam, "list_functions", "Functions")
    }
    mappings = [
        {k: v for k, v in m.items() if k not in CONTROL_TIMES}
        for m in _pages(lam, "list_event_source_mappings", "EventSourceMappings")
    ]
    return {"functions": functions, "mappings": mappings}


def _cloudtrail(trail: Any) -> list[Any]:
    """The write events (reads are recorded too, and every check and snapshot makes some)."""
    writes = [{"AttributeKey": "ReadOnly", "AttributeValue": "false"}]
    events = _pages(trail, "lookup_events", "Events", LookupAttributes=writes)
    return sorted((e["EventId"], e["EventName"]) for e in events)


_CLIENTS: dict[tuple[boto3.Session, str, str], Any] = {}


def account_state(endpoint: Endpoint, session: boto3.Session | None = None) -> dict[str, Any]:
    """Everything in the account (the admin's, or the session's), read through the APIs."""
    session = session or admin_boto3(endpoint)

    def client(service: str) -> Any:
        key = (session, endpoint.url, service)
        if key not in _CLIENTS:  # made once: a state is read many times per test
            _CLIENTS[key] = session.client(service, endpoint_url=endpoint.url, config=CLIENT_CONFIG)
        return _CLIENTS[key]

    return {
        "s3": _s3(client("s3")),
        "dynamodb": _dynamodb(client("dynamodb")),
        "sqs": _sqs(client("sqs")),
        "iam": _iam(client("iam")),
        "logs": _logs(client("logs")),
        "config": _config(client("config")),
        "cloudformation": _cloudformation(client("cloudformation")),
        "lambda": _lambda(client("lambda")),
        "cloudtrail": _cloudtrail(client("cloudtrail")),
    }


def settled_state(endpoint: Endpoint, session: boto3.Session | None = None, timeout: float = 30) -> dict[str, Any]:
    """The account's state once AWS's own asynchronous work (a message in flight) has stopped
    changing it: two reads in a row agree."""
    deadline = time.monotonic() + timeout
    previous = account_state(endpoint, session)
    while True:
        time.sleep(0.2)
        current = account_state(endpoint, session)
        if current == previous:
            return current
        if time.monotonic() > deadline:
            raise AssertionError("the account never settled: something keeps changing it")
        previous = current


def differences(before: dict[str, Any], after: dict[str, Any], path: str = "") -> list[str]:
    """Where two states differ, as readable paths (empty: identical)."""
    if isinstance(before, dict) and isinstance(after, dict):
        found = []
        for key in sorted(set(before) | set(after), key=str):
            if key not in before:
                found.append(f"{path}/{key}: added")
            elif key not in after:
                found.append(f"{path}/{key}: removed")
            else:
                found += differences(before[key], after[key], f"{path}/{key}")
        return found
    return [] if before == after else [f"{path}: {before!r} -> {after!r}"]
