"""Static questions about resource policies, above all role trust policies."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from labrunner.aws.policy.conditions import ContextValue
from labrunner.aws.policy.document import PolicyInput, parse_policy
from labrunner.aws.policy.evaluate import (
    AccessRequest,
    Decision,
    MatchedStatement,
    Policy,
    evaluate_resource_policy,
)
from labrunner.aws.policy.principals import Caller, caller_from

TrustKind = Literal["everyone", "account", "user", "role", "assumed-role", "service", "federated", "other"]


@dataclass(frozen=True)
class TrustedPrincipal:
    """One principal named by an Allow statement that covers the action."""

    kind: TrustKind
    value: str
    statement: MatchedStatement
    conditional: bool  # the statement has a Condition (the grant may be narrower than it looks)


@dataclass(frozen=True)
class TrustVerdict:
    """Whether the resource policy lets one principal perform the action."""

    principal: str
    trusted: bool
    # True when the policy trusts the principal's whole account: that account's own identity
    # policies must then allow the action as well.
    needs_identity_allow: bool
    decision: Decision


def _kind_of(kind: str, value: str) -> TrustKind:
    if kind == "*" or value == "*":
        return "everyone"
    if kind == "Service":
        return "service"
    if kind == "Federated":
        return "federated"
    if kind == "AWS":
        caller = caller_from(value)
        if caller.kind == "root":
            return "account"
        if caller.kind in ("user", "role", "assumed-role"):
            return caller.kind
    return "other"


def _as_policy(policy: PolicyInput | Policy, name: str) -> Policy:
    return policy if isinstance(policy, Policy) else Policy(name, parse_policy(policy), "resource")


def trusted_principals(
    policy: PolicyInput | Policy, action: str = "sts:AssumeRole", name: str = "TrustPolicy"
) -> tuple[TrustedPrincipal, ...]:
    """Every principal that an Allow statement for `action` names (NotPrincipal counts as everyone)."""
    parsed = _as_policy(policy, name)
    found: list[TrustedPrincipal] = []
    for statement in parsed.document.statements:
        if statement.effect != "Allow" or not statement.action_applies(action):
            continue
        ref = MatchedStatement(
            policy_name=parsed.name,
            policy_type=parsed.type,
            index=statement.index,
            sid=statement.sid,
            effect=statement.effect,
            policy_arn=parsed.arn,
            start=statement.start,
            end=statement.end,
        )
        conditional = bool(statement.conditions)
        if statement.not_principal is not None:
            found.append(TrustedPrincipal("everyone", "NotPrincipal", ref, conditional))
        if statement.principal is not None:
            for kind, value in statement.principal.entries():
                found.append(TrustedPrincipal(_kind_of(kind, value), value, ref, conditional))
    return tuple(found)


def who_may(
    policy: PolicyInput | Policy,
    principals: Iterable[str | Caller],
    action: str = "sts:AssumeRole",
    resource: str = "*",
    context: Mapping[str, ContextValue] | None = None,
) -> tuple[TrustVerdict, ...]:
    """For each principal (ARN, 12-digit account, service name, `*`), may it perform the action?

    Only this resource policy is evaluated: a principal trusted through its whole account
    (`arn:aws:iam::A:root`) is reported trusted with `needs_identity_allow`.
    """
    parsed = _as_policy(policy, "TrustPolicy")
    verdicts = []
    for principal in principals:
        caller = principal if isinstance(principal, Caller) else caller_from(principal)
        request = AccessRequest(action=action, resource=resource, caller=caller, context=context or {})
        result = evaluate_resource_policy(parsed, request)
        verdicts.append(
            TrustVerdict(
                principal=principal.arn if isinstance(principal, Caller) else principal,
                trusted=result.decision.allowed,
                needs_identity_allow=result.delegated_to_account,
                decision=result.decision,
            )
        )
    return tuple(verdicts)
