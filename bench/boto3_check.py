"""The reads of bench/aws_cli_check.sh from one boto3 process: the tightest grading script an author could write.

Run: eval "$(labrunner local env)"; python bench/boto3_check.py [STACK]   (default stack: immersion)
One session, each service's client made once, the same reads as the aws-CLI script (the reads that grade
what `labrunner check` grades, every lab), one after another. Like that script it does not judge the
answers, but every read must succeed: an error answer raises and the process exits non-zero.
Prints one last line: `boto3_calls=N seconds=S` (S: the reads alone, after Python start-up and imports).
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import Any

import boto3


class Reads:
    """One session, one client per service, every call counted."""

    def __init__(self) -> None:
        self.session = boto3.session.Session()
        self.clients: dict[str, Any] = {}
        self.calls: Counter[str] = Counter()

    def __call__(self, service: str, operation: str, **params: Any) -> Any:
        client = self.clients.get(service)
        if client is None:
            client = self.clients[service] = self.session.client(service)
        self.calls[f"{service}.{operation}"] += 1
        return getattr(client, operation)(**params)


def check(stack: str) -> Reads:
    read = Reads()
    # setup.stack: the stack, its resources, the template they come from
    read("cloudformation", "describe_stacks", StackName=stack)
    resources = read("cloudformation", "list_stack_resources", StackName=stack)["StackResourceSummaries"]
    read("cloudformation", "get_template", StackName=stack)
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}
    bucket, queue_url = physical["FileUploadsBucket"], physical["S3NotificationQueue"]
    table, function = physical["ObjectMetadataTable"], physical["MetadataLambda"]
    role, mapping = physical["MetadataLambdaRole"], physical["QueueLambdaSourceMapping"]
    account = queue_url.split("/")[3]
    region = read.session.region_name or "us-east-1"
    queue_arn = f"arn:aws:sqs:{region}:{account}:{queue_url.rsplit('/', 1)[-1]}"
    table_arn = f"arn:aws:dynamodb:{region}:{account}:table/{table}"

    # setup.pipeline: the newest upload has its item in the table
    def newest_upload() -> str:
        contents = read("s3", "list_objects_v2", Bucket=bucket).get("Contents", [])
        return str(max(contents, key=lambda o: o["LastModified"])["Key"])

    newest = newest_upload()
    read("dynamodb", "get_item", TableName=table, ConsistentRead=True, Key={"S3ObjectName": {"S": newest}})

    # lab1.inventory: every resource through its own service
    read("s3", "head_bucket", Bucket=bucket)
    read("s3", "get_bucket_notification_configuration", Bucket=bucket)
    read("sqs", "get_queue_attributes", QueueUrl=queue_url, AttributeNames=["All"])
    read("lambda", "get_function", FunctionName=function)
    read("lambda", "get_event_source_mapping", UUID=mapping)
    read("dynamodb", "describe_table", TableName=table)
    read("iam", "get_role", RoleName=role)
    read("logs", "describe_log_groups", logGroupNamePrefix=f"/aws/lambda/{function}")

    # lab2: encryption, an encrypted upload, the log bucket, access logging, delivered logs
    read("s3", "get_bucket_encryption", Bucket=bucket)
    read("s3", "head_object", Bucket=bucket, Key=newest)
    log_bucket = read("s3", "get_bucket_logging", Bucket=bucket)["LoggingEnabled"]["TargetBucket"]
    read("s3", "head_bucket", Bucket=log_bucket)
    read("s3", "get_public_access_block", Bucket=log_bucket)
    read("s3", "get_bucket_encryption", Bucket=log_bucket)
    read("s3", "get_bucket_policy", Bucket=log_bucket)
    read("s3", "list_objects_v2", Bucket=log_bucket, MaxKeys=1)

    # lab3: trust policy, attached and inline policies, effective permissions, the AccessDenied demo
    read("iam", "get_role", RoleName=role)
    read("iam", "list_attached_role_policies", RoleName=role)
    for policy in read("iam", "list_role_policies", RoleName=role)["PolicyNames"]:
        read("iam", "get_role_policy", RoleName=role, PolicyName=policy)
    role_arn = f"arn:aws:iam::{account}:role/{role}"
    for actions, resources_ in [
        (
            "iam:CreateUser iam:AttachRolePolicy iam:PassRole ec2:RunInstances s3:ListAllMyBuckets "
            "kms:Decrypt secretsmanager:GetSecretValue",
            [],
        ),
        (
            "logs:CreateLogGroup logs:CreateLogStream logs:PutLogEvents",
            [f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{function}:*"],
        ),
        (
            "dynamodb:PutItem dynamodb:GetItem dynamodb:Query dynamodb:Scan dynamodb:UpdateItem dynamodb:DeleteItem "
            "dynamodb:BatchWriteItem dynamodb:DeleteTable dynamodb:CreateTable",
            [table_arn, f"{table_arn}-other"],
        ),
        (
            "sqs:GetQueueAttributes sqs:ReceiveMessage sqs:DeleteMessage sqs:SendMessage sqs:PurgeQueue "
            "sqs:DeleteQueue sqs:SetQueueAttributes",
            [queue_arn, f"{queue_arn}-other"],
        ),
    ]:
        extra = {"ResourceArns": resources_} if resources_ else {}
        read("iam", "simulate_principal_policy", PolicySourceArn=role_arn, ActionNames=actions.split(), **extra)
    read("logs", "filter_log_events", logGroupName=f"/aws/lambda/{function}", filterPattern="AccessDeniedException")
    newest = newest_upload()
    read("dynamodb", "get_item", TableName=table, ConsistentRead=True, Key={"S3ObjectName": {"S": newest}})

    # lab4: recorder, delivery channel, rules, their verdicts, the buckets they judge
    read("config", "describe_configuration_recorders")
    read("config", "describe_configuration_recorder_status")
    read("config", "describe_delivery_channels")
    rules = [r["ConfigRuleName"] for r in read("config", "describe_config_rules")["ConfigRules"]]
    read("config", "describe_compliance_by_config_rule")
    for rule in rules:
        read("config", "get_compliance_details_by_config_rule", ConfigRuleName=rule)
    for other in read("s3", "list_buckets")["Buckets"]:
        read("s3", "get_bucket_logging", Bucket=other["Name"])
        read("s3", "get_bucket_encryption", Bucket=other["Name"])

    # extra: the template the stack runs now (the hardened one after the extra credit)
    read("cloudformation", "get_template", StackName=stack)
    return read


def main() -> int:
    started = time.perf_counter()
    read = check(sys.argv[1] if len(sys.argv) > 1 else "immersion")
    print(f"boto3_calls={sum(read.calls.values())} seconds={time.perf_counter() - started:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
