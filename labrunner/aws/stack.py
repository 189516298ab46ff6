"""What a CloudFormation stack holds: resources by logical id, outputs, status."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from labrunner.aws.errors import error_code
from labrunner.aws.fan_out import together

STABLE_OK = ("CREATE_COMPLETE", "UPDATE_COMPLETE")


@dataclass(frozen=True)
class StackResource:
    logical_id: str
    physical_id: str
    type: str
    status: str


@dataclass(frozen=True)
class StackInfo:
    name: str
    stack_id: str
    status: str
    resources: Mapping[str, StackResource]
    outputs: Mapping[str, str]
    parameters: Mapping[str, str]
    created: datetime | None = None  # CreationTime (an update keeps it)


class StackMissing(Exception):
    """The workload's stack does not exist: the student has to deploy it first."""

    def __init__(self, name: str) -> None:
        super().__init__(f"stack {name!r} does not exist")
        self.name = name
        self.hint = "Deploy the workload first: `labrunner up` (or create the stack from cloudformation_template.yaml)."


class ResourceMissing(Exception):
    """A resource the lab needs is not in the stack (deleted, renamed or never created)."""

    def __init__(self, stack: str, logical_id: str) -> None:
        super().__init__(f"stack {stack!r} has no resource {logical_id}")
        self.logical_id = logical_id
        self.hint = f"The stack is missing {logical_id}; redeploy it (`labrunner up`, or update the stack)."


# DescribeStackResources returns at most this many resources ("If your stack has more resources than
# that, you should use ListStackResources instead": CloudFormation API Reference, DescribeStackResources).
DESCRIBE_RESOURCES_LIMIT = 100


def _stack_resources_by_name(cfn: Any, name: str) -> list[dict[str, Any]] | None:
    """The stack's resources in the same round trip as DescribeStacks; None when ListStackResources must say."""
    try:
        rows: list[dict[str, Any]] = cfn.describe_stack_resources(StackName=name)["StackResources"]
    except ClientError:
        return None  # the stack is gone (DescribeStacks says so) or the read failed: ListStackResources decides
    return rows if len(rows) < DESCRIBE_RESOURCES_LIMIT else None


def describe_stack(cfn: Any, name: str, *, alongside: Callable[[str], object] | None = None) -> StackInfo | None:
    """The stack and its resources, or None when it does not exist (or was deleted).

    With `alongside` (a check run: every round trip counts) the resources are asked for by name in the
    same round trip as the stack, and `alongside(stack_id)` runs as soon as the stack id is known (the
    run prefetches the template)."""

    def stacks_now() -> list[dict[str, Any]] | None:
        try:
            found: list[dict[str, Any]] = cfn.describe_stacks(StackName=name)["Stacks"]
        except ClientError as exc:
            if error_code(exc) == "ValidationError":  # CloudFormation's "does not exist"
                return None
            raise
        if alongside is not None and found and found[0]["StackStatus"] != "DELETE_COMPLETE":
            alongside(found[0]["StackId"])
        return found

    early: list[dict[str, Any]] | None = None
    if alongside is None:
        stacks = stacks_now()
    else:
        stacks, early = together(stacks_now, lambda: _stack_resources_by_name(cfn, name))
    if not stacks or stacks[0]["StackStatus"] == "DELETE_COMPLETE":
        return None
    stack = stacks[0]
    resources: dict[str, StackResource] = {}
    if early is not None and all(row.get("StackId") == stack["StackId"] for row in early):
        rows = early
    else:
        pages = cfn.get_paginator("list_stack_resources").paginate(StackName=stack["StackId"])
        rows = [row for page in pages for row in page["StackResourceSummaries"]]
    for row in rows:
        resources[row["LogicalResourceId"]] = StackResource(
            logical_id=row["LogicalResourceId"],
            physical_id=row.get("PhysicalResourceId", ""),
            type=row["ResourceType"],
            status=row["ResourceStatus"],
        )
    return StackInfo(
        name=stack["StackName"],
        stack_id=stack["StackId"],
        status=stack["StackStatus"],
        resources=resources,
        outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
        parameters={p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])},
        created=stack.get("CreationTime") if isinstance(stack.get("CreationTime"), datetime) else None,
    )


def partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


@dataclass(frozen=True)
class Workload:
    """The lab's resources, found through the stack by their logical ids (SPEC §4)."""

    stack: StackInfo
    region: str
    account: str

    def physical(self, logical_id: str) -> str:
        resource = self.stack.resources.get(logical_id)
        if resource is None or not resource.physical_id:
            raise ResourceMissing(self.stack.name, logical_id)
        return resource.physical_id

    @property
    def bucket(self) -> str:
        return self.physical("FileUploadsBucket")

    @property
    def queue_url(self) -> str:
        return self.physical("S3NotificationQueue")

    @property
    def queue_name(self) -> str:
        return self.queue_url.rstrip("/").rsplit("/", 1)[-1]

    @property
    def queue_arn(self) -> str:
        return f"arn:{partition(self.region)}:sqs:{self.region}:{self.account}:{self.queue_name}"

    @property
    def table(self) -> str:
        return self.physical("ObjectMetadataTable")

    @property
    def table_arn(self) -> str:
        return f"arn:{partition(self.region)}:dynamodb:{self.region}:{self.account}:table/{self.table}"

    @property
    def function(self) -> str:
        return self.physical("MetadataLambda")

    @property
    def function_arn(self) -> str:
        return f"arn:{partition(self.region)}:lambda:{self.region}:{self.account}:function:{self.function}"

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.function}"

    @property
    def role(self) -> str:
        return self.physical("MetadataLambdaRole")

    @property
    def role_arn(self) -> str:
        return f"arn:{partition(self.region)}:iam::{self.account}:role/{self.role}"
