"""Collect the policies that apply to a principal from moto's IAM backend (server process only)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from labrunner.aws.policy import Policy, PolicyParseError, PolicyType, parse_policy

_IAM_ENTITY = re.compile(
    r"^arn:(?P<partition>[\w-]+):iam::(?P<account>\d{12}):(?P<type>user|role|group)(?P<path>/.*/|/)(?P<name>[^/]+)$"
)
_ASSUMED = re.compile(
    r"^arn:(?P<partition>[\w-]+):sts::(?P<account>\d{12}):assumed-role/(?P<name>[^/]+)/(?P<session>.+)$"
)


@dataclass(frozen=True)
class PrincipalPolicies:
    """Everything IAM evaluates for a principal's request, besides resource policies."""

    identity: tuple[Policy, ...]
    boundary: Policy | None = None
    exists: bool = True


def iam_backend(account_id: str, partition: str = "aws") -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[account_id][partition]


def _policy(document: Any, name: str, kind: PolicyType, arn: str | None = None) -> Policy | None:
    """A parsed policy; a document moto holds but IAM would reject is skipped (it grants nothing)."""
    try:
        return Policy(name=name, document=parse_policy(_as_text(document)), type=kind, arn=arn)
    except PolicyParseError:
        return None


def _as_text(document: Any) -> Any:
    if isinstance(document, str) and document.startswith("%7B"):
        from urllib.parse import unquote

        return unquote(document)
    return document


def default_document(managed: Any) -> str | None:
    """The default version's document of a moto ManagedPolicy."""
    for version in list(managed.versions):
        if version.is_default:
            return str(version.document)
    return None


def managed_policy(managed: Any) -> Policy | None:
    document = default_document(managed)
    if document is None:
        return None
    kind: PolicyType = "aws-managed" if ":iam::aws:policy/" in managed.arn else "user-managed"
    return _policy(document, managed.name, kind, managed.arn)


def _inline(owner: Any, kind: PolicyType) -> list[Policy]:
    found = []
    for name, document in list(owner.policies.items()):
        policy = _policy(document, name, kind)
        if policy is not None:
            found.append(policy)
    return found


def _attached(owner: Any) -> list[Policy]:
    found = []
    for managed in list(owner.managed_policies.values()):
        policy = managed_policy(managed)
        if policy is not None:
            found.append(policy)
    return found


def _boundary(backend: Any, arn: str | None) -> Policy | None:
    if not arn:
        return None
    managed = backend.managed_policies.get(arn)
    if managed is None:
        return None
    policy = managed_policy(managed)
    if policy is None:
        return None
    return Policy(name=policy.name, document=policy.document, type="boundary", arn=policy.arn)


def find_role(backend: Any, name: str) -> Any | None:
    for role in list(backend.roles.values()):
        if role.name == name:
            return role
    return None


def role_policies(backend: Any, role_name: str) -> PrincipalPolicies:
    role = find_role(backend, role_name)
    if role is None:
        return PrincipalPolicies(identity=(), exists=False)
    identity = _inline(role, "role") + _attached(role)
    return PrincipalPolicies(identity=tuple(identity), boundary=_boundary(backend, role.permissions_boundary_arn))


def user_policies(backend: Any, user_name: str) -> PrincipalPolicies:
    user = backend.users.get(user_name)
    if user is None:
        return PrincipalPolicies(identity=(), exists=False)
    identity = _inline(user, "user") + _attached(user)
    for group in list(backend.groups.values()):
        if user in group.users:
            identity += _inline(group, "group") + _attached(group)
    boundary = _boundary(backend, getattr(user, "permissions_boundary_arn", None))
    return PrincipalPolicies(identity=tuple(identity), boundary=boundary)


def group_policies(backend: Any, group_name: str) -> PrincipalPolicies:
    group = backend.groups.get(group_name)
    if group is None:
        return PrincipalPolicies(identity=(), exists=False)
    return PrincipalPolicies(identity=tuple(_inline(group, "group") + _attached(group)))


def policies_for(principal_arn: str) -> PrincipalPolicies:
    """The identity policies (and boundary) of a user, group, role or assumed-role session ARN."""
    entity = _IAM_ENTITY.match(principal_arn)
    if entity:
        backend = iam_backend(entity["account"], entity["partition"])
        if entity["type"] == "user":
            return user_policies(backend, entity["name"])
        if entity["type"] == "group":
            return group_policies(backend, entity["name"])
        return role_policies(backend, entity["name"])
    assumed = _ASSUMED.match(principal_arn)
    if assumed:
        return role_policies(iam_backend(assumed["account"], assumed["partition"]), assumed["name"])
    return PrincipalPolicies(identity=(), exists=False)
