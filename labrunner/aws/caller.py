"""Who the caller is, in the terms IAM's policy simulator needs (SimulatePrincipalPolicy's PolicySourceArn).

STS names an assumed role's session (`arn:aws:sts::ACCT:assumed-role/ROLE/SESSION`); the simulator
wants the role itself, whose ARN carries its path (IAM User Guide, "IAM identifiers": an SSO role
lives under /aws-reserved/sso.amazonaws.com/…), so the role is looked up with iam:GetRole, and
assumed to sit at `/` when that is refused. The root user cannot be simulated: it may do
everything (IAM User Guide, "AWS account root user").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from botocore.exceptions import ClientError

_ARN = re.compile(r"^arn:(?P<partition>[\w-]+):(?P<service>iam|sts)::(?P<account>\d{12}):(?P<resource>.+)$")

CallerKind = Literal["user", "role", "root", "federated", "unknown"]


@dataclass(frozen=True)
class Caller:
    arn: str  # as STS says
    kind: CallerKind
    name: str
    source_arn: str | None  # what the simulator simulates; None when it cannot (root, federated)
    note: str = ""  # how source_arn was found, when it is a guess


def parse_caller(arn: str) -> Caller:
    """What the ARN alone says (no AWS call)."""
    match = _ARN.match(arn)
    if match is None:
        return Caller(arn, "unknown", arn, None)
    partition, account, resource = match["partition"], match["account"], match["resource"]
    if resource == "root":
        return Caller(arn, "root", "root", None)
    if match["service"] == "iam" and resource.startswith("user/"):
        return Caller(arn, "user", resource.rsplit("/", 1)[-1], arn)
    if match["service"] == "iam" and resource.startswith("role/"):
        return Caller(arn, "role", resource.rsplit("/", 1)[-1], arn)
    if resource.startswith("assumed-role/"):
        role = resource.split("/")[1]
        return Caller(arn, "role", role, f"arn:{partition}:iam::{account}:role/{role}")
    if resource.startswith("federated-user/"):
        return Caller(arn, "federated", resource.split("/", 1)[1], None)
    return Caller(arn, "unknown", resource, None)


def resolve_caller(iam: Any, arn: str) -> Caller:
    """The caller, with an assumed role's real ARN (its path) when iam:GetRole may be called."""
    caller = parse_caller(arn)
    if caller.kind != "role" or not arn.split(":", 5)[-1].startswith("assumed-role/"):
        return caller
    try:
        role_arn = str(iam.get_role(RoleName=caller.name)["Role"]["Arn"])
    except ClientError as exc:
        from labrunner.aws.errors import error_code

        return Caller(
            caller.arn,
            caller.kind,
            caller.name,
            caller.source_arn,
            note=f"iam:GetRole was refused ({error_code(exc)}): assuming the role's path is /",
        )
    return Caller(caller.arn, caller.kind, caller.name, role_arn)
