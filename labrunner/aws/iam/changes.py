"""When a role's permissions last changed, from CloudTrail's event history (a read)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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


@dataclass(frozen=True)
class TrailSince:
    """What CloudTrail's event history shows about a role since a moment.

    `changes`: the successful calls that changed the role's permissions, newest first.
    `covered_until`: the newest read of the role the history shows (the checker's own GetRole,
    ListRolePolicies … are reads of it): CloudTrail has delivered events up to about then. AWS
    delivers events minutes late, so a change not yet in `changes` may still have happened, unless
    `covered_until` is later than it.
    """

    changes: tuple[RoleChange, ...]
    covered_until: datetime | None


def _time(event: Mapping[str, Any]) -> datetime:
    when: datetime = event["EventTime"]
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _events(cloudtrail: Any, resource: str, since: datetime) -> Iterator[dict[str, Any]]:
    """Events that name `resource` since `since`, newest first: one narrow lookup (by ResourceName,
    from `since`), never the account's whole history."""
    params = {
        "LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": resource}],
        "StartTime": since,
        "EndTime": datetime.now(UTC) + timedelta(minutes=1),
    }
    for page in cloudtrail.get_paginator("lookup_events").paginate(**params):
        yield from page.get("Events", [])


def _change(event: Mapping[str, Any], role_name: str, policy_arns: Sequence[str]) -> RoleChange | None:
    name = event.get("EventName", "")
    if name not in ROLE_PERMISSION_EVENTS and name not in POLICY_VERSION_EVENTS:
        return None
    try:
        record = json.loads(event.get("CloudTrailEvent") or "{}")
    except ValueError:
        return None
    if record.get("errorCode"):
        return None  # refused calls changed nothing
    request = record.get("requestParameters") or {}
    ours = (
        request.get("roleName") == role_name
        if name in ROLE_PERMISSION_EVENTS
        else request.get("policyArn") in policy_arns
    )
    if not ours:
        return None
    subject = str(request.get("policyName") or request.get("policyArn") or request.get("permissionsBoundary") or "")
    return RoleChange(time=_time(event), event=name, subject=subject.rsplit("/", 1)[-1])


def role_trail_since(cloudtrail: Any, role_name: str, since: datetime, policy_arns: Sequence[str] = ()) -> TrailSince:
    """The role's permission changes since `since` and how far the history has caught up (reads).

    One lookup by the role's name (plus one per customer managed policy it has), from `since` on:
    the number of requests depends on what happened since then, not on the account's history.
    """
    changes: list[RoleChange] = []
    covered: datetime | None = None
    for event in _events(cloudtrail, role_name, since):
        if event.get("ReadOnly") == "true":
            covered = max(covered, _time(event)) if covered else _time(event)
        change = _change(event, role_name, policy_arns)
        if change is not None:
            changes.append(change)
    for arn in policy_arns:
        changes += [c for e in _events(cloudtrail, arn, since) if (c := _change(e, role_name, policy_arns))]
    changes.sort(key=lambda c: c.time, reverse=True)
    return TrailSince(changes=tuple(changes), covered_until=covered)
