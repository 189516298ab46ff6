"""A role's policies, read once: trust policy, inline and attached managed documents, boundary."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from labrunner.aws.fan_out import fan_out, together
from labrunner.aws.iam.names import PolicySource
from labrunner.aws.policy import PolicyParseError, Statement, parse_policy


@dataclass(frozen=True)
class NamedPolicy:
    """A policy document with the name and type the simulator reports it by."""

    name: str
    source: PolicySource  # "role" (inline), "aws-managed", "user-managed", "input"
    document: Mapping[str, Any]
    arn: str | None = None

    @property
    def inline(self) -> bool:
        return self.source in ("role", "user", "group", "input")

    def statements(self) -> tuple[Statement, ...]:
        return self._statements

    @cached_property
    def _statements(self) -> tuple[Statement, ...]:
        """Parsed once per policy: naming offenders asks for every allowed evaluation."""
        try:
            return parse_policy(self.document).statements
        except PolicyParseError:
            return ()

    def describe(self) -> str:
        kind = {"role": "inline", "aws-managed": "AWS managed", "user-managed": "customer managed"}.get(
            self.source, self.source
        )
        return f"{kind} policy {self.name!r}"


@dataclass(frozen=True)
class RolePolicies:
    """Everything IAM holds about a role's permissions and who may assume it."""

    name: str
    arn: str
    trust: Mapping[str, Any]
    inline: tuple[NamedPolicy, ...]
    attached: tuple[NamedPolicy, ...]
    boundary_arn: str | None = None

    @property
    def policies(self) -> tuple[NamedPolicy, ...]:
        return self.inline + self.attached

    def find(self, policy_id: str) -> NamedPolicy | None:
        return next((p for p in self.policies if policy_id in (p.name, p.arn)), None)

    def inline_named(self, name: str) -> NamedPolicy | None:
        return next((p for p in self.inline if p.name == name), None)

    def attached_named(self, name: str) -> NamedPolicy | None:
        return next((p for p in self.attached if p.name == name), None)


def policy_document(value: Any) -> Mapping[str, Any]:
    """boto3 decodes policy documents to dicts; tolerate JSON text (and URL-encoded text)."""
    if isinstance(value, Mapping):
        return value
    text = str(value)
    if text.startswith("%7B"):
        from urllib.parse import unquote

        text = unquote(text)
    parsed = json.loads(text)
    return parsed if isinstance(parsed, Mapping) else {}


def managed_policy_document(iam: Any, arn: str) -> Mapping[str, Any]:
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    version_info = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]
    return policy_document(version_info["Document"])


def attached_policy_arns(iam: Any, role_name: str) -> list[tuple[str, str]]:
    """(name, arn) of every managed policy attached to the role."""
    found = []
    for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=role_name):
        found += [(p["PolicyName"], p["PolicyArn"]) for p in page["AttachedPolicies"]]
    return found


def inline_policy_names(iam: Any, role_name: str) -> list[str]:
    names: list[str] = []
    for page in iam.get_paginator("list_role_policies").paginate(RoleName=role_name):
        names += page["PolicyNames"]
    return names


def read_role(iam: Any, role_name: str) -> RolePolicies:
    """The role's trust policy, inline and attached policies (with documents), and boundary."""
    role_answer, inline_names, attached_arns = together(
        lambda: iam.get_role(RoleName=role_name)["Role"],
        lambda: inline_policy_names(iam, role_name),
        lambda: attached_policy_arns(iam, role_name),
    )
    role: dict[str, Any] = role_answer
    inline_documents, attached_documents = together(
        lambda: fan_out(
            lambda name: policy_document(iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]),
            inline_names,
        ),
        lambda: fan_out(lambda pair: managed_policy_document(iam, pair[1]), attached_arns),
    )
    inline = tuple(
        NamedPolicy(name, "role", document) for name, document in zip(inline_names, inline_documents, strict=True)
    )
    attached = tuple(
        NamedPolicy(name, "aws-managed" if ":iam::aws:policy/" in arn else "user-managed", document, arn)
        for (name, arn), document in zip(attached_arns, attached_documents, strict=True)
    )
    boundary = role.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn")
    return RolePolicies(
        name=role["RoleName"],
        arn=role["Arn"],
        trust=policy_document(role["AssumeRolePolicyDocument"]),
        inline=inline,
        attached=attached,
        boundary_arn=boundary,
    )
