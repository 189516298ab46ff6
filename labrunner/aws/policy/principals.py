"""Who is asking: principals of a request, and the Principal element of resource policies."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from labrunner.aws.policy.document import PrincipalSpec

PrincipalKind = Literal["user", "role", "assumed-role", "root", "service", "federated", "anonymous", "other"]

_ACCOUNT = re.compile(r"^\d{12}$")
_IAM_ARN = re.compile(r"^arn:(?P<partition>[\w-]+):iam::(?P<account>\d{12}):(?P<rest>.+)$")
_STS_ARN = re.compile(
    r"^arn:(?P<partition>[\w-]+):sts::(?P<account>\d{12}):assumed-role/(?P<role>[^/]+)/(?P<session>.+)$"
)


@dataclass(frozen=True)
class Caller:
    """The principal that makes a request (or that we ask about)."""

    kind: PrincipalKind
    arn: str  # the principal's ARN, the service name, the provider, or "*" for anonymous
    account: str | None = None
    # For a role or its session: the role's ARN, with its path when known (an assumed-role ARN omits the
    # path, so `caller_from` gives arn:aws:iam::A:role/NAME; the local authorizer fills in the real one).
    role_arn: str | None = None
    partition: str = "aws"

    @property
    def name(self) -> str:
        """The last part of the ARN: user name, role name, session name…"""
        return self.arn.rsplit("/", 1)[-1]


def caller_from(principal: str) -> Caller:
    """Classify a principal given as text: ARN, 12-digit account id, service name, `*`."""
    text = principal.strip()
    if text == "*":
        return Caller(kind="anonymous", arn="*")
    if _ACCOUNT.match(text):
        return Caller(kind="root", arn=f"arn:aws:iam::{text}:root", account=text)
    sts = _STS_ARN.match(text)
    if sts:
        role_arn = f"arn:{sts['partition']}:iam::{sts['account']}:role/{sts['role']}"
        return Caller(
            kind="assumed-role",
            arn=text,
            account=sts["account"],
            role_arn=role_arn,
            partition=sts["partition"],
        )
    iam = _IAM_ARN.match(text)
    if iam:
        rest = iam["rest"]
        kind: PrincipalKind = "other"
        if rest == "root":
            kind = "root"
        elif rest.startswith("user/"):
            kind = "user"
        elif rest.startswith("role/"):
            kind = "role"
        elif rest.startswith(("saml-provider/", "oidc-provider/")):
            kind = "federated"
        return Caller(
            kind=kind,
            arn=text,
            account=iam["account"],
            role_arn=text if kind == "role" else None,
            partition=iam["partition"],
        )
    if text.endswith(".amazonaws.com") or text.endswith(".amazonaws.com.cn"):
        return Caller(kind="service", arn=text)
    if "." in text and ":" not in text:
        return Caller(kind="federated", arn=text)  # e.g. cognito-identity.amazonaws.com, accounts.google.com
    return Caller(kind="other", arn=text)


MatchKind = Literal["everyone", "account", "exact", "role", "service", "federated"]
# `role`: the Principal names the role ARN of a role session. "Permissions boundaries for IAM entities": a
# resource policy's grant to the role ARN is limited by an implicit deny in a boundary or session policy,
# unlike a grant to the session ARN, a user ARN or `*`.
_STRENGTH: dict[MatchKind, int] = {"account": 0, "role": 1, "service": 2, "federated": 2, "exact": 3, "everyone": 3}


def aws_principal_match(value: str, caller: Caller) -> MatchKind | None:
    """How one `"AWS": value` entry covers the caller, or None.

    `account` means the whole account is trusted: its own identity policies then decide. A role ARN
    matches only as written, path included ("IAM JSON policy elements: Principal": role principals
    are the role's ARN), so `role/NAME` does not cover a role at `role/team/NAME`.
    """
    if value == "*":
        return "everyone"
    if caller.kind in ("service", "anonymous", "federated"):
        return None
    if _ACCOUNT.match(value):
        return "account" if caller.account == value else None
    if value.endswith(":root"):
        match = _IAM_ARN.match(value)
        return "account" if match and match["rest"] == "root" and caller.account == match["account"] else None
    if caller.kind in ("assumed-role", "role") and caller.role_arn is not None and value == caller.role_arn:
        return "role"
    if value == caller.arn:
        return "exact"
    return None


def principal_match(spec: PrincipalSpec, caller: Caller) -> MatchKind | None:
    """How a Principal element covers the caller (strongest kind first), or None."""
    if spec.everyone:
        return "everyone"
    found: MatchKind | None = None
    for value in spec.aws:
        kind = aws_principal_match(value, caller)
        if kind == "exact":
            return "exact"
        if kind is not None and (found is None or _STRENGTH[kind] > _STRENGTH[found]):
            found = kind
    if found is not None:
        return found
    if caller.kind == "service" and any(s.lower() == caller.arn.lower() for s in spec.service):
        return "service"
    if caller.kind == "federated" and any(f == caller.arn for f in spec.federated):
        return "federated"
    return None
