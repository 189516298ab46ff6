"""When a role's permissions last changed, from CloudTrail's event history (a read)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from labrunner.aws.fan_out import together
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


WRITES = {"AttributeKey": "ReadOnly", "AttributeValue": "false"}


def _events(cloudtrail: Any, attribute: Mapping[str, str], since: datetime) -> Iterator[dict[str, Any]]:
    """Events with `attribute` since `since`, newest first; pages are asked for only as they are read.
    No EndTime: CloudTrail's own now, so a clock behind AWS's misses nothing."""
    params = {"LookupAttributes": [dict(attribute)], "StartTime": since}
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

    Two lookups at once, each usually one request whatever happened before `since`: the account's
    write events since then (what a person, CloudFormation or a solve did), kept when they change the
    role or one of `policy_arns`; and the role's own events, newest first, read only up to the newest
    read of it. Looking the changes up among the role's events instead would page through every read
    of it as well, and each check reads it again: a `check --watch` would grow slower by the round.
    """
    by_role = {"AttributeKey": "ResourceName", "AttributeValue": role_name}

    def newest_read() -> datetime | None:
        return next((_time(e) for e in _events(cloudtrail, by_role, since) if e.get("ReadOnly") == "true"), None)

    def changes() -> list[RoleChange]:
        return [c for e in _events(cloudtrail, WRITES, since) if (c := _change(e, role_name, policy_arns))]

    covered, found = together(newest_read, changes)
    found.sort(key=lambda c: c.time, reverse=True)
    return TrailSince(changes=tuple(found), covered_until=covered)
