"""When a role's permissions last changed, from CloudTrail's event history (a read)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from labrunner.aws.stack import partition

# IAM calls that change what a role may do: on the role, or on a customer managed policy it has.
ROLE_PERMISSION_EVENTS = frozenset(
    {
        "PutRolePolicy",
        "DeleteRolePolicy",
        "AttachRolePolicy",
        "DetachRolePolicy",
        "PutRolePermissionsBoundary",
        "DeleteRolePermissionsBoundary",
    }
)
POLICY_VERSION_EVENTS = frozenset({"CreatePolicyVersion", "SetDefaultPolicyVersion"})


def iam_events_region(region: str) -> str:
    """Where CloudTrail's event history keeps IAM's (a global service's) events."""
    return {"aws-cn": "cn-north-1", "aws-us-gov": "us-gov-west-1"}.get(partition(region), "us-east-1")


@dataclass(frozen=True)
class RoleChange:
    """One recorded change to a role's permissions."""

    time: datetime
    event: str  # e.g. DetachRolePolicy
    subject: str  # the policy it was about


def last_permission_change(
    cloudtrail: Any, role_name: str, policy_arns: Sequence[str] = (), since: datetime | None = None
) -> RoleChange | None:
    """The newest successful IAM call that changed the role's permissions, from CloudTrail (a read)."""
    params: dict[str, Any] = {
        "LookupAttributes": [{"AttributeKey": "EventSource", "AttributeValue": "iam.amazonaws.com"}],
    }
    if since is not None:
        params["StartTime"] = since
        params["EndTime"] = datetime.now(UTC)
    for page in cloudtrail.get_paginator("lookup_events").paginate(**params):
        for event in page.get("Events", []):  # newest first
            name = event.get("EventName", "")
            if name not in ROLE_PERMISSION_EVENTS and name not in POLICY_VERSION_EVENTS:
                continue
            try:
                record = json.loads(event.get("CloudTrailEvent") or "{}")
            except ValueError:
                continue
            if record.get("errorCode"):
                continue  # refused calls changed nothing
            request = record.get("requestParameters") or {}
            ours = (
                request.get("roleName") == role_name
                if name in ROLE_PERMISSION_EVENTS
                else request.get("policyArn") in policy_arns
            )
            if not ours:
                continue
            when = event["EventTime"]
            when = when if when.tzinfo else when.replace(tzinfo=UTC)
            subject = str(
                request.get("policyName") or request.get("policyArn") or request.get("permissionsBoundary") or ""
            )
            return RoleChange(time=when, event=name, subject=subject.rsplit("/", 1)[-1])
    return None
